"""Shared helpers (no tests) for the vhost end-to-end tests: a raw HTTP/1.1 backend that records what it
receives, frps/frpc start-up with http/https/tcpmux proxies, and small socket clients."""

import base64
import hashlib
import socket
import threading
import time

from cfrp_harness import HOST, Harness, free_port

TOKEN = "vhost-token"


def recv_until(sock, marker, limit=1 << 20):
    buf = b""
    while marker not in buf:
        d = sock.recv(65536)
        if not d:
            break
        buf += d
        if len(buf) > limit:
            break
    return buf


class Request:
    def __init__(self, head, conn_id):
        self.head = head
        self.conn_id = conn_id
        lines = head.decode("latin-1").split("\r\n")
        self.method, self.target, _ = lines[0].split(" ", 2)
        self.headers = []
        for ln in lines[1:]:
            if ln:
                k, v = ln.split(":", 1)
                self.headers.append((k, v.strip()))
        self.body = b""
        self.body_len = 0
        self.body_sha = ""

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def read_body(sock, buf, req):
    """Reads req's body (Content-Length or chunked) from sock after buf; returns the rest."""
    h = hashlib.sha256()
    keep = bytearray()

    def take(data):
        h.update(data)
        req.body_len += len(data)
        if len(keep) < (1 << 20):
            keep.extend(data[: (1 << 20) - len(keep)])

    def more():
        d = sock.recv(1 << 20)
        if not d:
            raise ConnectionError("eof in body")
        return d

    te = req.header("Transfer-Encoding")
    if te and te.lower() == "chunked":
        while True:
            while b"\r\n" not in buf:
                buf += more()
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while not buf.startswith(b"\r\n") and b"\r\n\r\n" not in buf:
                    buf += more()
                buf = buf[2:] if buf.startswith(b"\r\n") else buf.split(b"\r\n\r\n", 1)[1]
                break
            while len(buf) < size + 2:
                buf += more()
            take(buf[:size])
            buf = buf[size + 2:]
    else:
        n = int(req.header("Content-Length") or 0)
        while n > 0:
            if not buf:
                buf = more()
            part = buf[:n]
            take(part)
            buf = buf[len(part):]
            n -= len(part)
    req.body = bytes(keep)
    req.body_sha = h.hexdigest()
    return buf


def http_response(status, body=b"", headers=()):
    text = {200: "OK", 404: "Not Found", 101: "Switching Protocols"}.get(status, "X")
    head = f"HTTP/1.1 {status} {text}\r\n"
    for k, v in headers:
        head += f"{k}: {v}\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


class Backend:
    """A threaded raw HTTP/1.1 server on 127.0.0.1. handler(req, sock) returns the
    response bytes (or None if it wrote itself and the connection should close)."""

    def __init__(self, name="backend", handler=None):
        self.name = name
        self.handler = handler or self.default
        self.requests = []
        self.conns = 0
        self.sock = socket.create_server((HOST, 0), backlog=256)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def default(self, req, sock):
        return http_response(200, f"{self.name} {req.method} {req.target}".encode(),
                             [("Content-Type", "text/plain"), ("X-Backend", self.name)])

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._serve, args=(c, self.conns), daemon=True).start()

    def _serve(self, c, cid):
        buf = b""
        try:
            with c:
                while True:
                    while b"\r\n\r\n" not in buf:
                        d = c.recv(65536)
                        if not d:
                            return
                        buf += d
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    req = Request(head + b"\r\n\r\n", cid)
                    buf = read_body(c, buf, req)
                    self.requests.append(req)
                    out = self.handler(req, c)
                    if out is None:
                        return
                    c.sendall(out)
        except (OSError, ConnectionError, ValueError):
            return

    def close(self):
        self.sock.close()


def http_proxy(name, port, domains=(), subdomain=None, extra=""):
    text = f'[[proxies]]\nname = "{name}"\ntype = "http"\nlocalPort = {port}\n'
    if domains:
        text += "customDomains = [" + ", ".join(f'"{d}"' for d in domains) + "]\n"
    if subdomain:
        text += f'subdomain = "{subdomain}"\n'
    return text + extra + "\n"


class Env:
    """frps with vhost ports plus one frpc with the given proxies."""

    def __init__(self, tmp, proxies, frps_extra="", shared=False, frpc_extra="", names=None):
        self.h = Harness(tmp)
        self.bind = free_port()
        self.http = self.bind if shared else free_port()
        self.https = self.bind if shared else free_port()
        self.tcpmux = free_port()
        cfg = (f'bindPort = {self.bind}\nvhostHTTPPort = {self.http}\n'
               f'vhostHTTPSPort = {self.https}\ntcpmuxHTTPConnectPort = {self.tcpmux}\n'
               f'subDomainHost = "frps.test"\nauth.token = "{TOKEN}"\nlog.level = "debug"\n'
               f'{frps_extra}\n')
        ccfg = (f'serverAddr = "{HOST}"\nserverPort = {self.bind}\nauth.token = "{TOKEN}"\n'
                f'log.level = "debug"\n{frpc_extra}\n{proxies}')
        try:
            self.frps = self.h.start("frps", "-c", self.h.write("frps.toml", cfg))
            self.frps.wait_for("frps started successfully", timeout=20)
            self.frpc = self.h.start("frpc", "-c", self.h.write("frpc.toml", ccfg))
            for n in names or []:
                self.frpc.wait_for(rf"\[{n}\] start proxy success", timeout=20)
        except BaseException:
            self.h.close()  # no process outlives a failed start
            raise

    def close(self):
        self.h.close()


def raw_http(port, data, timeout=10, until_close=True):
    """Sends data, returns everything received until the server closes (or timeout)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
                if not until_close and b"\r\n\r\n" in out:
                    break
        except socket.timeout:
            pass
        return out


def read_response(sock):
    """Reads one response (Content-Length or chunked or until close) from sock."""
    buf = recv_until(sock, b"\r\n\r\n")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    body = rest
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(body) < n:
            d = sock.recv(65536)
            if not d:
                break
            body += d
        return status, hdrs, body[:n], head
    if hdrs.get("transfer-encoding") == "chunked":
        out = b""
        while True:
            while b"\r\n" not in body:
                body += sock.recv(65536)
            line, body = body.split(b"\r\n", 1)
            size = int(line, 16)
            if size == 0:
                break
            while len(body) < size + 2:
                body += sock.recv(65536)
            out += body[:size]
            body = body[size + 2:]
        return status, hdrs, out, head
    return status, hdrs, body, head


def basic(user, pwd):
    return "Basic " + base64.b64encode(f"{user}:{pwd}".encode()).decode()


def wait_route(port, host, timeout=10):
    """Waits until frps routes host (the proxy registered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            st, _, _, _ = read_response(s)
            if st != 404:
                return
        time.sleep(0.1)
