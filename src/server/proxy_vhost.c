/* The http, https and tcpmux proxy kinds (frp's server/proxy/http.go, https.go,
 * tcpmux.go): each registers one route per custom domain (empty ones skipped) and for
 * <subdomain>.<subDomainHost>, times each location for http, in the vhost routing
 * table of its kind, and answers NewProxy with the domains as "host[:port]" joined by
 * commas (port left out when it is 80 or 443). Closing removes the routes and drops
 * the idle keep-alive work connections of http routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "server/vhost_internal.h"

struct vh_impl {
    vhost_router *router;   /* the kind's table (not owned) */
    struct vh_route *routes; /* owned array */
    size_t n;
};

static vhost_router *vh_router_of(struct svr_proxy *p)
{
    struct svr_vhost *vh = p->svr->vhost;
    if (p->kind == &svr_proxy_http) return vh->http;
    if (p->kind == &svr_proxy_https) return vh->https;
    return vh->tcpmux;
}

static const char *vh_user_of(const struct svr_proxy *p)
{
    if (p->kind == &svr_proxy_https) return "";
    return p->cfg->route_by_http_user ? p->cfg->route_by_http_user : "";
}

/* Appends "host" or "host:port" (frp's util.CanonicalAddr) and a separating comma. */
static void vh_addr_append(char *out, size_t cap, const char *host, int64_t port)
{
    size_t used = strlen(out);
    if (used >= cap) return;
    if (port == 80 || port == 443)
        snprintf(out + used, cap - used, "%s%s", used ? "," : "", host);
    else
        snprintf(out + used, cap - used, "%s%s:%lld", used ? "," : "", host, (long long)port);
}

static void vh_unregister(struct svr_proxy *p)
{
    struct vh_impl *im = p->impl;
    const char *user = vh_user_of(p);
    for (size_t i = 0; i < im->n; i++) {
        struct vh_route *r = &im->routes[i];
        if (r->registered) vhost_router_del(im->router, r->domain, r->location, user);
        r->registered = false;
        vh_route_drop_idle(r);
    }
}

static int vh_run(struct svr_proxy *p, char *remote_addr, size_t cap, char *err, size_t errlen)
{
    const struct cfg_proxy *pc = p->cfg;
    const struct frps_config *sc = p->svr->cfg;
    bool http = p->kind == &svr_proxy_http;
    size_t nloc = http && pc->locations.n ? pc->locations.n : 1;
    size_t ndom = pc->custom_domains.n + (pc->subdomain && *pc->subdomain ? 1 : 0);
    struct vh_impl *im = calloc(1, sizeof *im);
    if (!im) return UV_ENOMEM;
    im->router = vh_router_of(p);
    im->routes = calloc(ndom * nloc + 1, sizeof *im->routes);
    p->impl = im;
    if (!im->routes) return UV_ENOMEM;
    int64_t port = http ? sc->vhost_http_port
                        : p->kind == &svr_proxy_https ? sc->vhost_https_port : sc->tcpmux_http_connect_port;
    const char *user = vh_user_of(p);
    const char *group = pc->load_balancer.group ? pc->load_balancer.group : "";
    remote_addr[0] = '\0';
    for (size_t d = 0; d < ndom; d++) {
        char *domain;
        if (d < pc->custom_domains.n) {
            if (!pc->custom_domains.items[d] || !*pc->custom_domains.items[d]) continue;
            domain = strdup(pc->custom_domains.items[d]);
        } else if (asprintf(&domain, "%s.%s", pc->subdomain, sc->sub_domain_host) < 0) {
            domain = NULL;
        }
        if (!domain) goto oom;
        for (size_t l = 0; l < nloc; l++) {
            struct vh_route *r = &im->routes[im->n];
            const char *loc = http && pc->locations.n ? pc->locations.items[l] : "";
            r->p = p;
            r->domain = l == 0 ? domain : strdup(domain);
            r->location = strdup(loc ? loc : "");
            list_init(&r->idle);
            im->n++;
            if (!r->domain || !r->location) goto oom;
            int rc = vhost_router_add(im->router, r->domain, r->location, user, r, err, errlen);
            if (rc) {
                vh_unregister(p);
                return rc;
            }
            r->registered = true;
            vh_addr_append(remote_addr, cap, r->domain, port);
            if (http)
                log_info("[%s] [%s] http proxy listen for host [%s] location [%s] group [%s], "
                         "routeByHTTPUser [%s]", p->run_id, pc->name, r->domain, r->location, group, user);
            else if (p->kind == &svr_proxy_https)
                log_info("[%s] [%s] https proxy listen for host [%s]", p->run_id, pc->name, r->domain);
            else
                log_info("[%s] [%s] tcpmux httpconnect multiplexer listens for host [%s], group [%s] "
                         "routeByHTTPUser [%s]", p->run_id, pc->name, r->domain, group, user);
        }
    }
    return 0;
oom:
    vh_unregister(p);
    err_set(err, errlen, "out of memory");
    return UV_ENOMEM;
}

static void vh_close(struct svr_proxy *p)
{
    vh_unregister(p);
}

static void vh_destroy(struct svr_proxy *p)
{
    struct vh_impl *im = p->impl;
    for (size_t i = 0; im->routes && i < im->n; i++) {
        free(im->routes[i].domain);
        free(im->routes[i].location);
    }
    free(im->routes);
    free(im);
}

const struct svr_proxy_kind svr_proxy_http = {
    .type = "http", .used_ports = 0, .run = vh_run, .close = vh_close, .destroy = vh_destroy};
const struct svr_proxy_kind svr_proxy_https = {
    .type = "https", .used_ports = 0, .run = vh_run, .close = vh_close, .destroy = vh_destroy};
const struct svr_proxy_kind svr_proxy_tcpmux = {
    .type = "tcpmux", .used_ports = 0, .run = vh_run, .close = vh_close, .destroy = vh_destroy};
