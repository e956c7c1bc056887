/* The tcpmux HTTP CONNECT port (protocol.md 6.5): reads one request head within 30 s;
 * anything but CONNECT is closed without answer; the CONNECT host (and the
 * Proxy-Authorization user, for routeByHTTPUser and the password check alike) picks
 * the route. No route: frp's 404 page. Otherwise "200" (unless tcpmuxPassthrough),
 * then 407 if the route's credentials do not match, else the connection is joined
 * with a work connection: after the head (bytes that came with the head are dropped,
 * as frp's parser swallows them), or from the first byte with passthrough. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "http/http_auth.h"
#include "http/http_pages.h"
#include "http/http_request.h"
#include "server/vhost_internal.h"

static void tcpmux_free_ext(struct vh_sniff *sn)
{
    http_request_parser *p = sn->ext;
    if (!p) return;
    http_request_parser_free(p);
    free(p);
}

static int tcpmux_feed(struct vh_sniff *sn, size_t newlen)
{
    http_request_parser *p = sn->ext;
    struct svr_vhost *vh = sn->vh;
    struct server *svr = vh->svr;
    char err[256];
    size_t used = 0;
    int rc = http_request_feed(p, sn->raw + sn->len - newlen, newlen, &used, err, sizeof err);
    if (rc == HTTP_NEED_MORE) return 0;
    if (rc < 0 || p->req.method != HTTP_CONNECT) {
        if (rc < 0) log_debug("tcpmux: bad request: %s", err);
        vh_sniff_close(sn);
        return 1;
    }
    const http_request *req = &p->req;
    char host[256];
    int hl = http_canonical_host(req->host, req->host_len, host, sizeof host);
    if (hl < 0) hl = 0;
    host[hl] = '\0';
    http_creds cr;
    http_auth_tcpmux_creds(req, &cr);
    struct vh_route *r = vhost_router_lookup(vh->tcpmux, host, "", 0, cr.ok ? cr.user : "");
    if (!r) {
        log_debug("http request for host [%s] path [] httpUser [%s] not found", host,
                  cr.ok ? cr.user : "");
        vh_not_found_close(svr, vh_sniff_take(sn));
        return 1;
    }
    bool passthrough = svr->cfg->tcpmux_passthrough;
    const struct cfg_proxy *pc = r->p->cfg;
    if (!http_auth_tcpmux_ok(&cr, pc->http_user, pc->http_password)) {
        size_t ol = strlen(http_tcpmux_ok), al = strlen(http_tcpmux_407);
        char ans[512];
        size_t n = 0;
        if (!passthrough && ol + al <= sizeof ans) {
            memcpy(ans, http_tcpmux_ok, ol);
            n = ol;
        }
        memcpy(ans + n, http_tcpmux_407, al);
        n += al;
        vh_write_and_close(svr->loop, vh_sniff_take(sn), ans, n);
        return 1;
    }
    char *raw = sn->raw;
    size_t len = sn->len;
    sn->raw = NULL;
    stream *s = vh_sniff_take(sn);
    char addr[SVR_ADDR_TEXT];
    svr_stream_peer(s, addr);
    if (passthrough) {
        s = vh_with_prefix(svr, s, raw, len);
    } else if (stream_write_copy(s, http_tcpmux_ok, strlen(http_tcpmux_ok), NULL, NULL)) {
        stream_close(s);
        s = NULL;
    }
    free(raw);
    if (!s) return 1;
    log_info("[%s] [%s] get a user connection [%s]", r->p->run_id, pc->name, addr);
    svr_proxy_handle_user_stream(r->p, s);
    return 1;
}

void vh_tcpmux_accept(struct server *svr, stream *s, buf_ref head)
{
    http_request_parser *p = malloc(sizeof *p);
    if (!p) {
        buf_ref_release(&head);
        stream_close(s);
        return;
    }
    http_request_parser_init(p);
    vh_sniff_start(svr, s, head, HTTP_HEAD_MAX + BUF_CHUNK_SIZE, tcpmux_feed, tcpmux_free_ext, p);
}
