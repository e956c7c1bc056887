"""Robustness: frps keeps serving while one peer on its bind port misbehaves (short or
random first bytes, bad frames, bad JSON, garbage after Login, unknown run ids, yamux
garbage, TLS garbage, connection storms), and frpc survives a fake frps that answers with
garbage, absurd StartWorkConns, ReqWorkConn floods or silence (protocol.md 1.2, 2, 3, 4,
9; decisions.md item 6). Every test ends with a clean SIGTERM exit, so the sanitizer build
also proves that nothing leaked."""

import base64
import hashlib
import json
import os
import queue
import random
import re
import socket
import ssl
import struct
import threading
import time

import pytest

from cfrp_harness import HOST, SANITIZER_MARKERS, assert_exit, free_port
from test_server_tunnel import TOKEN, Conn, MuxSession, login, new_proxy, work_conn
from test_tunnel_frps import LocalServer, UDPEcho, echo_handler

YAMUX_DELTA = 6029312  # SYN/ACK window increment: 6 MiB max window - 256 KiB initial


# ---------------------------------------------------------------- shared helpers

@pytest.fixture(autouse=True)
def _clean_exit(monkeypatch):
    """CFRP_CLEAN_EXIT=1: a SIGTERM frees everything, so LeakSanitizer sees real leaks."""
    monkeypatch.setenv("CFRP_CLEAN_EXIT", "1")


def no_sanitizer_report(proc):
    err = proc.stderr()
    for marker in SANITIZER_MARKERS:
        assert marker not in err, err[-4000:]


def stop_clean(proc):
    """The process is still alive, has no sanitizer report, and exits 0 on SIGTERM."""
    assert proc.alive(), (proc.stdout()[-3000:], proc.stderr()[-3000:])
    no_sanitizer_report(proc)
    proc.popen.terminate()
    assert_exit(proc.wait_exit(timeout=15), 0)


def fd_count(proc):
    return len(os.listdir(f"/proc/{proc.popen.pid}/fd"))


