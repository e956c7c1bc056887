/* The table-driven decoder, completer, encoder and destructor for config structs
 * (see schema.h). Decoding mirrors Go's encoding/json as frp v0.61.1 uses it:
 *   - a type mismatch or an unknown key is *saved* (the first one wins) and decoding
 *     goes on; the saved error is returned at the end;
 *   - an error from a custom decoder (polymorphic `type` values, bandwidth quantities)
 *     aborts decoding at once and wins over a saved error;
 *   - a type error names the innermost Go struct and the JSON path of the field from
 *     the start of the current decoder: `Go struct field ProxyTransport.transport.x`. */
#include "config/schema.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "base/err.h"
#include "config/types.h"
#include "config/yaml_tree.h"

#define SCH_MAX_DEPTH 16
#define SCH_ERRLEN 1024

/* Layout shared by every `struct { T *items; size_t n; }` list in the config structs. */
struct sch_array {
    void *items;
    size_t n;
};

/* State of one Go json.Decoder (polymorphic values start a fresh one). */
struct sch_dec {
    const struct sch_opts *o;
    char saved[SCH_ERRLEN]; /* first saved error, "" if none */
    const char *cur_struct; /* Go name of the struct being decoded, NULL at top */
    const char *stack[SCH_MAX_DEPTH];
    size_t depth;
    char *err; /* immediate error output */
    size_t errlen;
};

static int sch_dec_struct(struct sch_dec *d, const struct sch_schema *s, json_t *j, json_t *raw, void *obj);
static void sch_free_struct(const struct sch_schema *s, void *obj);

#define SCH_AT(obj, off, T) ((T *)((char *)(obj) + (off)))
#define SCH_CAT(obj, off, T) ((const T *)((const char *)(obj) + (off)))

static const char *sch_json_kind(json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "null";
    }
}

/* Renders Go's UnmarshalTypeError with the decoder's current context. */
static void sch_type_text(struct sch_dec *d, const char *value, const char *go_type, char *out,
                          size_t outlen)
{
    if (!d->cur_struct && d->depth == 0) {
        snprintf(out, outlen, "json: cannot unmarshal %s into Go value of type %s", value, go_type);
        return;
    }
    char path[512];
    size_t o = 0;
    path[0] = '\0';
    for (size_t i = 0; i < d->depth && o < sizeof path; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "%s%s", i ? "." : "", d->stack[i]);
    snprintf(out, outlen, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", value,
             d->cur_struct ? d->cur_struct : "", path, go_type);
}

static void sch_save_type(struct sch_dec *d, const char *value, const char *go_type)
{
    if (!d->saved[0]) sch_type_text(d, value, go_type, d->saved, sizeof d->saved);
}

static int sch_fail_type(struct sch_dec *d, const char *value, const char *go_type)
{
    char msg[SCH_ERRLEN];
    sch_type_text(d, value, go_type, msg, sizeof msg);
    err_set(d->err, d->errlen, "%s", msg);
    return CFRP_EPARSE;
}

static const struct sch_field *sch_find(const struct sch_schema *s, const char *key)
{
    const struct sch_field *fold = NULL;
    for (const struct sch_field *const *p = s->parts; *p; p++) {
        for (const struct sch_field *f = *p; f->key; f++) {
            if (strcmp(f->key, key) == 0) return f;
            if (!fold && strcasecmp(f->key, key) == 0) fold = f;
        }
    }
    return fold;
}

/* Decodes a string value (or null) for a string slot. Returns 0/UV_ENOMEM. */
static int sch_dec_string(struct sch_dec *d, json_t *j, char **slot, const char *go_type)
{
    if (json_is_null(j)) return 0;
    char *v;
    if (json_is_string(j)) {
        v = strdup(json_string_value(j));
    } else {
        sch_save_type(d, sch_json_kind(j), go_type);
        return 0;
    }
    if (!v) return UV_ENOMEM;
    free(*slot);
    *slot = v;
    return 0;
}

/* The number text Go's decoder sees for a non-integer (or out-of-range) number j:
 * the JSON literal, the decimal of a YAML uint64, else Go's encoding of the float. */
static void sch_number_text(struct sch_dec *d, json_t *j, json_t *raw, char *out, size_t outlen)
{
    if (json_is_string(raw) && !d->o->raw_yaml) {
        snprintf(out, outlen, "%s", json_string_value(raw));
        return;
    }
    if (json_is_string(raw)) {
        struct yaml_scalar sc;
        yaml_scalar_resolve(json_string_value(raw), json_string_length(raw), &sc);
        if (sc.kind == YAML_SCALAR_UINT) {
            snprintf(out, outlen, "%" PRIu64, sc.u);
            return;
        }
    }
    cfg_go_float(json_real_value(j), out, outlen);
}

