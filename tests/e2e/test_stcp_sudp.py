"""stcp and sudp through our frps with a proxy frpc and a visitor frpc (protocol.md 6.6,
6.7, 9.2): echo through every encryption/compression combination on both legs, tcpMux
on and off, a wrong secret key, allowUsers (owner only, another user, "*"), a visitor to
a missing proxy, summary errors and a repeated stcp name."""

import os
import re
import socket
import threading

import pytest

from cfrp_harness import HOST, free_port
from test_tunnel_frps import (LocalServer, UDPEcho, echo_handler, free_udp_port,
                              no_sanitizer_report, udp_roundtrip)

TOKEN = "stcp-token"


def start_frps(cfrp, port, extra=""):
    cfg = cfrp.write(f"frps-{port}.toml", f'bindPort = {port}\nauth.token = "{TOKEN}"\n{extra}\n')
    p = cfrp.start("frps", "-c", cfg)
    p.wait_port(port, timeout=15)
    return p


def start_frpc(cfrp, name, sport, body, common=""):
    text = (f'serverAddr = "{HOST}"\nserverPort = {sport}\nauth.token = "{TOKEN}"\n'
            f'log.level = "debug"\n{common}\n{body}')
    return cfrp.start("frpc", "-c", cfrp.write(name, text))


def flags(enc, comp):
    return (f"transport.useEncryption = {str(enc).lower()}\n"
            f"transport.useCompression = {str(comp).lower()}\n")


def stcp_proxy(name, local_port, sk, enc=False, comp=False, extra="", kind="stcp"):
    return (f'[[proxies]]\nname = "{name}"\ntype = "{kind}"\nlocalPort = {local_port}\n'
            f'secretKey = "{sk}"\n{flags(enc, comp)}{extra}\n')


def visitor(name, server, sk, port, enc=False, comp=False, extra="", kind="stcp"):
    return (f'[[visitors]]\nname = "{name}"\ntype = "{kind}"\nserverName = "{server}"\n'
            f'secretKey = "{sk}"\nbindAddr = "{HOST}"\nbindPort = {port}\n'
            f'{flags(enc, comp)}{extra}\n')


def roundtrip(port, payload, timeout=10):
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
        got = bytearray()
        while len(got) < len(payload):
            d = s.recv(65536)
            if not d:
                break
            got += d
        return bytes(got)


