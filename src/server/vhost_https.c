/* The https vhost (protocol.md 6.4): reads the TLS ClientHello of each connection
 * (within 30 s, possibly over several records), routes by its SNI name without
 * terminating TLS, and hands the untouched byte stream, ClientHello included, to the
 * proxy's work connection. No route: TLS alert unrecognized_name, then close. */
#include <stdlib.h>

#include "base/log.h"
#include "config/client_config.h"
#include "http/sni.h"
#include "server/vhost_internal.h"

#define VH_HELLO_MAX (64 * 1024) /* real ClientHellos are a few KiB */

/* Fatal alert unrecognized_name(112) in a TLS 1.2 record, as Go's frps sends it. */
static const unsigned char https_alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70};

static int https_feed(struct vh_sniff *sn, size_t newlen)
{
    char name[SNI_NAME_MAX + 1];
    int rc = sni_parse((const unsigned char *)sn->raw, sn->len, name);
    if (rc == SNI_NEED_MORE) return 0;
    struct server *svr = sn->vh->svr;
    if (rc < 0) {
        log_debug("https: invalid ClientHello, closing the connection");
        vh_sniff_close(sn);
        return 1;
    }
    if (rc == SNI_NONE) name[0] = '\0';
    struct vh_route *r = vhost_router_lookup(sn->vh->https, name, "", 0, "");
    if (!r) {
        log_debug("http request for host [%s] path [] httpUser [] not found", name);
        vh_write_and_close(svr->loop, vh_sniff_take(sn), https_alert, sizeof https_alert);
        return 1;
    }
    char *raw = sn->raw;
    size_t len = sn->len;
    sn->raw = NULL;
    stream *s = vh_sniff_take(sn);
    char addr[SVR_ADDR_TEXT];
    svr_stream_peer(s, addr);
    s = vh_with_prefix(svr, s, raw, len);
    free(raw);
    if (!s) return 1;
    log_info("[%s] [%s] get a user connection [%s]", r->p->run_id, r->p->cfg->name, addr);
    svr_proxy_handle_user_stream(r->p, s);
    return 1;
}

void vh_https_accept(struct server *svr, stream *s, buf_ref head)
{
    vh_sniff_start(svr, s, head, VH_HELLO_MAX, https_feed, NULL, NULL);
}
