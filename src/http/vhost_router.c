/* vhost routing table: a hash of domains, each with its routes sorted by user and by
 * location in descending byte order. */
#include "http/vhost_router.h"

#include "base/hash.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

#define VR_NAME_MAX 1024 /* longest domain considered in a lookup */

typedef struct vr_route {
    char *location; /* owned */
    char *user;     /* owned */
    void *payload;  /* not owned */
} vr_route;

/* One domain's routes; owns domain, routes and their strings. */
typedef struct vr_domain {
    char *domain;
    vr_route *routes;
    size_t n, cap;
    struct vr_domain *next;
} vr_domain;

struct vhost_router {
    vr_domain **buckets; /* owned, nbuckets chains */
    size_t nbuckets;
    size_t ndomains;
    size_t nroutes;
};


vhost_router *vhost_router_new(void)
{
    vhost_router *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->nbuckets = 64;
    r->buckets = calloc(r->nbuckets, sizeof(vr_domain *));
    if (!r->buckets) {
        free(r);
        return NULL;
    }
    return r;
}

static void vr_domain_free(vr_domain *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->routes[i].location);
        free(d->routes[i].user);
    }
    free(d->routes);
    free(d->domain);
    free(d);
}

void vhost_router_free(vhost_router *r)
{
    if (!r)
        return;
    for (size_t b = 0; b < r->nbuckets; b++) {
        vr_domain *d = r->buckets[b];
        while (d) {
            vr_domain *next = d->next;
            vr_domain_free(d);
            d = next;
        }
    }
    free(r->buckets);
    free(r);
}

size_t vhost_router_count(const vhost_router *r)
{
    return r->nroutes;
}

size_t vhost_router_domains(const vhost_router *r)
{
    return r->ndomains;
}

static vr_domain *vr_find(const vhost_router *r, const char *dom, size_t n)
{
    vr_domain *d = r->buckets[hash_fnv1a(dom, n) % r->nbuckets];
    for (; d; d = d->next)
        if (strlen(d->domain) == n && memcmp(d->domain, dom, n) == 0)
            return d;
    return NULL;
}

/* Unlinks an empty domain from its chain and frees it, so that domains which come
 * and go (frpc proxies registered and closed) do not accumulate. */
static void vr_drop_domain(vhost_router *r, vr_domain *d)
{
    vr_domain **pp = &r->buckets[hash_fnv1a(d->domain, strlen(d->domain)) % r->nbuckets];
    while (*pp != d)
        pp = &(*pp)->next;
    *pp = d->next;
    r->ndomains--;
    vr_domain_free(d);
}

static void vr_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

