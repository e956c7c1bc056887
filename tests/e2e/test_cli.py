"""frps/frpc command line against api.md section 1 and vectors/cli-output.txt."""

import re
import shlex
import socket

import pytest

from cfrp_harness import HOST, SPEC, assert_exit, free_port

CLI_VECTORS = (SPEC / "vectors" / "cli-output.txt").read_text()
API_MD = (SPEC / "api.md").read_text()
EXAMPLES = sorted((SPEC / "examples" / "conf").glob("*.toml"))


def vector_section(num):
    m = re.search(rf"^## {num}\. .*?$(.*?)(?=^## \d+\. |\Z)", CLI_VECTORS, re.M | re.S)
    return m.group(1)


def fenced_after(marker):
    """The first ``` block after the line containing marker in api.md."""
    start = API_MD.index(marker)
    m = re.search(r"```\n(.*?)```", API_MD[start:], re.S)
    return m.group(1)


def usage_error_cases():
    """Section 5 of cli-output.txt: (args, expected stderr lines, exit status)."""
    cases = []
    lines = vector_section(5).splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(frps .*?)\s+-> (.*)$", line)
        if not m:
            continue
        args = shlex.split(m.group(1))
        want = m.group(2).strip()
        q = re.match(r'^"(.*?)"', want)
        want = q.group(1) if q else re.split(r"\s{3,}", want)[0]
        expected = [want]
        if i + 1 < len(lines) and lines[i + 1].startswith(" " * 10) and "->" not in lines[i + 1]:
            expected.append(lines[i + 1].strip())
        cases.append((args, expected))
    return cases


