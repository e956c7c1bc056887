/* HTTP Basic authentication for the vhost and tcpmux front doors.
 *
 * decisions.md #2 (frp 0.68.1's fix, CVE-2026-40910): the credentials whose password
 * is checked come from the same header as the user that selected the route. For a
 * request in absolute form (proxy style, `GET http://...`), that is
 * Proxy-Authorization (and a failure answers 407); otherwise Authorization (401).
 * An absolute-form request without Proxy-Authorization is routed by its
 * Authorization user, as frp does, but can then only pass a route without a
 * password. */
#ifndef CFRP_HTTP_AUTH_H
#define CFRP_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http_request.h"

#define HTTP_AUTH_MAX 256 /* bound on user and password, NUL included */

typedef struct http_creds {
    bool ok;                  /* a Basic credential was present and well-formed */
    char user[HTTP_AUTH_MAX]; /* NUL-terminated */
    char pass[HTTP_AUTH_MAX];
} http_creds;

/* Parses a header value "Basic <base64(user:pass)>" (scheme case-insensitive, strict
 * padded base64). Returns 0 (c->ok set) or CFRP_EPARSE (c->ok false, c zeroed). */
int http_auth_parse_basic(const char *value, size_t len, http_creds *c);

/* Compares two NUL-terminated secrets in time independent of where they differ. */
bool http_auth_equal(const char *a, const char *b);

/* The user to route an http vhost request by (see above); "" if none. */
void http_auth_route_user(const http_request *r, char *user, size_t cap);

/* Checks a vhost request against its route's httpUser/httpPassword (NULL = "").
 * Returns 0 when allowed, else the status to answer: 401 (origin form) or 407
 * (absolute form). */
int http_auth_check(const http_request *r, const char *route_user, const char *route_pwd);

/* tcpmux: credentials from Proxy-Authorization (route user and check alike). When the
 * route has a user set, both user and password must match (frp's rule). */
void http_auth_tcpmux_creds(const http_request *r, http_creds *c);
bool http_auth_tcpmux_ok(const http_creds *c, const char *route_user, const char *route_pwd);

#endif
