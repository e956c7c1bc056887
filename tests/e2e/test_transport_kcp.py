"""frpc <-> frps over KCP (protocol.md 1.6): frps's kcpBindPort (UDP, here the same
number as bindPort, as frp's docs suggest), frpc's transport.protocol = "kcp", tcp echo
with tcpMux on and off and TLS on and off, a 2 MB transfer checked byte for byte, and
the start-up error when the UDP port is taken."""

import os
import socket

import pytest

from cfrp_harness import assert_exit, free_port
from test_tunnel_frps import (LocalServer, echo_handler, frpc_cfg, no_sanitizer_report,
                              start_frpc, start_frps, tcp_proxy, tcp_roundtrip)


@pytest.mark.parametrize("mux,tls", [(True, True), (False, True), (True, False)],
                         ids=["mux-tls", "nomux-tls", "mux-plain"])
def test_kcp_echo(cfrp, mux, tls):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        frps = start_frps(cfrp, sport, f"kcpBindPort = {sport}\ntransport.tcpMux = {str(mux).lower()}")
        frps.wait_for(rf"frps kcp listen on udp 0\.0\.0\.0:{sport}")
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("k", echo.port, rport),
                       f'transport.protocol = "kcp"\ntransport.tcpMux = {str(mux).lower()}\n'
                       f"transport.tls.enable = {str(tls).lower()}")
        frpc = start_frpc(cfrp, cfg, ["k"])
        for i in range(3):
            assert tcp_roundtrip(rport, b"over kcp %d" % i) == b"over kcp %d" % i
        blob = os.urandom(2 * 1024 * 1024)
        assert tcp_roundtrip(rport, blob, timeout=60) == blob
        no_sanitizer_report(frps)
        no_sanitizer_report(frpc)
    finally:
        echo.close()


def frps_on_taken_udp_port(cfrp, key):
    """Runs frps with key (kcpBindPort, quicBindPort) set to a UDP port that is already
    bound; returns its result and the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        conf = cfrp.write("frps.toml", f"bindPort = {free_port()}\n{key} = {port}\n")
        return cfrp.run("frps", "-c", conf), port


def test_kcp_port_taken(cfrp):
    res, port = frps_on_taken_udp_port(cfrp, "kcpBindPort")
    assert_exit(res, 1)
    assert f"listen on kcp udp address 0.0.0.0:{port} error: listen udp" in res.stdout, res
    assert "address already in use" in res.stdout, res