def rss_kib(proc):
    with open(f"/proc/{proc.popen.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def asan_build(proc):
    """Whether proc runs with AddressSanitizer, whose quarantine keeps freed memory (so
    RSS measures churn there, not what is held)."""
    if os.environ.get("CFRP_SANITIZED") == "1":
        return True
    with open(f"/proc/{proc.popen.pid}/maps") as f:
        return any("asan" in line for line in f)


def frame(t, body):
    """One frp frame; body is bytes or a JSON-able object."""
    if not isinstance(body, bytes):
        body = json.dumps(body, separators=(",", ":")).encode()
    return t.encode() + struct.pack(">q", len(body)) + body


def ymx(typ, flags, sid, length, body=b"", version=0):
    return struct.pack(">BBHII", version, typ, flags, sid, length) + body


def peer_closes(sock, timeout=3.0):
    """True when the peer ends the connection (EOF or reset) within timeout; data read on
    the way is discarded."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


def mux_stream_ends(sock, sid, timeout=3.0):
    """True when the yamux peer ends stream sid (FIN or RST) or drops the whole session."""
    deadline = time.monotonic() + timeout
    raw = b""
    while True:
        while len(raw) >= 12:
            _, typ, flags, fsid, length = struct.unpack(">BBHII", raw[:12])
            body = length if typ == 0 else 0
            if len(raw) < 12 + body:
                break
            raw = raw[12 + body:]
            if fsid == sid and flags & (4 | 8):
                return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        if not data:
            return True
        raw += data


def send_quietly(sock, data):
    """sendall that treats the peer closing mid-way as fine (it is allowed to)."""
    try:
        sock.sendall(data)
        return True
    except OSError:  # reset, broken pipe, timeout, or closed by the test meanwhile
        return False


def start_frps(cfrp, mux, extra="", fname="frps.toml"):
    port = free_port()
    conf = cfrp.write(fname, f'bindPort = {port}\nauth.token = "{TOKEN}"\n'
                      f"transport.tcpMux = {str(mux).lower()}\n{extra}")
    p = cfrp.start("frps", "-c", conf)
    p.wait_for("frps started successfully")
    return p, port


def assert_serves(frps, port, mux, name="good"):
    """A well-behaved client logs in, registers a tcp proxy and a user's bytes cross it
    both ways; frps is alive and its stderr has no sanitizer report."""
    sess = MuxSession(port) if mux else None
    ctl, resp = login(port, sock=sess.open() if mux else None)
    assert ctl.recv() == ("r", {})
    rport = free_port()
    assert new_proxy(ctl, name, remote_port=rport) == {"proxy_name": name,
                                                       "remote_addr": f":{rport}"}
    w = Conn(port, sock=sess.open() if mux else None)
    w.send("w", {"run_id": resp["run_id"]})
    user = socket.create_connection((HOST, rport), timeout=5)
    t, start = w.recv()
    assert t == "s" and start["proxy_name"] == name
    user.sendall(b"ping through")
    assert w.read(12) == b"ping through"
    w.write(b"pong")
    assert user.recv(4) == b"pong"
    user.close()
    (sess.sock if mux else ctl.sock).close()
    if not mux:
        w.close()
    assert frps.alive()
    no_sanitizer_report(frps)


def open_mux_stream(port, sid=1):
    """A raw carrier with stream sid opened (Window Update + SYN)."""
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(ymx(1, 1, sid, YAMUX_DELTA))
    return s


def client_hello():
    """The bytes of a real TLS ClientHello."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return out.read()
    raise AssertionError("handshake finished without a server")


def login_frame(**over):
    ts = int(time.time())
    body = {"version": "0.61.1", "os": "linux", "arch": "amd64",
            "privilege_key": hashlib.md5(f"{TOKEN}{ts}".encode()).hexdigest(),
            "timestamp": ts, "client_spec": {}, "pool_count": 1}
    body.update(over)
    return frame("o", body)


# ---------------------------------------------------------------- frps: bad frames

NESTED_ARRAY = b'{"version":' + b"[" * 4000 + b"]" * 4000 + b"}"
NESTED_UNKNOWN = b'{"zz":' + b'{"a":' * 1600 + b"1" + b"}" * 1600 + b"}"

# name -> bytes sent as the first flight of one frp connection; frps must end it.
BAD_FIRST_FRAMES = {
    "random10-a": random.Random(1).randbytes(10),
    "random10-b": random.Random(2).randbytes(10),
    "random10-c": b"\xff" + random.Random(3).randbytes(9),
    "unknown-type": frame("z", {}),
    "type-nul": frame("\x00", {}),
    "len-2^62": b"o" + struct.pack(">q", 1 << 62) + b"{}",
    "len-10241": b"o" + struct.pack(">q", 10241) + b"{" + b" " * 10239 + b"}",
    "len-negative": b"o" + struct.pack(">q", -1) + b"{}",
    "len-zero": b"o" + struct.pack(">q", 0) + b"w" + struct.pack(">q", 2) + b"{}",
    "invalid-json": frame("o", b"{not json at all}"),
    "json-not-object": frame("o", b"[1,2,3]"),
    "json-trailing": frame("o", b'{"version":"0.61.1"} x'),
    "pool-count-string": login_frame(pool_count="x"),
    "pool-count-fraction": login_frame(pool_count=1.5),
    "pool-count-huge": login_frame(pool_count=1 << 70),
    "timestamp-string": login_frame(timestamp="now"),
    "array-for-string": login_frame(version=["0", "61"], privilege_key=["a"]),
    "object-for-string": login_frame(run_id={"a": "b"}),
    "metas-not-strings": login_frame(metas={"a": [1, {"b": None}]}),
    "client-spec-array": login_frame(client_spec=[1, 2]),
    "nested-array": frame("o", NESTED_ARRAY),
    "work-run-id-number": frame("w", {"run_id": 12345}),
    "work-run-id-unknown": frame("w", {"run_id": "0123456789abcdef"}),
    "work-run-id-long": frame("w", {"run_id": "r" * 10000}),
    "work-empty": frame("w", {}),
    "visitor-unknown": frame("v", {"proxy_name": "nope", "sign_key": "x", "timestamp": 1}),
    "ping-first": frame("h", {}),
    "invalid-utf8": frame("o", b'{"version":"\xff\xfe\xc0\x80","user":"\xed\xa0\x80"}'),
    "bad-escape": frame("o", b'{"version":"\\ud800\\u00zz"}'),
}


@pytest.mark.parametrize("mux", [False, True], ids=["plain", "mux"])
def test_bad_first_frames_are_dropped(cfrp, mux):
    """Each bad first frame ends its own connection (with tcpMux: its stream); frps
    stays up throughout and then serves a good client."""
    frps, port = start_frps(cfrp, mux)
    for name, data in BAD_FIRST_FRAMES.items():
        if mux:
            s = open_mux_stream(port)
            s.sendall(ymx(0, 0, 1, len(data), data))
            assert mux_stream_ends(s, 1), name
        else:
            s = socket.create_connection((HOST, port), timeout=5)
            send_quietly(s, data)
            assert peer_closes(s), name
        s.close()
        assert frps.alive(), name
    assert_serves(frps, port, mux)
    stop_clean(frps)


def test_nested_json_in_unknown_key(cfrp):
    """Deep nesting under a key frps ignores: accepted or refused, never a crash."""
    frps, port = start_frps(cfrp, False)
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(frame("o", NESTED_UNKNOWN))
    peer_closes(s, 1.0)
    s.close()
    assert_serves(frps, port, False)
    stop_clean(frps)


@pytest.mark.parametrize("mux", [False, True], ids=["plain", "mux"])
def test_truncated_frames_then_close(cfrp, mux):
    frps, port = start_frps(cfrp, mux)
    full = login_frame()
    for cut in (1, 5, 9, 10, 11, len(full) // 2, len(full) - 1):
        if mux:
            s = open_mux_stream(port)
            s.sendall(ymx(0, 0, 1, cut, full[:cut]))
            if cut % 2:
                s.sendall(ymx(1, 4, 1, 0))  # FIN on the stream, then drop the carrier
        else:
            s = socket.create_connection((HOST, port), timeout=5)
            s.sendall(full[:cut])
        s.close()
    # A frame whose header promises more than the yamux frame carries.
    if mux:
        s = open_mux_stream(port)
        s.sendall(ymx(0, 0, 1, 500, full[:100]))
        s.close()
    time.sleep(0.3)
    assert_serves(frps, port, mux)
    stop_clean(frps)


def test_short_first_flights_time_out(cfrp):
    """Fewer than 10 bytes then silence (bind-port classifier) and a half frame on a
    yamux stream (first-frame deadline): all closed after about 10 s, while good clients
    are served in the meantime."""
    frps, port = start_frps(cfrp, False)
    frps_mux, port_mux = start_frps(cfrp, True, fname="frps-mux.toml")
    t0 = time.monotonic()
    silent = []
    for data in (b"", b"o", b"o\x00\x00\x00\x00", b"GET /~!fr", b"\x17"):
        s = socket.create_connection((HOST, port), timeout=5)
        s.sendall(data)
        silent.append(s)
    s = open_mux_stream(port_mux)
    s.sendall(ymx(0, 0, 1, 5, b"o\x00\x00\x00\x00"))
    silent.append(s)
    assert_serves(frps, port, False)
    assert_serves(frps_mux, port_mux, True)
    for s in silent[:-1]:
        assert peer_closes(s, 14.0 - (time.monotonic() - t0)), s
    assert mux_stream_ends(silent[-1], 1, 14.0 - (time.monotonic() - t0))
    assert time.monotonic() - t0 > 8.0  # not closed early either
    stop_clean(frps)
    stop_clean(frps_mux)


# ---------------------------------------------------------------- frps: after login

@pytest.mark.parametrize("mux", [False, True], ids=["plain", "mux"])
@pytest.mark.parametrize("garbage", ["random", "zeros", "iv-only-then-close"])
def test_garbage_in_encrypted_control(cfrp, mux, garbage):
    """Login succeeds, then the encrypted stream carries garbage: the session ends."""
    frps, port = start_frps(cfrp, mux)
    sess = MuxSession(port) if mux else None
    ctl, resp = login(port, sock=sess.open() if mux else None)
    raw = ctl.sock
    if garbage == "random":
        raw.sendall(os.urandom(16) + random.Random(7).randbytes(4000))
    elif garbage == "zeros":
        raw.sendall(b"\x00" * 16 + b"\x00" * 300)
    else:
        raw.sendall(os.urandom(16))
        (sess.sock if mux else raw).close()
    if garbage != "iv-only-then-close":
        sock = sess.sock if mux else raw
        if mux:
            assert mux_stream_ends(sock, 1), garbage
        else:
            assert peer_closes(sock), garbage
        sock.close()
    frps.wait_for(rf"\[{resp['run_id']}\] client exit success")
    assert_serves(frps, port, mux)
    stop_clean(frps)


# Encrypted control messages with absurd fields: frps answers or ends the session.
ABSURD_CONTROL = {
    "proxy-port-range": ("p", {"proxy_name": "a", "proxy_type": "tcp", "remote_port": 99999}),
    "proxy-port-negative": ("p", {"proxy_name": "a", "proxy_type": "tcp", "remote_port": -1}),
    "proxy-name-long": ("p", {"proxy_name": "n" * 9000, "proxy_type": "tcp"}),
    "proxy-name-empty": ("p", {"proxy_type": "tcp", "remote_port": 0}),
    "proxy-type-array": ("p", {"proxy_name": "a", "proxy_type": ["tcp"]}),
    "proxy-domains-string": ("p", {"proxy_name": "a", "proxy_type": "http",
                                   "custom_domains": "x.example.com"}),
    "proxy-many-domains": ("p", {"proxy_name": "a", "proxy_type": "http",
                                 "custom_domains": ["d%d.example.com" % i for i in range(500)]}),
    "proxy-bandwidth-junk": ("p", {"proxy_name": "a", "proxy_type": "tcp",
                                   "bandwidth_limit": "12QB"}),
    "proxy-bandwidth-huge": ("p", {"proxy_name": "a", "proxy_type": "tcp",
                                   "bandwidth_limit": "99999999999999999999MB"}),
    "proxy-metas-nested": ("p", {"proxy_name": "a", "proxy_type": "tcp",
                                 "metas": {"k": {"deep": [1]}}}),
    "proxy-stcp-no-key": ("p", {"proxy_name": "a", "proxy_type": "stcp"}),
    "proxy-xtcp": ("p", {"proxy_name": "a", "proxy_type": "xtcp", "sk": "x"}),
    "close-unknown": ("c", {"proxy_name": "never-registered"}),
    "close-number": ("c", {"proxy_name": 5}),
    "ping-fields": ("h", {"privilege_key": ["x"], "timestamp": "y"}),
    "nathole-visitor": ("i", {"transaction_id": "t", "proxy_name": "none",
                              "mapped_addrs": ["1.2.3.4:99999", "junk"]}),
    "nathole-client": ("n", {"transaction_id": "t", "proxy_name": "none", "sid": "s"}),
    "nathole-report": ("6", {"sid": "does-not-exist", "success": True}),
    "login-again": ("o", {"version": "0.61.1"}),
    "server-only-type": ("s", {"proxy_name": "x"}),
    "udp-packet": ("u", {"c": "!!!notbase64", "r": {"IP": "x", "Port": 1e30}}),
    "unknown-type": ("z", {}),
}


def test_absurd_control_messages(cfrp):
    """One session per message: a NewProxy gets exactly its NewProxyResp (or the session
    ends on a JSON type error); the others are ignored or end the session."""
    frps, port = start_frps(cfrp, False)
    for name, (t, body) in ABSURD_CONTROL.items():
        ctl, resp = login(port)
        assert ctl.recv() == ("r", {})
        ctl.send(t, body)
        ctl.sock.settimeout(0.3 if t != "p" else 5)
        try:
            got, reply = ctl.recv()
            assert t == "p", (name, got, reply)
            assert got == "2" and reply.get("proxy_name", "") == body.get("proxy_name", ""), \
                (name, got, reply)
        except (socket.timeout, EOFError, ConnectionResetError):
            pass
        ctl.close()
        assert frps.alive(), name
    assert_serves(frps, port, False)
    stop_clean(frps)


# ---------------------------------------------------------------- frps: session churn

@pytest.mark.parametrize("mux", [False, True], ids=["plain", "mux"])
def test_same_run_id_login_storm(cfrp, mux):
    """30 logins with one run id at once, each registering the same proxy and port, with
    work and user connections in flight: frps replaces sessions without crashing and the
    last one standing can still use the port."""
    frps, port = start_frps(cfrp, mux)
    run_id = "5e55e55e55e55e55"
    rport = free_port()
    results = []

    def one(i):
        try:
            sess = MuxSession(port) if mux else None
            ctl, _ = login(port, run_id=run_id, sock=sess.open() if mux else None)
            ctl.send("p", {"proxy_name": "same", "proxy_type": "tcp", "remote_port": rport})
            w = Conn(port, sock=sess.open() if mux else None)
            w.send("w", {"run_id": run_id})
            try:
                socket.create_connection((HOST, rport), timeout=1).close()
            except OSError:
                pass
            results.append(i)
            time.sleep(0.5)
            (sess.sock if mux else ctl.sock).close()
        except (OSError, EOFError, AssertionError, ValueError):
            results.append(-1)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert frps.alive()
    assert any(r >= 0 for r in results), results
    # Everything is gone again: the port is free for a new session.
    ctl, resp = login(port, run_id=run_id) if not mux else (None, None)
    if ctl:
        deadline = time.monotonic() + 5
        while True:
            reply = new_proxy(ctl, "same", remote_port=rport)
            if "error" not in reply or time.monotonic() > deadline:
                break
            ctl.send("c", {"proxy_name": "same"})
            time.sleep(0.2)
        assert reply.get("remote_addr") == f":{rport}", reply
        ctl.close()
    assert_serves(frps, port, mux)
    stop_clean(frps)


def test_control_gone_while_user_waits(cfrp):
    """A user arrives at an empty pool (frps asks for a work connection), then the
    control connection dies before one comes: the user is closed, a late NewWorkConn for
    the dead session is refused, nothing crashes."""
    frps, port = start_frps(cfrp, False)
    ctl, resp = login(port, pool_count=0)
    rport = free_port()
    assert new_proxy(ctl, "w", remote_port=rport)["remote_addr"] == f":{rport}"
    users = [socket.create_connection((HOST, rport), timeout=5) for _ in range(5)]
    assert ctl.recv() == ("r", {})
    ctl.close()
    for u in users:
        assert peer_closes(u, 5.0)
    late = work_conn(port, resp["run_id"])
    assert late.closed_by_peer()
    assert_serves(frps, port, False)
    stop_clean(frps)


# ---------------------------------------------------------------- frps: work connections

SNAPPY_ID = b"\xff\x06\x00\x00sNaPpY"


def snappy_chunk(t, payload):
    return bytes([t]) + len(payload).to_bytes(3, "little") + payload


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


# Bad snappy framing a peer may write on a compressed work connection (protocol.md 5.3).
SNAPPY_GARBAGE = {
    "no-stream-id": snappy_chunk(1, b"\0\0\0\0hello"),
    "bad-stream-id": snappy_chunk(0xFF, b"sNaPpZ"),
    "bad-crc": SNAPPY_ID + snappy_chunk(1, b"\0\0\0\0hello"),
    "reserved-type": SNAPPY_ID + snappy_chunk(2, b"x" * 10),
    "chunk-16MiB": SNAPPY_ID + b"\x00\xff\xff\xff" + b"\0" * 5000,
    "chunk-76495": SNAPPY_ID + b"\x01" + (76495).to_bytes(3, "little") + b"\0" * 5000,
    "short-chunk": SNAPPY_ID + snappy_chunk(0, b"\0\0"),
    "block-len-4G": SNAPPY_ID + snappy_chunk(0, b"\0" * 4 + varint(2**32 - 1) + b"\x00a"),
    "block-len-varint-overlong": SNAPPY_ID + snappy_chunk(0, b"\0" * 4 + b"\xff" * 10 + b"\x01"),
    "block-over-64KiB": SNAPPY_ID + snappy_chunk(
        0, b"\0" * 4 + varint(70000) + b"\xf8" + (69999).to_bytes(3, "little") + b"L" * 70000),
    "uncompressed-over-64KiB": SNAPPY_ID + snappy_chunk(1, b"\0" * 4 + b"U" * 65537),
    "copy-before-start": SNAPPY_ID + snappy_chunk(0, b"\0" * 4 + varint(10) + b"\x01\x64"),
    "copy-offset-zero": SNAPPY_ID + snappy_chunk(0, b"\0" * 4 + varint(10) + b"\x00a"
                                                 + b"\x19\x00"),
    "literal-past-end": SNAPPY_ID + snappy_chunk(0, b"\0" * 4 + varint(100) + b"\xf0\x60"),
    "length-mismatch": SNAPPY_ID + snappy_chunk(0, b"\0" * 4 + varint(5) + b"\x08abc"),
    "skippable-then-bad": SNAPPY_ID + snappy_chunk(0xFE, b"\0" * 9) + snappy_chunk(0x80, b"s")
    + snappy_chunk(0x7F, b"bad"),
}


@pytest.mark.parametrize("enc", [False, True], ids=["snappy", "aes+snappy"])
def test_compressed_work_conn_garbage(cfrp, enc):
    """A peer writing broken snappy framing on a compressed work connection: frps closes
    that user's connection and stays up."""
    frps, port = start_frps(cfrp, False)
    ctl, resp = login(port)
    rport = free_port()
    assert new_proxy(ctl, "z", remote_port=rport, use_compression=True,
                     use_encryption=enc)["remote_addr"] == f":{rport}"
    for name, data in SNAPPY_GARBAGE.items():
        w = Conn(port)
        w.send("w", {"run_id": resp["run_id"]})
        user = socket.create_connection((HOST, rport), timeout=5)
        assert w.recv()[0] == "s", name
        w.encrypted = enc
        try:
            w.write(data)
        except OSError:
            pass
        assert peer_closes(user, 3.0), name
        user.close()
        w.close()
        assert frps.alive(), name
    assert_serves(frps, port, False)
    stop_clean(frps)


# UDPPacket frames a broken frpc may send on a udp work connection (protocol.md 6.2).
def udp_garbage(port):
    ok_r = {"IP": "127.0.0.1", "Port": port, "Zone": ""}
    b64 = base64.b64encode
    return {
        "bad-base64": frame("u", {"c": "!!!not base64", "r": ok_r}),
        "c-number": frame("u", {"c": 5, "r": ok_r}),
        "r-string": frame("u", {"c": "aGk=", "r": "127.0.0.1:1"}),
        "ip-invalid": frame("u", {"c": "aGk=", "r": {"IP": "999.1.1.1", "Port": 5}}),
        "ip-empty": frame("u", {"c": "aGk=", "r": {"IP": "", "Port": 0}}),
        "port-range": frame("u", {"c": "aGk=", "r": {"IP": "127.0.0.1", "Port": 70000}}),
        "zone-long": frame("u", {"c": "aGk=", "r": {"IP": "fe80::1", "Port": 9,
                                                    "Zone": "z" * 5000}}),
        "big-datagram": frame("u", {"c": b64(b"B" * 7000).decode(), "r": ok_r}),
        "no-fields": frame("u", {}),
        "ping": frame("h", {}),
        "unknown-type": frame("z", {}),
    }


def test_udp_work_conn_garbage(cfrp):
    """Broken UDPPackets on a udp work connection: frps drops them or the connection,
    and a valid packet on a connection it kept still reaches the user."""
    frps, port = start_frps(cfrp, False)
    ctl, resp = login(port)
    user = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    user.bind((HOST, 0))
    user.settimeout(0.5)
    good = {"c": "Z29vZA==", "r": {"IP": "127.0.0.1", "Port": user.getsockname()[1],
                                   "Zone": ""}}
    for i, (name, data) in enumerate(udp_garbage(user.getsockname()[1]).items()):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            uport = probe.getsockname()[1]
        assert new_proxy(ctl, f"u{i}", "udp", remote_port=uport)["remote_addr"] == f":{uport}"
        w = work_conn(port, resp["run_id"])
        assert w.recv() == ("s", {"proxy_name": f"u{i}"}), name
        send_quietly(w.sock, data)
        send_quietly(w.sock, frame("u", good))
        delivered = False
        try:
            while not delivered:  # a garbage packet that got through may come first
                delivered = user.recv(65536) == b"good"
        except socket.timeout:
            pass
        assert delivered or peer_closes(w.sock, 2.0), name
        w.close()
        ctl.send("c", {"proxy_name": f"u{i}"})  # its retry loop must not take the next one
        time.sleep(0.2)
        assert frps.alive(), name
    assert_serves(frps, port, False)
    stop_clean(frps)


# ---------------------------------------------------------------- frps: yamux garbage

YAMUX_GARBAGE = {
    "bad-version": ymx(1, 1, 1, YAMUX_DELTA, version=1),
    "version-ff": b"\xff" * 12,
    "unknown-type": ymx(4, 0, 1, 0),
    "type-ff": ymx(0xFF, 1, 1, 0),
    "data-6MiB+1": ymx(1, 1, 1, YAMUX_DELTA) + ymx(0, 0, 1, 6 * 1024 * 1024 + 1)
    + b"\x00" * (6 * 1024 * 1024 + 1),
    "data-4GiB-header": ymx(1, 1, 1, YAMUX_DELTA) + ymx(0, 0, 1, 0xFFFFFFFF) + b"x" * 100,
    "syn-data-6MiB+1": ymx(0, 1, 1, 6 * 1024 * 1024 + 1) + b"\x00" * (6 * 1024 * 1024 + 1),
    "goaway-protocol-error": ymx(3, 0, 0, 1),
    "duplicate-syn": ymx(1, 1, 1, YAMUX_DELTA) + ymx(1, 1, 1, YAMUX_DELTA),
    "window-update-overflow": ymx(1, 1, 1, 0xFFFFFFFF) + ymx(1, 0, 1, 0xFFFFFFFF),
}


def test_yamux_garbage(cfrp):
    """Each protocol error drops its session; frps keeps serving others."""
    frps, port = start_frps(cfrp, True)
    for name, data in YAMUX_GARBAGE.items():
        s = socket.create_connection((HOST, port), timeout=5)
        sender = threading.Thread(target=send_quietly, args=(s, data), daemon=True)
        sender.start()
        closed = peer_closes(s, 5.0 if name != "window-update-overflow" else 0.5)
        if name != "window-update-overflow":  # Go wraps the window silently
            assert closed, name
        s.close()
        sender.join(5)
        assert frps.alive(), name
    assert_serves(frps, port, True)
    stop_clean(frps)


def test_yamux_odd_but_legal_frames(cfrp):
    """Frames for unknown streams, pings, FIN/RST on idle ids and Go Away 0 are survived."""
    frps, port = start_frps(cfrp, True)
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(ymx(0, 0, 99, 1000, b"q" * 1000) + ymx(1, 0, 77, 5) + ymx(1, 4, 55, 0)
              + ymx(1, 8, 33, 0) + ymx(2, 1, 0, 7) + ymx(2, 2, 0, 9) + ymx(0, 2, 11, 0)
              + ymx(3, 0, 0, 0))
    # The ping SYN must be answered with ACK and the same value.
    raw = b""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and ymx(2, 2, 0, 7) not in raw:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            d = s.recv(4096)
        except (socket.timeout, ConnectionResetError):
            break
        if not d:
            break
        raw += d
    assert ymx(2, 2, 0, 7) in raw, raw
    s.close()
    assert_serves(frps, port, True)
    stop_clean(frps)


def test_yamux_window_overrun_on_pooled_work_conn(cfrp):
    """frps does not read a pooled work connection, so 7 MiB sent on it overrun its
    receive window: the session must be dropped, not buffered without bound."""
    frps, port = start_frps(cfrp, True)
    base_rss = rss_kib(frps)
    sess = MuxSession(port)
    ctl, resp = login(port, sock=sess.open())
    w = sess.open()
    w.sendall(frame("w", {"run_id": resp["run_id"]}))
    time.sleep(0.3)  # let frps put it into the pool
    chunk = b"\x00" * 65536
    blob = b"".join(ymx(0, 0, w.sid, len(chunk), chunk) for _ in range(7 * 16))
    threading.Thread(target=send_quietly, args=(sess.sock, blob), daemon=True).start()
    closed = peer_closes(sess.sock, 5.0)
    grown = rss_kib(frps) - base_rss
    assert closed, f"session not dropped; frps RSS grew {grown} KiB"
    sess.sock.close()
    assert_serves(frps, port, True)
    stop_clean(frps)


def test_yamux_10000_syns(cfrp):
    """10,000 stream opens in one burst: frps refuses beyond its backlog (or drops the
    session) and keeps serving; its memory stays bounded."""
    frps, port = start_frps(cfrp, True)
    base_rss = rss_kib(frps)
    s = socket.create_connection((HOST, port), timeout=5)
    burst = b"".join(ymx(1, 1, 2 * i + 1, YAMUX_DELTA) for i in range(10000))
    drained = []

    def drain():
        n = 0
        s.settimeout(3)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                n += len(d)
        except OSError:
            pass
        drained.append(n)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    send_quietly(s, burst)
    t.join(10)
    assert frps.alive()
    assert rss_kib(frps) - base_rss < 200 * 1024, "frps RSS grew over 200 MiB"
    s.close()
    assert_serves(frps, port, True)
    stop_clean(frps)


def test_yamux_50000_syns_without_login(cfrp):
    """50,000 stream opens (600 KB) and never a Login: frps keeps at most a bounded number
    of streams waiting for their first frame per session (the rest are reset), so its
    memory stays small, and a good client is still served meanwhile."""
    frps, port = start_frps(cfrp, True)
    base_rss = rss_kib(frps)
    s = socket.create_connection((HOST, port), timeout=5)
    burst = b"".join(ymx(1, 1, 2 * i + 1, YAMUX_DELTA) for i in range(50000))
    resets = []

    def drain():
        raw, n = b"", 0
        s.settimeout(4)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                raw += d
                while len(raw) >= 12:
                    _, typ, flags, _, length = struct.unpack(">BBHII", raw[:12])
                    body = length if typ == 0 else 0
                    if len(raw) < 12 + body:
                        break
                    raw = raw[12 + body:]
                    n += bool(flags & 8)
        except OSError:
            pass
        resets.append(n)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    send_quietly(s, burst)
    peak = 0
    for _ in range(10):  # the waiting streams are held for up to 10 s
        peak = max(peak, rss_kib(frps) - base_rss)
        time.sleep(0.2)
    assert frps.alive()
    assert peak < 40 * 1024, f"frps RSS grew {peak} KiB"
    assert_serves(frps, port, True)
    t.join(10)
    assert resets and resets[0] > 40000, resets  # the streams over the cap were reset
    s.close()
    stop_clean(frps)


# ---------------------------------------------------------------- frps: control backpressure

def test_ping_flood_without_reading(cfrp):
    """A client floods Pings on its control stream and never reads the Pongs: frps stops
    reading that stream once its replies pile up (so the flood blocks and frps's memory
    stays bounded), and other clients are still served."""
    frps, port = start_frps(cfrp, False)
    base_rss = rss_kib(frps)
    ctl, _ = login(port)
    ping = frame("h", {})
    ctl.write(ping)  # sends the IV; ctl.enc is set from now on
    blob = ping * 20000
    sent, blocked = [0], []
    stop = threading.Event()

    def flood():
        ctl.sock.settimeout(2)
        try:
            while not stop.is_set():
                ctl.sock.sendall(ctl.enc.update(blob))
                sent[0] += len(blob)
        except socket.timeout:  # frps stopped reading for 2 s
            blocked.append(True)
        except OSError:
            pass

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    check_rss = not asan_build(frps)
    peak = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and t.is_alive() and (peak < 48 * 1024 or not check_rss):
        peak = max(peak, rss_kib(frps) - base_rss)
        time.sleep(0.1)
    stop.set()
    t.join(5)
    if check_rss:
        assert peak < 48 * 1024, f"frps RSS grew {peak} KiB after {sent[0]} bytes of Pings"
    assert blocked, f"frps kept reading: {sent[0]} bytes of Pings taken"
    assert_serves(frps, port, False)
    ctl.close()
    stop_clean(frps)


# ---------------------------------------------------------------- frps/frpc: log fidelity

def test_remote_port_zero_logs_the_bound_port(cfrp):
    """remotePort = 0: frps logs the port it bound (as frp, which sets RemotePort first)
    and NewProxyResp carries it."""
    frps, port = start_frps(cfrp, False)
    ctl, resp = login(port)
    assert ctl.recv() == ("r", {})
    got = new_proxy(ctl, "zero", remote_port=0)
    m = re.fullmatch(r":(\d+)", got.get("remote_addr", ""))
    assert m and int(m.group(1)) > 0, got
    frps.wait_for(rf"\[{resp['run_id']}\] \[zero\] tcp proxy listen port \[{m.group(1)}\]")
    assert "tcp proxy listen port [0]" not in frps.stdout()
    with socket.create_connection((HOST, int(m.group(1))), timeout=5):
        pass
    ctl.close()
    stop_clean(frps)


def test_proxy_bind_addr_by_name(cfrp):
    """proxyBindAddr given as a host name: tcp proxies listen on its address (the name is
    looked up once, not on the loop for every proxy) and users reach them there."""
    frps, port = start_frps(cfrp, False, 'proxyBindAddr = "localhost"\n')
    ctl, resp = login(port)
    assert ctl.recv() == ("r", {})
    for name in ("byname1", "byname2"):
        rport = free_port()
        assert new_proxy(ctl, name, remote_port=rport) == {"proxy_name": name,
                                                           "remote_addr": f":{rport}"}
        with socket.create_connection((HOST, rport), timeout=5):
            pass
        with pytest.raises(OSError):  # bound to localhost's address only
            socket.create_connection(("127.0.0.2", rport), timeout=2)
    ctl.close()
    stop_clean(frps)


def test_frpc_login_closed_by_frps_says_eof(cfrp):
    """frpc with tcpMux against a frps without it: frps drops the connection during the
    login and frpc reports EOF, as frp does."""
    frps, port = start_frps(cfrp, False)
    conf = cfrp.write("frpc.toml", f'serverAddr = "{HOST}"\nserverPort = {port}\n'
                      f'auth.token = "{TOKEN}"\ntransport.tls.enable = false\n')
    res = cfrp.start("frpc", "-c", conf).wait_exit(timeout=14)
    assert_exit(res, 1)
    assert "connect to server error: EOF\n" in res.stdout.replace("\x1b[0m", ""), res
    assert ("login to the server failed: EOF. With loginFailExit enabled, no additional "
            "retries will be attempted") in res.stdout, res
    stop_clean(frps)


# ---------------------------------------------------------------- frps: TLS garbage

@pytest.mark.parametrize("mux", [False, True], ids=["plain", "mux"])
def test_tls_garbage(cfrp, mux):
    """ClientHello then garbage, a bogus record, and garbage inside a finished TLS
    session: each connection is closed, frps keeps serving."""
    frps, port = start_frps(cfrp, mux)
    for case in ("hello-then-garbage", "custom-byte-hello-garbage", "record-garbage",
                 "hello-then-close", "garbage-inside-tls"):
        s = socket.create_connection((HOST, port), timeout=5)
        if case == "hello-then-garbage":
            s.sendall(client_hello() + random.Random(5).randbytes(3000))
        elif case == "custom-byte-hello-garbage":
            s.sendall(b"\x17" + client_hello() + b"\x00" * 3000)
        elif case == "record-garbage":
            s.sendall(b"\x16\x03\x01\xff\xff" + random.Random(6).randbytes(2000))
        elif case == "hello-then-close":
            s.sendall(b"\x17" + client_hello()[:50])
            s.close()
            continue
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
            s.sendall(b"\x07" * 64)  # neither a yamux version nor a frp type
        assert peer_closes(s, 5.0), case
        s.close()
        assert frps.alive(), case
    assert_serves(frps, port, mux)
    stop_clean(frps)


# ---------------------------------------------------------------- frps: storms

@pytest.mark.parametrize("mux", [False, True], ids=["plain", "mux"])
def test_1000_connections_dropped_at_once(cfrp, mux):
    frps, port = start_frps(cfrp, mux)
    assert_serves(frps, port, mux, "warmup")
    time.sleep(0.2)
    base = fd_count(frps)
    socks = []
    for i in range(1000):
        s = socket.create_connection((HOST, port), timeout=10)
        if i % 3 == 1:
            s.sendall(b"o\x00\x00")
        elif i % 3 == 2:
            s.sendall(login_frame())
        socks.append(s)
    for i, s in enumerate(socks):
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    deadline = time.monotonic() + 10
    while fd_count(frps) > base and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fd_count(frps) <= base, (fd_count(frps), base)
    assert_serves(frps, port, mux)
    stop_clean(frps)


# ---------------------------------------------------------------- frpc vs a fake frps

class FakeFrps:
    """A scripted frps without tcpMux or TLS: on_login(conn, login) runs for a Login
    connection; work connections (NewWorkConn read) go to self.work; every connection and
    first frame is recorded."""

    def __init__(self, on_login=None, on_work=None, on_accept=None):
        self.srv = socket.create_server((HOST, 0), backlog=1024)
        self.port = self.srv.getsockname()[1]
        self.on_login = on_login
        self.on_work = on_work
        self.on_accept = on_accept
        self.logins = []
        self.accepts = 0
        self.work = queue.Queue()
        self.work_count = 0
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        for s in [self.srv] + self.socks:
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
            with self.lock:
                self.accepts += 1
                self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        sock.settimeout(30)
        try:
            if self.on_accept:
                self.on_accept(sock)
                return
            c = Conn(None, sock=sock)
            t, m = c.recv()
            if t == "o":
                self.logins.append(m)
                if self.on_login:
                    self.on_login(c, m)
            elif t == "w":
                with self.lock:
                    self.work_count += 1
                if self.on_work:
                    self.on_work(c, m)
                else:
                    self.work.put(c)
        except (OSError, EOFError, ValueError):
            pass


def accept_login(run_id="fedcba9876543210", pool=1):
    """on_login: a good LoginResp, then ReqWorkConn x pool and NewProxy successes."""
    def handler(c, m):
        c.send("1", {"version": "0.61.1", "run_id": run_id})
        c.encrypted = True
        for _ in range(pool):
            c.send("r", {})
        handler.ctl = c
        while True:
            t, body = c.recv()
            if t == "p":
                c.send("2", {"proxy_name": body["proxy_name"], "remote_addr": ":1"})
    handler.ctl = None
    return handler


def frpc_conf(cfrp, port, proxies="", extra="", fname="frpc.toml"):
    return cfrp.write(fname, f'serverAddr = "{HOST}"\nserverPort = {port}\n'
                      f'auth.token = "{TOKEN}"\ntransport.tcpMux = false\n'
                      f"transport.tls.enable = false\n{extra}\n{proxies}")


def echo_proxy(local_port):
    return (f'[[proxies]]\nname = "echo"\ntype = "tcp"\nlocalPort = {local_port}\n'
            "remotePort = 6000\n")


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


LOGIN_RESP_GARBAGE = {
    "bytes-ff": b"\xff" * 40,
    "unknown-type": frame("z", {"run_id": "x"}),
    "len-2^62": b"1" + struct.pack(">q", 1 << 62) + b"{}",
    "len-10241": b"1" + struct.pack(">q", 10241) + b"{" + b" " * 10239 + b"}",
    "len-negative": b"1" + struct.pack(">q", -5) + b"{}",
    "invalid-json": frame("1", b"{oops"),
    "run-id-number": frame("1", {"version": "0.61.1", "run_id": 42}),
    "error-array": frame("1", {"error": ["no"]}),
    "error-set": frame("1", {"error": "nope \u0000\u2028<&>"}),
    "close-at-once": b"",
}


@pytest.mark.parametrize("name", list(LOGIN_RESP_GARBAGE))
def test_frpc_garbage_login_resp(cfrp, name):
    """A broken LoginResp fails the first login: frpc exits 1 (loginFailExit)."""
    def on_login(c, m):
        if LOGIN_RESP_GARBAGE[name]:
            c.sock.sendall(LOGIN_RESP_GARBAGE[name])
        c.sock.close()

    fake = FakeFrps(on_login=on_login)
    try:
        frpc = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake.port))
        res = frpc.wait_exit(timeout=14)
        assert_exit(res, 1)
        assert len(fake.logins) == 1
        assert "login to the server failed" in res.stdout, res
    finally:
        fake.close()


