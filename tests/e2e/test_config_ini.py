"""Legacy INI configs (config.md 9): frps and frpc started from INI files carry a tcp
proxy end to end, the deprecation warning is printed when they run (not on verify),
the example INI files verify, and INI-specific load errors are reported."""

import os

from cfrp_harness import HOST, assert_exit, free_port
from test_tunnel_frps import LocalServer, echo_handler, tcp_roundtrip

SPEC = os.environ.get("CFRP_SHARED_DIR", "/work/shared") + "/spec/examples/conf/legacy"
WARNING = ("WARNING: ini format is deprecated and the support will be removed in the "
           "future, please use yaml/json/toml format instead!")


def test_ini_tcp_tunnel_and_warning(cfrp):
    sport, rport = free_port(), free_port()
    local = LocalServer(echo_handler)
    try:
        scfg = cfrp.write("frps.ini", f"[common]\nbind_addr = {HOST}\nbind_port = {sport}\n"
                                      "token = ini-token # not a comment\n")
        ps = cfrp.start("frps", "-c", scfg)
        ps.wait_port(sport, timeout=15)
        ccfg = cfrp.write("frpc.ini", f"[common]\nserver_addr = {HOST}\nserver_port = {sport}\n"
                                      "token = ini-token # not a comment\nlog_level = debug\n"
                                      "start = echo\n"
                                      f"[echo]\nlocal_port = {local.port}\n"
                                      f"remote_port = {rport}\nuse_encryption = true\n"
                                      "[unused]\nlocal_port = 1\nremote_port = 1\n")
        # the start filter leaves "unused" out (port 1 would fail to start)
        pc = cfrp.start("frpc", "-c", ccfg)
        pc.wait_for(r"\[echo\] start proxy success", timeout=15)
        assert tcp_roundtrip(rport, b"hello over ini" * 100) == b"hello over ini" * 100
        assert WARNING in ps.stdout()
        assert WARNING in pc.stdout()
        assert "[unused]" not in pc.stdout() + pc.stderr()
    finally:
        local.close()


def test_ini_verify_examples(cfrp):
    for prog in ("frps", "frpc"):
        path = f"{SPEC}/{prog}_legacy_full.ini"
        res = cfrp.run(prog, "verify", "-c", path)
        assert_exit(res, 0)
        assert f"{prog}: the configuration file {path} syntax is ok" in res.stdout
        assert WARNING not in res.stdout


def test_ini_errors(cfrp):
    bad = cfrp.write("bad.ini", "[common]\nprotocol = udp\n")
    res = cfrp.run("frpc", "verify", "-c", bad)
    assert_exit(res, 1)
    assert "parse config error: invalid protocol" in res.stdout
    warn = cfrp.write("warn.ini", "[common]\ntls_enable = false\ntls_cert_file = a.crt\n")
    res = cfrp.run("frpc", "verify", "-c", warn)
    assert "WARNING! tls_cert_file is invalid when tls_enable is false" in res.stdout
    # a bare key line: not INI, so it fails as YAML
    bare = cfrp.write("bare.ini", "[common]\nenable_prometheus\n")
    res = cfrp.run("frps", "verify", "-c", bare)
    assert_exit(res, 1)
    assert "syntax is ok" not in res.stdout
