/* frps's fixed HTTP answers: not-found pages, auth challenges, timeouts, tcpmux. */
#include "http/http_pages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "http/http_rewrite.h"

/* The page frp serves when no route matches (observable output, so it is kept
 * exactly: 489 bytes). */
const char http_page_not_found[] =
    "<!DOCTYPE html>\n"
    "<html>\n"
    "<head>\n"
    "<title>Not Found</title>\n"
    "<style>\n"
    "    body {\n"
    "        width: 35em;\n"
    "        margin: 0 auto;\n"
    "        font-family: Tahoma, Verdana, Arial, sans-serif;\n"
    "    }\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>The page you requested was not found.</h1>\n"
    "<p>Sorry, the page you are looking for is currently unavailable.<br/>\n"
    "Please try again later.</p>\n"
    "<p>The server is powered by <a href=\"https://github.com/fatedier/frp\">frp</a>.</p>\n"
    "<p><em>Faithfully yours, frp.</em></p>\n"
    "</body>\n"
    "</html>\n";
const size_t http_page_not_found_len = sizeof(http_page_not_found) - 1;

const char http_tcpmux_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const char http_tcpmux_407[] =
    "HTTP/1.1 407 Proxy Authentication Required\r\n"
    "Proxy-Authenticate: Basic realm=\"Restricted\"\r\n"
    "Content-Length: 0\r\n\r\n";

int http_page_read_file(const char *path, char **body, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : UV_ENOMEM;
    while (rc == 0) {
        if (n == cap) {
            if (cap >= HTTP_PAGE_FILE_MAX) {
                rc = CFRP_ETOOBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = UV_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = uv_translate_sys_error(errno);
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *body = buf;
    *len = n;
    return 0;
}

/* Builds head (printf) + body into one malloc'd buffer. */
static int build(char **out, size_t *outlen, const char *body, size_t blen, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
static int build(char **out, size_t *outlen, const char *body, size_t blen, const char *fmt,
                 ...)
{
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    int hn = vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    if (hn < 0 || (size_t)hn >= sizeof(head))
        return CFRP_ETOOBIG;
    char *p = malloc((size_t)hn + blen + 1);
    if (!p)
        return UV_ENOMEM;
    memcpy(p, head, (size_t)hn);
    if (blen)
        memcpy(p + hn, body, blen);
    p[(size_t)hn + blen] = 0;
    *out = p;
    *outlen = (size_t)hn + blen;
    return 0;
}

int http_page_tcpmux_404(const char *body, size_t len, char **out, size_t *outlen)
{
    if (!body) {
        body = http_page_not_found;
        len = http_page_not_found_len;
    }
    return build(out, outlen, body, len,
                 "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\nContent-Type: text/html\r\n"
                 "Server: " HTTP_FRP_SERVER "\r\n\r\n",
                 len);
}

static bool sniff_prefix(const char *s, size_t n, const char *sig)
{
    size_t sl = strlen(sig);
    if (n < sl + 1 || strncasecmp(s, sig, sl) != 0)
        return false;
    return s[sl] == ' ' || s[sl] == '>';
}

const char *http_sniff_content_type(const char *body, size_t len)
{
    static const char *const html_sigs[] = {
        "<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT",
        "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--", NULL};
    size_t n = len > 512 ? 512 : len;
    size_t i = 0;
    while (i < n && (body[i] == '\t' || body[i] == '\n' || body[i] == '\x0c' ||
                     body[i] == '\r' || body[i] == ' '))
        i++;
    for (const char *const *s = html_sigs; *s; s++)
        if (sniff_prefix(body + i, n - i, *s))
            return "text/html; charset=utf-8";
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)body[k];
        if (c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f))
            return "application/octet-stream";
    }
    return "text/plain; charset=utf-8";
}

int http_page_vhost_404(const char *body, size_t len, time_t now, bool close, char **out,
                        size_t *outlen)
{
    if (!body) {
        body = http_page_not_found;
        len = http_page_not_found_len;
    }
    char date[32];
    http_date(now, date);
    if (len == 0) /* Go sends no Content-Type for an empty body */
        return build(out, outlen, body, 0, "HTTP/1.1 404 Not Found\r\nDate: %s\r\n"
                     "Content-Length: 0\r\n%s\r\n", date, close ? "Connection: close\r\n" : "");
    return build(out, outlen, body, len,
                 "HTTP/1.1 404 Not Found\r\nDate: %s\r\nContent-Length: %zu\r\n"
                 "Content-Type: %s\r\n%s\r\n",
                 date, len, http_sniff_content_type(body, len),
                 close ? "Connection: close\r\n" : "");
}

int http_page_auth(int status, time_t now, bool close, char **out, size_t *outlen)
{
    bool proxy = status == 407;
    const char *text = proxy ? "Proxy Authentication Required" : "Unauthorized";
    char body[64];
    int bl = snprintf(body, sizeof(body), "%s\n", text);
    char date[32];
    http_date(now, date);
    /* Go canonicalises WWW-Authenticate to Www-Authenticate; headers sorted. */
    return build(out, outlen, body, (size_t)bl,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n%s"
                 "X-Content-Type-Options: nosniff\r\nDate: %s\r\nContent-Length: %d\r\n%s\r\n",
                 proxy ? 407 : 401, text,
                 proxy ? "Proxy-Authenticate: Basic realm=\"Restricted\"\r\n"
                       : "Www-Authenticate: Basic realm=\"Restricted\"\r\n",
                 date, bl,
                 close ? "Connection: close\r\n" : "");
}

int http_page_504(time_t now, bool close, char **out, size_t *outlen)
{
    char date[32];
    http_date(now, date);
    return build(out, outlen, NULL, 0,
                 "HTTP/1.1 504 Gateway Timeout\r\nDate: %s\r\nContent-Length: 0\r\n%s\r\n", date,
                 close ? "Connection: close\r\n" : "");
}

int http_page_bad_request(int status, char **out, size_t *outlen)
{
    const char *text = http_status_text(status);
    if (!*text) {
        status = 400;
        text = "Bad Request";
    }
    return build(out, outlen, NULL, 0,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Connection: close\r\n\r\n%d %s",
                 status, text, status, text);
}
