/* FNV-1a, the string hash of the in-memory tables (frps registry, vhost router, TOML
 * key index). Not for anything an attacker must not steer: tables that hold names from
 * the network also bound their chain walks or sizes. */
#ifndef CFRP_BASE_HASH_H
#define CFRP_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t hash_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

#endif