@pytest.mark.parametrize("garbage", ["random", "plain-frame-without-iv", "close"])
def test_frpc_login_resp_then_garbage(cfrp, garbage):
    """After a good LoginResp the encrypted stream breaks: frpc drops the session and
    logs in again with the run id it was given."""
    def on_login(c, m):
        c.send("1", {"version": "0.61.1", "run_id": "0011223344556677"})
        if len(fake.logins) > 1:
            c.encrypted = True
            c.send("r", {})
            while True:
                c.recv()
        if garbage == "random":
            c.sock.sendall(random.Random(9).randbytes(5000))
        elif garbage == "plain-frame-without-iv":
            c.sock.sendall(frame("r", {}) * 3)
        c.sock.close()

    fake = FakeFrps(on_login=on_login)
    try:
        frpc = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake.port))
        wait_until(lambda: len(fake.logins) >= 2, 10, "frpc did not log in again")
        assert fake.logins[1]["run_id"] == "0011223344556677"
        wait_until(lambda: fake.work_count >= 1, 5, "no work connection after re-login")
        stop_clean(frpc)
    finally:
        fake.close()


# name -> (bytes written on the work connection, True if frpc must carry data after it)
ABSURD_START = {
    "unknown-proxy": (frame("s", {"proxy_name": "nope"}), False),
    "empty-proxy": (frame("s", {}), False),
    "error-set": (frame("s", {"proxy_name": "echo", "error": "boom"}), False),
    "src-port-range": (frame("s", {"proxy_name": "echo", "src_port": 70000}), False),
    "dst-port-negative": (frame("s", {"proxy_name": "echo", "dst_port": -1}), False),
    "name-array": (frame("s", {"proxy_name": ["echo"]}), False),
    "unknown-type": (frame("z", {"proxy_name": "echo"}), False),
    "len-2^62": (b"s" + struct.pack(">q", 1 << 62) + b"{}", False),
    "invalid-json": (frame("s", b'{"proxy_name":"echo"'), False),
    "truncated-close": (frame("s", {"proxy_name": "echo"})[:12], False),
    "long-src-addr": (frame("s", {"proxy_name": "echo", "src_addr": "a" * 9000,
                                  "dst_addr": "::::", "src_port": 1, "dst_port": 2}), True),
}


