/* Request and response head rewriting/serialisation in Go net/http's wire format. */
#include "http/http_rewrite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

/* Growable output; oom latches so callers check once at the end. Owns p. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 512;
        while (ncap < b->len + n)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void sb_header(sbuf *b, const char *name, size_t nlen, const char *v, size_t vlen)
{
    sb_add(b, name, nlen);
    sb_add(b, ": ", 2);
    sb_add(b, v, vlen);
    sb_add(b, "\r\n", 2);
}

static int sb_finish(sbuf *b, char **out, size_t *outlen)
{
    if (b->oom) {
        free(b->p);
        return UV_ENOMEM;
    }
    *out = b->p;
    *outlen = b->len;
    return 0;
}

/* A header to write: canonical name in the entry list's own arena. */
typedef struct hentry {
    char *name; /* canonical, points into the list's arena */
    size_t nlen;
    const char *value;
    size_t vlen;
    size_t seq; /* insertion order, keeps values of one name in order */
} hentry;

/* Owns the entries array and name arena. */
typedef struct hlist {
    hentry *e;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
    bool oom;
} hlist;

static void hl_free(hlist *l)
{
    free(l->e);
    free(l->arena);
}

/* The arena is sized up front by the caller (hl_reserve) so names never move. */
static int hl_reserve(hlist *l, size_t entries, size_t name_bytes)
{
    l->e = calloc(entries ? entries : 1, sizeof(hentry));
    l->arena = malloc(name_bytes ? name_bytes : 1);
    if (!l->e || !l->arena)
        return UV_ENOMEM;
    l->cap = entries;
    l->acap = name_bytes;
    return 0;
}

static void hl_add(hlist *l, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (l->n == l->cap || l->alen + nlen > l->acap) {
        l->oom = true; /* reservation too small: a programming error, reported as ENOMEM */
        return;
    }
    char *cn = l->arena + l->alen;
    http_canonical_name(cn, name, nlen);
    l->alen += nlen;
    l->e[l->n] = (hentry){cn, nlen, v, vlen, l->n};
    l->n++;
}

static bool hl_named(const hentry *e, const char *canon)
{
    return e->nlen == strlen(canon) && memcmp(e->name, canon, e->nlen) == 0;
}

static void hl_del(hlist *l, const char *name, size_t nlen)
{
    char canon[256];
    if (nlen >= sizeof(canon))
        return;
    http_canonical_name(canon, name, nlen);
    canon[nlen] = 0;
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!hl_named(&l->e[i], canon))
            l->e[o++] = l->e[i];
    l->n = o;
}

static bool hl_has(const hlist *l, const char *canon)
{
    for (size_t i = 0; i < l->n; i++)
        if (hl_named(&l->e[i], canon))
            return true;
    return false;
}

static void hl_set(hlist *l, const char *name, const char *v, size_t vlen)
{
    hl_del(l, name, strlen(name));
    hl_add(l, name, strlen(name), v, vlen);
}

static int hentry_cmp(const void *a, const void *b)
{
    const hentry *x = a, *y = b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(x->name, y->name, n);
    if (c != 0)
        return c;
    if (x->nlen != y->nlen)
        return x->nlen < y->nlen ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Writes the entries sorted by name, skipping the names in exclude (NULL-ended). */
static void hl_write_sorted(hlist *l, sbuf *b, const char *const *exclude)
{
    qsort(l->e, l->n, sizeof(hentry), hentry_cmp);
    for (size_t i = 0; i < l->n; i++) {
        bool skip = false;
        for (const char *const *x = exclude; x && *x; x++)
            skip |= hl_named(&l->e[i], *x);
        if (!skip)
            sb_header(b, l->e[i].name, l->e[i].nlen, l->e[i].value, l->e[i].vlen);
    }
}

static const char *const hop_headers[] = {"Connection", "Proxy-Connection", "Keep-Alive",
                                          "Proxy-Authenticate", "Proxy-Authorization", "Te",
                                          "Trailer", "Transfer-Encoding", "Upgrade", NULL};

/* Removes the headers named in Connection values, then the fixed hop-by-hop list. */
static void hl_remove_hop(hlist *l, const http_header *hdrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!http_token_eq(hdrs[i].name, hdrs[i].name_len, "Connection"))
            continue;
        const char *p = hdrs[i].value, *end = p + hdrs[i].value_len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *s = p, *e = comma ? comma : end;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > s)
                hl_del(l, s, (size_t)(e - s));
            p = comma ? comma + 1 : end;
        }
    }
    for (const char *const *h = hop_headers; *h; h++)
        hl_del(l, *h, strlen(*h));
}

