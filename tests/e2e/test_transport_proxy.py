"""frpc reaching frps through a forward proxy (transport.proxyURL, protocol.md 1.1): real
tinyproxy (HTTP CONNECT with basic auth) and microsocks (SOCKS5 with username/password)
from Debian, the http_proxy environment fallback, and frp's errors for refused
credentials."""

import subprocess
import time

import pytest

from cfrp_harness import HOST, assert_exit, free_port, port_open
from test_tunnel_frps import (LocalServer, echo_handler, frpc_cfg, start_frpc, start_frps,
                              tcp_proxy, tcp_roundtrip)

class ForwardProxy:
    """tinyproxy or microsocks (scripts/install-deps.sh installs both) on a free port of
    127.0.0.1, logging to a file."""

    def __init__(self, tmp, kind, user, password):
        self.port = free_port()
        self.log = tmp / f"{kind}-{self.port}.log"
        if kind == "http":
            conf = tmp / f"tinyproxy-{self.port}.conf"
            conf.write_text(f"Port {self.port}\nListen {HOST}\nTimeout 60\nLogLevel Connect\n"
                            f"MaxClients 20\nAllow 127.0.0.1\nBasicAuth {user} {password}\n")
            argv = ["tinyproxy", "-d", "-c", str(conf)]
        else:
            argv = ["microsocks", "-i", HOST, "-p", str(self.port), "-u", user, "-P", password]
        self.out = open(self.log, "wb")
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            assert self.p.poll() is None and time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def text(self):
        return self.log.read_text(errors="replace")

    def close(self):
        self.p.kill()
        self.p.wait()
        self.out.close()


@pytest.fixture
def proxies(tmp_path):
    made = []

    def make(kind, user, password):
        made.append(ForwardProxy(tmp_path, kind, user, password))
        return made[-1]

    yield make
    for p in made:
        p.close()


@pytest.mark.parametrize("kind,mux,protocol", [
    ("http", True, "tcp"), ("http", False, "tcp"), ("socks5", True, "tcp"),
    ("socks5", False, "tcp"), ("http", True, "websocket"), ("socks5", False, "websocket")])
def test_tunnel_through_proxy(cfrp, proxies, kind, mux, protocol):
    # escaped in the URL as Go's url.Parse expects (tinyproxy takes only plain words)
    password, escaped = ("pw_1", "pw%5F1") if kind == "http" else ("p@ss:w", "p%40ss%3Aw")
    fwd = proxies(kind, "puser", password)
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        start_frps(cfrp, sport, f"transport.tcpMux = {str(mux).lower()}")
        url = f"{kind}://puser:{escaped}@{HOST}:{fwd.port}"
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("e", echo.port, rport),
                       f'transport.proxyURL = "{url}"\ntransport.tcpMux = {str(mux).lower()}\n'
                       f'transport.protocol = "{protocol}"\ntransport.poolCount = 1')
        start_frpc(cfrp, cfg, ["e"])
        for i in range(3):  # each user connection needs a work connection
            assert tcp_roundtrip(rport, b"via proxy %d" % i) == b"via proxy %d" % i
        # the proxy logs each connection it made to frps's port: one carrier with
        # tcpMux, one per work connection without
        served = (f"CONNECT {HOST}:{sport} HTTP/1.1" if kind == "http"
                  else f"connected to {HOST}:{sport}")
        assert fwd.text().count(served) >= (1 if mux else 4), fwd.text()
    finally:
        echo.close()


def test_http_proxy_env_fallback(cfrp, proxies):
    """No proxyURL: frpc takes the lowercase http_proxy variable, as frp does."""
    fwd = proxies("http", "u", "p")
    sport, rport = free_port(), free_port()
    echo = LocalServer(echo_handler)
    try:
        start_frps(cfrp, sport)
        cfg = frpc_cfg(cfrp, sport, tcp_proxy("e", echo.port, rport))
        p = cfrp.start("frpc", "-c", cfg, env={"http_proxy": f"http://u:p@{HOST}:{fwd.port}"})
        p.wait_for(r"\[e\] start proxy success", timeout=15)
        assert tcp_roundtrip(rport, b"env") == b"env"
        assert f"CONNECT {HOST}:{sport} HTTP/1.1" in fwd.text()
    finally:
        echo.close()


@pytest.mark.parametrize("kind,message", [
    ("http", "DialTcpByHttpProxy error, StatusCode [401]"),
    ("socks5", "username/password authentication failed"),
])
def test_wrong_proxy_credentials(cfrp, proxies, kind, message):
    fwd = proxies(kind, "puser", "right")
    sport = free_port()
    start_frps(cfrp, sport)
    cfg = frpc_cfg(cfrp, sport, "", f'transport.proxyURL = "{kind}://puser:wrong@{HOST}:{fwd.port}"')
    res = cfrp.run("frpc", "-c", cfg, timeout=20)
    assert_exit(res, 1)
    assert message in res.stdout, res
    assert "login to the server failed" in res.stdout, res


def test_unsupported_proxy_scheme(cfrp):
    sport = free_port()
    start_frps(cfrp, sport)
    cfg = frpc_cfg(cfrp, sport, "", f'transport.proxyURL = "ftp://{HOST}:1"')
    res = cfrp.run("frpc", "-c", cfg, timeout=20)
    assert_exit(res, 1)
    assert "Proxy URL scheme must be http or socks5 or ntlm, not [ftp]" in res.stdout, res