static void vr_rehash(vhost_router *r)
{
    size_t nb = r->nbuckets * 2;
    vr_domain **b = calloc(nb, sizeof(vr_domain *));
    if (!b)
        return; /* keep the smaller table: lookups stay correct, only slower */
    for (size_t i = 0; i < r->nbuckets; i++) {
        vr_domain *d = r->buckets[i];
        while (d) {
            vr_domain *next = d->next;
            size_t k = hash_fnv1a(d->domain, strlen(d->domain)) % nb;
            d->next = b[k];
            b[k] = d;
            d = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = nb;
}

/* Go's cmp.Compare on strings is byte order; routes sort by user, then location
 * descending. */
static int vr_cmp(const char *ua, const char *la, const char *ub, const char *lb)
{
    int c = strcmp(ua, ub);
    if (c != 0)
        return c;
    return -strcmp(la, lb);
}

int vhost_router_add(vhost_router *r, const char *domain, const char *location,
                     const char *http_user, void *payload, char *err, size_t errlen)
{
    location = location ? location : "";
    http_user = http_user ? http_user : "";
    char *dom = strdup(domain ? domain : "");
    if (!dom)
        return UV_ENOMEM;
    vr_lower(dom);
    vr_domain *d = vr_find(r, dom, strlen(dom));
    if (d) {
        for (size_t i = 0; i < d->n; i++) {
            if (strcmp(d->routes[i].user, http_user) == 0 &&
                strcmp(d->routes[i].location, location) == 0) {
                free(dom);
                err_set(err, errlen, "router config conflict");
                return CFRP_EINVAL;
            }
        }
    } else {
        d = calloc(1, sizeof(*d));
        if (!d) {
            free(dom);
            return UV_ENOMEM;
        }
        d->domain = dom;
        dom = NULL;
        size_t k = hash_fnv1a(d->domain, strlen(d->domain)) % r->nbuckets;
        d->next = r->buckets[k];
        r->buckets[k] = d;
        r->ndomains++;
    }
    free(dom);
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 2;
        vr_route *nr = realloc(d->routes, ncap * sizeof(vr_route));
        if (!nr) {
            if (d->n == 0)
                vr_drop_domain(r, d);
            return UV_ENOMEM;
        }
        d->routes = nr;
        d->cap = ncap;
    }
    vr_route nrt = {strdup(location), strdup(http_user), payload};
    if (!nrt.location || !nrt.user) {
        free(nrt.location);
        free(nrt.user);
        if (d->n == 0)
            vr_drop_domain(r, d);
        return UV_ENOMEM;
    }
    size_t pos = d->n;
    while (pos > 0 && vr_cmp(d->routes[pos - 1].user, d->routes[pos - 1].location, nrt.user,
                             nrt.location) > 0) {
        d->routes[pos] = d->routes[pos - 1];
        pos--;
    }
    d->routes[pos] = nrt;
    d->n++;
    r->nroutes++;
    if (r->ndomains > r->nbuckets)
        vr_rehash(r);
    return 0;
}

void vhost_router_del(vhost_router *r, const char *domain, const char *location,
                      const char *http_user)
{
    char dom[VR_NAME_MAX + 1];
    size_t n = strlen(domain ? domain : "");
    if (n > VR_NAME_MAX)
        return;
    memcpy(dom, domain ? domain : "", n + 1);
    vr_lower(dom);
    location = location ? location : "";
    http_user = http_user ? http_user : "";
    vr_domain *d = vr_find(r, dom, n);
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->routes[i].user, http_user) == 0 &&
            strcmp(d->routes[i].location, location) == 0) {
            free(d->routes[i].location);
            free(d->routes[i].user);
            memmove(&d->routes[i], &d->routes[i + 1], (d->n - i - 1) * sizeof(vr_route));
            d->n--;
            r->nroutes--;
            if (d->n == 0)
                vr_drop_domain(r, d);
            return;
        }
    }
}

/* First route of (domain, user) whose location prefixes path. */
static void *vr_get(const vhost_router *r, const char *dom, size_t n, const char *path,
                    size_t path_len, const char *user)
{
    vr_domain *d = vr_find(r, dom, n);
    if (!d)
        return NULL;
    for (size_t i = 0; i < d->n; i++) {
        const vr_route *rt = &d->routes[i];
        if (strcmp(rt->user, user) != 0)
            continue;
        size_t ll = strlen(rt->location);
        if (ll <= path_len && memcmp(rt->location, path, ll) == 0)
            return rt->payload;
    }
    return NULL;
}

static void *vr_get_user(const vhost_router *r, const char *dom, size_t n, const char *path,
                         size_t path_len, const char *user)
{
    void *p = vr_get(r, dom, n, path, path_len, user);
    return p ? p : vr_get(r, dom, n, path, path_len, "");
}

void *vhost_router_lookup(const vhost_router *r, const char *host, const char *path,
                          size_t path_len, const char *user)
{
    char name[VR_NAME_MAX + 2];
    size_t n = strlen(host);
    if (n > VR_NAME_MAX)
        return NULL;
    memcpy(name, host, n + 1);
    vr_lower(name);
    user = user ? user : "";
    path = path ? path : "";
    void *p = vr_get_user(r, name, n, path, path_len, user);
    if (p)
        return p;
    /* Wildcards: replace the first label by '*' while at least 3 labels remain. */
    const char *rest = name;
    for (;;) {
        size_t labels = 1;
        for (const char *c = rest; *c; c++)
            labels += *c == '.';
        if (labels < 3)
            break;
        const char *dot = strchr(rest, '.');
        char wild[VR_NAME_MAX + 2];
        size_t wl = strlen(dot);
        wild[0] = '*';
        memcpy(wild + 1, dot, wl + 1);
        p = vr_get_user(r, wild, wl + 1, path, path_len, user);
        if (p)
            return p;
        rest = dot + 1;
    }
    return vr_get_user(r, "*", 1, path, path_len, user);
}