/* Configured headers must be valid before they go on the wire (Go's transport checks
 * the same and fails the request). */
static int check_kv(const http_kv *kv, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(kv[i].name);
        if (nl == 0 || nl > 255)
            goto bad;
        for (size_t k = 0; k < nl; k++)
            if (!http_is_tchar((unsigned char)kv[i].name[k]))
                goto bad;
        for (const unsigned char *v = (const unsigned char *)kv[i].value; *v; v++)
            if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
                goto bad;
        continue;
    bad:
        err_set(err, errlen, "invalid header field [%.64s]", kv[i].name);
        return CFRP_EINVAL;
    }
    return 0;
}

static size_t kv_name_bytes(const http_kv *kv, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += strlen(kv[i].name);
    return t;
}

static size_t hdr_name_bytes(const http_header *h, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += h[i].name_len;
    return t;
}

/* Go's shouldEscape(c, encodePath) and validEncoded: which raw path bytes may stay. */
static bool path_byte_unescaped(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-_.~$&+,/:;=@", c) != NULL);
}

static bool path_valid_encoded(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!path_byte_unescaped(c) && !strchr("!'()*[]%", c))
            return false;
    }
    return true;
}

static void write_path(sbuf *b, const http_request *r)
{
    if (r->raw_path_len == 0) {
        sb_add(b, "/", 1);
        return;
    }
    if (path_valid_encoded(r->raw_path, r->raw_path_len)) {
        sb_add(b, r->raw_path, r->raw_path_len);
        return;
    }
    for (size_t i = 0; i < r->path_len; i++) {
        unsigned char c = (unsigned char)r->path[i];
        if (path_byte_unescaped(c))
            sb_add(b, (const char *)&c, 1);
        else
            sb_fmt(b, "%%%02X", c);
    }
}

/* url.QueryUnescape of s into out (n bytes); -1 on a bad escape. */
static int query_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int v = http_path_unescape(s + i, 3, out + o);
            if (v != 1)
                return -1;
            o++;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (int)o;
}

static void query_escape(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            sb_add(b, (const char *)&c, 1);
        else if (c == ' ')
            sb_add(b, "+", 1);
        else
            sb_fmt(b, "%%%02X", c);
    }
}

/* A decoded query pair for re-encoding; key/value point into one scratch buffer. */
typedef struct qpair {
    char *k, *v;
    size_t klen, vlen, seq;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);
    if (c != 0)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Go's ReverseProxy cleanQueryParams: a query with ';' or a bad escape is re-encoded
 * as url.ParseQuery + Values.Encode do (bad pairs dropped, keys sorted). */