static void sch_dec_int(struct sch_dec *d, json_t *j, json_t *raw, int64_t *slot, const char *go_type)
{
    if (json_is_null(j)) return;
    if (json_is_integer(j)) {
        *slot = json_integer_value(j);
        return;
    }
    if (json_is_real(j)) {
        double v = json_real_value(j);
        /* TOML and YAML floats reach Go's decoder re-encoded, so 7000.0 reads "7000";
         * a JSON literal with a fraction or exponent never parses as an int. */
        bool literal = json_is_string(raw) && !d->o->raw_yaml;
        if (!literal && v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0) {
            struct yaml_scalar sc = {.kind = YAML_SCALAR_FLOAT};
            if (json_is_string(raw))
                yaml_scalar_resolve(json_string_value(raw), json_string_length(raw), &sc);
            if (sc.kind != YAML_SCALAR_UINT) {
                *slot = (int64_t)v;
                return;
            }
        }
        char num[400], val[420];
        sch_number_text(d, j, raw, num, sizeof num);
        snprintf(val, sizeof val, "number %s", num);
        sch_save_type(d, val, go_type);
        return;
    }
    sch_save_type(d, sch_json_kind(j), go_type);
}

/* The keys of object j in decoding order (sorted when the tree came from a Go map).
 * Returns a malloc'd array of n borrowed key pointers, or NULL with *n = 0. */
static int sch_keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **sch_keys(struct sch_dec *d, json_t *j, size_t *n)
{
    *n = json_object_size(j);
    if (*n == 0) return NULL;
    const char **keys = malloc(*n * sizeof *keys);
    if (!keys) return NULL;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) keys[i++] = k;
    if (d->o->sorted) qsort(keys, *n, sizeof *keys, sch_keycmp);
    return keys;
}

static int sch_dec_strmap(struct sch_dec *d, json_t *j, struct cfg_strmap *m, const char *go_type)
{
    if (json_is_null(j)) {
        cfg_strmap_clear(m);
        return 0;
    }
    if (!json_is_object(j)) {
        sch_save_type(d, sch_json_kind(j), go_type);
        return 0;
    }
    const char *elem_type = strncmp(go_type, "map[string]", 11) == 0 ? go_type + 11 : go_type;
    if (!m->keys) {
        m->keys = calloc(1, sizeof *m->keys);
        m->vals = calloc(1, sizeof *m->vals);
        if (!m->keys || !m->vals) return UV_ENOMEM;
    }
    size_t n;
    const char **keys = sch_keys(d, j, &n);
    if (n && !keys) return UV_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *v = NULL;
        rc = sch_dec_string(d, json_object_get(j, keys[i]), &v, elem_type);
        if (!rc) rc = cfg_strmap_set(m, keys[i], v ? v : "");
        free(v);
    }
    free(keys);
    return rc;
}

static int sch_dec_strlist(struct sch_dec *d, json_t *j, struct cfg_strlist *l, const char *go_type)
{
    cfg_strlist_clear(l);
    if (json_is_null(j)) return 0;
    if (!json_is_array(j)) {
        sch_save_type(d, sch_json_kind(j), go_type);
        return 0;
    }
    const char *elem_type = strncmp(go_type, "[]", 2) == 0 ? go_type + 2 : go_type;
    size_t n = json_array_size(j);
    l->items = calloc(n ? n : 1, sizeof *l->items);
    if (!l->items) return UV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char *v = NULL;
        int rc = sch_dec_string(d, json_array_get(j, i), &v, elem_type);
        if (!rc && !v && !(v = strdup(""))) rc = UV_ENOMEM;
        if (rc) return rc;
        l->items[l->n++] = v;
    }
    return 0;
}

