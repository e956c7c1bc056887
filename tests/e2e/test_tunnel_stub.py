"""frpc against a small Python frps written from protocol.md (tcpMux off, TLS off):
login with the token key, the encrypted control stream, NewProxy/NewProxyResp,
ReqWorkConn -> NewWorkConn -> StartWorkConn and an encrypted tcp echo. It pins frpc's
wire behaviour independently of our frps (test_tunnel_frps.py covers that pairing)."""

import hashlib
import json
import os
import queue
import socket
import struct
import threading
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cfrp_harness import HOST, assert_exit, free_port

TOKEN = "stub-token"


def derive(token):
    return hashlib.pbkdf2_hmac("sha1", token.encode(), b"frp", 64, 16)


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


class Conn:
    """One frp connection: frames in clear, optionally AES-CFB after a switch."""

    def __init__(self, sock):
        self.sock = sock
        self.enc = None
        self.dec = None
        self.key = None

    def start_crypto(self, key):
        self.key = key

    def _read(self, n):
        if self.key is not None and self.dec is None:
            iv = recv_exact(self.sock, 16)
            self.dec = Cipher(algorithms.AES(self.key), modes.CFB(iv)).decryptor()
        data = recv_exact(self.sock, n)
        return self.dec.update(data) if self.dec else data

    def write(self, data):
        if self.key is not None:
            if self.enc is None:
                iv = os.urandom(16)
                self.enc = Cipher(algorithms.AES(self.key), modes.CFB(iv)).encryptor()
                self.sock.sendall(iv)
            data = self.enc.update(data)
        self.sock.sendall(data)

    def read_msg(self):
        hdr = self._read(9)
        (n,) = struct.unpack(">q", hdr[1:])
        assert 0 < n <= 10240
        return chr(hdr[0]), json.loads(self._read(n))

    def read_raw(self, n):
        return self._read(n)

    def send_msg(self, t, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.write(t.encode() + struct.pack(">q", len(data)) + data)


class StubFrps:
    """A thread-per-connection frps subset. Records every message it receives."""

    def __init__(self, port, token=TOKEN, refuse_ports=(), pong_error="", no_pong=False):
        self.port = port
        self.pong_error = pong_error
        self.no_pong = no_pong
        self.login_times = []
        self.token = token
        self.refuse_ports = set(refuse_ports)
        self.msgs = []
        self.pool = queue.Queue()
        self.ctl = None
        self.lock = threading.Lock()
        self.listeners = []
        self.srv = socket.create_server((HOST, port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        for s in [self.srv] + self.listeners:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                sock, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        c = Conn(sock)
        try:
            t, m = c.read_msg()
        except (EOFError, OSError):
            return
        self.msgs.append((t, m))
        if t == "w":
            self.pool.put(c)
            return
        if t != "o":
            sock.close()
            return
        self.login_times.append(time.monotonic())
        key = hashlib.md5((self.token + str(m["timestamp"])).encode()).hexdigest()
        if key != m.get("privilege_key"):
            c.send_msg("1", {"version": "0.61.1",
                             "error": "token in login doesn't match token from configuration"})
            sock.close()
            return
        c.send_msg("1", {"version": "0.61.1", "run_id": m.get("run_id") or "0123456789abcdef"})
        c.start_crypto(derive(self.token))
        self.ctl = c
        for _ in range(max(1, m.get("pool_count", 1))):
            self._send_ctl("r", {})
        try:
            while True:
                t, m = c.read_msg()
                self.msgs.append((t, m))
                if t == "p":
                    self._new_proxy(m)
                elif t == "h" and not self.no_pong:
                    self._send_ctl("4", {"error": self.pong_error} if self.pong_error else {})
        except (EOFError, OSError, ValueError):
            sock.close()

    def _send_ctl(self, t, body):
        with self.lock:
            self.ctl.send_msg(t, body)

    def _new_proxy(self, m):
        port = m.get("remote_port", 0)
        name = m["proxy_name"]
        if port in self.refuse_ports:
            self._send_ctl("2", {"proxy_name": name, "error": f"port unavailable"})
            return
        ls = socket.create_server((HOST, port))
        self.listeners.append(ls)
        self._send_ctl("2", {"proxy_name": name, "remote_addr": f":{port}"})
        threading.Thread(target=self._user_accept, args=(ls, m), daemon=True).start()

    def _user_accept(self, ls, m):
        while True:
            try:
                user, addr = ls.accept()
            except OSError:
                return
            threading.Thread(target=self._user, args=(user, addr, m), daemon=True).start()

    def _user(self, user, addr, m):
        work = self.pool.get(timeout=10)
        self._send_ctl("r", {})
        work.send_msg("s", {"proxy_name": m["proxy_name"], "src_addr": addr[0],
                            "dst_addr": HOST, "src_port": addr[1],
                            "dst_port": m.get("remote_port", 0)})
        if m.get("use_encryption"):
            work.start_crypto(derive(self.token))

        def up():
            try:
                while True:
                    d = user.recv(65536)
                    if not d:
                        break
                    work.write(d)
            except OSError:
                pass
            for s in (user, work.sock):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=up, daemon=True).start()
        try:
            while True:
                d = work.sock.recv(65536)
                if not d:
                    break
                if work.key is not None:
                    if work.dec is None:
                        iv, d = d[:16], d[16:]
                        while len(iv) < 16:
                            more = work.sock.recv(16 - len(iv))
                            if not more:
                                raise EOFError
                            iv += more
                        work.dec = Cipher(algorithms.AES(work.key), modes.CFB(iv)).decryptor()
                    d = work.dec.update(d)
                user.sendall(d)
        except (OSError, EOFError):
            pass
        for s in (user, work.sock):
            try:
                s.close()
            except OSError:
                pass


def echo_server():
    ls = socket.create_server((HOST, 0))

    def serve(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return ls


def frpc_toml(server_port, token, proxies, extra=""):
    return (f'serverAddr = "{HOST}"\nserverPort = {server_port}\nauth.token = "{token}"\n'
            f'transport.tcpMux = false\ntransport.tls.enable = false\nlog.level = "debug"\n'
            f'{extra}\n{proxies}')


def roundtrip(port, payload, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=timeout) as s:
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
                if got == payload:
                    return got
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no echo through port {port}")
        time.sleep(0.1)


def test_stub_login_proxy_and_encrypted_echo(cfrp):
    sport, rport = free_port(), free_port()
    stub = StubFrps(sport)
    echo = echo_server()
    try:
        proxies = (f'[[proxies]]\nname = "echo"\ntype = "tcp"\nlocalPort = {echo.getsockname()[1]}\n'
                   f'remotePort = {rport}\ntransport.useEncryption = true\n')
        cfg = cfrp.write("frpc.toml", frpc_toml(sport, TOKEN, proxies, 'user = "u1"\n'
                                                 'metadatas.zone = "z"'))
        p = cfrp.start("frpc", "-c", cfg)
        out = p.wait_for(r"\[u1\.echo\] start proxy success")
        assert "login to server success, get run id [0123456789abcdef]" in out
        assert "proxy added: [u1.echo]" in out
        payload = os.urandom(200000)
        assert roundtrip(rport, payload) == payload
        login = [m for t, m in stub.msgs if t == "o"][0]
        assert login["version"] == "0.61.1" and login["os"] == "linux"
        assert login["user"] == "u1" and login["metas"] == {"zone": "z"}
        assert login["client_spec"] == {} and login["pool_count"] == 1
        assert "run_id" not in login and "hostname" not in login
        newp = [m for t, m in stub.msgs if t == "p"][0]
        assert newp == {"proxy_name": "u1.echo", "proxy_type": "tcp", "use_encryption": True,
                        "remote_port": rport}
        works = [m for t, m in stub.msgs if t == "w"]
        assert works and works[0] == {"run_id": "0123456789abcdef"}
        pings = [m for t, m in stub.msgs if t == "h"]
        assert pings and pings[0] == {}  # tcpMux off: heartbeats on by default
    finally:
        stub.close()
        echo.close()


def test_stub_wrong_token_exits(cfrp):
    sport = free_port()
    stub = StubFrps(sport, token="other")
    try:
        cfg = cfrp.write("frpc.toml", frpc_toml(sport, TOKEN, ""))
        res = cfrp.start("frpc", "-c", cfg).wait_exit(timeout=15)
        assert_exit(res, 1)
        assert ("login to the server failed: token in login doesn't match token from "
                "configuration. With loginFailExit enabled, no additional retries will be "
                "attempted") in res.stdout
        assert "[W]" in res.stdout and "connect to server error: token in login" in res.stdout
    finally:
        stub.close()


def test_stub_start_error_logged(cfrp):
    sport, rport = free_port(), free_port()
    stub = StubFrps(sport, refuse_ports=[rport])
    try:
        proxies = (f'[[proxies]]\nname = "p"\ntype = "tcp"\nlocalPort = 1\n'
                   f'remotePort = {rport}\n')
        cfg = cfrp.write("frpc.toml", frpc_toml(sport, TOKEN, proxies))
        p = cfrp.start("frpc", "-c", cfg)
        p.wait_for(r"\[W\] .*\[p\] start error: port unavailable")
    finally:
        stub.close()


def test_stub_pong_error_relogin(cfrp):
    """A Pong with an error ends the session; frpc logs in again with its run id at once,
    then about 200-300 ms apart (protocol.md 4.8)."""
    sport = free_port()
    stub = StubFrps(sport, pong_error="invalid ping")
    try:
        cfg = cfrp.write("frpc.toml", frpc_toml(sport, TOKEN, ""))
        p = cfrp.start("frpc", "-c", cfg)
        deadline = time.monotonic() + 10
        while len(stub.login_times) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(stub.login_times) >= 4, p.stdout()
        logins = [m for t, m in stub.msgs if t == "o"]
        assert "run_id" not in logins[0]
        assert all(m["run_id"] == "0123456789abcdef" for m in logins[1:])
        gaps = [b - a for a, b in zip(stub.login_times, stub.login_times[1:])]
        assert gaps[0] < 0.15, gaps          # the outer loop's first run is immediate
        assert 0.15 < gaps[1] < 0.6, gaps    # then the quick retries of 200-300 ms
        assert "[E]" in p.stdout() and "Pong message contains error: invalid ping" in p.stdout()
    finally:
        stub.close()


def test_stub_heartbeat_timeout(cfrp):
    sport = free_port()
    stub = StubFrps(sport, no_pong=True)
    try:
        cfg = cfrp.write("frpc.toml", frpc_toml(sport, TOKEN, "", "transport.heartbeatInterval = 1\n"
                                                                "transport.heartbeatTimeout = 2"))
        p = cfrp.start("frpc", "-c", cfg)
        p.wait_for(r"\[W\] .*\[0123456789abcdef\] heartbeat timeout", timeout=10)
        deadline = time.monotonic() + 5
        while len(stub.login_times) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(stub.login_times) >= 2
        assert len([m for t, m in stub.msgs if t == "h"]) >= 2
    finally:
        stub.close()