static void write_query(sbuf *b, const char *q, size_t n)
{
    bool clean = true;
    for (size_t i = 0; i < n && clean; i++) {
        if (q[i] == ';')
            clean = false;
        else if (q[i] == '%') {
            char d;
            clean = i + 2 < n && http_path_unescape(q + i, 3, &d) == 1;
            i += 2;
        }
    }
    if (clean) {
        if (n > 0) {
            sb_add(b, "?", 1);
            sb_add(b, q, n);
        }
        return;
    }
    size_t npairs = 1;
    for (size_t i = 0; i < n; i++)
        npairs += q[i] == '&';
    qpair *pairs = calloc(npairs, sizeof(qpair));
    char *scratch = malloc(n + 1);
    if (!pairs || !scratch) {
        b->oom = true;
        free(pairs);
        free(scratch);
        return;
    }
    size_t np = 0, so = 0;
    const char *p = q, *end = q + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e > p && !memchr(p, ';', (size_t)(e - p))) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            const char *ke = eq ? eq : e;
            int kl = query_unescape(p, (size_t)(ke - p), scratch + so);
            int vl = kl < 0 ? -1 : (eq ? query_unescape(eq + 1, (size_t)(e - eq - 1),
                                                       scratch + so + kl)
                                       : 0);
            if (kl >= 0 && vl >= 0) {
                pairs[np] = (qpair){scratch + so, scratch + so + kl, (size_t)kl, (size_t)vl, np};
                np++;
                so += (size_t)kl + (size_t)vl;
            }
        }
        p = amp ? amp + 1 : end;
    }
    qsort(pairs, np, sizeof(qpair), qpair_cmp);
    for (size_t i = 0; i < np; i++) {
        sb_add(b, i == 0 ? "?" : "&", 1);
        query_escape(b, pairs[i].k, pairs[i].klen);
        sb_add(b, "=", 1);
        query_escape(b, pairs[i].v, pairs[i].vlen);
    }
    free(pairs);
    free(scratch);
}

static void write_request_line(sbuf *b, const http_request *r)
{
    sb_str(b, r->method_str);
    sb_add(b, " ", 1);
    if (r->form == HTTP_TARGET_AUTHORITY) {
        sb_add(b, r->host, r->host_len);
    } else if (r->form == HTTP_TARGET_ASTERISK) {
        sb_add(b, "*", 1);
    } else {
        if (r->form == HTTP_TARGET_ABSOLUTE) {
            sb_str(b, "http://");
            sb_add(b, r->host, r->host_len);
        }
        write_path(b, r);
        if (r->query)
            write_query(b, r->query, r->query_len);
    }
    sb_str(b, " HTTP/1.1\r\n");
}

/* Content-Length / Transfer-Encoding for a request body, as Go's transferWriter. */
static void write_req_framing(sbuf *b, const http_request *r)
{
    if (r->body == HTTP_BODY_CHUNKED)
        sb_str(b, "Transfer-Encoding: chunked\r\n");
    else if (r->body == HTTP_BODY_LENGTH)
        sb_fmt(b, "Content-Length: %llu\r\n", (unsigned long long)r->content_length);
    else if (r->method == HTTP_POST || r->method == HTTP_PUT || r->method == HTTP_PATCH)
        sb_str(b, "Content-Length: 0\r\n");
}

static const char *const req_exclude[] = {"Host", "User-Agent", "Content-Length",
                                          "Transfer-Encoding", "Trailer", NULL};