static void sch_free_array(const struct sch_schema *s, const struct sch_poly *p, struct sch_array *a)
{
    for (size_t i = 0; i < a->n; i++) {
        void *e = (char *)a->items + i * (p ? p->elem_size : s->size);
        const struct sch_schema *es = p ? sch_poly_schema(p, e) : s;
        if (es) sch_free_struct(es, e);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}

/* Go's TypedXxxConfig.UnmarshalJSON: read `type` leniently, pick the variant, then
 * decode with a fresh decoder and wrap its error. elem is zero on entry. */
static int sch_dec_poly(struct sch_dec *d, const struct sch_poly *p, json_t *j, json_t *raw, void *elem)
{
    static const char anon[] = "struct { Type string \"json:\\\"type\\\"\" }";
    if (!json_is_object(j)) return sch_fail_type(d, sch_json_kind(j), anon);
    /* The `type` key is read leniently (any case; a later duplicate wins). */
    const char *type = "";
    size_t n;
    const char **keys = sch_keys(d, j, &n);
    if (n && !keys) return UV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(keys[i], "type") != 0) continue;
        json_t *tv = json_object_get(j, keys[i]);
        if (json_is_string(tv)) {
            type = json_string_value(tv);
        } else if (!json_is_null(tv)) {
            free(keys);
            return sch_fail_type(d, sch_json_kind(tv), "string");
        }
    }
    free(keys);
    if (!*type && p->empty_msg) {
        err_set(d->err, d->errlen, "%s", p->empty_msg);
        return CFRP_EINVAL;
    }
    const struct sch_variant *var = p->variants;
    while (var->type && strcmp(var->type, type) != 0) var++;
    if (!var->type) {
        err_set(d->err, d->errlen, p->unknown_fmt, type);
        return CFRP_EINVAL;
    }
    char *tcopy = strdup(type);
    if (!tcopy) return UV_ENOMEM;
    *SCH_AT(elem, p->id_offset, int) = var->id;
    *SCH_AT(elem, p->type_offset, char *) = tcopy;

    struct sch_dec sub = {.o = d->o, .err = d->err, .errlen = d->errlen};
    int rc = sch_dec_struct(&sub, var->schema, j, raw, elem);
    if (rc == UV_ENOMEM) return rc;
    if (!rc && sub.saved[0]) {
        err_set(d->err, d->errlen, "%s", sub.saved);
        rc = CFRP_EPARSE;
    }
    if (rc) err_prefix(d->err, d->errlen, "%s", p->wrap);
    return rc;
}

static int sch_dec_list(struct sch_dec *d, const struct sch_field *f, json_t *j, json_t *raw, struct sch_array *a)
{
    const struct sch_poly *p = f->kind == SCH_POLY_LIST ? f->poly : NULL;
    sch_free_array(f->sub, p, a);
    if (json_is_null(j)) return 0;
    if (!json_is_array(j)) {
        sch_save_type(d, sch_json_kind(j), f->go_type);
        return 0;
    }
    size_t esz = p ? p->elem_size : f->sub->size;
    size_t n = json_array_size(j);
    a->items = calloc(n ? n : 1, esz);
    if (!a->items) return UV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(j, i);
        void *elem = (char *)a->items + i * esz;
        a->n++;
        if (p) {
            if (json_is_null(e)) {
                err_set(d->err, d->errlen, "%s", p->null_msg);
                return CFRP_EINVAL;
            }
            int rc = sch_dec_poly(d, p, e, json_array_get(raw, i), elem);
            if (rc) return rc;
        } else if (json_is_object(e)) {
            int rc = sch_dec_struct(d, f->sub, e, json_array_get(raw, i), elem);
            if (rc) return rc;
        } else if (!json_is_null(e)) {
            sch_save_type(d, sch_json_kind(e), f->go_type + 2);
        }
    }
    return 0;
}

static int sch_dec_field(struct sch_dec *d, const struct sch_field *f, json_t *j, json_t *raw, void *obj)
{
    void *slot = (char *)obj + f->offset;
    switch (f->kind) {
    case SCH_STRING: return sch_dec_string(d, j, slot, f->go_type);
    case SCH_INT: sch_dec_int(d, j, raw, slot, f->go_type); return 0;
    case SCH_BOOL:
    case SCH_TRI:
        if (json_is_boolean(j)) {
            if (f->kind == SCH_BOOL) *(bool *)slot = json_is_true(j);
            else *(enum cfg_tri *)slot = json_is_true(j) ? CFG_TRUE : CFG_FALSE;
        } else if (json_is_null(j)) {
            if (f->kind == SCH_TRI) *(enum cfg_tri *)slot = CFG_UNSET;
        } else {
            sch_save_type(d, sch_json_kind(j), f->go_type);
        }
        return 0;
    case SCH_STRLIST: return sch_dec_strlist(d, j, slot, f->go_type);
    case SCH_STRMAP: return sch_dec_strmap(d, j, slot, f->go_type);
    case SCH_STRUCT:
        if (json_is_object(j)) return sch_dec_struct(d, f->sub, j, raw, slot);
        if (!json_is_null(j)) sch_save_type(d, sch_json_kind(j), f->go_type);
        return 0;
    case SCH_STRUCT_PTR: {
        void **pp = slot;
        if (json_is_null(j)) {
            if (*pp) sch_free_struct(f->sub, *pp);
            free(*pp);
            *pp = NULL;
            return 0;
        }
        if (!json_is_object(j)) {
            sch_save_type(d, sch_json_kind(j), f->go_type);
            return 0;
        }
        if (!*pp && !(*pp = calloc(1, f->sub->size))) return UV_ENOMEM;
        return sch_dec_struct(d, f->sub, j, raw, *pp);
    }
    case SCH_BANDWIDTH:
        if (json_is_null(j)) return 0;
        if (!json_is_string(j)) return sch_fail_type(d, sch_json_kind(j), "string");
        return cfg_bandwidth_parse(json_string_value(j), slot, d->err, d->errlen);
    case SCH_POLY: {
        if (json_is_null(j)) return 0;
        /* A repeated key decodes a new value, as Go makes a new options struct. */
        const struct sch_schema *old = sch_poly_schema(f->poly, slot);
        if (old) sch_free_struct(old, slot);
        memset(slot, 0, f->poly->elem_size);
        return sch_dec_poly(d, f->poly, j, raw, slot);
    }
    case SCH_LIST:
    case SCH_POLY_LIST: return sch_dec_list(d, f, j, raw, slot);
    }
    return 0;
}

