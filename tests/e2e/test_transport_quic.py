"""frpc <-> frps over QUIC (protocol.md 1.7): frps's quicBindPort, frpc's
transport.protocol = "quic" with serverPort naming the QUIC port; every frp connection is
a QUIC stream (control, work connections, visitors). tcp echo and a 2 MB transfer with
TLS settings on and off, an stcp visitor, and the start-up error for a taken port."""

import os

import pytest

from cfrp_harness import HOST, assert_exit, free_port
from test_transport_kcp import frps_on_taken_udp_port
from test_tunnel_frps import (LocalServer, echo_handler, frpc_cfg, no_sanitizer_report,
                              start_frpc, start_frps, tcp_proxy, tcp_roundtrip)


def quic_frps(cfrp):
    bport, qport = free_port(), free_port()
    frps = start_frps(cfrp, bport, f"quicBindPort = {qport}")
    frps.wait_for(rf"frps quic listen on 0\.0\.0\.0:{qport}")
    return frps, qport


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "notls"])
def test_quic_echo(cfrp, tls):
    rport = free_port()
    echo = LocalServer(echo_handler)
    try:
        frps, qport = quic_frps(cfrp)
        cfg = frpc_cfg(cfrp, qport, tcp_proxy("q", echo.port, rport),
                       f'transport.protocol = "quic"\ntransport.tls.enable = {str(tls).lower()}\n'
                       "transport.poolCount = 2")
        frpc = start_frpc(cfrp, cfg, ["q"])
        for i in range(5):
            assert tcp_roundtrip(rport, b"over quic %d" % i) == b"over quic %d" % i
        blob = os.urandom(2 * 1024 * 1024)
        assert tcp_roundtrip(rport, blob, timeout=60) == blob
        no_sanitizer_report(frps)
        no_sanitizer_report(frpc)
    finally:
        echo.close()


def test_quic_stcp_visitor(cfrp):
    vport = free_port()
    echo = LocalServer(echo_handler)
    try:
        frps, qport = quic_frps(cfrp)
        common = 'transport.protocol = "quic"'
        proxy = (f'[[proxies]]\nname = "sec"\ntype = "stcp"\nsecretKey = "k1"\n'
                 f"localPort = {echo.port}\n")
        start_frpc(cfrp, frpc_cfg(cfrp, qport, proxy, common, name="frpc-p.toml"), ["sec"])
        visitor = (f'[[visitors]]\nname = "v"\ntype = "stcp"\nserverName = "sec"\n'
                   f'secretKey = "k1"\nbindAddr = "{HOST}"\nbindPort = {vport}\n')
        pv = cfrp.start("frpc", "-c", frpc_cfg(cfrp, qport, visitor, common, name="frpc-v.toml"))
        pv.wait_for(r"login to server success", timeout=15)
        pv.wait_port(vport, timeout=15)
        assert tcp_roundtrip(vport, b"secret over quic") == b"secret over quic"
    finally:
        echo.close()


def test_quic_port_taken(cfrp):
    res, port = frps_on_taken_udp_port(cfrp, "quicBindPort")
    assert_exit(res, 1)
    assert f"listen on quic udp address 0.0.0.0:{port} error:" in res.stdout, res