int http_rewrite_request(const http_request *req, const struct http_rewrite_req_opts *o,
                         char **out, size_t *outlen, char *err, size_t errlen)
{
    int rc = check_kv(o->set_headers, o->nset, err, errlen);
    if (rc != 0)
        return rc;
    hlist l = {0};
    size_t names = hdr_name_bytes(req->headers, req->nheaders) +
                   kv_name_bytes(o->set_headers, o->nset) + 128;
    if (hl_reserve(&l, req->nheaders + o->nset + 8, names) != 0) {
        hl_free(&l);
        return UV_ENOMEM;
    }
    sbuf xff = {0};
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header *h = &req->headers[i];
        hl_add(&l, h->name, h->name_len, h->value, h->value_len);
        if (http_token_eq(h->name, h->name_len, "X-Forwarded-For")) {
            if (xff.len)
                sb_add(&xff, ", ", 2);
            sb_add(&xff, h->value, h->value_len);
        }
    }
    hl_remove_hop(&l, req->headers, req->nheaders);
    if (http_header_has_token(req->headers, req->nheaders, "Te", "trailers"))
        hl_set(&l, "Te", "trailers", 8);
    if (req->upgrade) {
        hl_set(&l, "Connection", "Upgrade", 7);
        hl_set(&l, "Upgrade", req->upgrade, req->upgrade_len);
    }
    static const char *const fwd[] = {"Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
                                      "X-Forwarded-Proto"};
    for (size_t i = 0; i < 4; i++)
        hl_del(&l, fwd[i], strlen(fwd[i]));
    if (o->client_ip) {
        if (xff.len)
            sb_add(&xff, ", ", 2);
        sb_str(&xff, o->client_ip);
        hl_add(&l, "X-Forwarded-For", 15, xff.p, xff.len);
    }
    hl_add(&l, "X-Forwarded-Host", 16, req->host, req->host_len);
    hl_add(&l, "X-Forwarded-Proto", 17, o->tls ? "https" : "http", o->tls ? 5 : 4);
    for (size_t i = 0; i < o->nset; i++)
        hl_set(&l, o->set_headers[i].name, o->set_headers[i].value,
               strlen(o->set_headers[i].value));

    sbuf b = {0};
    write_request_line(&b, req);
    sb_str(&b, "Host: ");
    if (o->host_rewrite && *o->host_rewrite)
        sb_str(&b, o->host_rewrite);
    else
        sb_add(&b, req->host, req->host_len);
    sb_str(&b, "\r\n");
    for (size_t i = 0; i < l.n; i++) {
        if (hl_named(&l.e[i], "User-Agent")) {
            if (l.e[i].vlen > 0)
                sb_header(&b, "User-Agent", 10, l.e[i].value, l.e[i].vlen);
            break;
        }
    }
    write_req_framing(&b, req);
    hl_write_sorted(&l, &b, req_exclude);
    sb_str(&b, "\r\n");
    bool oom = l.oom || xff.oom;
    hl_free(&l);
    free(xff.p);
    if (oom) {
        free(b.p);
        return UV_ENOMEM;
    }
    return sb_finish(&b, out, outlen);
}

int http_rewrite_connect(const http_request *req, char **out, size_t *outlen)
{
    hlist l = {0};
    if (hl_reserve(&l, req->nheaders + 1, hdr_name_bytes(req->headers, req->nheaders)) != 0) {
        hl_free(&l);
        return UV_ENOMEM;
    }
    for (size_t i = 0; i < req->nheaders; i++)
        hl_add(&l, req->headers[i].name, req->headers[i].name_len, req->headers[i].value,
               req->headers[i].value_len);
    sbuf b = {0};
    write_request_line(&b, req);
    sb_str(&b, "Host: ");
    sb_add(&b, req->host, req->host_len);
    sb_str(&b, "\r\n");
    const http_header *ua;
    if (http_header_count(req->headers, req->nheaders, "User-Agent", &ua) == 0)
        sb_str(&b, "User-Agent: Go-http-client/1.1\r\n");
    else if (ua->value_len > 0)
        sb_header(&b, "User-Agent", 10, ua->value, ua->value_len);
    write_req_framing(&b, req);
    hl_write_sorted(&l, &b, req_exclude);
    sb_str(&b, "\r\n");
    bool oom = l.oom;
    hl_free(&l);
    if (oom) {
        free(b.p);
        return UV_ENOMEM;
    }
    return sb_finish(&b, out, outlen);
}

const char *http_status_text(int code)
{
    switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
    }
}

size_t http_date(time_t t, char *out)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                     tm.tm_mday, mons[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    return (size_t)n;
}

static const char *const resp_exclude[] = {"Transfer-Encoding", "Trailer", NULL};
static const char *const resp_exclude_nobody[] = {"Content-Length", "Transfer-Encoding",
                                                  "Trailer", NULL};

/* The response's headers as Go's ReverseProxy hands them to the server: hop-by-hop
 * ones removed (not for a 101), a Content-Length that does not apply dropped,
 * responseHeaders.set applied. 0 or UV_ENOMEM (l freed). */
