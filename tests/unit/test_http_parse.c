/* Unit tests for the HTTP request/response head parsers and the chunked validator,
 * including a request-smuggling set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "http/http_chunked.h"
#include "http/http_request.h"
#include "http/http_response.h"

static char errbuf[256];

/* Feeds s in pieces of step bytes; returns the final result and the consumed total. */
static int feed_req(http_request_parser *p, const char *s, size_t len, size_t step,
                    size_t *used)
{
    size_t off = 0;
    int rc = HTTP_NEED_MORE;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, c = 0;
        rc = http_request_feed(p, s + off, n, &c, errbuf, sizeof(errbuf));
        off += c;
        if (rc != HTTP_NEED_MORE)
            break;
    }
    *used = off;
    return rc;
}

static int parse_one(const char *s, http_request_parser *p)
{
    size_t used;
    http_request_parser_init(p);
    return feed_req(p, s, strlen(s), 1 << 20, &used);
}

static void test_get_bytewise(void **state)
{
    const char *s = "GET /a%2Fb/c?x=1 HTTP/1.1\r\nHost: WWW.Example.com:8080\r\n"
                    "User-Agent: t\r\nX-Empty:\r\n\r\nBODY";
    for (size_t step = 1; step <= 7; step += 6) {
        http_request_parser p;
        http_request_parser_init(&p);
        size_t used;
        assert_int_equal(feed_req(&p, s, strlen(s), step, &used), HTTP_DONE);
        assert_int_equal(used, strlen(s) - 4);
        http_request *r = &p.req;
        assert_int_equal(r->method, HTTP_GET);
        assert_int_equal(r->form, HTTP_TARGET_ORIGIN);
        assert_int_equal(r->version_minor, 1);
        assert_memory_equal(r->host, "WWW.Example.com:8080", r->host_len);
        assert_int_equal(r->path_len, 6);
        assert_memory_equal(r->path, "/a/b/c", 6);
        assert_memory_equal(r->raw_path, "/a%2Fb/c", r->raw_path_len);
        assert_memory_equal(r->query, "x=1", r->query_len);
        assert_int_equal(r->nheaders, 3);
        assert_int_equal(r->headers[2].value_len, 0);
        assert_int_equal(r->body, HTTP_BODY_NONE);
        assert_true(r->keep_alive);
        assert_null(r->upgrade);
        http_request_parser_free(&p);
    }
}

static void test_need_more_and_reuse(void **state)
{
    http_request_parser p;
    http_request_parser_init(&p);
    size_t c;
    assert_int_equal(http_request_feed(&p, "GET / HTTP/1.1\r\nHost: a\r\n", 25, &c, NULL, 0),
                     HTTP_NEED_MORE);
    assert_int_equal(c, 25);
    assert_int_equal(http_request_feed(&p, "\r\nGET", 5, &c, NULL, 0), HTTP_DONE);
    assert_int_equal(c, 2);
    http_request_parser_reset(&p);
    /* leading CRLF before the next request is skipped */
    const char *s2 = "\r\nPOST /u HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello";
    assert_int_equal(http_request_feed(&p, s2, strlen(s2), &c, NULL, 0), HTTP_DONE);
    assert_int_equal(p.req.body, HTTP_BODY_LENGTH);
    assert_int_equal(p.req.content_length, 5);
    assert_int_equal(c, strlen(s2) - 5);
    http_request_parser_free(&p);
}

