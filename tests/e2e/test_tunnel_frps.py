"""frpc against our frps: tcp and udp tunnels through every encryption/compression
combination, tcpMux on and off, TLS modes, login refusal, reconnect after frps restarts,
registration errors, bandwidth limit, PROXY protocol headers and 200 concurrent
connections (protocol.md sections 1-9)."""

import os
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from cfrp_harness import HOST, assert_exit, free_port

TOKEN = "tunnel-token"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LocalServer:
    """A threaded TCP server on 127.0.0.1 running handler(conn) per connection."""

    def __init__(self, handler):
        self.sock = socket.create_server((HOST, 0), backlog=512)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        with c:
            try:
                self.handler(c)
            except OSError:
                pass

    def close(self):
        self.sock.close()


def echo_handler(c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        c.sendall(d)


class UDPEcho:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                d, a = self.sock.recvfrom(65536)
                self.sock.sendto(b"echo:" + d, a)
            except OSError:
                return

    def close(self):
        self.sock.close()


def start_frps(cfrp, port, extra=""):
    cfg = cfrp.write(f"frps-{port}.toml", f'bindPort = {port}\nauth.token = "{TOKEN}"\n{extra}\n')
    p = cfrp.start("frps", "-c", cfg)
    p.wait_port(port, timeout=15)
    return p


def frpc_cfg(cfrp, sport, proxies, common="", token=TOKEN, name="frpc.toml"):
    text = (f'serverAddr = "{HOST}"\nserverPort = {sport}\nauth.token = "{token}"\n'
            f'log.level = "debug"\n{common}\n{proxies}')
    return cfrp.write(name, text)


def tcp_proxy(name, local_port, remote_port, enc=False, comp=False, extra=""):
    return (f'[[proxies]]\nname = "{name}"\ntype = "tcp"\nlocalPort = {local_port}\n'
            f'remotePort = {remote_port}\ntransport.useEncryption = {str(enc).lower()}\n'
            f'transport.useCompression = {str(comp).lower()}\n{extra}\n')


def start_frpc(cfrp, cfg, names):
    p = cfrp.start("frpc", "-c", cfg)
    for n in names:
        p.wait_for(rf"\[{n}\] start proxy success", timeout=15)
    return p


def tcp_roundtrip(port, payload, timeout=10):
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
        got = bytearray()
        while len(got) < len(payload):
            d = s.recv(65536)
            if not d:
                break
            got += d
        return bytes(got)


def udp_roundtrip(port, payload, tries=20):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(tries):
            s.sendto(payload, (HOST, port))
            try:
                d, _ = s.recvfrom(65536)
                return d
            except socket.timeout:
                continue
    raise AssertionError(f"no udp answer through {port}")


def no_sanitizer_report(*procs):
    for proc in procs:
        err = proc.stderr()
        for marker in ("AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:"):
            assert marker not in err, err


COMBOS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
@pytest.mark.parametrize("enc,comp", COMBOS, ids=["plain", "enc", "comp", "enc+comp"])
def test_tcp_echo(cfrp, enc, comp, mux):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        start_frps(cfrp, sport, "" if mux else "transport.tcpMux = false")
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport, enc, comp),
                       "" if mux else "transport.tcpMux = false")
        pc = start_frpc(cfrp, cfg, ["echo"])
        payload = os.urandom(300000) + b"a" * 300000  # random and compressible
        for _ in range(3):
            assert tcp_roundtrip(rport, payload) == payload
        no_sanitizer_report(pc)
    finally:
        echo.close()


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
@pytest.mark.parametrize("enc,comp", COMBOS, ids=["plain", "enc", "comp", "enc+comp"])
def test_udp_echo(cfrp, enc, comp, mux):
    sport, rport = free_port(), free_udp_port()
    echo = UDPEcho()
    try:
        start_frps(cfrp, sport, "" if mux else "transport.tcpMux = false")
        proxies = (f'[[proxies]]\nname = "dns"\ntype = "udp"\nlocalPort = {echo.port}\n'
                   f'remotePort = {rport}\ntransport.useEncryption = {str(enc).lower()}\n'
                   f'transport.useCompression = {str(comp).lower()}\n')
        cfg = frpc_cfg(cfrp, sport, proxies, "" if mux else "transport.tcpMux = false")
        pc = start_frpc(cfrp, cfg, ["dns"])
        for i in range(5):
            msg = os.urandom(1000) + bytes([i])
            assert udp_roundtrip(rport, msg) == b"echo:" + msg
        # a second user gets its own local socket and its own answers
        assert udp_roundtrip(rport, b"other") == b"echo:other"
        pc.wait_for(r"\[dns\] incoming a new work connection for udp proxy")
        no_sanitizer_report(pc)
    finally:
        echo.close()


