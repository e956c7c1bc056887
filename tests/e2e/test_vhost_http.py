"""frps's http vhost with a real frpc (protocol.md 6.3): routing precedence, basic auth,
header rules seen by the local service and by the client, frp's pages, keep-alive across
proxies, chunked bodies, 100-continue, WebSocket, 100 MB both ways, the response
timeout, and the request rewrite of vectors/http-vhost.txt byte for byte."""

import base64
import hashlib
import http.client
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from cfrp_harness import HOST, SPEC
from test_vhost_common import (Backend, Env, basic, http_proxy, http_response, raw_http,
                               read_response, wait_route)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One frps + frpc with the routing table the tests below rely on."""
    b = {n: Backend(n) for n in ("exact", "wild", "deep", "star", "sub", "loc", "locpic",
                                  "alice", "anyuser", "auth", "rw", "vec", "ka1", "ka2")}
    dead = socket.socket()
    dead.bind((HOST, 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    proxies = (
        http_proxy("exact", b["exact"].port, ["a.b.example.com"])
        + http_proxy("wild", b["wild"].port, ["*.b.example.com"])
        + http_proxy("deep", b["deep"].port, ["*.example.com"])
        + http_proxy("star", b["star"].port, ["*"])
        + http_proxy("sub", b["sub"].port, subdomain="app")
        + http_proxy("loc", b["loc"].port, ["loc.test"], extra='locations = ["/", "/api"]\n')
        + http_proxy("locpic", b["locpic"].port, ["loc.test"], extra='locations = ["/api/pic"]\n')
        + http_proxy("alice", b["alice"].port, ["user.test"], extra='routeByHTTPUser = "alice"\nhttpUser = "alice"\nhttpPassword = "pa"\n')
        + http_proxy("anyuser", b["anyuser"].port, ["user.test"])
        + http_proxy("auth", b["auth"].port, ["auth.test"], extra='httpUser = "u"\nhttpPassword = "p"\n')
        + http_proxy("rw", b["rw"].port, ["rw.test"],
                     extra='hostHeaderRewrite = "inner.local"\nrequestHeaders.set.x-req = "a"\n'
                           'responseHeaders.set.x-resp = "b"\n')
        + http_proxy("vec", b["vec"].port, ["www.example.com"],
                     extra='hostHeaderRewrite = "backend.local"\nrequestHeaders.set.x-from-where = "frp"\n')
        + http_proxy("ka1", b["ka1"].port, ["ka1.test"])
        + http_proxy("ka2", b["ka2"].port, ["ka2.test"])
        + http_proxy("down", dead_port, ["down.test"])
    )
    names = ["exact", "wild", "deep", "star", "sub", "loc", "locpic", "alice", "anyuser",
             "auth", "rw", "vec", "ka1", "ka2", "down"]
    env = Env(tmp_path_factory.mktemp("web"), proxies, names=names)
    env.b = b
    wait_route(env.http, "ka1.test")
    yield env
    env.close()
    for x in b.values():
        x.close()


def get(port, host, path="/", headers=None, method="GET", body=None):
    c = http.client.HTTPConnection(HOST, port, timeout=10)
    h = {"Host": host}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


@pytest.mark.parametrize("host,path,who", [
    ("a.b.example.com", "/", "exact"),
    ("A.B.Example.COM.", "/", "exact"),          # case and trailing dot
    ("a.b.example.com:8080", "/", "exact"),      # port ignored
    ("x.b.example.com", "/", "wild"),
    ("y.x.b.example.com", "/", "wild"),          # *.x.b..., then *.b.example.com
    ("z.example.com", "/", "deep"),
    ("example.com", "/", "star"),                # never *.com
    ("other.org", "/", "star"),
    ("app.frps.test", "/", "sub"),
    ("loc.test", "/", "loc"),
    ("loc.test", "/api/x", "loc"),
    ("loc.test", "/api/pic/1", "locpic"),        # longest location wins
])
def test_routing_precedence(web, host, path, who):
    st, hdrs, body = get(web.http, host, path)
    assert st == 200
    assert hdrs["x-backend"] == who
    assert body.startswith(f"{who} GET {path}".encode())


def test_route_by_http_user_and_auth(web):
    st, hdrs, _ = get(web.http, "user.test", headers={"Authorization": basic("alice", "pa")})
    assert (st, hdrs["x-backend"]) == (200, "alice")
    # another user falls back to the route without routeByHTTPUser
    st, hdrs, _ = get(web.http, "user.test", headers={"Authorization": basic("bob", "x")})
    assert (st, hdrs["x-backend"]) == (200, "anyuser")
    # alice's route with a wrong password: 401
    st, hdrs, body = get(web.http, "user.test", headers={"Authorization": basic("alice", "bad")})
    assert st == 401
    assert body == b"Unauthorized\n"


def test_basic_auth(web):
    st, hdrs, body = get(web.http, "auth.test")
    assert st == 401
    assert hdrs["www-authenticate"] == 'Basic realm="Restricted"'
    assert body == b"Unauthorized\n"
    st, _, _ = get(web.http, "auth.test", headers={"Authorization": basic("u", "wrong")})
    assert st == 401
    st, hdrs, _ = get(web.http, "auth.test", headers={"Authorization": basic("u", "p")})
    assert (st, hdrs["x-backend"]) == (200, "auth")


def test_header_rules(web):
    before = len(web.b["rw"].requests)
    st, hdrs, body = get(web.http, "rw.test:1234", "/q?b=2&a=1",
                         headers={"X-Forwarded-For": "10.0.0.1", "X-Req": "client",
                                  "Forwarded": "for=1.2.3.4", "Connection": "keep-alive, X-Hop",
                                  "X-Hop": "1"})
    assert st == 200
    assert hdrs["x-resp"] == "b"                       # responseHeaders.set, client side
    req = web.b["rw"].requests[before]
    assert req.header("Host") == "inner.local"         # hostHeaderRewrite
    assert req.header("X-Req") == "a"                  # requestHeaders.set replaces
    assert req.header("X-Forwarded-For") == "10.0.0.1, 127.0.0.1"
    assert req.header("X-Forwarded-Host") == "rw.test:1234"
    assert req.header("X-Forwarded-Proto") == "http"
    assert req.header("Forwarded") is None
    assert req.header("X-Hop") is None                 # named by Connection
    assert req.header("Connection") is None


def test_request_rewrite_vector(web):
    """The user's request and frps's rewrite from vectors/http-vhost.txt. cfrp does not
    add Accept-Encoding: gzip (it would have to gunzip answers; no zlib here), so that
    line is the one expected difference."""
    text = (SPEC / "vectors" / "http-vhost.txt").read_text()
    block = text.split("## vhost HTTP request rewriting")[1].split("##")[0]
    want = [ln.replace("\\r\\n", "\r\n") for ln in block.splitlines()[1:]
            if ln and not ln.startswith("#")]
    want = "".join(w for w in want if not w.startswith("Accept-Encoding")).encode()
    before = len(web.b["vec"].requests)
    req = (f"GET /path?q=1 HTTP/1.1\r\nHost: www.example.com:{web.http}\r\n"
           "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: evil\r\nUser-Agent: t\r\n"
           "Proxy-Authorization: Basic Zm9vOmJhcg==\r\nConnection: keep-alive\r\n\r\n")
    with socket.create_connection((HOST, web.http), timeout=10) as s:
        s.sendall(req.encode())
        st, _, _, _ = read_response(s)
    assert st == 200
    got = web.b["vec"].requests[before].head
    assert got == want.replace(b"www.example.com:17080", f"www.example.com:{web.http}".encode())


def test_404_page_bytes(tmp_path):
    env = Env(tmp_path, http_proxy("one", 1, ["one.test"]), names=["one"])
    try:
        out = raw_http(env.http, b"GET /x HTTP/1.1\r\nHost: nothing.invalid\r\nConnection: close\r\n\r\n")
    finally:
        env.close()
    assert b"Connection: close" in out
    out = out.replace(b"Connection: close\r\n", b"")
    want_head = (SPEC / "vectors" / "http-vhost.txt").read_text().split(
        "## vhost HTTP: no route")[1].splitlines()[1].strip('"').replace("\\r\\n", "\r\n")
    want_lines = want_head.encode().split(b"\r\n")
    assert len(want_lines) >= 4
    assert want_lines[0] == b"HTTP/1.1 404 Not Found"
    head, body = out.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == want_lines[0]
    assert re.match(rb"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", lines[1])
    assert lines[2:4] == want_lines[2:4]
    assert len(body) == 489 and b"The page you requested was not found." in body
    assert b"Faithfully yours, frp." in body


def test_local_service_down_gives_404_page(web):
    st, hdrs, body = get(web.http, "down.test")
    assert st == 404
    assert len(body) == 489
    # frps logs it the way frp does
    web.frps.wait_for(r"do http proxy request \[host: down.test\] error:", timeout=5)


def test_keepalive_across_two_proxies(web):
    c1, c2 = web.b["ka1"].conns, web.b["ka2"].conns
    with socket.create_connection((HOST, web.http), timeout=10) as s:
        for i in range(3):
            for host, who in (("ka1.test", "ka1"), ("ka2.test", "ka2")):
                s.sendall(f"GET /{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                st, hdrs, body, _ = read_response(s)
                assert (st, hdrs["x-backend"]) == (200, who)
                assert body == f"{who} GET /{i}".encode()
    # work connections are reused per route: one backend connection each
    assert web.b["ka1"].conns - c1 <= 1
    assert web.b["ka2"].conns - c2 <= 1


def test_idle_backends_kept_for_concurrent_clients(web):
    """After a burst of 20 concurrent requests, all 20 backends are kept for the next
    burst (frp keeps 5 and reconnects the rest; cfrp keeps up to 64 per route)."""
    def burst():
        socks = [socket.create_connection((HOST, web.http), timeout=10) for _ in range(20)]
        try:
            for i, s in enumerate(socks):
                s.sendall(f"GET /b{i} HTTP/1.1\r\nHost: ka2.test\r\n\r\n".encode())
            for i, s in enumerate(socks):
                st, hdrs, body, _ = read_response(s)
                assert (st, body) == (200, f"ka2 GET /b{i}".encode())
        finally:
            for s in socks:
                s.close()

    burst()
    time.sleep(0.3)
    before = web.b["ka2"].conns
    burst()
    # a burst may be served by a backend or two fewer than 20 (one finishes before the
    # last request arrives), so the next may open that many; with frp's 5 it opens 15
    assert web.b["ka2"].conns - before <= 3


def test_pipelined_requests(web):
    with socket.create_connection((HOST, web.http), timeout=10) as s:
        s.sendall(b"GET /p1 HTTP/1.1\r\nHost: ka1.test\r\n\r\nGET /p2 HTTP/1.1\r\nHost: ka2.test\r\n\r\n")
        assert read_response(s)[2] == b"ka1 GET /p1"
        assert read_response(s)[2] == b"ka2 GET /p2"


def test_chunked_upload_and_http10(web):
    body = b"x" * 100000
    before = len(web.b["ka1"].requests)

    def gen():
        for i in range(0, len(body), 7000):
            yield body[i:i + 7000]
    c = http.client.HTTPConnection(HOST, web.http, timeout=10)
    c.request("POST", "/up", body=gen(), headers={"Host": "ka1.test"}, encode_chunked=True)
    r = c.getresponse()
    assert r.status == 200
    r.read()
    c.close()
    req = web.b["ka1"].requests[before]
    assert req.header("Transfer-Encoding") == "chunked"
    assert req.body_sha == hashlib.sha256(body).hexdigest()
    # HTTP/1.0 client: answered, then closed
    out = raw_http(web.http, b"GET /old HTTP/1.0\r\nHost: ka1.test\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert out.endswith(b"ka1 GET /old")


def test_expect_100_continue(web):
    before = len(web.b["ka2"].requests)
    with socket.create_connection((HOST, web.http), timeout=10) as s:
        s.sendall(b"PUT /e HTTP/1.1\r\nHost: ka2.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        got = s.recv(100)
        assert got == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        st, _, body, _ = read_response(s)
        assert st == 200
    assert web.b["ka2"].requests[before].body == b"hello"


def ws_backend_handler(req, sock):
    if (req.header("Upgrade") or "").lower() != "websocket":
        return http_response(200, b"not ws")
    key = req.header("Sec-WebSocket-Key")
    acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {acc}\r\n\r\n").encode())
    while True:
        hdr = sock.recv(2)
        if len(hdr) < 2:
            return None
        n = hdr[1] & 0x7f
        mask = sock.recv(4)
        data = b""
        while len(data) < n:
            data += sock.recv(n - len(data))
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if hdr[0] & 0x0f == 8:
            sock.sendall(b"\x88\x00")
            return None
        sock.sendall(bytes([0x81, len(payload)]) + payload)


def test_websocket_echo(tmp_path):
    be = Backend("ws", ws_backend_handler)
    env = Env(tmp_path, http_proxy("ws", be.port, ["ws.test"]), names=["ws"])
    try:
        with socket.create_connection((HOST, env.http), timeout=10) as s:
            s.sendall(b"GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
            assert b"Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head or \
                b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
            for msg in (b"hello", b"frp over c"):
                mask = os.urandom(4)
                s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask +
                          bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
                got = b""
                while len(got) < 2 + len(msg):
                    got += s.recv(100)
                assert got == bytes([0x81, len(msg)]) + msg
        # the local service saw the upgrade headers Go would send
        req = be.requests[0]
        assert req.header("Upgrade") == "websocket"
        assert req.header("Connection") == "Upgrade"
        assert req.header("Sec-WebSocket-Key") == "dGhlIHNhbXBsZSBub25jZQ=="
        assert b"Sec-WebSocket-Key:" in req.head
    finally:
        env.close()
        be.close()


BIG = 100 * 1024 * 1024


def big_handler(req, sock):
    if req.method == "GET":
        sock.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n".encode())
        block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
        for _ in range(BIG // len(block)):
            sock.sendall(block)
        return b""
    return http_response(200, req.body_sha.encode())


def test_100mb_download_and_upload(tmp_path):
    be = Backend("big", big_handler)
    env = Env(tmp_path, http_proxy("big", be.port, ["big.test"]), names=["big"])
    try:
        block = hashlib.sha256(b"seed").digest() * 2048
        want = hashlib.sha256(block * (BIG // len(block))).hexdigest()
        out = subprocess.run(["curl", "-s", "-H", "Host: big.test", f"http://{HOST}:{env.http}/big"],
                             capture_output=True, timeout=120)
        assert len(out.stdout) == BIG
        assert hashlib.sha256(out.stdout).hexdigest() == want
        up = tmp_path / "up.bin"
        up.write_bytes(os.urandom(1 << 20) * 100)
        out = subprocess.run(["curl", "-s", "-H", "Host: big.test", "-T", str(up),
                              f"http://{HOST}:{env.http}/up"], capture_output=True, timeout=120)
        assert out.stdout.decode() == hashlib.sha256(up.read_bytes()).hexdigest()
    finally:
        env.close()
        be.close()


def test_custom_404_page_and_timeout(tmp_path):
    page = tmp_path / "404.html"
    page.write_text("<html><body>custom not found</body></html>\n")
    hold = threading.Event()

    def slow(req, sock):
        hold.wait(10)
        return http_response(200, b"late")
    be = Backend("slow", slow)
    env = Env(tmp_path, http_proxy("slow", be.port, ["slow.test"]),
              frps_extra=f'custom404Page = "{page}"\nvhostHTTPTimeout = 1\n', names=["slow"])
    try:
        st, hdrs, body = get(env.http, "none.test")
        assert st == 404 and body == page.read_bytes()
        assert hdrs["content-type"] == "text/html; charset=utf-8"
        st, hdrs, body = get(env.http, "slow.test")
        assert st == 504 and body == b""
        hold.set()
    finally:
        env.close()
        be.close()


def sniff_handler(req, sock):
    """Responses without Content-Type, chosen by path."""
    html = b"<!DOCTYPE html><html><body>hi</body></html>"
    if req.method == "HEAD":
        return http_response(200, html)[: -len(html)]
    if req.target == "/html":
        return http_response(200, html)
    if req.target == "/slow":  # the body comes after the head, in two parts
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"\x89PNG\r\n\x1a\n")
        time.sleep(0.2)
        sock.sendall(b"x" * 592)
        return b""
    if req.target == "/binary":
        return http_response(200, b"\x00\x01\x02\x03")
    if req.target == "/chunked":
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    if req.target == "/typed":
        return http_response(200, html, [("Content-Type", "application/x-mine")])
    if req.target == "/gzip":
        return http_response(200, b"\x1f\x8b\x08\x00", [("Content-Encoding", "gzip")])
    if req.target == "/nocontent":
        return b"HTTP/1.1 204 No Content\r\n\r\n"
    return http_response(200, b"")


def test_sniffed_content_type(tmp_path):
    """Go's server adds a sniffed Content-Type when the backend sent a body without one
    (and not for 204, HEAD, an empty body, a Content-Encoding or a type already set)."""
    be = Backend("sniff", sniff_handler)
    env = Env(tmp_path, http_proxy("sniff", be.port, ["sniff.test"]), names=["sniff"])
    try:
        wait_route(env.http, "sniff.test")
        with socket.create_connection((HOST, env.http), timeout=10) as s:
            s.sendall(b"GET /html HTTP/1.1\r\nHost: sniff.test\r\n\r\n")
            st, hdrs, body, head = read_response(s)
        assert st == 200 and hdrs["content-type"] == "text/html; charset=utf-8"
        # Go's order: sorted backend headers, Date, then the sniffed type
        names = [ln.split(b":")[0] for ln in head.split(b"\r\n")[1:]]
        assert names == [b"Content-Length", b"Date", b"Content-Type"], head
        for path, want in [("/slow", "image/png"), ("/binary", "application/octet-stream"),
                           ("/chunked", "text/plain; charset=utf-8"),
                           ("/typed", "application/x-mine")]:
            st, hdrs, body = get(env.http, "sniff.test", path)
            assert st == 200 and hdrs.get("content-type") == want, (path, hdrs)
        st, hdrs, body = get(env.http, "sniff.test", "/slow")
        assert body == b"\x89PNG\r\n\x1a\n" + b"x" * 592
        for path in ("/gzip", "/nocontent", "/empty"):
            st, hdrs, body = get(env.http, "sniff.test", path)
            assert "content-type" not in hdrs, (path, hdrs)
        st, hdrs, body = get(env.http, "sniff.test", "/html", method="HEAD")
        assert st == 200 and "content-type" not in hdrs
    finally:
        env.close()
        be.close()
