/* proxyBindAddr to a socket address, with a process-wide cache of looked-up names
 * (design.md: no DNS on the event loop; the address is configuration and does not
 * change while frps runs, so one lookup per name is enough). */
#include "server/bind_addr.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

#define BA_NAME_MAX 253 /* longest DNS name */
#define BA_SLOTS 4      /* distinct names remembered; one is the usual case */

/* One remembered lookup; ok false: the name did not resolve. */
struct ba_slot {
    char host[BA_NAME_MAX + 1];
    bool used, ok;
    struct sockaddr_storage ss; /* port 0 */
    socklen_t len;
};

static uv_once_t ba_once = UV_ONCE_INIT;
static uv_mutex_t ba_lock;
static struct ba_slot ba_slots[BA_SLOTS]; /* guarded by ba_lock */

static void ba_init(void)
{
    if (uv_mutex_init(&ba_lock) != 0) abort();
}

/* The blocking lookup: Go's listeners take the first IPv4 address, else the first. */
static bool ba_lookup(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return false;
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    bool ok = pick->ai_addrlen <= sizeof *ss;
    if (ok) {
        memset(ss, 0, sizeof *ss);
        memcpy(ss, pick->ai_addr, pick->ai_addrlen);
        *len = pick->ai_addrlen;
    }
    freeaddrinfo(res);
    return ok;
}

/* The cached outcome for host, looking it up on first use. */
static bool ba_name(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
    if (strlen(host) > BA_NAME_MAX) return false;
    uv_once(&ba_once, ba_init);
    uv_mutex_lock(&ba_lock);
    struct ba_slot *slot = NULL;
    for (size_t i = 0; i < BA_SLOTS && !slot; i++)
        if (ba_slots[i].used && strcmp(ba_slots[i].host, host) == 0) slot = &ba_slots[i];
    bool ok;
    if (slot) {
        ok = slot->ok;
        *ss = slot->ss;
        *len = slot->len;
    } else {
        ok = ba_lookup(host, ss, len);
        for (size_t i = 0; i < BA_SLOTS && !slot; i++)
            if (!ba_slots[i].used) slot = &ba_slots[i];
        if (slot) { /* more names than slots: the rest are looked up each time */
            slot->used = true;
            slot->ok = ok;
            strcpy(slot->host, host);
            if (ok) {
                slot->ss = *ss;
                slot->len = *len;
            }
        }
    }
    uv_mutex_unlock(&ba_lock);
    return ok;
}

int svr_bind_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) {
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    if (!ba_name(host, ss, len)) return CFRP_ENOTFOUND;
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

int svr_bind_host(const char *host, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    bool literal = uv_ip4_addr(host, 0, (struct sockaddr_in *)&ss) == 0 ||
                   uv_ip6_addr(host, 0, (struct sockaddr_in6 *)&ss) == 0;
    if (!*host || literal) {
        if (strlen(host) >= outlen) return UV_EINVAL;
        strcpy(out, host);
        return 0;
    }
    if (svr_bind_addr(host, 0, &ss, &len) != 0) return CFRP_ENOTFOUND;
    return uv_ip_name((struct sockaddr *)&ss, out, outlen);
}