@pytest.mark.parametrize("mode", ["tls", "tls-first-byte", "plain", "plain-vs-force",
                                  "tls-vs-force"])
def test_tls_modes(cfrp, mode):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        force = mode.endswith("force")
        start_frps(cfrp, sport, "transport.tls.force = true" if force else "")
        common = {"tls": "", "tls-first-byte": "transport.tls.disableCustomTLSFirstByte = false",
                  "plain": "transport.tls.enable = false",
                  "plain-vs-force": "transport.tls.enable = false",
                  "tls-vs-force": ""}[mode]
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport), common)
        if mode == "plain-vs-force":
            res = cfrp.start("frpc", "-c", cfg).wait_exit(timeout=20)
            assert_exit(res, 1)
            assert "login to the server failed: " in res.stdout
            assert "With loginFailExit enabled, no additional retries will be attempted" in res.stdout
            return
        start_frpc(cfrp, cfg, ["echo"])
        assert tcp_roundtrip(rport, b"x" * 70000) == b"x" * 70000
    finally:
        echo.close()


def test_wrong_token_refused(cfrp):
    sport = free_port()
    start_frps(cfrp, sport)
    cfg = frpc_cfg(cfrp, sport, "", token="wrong")
    res = cfrp.start("frpc", "-c", cfg).wait_exit(timeout=20)
    assert_exit(res, 1)
    assert res.stdout.rstrip().endswith(
        "login to the server failed: token in login doesn't match token from configuration. "
        "With loginFailExit enabled, no additional retries will be attempted")
    assert "[E]" in res.stdout and "[W]" in res.stdout
    assert "connect to server error: token in login doesn't match token from configuration" \
        in res.stdout


def test_login_retry_without_fail_exit(cfrp):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport), "loginFailExit = false")
        pc = cfrp.start("frpc", "-c", cfg)
        pc.wait_for("connect to server error: dial tcp 127.0.0.1:%d: connect: connection refused"
                    % sport)
        start_frps(cfrp, sport)
        pc.wait_for(r"\[echo\] start proxy success", timeout=15)
        assert tcp_roundtrip(rport, b"hello") == b"hello"
    finally:
        echo.close()


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
def test_reconnect_after_frps_restart(cfrp, mux):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        extra = "" if mux else "transport.tcpMux = false"
        ps = start_frps(cfrp, sport, extra)
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport, True, True), extra)
        pc = start_frpc(cfrp, cfg, ["echo"])
        assert tcp_roundtrip(rport, b"before") == b"before"
        run_id = re.search(r"get run id \[([0-9a-f]+)\]", pc.stdout()).group(1)
        ps.kill()
        start_frps(cfrp, sport, extra)
        deadline = time.monotonic() + 30
        while True:
            try:
                if tcp_roundtrip(rport, b"after", timeout=2) == b"after":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, pc.stdout()
            time.sleep(0.2)
        out = pc.stdout()
        assert out.count("start proxy success") >= 2
        # the re-login keeps the run id, and the service lines carry it as a prefix
        assert out.count(f"login to server success, get run id [{run_id}]") >= 2, out
        assert f"[{run_id}] try to connect to server..." in out
        no_sanitizer_report(pc)
    finally:
        echo.close()


def test_registration_errors(cfrp):
    sport, taken, allowed = free_port(), free_port(), free_port()
    blocker = socket.create_server((HOST, taken))
    try:
        start_frps(cfrp, sport, f'allowPorts = [{{ single = {allowed} }}, {{ single = {taken} }}]')
        proxies = (tcp_proxy("busy", 1, taken) + tcp_proxy("denied", 1, allowed + 1 if
                                                           allowed + 1 != taken else allowed + 2)
                   + tcp_proxy("ok", 1, allowed))
        cfg = frpc_cfg(cfrp, sport, proxies)
        pc = cfrp.start("frpc", "-c", cfg)
        pc.wait_for(r"\[W\] .*\[busy\] start error: port unavailable")
        pc.wait_for(r"\[W\] .*\[denied\] start error: port not allowed")
        pc.wait_for(r"\[I\] .*\[ok\] start proxy success")
    finally:
        blocker.close()


