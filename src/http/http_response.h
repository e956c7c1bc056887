/* Incremental HTTP/1.x response head parser for responses coming back from the local
 * service (through frpc), with the same bounds and strictness as the request parser,
 * and the framing rules of RFC 9112 6.3: no body for HEAD, 1xx, 204 and 304; 101 and
 * a 2xx to CONNECT turn the connection into a tunnel; chunked wins over
 * Content-Length (which is then dropped, as Go does); otherwise Content-Length, else
 * the body runs until the connection closes. A Transfer-Encoding other than
 * "chunked" is refused, as Go's client refuses it. */
#ifndef CFRP_HTTP_RESPONSE_H
#define CFRP_HTTP_RESPONSE_H

#include <http_parser.h>

#include "http/http_head.h"

/* Pointers are valid until http_response_parser_reset/free. */
typedef struct http_response {
    int status;              /* 100..999 */
    const char *reason;      /* reason phrase as sent (may be empty) */
    size_t reason_len;
    int version_minor;       /* HTTP/1.<minor> */
    const http_header *headers;
    size_t nheaders;
    enum http_body body;     /* NONE, LENGTH, CHUNKED, CLOSE or TUNNEL */
    uint64_t content_length; /* for LENGTH */
    bool has_content_length; /* a Content-Length header is present and applies */
    bool interim;            /* 1xx other than 101: a final response follows */
    bool keep_alive;         /* the backend connection may carry another request */
} http_response;

typedef struct http_response_parser {
    http_head head;
    http_parser hp;
    http_response resp;
} http_response_parser;

void http_response_parser_init(http_response_parser *p);
void http_response_parser_free(http_response_parser *p);
void http_response_parser_reset(http_response_parser *p);

/* Feeds len bytes of a response to a request with method req_method. Returns
 * HTTP_NEED_MORE, HTTP_DONE (p->resp filled; *consumed bytes used) or a negative code
 * (CFRP_EPARSE, CFRP_ETOOBIG, UV_ENOMEM) with the reason in err. */
int http_response_feed(http_response_parser *p, enum http_method req_method, const char *data,
                       size_t len, size_t *consumed, char *err, size_t errlen);

#endif