@pytest.mark.parametrize("args,expected", usage_error_cases(),
                         ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_usage_vectors(cfrp, args, expected):
    res = cfrp.run(args[0], *args[1:])
    if expected[0].startswith("Error:"):
        assert_exit(res, 1)
        assert res.stdout == ""
        assert res.stderr.splitlines()[: len(expected)] == expected
    else:
        assert_exit(res, 0)
        assert res.stdout == expected[0] + "\n"


@pytest.mark.parametrize("prog", ["frps", "frpc"])
@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version(cfrp, prog, flag):
    res = cfrp.run(prog, flag)
    assert_exit(res, 0)
    assert res.stdout == "0.61.1\n"


@pytest.mark.parametrize("prog", ["frps", "frpc"])
def test_unknown_flag_prints_usage(cfrp, prog):
    res = cfrp.run(prog, "--bogus")
    assert_exit(res, 1)
    usage = cfrp.run(prog, "--help").stdout
    body = usage.split("\n\n", 1)[1]  # help = short text, blank line, usage
    assert res.stderr == "Error: unknown flag: --bogus\n" + body + "\n"


@pytest.mark.parametrize("prog", ["frps", "frpc"])
def test_unknown_command(cfrp, prog):
    res = cfrp.run(prog, "bogus")
    assert_exit(res, 1)
    assert res.stderr == (f'Error: unknown command "bogus" for "{prog}"\n'
                          f"Run '{prog} --help' for usage.\n")


def test_unknown_command_suggestion(cfrp):
    res = cfrp.run("frps", "verfy")
    assert_exit(res, 1)
    assert res.stderr == ('Error: unknown command "verfy" for "frps"\n\n'
                          "Did you mean this?\n\tverify\n\nRun 'frps --help' for usage.\n")


FRPS_HELP = fenced_after("Help output (`frps --help`, exit 0):")
FRPC_TCP_HELP = fenced_after("(`frpc tcp --help`):")


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
def test_frps_help_exact(cfrp, args):
    res = cfrp.run("frps", *args)
    assert_exit(res, 0)
    assert res.stdout == FRPS_HELP


@pytest.mark.parametrize("args", [["tcp", "--help"], ["help", "tcp"], ["tcp", "-h", "x"]])
def test_frpc_tcp_help_exact(cfrp, args):
    res = cfrp.run("frpc", *args)
    assert_exit(res, 0)
    assert res.stdout == FRPC_TCP_HELP


def test_frps_verify_help(cfrp):
    res = cfrp.run("frps", "verify", "--help")
    assert_exit(res, 0)
    flags = FRPS_HELP.split("Flags:\n", 1)[1].split("\n\n", 1)[0]
    flags = "\n".join(l for l in flags.splitlines() if "--help" not in l)
    assert res.stdout == ("Verify that the configures is valid\n\nUsage:\n  frps verify [flags]\n\n"
                          "Flags:\n  -h, --help   help for verify\n\nGlobal Flags:\n"
                          + flags + "\n")


def test_frpc_root_help_lists_commands(cfrp):
    res = cfrp.run("frpc", "--help")
    assert_exit(res, 0)
    cmds = re.findall(r"^  (\w+)\s{2,}", res.stdout.split("Available Commands:")[1]
                      .split("\n\n")[0], re.M)
    assert cmds == ["completion", "help", "http", "https", "nathole", "reload", "status",
                    "stcp", "stop", "sudp", "tcp", "tcpmux", "udp", "verify", "xtcp"]
    for text in ["  reload      Hot-Reload frpc configuration",
                 "  status      Overview of all proxies status",
                 "  stop        Stop the running frpc",
                 "  nathole     Actions about nathole",
                 '  -c, --config string       config file of frpc (default "./frpc.ini")']:
        assert text in res.stdout


def test_completion_bash_is_valid_script(cfrp):
    res = cfrp.run("frps", "completion", "bash")
    assert_exit(res, 0)
    script = cfrp.write("comp.bash", res.stdout)
    import subprocess
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    assert "complete -o default -F _frps_completions frps" in res.stdout
    assert "verify" in res.stdout


def test_flag_syntaxes(cfrp):
    # dash/underscore equivalence, --f=v, -p7000, -p=7000; bad values name the flag
    for args in (["--bind-port", "x"], ["--bind_port=x"], ["-px"], ["-p=x"]):
        res = cfrp.run("frps", *args)
        assert_exit(res, 1)
        assert res.stderr.startswith('Error: invalid argument "x" for "-p, --bind-port" flag: '
                                     'strconv.ParseInt: parsing "x": invalid syntax\n')
    res = cfrp.run("frps", "-p")
    assert_exit(res, 1)
    assert res.stderr.startswith("Error: flag needs an argument: 'p' in -p\n")
    res = cfrp.run("frps", "--allow_ports", "3000-x")
    assert_exit(res, 1)
    assert res.stderr.startswith('Error: invalid argument "3000-x" for "--allow-ports" flag: '
                                 "range number is invalid")
    res = cfrp.run("frps", "--strict_config=maybe")
    assert_exit(res, 1)
    assert 'strconv.ParseBool: parsing "maybe": invalid syntax' in res.stderr
    res = cfrp.run("frpc", "tcp", "--api-timeout", "1s")
    assert_exit(res, 1)
    assert res.stderr.startswith("Error: unknown flag: --api-timeout\n")
    res = cfrp.run("frpc", "status", "--api-timeout", "1q")
    assert_exit(res, 1)
    assert 'time: unknown unit "q" in duration "1q"' in res.stderr


def verify_cases():
    out = []
    for line in vector_section(2).splitlines():
        m = re.match(r'^(frp[sc] verify.*?)\s+-> "(.*?)"\s+exit (\d)', line)
        if m:
            cmd = re.sub(r"\s*\(.*\)\s*$", "", m.group(1))
            out.append((cmd, m.group(2), int(m.group(3))))
    return out


@pytest.mark.parametrize("cmd,want,code", verify_cases())
def test_verify_vectors(cfrp, cmd, want, code):
    cfrp.write("frps.toml", "bindPort = 7000\n")
    args = shlex.split(cmd)
    res = cfrp.run(args[0], *args[1:])
    assert_exit(res, code)
    assert res.stdout == want + "\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_verify(cfrp, path):
    prog = "frps" if path.name.startswith("frps") else "frpc"
    res = cfrp.run(prog, "verify", "-c", str(path))
    assert_exit(res, 0)
    assert res.stdout.splitlines()[-1] == f"{prog}: the configuration file {path} syntax is ok"


def test_persistent_flags_before_subcommand(cfrp):
    path = cfrp.write("s.toml", "bindPort = 7000\n")
    a = cfrp.run("frps", "-c", path, "verify")
    b = cfrp.run("frps", "verify", "-c", path)
    assert_exit(a, 0)
    assert a.stdout == b.stdout == f"frps: the configuration file {path} syntax is ok\n"


def test_verify_validation_error(cfrp):
    path = cfrp.write("bad.toml", "bindPort = 70000\n")
    res = cfrp.run("frps", "verify", "-c", path)
    assert_exit(res, 1)
    assert res.stdout == "bindPort: port number 70000 must be in the range 0..65535\n"


def test_frps_flag_mode_listens(cfrp):
    port = free_port()
    p = cfrp.start("frps", "--bind_addr", HOST, "-p", str(port), "--disable_log_color")
    p.wait_port(port)
    out = p.wait_for(r"frps started successfully")
    assert "frps uses command line arguments for config" in out
    assert f"frps tcp listen on {HOST}:{port}" in out


def test_frps_config_file_listens(cfrp):
    port = free_port()
    path = cfrp.write("frps.toml", f'bindAddr = "{HOST}"\nbindPort = {port}\n')
    p = cfrp.start("frps", "-c", path)
    p.wait_port(port)
    out = p.wait_for(r"frps started successfully")
    assert f"frps uses config file: {path}" in out
    # connections are accepted (and, for now, closed) without killing the server
    with socket.create_connection((HOST, port), timeout=2):
        pass
    assert p.alive()


def test_frps_bind_conflict(cfrp):
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        path = cfrp.write("frps.toml", f'bindAddr = "{HOST}"\nbindPort = {port}\n')
        res = cfrp.run("frps", "-c", path)
    assert_exit(res, 1)
    # the colour reset of the last log line comes first, as with frp
    assert res.lines()[-1] == (f"\x1b[0mcreate server listener error, listen tcp {HOST}:{port}: "
                               "bind: address already in use")


def test_frpc_connection_refused(cfrp):
    port = free_port()
    path = cfrp.write("frpc.toml", f'serverAddr = "{HOST}"\nserverPort = {port}\n'
                      '[log]\ndisablePrintColor = true\n')
    res = cfrp.run("frpc", "-c", path)
    assert_exit(res, 1)
    reason = f"dial tcp {HOST}:{port}: connect: connection refused"
    lines = res.lines()
    assert lines[-1] == (f"login to the server failed: {reason}. With loginFailExit enabled, "
                         "no additional retries will be attempted")
    assert re.search(rf"\[I\] \[[^\]]+\] start frpc service for config file \[{re.escape(path)}\]$",
                     lines[0])
    assert any(l.endswith("try to connect to server...") for l in lines)
    assert any("[W]" in l and l.endswith(f"connect to server error: {reason}") for l in lines)
    assert lines[-2].endswith(f"frpc service for config file [{path}] stopped")


def test_frpc_missing_default_config(cfrp):
    res = cfrp.run("frpc")
    assert_exit(res, 1)
    assert res.stdout == "open ./frpc.ini: no such file or directory\n"


def test_frpc_admin_commands_need_port(cfrp):
    path = cfrp.write("c.toml", 'serverAddr = "127.0.0.1"\n')
    for cmd in ("status", "reload", "stop"):
        res = cfrp.run("frpc", cmd, "-c", path)
        assert_exit(res, 1)
        assert res.stdout == "web server port should be set if you want to use this feature\n"


def test_frpc_status_unreachable_admin(cfrp):
    port = free_port()
    path = cfrp.write("c.toml", f'[webServer]\naddr = "{HOST}"\nport = {port}\n')
    res = cfrp.run("frpc", "status", "-c", path)
    assert_exit(res, 1)
    assert res.stdout == (f'Get "http://{HOST}:{port}/api/status": dial tcp {HOST}:{port}: '
                          "connect: connection refused\n")
    res = cfrp.run("frpc", "stop", "-c", path)
    assert res.stdout.startswith(f'Post "http://{HOST}:{port}/api/stop": dial tcp')


MALFORMED = {
    "truncated.toml": (SPEC / "examples" / "conf" / "frps_full_example.toml").read_bytes()[:777]
    + b'\nx = "unterminated',
    "binary.toml": bytes(range(256)) * 8,
    "nested_arrays.toml": b"a = " + b"[" * 100000,
    "nested_tables.toml": b"a = " + b"{b = " * 50000,
    "nested.json": b'{"a":' * 100000,
    "nested.yaml": b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 3000)),
    "nested_flow.yaml": b"a: " + b"[" * 100000,
    "empty_key.toml": b"= 1\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("prog", ["frps", "frpc"])
def test_malformed_config(cfrp, prog, name):
    path = cfrp.write(name, MALFORMED[name])
    for args in (["verify", "-c", path], ["-c", path]):
        res = cfrp.run(prog, *args)
        assert_exit(res, 1)
        assert res.stdout.strip() != ""


def test_quick_proxy_validation_error(cfrp):
    res = cfrp.run("frpc", "tcp", "-l", "22")
    assert_exit(res, 1)
    assert res.stdout == "name should not be empty\n"
    res = cfrp.run("frpc", "http", "-n", "web")
    assert_exit(res, 1)
    assert res.stdout == "subdomain and custom domains should not be both empty\n"


def test_quick_proxy_connection_refused(cfrp):
    port = free_port()
    res = cfrp.run("frpc", "tcp", "-n", "ssh", "-s", HOST, "-P", str(port), "--disable_log_color")
    assert_exit(res, 1)
    assert "start frpc service" not in res.stdout
    assert res.lines()[-1] == (f"login to the server failed: dial tcp {HOST}:{port}: connect: "
                               "connection refused. With loginFailExit enabled, no additional "
                               "retries will be attempted")
