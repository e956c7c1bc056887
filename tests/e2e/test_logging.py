"""Log output of real frps/frpc runs against api.md section 8."""

import os
import stat

from cfrp_harness import HOST, LOG_LINE, assert_exit, free_port


def start_frps(cfrp, extra=""):
    port = free_port()
    path = cfrp.write("frps.toml", f'bindAddr = "{HOST}"\nbindPort = {port}\n{extra}')
    p = cfrp.start("frps", "-c", path)
    p.wait_port(port)
    return p, path, port


def test_console_colours_wrap_whole_lines(cfrp):
    p, path, port = start_frps(cfrp)
    out = p.wait_for(r"frps started successfully\n")
    assert out.startswith("\x1b[1;34m")
    lines = out.split("\n")
    assert lines[0] == f"\x1b[1;34m{lines[0][7:]}"
    for line in lines[1:-1]:
        assert line.startswith("\x1b[0m\x1b[1;34m"), repr(line)
    plain = [line.replace("\x1b[0m", "").replace("\x1b[1;34m", "") for line in lines[:-1]]
    parsed = [LOG_LINE.match(line) for line in plain]
    assert all(parsed), plain
    assert [m.group(1) for m in parsed] == ["I", "I", "I"]
    assert parsed[0].group(2) == "server/service.c"
    assert [m.group(4) for m in parsed] == [f"frps uses config file: {path}",
                                            f"frps tcp listen on {HOST}:{port}",
                                            "frps started successfully"]


def test_console_without_colour(cfrp):
    p, _, _ = start_frps(cfrp, '[log]\ndisablePrintColor = true\n')
    out = p.wait_for(r"frps started successfully\n")
    assert "\x1b" not in out
    assert all(LOG_LINE.match(line) for line in out.splitlines())


def test_level_filters_lines(cfrp):
    port = free_port()
    path = cfrp.write("frpc.toml", f'serverAddr = "{HOST}"\nserverPort = {port}\n'
                      '[log]\nlevel = "warn"\ndisablePrintColor = true\n')
    res = cfrp.run("frpc", "-c", path)
    assert_exit(res, 1)
    logged = [LOG_LINE.match(line) for line in res.lines()[:-1]]
    assert logged and all(logged), res
    assert {m.group(1) for m in logged} == {"W"}


def test_file_destination(cfrp):
    log = cfrp.tmp / "logs" / "sub" / "frps.log"
    p, path, port = start_frps(cfrp, f'[log]\nto = "{log}"\n')
    deadline_text = p.wait_for(r"frps started successfully",
                               source=lambda: log.read_text() if log.exists() else "")
    assert p.stdout() == ""
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log.parent).st_mode) == 0o755 & ~current_umask()
    lines = deadline_text.splitlines()
    assert all(LOG_LINE.match(line) for line in lines)
    assert "\x1b" not in deadline_text
    # a second run appends to the same file
    p.kill()
    p2 = cfrp.start("frps", "-c", path)
    p2.wait_port(port)
    text = p2.wait_for(r"(?s)started successfully.*started successfully",
                       source=lambda: log.read_text())
    assert text.count("frps uses config file") == 2


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
