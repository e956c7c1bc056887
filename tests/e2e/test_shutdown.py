"""Shutdown on SIGINT/SIGTERM: frpc tells frps it leaves (CloseProxy for every proxy,
so frps frees their ports at once) and frps closes its listeners, while both keep frp's
exit status for the tcp transport: killed by the signal (api.md 1.3.1 item 6). With
CFRP_CLEAN_EXIT=1 both free everything and exit 0 instead."""

import re
import signal
import socket
import time

import pytest

from cfrp_harness import HOST, assert_exit, free_port, port_open
from test_tunnel_frps import LocalServer, TOKEN, echo_handler, frpc_cfg, start_frpc, tcp_proxy, \
    tcp_roundtrip

SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.fixture(autouse=True)
def _frp_exit(monkeypatch):
    """The default mode: no CFRP_CLEAN_EXIT, so the processes die by the signal."""
    monkeypatch.delenv("CFRP_CLEAN_EXIT", raising=False)


def start_frps(cfrp, port, mux=True, fname=None):
    conf = cfrp.write(fname or f"frps-{port}.toml",
                      f'bindPort = {port}\nauth.token = "{TOKEN}"\n'
                      f"transport.tcpMux = {str(mux).lower()}\n")
    p = cfrp.start("frps", "-c", conf)
    p.wait_for("frps started successfully", timeout=15)
    return p


def wait_line(proc, pattern, timeout):
    """Seconds until regex pattern shows up in proc's stdout (fails after timeout)."""
    t0 = time.monotonic()
    proc.wait_for(pattern, timeout=timeout)
    return time.monotonic() - t0


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_frpc_signal_closes_its_proxies(cfrp, sig, mux):
    """frps logs CloseProxy for both proxies within 1 s of the signal, frpc dies by the
    signal, and a new frpc takes the same remote port at once."""
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        ps = start_frps(cfrp, sport, mux)
        common = "" if mux else "transport.tcpMux = false"
        proxies = tcp_proxy("echo", echo.port, rport) + tcp_proxy("zero", echo.port, 0)
        pc = start_frpc(cfrp, frpc_cfg(cfrp, sport, proxies, common), ["echo", "zero"])
        assert tcp_roundtrip(rport, b"hello") == b"hello"
        pc.popen.send_signal(sig)
        took = wait_line(ps, r"(?s)close proxy \[echo\] success.*close proxy \[zero\] success|"
                             r"close proxy \[zero\] success.*close proxy \[echo\] success", 1.0)
        assert took < 1.0
        res = pc.wait_exit(timeout=5)
        assert_exit(res, -sig)
        assert "stopped" not in res.stdout  # it died by the signal, as frp does
        out = ps.stdout()
        assert re.search(rf"\[echo\] listener is closed: accept tcp \[::\]:{rport}", out), out
        # The port was released by CloseProxy: a new client gets it at once.
        pc2 = start_frpc(cfrp, frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport), common,
                                        name="frpc2.toml"), ["echo"])
        assert tcp_roundtrip(rport, b"again") == b"again"
        assert "port already used" not in pc2.stdout()
        assert ps.alive()
    finally:
        echo.close()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_frpc_signal_before_login(cfrp, sig):
    """A frpc still trying to reach a dead server dies by the signal at once."""
    port = free_port()
    pc = cfrp.start("frpc", "-c", frpc_cfg(cfrp, port, "", "loginFailExit = false"))
    pc.wait_for("try to connect to server", timeout=10)
    t0 = time.monotonic()
    pc.popen.send_signal(sig)
    res = pc.wait_exit(timeout=5)
    assert time.monotonic() - t0 < 3
    assert_exit(res, -sig)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_frps_signal_closes_listeners(cfrp, sig):
    """frps dies by the signal after closing its listeners and controls: the bind port
    and the proxy's port stop accepting, and frpc sees its control end."""
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        ps = start_frps(cfrp, sport)
        pc = start_frpc(cfrp, frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport)), ["echo"])
        assert tcp_roundtrip(rport, b"x") == b"x"
        ps.popen.send_signal(sig)
        res = ps.wait_exit(timeout=5)
        assert_exit(res, -sig)
        assert not port_open(sport) and not port_open(rport)
        pc.wait_for(r"(?s)start proxy success.*try to connect to server", timeout=10)
        assert pc.alive()
    finally:
        echo.close()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_clean_exit_mode(cfrp, monkeypatch, sig):
    """CFRP_CLEAN_EXIT=1: frpc still closes its proxies first; both exit 0."""
    monkeypatch.setenv("CFRP_CLEAN_EXIT", "1")
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        ps = start_frps(cfrp, sport)
        pc = start_frpc(cfrp, frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport)), ["echo"])
        held = socket.create_connection((HOST, rport), timeout=5)
        held.sendall(b"open")
        assert held.recv(4) == b"open"
        pc.popen.send_signal(sig)
        wait_line(ps, r"close proxy \[echo\] success", 1.0)
        res = pc.wait_exit(timeout=5)
        held.close()
        assert_exit(res, 0)
        assert "stopped" in res.stdout
        ps.popen.send_signal(sig)
        assert_exit(ps.wait_exit(timeout=10), 0)
    finally:
        echo.close()
