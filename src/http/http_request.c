/* Hardened HTTP/1.x request head parser: head collection, tokenizing with
 * http-parser, then framing, Host, target and Expect checks. */
#include "base/ascii.h"
#include "http/http_request.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

void http_request_parser_init(http_request_parser *p)
{
    memset(p, 0, sizeof(*p));
    http_head_init(&p->head, true);
    p->status = 400;
}

void http_request_parser_free(http_request_parser *p)
{
    http_head_free(&p->head);
    free(p->path_buf);
    p->path_buf = NULL;
    p->path_cap = 0;
}

void http_request_parser_reset(http_request_parser *p)
{
    http_head_reset(&p->head);
    memset(&p->req, 0, sizeof(p->req));
    p->status = 400;
}

const http_header *http_request_header(const http_request *r, const char *name)
{
    const http_header *h;
    http_header_count(r->headers, r->nheaders, name, &h);
    return h;
}

int http_path_unescape(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (i + 2 >= len)
            return -1;
        int hi = ascii_hex_value((unsigned char)in[i + 1]), lo = ascii_hex_value((unsigned char)in[i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    return (int)o;
}

int http_canonical_host(const char *host, size_t len, char *out, size_t outcap)
{
    if (len > outcap || len > 1024)
        return -1;
    size_t colons = 0;
    for (size_t i = 0; i < len; i++)
        colons += host[i] == ':';
    const char *s = host;
    size_t n = len;
    bool has_port = colons == 1 ||
                    (colons > 1 && len > 0 && host[0] == '[' && memmem(host, len, "]:", 2));
    if (has_port) {
        /* net.SplitHostPort: the port follows the last colon; brackets must enclose
         * the whole host part and nothing may be left around them. */
        const char *last = memrchr(host, ':', len);
        size_t hlen = (size_t)(last - host);
        if (hlen > 0 && host[0] == '[') {
            if (host[hlen - 1] != ']')
                return -1;
            s = host + 1;
            n = hlen - 2;
            if (memchr(s, '[', n) || memchr(s, ']', n))
                return -1;
        } else {
            s = host;
            n = hlen;
            if (memchr(s, ':', n) || memchr(s, '[', n) || memchr(s, ']', n))
                return -1;
        }
        if (memchr(last + 1, '[', len - hlen - 1) || memchr(last + 1, ']', len - hlen - 1))
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    if (n > 0 && out[n - 1] == '.')
        n--;
    return (int)n;
}

/* Go's httpguts.ValidHostHeader: the bytes a Host value may contain. */
static bool valid_host_value(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != 0 && strchr("!$%&'()*+,-.:;=[]_~@", c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static int fail(http_request_parser *p, int status, int code, char *err, size_t errlen,
                const char *msg)
{
    p->status = status;
    if (msg) /* NULL: the callee already wrote the reason */
        err_set(err, errlen, "%s", msg);
    return code;
}

/* Splits the target into host, raw path and query according to its form. */
static int parse_target(http_request_parser *p, char *err, size_t errlen)
{
    http_request *r = &p->req;
    const char *t = r->target;
    size_t n = r->target_len;
    const char *pq = t; /* start of path?query */
    size_t pqlen = n;
    if (n == 0)
        return fail(p, 400, CFRP_EPARSE, err, errlen, "empty request target");
    if (r->method == HTTP_CONNECT && t[0] != '/') {
        r->form = HTTP_TARGET_AUTHORITY;
        if (!valid_host_value(t, n) || memchr(t, '@', n))
            return fail(p, 400, CFRP_EPARSE, err, errlen, "invalid CONNECT target");
        r->host = t;
        r->host_len = n;
        pqlen = 0;
    } else if (n == 1 && t[0] == '*') {
        r->form = HTTP_TARGET_ASTERISK;
        pqlen = 0;
    } else if (t[0] == '/') {
        r->form = HTTP_TARGET_ORIGIN;
    } else {
        r->form = HTTP_TARGET_ABSOLUTE;
        size_t scheme;
        if (n > 7 && strncasecmp(t, "http://", 7) == 0)
            scheme = 7;
        else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
            scheme = 8;
        else
            return fail(p, 400, CFRP_EPARSE, err, errlen, "invalid request target");
        const char *a = t + scheme, *end = t + n, *ae = a;
        while (ae < end && *ae != '/' && *ae != '?' && *ae != '#')
            ae++;
        const char *at = memrchr(a, '@', (size_t)(ae - a));
        if (at)
            a = at + 1;
        if (ae == a || !valid_host_value(a, (size_t)(ae - a)))
            return fail(p, 400, CFRP_EPARSE, err, errlen, "invalid host in request target");
        r->host = a;
        r->host_len = (size_t)(ae - a);
        pq = ae;
        pqlen = (size_t)(end - ae);
    }
    const char *q = memchr(pq, '?', pqlen);
    r->raw_path = pq;
    r->raw_path_len = q ? (size_t)(q - pq) : pqlen;
    if (q) {
        r->query = q + 1;
        r->query_len = pqlen - r->raw_path_len - 1;
    }
    if (r->raw_path_len > p->path_cap) {
        char *nb = realloc(p->path_buf, r->raw_path_len);
        if (!nb)
            return fail(p, 500, UV_ENOMEM, err, errlen, "out of memory");
        p->path_buf = nb;
        p->path_cap = r->raw_path_len;
    }
    int plen = http_path_unescape(r->raw_path, r->raw_path_len, p->path_buf);
    if (plen < 0)
        return fail(p, 400, CFRP_EPARSE, err, errlen, "invalid URL escape in path");
    r->path = p->path_buf ? p->path_buf : "";
    r->path_len = (size_t)plen;
    return 0;
}

/* Body framing: exactly one well-defined way to find the end of the body. */
static int parse_framing(http_request_parser *p, char *err, size_t errlen)
{
    http_request *r = &p->req;
    const http_header *te;
    size_t nte = http_header_count(r->headers, r->nheaders, "Transfer-Encoding", &te);
    bool has_cl;
    uint64_t cl;
    int rc = http_head_content_length(r->headers, r->nheaders, &has_cl, &cl, err, errlen);
    if (rc != 0)
        return fail(p, 400, rc, err, errlen, NULL);
    if (nte > 0) {
        if (has_cl)
            return fail(p, 400, CFRP_EPARSE, err, errlen,
                        "both Transfer-Encoding and Content-Length");
        if (r->version_minor == 0)
            return fail(p, 400, CFRP_EPARSE, err, errlen, "Transfer-Encoding in HTTP/1.0");
        if (nte > 1)
            return fail(p, 400, CFRP_EPARSE, err, errlen, "too many transfer encodings");
        if (!http_token_eq(te->value, te->value_len, "chunked"))
            return fail(p, 501, CFRP_EPARSE, err, errlen, "unsupported transfer encoding");
        r->body = HTTP_BODY_CHUNKED;
    } else if (has_cl && cl > 0) {
        r->body = HTTP_BODY_LENGTH;
        r->content_length = cl;
    } else {
        r->body = HTTP_BODY_NONE;
    }
    if (r->method == HTTP_CONNECT && r->form == HTTP_TARGET_AUTHORITY &&
        r->body != HTTP_BODY_NONE)
        return fail(p, 400, CFRP_EPARSE, err, errlen, "CONNECT request with a body");
    return 0;
}

static int finish(http_request_parser *p, char *err, size_t errlen)
{
    http_request *r = &p->req;
    const char *target;
    size_t target_len;
    int rc = http_head_tokenize(&p->head, &p->hp, HTTP_REQUEST, &target, &target_len, err,
                                errlen);
    if (rc != 0)
        return fail(p, rc == CFRP_ETOOBIG ? 431 : 400, rc, err, errlen, NULL);
    if (p->hp.http_major != 1 || p->hp.http_minor > 1)
        return fail(p, 505, CFRP_EPARSE, err, errlen, "unsupported HTTP version");
    rc = http_head_check_headers(&p->head, err, errlen);
    if (rc != 0)
        return fail(p, 400, rc, err, errlen, NULL);
    r->method = (enum http_method)p->hp.method;
    r->method_str = http_method_str(r->method);
    r->version_minor = p->hp.http_minor;
    r->target = target;
    r->target_len = target_len;
    r->headers = p->head.hdrs;
    r->nheaders = p->head.nhdrs;

    const http_header *hosth;
    size_t nhost = http_header_count(r->headers, r->nheaders, "Host", &hosth);
    if (nhost > 1)
        return fail(p, 400, CFRP_EPARSE, err, errlen, "too many Host headers");
    if (nhost == 0 && r->version_minor == 1 && r->method != HTTP_CONNECT)
        return fail(p, 400, CFRP_EPARSE, err, errlen, "missing required Host header");
    if (hosth && !valid_host_value(hosth->value, hosth->value_len))
        return fail(p, 400, CFRP_EPARSE, err, errlen, "malformed Host header");
    rc = parse_target(p, err, errlen);
    if (rc != 0)
        return rc;
    if (!r->host && hosth) {
        r->host = hosth->value;
        r->host_len = hosth->value_len;
    }
    if (!r->host) {
        r->host = "";
        r->host_len = 0;
    }
    rc = parse_framing(p, err, errlen);
    if (rc != 0)
        return rc;

    if (r->version_minor == 1)
        r->keep_alive = !http_header_has_token(r->headers, r->nheaders, "Connection", "close");
    else
        r->keep_alive = http_header_has_token(r->headers, r->nheaders, "Connection",
                                              "keep-alive");
    const http_header *expect;
    if (http_header_count(r->headers, r->nheaders, "Expect", &expect) > 0 &&
        expect->value_len > 0) {
        if (!http_token_eq(expect->value, expect->value_len, "100-continue"))
            return fail(p, 417, CFRP_EPARSE, err, errlen, "unsupported Expect");
        r->expect_continue = r->version_minor == 1;
    }
    const http_header *up;
    if (http_header_has_token(r->headers, r->nheaders, "Connection", "upgrade") &&
        http_header_count(r->headers, r->nheaders, "Upgrade", &up) > 0 && up->value_len > 0) {
        r->upgrade = up->value;
        r->upgrade_len = up->value_len;
    }
    return HTTP_DONE;
}

int http_request_feed(http_request_parser *p, const char *data, size_t len, size_t *consumed,
                      char *err, size_t errlen)
{
    *consumed = 0;
    int rc = http_head_collect(&p->head, data, len, consumed, err, errlen);
    if (rc == HTTP_NEED_MORE)
        return rc;
    if (rc < 0) {
        p->status = rc == CFRP_ETOOBIG ? 431 : (rc == UV_ENOMEM ? 500 : 400);
        return rc;
    }
    return finish(p, err, errlen);
}
