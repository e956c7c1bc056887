"""frps tunnel core driven by a small frp client written here (tcpMux off, no TLS):
login, token refusal, tcp proxies and their port checks, work connections, udp proxies,
per-proxy encryption and the replacement of a session with the same run id."""

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import time

import pytest

from cfrp_harness import HOST, SANITIZER_MARKERS, assert_exit, free_port

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # python3-cryptography (Debian) is needed for the encrypted stream
    Cipher = None

pytestmark = pytest.mark.skipif(Cipher is None, reason="python3-cryptography not installed")

TOKEN = "s3cret"


@pytest.fixture(autouse=True)
def _no_sanitizer_reports(cfrp):
    yield
    for p in cfrp.procs:
        err = p.stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in err, err


def aes_key(token):
    return hashlib.pbkdf2_hmac("sha1", token.encode(), b"frp", 64, 16)


def priv_key(token, ts):
    return hashlib.md5((token + str(ts)).encode()).hexdigest()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Conn:
    """One frp connection: frames in clear, optionally AES-128-CFB after a switch."""

    def __init__(self, port, token=TOKEN, tls=None, sock=None):
        self.sock = sock or socket.create_connection((HOST, port), timeout=5)
        if tls is not None:  # "custom": with the 0x17 first byte
            if tls == "custom":
                self.sock.sendall(b"\x17")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.key = aes_key(token)
        self.buf = b""
        self.enc = None
        self.dec = None
        self.encrypted = False

    def close(self):
        self.sock.close()

    def _recv_raw(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self, n):
        if not self.encrypted:
            return self._recv_raw(n)
        if self.dec is None:
            iv = self._recv_raw(16)
            self.dec = Cipher(algorithms.AES(self.key), modes.CFB(iv)).decryptor()
        return self.dec.update(self._recv_raw(n))

    def write(self, data):
        if self.encrypted:
            if self.enc is None:
                iv = os.urandom(16)
                self.enc = Cipher(algorithms.AES(self.key), modes.CFB(iv)).encryptor()
                self.sock.sendall(iv)
            data = self.enc.update(data)
        self.sock.sendall(data)

    def send(self, t, body):
        raw = json.dumps(body, separators=(",", ":")).encode()
        self.write(t.encode() + struct.pack(">q", len(raw)) + raw)

    def recv(self):
        hdr = self.read(9)
        (n,) = struct.unpack(">q", hdr[1:])
        return chr(hdr[0]), json.loads(self.read(n))

    def recv_until(self, t, limit=20):
        for _ in range(limit):
            got, body = self.recv()
            if got == t:
                return body
        raise AssertionError(f"no {t!r} frame")

    def closed_by_peer(self, timeout=3.0):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def login(port, token=TOKEN, run_id="", pool_count=1, tls=None, sock=None):
    c = Conn(port, token, tls, sock)
    ts = int(time.time())
    c.send("o", {"version": "0.61.1", "os": "linux", "arch": "amd64", "user": "",
                 "privilege_key": priv_key(token, ts), "timestamp": ts, "run_id": run_id,
                 "client_spec": {}, "pool_count": pool_count})
    t, resp = c.recv()
    assert t == "1", (t, resp)
    c.encrypted = True
    return c, resp


def work_conn(port, run_id):
    w = Conn(port)
    w.send("w", {"run_id": run_id})
    return w


def start_frps(cfrp, extra=""):
    port = free_port()
    conf = cfrp.write("frps.toml", f'bindPort = {port}\nauth.token = "{TOKEN}"\n'
                      f"transport.tcpMux = false\nlog.level = \"trace\"\n{extra}")
    p = cfrp.start("frps", "-c", conf)
    p.wait_for("frps started successfully")
    return p, port


def new_proxy(ctl, name, ptype="tcp", **kw):
    ctl.send("p", dict({"proxy_name": name, "proxy_type": ptype}, **kw))
    return ctl.recv_until("2")


def test_login_and_wrong_token(cfrp):
    frps, port = start_frps(cfrp)
    ctl, resp = login(port, pool_count=3)
    assert resp["version"] == "0.61.1"
    assert re.fullmatch(r"[0-9a-f]{16}", resp["run_id"]), resp
    assert "error" not in resp
    for _ in range(3):
        assert ctl.recv() == ("r", {})
    frps.wait_for(rf"\[{resp['run_id']}\] client login info: ip \[127\.0\.0\.1:\d+\] "
                  r"version \[0\.61\.1\] hostname \[\] os \[linux\] arch \[amd64\]")

    bad = Conn(port)
    bad.send("o", {"version": "0.61.1", "privilege_key": "0" * 32, "timestamp": 1,
                   "client_spec": {}, "pool_count": 1})
    t, body = bad.recv()
    assert t == "1"
    assert body["error"] == "token in login doesn't match token from configuration"
    assert bad.closed_by_peer()
    frps.wait_for("register control error: token in login doesn't match token from configuration")
    ctl.close()
    frps.wait_for(rf"\[{resp['run_id']}\] client exit success")