static int sch_dec_struct(struct sch_dec *d, const struct sch_schema *s, json_t *j, json_t *raw, void *obj)
{
    size_t n;
    const char **keys = sch_keys(d, j, &n);
    if (n && !keys) return UV_ENOMEM;
    const char *saved_struct = d->cur_struct;
    size_t saved_depth = d->depth;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct sch_field *f = sch_find(s, keys[i]);
        if (!f) {
            if (d->o->strict && !d->saved[0]) {
                char q[300];
                snprintf(d->saved, sizeof d->saved, "json: unknown field %s",
                         cfg_go_quote(keys[i], q, sizeof q));
            }
            continue;
        }
        if (d->depth >= SCH_MAX_DEPTH) {
            err_set(d->err, d->errlen, "config nesting too deep");
            rc = CFRP_EINVAL;
            break;
        }
        d->stack[d->depth++] = f->key;
        d->cur_struct = s->name;
        rc = sch_dec_field(d, f, json_object_get(j, keys[i]), json_object_get(raw, keys[i]), obj);
        if (!rc) {
            d->depth = saved_depth;
            d->cur_struct = saved_struct;
        }
    }
    free(keys);
    return rc;
}

int sch_decode(const struct sch_schema *s, const struct sch_opts *o, json_t *tree, void *obj,
               char *err, size_t errlen)
{
    struct sch_dec d = {.o = o, .err = err, .errlen = errlen};
    if (!json_is_object(tree)) {
        if (json_is_null(tree)) return 0;
        return sch_fail_type(&d, sch_json_kind(tree), o->top_type ? o->top_type : s->name);
    }
    int rc = sch_dec_struct(&d, s, tree, o->raw, obj);
    if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
    if (!rc && d.saved[0]) {
        err_set(err, errlen, "%s", d.saved);
        rc = CFRP_EPARSE;
    }
    return rc;
}

int sch_decode_poly(const struct sch_poly *p, const struct sch_opts *o, json_t *tree,
                    void *elem, char *err, size_t errlen)
{
    struct sch_dec d = {.o = o, .err = err, .errlen = errlen};
    if (json_is_null(tree) && p->null_msg) {
        err_set(err, errlen, "%s", p->null_msg);
        return CFRP_EINVAL;
    }
    int rc = sch_dec_poly(&d, p, tree, o->raw, elem);
    if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
    return rc;
}

/* ---- YAML type hints (sch_yaml_prepare) */

/* What sigs.k8s.io/yaml knows of the Go value a YAML node is bound for. */
enum sch_hint_kind {
    SCH_H_NONE,        /* unknown, or a type with its own UnmarshalJSON */
    SCH_H_OTHER,       /* a number, bool or slice of non-string: no coercion below */
    SCH_H_STRING,
    SCH_H_STRUCT,      /* hs */
    SCH_H_MAP_STRING,  /* map[string]string */
    SCH_H_SLICE_STRING,
    SCH_H_SLICE_STRUCT /* []hs */
};

struct sch_hint {
    enum sch_hint_kind kind;
    const struct sch_schema *hs;
};

/* The hint of key in struct s: the field Go's encoding/json would pick (exact name
 * preferred, else case-insensitive), or the embedded struct for a promoted field. */
