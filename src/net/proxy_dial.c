/* Forward-proxy handshakes for frpc's carrier (protocol.md 1.1): HTTP CONNECT and
 * SOCKS5, with frp's bytes and Go's error texts. A proxy_req owns the stream until its
 * callback hands it on or the request fails; everything the proxy answers is read into
 * a bounded buffer, and bytes beyond its answer (the proxy speaking for frps before
 * frpc did) fail the handshake instead of being lost. */
#include "net/proxy_dial.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/ascii.h"
#include "base/err.h"

#define PROXY_ANSWER_MAX 4096 /* an HTTP response head or a SOCKS5 reply */

enum proxy_step { STEP_HTTP, STEP_SOCKS_METHOD, STEP_SOCKS_AUTH, STEP_SOCKS_REPLY };

struct proxy_req {
    stream *s; /* owned until cb */
    struct proxy_url pu;
    char host[256];
    int port;
    enum proxy_step step;
    proxy_cb cb;
    void *arg;
    unsigned char in[PROXY_ANSWER_MAX];
    size_t inlen;
    bool done;
};

/* ---- URL ---- */

/* Copies len bytes of a URL's userinfo part into out (cap bytes) undoing %XX escapes, as
 * Go's url.Parse does. Returns false when it does not fit or an escape is malformed. */
static bool pu_unescape(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < len ? ascii_hex_value(in[i + 1]) : -1;
            int lo = hi >= 0 ? ascii_hex_value(in[i + 2]) : -1;
            if (lo < 0) return false;
            c = hi * 16 + lo;
            i += 2;
        }
        if (n + 1 >= cap) return false;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return true;
}

int proxy_url_parse(const char *url, struct proxy_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *sep = strstr(url, "://");
    if (!sep) {
        err_set(err, errlen, "parse \"%s\": missing protocol scheme", url);
        return CFRP_EINVAL;
    }
    size_t slen = (size_t)(sep - url);
    if (slen == 4 && strncmp(url, "http", 4) == 0) {
        out->kind = PROXY_HTTP;
        out->port = 80;
    } else if (slen == 6 && strncmp(url, "socks5", 6) == 0) {
        out->kind = PROXY_SOCKS5;
        out->port = 1080;
    } else if (slen == 4 && strncmp(url, "ntlm", 4) == 0) {
        err_set(err, errlen, "proxy URL scheme [ntlm] is not supported by this build");
        return CFRP_EINVAL;
    } else {
        err_set(err, errlen, "Proxy URL scheme must be http or socks5 or ntlm, not [%.*s]",
                (int)slen, url);
        return CFRP_EINVAL;
    }
    const char *p = sep + 3;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = (size_t)((colon ? colon : at) - p);
        size_t plen = colon ? (size_t)(at - colon - 1) : 0;
        if (!pu_unescape(p, ulen, out->user, sizeof out->user) ||
            !pu_unescape(colon ? colon + 1 : p, plen, out->pass, sizeof out->pass)) {
            err_set(err, errlen, "proxy URL credentials are malformed or too long");
            return CFRP_EINVAL;
        }
        out->auth = true;
        p = at + 1;
    }
    const char *hend;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            err_set(err, errlen, "parse \"%s\": missing ']' in host", url);
            return CFRP_EINVAL;
        }
        hend = rb + 1;
        if ((size_t)(rb - p - 1) >= sizeof out->host) goto too_long;
        memcpy(out->host, p + 1, (size_t)(rb - p - 1));
    } else {
        hend = memchr(p, ':', (size_t)(end - p));
        if (!hend) hend = end;
        if ((size_t)(hend - p) >= sizeof out->host) goto too_long;
        memcpy(out->host, p, (size_t)(hend - p));
    }
    if (!out->host[0]) {
        err_set(err, errlen, "proxy URL \"%s\" has no host", url);
        return CFRP_EINVAL;
    }
    if (hend < end) {
        if (*hend != ':' || hend + 1 == end) goto bad_port;
        int port = 0;
        for (const char *c = hend + 1; c < end; c++) {
            if (*c < '0' || *c > '9' || port > 65535) goto bad_port;
            port = port * 10 + (*c - '0');
        }
        if (port < 1 || port > 65535) goto bad_port;
        out->port = port;
    }
    return 0;
too_long:
    err_set(err, errlen, "proxy URL host is too long");
    return CFRP_EINVAL;
bad_port:
    err_set(err, errlen, "parse \"%s\": invalid port", url);
    return CFRP_EINVAL;
}

/* ---- the request ---- */

static void pr_finish(struct proxy_req *r, int status, const char *err)
{
    if (r->done) return;
    r->done = true;
    stream *s = r->s;
    r->s = NULL;
    if (status == 0) {
        stream_read_stop(s);
        s->data = NULL;
        r->cb(s, 0, NULL, r->arg);
    } else {
        stream_close(s);
        r->cb(NULL, status, err, r->arg);
    }
    free(r);
}

static void pr_fail(struct proxy_req *r, int status, const char *fmt, const char *detail)
{
    char text[512];
    snprintf(text, sizeof text, fmt, detail);
    pr_finish(r, status, text);
}

