/* frps's remote-port manager for tcp and udp proxies (frp's server/ports): the set of
 * allowed ports, the ports in use, random choice for remotePort = 0 and a 24-hour
 * reservation of each proxy name's last port. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "server/bind_addr.h"
#include "server/svr_internal.h"

#define PORTS_N 65536
#define PORTS_WORDS (PORTS_N / 64)

/* The last port a proxy name held. */
struct port_resv {
    int port;
    bool closed;
    uint64_t update_ms;
};

/* Owns the map's entries (struct port_resv). */
struct svr_ports {
    uint64_t free_bits[PORTS_WORDS]; /* allowed and not in use */
    uint64_t used_bits[PORTS_WORDS];
    size_t nfree;
    struct svr_map resv; /* proxy name -> struct port_resv* */
    svr_port_probe_fn probe;
    void *probe_arg;
};

static bool bit_get(const uint64_t *b, int port)
{
    return (b[port >> 6] >> (port & 63)) & 1u;
}
static void bit_set(uint64_t *b, int port, bool on)
{
    if (on)
        b[port >> 6] |= 1ull << (port & 63);
    else
        b[port >> 6] &= ~(1ull << (port & 63));
}

static void ports_mark_free(struct svr_ports *pm, int port)
{
    if (port < 0 || port >= PORTS_N || bit_get(pm->free_bits, port)) return;
    bit_set(pm->free_bits, port, true);
    pm->nfree++;
}

static void ports_take(struct svr_ports *pm, int port)
{
    if (bit_get(pm->free_bits, port)) {
        bit_set(pm->free_bits, port, false);
        pm->nfree--;
    }
    bit_set(pm->used_bits, port, true);
}

struct svr_ports *svr_ports_new(const struct cfg_ports_range *r, size_t n, svr_port_probe_fn probe,
                                void *probe_arg)
{
    struct svr_ports *pm = calloc(1, sizeof *pm);
    if (!pm) return NULL;
    svr_map_init(&pm->resv);
    pm->probe = probe;
    pm->probe_arg = probe_arg;
    if (n == 0) {
        for (int p = 1; p < PORTS_N; p++) ports_mark_free(pm, p);
        return pm;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].single > 0) {
            ports_mark_free(pm, (int)(r[i].single < PORTS_N ? r[i].single : -1));
            continue;
        }
        int64_t lo = r[i].start < 0 ? 0 : r[i].start;
        int64_t hi = r[i].end >= PORTS_N ? PORTS_N - 1 : r[i].end;
        for (int64_t p = lo; p <= hi; p++) ports_mark_free(pm, (int)p);
    }
    return pm;
}

static bool resv_free_fn(const char *key, void *val, void *arg)
{
    free(val);
    return true;
}

void svr_ports_free(struct svr_ports *pm)
{
    if (!pm) return;
    svr_map_filter(&pm->resv, resv_free_fn, NULL);
    svr_map_free(&pm->resv);
    free(pm);
}

/* Drops reservations released more than 24 h ago (frp does this hourly). */
static bool resv_expired_fn(const char *key, void *val, void *arg)
{
    struct port_resv *r = val;
    uint64_t now = *(const uint64_t *)arg;
    if (r->closed && now - r->update_ms > SVR_PORT_RESERVE_MS) {
        free(r);
        return true;
    }
    return false;
}

/* The k-th (0-based) free port. */
static int ports_nth_free(const struct svr_ports *pm, size_t k)
{
    for (int w = 0; w < PORTS_WORDS; w++) {
        size_t c = (size_t)__builtin_popcountll(pm->free_bits[w]);
        if (k >= c) {
            k -= c;
            continue;
        }
        uint64_t bits = pm->free_bits[w];
        while (k--) bits &= bits - 1;
        return w * 64 + __builtin_ctzll(bits);
    }
    return -1;
}

static int ports_commit(struct svr_ports *pm, const char *name, int port, uint64_t now)
{
    struct port_resv *r = svr_map_get(&pm->resv, name);
    if (!r) {
        r = malloc(sizeof *r);
        if (!r || svr_map_set(&pm->resv, name, r)) {
            free(r);
            return UV_ENOMEM;
        }
    }
    r->port = port;
    r->closed = false;
    r->update_ms = now;
    ports_take(pm, port);
    return port;
}

int svr_ports_acquire(struct svr_ports *pm, const char *name, int port, uint64_t now_ms, char *err,
                      size_t errlen)
{
    svr_map_filter(&pm->resv, resv_expired_fn, &now_ms);
    if (port == 0) {
        struct port_resv *r = svr_map_get(&pm->resv, name);
        if (r && r->closed && bit_get(pm->free_bits, r->port) && pm->probe(pm->probe_arg, r->port))
            return ports_commit(pm, name, r->port, now_ms);
        for (int i = 0; i < SVR_PORT_RANDOM_TRIES && pm->nfree > 0; i++) {
            uint32_t rnd;
            if (uv_random(NULL, NULL, &rnd, sizeof rnd, 0, NULL)) rnd = (uint32_t)now_ms + (uint32_t)i;
            int cand = ports_nth_free(pm, rnd % pm->nfree);
            if (cand > 0 && pm->probe(pm->probe_arg, cand)) return ports_commit(pm, name, cand, now_ms);
        }
        err_set(err, errlen, "no available port");
        return CFRP_EINVAL;
    }
    if (port > 0 && port < PORTS_N && bit_get(pm->free_bits, port)) {
        if (pm->probe(pm->probe_arg, port)) return ports_commit(pm, name, port, now_ms);
        err_set(err, errlen, "port unavailable");
        return CFRP_EINVAL;
    }
    if (port > 0 && port < PORTS_N && bit_get(pm->used_bits, port))
        err_set(err, errlen, "port already used");
    else
        err_set(err, errlen, "port not allowed");
    return CFRP_EINVAL;
}

struct release_arg {
    int port;
    uint64_t now;
};

static bool resv_release_fn(const char *key, void *val, void *arg)
{
    struct port_resv *r = val;
    const struct release_arg *ra = arg;
    if (r->port == ra->port && !r->closed) {
        r->closed = true;
        r->update_ms = ra->now;
    }
    return false;
}

void svr_ports_release(struct svr_ports *pm, int port, uint64_t now_ms)
{
    if (port <= 0 || port >= PORTS_N || !bit_get(pm->used_bits, port)) return;
    bit_set(pm->used_bits, port, false);
    ports_mark_free(pm, port);
    struct release_arg ra = {port, now_ms};
    svr_map_filter(&pm->resv, resv_release_fn, &ra);
}

bool svr_ports_in_use(const struct svr_ports *pm, int port)
{
    return port > 0 && port < PORTS_N && bit_get(pm->used_bits, port);
}

bool svr_port_probe_bind(const char *host, int port, bool udp)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    bool wildcard = !host || !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (wildcard) {
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof *in6;
    } else if (svr_bind_addr(host, port, &ss, &len) != 0) {
        return false;
    }
    int fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0 && wildcard) { /* no IPv6 on this host */
        memset(&ss, 0, sizeof ss);
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        len = sizeof *in;
        fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) return false;
    int on = 1, off = 0;
    if (!udp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (ss.ss_family == AF_INET6 && wildcard) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    bool ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ok;
}
