"""Request smuggling and malformed requests at frps's http vhost: each gets 400 (or
another 4xx/5xx answer) or a close, frps keeps running, and the local service never
sees a second, hidden request."""

import socket

import pytest

from cfrp_harness import HOST
from test_vhost_common import Backend, Env, http_proxy, read_response

HIDDEN = b"GET /hidden HTTP/1.1\r\nHost: s.test\r\n\r\n"

CASES = {
    "cl_and_te": b"POST / HTTP/1.1\r\nHost: s.test\r\nContent-Length: 4\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + HIDDEN,
    "te_and_cl": b"POST / HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 40\r\n\r\n0\r\n\r\n" + HIDDEN,
    "two_cl": b"POST / HTTP/1.1\r\nHost: s.test\r\nContent-Length: 0\r\nContent-Length: 39\r\n\r\n" + HIDDEN,
    "cl_list": b"POST / HTTP/1.1\r\nHost: s.test\r\nContent-Length: 0, 39\r\n\r\n" + HIDDEN,
    "cl_sign": b"POST / HTTP/1.1\r\nHost: s.test\r\nContent-Length: +0\r\n\r\n" + HIDDEN,
    "obs_fold": b"POST / HTTP/1.1\r\nHost: s.test\r\nX-A: a\r\n Content-Length: 39\r\n\r\n" + HIDDEN,
    "space_before_colon": b"POST / HTTP/1.1\r\nHost: s.test\r\nContent-Length : 39\r\n\r\n" + HIDDEN,
    "te_identity_chunked": b"POST / HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" + HIDDEN,
    "te_xchunked": b"POST / HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + HIDDEN,
    "te_http10": b"POST / HTTP/1.0\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + HIDDEN,
    "nul_in_header": b"GET / HTTP/1.1\r\nHost: s.test\r\nX-A: a\x00b\r\n\r\n" + HIDDEN,
    "bare_lf": b"GET / HTTP/1.1\nHost: s.test\nX-A: b\n\n" + HIDDEN,
    "bare_cr": b"GET / HTTP/1.1\r\nHost: s.test\rX-A: b\r\n\r\n" + HIDDEN,
    "two_hosts": b"GET / HTTP/1.1\r\nHost: s.test\r\nHost: other.test\r\n\r\n" + HIDDEN,
    "oversize_head": b"GET / HTTP/1.1\r\nHost: s.test\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n" + HIDDEN,
    "too_many_headers": b"GET / HTTP/1.1\r\nHost: s.test\r\n" + b"X-N: 1\r\n" * 200 + b"\r\n" + HIDDEN,
    "bad_chunk_size": b"POST / HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + HIDDEN,
    "chunk_size_overflow": b"POST / HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"10000000000000001\r\nx\r\n0\r\n\r\n" + HIDDEN,
    "chunk_no_crlf": b"POST / HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"1\r\nxy0\r\n\r\n" + HIDDEN,
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    be = Backend("s")
    e = Env(tmp_path_factory.mktemp("smuggle"), http_proxy("s", be.port, ["s.test"]), names=["s"])
    e.be = be
    yield e
    e.close()
    be.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_request_refused(env, name):
    with socket.create_connection((HOST, env.http), timeout=10) as s:
        s.sendall(CASES[name])
        got = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        except (socket.timeout, ConnectionResetError):
            pass
    # 4xx/5xx from frps itself, or nothing but a close
    if got:
        status = int(got.split(b" ", 2)[1])
        assert 400 <= status < 600, got[:200]
    assert all(r.target != "/hidden" for r in env.be.requests)
    # frps keeps serving
    with socket.create_connection((HOST, env.http), timeout=10) as s:
        s.sendall(b"GET /ok HTTP/1.1\r\nHost: s.test\r\n\r\n")
        assert read_response(s)[2] == b"s GET /ok"
    assert env.frps.alive()
