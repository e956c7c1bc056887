/* The TOML parser's document tree: arena, key index, and conversion of the
 * finished tree into jansson in the plain or the toml-test tagged shape. */
#include "base/hash.h"
#include "config/toml_tree.h"

#include <inttypes.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

/* ---- arena ---- */

enum { TOML_ARENA_BLOCK = 64 * 1024, TOML_ARENA_ALIGN = alignof(max_align_t) };

struct toml_arena_block {
    struct toml_arena_block *next; /* older block */
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

void *toml_arena_alloc(struct toml_arena *ar, size_t n)
{
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + TOML_ARENA_ALIGN - 1) & ~(size_t)(TOML_ARENA_ALIGN - 1);
    struct toml_arena_block *b = ar->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > TOML_ARENA_BLOCK ? n : TOML_ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = ar->head;
        b->used = 0;
        b->cap = cap;
        ar->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void toml_arena_free(struct toml_arena *ar)
{
    struct toml_arena_block *b = ar->head;
    while (b) {
        struct toml_arena_block *next = b->next;
        free(b);
        b = next;
    }
    ar->head = NULL;
}

/* Grows an arena array of elem-sized items from *cap to at least n+1 items.
 * The old storage stays in the arena until the end of the parse (at most as
 * much again as the final size). */
static int toml_arena_grow(struct toml_arena *ar, void **items, size_t *cap, size_t n,
                           size_t elem)
{
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / 2 / elem) return -1;
    void *fresh = toml_arena_alloc(ar, ncap * elem);
    if (!fresh) return -1;
    if (n) memcpy(fresh, *items, n * elem);
    *items = fresh;
    *cap = ncap;
    return 0;
}

/* ---- key index ---- */

struct toml_slot {
    const struct toml_node *tab; /* NULL: empty slot */
    const char *key;
    size_t klen;
    uint64_t hash;
    struct toml_node *val;
};

static uint64_t toml_key_hash(const struct toml_node *tab, const char *key, size_t klen)
{
    uint64_t h = hash_fnv1a(key, klen);
    h ^= (uint64_t)(uintptr_t)tab * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

void toml_index_free(struct toml_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->cap = ix->used = 0;
}

struct toml_node *toml_table_get(const struct toml_index *ix, const struct toml_node *tab,
                                 const char *key, size_t klen)
{
    if (!ix->cap) return NULL;
    uint64_t h = toml_key_hash(tab, key, klen);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        const struct toml_slot *s = &ix->slots[i];
        if (!s->tab) return NULL;
        if (s->hash == h && s->tab == tab && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s->val;
    }
}

static void toml_index_place(struct toml_slot *slots, size_t cap, const struct toml_slot *in)
{
    size_t i = in->hash & (cap - 1);
    while (slots[i].tab) i = (i + 1) & (cap - 1);
    slots[i] = *in;
}

int toml_table_put(struct toml_arena *ar, struct toml_index *ix, struct toml_node *tab,
                   const char *key, size_t klen, struct toml_node *val)
{
    if ((ix->used + 1) * 2 > ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 64;
        if (ncap > SIZE_MAX / sizeof(struct toml_slot)) return -1;
        struct toml_slot *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < ix->cap; i++)
            if (ix->slots[i].tab) toml_index_place(ns, ncap, &ix->slots[i]);
        free(ix->slots);
        ix->slots = ns;
        ix->cap = ncap;
    }
    void *items = tab->u.tab.items;
    if (toml_arena_grow(ar, &items, &tab->u.tab.cap, tab->u.tab.n, sizeof(struct toml_entry)))
        return -1;
    tab->u.tab.items = items;
    tab->u.tab.items[tab->u.tab.n++] = (struct toml_entry){key, klen, val};
    struct toml_slot s = {tab, key, klen, toml_key_hash(tab, key, klen), val};
    toml_index_place(ix->slots, ix->cap, &s);
    ix->used++;
    return 0;
}

int toml_array_push(struct toml_arena *ar, struct toml_node *arr, struct toml_node *val)
{
    void *items = arr->u.arr.items;
    if (toml_arena_grow(ar, &items, &arr->u.arr.cap, arr->u.arr.n, sizeof(struct toml_node *)))
        return -1;
    arr->u.arr.items = items;
    arr->u.arr.items[arr->u.arr.n++] = val;
    return 0;
}

int toml_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) return 29;
    return days[month - 1];
}

/* ---- texts of scalars ---- */

/* Appends the fraction: with exact, the digits as written (go-toml's local
 * kinds, and the tagged shape); otherwise Go's RFC3339Nano (trailing zeros
 * dropped, nothing for a zero fraction). */
static size_t toml_fmt_frac(char *p, const struct toml_datetime *dt, int exact)
{
    char digits[16];
    snprintf(digits, sizeof digits, "%09ld", dt->nsec);
    size_t n = exact ? (size_t)dt->prec : 9;
    if (!exact)
        while (n > 0 && digits[n - 1] == '0') n--;
    if (n == 0) return 0;
    p[0] = '.';
    memcpy(p + 1, digits, n);
    return n + 1;
}

/* Carries a leap second (:60) into the next minute as Go's time.Date does. */
static void toml_carry_leap(struct toml_datetime *d)
{
    if (d->second < 60) return;
    d->second = 0;
    if (++d->minute < 60) return;
    d->minute = 0;
    if (++d->hour < 24) return;
    d->hour = 0;
    if (++d->day <= toml_days_in_month(d->year, d->month)) return;
    d->day = 1;
    if (++d->month <= 12) return;
    d->month = 1;
    d->year++;
}

