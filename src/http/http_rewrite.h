/* What frps's HTTP reverse proxy sends on: the request head written to the work
 * connection and the response head written back to the user, serialised the way
 * Go's net/http writes them (see spec protocol.md 6.3, vectors/http-vhost.txt).
 *
 * Request: "<METHOD> <target> HTTP/1.1", Host (hostHeaderRewrite or the original),
 * User-Agent (only if the client sent one), the body framing (Content-Length or
 * Transfer-Encoding: chunked), then the other headers sorted by canonical name, hop-by-
 * hop headers removed (Connection and what it names, Proxy-Connection, Keep-Alive,
 * Proxy-Authenticate, Proxy-Authorization, Te except "trailers", Trailer,
 * Transfer-Encoding, Upgrade), Forwarded dropped, X-Forwarded-For appended to,
 * X-Forwarded-Host/Proto set, requestHeaders.set applied, upgrades kept. Go's
 * transport would also add "Accept-Encoding: gzip" and gunzip the answer; cfrp does
 * not (docs/ARCHITECTURE.md, "Known differences from frp v0.61.1").
 *
 * Response: "HTTP/1.1 <code> <Go status text>", the backend's headers minus hop-by-hop
 * ones with responseHeaders.set applied, sorted, then Date (when absent), a sniffed
 * Content-Type, Connection: close and Transfer-Encoding: chunked as Go's server adds
 * them. */
#ifndef CFRP_HTTP_REWRITE_H
#define CFRP_HTTP_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "http/http_request.h"
#include "http/http_response.h"

/* One configured header (NUL-terminated strings owned by the caller). */
typedef struct http_kv {
    const char *name;
    const char *value;
} http_kv;

struct http_rewrite_req_opts {
    const char *host_rewrite;   /* hostHeaderRewrite; NULL or "" keeps the Host */
    const http_kv *set_headers; /* requestHeaders.set */
    size_t nset;
    const char *client_ip;      /* user's IP without port; NULL drops X-Forwarded-For */
    bool tls;                   /* X-Forwarded-Proto: https instead of http */
};

/* Builds the request head for the backend. *out is malloc'd (caller frees) and holds
 * *outlen bytes, ending with the empty line. The body to send after it is framed as
 * req->body says (a chunked body passes through unchanged). Returns 0, CFRP_EINVAL
 * (a configured header name/value is not valid, reason in err) or UV_ENOMEM. */
int http_rewrite_request(const http_request *req, const struct http_rewrite_req_opts *o,
                         char **out, size_t *outlen, char *err, size_t errlen);

/* Re-serialises a CONNECT request as Go's Request.Write does for frps's vhost CONNECT
 * handler: all headers kept, sorted, User-Agent "Go-http-client/1.1" when absent. */
int http_rewrite_connect(const http_request *req, char **out, size_t *outlen);

struct http_rewrite_resp_opts {
    const http_kv *set_headers; /* responseHeaders.set */
    size_t nset;
    int client_minor;           /* the user's request was HTTP/1.<minor> */
    bool client_close;          /* the user's connection ends after this response */
    time_t now;                 /* for the Date header */
    const char *content_type;   /* a sniffed type to add (http_rewrite_response_sniffs), or NULL */
};

/* Builds the response head for the user. *out_body says how the body must be written
 * after it: LENGTH (copy content_length bytes), CHUNKED (chunked coding: pass a chunked
 * backend body through, or chunk-encode a close-delimited one), CLOSE (copy until the
 * backend closes, then close), NONE or TUNNEL. Returns 0, CFRP_EINVAL or UV_ENOMEM. */
int http_rewrite_response(const http_response *resp, const struct http_rewrite_resp_opts *o,
                          char **out, size_t *outlen, enum http_body *out_body, char *err,
                          size_t errlen);

/* True when Go's server would add a sniffed Content-Type to this response as frps
 * passes it on: a body may follow (not HEAD, 1xx, 204, 304, a tunnel or
 * Content-Length: 0), and neither a Content-Type (after the hop-by-hop headers go and
 * o->set_headers apply) nor a non-empty Content-Encoding is present. Go then sniffs
 * the first bytes it writes (http_sniff) and places the header after Date. */
bool http_rewrite_response_sniffs(const http_response *resp, const struct http_rewrite_resp_opts *o);

/* Go's http.StatusText (empty string for unknown codes). */
const char *http_status_text(int code);

/* Writes Go's http.TimeFormat ("Mon, 02 Jan 2006 15:04:05 GMT") of t into out
 * (at least 30 bytes); returns the length (29). */
size_t http_date(time_t t, char *out);

#endif