static struct sch_hint sch_hint_key(const struct sch_schema *s, const char *key)
{
    const struct sch_field *f = NULL, *fold = NULL;
    const struct sch_field *const *fpart = NULL, *const *foldpart = NULL;
    for (const struct sch_field *const *p = s->parts; *p && !f; p++) {
        for (const struct sch_field *e = *p; e->key; e++) {
            if (strcmp(e->key, key) == 0) {
                f = e;
                fpart = p;
                break;
            }
            if (!fold && strcasecmp(e->key, key) == 0) fold = e, foldpart = p;
        }
    }
    if (!f) f = fold, fpart = foldpart;
    struct sch_hint h = {SCH_H_NONE, NULL};
    if (!f) return h;
    for (const struct sch_field *const *pp = s->promoted; pp && *pp; pp++) {
        if (*pp == *fpart) {
            if (s->embedded) h = (struct sch_hint){SCH_H_STRUCT, s->embedded};
            else h.kind = SCH_H_OTHER;
            return h;
        }
    }
    switch (f->kind) {
    case SCH_STRING: h.kind = SCH_H_STRING; break;
    case SCH_STRLIST: h.kind = SCH_H_SLICE_STRING; break;
    case SCH_STRMAP: h.kind = SCH_H_MAP_STRING; break;
    case SCH_STRUCT:
    case SCH_STRUCT_PTR: h = (struct sch_hint){SCH_H_STRUCT, f->sub}; break;
    case SCH_LIST: h = (struct sch_hint){SCH_H_SLICE_STRUCT, f->sub}; break;
    case SCH_INT:
    case SCH_BOOL:
    case SCH_TRI: h.kind = SCH_H_OTHER; break;
    default: break; /* bandwidth, polymorphic values: own UnmarshalJSON */
    }
    return h;
}

/* The text a YAML scalar (its raw twin) becomes when bound for a string: 1 with the
 * text in buf, 0 if it stays as it is (strings, nulls, containers). */
static int sch_hint_text(json_t *raw, char *buf, size_t len)
{
    if (!json_is_string(raw)) return 0;
    struct yaml_scalar sc;
    yaml_scalar_resolve(json_string_value(raw), json_string_length(raw), &sc);
    switch (sc.kind) {
    case YAML_SCALAR_BOOL: snprintf(buf, len, "%s", sc.b ? "true" : "false"); return 1;
    case YAML_SCALAR_INT: snprintf(buf, len, "%" PRId64, sc.i); return 1;
    case YAML_SCALAR_UINT: snprintf(buf, len, "%" PRIu64, sc.u); return 1;
    case YAML_SCALAR_FLOAT: cfg_go_float32_g(sc.f, buf, len); return 1;
    default: return 0;
    }
}

static int sch_hint_walk(struct sch_hint h, json_t *j, json_t *raw, int depth);

/* Applies hint h to the child at key (object) or index (array) of parent. */
static int sch_hint_child(struct sch_hint h, json_t *parent, const char *key, size_t idx, json_t *raw, int depth)
{
    json_t *v = key ? json_object_get(parent, key) : json_array_get(parent, idx);
    if (json_is_object(v) || json_is_array(v)) return sch_hint_walk(h, v, raw, depth + 1);
    char buf[64];
    if (h.kind != SCH_H_STRING || !sch_hint_text(raw, buf, sizeof buf)) return 0;
    json_t *str = json_string(buf);
    if (!str) return UV_ENOMEM;
    int rc = key ? json_object_set_new(parent, key, str) : json_array_set_new(parent, idx, str);
    return rc ? UV_ENOMEM : 0;
}

static int sch_hint_walk(struct sch_hint h, json_t *j, json_t *raw, int depth)
{
    if (depth > SCH_MAX_DEPTH * 4) return 0; /* beyond any config struct: no hint left */
    int rc = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            struct sch_hint ch = {SCH_H_NONE, NULL};
            if (h.kind == SCH_H_STRUCT) ch = sch_hint_key(h.hs, k);
            else if (h.kind == SCH_H_MAP_STRING) ch.kind = SCH_H_STRING;
            if (ch.kind == SCH_H_NONE && !json_is_object(v) && !json_is_array(v)) continue;
            if ((rc = sch_hint_child(ch, j, k, 0, json_object_get(raw, k), depth))) return rc;
        }
    } else if (json_is_array(j)) {
        struct sch_hint ch = {SCH_H_NONE, NULL};
        if (h.kind == SCH_H_SLICE_STRING) ch.kind = SCH_H_STRING;
        else if (h.kind == SCH_H_SLICE_STRUCT) ch = (struct sch_hint){SCH_H_STRUCT, h.hs};
        for (size_t i = 0; i < json_array_size(j) && !rc; i++)
            rc = sch_hint_child(ch, j, NULL, i, json_array_get(raw, i), depth);
    }
    return rc;
}

/* The first non-finite float (JSON null whose raw text is .inf/.nan) in Go's
 * encoding order (sorted keys); its Go text in out. */