static void test_forms(void **state)
{
    http_request_parser p;
    assert_int_equal(parse_one("GET http://user@Example.com:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n", &p),
                     HTTP_DONE);
    assert_int_equal(p.req.form, HTTP_TARGET_ABSOLUTE);
    assert_memory_equal(p.req.host, "Example.com:81", p.req.host_len);
    assert_memory_equal(p.req.path, "/p", p.req.path_len);
    http_request_parser_free(&p);

    assert_int_equal(parse_one("CONNECT db.example.com:5432 HTTP/1.1\r\n"
                               "Proxy-Authorization: Basic dTpw\r\n\r\n", &p), HTTP_DONE);
    assert_int_equal(p.req.method, HTTP_CONNECT);
    assert_int_equal(p.req.form, HTTP_TARGET_AUTHORITY);
    assert_memory_equal(p.req.host, "db.example.com:5432", p.req.host_len);
    assert_int_equal(p.req.path_len, 0);
    http_request_parser_free(&p);

    assert_int_equal(parse_one("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &p), HTTP_DONE);
    assert_int_equal(p.req.form, HTTP_TARGET_ASTERISK);
    http_request_parser_free(&p);

    assert_int_equal(parse_one("GET / HTTP/1.0\r\n\r\n", &p), HTTP_DONE);
    assert_int_equal(p.req.host_len, 0);
    assert_false(p.req.keep_alive);
    http_request_parser_free(&p);
}

static void test_flags(void **state)
{
    http_request_parser p;
    assert_int_equal(parse_one("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                               "Upgrade: websocket\r\n\r\n", &p), HTTP_DONE);
    assert_memory_equal(p.req.upgrade, "websocket", p.req.upgrade_len);
    http_request_parser_free(&p);
    assert_int_equal(parse_one("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", &p),
                     HTTP_DONE);
    assert_false(p.req.keep_alive);
    http_request_parser_free(&p);
    assert_int_equal(parse_one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &p), HTTP_DONE);
    assert_true(p.req.keep_alive);
    http_request_parser_free(&p);
    assert_int_equal(parse_one("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                               "Content-Length: 3\r\n\r\n", &p), HTTP_DONE);
    assert_true(p.req.expect_continue);
    http_request_parser_free(&p);
    assert_int_equal(parse_one("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", &p),
                     HTTP_DONE);
    assert_int_equal(p.req.body, HTTP_BODY_CHUNKED);
    http_request_parser_free(&p);
}

/* Requests a safe proxy must refuse, with the status it should answer. */
static const struct {
    const char *req;
    int status;
} bad_reqs[] = {
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},             /* obs-fold */
    {"GET / HTTP/1.1\nHost: h\n\n", 400},                                  /* bare LF */
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\nY: b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},                 /* bare CR */
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400},               /* control */
    {"GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n", 400},                   /* space in name */
    {"GET / HTTP/1.1\r\nHost: h\r\nX(y): a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n\r\n", 400},                                       /* no Host */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET ftp://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417},
    {"CONNECT a:1 HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 400},
    {"G\xc3T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
};

static void test_smuggling(void **state)
{
    for (size_t i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
        http_request_parser p;
        int rc = parse_one(bad_reqs[i].req, &p);
        if (rc >= 0 || p.status != bad_reqs[i].status)
            fail_msg("case %zu: rc %d status %d (%s)", i, rc, p.status, errbuf);
        http_request_parser_free(&p);
    }
    /* NUL inside the head */
    http_request_parser p;
    http_request_parser_init(&p);
    size_t c;
    const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    assert_int_equal(http_request_feed(&p, nul, sizeof(nul) - 1, &c, NULL, 0), CFRP_EPARSE);
    http_request_parser_free(&p);
}

static void test_bounds(void **state)
{
    http_request_parser p;
    http_request_parser_init(&p);
    char *big = malloc(HTTP_HEAD_MAX + 100);
    strcpy(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    size_t n = strlen(big);
    memset(big + n, 'a', HTTP_HEAD_MAX + 100 - n);
    size_t used;
    assert_int_equal(feed_req(&p, big, HTTP_HEAD_MAX + 100, 4096, &used), CFRP_ETOOBIG);
    assert_int_equal(p.status, 431);
    free(big);
    http_request_parser_free(&p);

    /* too many header lines */
    char *many = malloc(64 * 1024);
    size_t off = (size_t)sprintf(many, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < HTTP_HEADERS_MAX + 1; i++)
        off += (size_t)sprintf(many + off, "X%d: v\r\n", i);
    off += (size_t)sprintf(many + off, "\r\n");
    http_request_parser_init(&p);
    assert_int_equal(feed_req(&p, many, off, off, &used), CFRP_ETOOBIG);
    assert_int_equal(p.status, 431);
    http_request_parser_free(&p);
    free(many);
}

static void test_canonical_host(void **state)
{
    char out[64];
    struct {
        const char *in, *want;
    } cases[] = {{"WWW.Example.COM:8080", "www.example.com"}, {"example.com.", "example.com"},
                 {"example.com.:80", "example.com"},       {"[::1]:80", "::1"},
                 {"[::1]", "[::1]"},                       {"::1", "::1"},
                 {"a", "a"},                               {"", ""}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = http_canonical_host(cases[i].in, strlen(cases[i].in), out, sizeof(out));
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_memory_equal(out, cases[i].want, (size_t)n);
    }
    assert_int_equal(http_canonical_host("[a:80", 5, out, sizeof(out)), -1);
}

/* ---- responses ---- */

static int parse_resp(http_response_parser *p, enum http_method m, const char *s)
{
    size_t c;
    http_response_parser_init(p);
    return http_response_feed(p, m, s, strlen(s), &c, errbuf, sizeof(errbuf));
}

static void test_response_framing(void **state)
{
    static const struct {
        enum http_method m;
        const char *resp;
        enum http_body body;
        bool interim;
    } cases[] = {
        {HTTP_GET, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", HTTP_BODY_LENGTH, false},
        {HTTP_GET, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_BODY_NONE, false},
        {HTTP_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_BODY_CHUNKED, false},
        {HTTP_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n",
         HTTP_BODY_CHUNKED, false},
        {HTTP_GET, "HTTP/1.1 200 OK\r\n\r\n", HTTP_BODY_CLOSE, false},
        {HTTP_GET, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_BODY_CLOSE, false},
        {HTTP_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n", HTTP_BODY_NONE, false},
        {HTTP_GET, "HTTP/1.1 204 No Content\r\n\r\n", HTTP_BODY_NONE, false},
        {HTTP_GET, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", HTTP_BODY_NONE, false},
        {HTTP_GET, "HTTP/1.1 100 Continue\r\n\r\n", HTTP_BODY_NONE, true},
        {HTTP_GET, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", HTTP_BODY_NONE, true},
        {HTTP_GET, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", HTTP_BODY_TUNNEL, false},
        {HTTP_CONNECT, "HTTP/1.1 200 OK\r\n\r\n", HTTP_BODY_TUNNEL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_response_parser p;
        int rc = parse_resp(&p, cases[i].m, cases[i].resp);
        if (rc != HTTP_DONE || p.resp.body != cases[i].body || p.resp.interim != cases[i].interim)
            fail_msg("case %zu: rc %d body %d (%s)", i, rc, p.resp.body, errbuf);
        http_response_parser_free(&p);
    }
    http_response_parser p;
    assert_int_equal(parse_resp(&p, HTTP_GET, "HTTP/1.1 404 Nope Nope\r\nContent-Length: 2\r\n\r\n"),
                     HTTP_DONE);
    assert_int_equal(p.resp.status, 404);
    assert_memory_equal(p.resp.reason, "Nope Nope", p.resp.reason_len);
    assert_true(p.resp.keep_alive);
    http_response_parser_free(&p);
}

static void test_response_bad(void **state)
{
    static const char *bad[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\nX: y\n\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_response_parser p;
        int rc = parse_resp(&p, HTTP_GET, bad[i]);
        if (rc >= 0)
            fail_msg("case %zu accepted", i);
        http_response_parser_free(&p);
    }
}

/* ---- chunked ---- */

struct collect {
    char data[256];
    size_t len;
};

static void on_data(void *arg, const char *d, size_t n)
{
    struct collect *c = arg;
    assert_true(c->len + n <= sizeof(c->data));
    memcpy(c->data + c->len, d, n);
    c->len += n;
}

static void test_chunked_ok(void **state)
{
    const char *body = "5;name=\"v\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    size_t blen = strlen(body);
    for (size_t step = 1; step <= blen; step++) {
        http_chunked d;
        http_chunked_init(&d);
        struct collect c = {0};
        size_t off = 0, used = 0;
        int rc = HTTP_NEED_MORE;
        while (off < blen && rc == HTTP_NEED_MORE) {
            size_t n = blen - off < step ? blen - off : step;
            rc = http_chunked_feed(&d, body + off, n, &used, on_data, &c, errbuf, sizeof(errbuf));
            off += used;
        }
        assert_int_equal(rc, HTTP_DONE);
        assert_int_equal(off, blen - 4);
        assert_int_equal(c.len, 15);
        assert_memory_equal(c.data, "hello0123456789", 15);
    }
}

static void test_chunked_bad(void **state)
{
    static const char *bad[] = {
        "g\r\n",                       /* not hex */
        "\r\n",                        /* empty size */
        "5 \r\nhello\r\n0\r\n\r\n",    /* whitespace after size */
        "5\nhello\r\n0\r\n\r\n",       /* bare LF */
        "5\r\nhelloX\r\n",             /* data longer than size */
        "5\r\nhello\n0\r\n\r\n",
        "-1\r\n",
        "0x5\r\nhello\r\n",
        "11111111111111111\r\n",       /* 17 hex digits */
        "5;a\nb\r\nhello\r\n",         /* LF inside extension */
        "5;\x01\r\nhello\r\n",
        "0\r\nbad trailer\r\n\r\n",
        "0\r\n X: folded\r\n\r\n",
        "0\r\nX: a\x01\r\n\r\n",
        "0\r\n\rX",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_chunked d;
        http_chunked_init(&d);
        size_t used;
        int rc = http_chunked_feed(&d, bad[i], strlen(bad[i]), &used, NULL, NULL, NULL, 0);
        if (rc >= 0)
            fail_msg("chunked case %zu accepted (rc %d)", i, rc);
    }
    /* bounded trailers */
    http_chunked d;
    http_chunked_init(&d);
    size_t used;
    assert_int_equal(http_chunked_feed(&d, "0\r\n", 3, &used, NULL, NULL, NULL, 0), HTTP_NEED_MORE);
    char line[1000];
    memset(line, 'a', sizeof(line));
    int rc = HTTP_NEED_MORE;
    for (int i = 0; i < 40 && rc == HTTP_NEED_MORE; i++) {
        rc = http_chunked_feed(&d, "X: ", 3, &used, NULL, NULL, NULL, 0);
        if (rc == HTTP_NEED_MORE)
            rc = http_chunked_feed(&d, line, sizeof(line), &used, NULL, NULL, NULL, 0);
        if (rc == HTTP_NEED_MORE)
            rc = http_chunked_feed(&d, "\r\n", 2, &used, NULL, NULL, NULL, 0);
    }
    assert_int_equal(rc, CFRP_EPARSE);
    char hdr[20];
    assert_int_equal(http_chunk_header(hdr, 0x1a2b), 6);
    assert_memory_equal(hdr, "1a2b\r\n", 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_bytewise),    cmocka_unit_test(test_need_more_and_reuse),
        cmocka_unit_test(test_forms),           cmocka_unit_test(test_flags),
        cmocka_unit_test(test_smuggling),       cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_canonical_host),  cmocka_unit_test(test_response_framing),
        cmocka_unit_test(test_response_bad),    cmocka_unit_test(test_chunked_ok),
        cmocka_unit_test(test_chunked_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
