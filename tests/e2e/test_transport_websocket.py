"""frpc <-> frps over the websocket and wss transports (protocol.md 1.5): tcp echo with
tcpMux on and off and TLS inside or not, wss through a TLS-terminating relay (frps has no
wss listener, as in frp v0.61.1), wss straight at frps failing as it does with Go, the
bind port still serving vhost HTTP beside websocket, and malformed websocket clients
that frps answers or closes while it keeps serving."""

import base64
import hashlib
import os
import socket
import struct
import subprocess
import time

import pytest

from cfrp_harness import HOST, assert_exit, free_port, port_open
from test_tunnel_frps import (LocalServer, echo_handler, frpc_cfg, no_sanitizer_report,
                              start_frpc, start_frps, tcp_proxy, tcp_roundtrip)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class TLSRelay:
    """socat terminating TLS on a local port and forwarding the plain bytes to
    target_port (one process per connection, so both directions run independently)."""

    def __init__(self, tmp, target_port):
        cert, key = os.path.join(tmp, "relay.crt"), os.path.join(tmp, "relay.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        self.port = free_port()
        self.log_path = os.path.join(tmp, "relay.log")
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen(
            ["socat", "-d", "-d",
             f"OPENSSL-LISTEN:{self.port},bind={HOST},reuseaddr,fork,cert={cert},key={key},verify=0",
             f"TCP:{HOST}:{target_port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            assert self.p.poll() is None and time.monotonic() < deadline, "socat did not start"
            time.sleep(0.05)

    @property
    def accepted(self):
        """TLS connections socat took (its log line per accepted connection)."""
        with open(self.log_path, "rb") as f:
            return f.read().count(b"accepting connection from")

    def close(self):
        self.p.kill()
        self.p.wait()
        self.log.close()


def ws_proxy_cfg(cfrp, server_port, local_port, remote_port, protocol, mux, extra=""):
    common = f'transport.protocol = "{protocol}"\ntransport.tcpMux = {str(mux).lower()}\n{extra}'
    return frpc_cfg(cfrp, server_port, tcp_proxy("echo", local_port, remote_port), common)


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
@pytest.mark.parametrize("tls", ["tls", "tls-first-byte", "plain"])
def test_websocket_echo(cfrp, mux, tls):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        start_frps(cfrp, sport, "" if mux else "transport.tcpMux = false")
        extra = {"tls": "", "tls-first-byte": "transport.tls.disableCustomTLSFirstByte = false",
                 "plain": "transport.tls.enable = false"}[tls]
        pc = start_frpc(cfrp, ws_proxy_cfg(cfrp, sport, echo.port, rport, "websocket", mux,
                                           extra), ["echo"])
        payload = os.urandom(300000)
        for _ in range(3):
            assert tcp_roundtrip(rport, payload) == payload
        no_sanitizer_report(pc)
    finally:
        echo.close()


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
def test_wss_through_tls_relay(cfrp, tmp_path, mux):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    relay = TLSRelay(str(tmp_path), sport)
    try:
        start_frps(cfrp, sport, "" if mux else "transport.tcpMux = false")
        # tls.enable = false is overridden: wss always speaks TLS to the relay.
        pc = start_frpc(cfrp, ws_proxy_cfg(cfrp, relay.port, echo.port, rport, "wss", mux,
                                           "transport.tls.enable = false"), ["echo"])
        payload = os.urandom(200000)
        for _ in range(3):
            assert tcp_roundtrip(rport, payload) == payload
        assert relay.accepted >= (1 if mux else 4)
        no_sanitizer_report(pc)
    finally:
        relay.close()
        echo.close()


def test_wss_straight_to_frps_fails_as_in_frp(cfrp):
    """frps treats the ClientHello as frp over TLS and then reads the GET as yamux."""
    sport, rport = free_port(), free_port()
    ps = start_frps(cfrp, sport)
    cfg = ws_proxy_cfg(cfrp, sport, 1, rport, "wss", True, "loginFailExit = true")
    res = cfrp.start("frpc", "-c", cfg).wait_exit(timeout=30)
    assert_exit(res, 1)
    assert "login to the server failed:" in res.stdout
    assert ps.alive()


def test_websocket_beside_vhost_http_on_bind_port(cfrp):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        start_frps(cfrp, sport, f"vhostHTTPPort = {sport}")
        start_frpc(cfrp, ws_proxy_cfg(cfrp, sport, echo.port, rport, "websocket", True),
                   ["echo"])
        assert tcp_roundtrip(rport, b"w" * 50000) == b"w" * 50000
        # Any other GET still reaches the vhost router (no route: its 404 page).
        with socket.create_connection((HOST, sport), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: nosuch.example\r\n\r\n")
            head = s.recv(65536)
        assert head.startswith(b"HTTP/1.1 404 Not Found"), head
    finally:
        echo.close()


def ws_connect(port, path=b"/~!frp", extra=b"Origin: http://x\r\n"):
    """Opens a websocket to frps's bind port; returns (socket, response head)."""
    s = socket.create_connection((HOST, port), timeout=5)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            break
        head += d
    if head.startswith(b"HTTP/1.1 101"):
        want = base64.b64encode(hashlib.sha1(key + GUID).digest())
        assert b"Sec-WebSocket-Accept: " + want + b"\r\n" in head
    return s, head


def read_all(s):
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return got
            got += d
    except ConnectionResetError:
        return got


def test_malformed_websocket_clients_are_closed(cfrp):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        ps = start_frps(cfrp, sport)
        pc = start_frpc(cfrp, ws_proxy_cfg(cfrp, sport, echo.port, rport, "websocket", True),
                        ["echo"])
        # Unmasked client frame: Close 1002 (unmasked server frame), then the end.
        s, head = ws_connect(sport)
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        s.sendall(b"\x81\x05hello")
        assert read_all(s) == b"\x88\x02\x03\xea"
        s.close()
        # A data frame over the size limit: Close 1009.
        s, _ = ws_connect(sport)
        s.sendall(b"\x82\xff" + struct.pack(">Q", 1 << 40) + b"abcd")
        assert read_all(s) == b"\x88\x02\x03\xf1"
        s.close()
        # Masked frames of garbage: not yamux, the session ends.
        s, _ = ws_connect(sport)
        mask = b"\x01\x02\x03\x04"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(b"\xffgarbage-not-yamux"))
        s.sendall(bytes([0x82, 0x80 | len(data)]) + mask + data)
        s.settimeout(5)
        read_all(s)
        s.close()
        # Handshake refusals as x/net/websocket and Go's ServeMux give them.
        s, head = ws_connect(sport, extra=b"")
        assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        s.close()
        s, head = ws_connect(sport, path=b"/~!frpx")
        assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
        s.close()
        with socket.create_connection((HOST, sport), timeout=5) as s:
            s.sendall(b"GET /~!frp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: a\r\nOrigin: http://x\r\n\r\n")
            got = read_all(s)
        assert got.startswith(b"HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n")
        with socket.create_connection((HOST, sport), timeout=5) as s:
            s.sendall(b"GET /~!frp HTTP/1.1\r\nBad Header\r\n\r\n")
            assert read_all(s).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        # A request head that never ends is cut off at the limit.
        with socket.create_connection((HOST, sport), timeout=5) as s:
            s.sendall(b"GET /~!frp HTTP/1.1\r\nHost: x\r\nX: ")
            try:
                s.sendall(b"a" * 200000)
            except OSError:
                pass
            assert read_all(s).startswith(b"HTTP/1.1 431")
        # frps and the good client are unaffected.
        assert ps.alive() and pc.alive()
        assert tcp_roundtrip(rport, b"still" * 10000) == b"still" * 10000
        no_sanitizer_report(ps)
    finally:
        echo.close()