def test_bandwidth_limit(cfrp):
    sport, rport = free_port(), free_port()
    total = 1024 * 1024
    limit = 256 * 1024

    def sender(c):
        c.sendall(b"z" * total)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)

    srv = LocalServer(sender)
    try:
        start_frps(cfrp, sport)
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("bw", srv.port, rport,
                                              extra='transport.bandwidthLimit = "256KB"'))
        start_frpc(cfrp, cfg, ["bw"])
        with socket.create_connection((HOST, rport), timeout=20) as s:
            got = 0
            t_burst = None
            while got < total:
                d = s.recv(65536)
                if not d:
                    break
                got += len(d)
                if t_burst is None and got >= limit:
                    t_burst = time.monotonic()
            t_end = time.monotonic()
        assert got == total
        # the first second's worth comes at once (burst); the rest at the rate
        rate = (total - limit) / (t_end - t_burst)
        assert 0.8 * limit <= rate <= 1.2 * limit, rate
    finally:
        srv.close()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_protocol(cfrp, version):
    sport, rport = free_port(), free_port()
    seen = {}

    def handler(c):
        want = 12 + 4 + 12 if version == "v2" else None
        data = b""
        if want:
            while len(data) < want:
                data += c.recv(want - len(data))
        else:
            while not data.endswith(b"\r\n"):
                data += c.recv(1)
        seen["header"] = data
        echo_handler(c)

    srv = LocalServer(handler)
    try:
        start_frps(cfrp, sport)
        cfg = frpc_cfg(cfrp, sport, tcp_proxy(
            "pp", srv.port, rport, True, False,
            extra=f'transport.proxyProtocolVersion = "{version}"'))
        start_frpc(cfrp, cfg, ["pp"])
        with socket.create_connection((HOST, rport), timeout=10) as s:
            uport = s.getsockname()[1]
            s.sendall(b"payload")
            got = b""
            while len(got) < 7:
                got += s.recv(64)
        assert got == b"payload"
        h = seen["header"]
        if version == "v1":
            assert h == f"PROXY TCP4 127.0.0.1 127.0.0.1 {uport} {rport}\r\n".encode()
        else:
            sig = b"\r\n\r\n\x00\r\nQUIT\n"
            assert h == sig + b"\x21\x11" + struct.pack(">H", 12) + socket.inet_aton(HOST) + \
                socket.inet_aton(HOST) + struct.pack(">HH", uport, rport)
    finally:
        srv.close()


def test_200_concurrent_connections(cfrp):
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        start_frps(cfrp, sport)
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("many", echo.port, rport, True, True),
                       "transport.poolCount = 5")
        pc = start_frpc(cfrp, cfg, ["many"])
        errors = []

        def one(i):
            payload = os.urandom(20000) + struct.pack(">I", i)
            try:
                got = tcp_roundtrip(rport, payload, timeout=30)
                if got != payload:
                    errors.append((i, len(got)))
            except OSError as e:
                errors.append((i, str(e)))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:5]
        no_sanitizer_report(pc)
    finally:
        echo.close()


@pytest.mark.parametrize("mux", [True, False], ids=["mux", "nomux"])
def test_clean_exit_on_signal(cfrp, monkeypatch, mux):
    """With CFRP_CLEAN_EXIT=1 (used by the sanitizer run) SIGTERM stops frpc with 0 after
    closing everything: a reconnected session, a udp proxy, an open user connection."""
    sport, rport, uport = free_port(), free_port(), free_udp_port()
    echo, uecho = LocalServer(echo_handler), UDPEcho()
    try:
        extra = "" if mux else "transport.tcpMux = false"
        ps = start_frps(cfrp, sport, extra)
        proxies = tcp_proxy("echo", echo.port, rport, True, True) + (
            f'[[proxies]]\nname = "u"\ntype = "udp"\nlocalPort = {uecho.port}\n'
            f'remotePort = {uport}\ntransport.useEncryption = true\n')
        cfg = frpc_cfg(cfrp, sport, proxies, extra + "\ntransport.poolCount = 3")
        monkeypatch.setenv("CFRP_CLEAN_EXIT", "1")
        pc = start_frpc(cfrp, cfg, ["echo", "u"])
        assert tcp_roundtrip(rport, b"bye" * 1000) == b"bye" * 1000
        ps.kill()
        start_frps(cfrp, sport, extra)
        pc.wait_for(r"(?s)start proxy success.*start proxy success.*start proxy success.*"
                    r"start proxy success", timeout=30)
        assert udp_roundtrip(uport, b"ping") == b"echo:ping"
        held = socket.create_connection((HOST, rport), timeout=10)
        held.sendall(b"open")
        assert held.recv(4) == b"open"
        pc.popen.terminate()
        res = pc.wait_exit(timeout=10)
        held.close()
        assert_exit(res, 0)
        assert "frpc service for config file" in res.stdout and "stopped" in res.stdout
    finally:
        echo.close()
        uecho.close()


