"""frps's https vhost (SNI routing without terminating TLS, protocol.md 6.4), the tcpmux
HTTP CONNECT port (6.5, with curl --proxytunnel and socat) and port reuse of bindPort
by frp (plain and TLS), vhost HTTP and vhost HTTPS at once (1.2)."""

import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from cfrp_harness import HOST, SPEC
from test_vhost_common import (Backend, Env, basic, http_proxy, read_response, recv_until,
                               wait_route)


def vector(title):
    text = (SPEC / "vectors" / "http-vhost.txt").read_text()
    line = text.split(title)[1].splitlines()[1].strip()
    return line.strip('"').replace('\\r\\n', "\r\n").replace('\\"', '"').encode()


def make_cert(tmp, name):
    crt, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt, key


class TLSServer:
    """A TLS server answering every line with '<name>:<line>'."""

    def __init__(self, tmp, name):
        crt, key = make_cert(tmp, name)
        self.crt = crt
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.name = name
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            with self.ctx.wrap_socket(c, server_side=True) as t:
                f = t.makefile("rb")
                for line in f:
                    t.sendall(self.name.encode() + b":" + line)
        except (OSError, ssl.SSLError):
            pass

    def close(self):
        self.sock.close()


def tls_talk(port, sni, cafile, line=b"ping\n"):
    ctx = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection((HOST, port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            t.sendall(line)
            return t.recv(100)


def client_hello(sni):
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def https_proxy(name, port, domains):
    return (f'[[proxies]]\nname = "{name}"\ntype = "https"\nlocalPort = {port}\n'
            "customDomains = [" + ", ".join(f'"{d}"' for d in domains) + "]\n\n")


def tcpmux_proxy(name, port, domains, extra=""):
    return (f'[[proxies]]\nname = "{name}"\ntype = "tcpmux"\nmultiplexer = "httpconnect"\n'
            f'localPort = {port}\n' + "customDomains = [" + ", ".join(f'"{d}"' for d in domains)
            + "]\n" + extra + "\n")


def test_https_routes_by_sni(tmp_path):
    a, b = TLSServer(tmp_path, "a.https.test"), TLSServer(tmp_path, "b.https.test")
    env = Env(tmp_path, https_proxy("a", a.port, ["a.https.test"]) +
              https_proxy("b", b.port, ["*.wild.test"]), names=["a", "b"])
    try:
        assert tls_talk(env.https, "a.https.test", a.crt) == b"a.https.test:ping\n"
        # wildcard route; the TLS server's certificate is checked for its own name
        ctx = ssl.create_default_context(cafile=str(b.crt))
        ctx.check_hostname = False
        with socket.create_connection((HOST, env.https), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="x.wild.test") as t:
                t.sendall(b"w\n")
                assert t.recv(100) == b"b.https.test:w\n"
        # no route: frp's alert, then close
        with socket.create_connection((HOST, env.https), timeout=10) as s:
            s.sendall(client_hello("none.test"))
            got = recv_until(s, b"never")
        assert got == bytes.fromhex("15030300020270")
        # not a ClientHello: closed without answer
        with socket.create_connection((HOST, env.https), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x00\x05hello" + b"x" * 20)
            assert recv_until(s, b"never") == b""
    finally:
        env.close()
        a.close()
        b.close()


@pytest.mark.parametrize("passthrough", [False, True])
def test_tcpmux(tmp_path, passthrough):
    web = Backend("tm")
    env = Env(tmp_path, tcpmux_proxy("tm", web.port, ["tm.test"]) +
              tcpmux_proxy("locked", web.port, ["locked.test"],
                           'httpUser = "u"\nhttpPassword = "p"\nrouteByHTTPUser = "u"\n'),
              frps_extra=f"tcpmuxPassthrough = {str(passthrough).lower()}\n",
              names=["tm", "locked"])
    try:
        ok = vector("success reply written by frps")
        with socket.create_connection((HOST, env.tcpmux), timeout=10) as s:
            s.sendall(b"CONNECT tm.test:80 HTTP/1.1\r\nHost: tm.test:80\r\n\r\n")
            if not passthrough:
                assert s.recv(len(ok)) == ok
                s.sendall(b"GET /in HTTP/1.1\r\nHost: tm.test\r\n\r\n")
                st, hdrs, body, _ = read_response(s)
                assert (st, body) == (200, b"tm GET /in")
            else:
                # the local service gets the CONNECT itself
                st, hdrs, body, _ = read_response(s)
                assert body == b"tm CONNECT tm.test:80"
        # no route: frp's 404 head + the built-in page
        with socket.create_connection((HOST, env.tcpmux), timeout=10) as s:
            s.sendall(b"CONNECT nothing.test:80 HTTP/1.1\r\nHost: nothing.test\r\n\r\n")
            got = recv_until(s, b"never")
        assert got.startswith(vector("no route for the CONNECT host"))
        assert len(got.split(b"\r\n\r\n", 1)[1]) == 489
        # wrong credentials: (200 unless passthrough, then) 407
        with socket.create_connection((HOST, env.tcpmux), timeout=10) as s:
            s.sendall(b"CONNECT locked.test:80 HTTP/1.1\r\nProxy-Authorization: " +
                      basic("u", "bad").encode() + b"\r\n\r\n")
            got = recv_until(s, b"never")
        want = vector("tcpmux auth failure")
        assert got == (want if passthrough else ok + want)
        # not CONNECT: closed without an answer
        with socket.create_connection((HOST, env.tcpmux), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: tm.test\r\n\r\n")
            assert recv_until(s, b"never") == b""
        if not passthrough:
            # real clients: curl through the tunnel, with good credentials, and socat
            out = subprocess.run(["curl", "-s", "-p", "-x", f"http://u:p@{HOST}:{env.tcpmux}",
                                  "http://locked.test/viacurl"], capture_output=True, timeout=20)
            assert out.stdout == b"tm GET /viacurl"
            if shutil.which("socat"):
                # stdin stays open: frp ends a tunnel at the first EOF of either side
                p = subprocess.Popen(["socat", "-", f"PROXY:{HOST}:tm.test:80,proxyport={env.tcpmux}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                try:
                    p.stdin.write(b"GET /socat HTTP/1.1\r\nHost: tm.test\r\n\r\n")
                    p.stdin.flush()
                    got = b""
                    while not got.endswith(b"tm GET /socat"):
                        d = p.stdout.read1(1000)
                        assert d, got
                        got += d
                finally:
                    p.kill()
                    p.wait()
    finally:
        env.close()
        web.close()


def test_port_reuse_all_kinds(tmp_path):
    """vhostHTTPPort = vhostHTTPSPort = bindPort: one frpc over TLS (custom first byte),
    one plain, vhost HTTP and vhost HTTPS on the same port."""
    web = Backend("web")
    tls = TLSServer(tmp_path, "s.reuse.test")
    env = Env(tmp_path, http_proxy("web", web.port, ["web.reuse.test"]) +
              https_proxy("sec", tls.port, ["s.reuse.test"]), shared=True,
              frpc_extra="transport.tls.enable = true\ntransport.tls.disableCustomTLSFirstByte = false\n",
              names=["web", "sec"])
    plain = env.h.write("plain.toml", (
        f'serverAddr = "{HOST}"\nserverPort = {env.bind}\nauth.token = "vhost-token"\n'
        'transport.tls.enable = false\n' + http_proxy("plainweb", web.port, ["plain.reuse.test"])))
    p2 = env.h.start("frpc", "-c", plain)
    try:
        p2.wait_for(r"\[plainweb\] start proxy success", timeout=20)
        assert env.http == env.https == env.bind
        wait_route(env.bind, "plain.reuse.test")
        for host in ("web.reuse.test", "plain.reuse.test"):
            with socket.create_connection((HOST, env.bind), timeout=10) as s:
                s.sendall(f"GET /r HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                assert read_response(s)[2] == b"web GET /r"
        assert tls_talk(env.bind, "s.reuse.test", tls.crt) == b"s.reuse.test:ping\n"
    finally:
        env.close()
        web.close()
        tls.close()