static bool sch_find_nonfinite(json_t *j, json_t *raw, char *out, size_t outlen)
{
    if (json_is_null(j) && json_is_string(raw)) {
        struct yaml_scalar sc;
        yaml_scalar_resolve(json_string_value(raw), json_string_length(raw), &sc);
        if (sc.kind != YAML_SCALAR_FLOAT) return false;
        cfg_go_float(sc.f, out, outlen);
        return true;
    }
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (sch_find_nonfinite(json_array_get(j, i), json_array_get(raw, i), out, outlen)) return true;
        return false;
    }
    if (!json_is_object(j) || json_object_size(j) == 0) return false;
    size_t n = json_object_size(j), i = 0;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) return false;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, sch_keycmp);
    bool found = false;
    for (i = 0; i < n && !found; i++)
        found = sch_find_nonfinite(json_object_get(j, keys[i]), json_object_get(raw, keys[i]), out, outlen);
    free(keys);
    return found;
}

int sch_yaml_prepare(const struct sch_schema *s, json_t *tree, json_t *raw, char *err, size_t errlen)
{
    struct sch_hint h = {SCH_H_STRUCT, s};
    int rc = sch_hint_walk(h, tree, raw, 0);
    if (rc) {
        err_set(err, errlen, "out of memory");
        return rc;
    }
    char num[32];
    if (sch_find_nonfinite(tree, raw, num, sizeof num)) {
        err_set(err, errlen, "error converting YAML to JSON: json: unsupported value: %s", num);
        return CFRP_EPARSE;
    }
    return 0;
}

const struct sch_schema *sch_poly_schema(const struct sch_poly *p, const void *obj)
{
    if (!*SCH_CAT(obj, p->type_offset, char *)) return NULL;
    int id = *SCH_CAT(obj, p->id_offset, int);
    for (const struct sch_variant *v = p->variants; v->type; v++)
        if (v->id == id) return v->schema;
    return NULL;
}

int sch_complete(const struct sch_schema *s, void *obj)
{
    for (const struct sch_field *const *p = s->parts; *p; p++) {
        for (const struct sch_field *f = *p; f->key; f++) {
            void *slot = (char *)obj + f->offset;
            int rc = 0;
            switch (f->kind) {
            case SCH_STRING: {
                char **sp = slot;
                if (f->def_str && (!*sp || !**sp)) {
                    char *v = strdup(f->def_str);
                    if (!v) return UV_ENOMEM;
                    free(*sp);
                    *sp = v;
                }
                break;
            }
            case SCH_INT:
                if (f->def_int && *(int64_t *)slot == 0) *(int64_t *)slot = f->def_int;
                break;
            case SCH_TRI:
                if (f->def_int && *(enum cfg_tri *)slot == CFG_UNSET) *(enum cfg_tri *)slot = CFG_TRUE;
                break;
            case SCH_STRUCT: rc = sch_complete(f->sub, slot); break;
            case SCH_STRUCT_PTR:
                if (*(void **)slot) rc = sch_complete(f->sub, *(void **)slot);
                break;
            case SCH_POLY: {
                const struct sch_schema *vs = sch_poly_schema(f->poly, slot);
                if (vs) rc = sch_complete(vs, slot);
                break;
            }
            default: break;
            }
            if (rc) return rc;
        }
    }
    return 0;
}

static int sch_fill_array(const struct sch_schema *s, const struct sch_poly *p, struct sch_array *a)
{
    for (size_t i = 0; i < a->n; i++) {
        void *e = (char *)a->items + i * (p ? p->elem_size : s->size);
        const struct sch_schema *es = p ? sch_poly_schema(p, e) : s;
        int rc = es ? sch_fill_strings(es, e) : 0;
        if (rc) return rc;
    }
    return 0;
}

int sch_fill_strings(const struct sch_schema *s, void *obj)
{
    for (const struct sch_field *const *p = s->parts; *p; p++) {
        for (const struct sch_field *f = *p; f->key; f++) {
            void *slot = (char *)obj + f->offset;
            int rc = 0;
            switch (f->kind) {
            case SCH_STRING:
                if (!*(char **)slot && !(*(char **)slot = strdup(""))) return UV_ENOMEM;
                break;
            case SCH_BANDWIDTH: {
                struct cfg_bandwidth *b = slot;
                if (!b->text && !(b->text = strdup(""))) return UV_ENOMEM;
                break;
            }
            case SCH_STRUCT: rc = sch_fill_strings(f->sub, slot); break;
            case SCH_STRUCT_PTR:
                if (*(void **)slot) rc = sch_fill_strings(f->sub, *(void **)slot);
                break;
            case SCH_POLY: {
                const struct sch_schema *vs = sch_poly_schema(f->poly, slot);
                if (vs) rc = sch_fill_strings(vs, slot);
                break;
            }
            case SCH_LIST: rc = sch_fill_array(f->sub, NULL, slot); break;
            case SCH_POLY_LIST: rc = sch_fill_array(NULL, f->poly, slot); break;
            default: break;
            }
            if (rc) return rc;
        }
    }
    return 0;
}

static json_t *sch_enc_struct(const struct sch_schema *s, const void *obj);

