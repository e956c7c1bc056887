/* HTTP/1.x head collection and header checks shared by request and response parsing. */
#include "http/http_head.h"

#include <stdlib.h>
#include <string.h>
#include <http_parser.h>
#include <uv.h>

#include "base/err.h"

void http_head_init(http_head *h, bool allow_leading_crlf)
{
    memset(h, 0, sizeof(*h));
    h->allow_leading_crlf = allow_leading_crlf;
}

void http_head_free(http_head *h)
{
    free(h->buf);
    h->buf = NULL;
    h->len = h->cap = 0;
}

void http_head_reset(http_head *h)
{
    h->len = 0;
    h->line_start = 0;
    h->skipped = 0;
    h->head_len = 0;
    h->nhdrs = 0;
}

static int head_grow(http_head *h)
{
    size_t ncap = h->cap ? h->cap * 2 : 1024;
    if (ncap > HTTP_HEAD_MAX)
        ncap = HTTP_HEAD_MAX;
    char *nb = realloc(h->buf, ncap);
    if (!nb)
        return UV_ENOMEM;
    h->buf = nb;
    h->cap = ncap;
    return 0;
}

int http_head_collect(http_head *h, const char *data, size_t len, size_t *consumed,
                      char *err, size_t errlen)
{
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)data[k];
        if (h->len + h->skipped >= HTTP_HEAD_MAX) {
            err_set(err, errlen, "message head larger than %d bytes", HTTP_HEAD_MAX);
            return CFRP_ETOOBIG;
        }
        if (h->len == h->cap) {
            int rc = head_grow(h);
            if (rc != 0)
                return rc;
        }
        size_t i = h->len;
        h->buf[h->len++] = (char)c;
        if (c == 0) {
            err_set(err, errlen, "NUL byte in message head");
            return CFRP_EPARSE;
        }
        if (i > 0 && h->buf[i - 1] == '\r' && c != '\n') {
            err_set(err, errlen, "bare CR in message head");
            return CFRP_EPARSE;
        }
        if (c != '\n')
            continue;
        if (i == 0 || h->buf[i - 1] != '\r') {
            err_set(err, errlen, "bare LF in message head");
            return CFRP_EPARSE;
        }
        if (i - 1 == h->line_start) { /* an empty line */
            if (h->line_start == 0) {
                if (!h->allow_leading_crlf) {
                    err_set(err, errlen, "empty start line");
                    return CFRP_EPARSE;
                }
                h->skipped += 2;
                h->len = 0;
                continue;
            }
            h->head_len = h->len;
            *consumed = k + 1;
            return HTTP_DONE;
        }
        if (h->line_start > 0 && (h->buf[h->line_start] == ' ' || h->buf[h->line_start] == '\t')) {
            err_set(err, errlen, "obsolete line folding in header");
            return CFRP_EPARSE;
        }
        h->line_start = h->len;
    }
    *consumed = len;
    return HTTP_NEED_MORE;
}

bool http_is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int http_head_check_headers(http_head *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->nhdrs; i++) {
        http_header *hd = &h->hdrs[i];
        if (hd->name_len == 0) {
            err_set(err, errlen, "empty header name");
            return CFRP_EPARSE;
        }
        for (size_t k = 0; k < hd->name_len; k++) {
            if (!http_is_tchar((unsigned char)hd->name[k])) {
                err_set(err, errlen, "invalid character in header name");
                return CFRP_EPARSE;
            }
        }
        if (!hd->value) {
            hd->value = hd->name + hd->name_len;
            hd->value_len = 0;
        }
        while (hd->value_len > 0 && (hd->value[0] == ' ' || hd->value[0] == '\t')) {
            hd->value++;
            hd->value_len--;
        }
        while (hd->value_len > 0 && (hd->value[hd->value_len - 1] == ' ' ||
                                     hd->value[hd->value_len - 1] == '\t'))
            hd->value_len--;
        for (size_t k = 0; k < hd->value_len; k++) {
            unsigned char c = (unsigned char)hd->value[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                err_set(err, errlen, "invalid character in value of header %.*s",
                        (int)(hd->name_len > 64 ? 64 : hd->name_len), hd->name);
                return CFRP_EPARSE;
            }
        }
    }
    return 0;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool http_token_eq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

size_t http_header_count(const http_header *hdrs, size_t n, const char *name,
                         const http_header **first)
{
    size_t count = 0;
    if (first)
        *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!http_token_eq(hdrs[i].name, hdrs[i].name_len, name))
            continue;
        if (count == 0 && first)
            *first = &hdrs[i];
        count++;
    }
    return count;
}