def test_summary_error_and_pool_cap(cfrp):
    frps, port = start_frps(cfrp, "detailedErrorsToClient = false\ntransport.maxPoolCount = 2\n")
    bad = Conn(port)
    bad.send("o", {"privilege_key": "x", "timestamp": 5, "client_spec": {}})
    assert bad.recv()[1]["error"] == "register control error"
    ctl, _ = login(port, pool_count=9)
    assert [ctl.recv() for _ in range(2)] == [("r", {}), ("r", {})]
    ctl.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        ctl.recv()
    ctl.sock.settimeout(5)
    resp = new_proxy(ctl, "t1", remote_port=port)
    assert resp == {"proxy_name": "t1", "error": "new proxy [t1] error"}


def test_tcp_proxy_user_connection(cfrp):
    frps, port = start_frps(cfrp)
    ctl, resp = login(port)
    run_id = resp["run_id"]
    assert ctl.recv() == ("r", {})
    rport = free_port()
    assert new_proxy(ctl, "ssh", remote_port=rport) == {"proxy_name": "ssh",
                                                         "remote_addr": f":{rport}"}
    frps.wait_for(rf"\[{run_id}\] \[ssh\] tcp proxy listen port \[{rport}\]")
    frps.wait_for(rf"\[{run_id}\] new proxy \[ssh\] type \[tcp\] success")
    w = work_conn(port, run_id)
    frps.wait_for(rf"\[{run_id}\] new work connection registered")

    user = socket.create_connection((HOST, rport), timeout=5)
    t, start = w.recv()
    assert t == "s"
    assert start == {"proxy_name": "ssh", "src_addr": "127.0.0.1",
                     "src_port": user.getsockname()[1], "dst_addr": "127.0.0.1",
                     "dst_port": rport}
    assert ctl.recv() == ("r", {})  # the pool is refilled
    user.sendall(b"hello")
    assert w.read(5) == b"hello"
    w.write(b"world")
    assert user.recv(5) == b"world"
    w.close()
    user.settimeout(3)
    assert user.recv(1) == b""
    frps.wait_for(rf"\[{run_id}\] \[ssh\] join connections closed")

    # CloseProxy releases the port; the name can register again.
    ctl.send("c", {"proxy_name": "ssh"})
    frps.wait_for(rf"\[{run_id}\] close proxy \[ssh\] success")
    assert new_proxy(ctl, "ssh", remote_port=rport)["remote_addr"] == f":{rport}"


def test_tcp_proxy_encryption_and_no_work_conn(cfrp):
    frps, port = start_frps(cfrp, "userConnTimeout = 1\n")
    ctl, resp = login(port, pool_count=0)
    run_id = resp["run_id"]
    rport = free_port()
    assert new_proxy(ctl, "enc", remote_port=rport, use_encryption=True)["remote_addr"]
    # No work connection arrives: the user connection is closed after userConnTimeout.
    user = socket.create_connection((HOST, rport), timeout=5)
    assert ctl.recv() == ("r", {})
    user.settimeout(4)
    assert user.recv(1) == b""
    frps.wait_for(rf"\[{run_id}\] timeout trying to get work connection")

    user = socket.create_connection((HOST, rport), timeout=5)
    assert ctl.recv() == ("r", {})
    w = work_conn(port, run_id)
    assert w.recv()[0] == "s"
    w.encrypted = True
    user.sendall(b"secret payload")
    assert w.read(14) == b"secret payload"
    w.write(b"reply")
    assert user.recv(5) == b"reply"


