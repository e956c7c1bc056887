/* Content-Type sniffing as Go's net/http does it (http.DetectContentType, the WHATWG
 * MIME Sniffing Standard's table as Go applies it): frps's reverse proxy adds the
 * result to a response whose backend sent a body but no Content-Type. */
#ifndef CFRP_HTTP_SNIFF_H
#define CFRP_HTTP_SNIFF_H

#include <stddef.h>

#define HTTP_SNIFF_LEN 512 /* bytes the algorithm looks at, at most */

/* The MIME type of a body that starts with data (only the first HTTP_SNIFF_LEN bytes
 * count): a static string, "application/octet-stream" when nothing more specific
 * matches. An empty body is "text/plain; charset=utf-8", as in Go. */
const char *http_sniff(const void *data, size_t len);

#endif