def test_frpc_absurd_start_work_conn(cfrp):
    """Each absurd StartWorkConn makes frpc close that work connection (or carry it when
    it is merely odd); afterwards a good one still carries bytes to the local service."""
    echo = LocalServer(echo_handler)
    login_h = accept_login(pool=len(ABSURD_START) + 1)
    fake = FakeFrps(on_login=login_h)
    try:
        frpc = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake.port, echo_proxy(echo.port)))
        frpc.wait_for(r"\[echo\] start proxy success", timeout=10)
        for name, (data, carries) in ABSURD_START.items():
            w = fake.work.get(timeout=10)
            w.sock.sendall(data)
            if name == "truncated-close":
                w.sock.close()
                continue
            if carries:
                w.sock.sendall(b"still fine")
                assert w.read(10) == b"still fine", name
                w.close()
            else:
                assert peer_closes(w.sock, 3.0), name
            assert frpc.alive(), name
        w = fake.work.get(timeout=10)
        w.send("s", {"proxy_name": "echo", "src_addr": "127.0.0.1", "src_port": 1234,
                     "dst_addr": "127.0.0.1", "dst_port": 6000})
        w.sock.sendall(b"good work conn")
        assert w.read(14) == b"good work conn"
        w.close()
        stop_clean(frpc)
    finally:
        fake.close()
        echo.close()