/* "socks connect tcp proxy->dest: what", Go's net.OpError around the SOCKS errors. */
static void pr_socks_fail(struct proxy_req *r, const char *what)
{
    char text[768];
    const char *pl = strchr(r->pu.host, ':') ? "[" : "", *pr = *pl ? "]" : "";
    const char *dl = strchr(r->host, ':') ? "[" : "", *dr = *dl ? "]" : "";
    snprintf(text, sizeof text, "socks connect tcp %s%s%s:%d->%s%s%s:%d: %s", pl, r->pu.host, pr,
             r->pu.port, dl, r->host, dr, r->port, what);
    pr_finish(r, CFRP_EPROTO, text);
}

static int pr_send(struct proxy_req *r, const void *data, size_t len)
{
    return stream_write_copy(r->s, data, len, NULL, NULL);
}

static void pr_http_request(struct proxy_req *r, char *out, size_t cap, size_t *len)
{
    const char *l = strchr(r->host, ':') ? "[" : "", *rb = *l ? "]" : "";
    int n = snprintf(out, cap, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n"
                               "User-Agent: Mozilla/5.0\r\n",
                     l, r->host, rb, r->port, l, r->host, rb, r->port);
    if (r->pu.auth) {
        char cred[sizeof r->pu.user + sizeof r->pu.pass + 1];
        int clen = snprintf(cred, sizeof cred, "%s:%s", r->pu.user, r->pu.pass);
        unsigned char b64[((sizeof cred + 2) / 3) * 4 + 1];
        EVP_EncodeBlock(b64, (const unsigned char *)cred, clen);
        n += snprintf(out + n, cap - (size_t)n, "Proxy-Authorization: Basic %s\r\n", b64);
    }
    n += snprintf(out + n, cap - (size_t)n, "\r\n");
    *len = (size_t)n;
}

/* The answer so far to CONNECT: 1 when more is needed, else finished. */
static int pr_http_answer(struct proxy_req *r)
{
    const unsigned char *end = NULL;
    for (size_t i = 3; i < r->inlen; i++)
        if (memcmp(r->in + i - 3, "\r\n\r\n", 4) == 0) {
            end = r->in + i + 1;
            break;
        }
    if (!end) {
        if (r->inlen == sizeof r->in) pr_fail(r, CFRP_EPROTO, "%s", "proxy response head too long");
        return 1;
    }
    int major, minor, code;
    if (sscanf((const char *)r->in, "HTTP/%1d.%1d %3d", &major, &minor, &code) != 3 ||
        major != 1 || (r->in[12] != ' ' && r->in[12] != '\r')) {
        pr_fail(r, CFRP_EPROTO, "%s", "malformed HTTP response from the proxy");
        return 0;
    }
    if (code != 200) {
        char num[16];
        snprintf(num, sizeof num, "%d", code);
        pr_fail(r, CFRP_EPROTO, "DialTcpByHttpProxy error, StatusCode [%s]", num);
        return 0;
    }
    if (end != r->in + r->inlen) {
        pr_fail(r, CFRP_EPROTO, "%s", "the proxy sent data after its response");
        return 0;
    }
    pr_finish(r, 0, NULL);
    return 0;
}

static int pr_socks_connect(struct proxy_req *r)
{
    unsigned char b[4 + 1 + 255 + 2];
    size_t n = 0;
    b[n++] = 5;
    b[n++] = 1; /* CONNECT */
    b[n++] = 0;
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    if (uv_ip4_addr(r->host, 0, &a4) == 0) {
        b[n++] = 1;
        memcpy(b + n, &a4.sin_addr, 4);
        n += 4;
    } else if (uv_ip6_addr(r->host, 0, &a6) == 0) {
        b[n++] = 4;
        memcpy(b + n, &a6.sin6_addr, 16);
        n += 16;
    } else {
        size_t hl = strlen(r->host);
        if (hl > 255) return UV_EINVAL;
        b[n++] = 3;
        b[n++] = (unsigned char)hl;
        memcpy(b + n, r->host, hl);
        n += hl;
    }
    b[n++] = (unsigned char)(r->port >> 8);
    b[n++] = (unsigned char)r->port;
    r->step = STEP_SOCKS_REPLY;
    return pr_send(r, b, n);
}

static const char *socks_reply_text(unsigned code)
{
    static const char *const texts[] = {
        "succeeded", "general SOCKS server failure", "connection not allowed by ruleset",
        "network unreachable", "host unreachable", "connection refused", "TTL expired",
        "command not supported", "address type not supported"};
    return code < sizeof texts / sizeof texts[0] ? texts[code] : "unknown code";
}

/* Bytes of a SOCKS5 reply given its first 5 bytes, 0 for an unknown address type. */
static size_t socks_reply_len(const unsigned char *b)
{
    switch (b[3]) {
    case 1: return 4 + 4 + 2;
    case 4: return 4 + 16 + 2;
    case 3: return 4 + 1 + (size_t)b[4] + 2;
    default: return 0;
    }
}

