/* Fixed responses frps writes itself, byte for byte as frp v0.61.1 (Go net/http)
 * writes them (spec vectors/http-vhost.txt): the not-found page (built-in or
 * custom404Page), 401/407 auth challenges, 504, tcpmux's 200/407/404, and the plain
 * error answers Go's server gives to malformed requests. Built answers are malloc'd
 * into *out (caller frees). */
#ifndef CFRP_HTTP_PAGES_H
#define CFRP_HTTP_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* frp's built-in not-found page (489 bytes, not NUL-counted). */
extern const char http_page_not_found[];
extern const size_t http_page_not_found_len;

/* tcpmux answers (complete responses). */
extern const char http_tcpmux_ok[];  /* "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" */
extern const char http_tcpmux_407[]; /* 407 with Proxy-Authenticate, Content-Length: 0 */

/* The frp version string in Server headers. */
#define HTTP_FRP_SERVER "frp/0.61.1"

/* Reads custom404Page (at most HTTP_PAGE_FILE_MAX bytes) into a malloc'd *body.
 * Returns 0 or a negative code (UV_* from the read, CFRP_ETOOBIG); the caller then
 * falls back to the built-in page (frp logs "read custom 404 page error"). Blocking:
 * run it off the loop thread. */
#define HTTP_PAGE_FILE_MAX (4 * 1024 * 1024)
int http_page_read_file(const char *path, char **body, size_t *len);

/* tcpmux no-route answer: 404 head (Content-Length, Content-Type: text/html,
 * Server: frp/0.61.1) + body. body NULL = built-in page. */
int http_page_tcpmux_404(const char *body, size_t len, char **out, size_t *outlen);

/* vhost not-found answer through Go's server: Date, Content-Length, the sniffed
 * Content-Type, then "Connection: close" when close is set. body NULL = built-in. */
int http_page_vhost_404(const char *body, size_t len, time_t now, bool close, char **out,
                        size_t *outlen);

/* vhost auth failure: status 401 (WWW-Authenticate) or 407 (Proxy-Authenticate),
 * Basic realm="Restricted", text/plain body "<status text>\n" as http.Error writes. */
int http_page_auth(int status, time_t now, bool close, char **out, size_t *outlen);

/* vhost 504 (response header timeout): empty body, Content-Length: 0. */
int http_page_504(time_t now, bool close, char **out, size_t *outlen);

/* Go server's answer to an unreadable request (400, 417, 431, 501, 505 ...):
 * "HTTP/1.1 <code> <text>", text/plain, Connection: close, body "<code> <text>". */
int http_page_bad_request(int status, char **out, size_t *outlen);

/* Go's http.DetectContentType, reduced to what pages need: HTML documents give
 * "text/html; charset=utf-8", other text "text/plain; charset=utf-8", else
 * "application/octet-stream". */
const char *http_sniff_content_type(const char *body, size_t len);

#endif
