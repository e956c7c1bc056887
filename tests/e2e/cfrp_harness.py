"""Helpers for cfrp end-to-end tests: find the binaries, write configs, pick free ports
on 127.0.0.1, run or start frps/frpc, wait for readiness and always clean up.

Every started process writes stdout/stderr to files under the test's tmp_path (no pipe
can fill up), and Harness.close() kills and reaps whatever is still running."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CFRP_SHARED_DIR", REPO.parent / "shared"))
SPEC = SHARED / "spec"
HOST = "127.0.0.1"
SANITIZER_MARKERS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer",
                     "runtime error:")


def bin_dir():
    return Path(os.environ.get("CFRP_BIN_DIR", REPO / "build" / "bin"))


def binary(name):
    return str(bin_dir() / name)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _env():
    env = dict(os.environ)
    # A sanitizer report must not be mistaken for frp's own exit status 1.
    env.setdefault("ASAN_OPTIONS", "exitcode=86:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.pop("http_proxy", None)
    return env


class Result:
    """A finished command: returncode, stdout, stderr (text)."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def lines(self):
        return self.stdout.splitlines()

    def __repr__(self):
        return (f"Result(rc={self.returncode}, stdout={self.stdout[-2000:]!r}, "
                f"stderr={self.stderr[-2000:]!r})")


class Proc:
    """A started process whose output goes to files; read it with .stdout()/.stderr()."""

    def __init__(self, args, cwd, out_path, err_path, env=None):
        self.args = args
        self.out_path = out_path
        self.err_path = err_path
        self._out = open(out_path, "wb")
        self._err = open(err_path, "wb")
        self.popen = subprocess.Popen(args, cwd=cwd, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, env={**_env(), **(env or {})})

    def stdout(self):
        return Path(self.out_path).read_bytes().decode("utf-8", "replace")

    def stderr(self):
        return Path(self.err_path).read_bytes().decode("utf-8", "replace")

    def alive(self):
        return self.popen.poll() is None

    def wait_for(self, pattern, timeout=10.0, source=None):
        """Waits until regex pattern appears in the output (stdout by default)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = source() if source else self.stdout()
            if rx.search(text):
                return text
            if not self.alive():
                text = source() if source else self.stdout()
                if rx.search(text):
                    return text
                raise AssertionError(f"{self.args} exited ({self.popen.returncode}) before "
                                     f"{pattern!r}; stdout={self.stdout()!r} "
                                     f"stderr={self.stderr()!r}")
            time.sleep(0.05)
        raise AssertionError(f"timeout waiting for {pattern!r}; stdout={self.stdout()!r}")

    def wait_port(self, port, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open(port):
                return
            if not self.alive():
                raise AssertionError(f"{self.args} exited ({self.popen.returncode}); "
                                     f"stdout={self.stdout()!r} stderr={self.stderr()!r}")
            time.sleep(0.05)
        raise AssertionError(f"port {port} not accepting after {timeout}s")

    def wait_exit(self, timeout=20.0):
        """Waits for the process to end; returns a Result."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.args} still running after {timeout}s; "
                                 f"stdout={self.stdout()!r}")
        return Result(self.popen.returncode, self.stdout(), self.stderr())

    def kill(self):
        if self.alive():
            try:
                self.popen.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


class Harness:
    """One test's workspace: files under tmp, processes started through it."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.procs = []
        self._n = 0

    def write(self, name, content):
        """Writes a file (str or bytes) under tmp and returns its absolute path."""
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return str(path)

    def run(self, prog, *args, timeout=20.0, cwd=None):
        """Runs frps/frpc to completion and returns a Result."""
        cp = subprocess.run([binary(prog), *args], cwd=cwd or self.tmp, capture_output=True,
                            timeout=timeout, stdin=subprocess.DEVNULL, env=_env())
        return Result(cp.returncode, cp.stdout.decode("utf-8", "replace"),
                      cp.stderr.decode("utf-8", "replace"))

    def start(self, prog, *args, cwd=None, env=None):
        """Starts frps/frpc in the background (env: variables to add); it is killed at
        teardown."""
        self._n += 1
        out = self.tmp / f"{prog}-{self._n}.out"
        err = self.tmp / f"{prog}-{self._n}.err"
        p = Proc([binary(prog), *args], cwd or self.tmp, out, err, env)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            p.kill()
        self.procs = []


def assert_exit(res, code):
    """Exact exit status (a signal shows as a negative code) and no sanitizer report."""
    for marker in SANITIZER_MARKERS:
        assert marker not in res.stderr, res
    assert res.returncode == code, res


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[([TDIWE])\] "
                      r"\[([^\]/]+/[^\]/]+):(\d+)\] (.*)$")