/* Steps the SOCKS5 exchange with what has arrived; 1 when more is needed. */
static int pr_socks_answer(struct proxy_req *r)
{
    for (;;) {
        size_t need;
        switch (r->step) {
        case STEP_SOCKS_METHOD:
            need = 2;
            break;
        case STEP_SOCKS_AUTH:
            need = 2;
            break;
        default:
            if (r->inlen < 5) return 1;
            need = socks_reply_len(r->in);
            if (need == 0) {
                pr_socks_fail(r, "unknown address type");
                return 0;
            }
            break;
        }
        if (r->inlen < need) return 1;
        const unsigned char *b = r->in;
        int rc = 0;
        if (r->step == STEP_SOCKS_METHOD) {
            if (b[0] != 5) {
                pr_socks_fail(r, "unexpected protocol version");
                return 0;
            }
            if (b[1] == 2 && r->pu.auth) {
                unsigned char a[3 + 2 * 255];
                size_t ul = strlen(r->pu.user), pl = strlen(r->pu.pass), n = 0;
                if (ul > 255 || pl > 255) {
                    pr_socks_fail(r, "invalid username/password");
                    return 0;
                }
                a[n++] = 1;
                a[n++] = (unsigned char)ul;
                memcpy(a + n, r->pu.user, ul);
                n += ul;
                a[n++] = (unsigned char)pl;
                memcpy(a + n, r->pu.pass, pl);
                n += pl;
                r->step = STEP_SOCKS_AUTH;
                rc = pr_send(r, a, n);
            } else if (b[1] == 0) {
                rc = pr_socks_connect(r);
            } else {
                pr_socks_fail(r, "no acceptable authentication methods");
                return 0;
            }
        } else if (r->step == STEP_SOCKS_AUTH) {
            if (b[1] != 0) {
                pr_socks_fail(r, "username/password authentication failed");
                return 0;
            }
            rc = pr_socks_connect(r);
        } else {
            if (b[0] != 5) {
                pr_socks_fail(r, "unexpected protocol version");
                return 0;
            }
            if (b[1] != 0) {
                char what[64];
                snprintf(what, sizeof what, "unknown error %s", socks_reply_text(b[1]));
                pr_socks_fail(r, what);
                return 0;
            }
            if (r->inlen != need) {
                pr_socks_fail(r, "the proxy sent data after its reply");
                return 0;
            }
            pr_finish(r, 0, NULL);
            return 0;
        }
        if (rc < 0) {
            pr_fail(r, rc, "write to proxy: %s", err_str(rc));
            return 0;
        }
        memmove(r->in, r->in + need, r->inlen - need);
        r->inlen -= need;
        if (r->inlen == 0) return 1;
    }
}

static void pr_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct proxy_req *r = s->data;
    if (nread < 0) {
        buf_ref_release(&data);
        if (r->pu.kind == PROXY_SOCKS5)
            pr_socks_fail(r, nread == UV_EOF ? "unexpected EOF" : err_str((int)nread));
        else
            pr_fail(r, nread == UV_EOF ? CFRP_EPROTO : (int)nread, "%s",
                    nread == UV_EOF ? "unexpected EOF" : err_str((int)nread));
        return;
    }
    size_t room = sizeof r->in - r->inlen;
    if ((size_t)nread > room) {
        buf_ref_release(&data);
        pr_fail(r, CFRP_EPROTO, "%s", "proxy answer too long");
        return;
    }
    memcpy(r->in + r->inlen, data.base, (size_t)nread);
    r->inlen += (size_t)nread;
    buf_ref_release(&data);
    if (r->pu.kind == PROXY_HTTP)
        pr_http_answer(r);
    else
        pr_socks_answer(r);
}

int proxy_handshake(stream *s, const struct proxy_url *pu, const char *host, int port,
                    proxy_cb cb, void *arg, proxy_req **out)
{
    struct proxy_req *r = calloc(1, sizeof *r);
    if (!r || strlen(host) >= sizeof r->host) {
        free(r);
        stream_close(s);
        return r ? UV_EINVAL : UV_ENOMEM;
    }
    r->s = s;
    r->pu = *pu;
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
    r->cb = cb;
    r->arg = arg;
    s->data = r;
    int rc;
    if (pu->kind == PROXY_HTTP) {
        char req[1400];
        size_t len;
        pr_http_request(r, req, sizeof req, &len);
        r->step = STEP_HTTP;
        rc = pr_send(r, req, len);
    } else {
        static const unsigned char hello_auth[] = {5, 2, 0, 2}, hello[] = {5, 1, 0};
        r->step = STEP_SOCKS_METHOD;
        rc = pu->auth ? pr_send(r, hello_auth, sizeof hello_auth) : pr_send(r, hello, sizeof hello);
    }
    if (rc == 0) rc = stream_read_start(s, pr_on_read);
    if (rc < 0) {
        stream_close(s);
        free(r);
        return rc;
    }
    if (out) *out = r;
    return 0;
}

void proxy_cancel(proxy_req *r)
{
    if (r->done) return;
    r->done = true;
    stream_close(r->s);
    free(r);
}
