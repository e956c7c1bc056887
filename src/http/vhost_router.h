/* frp's vhost routing table (pkg/util/vhost router semantics, spec protocol.md 6.3):
 * routes keyed by (domain, location, route_by_http_user) with an opaque payload.
 * Lookup order: the exact host, then wildcards made by replacing the first label
 * with "*" while the name has at least 3 labels (a.b.example.com -> *.b.example.com
 * -> *.example.com), then "*"; per candidate domain the routes of the request's user
 * before those registered without a user; within one list the locations in
 * descending byte order, the first that is a prefix of the path wins.
 * Pure data structure: no I/O, no locking (one loop owns it). */
#ifndef CFRP_HTTP_VHOST_ROUTER_H
#define CFRP_HTTP_VHOST_ROUTER_H

#include <stddef.h>

typedef struct vhost_router vhost_router;

/* NULL when out of memory. Free with vhost_router_free (payloads are not freed). */
vhost_router *vhost_router_new(void);
void vhost_router_free(vhost_router *r);

/* Registers a route; the domain is lower-cased, location and user are kept as given
 * (NULL = ""). An identical triple already present: CFRP_EINVAL with
 * "router config conflict" in err. UV_ENOMEM when out of memory. */
int vhost_router_add(vhost_router *r, const char *domain, const char *location,
                     const char *http_user, void *payload, char *err, size_t errlen);

/* Removes the route of this triple, if any; a domain left without routes is freed. */
void vhost_router_del(vhost_router *r, const char *domain, const char *location,
                      const char *http_user);

/* Full lookup with the wildcard and user fallbacks above. host must already be
 * canonical (http_canonical_host); it is lower-cased again here. path is the decoded
 * URL path ("" for https/tcpmux); user is the request's basic-auth user ("" if none).
 * Returns the payload or NULL. */
void *vhost_router_lookup(const vhost_router *r, const char *host, const char *path,
                          size_t path_len, const char *user);

/* Number of routes held. */
size_t vhost_router_count(const vhost_router *r);

/* Number of distinct domains holding at least one route. */
size_t vhost_router_domains(const vhost_router *r);

#endif
