/* NewProxy marshalling per proxy type (see newproxy.h). */
#include "client/newproxy.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Points a msg map at the entries of a config map; allocates the pair array only. */
static int np_map(const struct cfg_strmap *src, msg_strmap *dst)
{
    dst->v = NULL;
    dst->n = 0;
    if (src->n == 0) return 0;
    dst->v = calloc(src->n, sizeof *dst->v);
    if (!dst->v) return UV_ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i].key = src->keys[i];
        dst->v[i].val = src->vals[i];
    }
    dst->n = src->n;
    return 0;
}

static void np_list(const struct cfg_strlist *src, msg_strlist *dst)
{
    dst->v = src->items;
    dst->n = src->items ? src->n : 0;
}

void client_new_proxy_release(msg *m)
{
    msg_new_proxy *np = &m->u.new_proxy;
    free(np->metas.v);
    free(np->annotations.v);
    free(np->headers.v);
    free(np->response_headers.v);
    np->metas.v = np->annotations.v = np->headers.v = np->response_headers.v = NULL;
}

int client_new_proxy_build(const struct cfg_proxy *p, msg *m)
{
    msg_init(m, MSG_NEW_PROXY);
    msg_new_proxy *np = &m->u.new_proxy;
    /* ProxyBaseConfig.MarshalToMsg */
    np->proxy_name = p->name;
    np->proxy_type = p->type;
    np->use_encryption = p->transport.use_encryption;
    np->use_compression = p->transport.use_compression;
    np->bandwidth_limit = p->transport.bandwidth_limit.text;
    const char *mode = p->transport.bandwidth_limit_mode;
    if (mode && strcmp(mode, "client") != 0) np->bandwidth_limit_mode = (char *)mode;
    np->group = p->load_balancer.group;
    np->group_key = p->load_balancer.group_key;
    if (np_map(&p->metadatas, &np->metas) != 0 ||
        np_map(&p->annotations, &np->annotations) != 0)
        goto nomem;

    switch (p->type_id) {
    case CFG_PROXY_TCP:
    case CFG_PROXY_UDP:
        np->remote_port = p->remote_port;
        break;
    case CFG_PROXY_HTTP:
        np_list(&p->custom_domains, &np->custom_domains);
        np->subdomain = p->subdomain;
        np_list(&p->locations, &np->locations);
        np->host_header_rewrite = p->host_header_rewrite;
        np->http_user = p->http_user;
        np->http_pwd = p->http_password;
        if (np_map(&p->request_headers.set, &np->headers) != 0 ||
            np_map(&p->response_headers.set, &np->response_headers) != 0)
            goto nomem;
        np->route_by_http_user = p->route_by_http_user;
        break;
    case CFG_PROXY_HTTPS:
        np_list(&p->custom_domains, &np->custom_domains);
        np->subdomain = p->subdomain;
        break;
    case CFG_PROXY_TCPMUX:
        np_list(&p->custom_domains, &np->custom_domains);
        np->subdomain = p->subdomain;
        np->multiplexer = p->multiplexer;
        np->http_user = p->http_user;
        np->http_pwd = p->http_password;
        np->route_by_http_user = p->route_by_http_user;
        break;
    case CFG_PROXY_STCP:
    case CFG_PROXY_XTCP:
    case CFG_PROXY_SUDP:
        np->sk = p->secret_key;
        np_list(&p->allow_users, &np->allow_users);
        break;
    }
    return 0;
nomem:
    client_new_proxy_release(m);
    return UV_ENOMEM;
}
