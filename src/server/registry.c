/* Small registries of frps: a string-keyed hash map (sessions by run id, proxies by
 * name, port reservations by proxy name) and run id generation. */
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "server/svr_internal.h"

struct svr_map_ent {
    struct svr_map_ent *next;
    void *val;
    char key[]; /* NUL-terminated copy */
};

static size_t map_hash(const char *key)
{
    return (size_t)hash_fnv1a(key, strlen(key));
}

void svr_map_init(struct svr_map *m)
{
    m->b = NULL;
    m->nb = m->n = 0;
}

void svr_map_free(struct svr_map *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct svr_map_ent *e = m->b[i];
        while (e) {
            struct svr_map_ent *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->b);
    svr_map_init(m);
}

static struct svr_map_ent **map_slot(const struct svr_map *m, const char *key)
{
    if (m->nb == 0) return NULL;
    struct svr_map_ent **pp = &m->b[map_hash(key) & (m->nb - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0) pp = &(*pp)->next;
    return pp;
}

void *svr_map_get(const struct svr_map *m, const char *key)
{
    struct svr_map_ent **pp = map_slot(m, key);
    return pp && *pp ? (*pp)->val : NULL;
}

/* Doubles the bucket array (a power of two). */
static int map_grow(struct svr_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 16;
    struct svr_map_ent **b = calloc(nb, sizeof *b);
    if (!b) return UV_ENOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        struct svr_map_ent *e = m->b[i];
        while (e) {
            struct svr_map_ent *next = e->next;
            size_t j = map_hash(e->key) & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

int svr_map_set(struct svr_map *m, const char *key, void *val)
{
    struct svr_map_ent **pp = map_slot(m, key);
    if (pp && *pp) {
        (*pp)->val = val;
        return 0;
    }
    if (m->n + 1 > m->nb * 3 / 4) {
        int rc = map_grow(m);
        if (rc) return rc;
    }
    size_t klen = strlen(key);
    struct svr_map_ent *e = malloc(sizeof *e + klen + 1);
    if (!e) return UV_ENOMEM;
    memcpy(e->key, key, klen + 1);
    e->val = val;
    size_t j = map_hash(key) & (m->nb - 1);
    e->next = m->b[j];
    m->b[j] = e;
    m->n++;
    return 0;
}

void *svr_map_del(struct svr_map *m, const char *key)
{
    struct svr_map_ent **pp = map_slot(m, key);
    if (!pp || !*pp) return NULL;
    struct svr_map_ent *e = *pp;
    void *val = e->val;
    *pp = e->next;
    free(e);
    m->n--;
    return val;
}

void svr_map_filter(struct svr_map *m, bool (*fn)(const char *key, void *val, void *arg),
                    void *arg)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct svr_map_ent **pp = &m->b[i];
        while (*pp) {
            struct svr_map_ent *e = *pp;
            if (fn(e->key, e->val, arg)) {
                *pp = e->next;
                free(e);
                m->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

int svr_run_id_new(char out[17])
{
    unsigned char b[8];
    int rc = uv_random(NULL, NULL, b, sizeof b, 0, NULL);
    if (rc) return rc;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[16] = '\0';
    return 0;
}
