/* Incremental, hardened HTTP/1.x request head parser (http-parser underneath) for
 * requests from untrusted clients, including CONNECT for tcpmux.
 *
 * Feed it bytes as they arrive; it copies them until the end of the head and stops
 * there, so whatever follows (body, next request, tunnel bytes) stays with the
 * caller. It rejects anything a downstream server could read differently (request
 * smuggling): conflicting or malformed Content-Length, Transfer-Encoding together
 * with Content-Length, any Transfer-Encoding other than exactly "chunked",
 * Transfer-Encoding in HTTP/1.0, obs-fold, bare CR/LF, NUL, control bytes in values,
 * non-token header names, missing or repeated Host in HTTP/1.1, oversized heads.
 * On error, `status` says which answer to give (400, 417, 431, 501, 505) before
 * closing. Methods are those http-parser knows (GET ... PATCH, WebDAV, ...). */
#ifndef CFRP_HTTP_REQUEST_H
#define CFRP_HTTP_REQUEST_H

#include <http_parser.h>

#include "http/http_head.h"

enum http_target_form {
    HTTP_TARGET_ORIGIN,    /* /path?query */
    HTTP_TARGET_ABSOLUTE,  /* http://host/path?query (proxy form) */
    HTTP_TARGET_AUTHORITY, /* host:port (CONNECT) */
    HTTP_TARGET_ASTERISK   /* * (OPTIONS) */
};

/* A parsed request head. Every pointer points into the parser's buffers and is valid
 * until http_request_reset/http_request_free. Strings are not NUL-terminated. */
typedef struct http_request {
    enum http_method method;
    const char *method_str; /* e.g. "GET" (static) */
    const char *target;     /* request target exactly as sent */
    size_t target_len;
    enum http_target_form form;
    int version_minor; /* HTTP/1.<minor>: 0 or 1 */
    /* Authority used for routing (Go's Request.Host): the target's host[:port] for the
     * absolute and authority forms, else the Host header; may be empty (HTTP/1.0). */
    const char *host;
    size_t host_len;
    /* Path percent-decoded (Go's URL.Path), used for location matching; raw_path is
     * the path as sent ("" for authority/asterisk forms and "http://h" targets). */
    const char *path;
    size_t path_len;
    const char *raw_path;
    size_t raw_path_len;
    const char *query; /* after '?', without it; NULL if the target has no '?' */
    size_t query_len;
    const http_header *headers;
    size_t nheaders;
    enum http_body body; /* NONE, LENGTH or CHUNKED for requests */
    uint64_t content_length;
    bool keep_alive;      /* the client allows another request on this connection */
    bool expect_continue; /* Expect: 100-continue */
    /* Upgrade protocol (e.g. "websocket") when Connection has the "upgrade" token and
     * an Upgrade header is present; else NULL. */
    const char *upgrade;
    size_t upgrade_len;
} http_request;

/* Owns its buffers; init once, reset between requests, free at the end. */
typedef struct http_request_parser {
    http_head head;
    http_parser hp;
    char *path_buf; /* owned: decoded path */
    size_t path_cap;
    int status;     /* after an error: HTTP status to answer with (400 if unsure) */
    http_request req;
} http_request_parser;

void http_request_parser_init(http_request_parser *p);
void http_request_parser_free(http_request_parser *p);
void http_request_parser_reset(http_request_parser *p);

/* Feeds len bytes. Returns HTTP_NEED_MORE (all consumed), HTTP_DONE (p->req is
 * filled; *consumed = bytes up to the end of the head, the rest of data belongs to
 * the body or the next message) or a negative code (CFRP_EPARSE, CFRP_ETOOBIG,
 * UV_ENOMEM) with the reason in err and p->status set. After an error or DONE, call
 * reset before feeding again. */
int http_request_feed(http_request_parser *p, const char *data, size_t len, size_t *consumed,
                      char *err, size_t errlen);

/* frp's CanonicalHost: lower-cases, removes a port (host:port, [v6]:port) and one
 * trailing dot. Writes at most outcap bytes; returns the length, or -1 if the host
 * has a malformed port part (frp then routes with an empty host) or is too long. */
int http_canonical_host(const char *host, size_t len, char *out, size_t outcap);

/* Percent-decodes a URL path as Go's url.PathUnescape does for request paths.
 * out must hold len bytes. Returns the decoded length or -1 for a bad escape. */
int http_path_unescape(const char *in, size_t len, char *out);

/* Finds the first header named name (case-insensitive) in r; NULL if none. */
const http_header *http_request_header(const http_request *r, const char *name);

#endif