def test_port_checks(cfrp):
    lo = free_port()
    frps, port = start_frps(cfrp, f"allowPorts = [{{ single = {lo} }}]\nmaxPortsPerClient = 2\n")
    ctl, _ = login(port)
    assert new_proxy(ctl, "a", remote_port=lo + 1)["error"] == "port not allowed"
    assert new_proxy(ctl, "a", remote_port=0)["remote_addr"] == f":{lo}"
    assert new_proxy(ctl, "b", remote_port=lo)["error"] == "port already used"
    assert new_proxy(ctl, "a", remote_port=lo)["error"] == "proxy [a] already exists"
    assert new_proxy(ctl, "c", "udp", remote_port=lo + 1)["error"] == \
        f"acquire port {lo + 1} error: port not allowed"
    assert new_proxy(ctl, "d", "udp", remote_port=0)["remote_addr"] == f":{lo}"
    assert new_proxy(ctl, "e", remote_port=lo)["error"] == "exceed the max_ports_per_client"
    assert new_proxy(ctl, "f", "bogus")["error"] == "unknown proxy type: bogus"
    assert new_proxy(ctl, "g", "http", custom_domains=["x.example.com"])["error"] == \
        "type [http] not supported when vhost http port is not set"
    frps.wait_for(r"new proxy \[b\] type \[tcp\] error: port already used")


def test_replace_session_same_run_id(cfrp):
    frps, port = start_frps(cfrp)
    old, resp = login(port)
    run_id = resp["run_id"]
    rport = free_port()
    assert new_proxy(old, "q", remote_port=rport)["remote_addr"] == f":{rport}"
    new, resp2 = login(port, run_id=run_id)
    assert resp2["run_id"] == run_id
    assert old.closed_by_peer()
    frps.wait_for(rf"\[{run_id}\] Replaced by client \[{run_id}\]")
    assert new.recv() == ("r", {})
    assert new_proxy(new, "q", remote_port=rport)["remote_addr"] == f":{rport}"
    # Work connections now belong to the new session.
    w = work_conn(port, run_id)
    user = socket.create_connection((HOST, rport), timeout=5)
    assert w.recv()[1]["proxy_name"] == "q"
    user.close()


def test_unknown_run_id_and_bad_first_frame(cfrp):
    frps, port = start_frps(cfrp)
    w = work_conn(port, "0123456789abcdef")
    assert w.closed_by_peer()
    frps.wait_for(r"No client control found for run id \[0123456789abcdef\]")
    c = Conn(port)
    c.send("r", {})
    assert c.closed_by_peer()
    frps.wait_for(r"Error message type for the new connection")


def test_udp_proxy(cfrp):
    frps, port = start_frps(cfrp)
    ctl, resp = login(port)
    run_id = resp["run_id"]
    assert ctl.recv() == ("r", {})
    uport = free_udp_port()
    assert new_proxy(ctl, "dns", "udp", remote_port=uport)["remote_addr"] == f":{uport}"
    frps.wait_for(rf"\[{run_id}\] \[dns\] udp proxy listen port \[{uport}\]")
    w = work_conn(port, run_id)
    assert w.recv() == ("s", {"proxy_name": "dns"})
    user = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    user.settimeout(5)
    user.sendto(b"query", (HOST, uport))
    pkt = w.recv_until("u")
    assert base64.b64decode(pkt["c"]) == b"query"
    assert pkt["r"] == {"IP": "127.0.0.1", "Port": user.getsockname()[1], "Zone": ""}
    w.send("h", {})
    w.send("u", {"c": base64.b64encode(b"answer").decode(), "r": pkt["r"]})
    data, addr = user.recvfrom(100)
    assert data == b"answer" and addr[1] == uport
    # A replacement work connection is taken when the current one ends.
    w.close()
    frps.wait_for(rf"\[{run_id}\] \[dns\] read from workConn for udp error: EOF")
    w2 = work_conn(port, run_id)
    assert w2.recv() == ("s", {"proxy_name": "dns"})


def test_tls_force_refuses_plain(cfrp):
    frps, port = start_frps(cfrp, "transport.tls.force = true\n")
    c = Conn(port)
    c.send("o", {"client_spec": {}})
    assert c.closed_by_peer()
    frps.wait_for("non-TLS connection received on a TlsOnly server")


def test_clean_exit_on_sigterm(cfrp, monkeypatch):
    """With CFRP_CLEAN_EXIT=1, SIGTERM frees everything (sanitizer builds check leaks)."""
    monkeypatch.setenv("CFRP_CLEAN_EXIT", "1")
    frps, port = start_frps(cfrp)
    ctl, resp = login(port, pool_count=2)
    run_id = resp["run_id"]
    rport = free_port()
    assert new_proxy(ctl, "t", remote_port=rport)["remote_addr"] == f":{rport}"
    assert new_proxy(ctl, "u", "udp", remote_port=free_udp_port())["remote_addr"]
    w1 = work_conn(port, run_id)
    w2 = work_conn(port, run_id)
    user = socket.create_connection((HOST, rport), timeout=5)
    assert w1.recv()[0] == "s" or w2.recv()[0] == "s"
    user.sendall(b"x")
    pending = Conn(port)  # never sends its first frame
    pending.sock.sendall(b"o")
    time.sleep(0.3)
    frps.popen.terminate()
    res = frps.wait_exit(timeout=10)
    assert_exit(res, 0)