static int resp_headers(const http_response *resp, const struct http_rewrite_resp_opts *o, hlist *l)
{
    size_t names = hdr_name_bytes(resp->headers, resp->nheaders) +
                   kv_name_bytes(o->set_headers, o->nset) + 64;
    if (hl_reserve(l, resp->nheaders + o->nset + 4, names) != 0) {
        hl_free(l);
        return UV_ENOMEM;
    }
    for (size_t i = 0; i < resp->nheaders; i++)
        hl_add(l, resp->headers[i].name, resp->headers[i].name_len, resp->headers[i].value,
               resp->headers[i].value_len);
    /* Go's ReverseProxy keeps the hop-by-hop headers of a 101 (they carry the upgrade). */
    if (resp->body != HTTP_BODY_TUNNEL)
        hl_remove_hop(l, resp->headers, resp->nheaders);
    if (!resp->has_content_length)
        hl_del(l, "Content-Length", 14);
    for (size_t i = 0; i < o->nset; i++)
        hl_set(l, o->set_headers[i].name, o->set_headers[i].value,
               strlen(o->set_headers[i].value));
    if (l->oom) {
        hl_free(l);
        return UV_ENOMEM;
    }
    return 0;
}

bool http_rewrite_response_sniffs(const http_response *resp, const struct http_rewrite_resp_opts *o)
{
    bool body = resp->body == HTTP_BODY_CHUNKED || resp->body == HTTP_BODY_CLOSE ||
                (resp->body == HTTP_BODY_LENGTH && resp->content_length > 0);
    if (!body || resp->interim || resp->status < 200 || resp->status == 204 || resp->status == 304)
        return false;
    hlist l = {0};
    if (resp_headers(resp, o, &l) != 0)
        return false;
    /* Go looks at the first Content-Encoding value only. */
    bool ce = false;
    for (size_t i = 0; i < l.n; i++)
        if (hl_named(&l.e[i], "Content-Encoding")) {
            ce = l.e[i].vlen > 0;
            break;
        }
    bool sniff = !ce && !hl_has(&l, "Content-Type");
    hl_free(&l);
    return sniff;
}

int http_rewrite_response(const http_response *resp, const struct http_rewrite_resp_opts *o,
                          char **out, size_t *outlen, enum http_body *out_body, char *err,
                          size_t errlen)
{
    int rc = check_kv(o->set_headers, o->nset, err, errlen);
    if (rc != 0)
        return rc;
    hlist l = {0};
    if (resp_headers(resp, o, &l) != 0)
        return UV_ENOMEM;
    bool tunnel = resp->body == HTTP_BODY_TUNNEL;

    sbuf b = {0};
    const char *text = http_status_text(resp->status);
    if (resp->status == 101 && resp->reason_len > 0)
        sb_fmt(&b, "HTTP/1.1 101 %.*s\r\n", (int)(resp->reason_len > 80 ? 80 : resp->reason_len),
               resp->reason);
    else if (*text)
        sb_fmt(&b, "HTTP/1.1 %d %s\r\n", resp->status, text);
    else
        sb_fmt(&b, "HTTP/1.1 %03d status code %d\r\n", resp->status, resp->status);

    enum http_body ob = resp->body;
    if (tunnel || resp->interim) {
        hl_write_sorted(&l, &b, resp_exclude_nobody);
    } else {
        hl_write_sorted(&l, &b, resp_exclude);
        if (!hl_has(&l, "Date")) {
            char date[32];
            size_t dl = http_date(o->now, date);
            sb_header(&b, "Date", 4, date, dl);
        }
        if (o->content_type)
            sb_header(&b, "Content-Type", 12, o->content_type, strlen(o->content_type));
        bool close = o->client_close;
        if (ob == HTTP_BODY_CHUNKED || ob == HTTP_BODY_CLOSE) {
            if (o->client_minor >= 1) {
                ob = HTTP_BODY_CHUNKED;
            } else {
                ob = HTTP_BODY_CLOSE;
                close = true;
            }
        }
        if (close)
            sb_str(&b, "Connection: close\r\n");
        if (ob == HTTP_BODY_CHUNKED)
            sb_str(&b, "Transfer-Encoding: chunked\r\n");
    }
    sb_str(&b, "\r\n");
    bool oom = l.oom;
    hl_free(&l);
    if (oom) {
        free(b.p);
        return UV_ENOMEM;
    }
    *out_body = ob;
    return sb_finish(&b, out, outlen);
}