def test_frpc_work_conn_garbage(cfrp):
    """Broken snappy framing on a compressed tcp work connection makes frpc close it;
    broken UDPPackets on a udp work connection are dropped with the packet or the
    connection; frpc stays up and a good packet still comes back from the local service."""
    echo = LocalServer(echo_handler)
    uecho = UDPEcho()
    login_h = accept_login(pool=len(SNAPPY_GARBAGE) + 30)
    fake = FakeFrps(on_login=login_h)
    try:
        proxies = (echo_proxy(echo.port) + "transport.useCompression = true\n"
                   f'[[proxies]]\nname = "dns"\ntype = "udp"\nlocalPort = {uecho.port}\n'
                   "remotePort = 6001\n")
        frpc = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake.port, proxies))
        frpc.wait_for(r"\[dns\] start proxy success", timeout=10)
        frpc.wait_for(r"\[echo\] start proxy success", timeout=10)
        for name, data in SNAPPY_GARBAGE.items():
            w = fake.work.get(timeout=10)
            w.send("s", {"proxy_name": "echo"})
            send_quietly(w.sock, data)
            assert peer_closes(w.sock, 3.0), name
            assert frpc.alive(), name
        peer = {"IP": "198.51.100.7", "Port": 4000, "Zone": ""}
        for name, data in udp_garbage(4000).items():
            w = fake.work.get(timeout=10)
            w.send("s", {"proxy_name": "dns"})
            send_quietly(w.sock, data)
            send_quietly(w.sock, frame("u", {"c": "cGluZw==", "r": peer}))
            w.sock.settimeout(2.0)
            try:
                while True:  # Pings, and echoes of garbage that got through, may come first
                    t, body = w.recv()
                    if t != "u":
                        continue
                    # frpc reads local replies with udpPacketSize (1500) bytes
                    assert len(base64.b64decode(body["c"])) <= 1500, name
                    if body["c"] == "ZWNobzpwaW5n":
                        break
                assert body["r"]["Port"] == 4000, (name, body)
            except (EOFError, ConnectionResetError):
                pass  # frpc dropped the connection: allowed for a decode error
            w.close()
            assert frpc.alive(), name
        stop_clean(frpc)
    finally:
        fake.close()
        echo.close()
        uecho.close()