bool http_header_has_token(const http_header *hdrs, size_t n, const char *name,
                           const char *token)
{
    for (size_t i = 0; i < n; i++) {
        if (!http_token_eq(hdrs[i].name, hdrs[i].name_len, name))
            continue;
        const char *p = hdrs[i].value, *end = p + hdrs[i].value_len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            const char *s = p, *e = stop;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (http_token_eq(s, (size_t)(e - s), token))
                return true;
            p = comma ? comma + 1 : end;
        }
    }
    return false;
}

void http_canonical_name(char *dst, const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!http_is_tchar((unsigned char)name[i]) || name[i] == ' ') {
            memcpy(dst, name, len);
            return;
        }
    }
    bool upper = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        dst[i] = (char)c;
        upper = c == '-';
    }
}

int http_head_content_length(const http_header *hdrs, size_t n, bool *present,
                             uint64_t *value, char *err, size_t errlen)
{
    *present = false;
    *value = 0;
    const http_header *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const http_header *hd = &hdrs[i];
        if (!http_token_eq(hd->name, hd->name_len, "Content-Length"))
            continue;
        if (first && (hd->value_len != first->value_len ||
                      memcmp(hd->value, first->value, hd->value_len) != 0)) {
            err_set(err, errlen, "conflicting Content-Length headers");
            return CFRP_EPARSE;
        }
        if (!first) {
            if (hd->value_len == 0 || hd->value_len > 18) {
                err_set(err, errlen, "invalid Content-Length");
                return CFRP_EPARSE;
            }
            uint64_t v = 0;
            for (size_t k = 0; k < hd->value_len; k++) {
                char c = hd->value[k];
                if (c < '0' || c > '9') {
                    err_set(err, errlen, "invalid Content-Length");
                    return CFRP_EPARSE;
                }
                v = v * 10 + (uint64_t)(c - '0');
            }
            *value = v;
            first = hd;
        }
    }
    *present = first != NULL;
    return 0;
}

/* State of one tokenizing pass: which element the last callback added to. */
struct head_tok {
    http_head *h;
    const char *start;
    size_t start_len;
    int last; /* 0 none, 1 field, 2 value */
    bool overflow;
};

static int tok_start(http_parser *p, const char *at, size_t len)
{
    struct head_tok *t = p->data;
    if (!t->start)
        t->start = at;
    t->start_len = (size_t)(at + len - t->start);
    return 0;
}

static int tok_field(http_parser *p, const char *at, size_t len)
{
    struct head_tok *t = p->data;
    http_head *h = t->h;
    if (t->last != 1) {
        if (h->nhdrs == HTTP_HEADERS_MAX) {
            t->overflow = true;
            return 1;
        }
        http_header *hd = &h->hdrs[h->nhdrs++];
        hd->name = at;
        hd->name_len = 0;
        hd->value = NULL;
        hd->value_len = 0;
        t->last = 1;
    }
    http_header *hd = &h->hdrs[h->nhdrs - 1];
    hd->name_len = (size_t)(at + len - hd->name);
    return 0;
}

static int tok_value(http_parser *p, const char *at, size_t len)
{
    struct head_tok *t = p->data;
    http_header *hd = &t->h->hdrs[t->h->nhdrs - 1];
    if (t->last != 2) {
        hd->value = at;
        t->last = 2;
    }
    hd->value_len = (size_t)(at + len - hd->value);
    return 0;
}

static int tok_headers_complete(http_parser *p)
{
    http_parser_pause(p, 1);
    return 0;
}

int http_head_tokenize(http_head *h, http_parser *p, int type, const char **start,
                       size_t *start_len, char *err, size_t errlen)
{
    http_parser_settings s;
    http_parser_settings_init(&s);
    if (type == HTTP_REQUEST)
        s.on_url = tok_start;
    else
        s.on_status = tok_start;
    s.on_header_field = tok_field;
    s.on_header_value = tok_value;
    s.on_headers_complete = tok_headers_complete;
    struct head_tok t = {.h = h};
    http_parser_init(p, (enum http_parser_type)type);
    p->data = &t;
    p->allow_chunked_length = 1; /* framing conflicts are judged by our own checks */
    h->nhdrs = 0;
    http_parser_execute(p, &s, h->buf, h->head_len);
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    if (t.overflow) {
        err_set(err, errlen, "more than %d header lines", HTTP_HEADERS_MAX);
        return CFRP_ETOOBIG;
    }
    if (e != HPE_OK && e != HPE_PAUSED) {
        err_set(err, errlen, "%s", http_errno_description(e));
        return CFRP_EPARSE;
    }
    if (e != HPE_PAUSED) { /* the parser did not reach the end of the head */
        err_set(err, errlen, "incomplete message head");
        return CFRP_EPARSE;
    }
    http_parser_pause(p, 0);
    *start = t.start ? t.start : h->buf;
    *start_len = t.start_len;
    return 0;
}
