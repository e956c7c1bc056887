/* frp frames on streams for frps: writing one message as one frame, feeding received
 * bytes to a frame reader, and Go-style address and error texts for log lines. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "net/tcp.h"
#include "proto/ipaddr.h"
#include "server/svr_internal.h"

int svr_send_msg(stream *s, const msg *m, stream_write_cb cb, void *arg)
{
    char frame[MSG_FRAME_MAX];
    size_t len;
    int rc = msg_frame_encode(m, frame, sizeof frame, &len);
    if (rc) return rc;
    return stream_write_copy(s, frame, len, cb, arg);
}

int svr_feed_msgs(msg_reader *r, const char *data, size_t len, size_t *used, svr_msg_fn fn,
                  void *arg, char *err, size_t errlen)
{
    size_t off = 0;
    while (off < len) {
        size_t n = 0;
        msg m;
        int rc = msg_reader_feed(r, data + off, len - off, &n, &m, err, errlen);
        off += n;
        if (rc < 0) return rc;
        if (rc == 0) break;
        rc = fn(arg, &m);
        if (rc != 0) {
            *used = off;
            return rc;
        }
    }
    *used = off;
    return 0;
}

static void svr_addr_text(const stream *s, bool peer, char out[SVR_ADDR_TEXT])
{
    struct sockaddr_storage ss;
    out[0] = '\0';
    int (*fn)(const stream *, struct sockaddr_storage *) =
        peer ? s->ops->peer_addr : s->ops->local_addr;
    if (fn && fn(s, &ss) == 0) tcp_format_addr(out, SVR_ADDR_TEXT, (struct sockaddr *)&ss);
}

void svr_stream_peer(const stream *s, char out[SVR_ADDR_TEXT])
{
    svr_addr_text(s, true, out);
}

void svr_stream_local(const stream *s, char out[SVR_ADDR_TEXT])
{
    svr_addr_text(s, false, out);
}

/* ip holds at most 45 address characters, '%' and a zone of IF_NAMESIZE - 1
 * characters or 10 digits: it fits in 64. */
void svr_sockaddr_ip(const struct sockaddr *sa, char ip[64], uint16_t *port)
{
    uint8_t raw[16];
    ip[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memset(raw, 0, 10);
        raw[10] = raw[11] = 0xff;
        memcpy(raw + 12, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(raw, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
    } else {
        return;
    }
    char text[IPADDR_TEXT];
    ipaddr_format(raw, text);
    memcpy(ip, text, strlen(text) + 1);
    /* Go's address text keeps a link-local peer's zone, by interface name or, for an
     * index without one, by number (protocol.md 6.9: "fe80::1%eth0"). */
    uint32_t scope = sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_scope_id : 0;
    if (scope != 0) {
        char name[IF_NAMESIZE];
        size_t n = strlen(ip);
        if (if_indextoname(scope, name))
            snprintf(ip + n, 64 - n, "%%%s", name);
        else
            snprintf(ip + n, 64 - n, "%%%" PRIu32, scope);
    }
}

const char *svr_err_text(int code)
{
    if (code == UV_EOF) return "EOF";
    if (code == CFRP_ETIMEOUT) return "i/o timeout";
    return err_str(code);
}