static json_t *sch_enc_strmap(const struct cfg_strmap *m)
{
    json_t *o = json_object();
    if (!o) return NULL;
    size_t *idx = malloc((m->n ? m->n : 1) * sizeof *idx);
    if (!idx) goto fail;
    for (size_t i = 0; i < m->n; i++) {
        size_t k = i;
        while (k > 0 && strcmp(m->keys[idx[k - 1]], m->keys[i]) > 0) {
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = i;
    }
    for (size_t i = 0; i < m->n; i++)
        if (json_object_set_new(o, m->keys[idx[i]], json_string(m->vals[idx[i]]))) goto fail;
    free(idx);
    return o;
fail:
    free(idx);
    json_decref(o);
    return NULL;
}

static json_t *sch_enc_field(const struct sch_field *f, const void *slot, bool *omit)
{
    bool oe = f->flags & SCH_OMITEMPTY;
    *omit = false;
    switch (f->kind) {
    case SCH_STRING: {
        const char *v = *(char *const *)slot;
        if (!v) v = "";
        *omit = oe && !*v;
        return *omit ? NULL : json_string(v);
    }
    case SCH_INT:
        *omit = oe && *(const int64_t *)slot == 0;
        return *omit ? NULL : json_integer(*(const int64_t *)slot);
    case SCH_BOOL:
        *omit = oe && !*(const bool *)slot;
        return *omit ? NULL : json_boolean(*(const bool *)slot);
    case SCH_TRI: {
        enum cfg_tri t = *(const enum cfg_tri *)slot;
        *omit = oe && t == CFG_UNSET;
        return *omit ? NULL : t == CFG_UNSET ? json_null() : json_boolean(t == CFG_TRUE);
    }
    case SCH_STRLIST: {
        const struct cfg_strlist *l = slot;
        *omit = oe && l->n == 0;
        if (*omit) return NULL;
        if (!l->items) return json_null();
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
            if (json_array_append_new(a, json_string(l->items[i]))) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case SCH_STRMAP: {
        const struct cfg_strmap *m = slot;
        *omit = oe && m->n == 0;
        if (*omit) return NULL;
        return m->keys ? sch_enc_strmap(m) : json_null();
    }
    case SCH_STRUCT: return sch_enc_struct(f->sub, slot);
    case SCH_STRUCT_PTR: {
        const void *p = *(void *const *)slot;
        *omit = oe && !p;
        if (*omit) return NULL;
        return p ? sch_enc_struct(f->sub, p) : json_null();
    }
    case SCH_BANDWIDTH: {
        const struct cfg_bandwidth *b = slot;
        return json_string(b->text ? b->text : "");
    }
    case SCH_POLY: {
        const struct sch_schema *vs = sch_poly_schema(f->poly, slot);
        return vs ? sch_enc_struct(vs, slot) : json_null();
    }
    case SCH_LIST:
    case SCH_POLY_LIST: {
        const struct sch_array *a = slot;
        *omit = oe && a->n == 0;
        if (*omit) return NULL;
        if (!a->items) return json_null();
        const struct sch_poly *p = f->kind == SCH_POLY_LIST ? f->poly : NULL;
        size_t esz = p ? p->elem_size : f->sub->size;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < a->n; i++) {
            const void *e = (const char *)a->items + i * esz;
            const struct sch_schema *es = p ? sch_poly_schema(p, e) : f->sub;
            if (json_array_append_new(arr, es ? sch_enc_struct(es, e) : json_null())) {
                json_decref(arr);
                arr = NULL;
            }
        }
        return arr;
    }
    }
    return NULL;
}

static json_t *sch_enc_struct(const struct sch_schema *s, const void *obj)
{
    json_t *o = json_object();
    if (!o) return NULL;
    for (const struct sch_field *const *p = s->parts; *p; p++) {
        for (const struct sch_field *f = *p; f->key; f++) {
            bool omit;
            json_t *v = sch_enc_field(f, (const char *)obj + f->offset, &omit);
            if (omit) continue;
            if (!v || json_object_set_new(o, f->key, v)) {
                json_decref(o);
                return NULL;
            }
        }
    }
    return o;
}

json_t *sch_encode(const struct sch_schema *s, const void *obj)
{
    return sch_enc_struct(s, obj);
}

static void sch_free_struct(const struct sch_schema *s, void *obj)
{
    for (const struct sch_field *const *p = s->parts; *p; p++) {
        for (const struct sch_field *f = *p; f->key; f++) {
            void *slot = (char *)obj + f->offset;
            switch (f->kind) {
            case SCH_STRING: free(*(char **)slot); break;
            case SCH_STRLIST: cfg_strlist_clear(slot); break;
            case SCH_STRMAP: cfg_strmap_clear(slot); break;
            case SCH_STRUCT: sch_free_struct(f->sub, slot); break;
            case SCH_STRUCT_PTR:
                if (*(void **)slot) sch_free_struct(f->sub, *(void **)slot);
                free(*(void **)slot);
                break;
            case SCH_BANDWIDTH: free(((struct cfg_bandwidth *)slot)->text); break;
            case SCH_POLY: {
                const struct sch_schema *vs = sch_poly_schema(f->poly, slot);
                if (vs) sch_free_struct(vs, slot);
                break;
            }
            case SCH_LIST: sch_free_array(f->sub, NULL, slot); break;
            case SCH_POLY_LIST: sch_free_array(NULL, f->poly, slot); break;
            default: break;
            }
        }
    }
}

void sch_free(const struct sch_schema *s, void *obj)
{
    sch_free_struct(s, obj);
    memset(obj, 0, s->size);
}

static int sch_copy_array(const struct sch_schema *s, const struct sch_poly *p, struct sch_array *dst,
                          const struct sch_array *src)
{
    if (!src->items) return 0;
    size_t esz = p ? p->elem_size : s->size;
    dst->items = calloc(src->n ? src->n : 1, esz);
    if (!dst->items) return UV_ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        const void *se = (const char *)src->items + i * esz;
        void *de = (char *)dst->items + i * esz;
        dst->n++;
        const struct sch_schema *es = p ? sch_poly_schema(p, se) : s;
        if (p) *SCH_AT(de, p->id_offset, int) = *SCH_CAT(se, p->id_offset, int);
        int rc = es ? sch_copy(es, de, se) : 0;
        if (rc) return rc;
    }
    return 0;
}

