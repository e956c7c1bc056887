/* HTTP/1.x message heads shared by the request and response parsers: the bounded
 * head buffer, the header list, token helpers and body framing kinds.
 *
 * A head is collected incrementally into a buffer owned by the parser (at most
 * HTTP_HEAD_MAX bytes, at most HTTP_HEADERS_MAX header lines) and validated strictly:
 * CRLF line ends only, no NUL, no bare CR or LF, no obs-fold, header names made of
 * token characters, values without control characters. Every pointer handed out
 * (names, values, target...) points into that buffer and stays valid until the
 * parser is reset or freed. */
#ifndef CFRP_HTTP_HEAD_H
#define CFRP_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_parser;

/* Bound on a head (start line + headers + final CRLF). Go's net/http allows 1 MiB;
 * 64 KiB is what common proxies allow (nginx 4 x 8 KiB, HAProxy 16 KiB) and keeps a
 * slow client from pinning much memory. */
#define HTTP_HEAD_MAX (64 * 1024)
#define HTTP_HEADERS_MAX 128

/* Results of the feed functions besides negative error codes. */
enum { HTTP_NEED_MORE = 0, HTTP_DONE = 1 };

/* How the body after a head is delimited. */
enum http_body {
    HTTP_BODY_NONE,    /* no body: the next message (or nothing) follows */
    HTTP_BODY_LENGTH,  /* exactly content_length bytes */
    HTTP_BODY_CHUNKED, /* chunked coding: run an http_chunked decoder over it */
    HTTP_BODY_CLOSE,   /* everything until the peer closes (responses only) */
    HTTP_BODY_TUNNEL   /* the connection becomes a raw byte pipe (101, CONNECT 2xx) */
};

typedef struct http_header {
    const char *name;  /* as received (not canonicalised) */
    size_t name_len;
    const char *value; /* leading/trailing blanks removed */
    size_t value_len;
} http_header;

/* Internal collector used by the request and response parsers. Owns buf. */
typedef struct http_head {
    char *buf;        /* owned; grows up to HTTP_HEAD_MAX (+ room for a decoded path) */
    size_t len, cap;  /* bytes held / allocated */
    size_t line_start; /* offset where the current line began */
    size_t skipped;   /* empty lines before the start line (requests) */
    size_t head_len;  /* set when complete: bytes of the head in buf */
    bool allow_leading_crlf;
    http_header hdrs[HTTP_HEADERS_MAX];
    size_t nhdrs;
} http_head;

void http_head_init(http_head *h, bool allow_leading_crlf);
void http_head_free(http_head *h);
/* Forgets the current head, keeping the buffer for the next one. */
void http_head_reset(http_head *h);

/* Copies bytes until the head's final empty line. Returns HTTP_NEED_MORE (all of len
 * consumed), HTTP_DONE (*consumed = bytes up to and including the final CRLF) or a
 * negative code: CFRP_EPARSE (bad bytes, reason in err), CFRP_ETOOBIG (head too
 * large), UV_ENOMEM. */
int http_head_collect(http_head *h, const char *data, size_t len, size_t *consumed,
                      char *err, size_t errlen);

/* Runs http-parser over the complete head in h (after HTTP_DONE from collect) and
 * fills h->hdrs; *start gets the request target (requests) or the reason phrase
 * (responses). *p is left holding method/status/version. 0, CFRP_EPARSE or
 * CFRP_ETOOBIG (too many header lines), reason in err. */
int http_head_tokenize(http_head *h, struct http_parser *p, int type, const char **start,
                       size_t *start_len, char *err, size_t errlen);

/* Checks and trims the header list filled by the parser callbacks (names are tokens,
 * values have no controls). 0 or CFRP_EPARSE with the reason. */
int http_head_check_headers(http_head *h, char *err, size_t errlen);

/* Case-insensitive comparisons and lookups. */
bool http_token_eq(const char *a, size_t alen, const char *b);
/* Number of headers named name; *first gets the first one (or NULL). */
size_t http_header_count(const http_header *hdrs, size_t n, const char *name,
                         const http_header **first);
/* True if some header named name has token (comma-separated, case-insensitive). */
bool http_header_has_token(const http_header *hdrs, size_t n, const char *name,
                           const char *token);

bool http_is_tchar(unsigned char c);

/* Writes Go's canonical form of a header name (textproto.CanonicalMIMEHeaderKey:
 * first letter and letters after '-' upper case, the rest lower case) into dst,
 * which must hold len bytes. Names with non-token bytes are copied unchanged. */
void http_canonical_name(char *dst, const char *name, size_t len);

/* Content-Length checks shared by requests and responses: all values must be equal
 * decimal numbers. Returns 0 (with *present, *value) or CFRP_EPARSE. */
int http_head_content_length(const http_header *hdrs, size_t n, bool *present,
                             uint64_t *value, char *err, size_t errlen);

#endif