def test_udp_packet_size(cfrp):
    """frpc reads local replies with a udpPacketSize buffer: longer ones are cut."""
    sport, rport = free_port(), free_udp_port()
    echo = UDPEcho()
    try:
        start_frps(cfrp, sport)
        proxies = (f'[[proxies]]\nname = "big"\ntype = "udp"\nlocalPort = {echo.port}\n'
                   f'remotePort = {rport}\n')
        cfg = frpc_cfg(cfrp, sport, proxies, "udpPacketSize = 1000")
        start_frpc(cfrp, cfg, ["big"])
        small = b"s" * 900
        assert udp_roundtrip(rport, small) == (b"echo:" + small)[:1000]
        big = os.urandom(1400)
        assert udp_roundtrip(rport, big) == (b"echo:" + big)[:1000]
    finally:
        echo.close()


def test_udp_local_sockets_bounded(cfrp):
    """frpc opens a local socket per user address; past 1024 per proxy the least recently
    used one is closed, so 1,100 users never cost more than 1,024 sockets, and the
    recent users still get their answers."""
    sport, rport = free_port(), free_udp_port()
    echo = UDPEcho()
    try:
        start_frps(cfrp, sport)
        proxies = (f'[[proxies]]\nname = "many"\ntype = "udp"\nlocalPort = {echo.port}\n'
                   f'remotePort = {rport}\n')
        pc = start_frpc(cfrp, frpc_cfg(cfrp, sport, proxies), ["many"])
        assert udp_roundtrip(rport, b"first") == b"echo:first"
        fds_before = len(os.listdir(f"/proc/{pc.popen.pid}/fd"))
        users = []
        for i in range(1100):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((f"127.0.{2 + i // 200}.{2 + i % 200}", 0))
                users.append(s.getsockname())
                s.sendto(b"u%d" % i, (HOST, rport))
            if i % 50 == 49:
                time.sleep(0.05)
        time.sleep(1.0)
        fds = len(os.listdir(f"/proc/{pc.popen.pid}/fd"))
        assert fds - fds_before <= 1024, (fds_before, fds)
        assert fds - fds_before >= 1000, (fds_before, fds)  # the users did get sockets
        for addr in users[-5:]:  # the most recent users are still mapped
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(addr)
                s.settimeout(2)
                s.sendto(b"again", (HOST, rport))
                assert s.recvfrom(100)[0] == b"echo:again"
        assert pc.alive()
        no_sanitizer_report(pc)
    finally:
        echo.close()


def make_pki(cfrp):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""
    d = cfrp.tmp

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    for ca in ("ca", "other"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN={ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt")
    cfrp.write("san.ext", "subjectAltName = IP:127.0.0.1\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
            f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt")
    return d


@pytest.mark.parametrize("case", ["verified", "client-cert", "wrong-ca", "wrong-name"])
def test_tls_verification(cfrp, case):
    d = make_pki(cfrp)
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        sextra = f'transport.tls.certFile = "{d}/server.crt"\ntransport.tls.keyFile = "{d}/server.key"\n'
        if case == "client-cert":
            sextra += f'transport.tls.trustedCaFile = "{d}/ca.crt"\n'
        start_frps(cfrp, sport, sextra)
        ca = "other" if case == "wrong-ca" else "ca"
        common = f'transport.tls.trustedCaFile = "{d}/{ca}.crt"\n'
        if case == "wrong-name":
            common += 'transport.tls.serverName = "frps.example.com"\n'
        if case == "client-cert":
            common += (f'transport.tls.certFile = "{d}/client.crt"\n'
                       f'transport.tls.keyFile = "{d}/client.key"\n')
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("echo", echo.port, rport), common)
        if case.startswith("wrong"):
            res = cfrp.start("frpc", "-c", cfg).wait_exit(timeout=20)
            assert_exit(res, 1)
            why = ("certificate signed by unknown authority" if case == "wrong-ca" else "")
            assert f"login to the server failed: tls: failed to verify certificate: x509: {why}" \
                in res.stdout, res.stdout
            return
        start_frpc(cfrp, cfg, ["echo"])
        assert tcp_roundtrip(rport, b"tls" * 1000) == b"tls" * 1000
    finally:
        echo.close()
