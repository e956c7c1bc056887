"""Shared helpers of the cfrp benchmarks (bench/run, bench/http): free ports, process
start/stop with readiness checks and clear failures, frps/frpc config files, RSS.

Everything runs on 127.0.0.1. Standard library only (Debian's python3)."""

import os
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
TOKEN = "cfrp-bench"


class BenchError(Exception):
    """A setup step failed; the message says which and why."""


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_fd_limit(want=8192):
    """Lifts the soft RLIMIT_NOFILE (inherited by the processes we start)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(hard, max(soft, want)) if hard != resource.RLIM_INFINITY else max(soft, want)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def log_tail(path, lines=15):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"


class Proc:
    """A child process whose output goes to a log file; stopped by stop()."""

    def __init__(self, name, argv, logpath, cwd=None):
        self.name = name
        self.logpath = logpath
        self.log = open(logpath, "wb")
        try:
            self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=cwd,
                                      start_new_session=True)
        except OSError as e:
            self.log.close()
            raise BenchError("cannot start %s (%s): %s" % (name, argv[0], e))

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def fail(self, what):
        """A BenchError saying what went wrong, with the end of the process's log."""
        state = "still running" if self.alive() else "exited with status %s" % self.p.returncode
        return BenchError("%s %s (%s). Last lines of %s:\n%s" %
                          (self.name, what, state, self.logpath, log_tail(self.logpath)))

    def stop(self):
        """SIGTERM to the process group the child leads (so helpers it started go too),
        SIGKILL after 3 s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.p.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                continue
        self.p.wait(timeout=3)
        self.log.close()


def wait_listening(proc, port, timeout):
    """Waits until something accepts TCP connections on port, while proc runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise proc.fail("stopped before listening on port %d" % port)
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise proc.fail("did not listen on port %d within %.0f s" % (port, timeout))


def echo_once(port, timeout=1.0, payload=b"cfrp-bench-probe"):
    """True when a connection to port echoes payload back."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(len(payload) - len(got))
                if not chunk:
                    return False
                got += chunk
            return got == payload
    except OSError:
        return False


def wait_until(check, procs, what, timeout):
    """Polls check() until it is true; fails early when one of procs exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise p.fail("exited while waiting for %s" % what)
        if check():
            return
        time.sleep(0.1)
    tails = "".join("\n--- %s (%s):\n%s" % (p.name, p.logpath, log_tail(p.logpath))
                    for p in procs)
    raise BenchError("%s did not happen within %.0f s.%s" % (what, timeout, tails))


def find_bins(bindir):
    """Absolute paths of frps and frpc in bindir, or a BenchError saying how to build."""
    out = []
    for name in ("frps", "frpc"):
        path = os.path.abspath(os.path.join(bindir, name))
        if not os.access(path, os.X_OK):
            raise BenchError("%s not found or not executable; build first (make build) or "
                             "pass --bin DIR" % path)
        out.append(path)
    return out


LOG_CONF = 'log.to = "console"\nlog.level = "info"\nlog.disablePrintColor = true\n'


def write_frps_conf(path, bind_port, extra=""):
    """frps config on 127.0.0.1:bind_port; logs go to the console (our log file)."""
    with open(path, "w") as f:
        f.write('bindAddr = "%s"\nbindPort = %d\nauth.token = "%s"\n%s%s' %
                (HOST, bind_port, TOKEN, LOG_CONF, extra))


def write_frpc_conf(path, server_port, proxies):
    """proxies: list of dicts of TOML key -> Python value (str, int, bool or list)."""
    lines = ['serverAddr = "%s"' % HOST, "serverPort = %d" % server_port,
             'auth.token = "%s"' % TOKEN, LOG_CONF]
    for p in proxies:
        lines.append("[[proxies]]")
        for k, v in p.items():
            if isinstance(v, bool):
                lines.append("%s = %s" % (k, "true" if v else "false"))
            elif isinstance(v, int):
                lines.append("%s = %d" % (k, v))
            elif isinstance(v, list):
                lines.append("%s = [%s]" % (k, ", ".join('"%s"' % x for x in v)))
            else:
                lines.append('%s = "%s"' % (k, v))
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def start_tunnel(tmp, bins, proxies, probe, frps_extra="", timeout=15.0):
    """Starts frps and frpc with generated configs in tmp and waits until probe() is
    true (the tunnel answers). Returns (frps, frpc) Procs; the caller stops them."""
    frps_bin, frpc_bin = bins
    bind_port = free_port()
    write_frps_conf(os.path.join(tmp, "frps.toml"), bind_port, frps_extra)
    write_frpc_conf(os.path.join(tmp, "frpc.toml"), bind_port, proxies)
    frps = Proc("frps", [frps_bin, "-c", os.path.join(tmp, "frps.toml")],
                os.path.join(tmp, "frps.log"), cwd=tmp)
    frpc = None
    try:
        wait_listening(frps, bind_port, 10.0)
        frpc = Proc("frpc", [frpc_bin, "-c", os.path.join(tmp, "frpc.toml")],
                    os.path.join(tmp, "frpc.log"), cwd=tmp)
        wait_until(probe, [frps, frpc], "the tunnel answering", timeout)
    except BaseException:
        if frpc is not None:
            frpc.stop()
        frps.stop()
        raise
    return frps, frpc


def rss_kib(pid):
    """(VmRSS, RssAnon) of pid in KiB from /proc/<pid>/status: all resident pages, and
    the private ones (heap, stacks, written data; no shared library or file pages)."""
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon"):
                got[key] = int(line.split()[1])
    if len(got) != 2:
        raise BenchError("no VmRSS/RssAnon for pid %d" % pid)
    return got["VmRSS"], got["RssAnon"]


def die(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.exit(1)


# ---- local servers (run in a child process, so they do not share our GIL) ----------

def serve(echo_port):
    """Runs until killed: an echo server on echo_port (one thread, non-blocking)."""
    import selectors

    echo = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    echo.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    echo.bind((HOST, echo_port))
    echo.listen(4096)
    sel = selectors.DefaultSelector()
    echo.setblocking(False)
    sel.register(echo, selectors.EVENT_READ, None)
    pending = {}  # conn -> bytes not yet echoed back

    def drop(c):
        sel.unregister(c)
        pending.pop(c, None)
        c.close()

    while True:
        for key, ev in sel.select():
            c = key.fileobj
            if c is echo:
                try:
                    while True:
                        nc, _ = echo.accept()
                        nc.setblocking(False)
                        nc.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sel.register(nc, selectors.EVENT_READ, None)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    time.sleep(0.01)  # out of descriptors: let the client close some
                continue
            try:
                if not pending.get(c):
                    data = c.recv(65536)
                    if not data:
                        drop(c)
                        continue
                    pending[c] = data
                n = c.send(pending[c])
                pending[c] = pending[c][n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                drop(c)
                continue
            want = selectors.EVENT_WRITE if pending.get(c) else selectors.EVENT_READ
            if key.events != want:
                sel.modify(c, want)