@pytest.mark.parametrize("mode", ["standard", "custom"])
def test_tls_login_and_work_conn(cfrp, mode):
    frps, port = start_frps(cfrp)
    ctl, resp = login(port, tls=mode)
    assert ctl.recv() == ("r", {})
    rport = free_port()
    assert new_proxy(ctl, "t", remote_port=rport)["remote_addr"] == f":{rport}"
    w = Conn(port, tls=mode)
    w.send("w", {"run_id": resp["run_id"]})
    user = socket.create_connection((HOST, rport), timeout=5)
    assert w.recv()[1]["proxy_name"] == "t"
    w.write(b"over tls")
    assert user.recv(8) == b"over tls"


class MuxSession:
    """A minimal yamux client (frpc's side of tcpMux): odd stream ids, small payloads."""

    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect((HOST, port))
        self.next_id = 1
        self.bufs = {}
        self.fins = set()
        self.rx = {}  # payload bytes received per stream (the window they used)
        self.raw = b""

    def frame(self, typ, flags, sid, length, body=b""):
        self.sock.sendall(struct.pack(">BBHII", 0, typ, flags, sid, length) + body)

    def open(self):
        sid = self.next_id
        self.next_id += 2
        self.bufs[sid] = b""
        self.frame(1, 1, sid, 0)  # Window Update + SYN
        return MuxStream(self, sid)

    def pump(self, sid, n):
        while len(self.bufs[sid]) < n:
            if sid in self.fins:
                return
            while len(self.raw) < 12:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("session closed")
                self.raw += data
            _, typ, flags, fsid, length = struct.unpack(">BBHII", self.raw[:12])
            body_len = length if typ == 0 else 0
            while len(self.raw) < 12 + body_len:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("session closed")
                self.raw += data
            body, self.raw = self.raw[12:12 + body_len], self.raw[12 + body_len:]
            if typ == 2 and flags & 1:
                self.frame(2, 2, 0, length)  # answer keep-alive pings
            if fsid in self.bufs:
                self.bufs[fsid] += body
                self.rx[fsid] = self.rx.get(fsid, 0) + len(body)
                if flags & 4:
                    self.fins.add(fsid)


class MuxStream:
    def __init__(self, sess, sid):
        self.sess, self.sid = sess, sid

    def sendall(self, data):
        self.sess.frame(0, 0, self.sid, len(data), data)

    def recv(self, n):
        self.sess.pump(self.sid, 1)
        out = self.sess.bufs[self.sid][:n]
        self.sess.bufs[self.sid] = self.sess.bufs[self.sid][n:]
        return out

    def settimeout(self, t):
        self.sess.sock.settimeout(t)

    def close(self):
        self.sess.frame(1, 4, self.sid, 0)  # FIN


def test_tcp_mux_session(cfrp):
    port = free_port()
    conf = cfrp.write("frps.toml", f'bindPort = {port}\nauth.token = "{TOKEN}"\n'
                      'log.level = "debug"\n')
    frps = cfrp.start("frps", "-c", conf)
    frps.wait_for("frps started successfully")
    sess = MuxSession(port)
    ctl, resp = login(port, sock=sess.open())
    assert ctl.recv() == ("r", {})
    rport = free_port()
    assert new_proxy(ctl, "m", remote_port=rport)["remote_addr"] == f":{rport}"
    w = Conn(port, sock=sess.open())
    w.send("w", {"run_id": resp["run_id"]})
    frps.wait_for(r"new work connection registered")
    user = socket.create_connection((HOST, rport), timeout=5)
    assert w.recv()[1]["proxy_name"] == "m"
    user.sendall(b"ping over yamux")
    assert w.read(15) == b"ping over yamux"
    w.write(b"pong")
    assert user.recv(4) == b"pong"
    # Dropping the carrier ends the session and its control.
    sess.sock.close()
    frps.wait_for(rf"\[{resp['run_id']}\] client exit success")
    frps.wait_for(r"\[m\] proxy closing")


def wait_count(proc, pattern, n, timeout=10.0):
    """Waits until pattern occurs n times in proc's stdout."""
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, proc.stdout())) < n:
        assert time.monotonic() < deadline, f"fewer than {n} of {pattern!r}: {proc.stdout()}"
        time.sleep(0.05)