static int sch_copy_str(char **dst, const char *src)
{
    if (!src) return 0;
    free(*dst);
    return (*dst = strdup(src)) ? 0 : UV_ENOMEM;
}

int sch_copy(const struct sch_schema *s, void *dst, const void *src)
{
    for (const struct sch_field *const *p = s->parts; *p; p++) {
        for (const struct sch_field *f = *p; f->key; f++) {
            void *d = (char *)dst + f->offset;
            const void *sv = (const char *)src + f->offset;
            int rc = 0;
            switch (f->kind) {
            case SCH_STRING: rc = sch_copy_str(d, *(char *const *)sv); break;
            case SCH_INT: *(int64_t *)d = *(const int64_t *)sv; break;
            case SCH_BOOL: *(bool *)d = *(const bool *)sv; break;
            case SCH_TRI: *(enum cfg_tri *)d = *(const enum cfg_tri *)sv; break;
            case SCH_STRLIST: {
                const struct cfg_strlist *l = sv;
                struct cfg_strlist *dl = d;
                if (l->items && !(dl->items = calloc(l->n ? l->n : 1, sizeof *dl->items))) return UV_ENOMEM;
                for (size_t i = 0; i < l->n; i++, dl->n++)
                    if (!(dl->items[i] = strdup(l->items[i]))) return UV_ENOMEM;
                break;
            }
            case SCH_STRMAP: {
                const struct cfg_strmap *m = sv;
                struct cfg_strmap *dm = d;
                if (m->keys && !dm->keys) {
                    dm->keys = calloc(1, sizeof *dm->keys);
                    dm->vals = calloc(1, sizeof *dm->vals);
                    if (!dm->keys || !dm->vals) return UV_ENOMEM;
                }
                for (size_t i = 0; i < m->n && !rc; i++) rc = cfg_strmap_set(dm, m->keys[i], m->vals[i]);
                break;
            }
            case SCH_STRUCT: rc = sch_copy(f->sub, d, sv); break;
            case SCH_STRUCT_PTR: {
                const void *sp = *(void *const *)sv;
                if (!sp) break;
                if (!(*(void **)d = calloc(1, f->sub->size))) return UV_ENOMEM;
                rc = sch_copy(f->sub, *(void **)d, sp);
                break;
            }
            case SCH_BANDWIDTH: {
                const struct cfg_bandwidth *b = sv;
                struct cfg_bandwidth *db = d;
                db->bytes = b->bytes;
                rc = sch_copy_str(&db->text, b->text);
                break;
            }
            case SCH_POLY: {
                const struct sch_schema *vs = sch_poly_schema(f->poly, sv);
                if (!vs) break;
                *SCH_AT(d, f->poly->id_offset, int) = *SCH_CAT(sv, f->poly->id_offset, int);
                rc = sch_copy(vs, d, sv);
                break;
            }
            case SCH_LIST: rc = sch_copy_array(f->sub, NULL, d, sv); break;
            case SCH_POLY_LIST: rc = sch_copy_array(NULL, f->poly, d, sv); break;
            }
            if (rc) return rc;
        }
    }
    return 0;
}
