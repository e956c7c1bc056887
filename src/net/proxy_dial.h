/* Reaching frps through a forward proxy (frpc transport.proxyURL, protocol.md 1.1): the
 * URL parser and the handshake run on a freshly connected stream, HTTP CONNECT or SOCKS5
 * (RFC 1928 with RFC 1929 username/password), byte for byte as frp v0.61.1 sends them. */
#ifndef CFRP_NET_PROXY_DIAL_H
#define CFRP_NET_PROXY_DIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "net/stream.h"

enum proxy_kind { PROXY_HTTP, PROXY_SOCKS5 };

struct proxy_url {
    enum proxy_kind kind;
    char host[256]; /* without brackets for IPv6 */
    int port;
    bool auth; /* user and pass were given (pass may be empty) */
    char user[256];
    char pass[256];
};

/* Parses "http://[user:pass@]host:port" or "socks5://...". The port defaults to 80 for
 * http and 1080 for socks5. Returns 0, or CFRP_EINVAL with the reason in err (the
 * "ntlm" scheme is refused as not supported by this build). */
int proxy_url_parse(const char *url, struct proxy_url *out, char *err, size_t errlen);

typedef struct proxy_req proxy_req;

/* status 0: s has reached host:port through the proxy, reading is stopped, and s is
 * owned by the callee. status < 0: s has been closed, err says why. */
typedef void (*proxy_cb)(stream *s, int status, const char *err, void *arg);

/* Takes s (connected to the proxy) and asks the proxy for host:port. Returns 0 (cb runs
 * later, never inside this call) or a negative code (s is closed, cb will not run). *out,
 * if non-NULL, is valid until cb runs, for proxy_cancel. */
int proxy_handshake(stream *s, const struct proxy_url *pu, const char *host, int port,
                    proxy_cb cb, void *arg, proxy_req **out);

/* Aborts a handshake whose callback has not run: closes the stream, cb never runs. */
void proxy_cancel(proxy_req *r);

#endif