def test_frpc_req_work_conn_flood(cfrp):
    """1,000 ReqWorkConns in one burst: frpc answers them without dying, its descriptors
    come back once frps closes them, and a later work connection still carries bytes."""
    echo = LocalServer(echo_handler)
    login_h = accept_login(pool=1)
    flood_done = threading.Event()

    def on_work(c, m):
        if flood_done.is_set():
            fake.work.put(c)
        else:
            c.close()

    fake = FakeFrps(on_login=login_h, on_work=on_work)
    try:
        frpc = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake.port, echo_proxy(echo.port)))
        frpc.wait_for(r"\[echo\] start proxy success", timeout=10)
        wait_until(lambda: fake.work_count >= 1, 5, "no first work connection")
        time.sleep(0.2)
        base = fd_count(frpc)
        ctl = login_h.ctl
        ctl.write(frame("r", {}) * 1000)
        wait_until(lambda: fake.work_count >= 1001, 20,
                   f"only {fake.work_count - 1} of 1000 work connections came")
        flood_done.set()
        wait_until(lambda: fd_count(frpc) <= base, 10,
                   f"frpc fds stay above baseline {base}: {fd_count(frpc)}")
        ctl.send("r", {})
        w = fake.work.get(timeout=10)
        w.send("s", {"proxy_name": "echo"})
        w.sock.sendall(b"after flood")
        assert w.read(11) == b"after flood"
        w.close()
        stop_clean(frpc)
    finally:
        fake.close()
        echo.close()