def refused(port):
    """A user connection to the visitor is closed without any byte coming back."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        try:
            s.sendall(b"hello")
        except OSError:
            return True
        try:
            return s.recv(100) == b""
        except ConnectionResetError:
            return True


def setup_pair(cfrp, proxy_body, visitor_body, mux=True, proxy_common="", visitor_common="",
               frps_extra="", proxy_names=("secret",)):
    sport = free_port()
    mux_line = "" if mux else "transport.tcpMux = false"
    ps = start_frps(cfrp, sport, f"{mux_line}\n{frps_extra}")
    pp = start_frpc(cfrp, "proxy.toml", sport, proxy_body, f"{mux_line}\n{proxy_common}")
    for n in proxy_names:
        pp.wait_for(rf"\[{n}\] start proxy success", timeout=15)
    pv = start_frpc(cfrp, "visitor.toml", sport, visitor_body, f"{mux_line}\n{visitor_common}")
    pv.wait_for(r"start visitor success", timeout=15)
    pv.wait_for(r"visitor added: \[", timeout=15)
    return ps, pp, pv


COMBOS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
@pytest.mark.parametrize("enc,comp", COMBOS, ids=["plain", "enc", "comp", "enc+comp"])
def test_stcp_echo(cfrp, enc, comp, mux):
    echo = LocalServer(echo_handler)
    vport = free_port()
    try:
        # the proxy leg uses the opposite settings: the two legs are independent
        ps, pp, pv = setup_pair(cfrp, stcp_proxy("secret", echo.port, "s3cr3t", not enc, comp),
                                visitor("v", "secret", "s3cr3t", vport, enc, comp), mux)
        pv.wait_port(vport)
        payload = os.urandom(200000) + b"z" * 200000
        for _ in range(3):
            assert roundtrip(vport, payload) == payload
        # concurrent users each get their own visitor connection
        results = [None] * 8

        def one(i):
            results[i] = roundtrip(vport, bytes([i]) * 50000)

        ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert results == [bytes([i]) * 50000 for i in range(8)]
        ps.wait_for(r"\[secret\] get a user connection \[127\.0\.0\.1:\d+\]" if not mux
                    else r"\[secret\] get a user connection")
        no_sanitizer_report(ps, pp, pv)
    finally:
        echo.close()


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
@pytest.mark.parametrize("enc,comp", [(False, False), (True, True)], ids=["plain", "enc+comp"])
def test_sudp_echo(cfrp, enc, comp, mux):
    echo = UDPEcho()
    vport = free_udp_port()
    try:
        ps, pp, pv = setup_pair(
            cfrp, stcp_proxy("secret", echo.port, "k", enc, comp, kind="sudp"),
            visitor("v", "secret", "k", vport, enc, comp, kind="sudp"), mux)
        pv.wait_for(rf"sudp start to work, listen on 127\.0\.0\.1:{vport}")
        for i in range(5):
            msg = os.urandom(1000) + bytes([i])
            assert udp_roundtrip(vport, msg, tries=30) == b"echo:" + msg
        # another user address through the same visitor connection
        assert udp_roundtrip(vport, b"second user", tries=30) == b"echo:second user"
        pp.wait_for(r"\[secret\] incoming a new work connection")
        no_sanitizer_report(ps, pp, pv)
    finally:
        echo.close()


def test_two_sudp_visitors_side_by_side(cfrp):
    """Two visitor frpcs on one sudp proxy each get their own work connection, and both
    keep working (frp's sudp proxy does not close one for the other)."""
    echo = UDPEcho()
    v1, v2 = free_udp_port(), free_udp_port()
    try:
        ps, pp, pa = setup_pair(cfrp, stcp_proxy("secret", echo.port, "k", kind="sudp"),
                                visitor("va", "secret", "k", v1, kind="sudp"))
        sport = int(re.search(r"bindPort = (\d+)", open(ps.args[-1]).read()).group(1))
        pb = start_frpc(cfrp, "visitor2.toml", sport, visitor("vb", "secret", "k", v2, kind="sudp"))
        pb.wait_for(r"start visitor success", timeout=15)
        assert udp_roundtrip(v1, b"from a", tries=30) == b"echo:from a"
        assert udp_roundtrip(v2, b"from b", tries=30) == b"echo:from b"
        for i in range(3):  # both at once, after each has its work connection
            assert udp_roundtrip(v1, b"a%d" % i, tries=4) == b"echo:a%d" % i
            assert udp_roundtrip(v2, b"b%d" % i, tries=4) == b"echo:b%d" % i
        pp.wait_for(r"incoming a new work connection for sudp proxy")
        assert "writer goroutine for udp work connection closed" not in pp.stdout()
        no_sanitizer_report(ps, pp, pa, pb)
    finally:
        echo.close()


def test_stcp_wrong_secret(cfrp):
    echo = LocalServer(echo_handler)
    vport = free_port()
    try:
        ps, pp, pv = setup_pair(cfrp, stcp_proxy("secret", echo.port, "right"),
                                visitor("v", "secret", "wrong", vport))
        pv.wait_port(vport)
        assert refused(vport)
        pv.wait_for(r"\[v\] start new visitor connection error: "
                    r"visitor connection of \[secret\] auth failed")
        ps.wait_for(r"register visitor conn error: visitor connection of \[secret\] auth failed")
        no_sanitizer_report(ps, pp, pv)
    finally:
        echo.close()


def test_stcp_missing_proxy(cfrp):
    echo = LocalServer(echo_handler)
    vport = free_port()
    try:
        ps, pp, pv = setup_pair(cfrp, stcp_proxy("secret", echo.port, "k"),
                                visitor("v", "nope", "k", vport))
        pv.wait_port(vport)
        assert refused(vport)
        pv.wait_for(r"start new visitor connection error: custom listener for \[nope\] doesn't exist")
    finally:
        echo.close()


def test_summary_errors(cfrp):
    echo = LocalServer(echo_handler)
    vport = free_port()
    try:
        ps, pp, pv = setup_pair(cfrp, stcp_proxy("secret", echo.port, "right"),
                                visitor("v", "secret", "wrong", vport),
                                frps_extra="detailedErrorsToClient = false")
        pv.wait_port(vport)
        assert refused(vport)
        pv.wait_for(r"(?m)start new visitor connection error: register visitor conn error$")
        ps.wait_for(r"register visitor conn error: visitor connection of \[secret\] auth failed")
    finally:
        echo.close()


@pytest.mark.parametrize("allow,visitor_user,ok", [
    (None, "alice", True),          # empty list: the owner's own user
    (None, "bob", False),
    (["carol"], "bob", False),
    (["carol", "bob"], "bob", True),
    (["*"], "bob", True),
])
def test_allow_users(cfrp, allow, visitor_user, ok):
    echo = LocalServer(echo_handler)
    vport = free_port()
    try:
        extra = "" if allow is None else "allowUsers = [" + ", ".join(f'"{u}"' for u in allow) + "]\n"
        ps, pp, pv = setup_pair(cfrp, stcp_proxy("secret", echo.port, "k", extra=extra),
                                visitor("v", "secret", "k", vport, extra='serverUser = "alice"\n'),
                                proxy_common='user = "alice"',
                                visitor_common=f'user = "{visitor_user}"',
                                proxy_names=("alice.secret",))
        pv.wait_port(vport)
        if ok:
            assert roundtrip(vport, b"x" * 10000) == b"x" * 10000
        else:
            assert refused(vport)
            pv.wait_for(rf"start new visitor connection error: visitor connection of "
                        rf"\[alice\.secret\] user \[{visitor_user}\] not allowed")
        no_sanitizer_report(ps, pp, pv)
    finally:
        echo.close()


def test_stcp_repeated_name(cfrp):
    sport = free_port()
    ps = start_frps(cfrp, sport)
    p1 = start_frpc(cfrp, "p1.toml", sport, stcp_proxy("secret", 1, "k"))
    p1.wait_for(r"\[secret\] start proxy success", timeout=15)
    ps.wait_for(r"\[secret\] stcp proxy custom listen success")
    p2 = start_frpc(cfrp, "p2.toml", sport, stcp_proxy("secret", 1, "k", kind="sudp"))
    p2.wait_for(r"\[secret\] start error: custom listener for \[secret\] is repeated", timeout=15)
    no_sanitizer_report(ps, p1, p2)


@pytest.mark.parametrize("first", ["visitor", "frps"])
@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
def test_clean_exit(cfrp, monkeypatch, mux, first):
    """CFRP_CLEAN_EXIT=1: with an stcp user connection open and an sudp visitor connection
    running, SIGTERM stops frps and both frpcs with 0 (sanitizer builds check leaks)."""
    monkeypatch.setenv("CFRP_CLEAN_EXIT", "1")
    echo, uecho = LocalServer(echo_handler), UDPEcho()
    vport, uport = free_port(), free_udp_port()
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a sudp visitor fails to start
    busy.bind((HOST, 0))
    try:
        proxies = (stcp_proxy("secret", echo.port, "k", True, True)
                   + stcp_proxy("usecret", uecho.port, "k2", kind="sudp"))
        visitors = (visitor("v", "secret", "k", vport, True, True)
                    + visitor("uv", "usecret", "k2", uport, True, False, kind="sudp")
                    + visitor("busy", "usecret", "k2", busy.getsockname()[1], kind="sudp"))
        ps, pp, pv = setup_pair(cfrp, proxies, visitors, mux, proxy_names=("secret", "usecret"))
        pv.wait_for(r"start error: listen udp port 127\.0\.0\.1:\d+ error: listen udp "
                    r"127\.0\.0\.1:\d+: bind: address already in use")
        pv.wait_port(vport)
        assert udp_roundtrip(uport, b"ping", tries=30) == b"echo:ping"
        held = socket.create_connection((HOST, vport), timeout=10)
        held.sendall(b"open")
        assert held.recv(4) == b"open"
        for p in (pv, ps, pp) if first == "visitor" else (ps, pv, pp):
            p.popen.terminate()
            res = p.wait_exit(timeout=15)
            assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
            no_sanitizer_report(p)
        held.close()
    finally:
        busy.close()
        echo.close()
        uecho.close()


def test_visitor_start_retry(cfrp):
    """A visitor whose port is taken logs frp's start error and is tried again every 10 s
    (frp's visitor manager) until it listens."""
    echo = LocalServer(echo_handler)
    blocker = socket.create_server((HOST, 0))
    vport = blocker.getsockname()[1]
    try:
        sport = free_port()
        start_frps(cfrp, sport)
        pp = start_frpc(cfrp, "proxy.toml", sport, stcp_proxy("secret", echo.port, "k"))
        pp.wait_for(r"\[secret\] start proxy success", timeout=15)
        pv = start_frpc(cfrp, "visitor.toml", sport, visitor("v", "secret", "k", vport))
        pv.wait_for(rf"start error: listen tcp 127\.0\.0\.1:{vport}: bind: address already in use",
                    timeout=15)
        blocker.close()
        pv.wait_for(r"try to start visitor \[v\]", timeout=15)
        pv.wait_for(r"(?s)try to start visitor \[v\].*start visitor success", timeout=5)
        assert roundtrip(vport, b"again" * 1000) == b"again" * 1000
        no_sanitizer_report(pv)
    finally:
        blocker.close()
        echo.close()


def test_visitor_after_reconnect(cfrp):
    """The visitors belong to the session: after frps restarts they listen again and work
    with the new run id."""
    echo = LocalServer(echo_handler)
    vport = free_port()
    try:
        ps, pp, pv = setup_pair(cfrp, stcp_proxy("secret", echo.port, "k", True),
                                visitor("v", "secret", "k", vport, True))
        pv.wait_port(vport)
        assert roundtrip(vport, b"one" * 100) == b"one" * 100
        sport = int(open(cfrp.tmp / "visitor.toml").read().split("serverPort = ")[1].split()[0])
        ps.kill()
        pv.wait_for(r"stcp local listener closed", timeout=15)
        start_frps(cfrp, sport)
        pp.wait_for(r"(?s)start proxy success.*start proxy success", timeout=30)
        pv.wait_for(r"(?s)visitor added.*visitor added", timeout=30)
        pv.wait_port(vport)
        assert roundtrip(vport, b"two" * 100) == b"two" * 100
        no_sanitizer_report(pp, pv)
    finally:
        echo.close()