/* Writes the text of a date/time node into buf (at least 64 bytes). Returns
 * -1 when Go could not marshal it (year beyond 9999 after a leap carry). */
static int toml_fmt_datetime(const struct toml_node *node, int tagged, char *buf, size_t n)
{
    struct toml_datetime d = node->u.dt;
    int offset = node->kind == TOML_K_DATETIME;
    if (offset && !tagged) {
        toml_carry_leap(&d);
        if (d.year > 9999) return -1;
    }
    size_t len = 0;
    if (node->kind != TOML_K_TIME_LOCAL)
        len += (size_t)snprintf(buf + len, n - len, "%04d-%02d-%02d", d.year, d.month, d.day);
    if (node->kind == TOML_K_DATE_LOCAL) return 0;
    if (node->kind != TOML_K_TIME_LOCAL) buf[len++] = 'T';
    len += (size_t)snprintf(buf + len, n - len, "%02d:%02d:%02d", d.hour, d.minute, d.second);
    len += toml_fmt_frac(buf + len, &d, tagged || !offset);
    buf[len] = '\0';
    if (!offset) return 0;
    if (d.offset_sign == 'Z' || (!tagged && d.offset_min == 0))
        snprintf(buf + len, n - len, "Z");
    else
        snprintf(buf + len, n - len, "%c%02d:%02d", d.offset_sign, d.offset_min / 60,
                 d.offset_min % 60);
    return 0;
}

/* Shortest %g text that reads back as the same double. */
static void toml_fmt_float(double f, char *buf, size_t n)
{
    if (isnan(f)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, n, f < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, f);
        if (strtod(buf, NULL) == f) return;
    }
}

static const char *toml_type_name(enum toml_kind k)
{
    switch (k) {
    case TOML_K_STRING: return "string";
    case TOML_K_INT: return "integer";
    case TOML_K_FLOAT: return "float";
    case TOML_K_BOOL: return "bool";
    case TOML_K_DATETIME: return "datetime";
    case TOML_K_DATETIME_LOCAL: return "datetime-local";
    case TOML_K_DATE_LOCAL: return "date-local";
    case TOML_K_TIME_LOCAL: return "time-local";
    default: return "";
    }
}

/* {"type": ..., "value": <text>} */
static json_t *toml_tagged(enum toml_kind k, const char *text, size_t len)
{
    return json_pack("{s:s, s:s%}", "type", toml_type_name(k), "value", text, len);
}

/* ---- conversion ---- */

static int toml_oom(char *err, size_t errlen)
{
    err_set(err, errlen, "out of memory");
    return UV_ENOMEM;
}

static int toml_scalar_to_json(const struct toml_node *node, int tagged, json_t **out,
                               char *err, size_t errlen)
{
    char text[64];
    switch (node->kind) {
    case TOML_K_STRING:
        *out = tagged ? toml_tagged(node->kind, node->u.str.s, node->u.str.len)
                      : json_stringn(node->u.str.s, node->u.str.len);
        break;
    case TOML_K_INT:
        if (tagged) {
            snprintf(text, sizeof text, "%" PRId64, node->u.i);
            *out = toml_tagged(node->kind, text, strlen(text));
        } else {
            *out = json_integer((json_int_t)node->u.i);
        }
        break;
    case TOML_K_FLOAT:
        if (tagged) {
            toml_fmt_float(node->u.f, text, sizeof text);
            *out = toml_tagged(node->kind, text, strlen(text));
        } else if (isnan(node->u.f) || isinf(node->u.f)) {
            err_set(err, errlen, "json: unsupported value: %s",
                    isnan(node->u.f) ? "NaN" : node->u.f < 0 ? "-Inf" : "+Inf");
            return CFRP_EINVAL;
        } else {
            *out = json_real(node->u.f);
        }
        break;
    case TOML_K_BOOL:
        *out = tagged ? toml_tagged(node->kind, node->u.b ? "true" : "false",
                                    node->u.b ? 4 : 5)
                      : json_boolean(node->u.b);
        break;
    default:
        if (toml_fmt_datetime(node, tagged, text, sizeof text)) {
            err_set(err, errlen,
                    "json: error calling MarshalJSON for type time.Time: "
                    "Time.MarshalJSON: year outside of range [0,9999]");
            return CFRP_EINVAL;
        }
        *out = tagged ? toml_tagged(node->kind, text, strlen(text)) : json_string(text);
        break;
    }
    return *out ? 0 : toml_oom(err, errlen);
}

int toml_tree_to_json(const struct toml_node *node, int tagged, json_t **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    if (node->kind != TOML_K_TABLE && node->kind != TOML_K_ARRAY)
        return toml_scalar_to_json(node, tagged, out, err, errlen);
    int table = node->kind == TOML_K_TABLE;
    json_t *j = table ? json_object() : json_array();
    if (!j) return toml_oom(err, errlen);
    size_t n = table ? node->u.tab.n : node->u.arr.n;
    for (size_t i = 0; i < n; i++) {
        json_t *child;
        const struct toml_entry *e = table ? &node->u.tab.items[i] : NULL;
        int rc = toml_tree_to_json(e ? e->val : node->u.arr.items[i], tagged, &child, err,
                                   errlen);
        if (rc == 0 && (e ? json_object_setn_new(j, e->key, e->klen, child)
                          : json_array_append_new(j, child)))
            rc = toml_oom(err, errlen);
        if (rc) {
            json_decref(j);
            return rc;
        }
    }
    *out = j;
    return 0;
}