def test_frpc_server_never_answers(cfrp):
    """A server that takes the Login (or the TCP connection) and stays silent: frpc gives
    up after the 10 s LoginResp timeout (exit 1 with loginFailExit, a new attempt
    without it)."""
    def silent(c, m):
        time.sleep(30)

    def mute_accept(sock):
        time.sleep(30)

    fake1 = FakeFrps(on_login=silent)
    fake2 = FakeFrps(on_login=silent)
    fake3 = FakeFrps(on_accept=mute_accept)
    try:
        t0 = time.monotonic()
        exits = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake1.port))
        retries = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake2.port, fname="frpc2.toml",
                                                     extra="loginFailExit = false"))
        mute = cfrp.start("frpc", "-c", frpc_conf(cfrp, fake3.port, fname="frpc3.toml"))
        res = exits.wait_exit(timeout=16)
        assert_exit(res, 1)
        assert time.monotonic() - t0 > 8, "gave up before the 10 s LoginResp timeout"
        assert_exit(mute.wait_exit(timeout=4), 1)
        wait_until(lambda: len(fake2.logins) >= 2, 6, "no second login attempt")
        stop_clean(retries)
    finally:
        for f in (fake1, fake2, fake3):
            f.close()


FRPC_YAMUX_GARBAGE = {
    "bad-version": b"\x01" * 12,
    "unknown-type": ymx(5, 0, 1, 0),
    "data-6MiB+1": ymx(0, 2, 1, 6 * 1024 * 1024 + 1) + b"\x00" * 4096,
    "goaway-internal": ymx(3, 0, 0, 2),
}


@pytest.mark.parametrize("name", list(FRPC_YAMUX_GARBAGE))
def test_frpc_yamux_garbage(cfrp, name):
    """frpc with tcpMux facing yamux garbage: its login fails promptly and it exits 1."""
    def on_accept(sock):
        sock.recv(12)  # frpc's SYN for stream 1 (Login follows)
        sock.sendall(FRPC_YAMUX_GARBAGE[name])
        time.sleep(15)

    fake = FakeFrps(on_accept=on_accept)
    try:
        conf = cfrp.write("frpc.toml", f'serverAddr = "{HOST}"\nserverPort = {fake.port}\n'
                          f'auth.token = "{TOKEN}"\ntransport.tls.enable = false\n')
        res = cfrp.start("frpc", "-c", conf).wait_exit(timeout=14)
        assert_exit(res, 1)
    finally:
        fake.close()