def test_clean_exit_with_start_work_conn_pending(cfrp, monkeypatch):
    """SIGTERM while a StartWorkConn write is still queued on a work stream (the carrier
    to frpc is full because frpc stops reading): the stream is closed once and the user
    connection ends without the retry path's warnings."""
    monkeypatch.setenv("CFRP_CLEAN_EXIT", "1")
    port = free_port()
    conf = cfrp.write("frps.toml", f'bindPort = {port}\nauth.token = "{TOKEN}"\n'
                      'log.level = "trace"\n')
    frps = cfrp.start("frps", "-c", conf)
    frps.wait_for("frps started successfully")
    sess = MuxSession(port, rcvbuf=4096)
    busy = 13  # the pool holds min(pool_count, maxPoolCount) + 10
    ctl, resp = login(port, sock=sess.open(), pool_count=busy + 1)
    rport = free_port()
    assert new_proxy(ctl, "p", remote_port=rport)["remote_addr"] == f":{rport}"
    for _ in range(busy + 1):
        Conn(port, sock=sess.open()).send("w", {"run_id": resp["run_id"]})
    wait_count(frps, r"new work connection registered", busy + 1)
    # From here on frpc reads nothing: user bytes fill the carrier to it.
    users = []
    chunk = b"x" * 65536
    for _ in range(busy):
        u = socket.create_connection((HOST, rport), timeout=5)
        u.setblocking(False)
        users.append(u)
        for _ in range(4):  # the stream's whole 256 KiB window
            try:
                u.send(chunk)
            except BlockingIOError:
                break
    time.sleep(0.5)
    wait_count(frps, r"\[p\] get a new work connection", busy)
    last = socket.create_connection((HOST, rport), timeout=5)
    wait_count(frps, r"\[p\] get a new work connection", busy + 1)
    time.sleep(0.3)
    frps.popen.terminate()
    res = frps.wait_exit(timeout=10)
    assert_exit(res, 0)
    log = frps.stdout() + frps.stderr()
    assert len(re.findall(r"\[p\] get a new work connection", log)) == busy + 1, log
    assert "failed to send message to work connection" not in log, log
    assert "try to get work connection failed in the end" not in log, log
    last.close()
    for u in users:
        u.close()



def test_tunnel_last_bytes_survive_backend_byte(cfrp):
    """A 101 tunnel where the user sends its last bytes and half-closes while frps still
    has some of them queued on the work stream (its yamux send window is used up): a
    byte the backend sends meanwhile must not cut that flush short."""
    port, vport = free_port(), free_port()
    conf = cfrp.write("frps.toml", f'bindPort = {port}\nauth.token = "{TOKEN}"\n'
                      f'vhostHTTPPort = {vport}\nlog.level = "debug"\n')
    frps = cfrp.start("frps", "-c", conf)
    frps.wait_for("frps started successfully")
    sess = MuxSession(port)
    ctl, resp = login(port, sock=sess.open(), pool_count=0)
    assert new_proxy(ctl, "ws", "http", custom_domains=["ws.test"])["remote_addr"]
    ws = sess.open()
    w = Conn(port, sock=ws)
    w.send("w", {"run_id": resp["run_id"]})
    frps.wait_for(r"new work connection registered")
    user = socket.create_connection((HOST, vport), timeout=10)
    user.sendall(b"GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\n\r\n")
    assert w.recv()[0] == "s"
    while b"\r\n\r\n" not in w.buf + sess.bufs[ws.sid]:
        sess.pump(ws.sid, len(sess.bufs[ws.sid]) + 1)
    sess.bufs[ws.sid] = b""
    ws.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += user.recv(1)
    assert got.startswith(b"HTTP/1.1 101")
    # The stream's window (256 KiB, never updated here) takes the first bytes; the last
    # 128 KiB stay queued in frps, under its high-water mark, so it reads the EOF too.
    total = 384 * 1024
    data = os.urandom(total)
    user.sendall(data)
    user.shutdown(socket.SHUT_WR)
    sess.pump(ws.sid, 256 * 1024 - sess.rx[ws.sid])
    time.sleep(0.5)  # frps reads the rest and the EOF while its writes wait
    ws.sendall(b"z")  # the backend speaks meanwhile
    time.sleep(0.3)
    sess.frame(1, 0, ws.sid, total)  # window update: the rest may come
    sess.pump(ws.sid, total + 1)
    assert ws.sid in sess.fins
    assert sess.bufs[ws.sid] == data
    user.close()
