/* YAML to jansson with yaml.v2 semantics (see yaml_tree.h). Built on libyaml's event
 * parser; the tree builder recurses once per nesting level (bounded by
 * YAML_TREE_MAX_DEPTH) and expands aliases by copying (bounded by node count and
 * depth). */
#include "base/ascii.h"
#include "config/yaml_tree.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

#include "base/err.h"
#include "config/types.h"

#define YT_PREFIX "error converting YAML to JSON: "

/* One anchored node: its built value, raw twin and height (levels below it). */
struct yt_anchor {
    char *name;   /* owned */
    json_t *v;    /* owned reference; NULL while the node is being built */
    json_t *raw;  /* owned reference */
    int height;
};

/* Builder state for one parse. Owns the parser, the anchors and the error list. */
struct ytree {
    yaml_parser_t parser;
    bool strict;
    struct yt_anchor *anchors;
    size_t nanchors, capanchors;
    size_t nodes;
    char *terrors; /* strict-mode duplicate key lines, "\n  "-joined (owned) */
    size_t terrlen;
    char *err;
    size_t errlen;
};

/* yaml.v2's parser.fail(): "yaml: line N: problem" with its line rules. */
static int yt_syntax_error(struct ytree *y)
{
    yaml_parser_t *p = &y->parser;
    size_t line = 0;
    if (p->problem_mark.line != 0) {
        line = p->problem_mark.line;
        if (p->error == YAML_SCANNER_ERROR) line++;
    } else if (p->context_mark.line != 0) {
        line = p->context_mark.line;
    }
    const char *msg = p->problem ? p->problem : "unknown problem parsing YAML content";
    if (p->error == YAML_MEMORY_ERROR) {
        err_set(y->err, y->errlen, YT_PREFIX "yaml: out of memory");
        return UV_ENOMEM;
    }
    if (line) err_set(y->err, y->errlen, YT_PREFIX "yaml: line %zu: %s", line, msg);
    else err_set(y->err, y->errlen, YT_PREFIX "yaml: %s", msg);
    return CFRP_EPARSE;
}

static int yt_next(struct ytree *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev)) return yt_syntax_error(y);
    return 0;
}

static int yt_nomem(struct ytree *y)
{
    err_set(y->err, y->errlen, YT_PREFIX "out of memory");
    return UV_ENOMEM;
}

static bool yt_in(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(*words, s, n) == 0) return true;
    return false;
}

/* Go's strconv.ParseInt/ParseUint with base 0 on an underscore-free string. Returns
 * 1 for a value fitting int64 (in *i), 2 for one only fitting uint64 (in *u), else 0. */
static int yt_parse_int(const char *s, int64_t *i, uint64_t *u)
{
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    int base = 10;
    if (s[0] == '0' && s[1]) {
        char c = (char)(s[1] | 0x20);
        if (c == 'x') base = 16, s += 2;
        else if (c == 'o') base = 8, s += 2;
        else if (c == 'b') base = 2, s += 2;
        else base = 8, s += 1;
    }
    if (!*s) return 0;
    uint64_t v = 0;
    for (; *s; s++) {
        int d = ascii_hex_value((unsigned char)*s);
        if (d < 0 || d >= base) return 0;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        *i = (int64_t)(0 - v);
        return 1;
    }
    if (v <= INT64_MAX) {
        *i = (int64_t)v;
        return 1;
    }
    *u = v;
    return 2;
}

/* yaml.v2's float syntax: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yt_float_syntax(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    } else {
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') s++;
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

enum yt_kind { YK_STR, YK_NULL, YK_BOOL, YK_INT, YK_FLOAT };

void yaml_scalar_resolve(const char *s, size_t n, struct yaml_scalar *out)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                        "on", "On", "ON", NULL};
    static const char *const falses[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                         "off", "Off", "OFF", NULL};
    static const char *const pinf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
    static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    memset(out, 0, sizeof *out);
    out->kind = YAML_SCALAR_STR;
    if (yt_in(s, n, nulls)) {
        out->kind = YAML_SCALAR_NULL;
        return;
    }
    if (yt_in(s, n, trues) || yt_in(s, n, falses)) {
        out->kind = YAML_SCALAR_BOOL;
        out->b = yt_in(s, n, trues);
        return;
    }
    if (yt_in(s, n, pinf) || yt_in(s, n, ninf) || yt_in(s, n, nans)) {
        out->kind = YAML_SCALAR_FLOAT;
        out->f = yt_in(s, n, nans) ? NAN : yt_in(s, n, ninf) ? -INFINITY : INFINITY;
        return;
    }
    if (n == 0 || n > 256 || !strchr("+-.0123456789", s[0]) || memchr(s, '\0', n)) return;
    /* Go's ParseInt/ParseUint (base 0) and the float check run on the text without
     * underscores, except for a leading '.', which goes to ParseFloat as written. */
    char plain[260];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_' || s[0] == '.') plain[k++] = s[i];
    plain[k] = '\0';
    if (s[0] != '.') {
        int r = yt_parse_int(plain, &out->i, &out->u);
        if (r) {
            out->kind = r == 1 ? YAML_SCALAR_INT : YAML_SCALAR_UINT;
            return;
        }
    }
    if (yt_float_syntax(plain)) {
        double f = strtod(plain, NULL);
        if (isinf(f)) return; /* ParseFloat's range error: the text stays a string */
        out->kind = YAML_SCALAR_FLOAT;
        out->f = f;
    }
}

/* Resolves a plain scalar as yaml.v2 does. *v gets the value (new reference); a
 * non-finite float (.inf, .nan) becomes JSON null, its raw text telling what it is. */
static enum yt_kind yt_resolve_plain(const char *s, size_t n, json_t **v)
{
    struct yaml_scalar sc;
    yaml_scalar_resolve(s, n, &sc);
    switch (sc.kind) {
    case YAML_SCALAR_NULL: *v = json_null(); return YK_NULL;
    case YAML_SCALAR_BOOL: *v = json_boolean(sc.b); return YK_BOOL;
    case YAML_SCALAR_INT: *v = json_integer(sc.i); return YK_INT;
    case YAML_SCALAR_UINT: *v = json_real((double)sc.u); return YK_INT;
    case YAML_SCALAR_FLOAT: *v = isfinite(sc.f) ? json_real(sc.f) : json_null(); return YK_FLOAT;
    default: *v = NULL; return YK_STR;
    }
}

/* Builds the value and raw twin of a scalar event. */
static int yt_scalar(struct ytree *y, const yaml_event_t *ev, json_t **v, json_t **raw)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    enum yt_kind kind = YK_STR;
    *v = *raw = NULL;
    if (tag && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0) {
        kind = yt_resolve_plain(s, n, v);
        const char *want = strcmp(tag, YAML_NULL_TAG) == 0    ? "!!null"
                           : strcmp(tag, YAML_BOOL_TAG) == 0  ? "!!bool"
                           : strcmp(tag, YAML_INT_TAG) == 0   ? "!!int"
                           : strcmp(tag, YAML_FLOAT_TAG) == 0 ? "!!float" : NULL;
        static const char *const kinds[] = {"!!str", "!!null", "!!bool", "!!int", "!!float"};
        if (want && strcmp(want, kinds[kind]) != 0 && !(kind == YK_INT && strcmp(want, "!!float") == 0)) {
            json_decref(*v);
            *v = NULL;
            err_set(y->err, y->errlen, YT_PREFIX "yaml: unmarshal errors:\n  line %zu: cannot decode %s `%.*s` as a %s",
                    ev->start_mark.line + 1, kinds[kind], (int)(n > 64 ? 64 : n), s, want);
            return CFRP_EPARSE;
        }
    } else if (plain && !tag) {
        kind = yt_resolve_plain(s, n, v);
    }
    if (kind == YK_STR) {
        json_decref(*v);
        *v = json_stringn(s, n);
        *raw = json_null();
    } else {
        *raw = json_stringn(s, n);
    }
    if (!*v || !*raw) {
        json_decref(*v);
        json_decref(*raw);
        *v = *raw = NULL;
        return yt_nomem(y);
    }
    return 0;
}

static struct yt_anchor *yt_find_anchor(struct ytree *y, const char *name)
{
    for (size_t i = y->nanchors; i-- > 0;)
        if (strcmp(y->anchors[i].name, name) == 0) return &y->anchors[i];
    return NULL;
}

/* Registers an anchor before its node is built (so self-references are caught). */
static int yt_anchor_begin(struct ytree *y, const char *name)
{
    if (y->nanchors == y->capanchors) {
        size_t cap = y->capanchors ? y->capanchors * 2 : 8;
        struct yt_anchor *a = realloc(y->anchors, cap * sizeof *a);
        if (!a) return yt_nomem(y);
        y->anchors = a;
        y->capanchors = cap;
    }
    struct yt_anchor *a = &y->anchors[y->nanchors];
    if (!(a->name = strdup(name))) return yt_nomem(y);
    a->v = a->raw = NULL;
    a->height = 0;
    y->nanchors++;
    return 0;
}

static size_t yt_count(json_t *v)
{
    size_t n = 1;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) n += yt_count(json_array_get(v, i));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) n += yt_count(e);
    }
    return n;
}

static int yt_count_nodes(struct ytree *y, size_t add)
{
    if (add > YAML_TREE_MAX_NODES - y->nodes) {
        err_set(y->err, y->errlen, YT_PREFIX "yaml: document contains excessive aliasing");
        return CFRP_ETOOBIG;
    }
    y->nodes += add;
    return 0;
}

/* Whether a scalar is a non-finite float (JSON null with its YAML text as raw). */
static bool yt_nonfinite(json_t *v, json_t *raw)
{
    if (!json_is_null(v) || !json_is_string(raw)) return false;
    struct yaml_scalar sc;
    yaml_scalar_resolve(json_string_value(raw), json_string_length(raw), &sc);
    return sc.kind == YAML_SCALAR_FLOAT;
}

/* The text a map key becomes in JSON (sigs.k8s.io/yaml's key conversion). */
static int yt_key_text(struct ytree *y, const yaml_event_t *ev, json_t *kv, json_t *kraw, char *buf, size_t buflen,
                       const char **key, size_t *keylen)
{
    if (json_is_string(kv) && json_is_null(kraw)) {
        *key = json_string_value(kv);
        *keylen = json_string_length(kv);
        return 0;
    }
    if (json_is_true(kv) || json_is_false(kv)) {
        *key = json_is_true(kv) ? "true" : "false";
    } else if (json_is_integer(kv)) {
        snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(kv));
        *key = buf;
    } else if (json_is_real(kv) || yt_nonfinite(kv, kraw)) {
        /* sigs.k8s.io/yaml: FormatFloat(f, 'g', -1, 32), infinities as YAML spells them;
         * a uint64 key it cannot convert */
        struct yaml_scalar sc;
        yaml_scalar_resolve(json_string_value(kraw), json_string_length(kraw), &sc);
        if (sc.kind == YAML_SCALAR_UINT) {
            err_set(y->err, y->errlen, YT_PREFIX "Unsupported map key of type: uint64, key: 0x%" PRIx64, sc.u);
            return CFRP_EPARSE;
        }
        if (isnan(sc.f)) *key = ".nan";
        else if (isinf(sc.f)) *key = sc.f > 0 ? ".inf" : "-.inf";
        else {
            cfg_go_float32_g(sc.f, buf, buflen);
            *key = buf;
        }
    } else if (json_is_string(kv)) {
        *key = json_string_value(kv);
    } else {
        err_set(y->err, y->errlen, YT_PREFIX "yaml: line %zu: unsupported map key of type %s",
                ev->start_mark.line + 1, json_is_null(kv) ? "<nil>" : "map or sequence");
        return CFRP_EPARSE;
    }
    *keylen = strlen(*key);
    return 0;
}

/* Sets key in obj/raw, recording a strict-mode duplicate (yaml.v2 keeps the first). */
static int yt_set(struct ytree *y, json_t *obj, json_t *raw, const char *key, size_t keylen, json_t *v,
                  json_t *vraw, size_t line)
{
    if (y->strict && json_object_getn(obj, key, keylen)) {
        char msg[400];
        int n = snprintf(msg, sizeof msg, "\n  line %zu: key \"%.*s\" already set in map", line,
                         (int)(keylen > 256 ? 256 : keylen), key);
        char *t = realloc(y->terrors, y->terrlen + (size_t)n + 1);
        if (!t) return yt_nomem(y);
        memcpy(t + y->terrlen, msg, (size_t)n + 1);
        y->terrors = t;
        y->terrlen += (size_t)n;
        json_decref(v);
        json_decref(vraw);
        return 0;
    }
    if (json_object_setn_new(obj, key, keylen, v) || json_object_setn_new(raw, key, keylen, vraw))
        return yt_nomem(y);
    return 0;
}

static int yt_node(struct ytree *y, yaml_event_t *ev, int depth, json_t **v, json_t **raw, int *height);

/* Merges mapping m (a "<<" value: map, or sequence of maps, earlier ones winning). */
static int yt_merge(struct ytree *y, json_t *obj, json_t *raw, json_t *m, json_t *mraw, size_t line)
{
    if (json_is_array(m)) {
        for (size_t i = json_array_size(m); i-- > 0;) {
            if (!json_is_object(json_array_get(m, i))) goto want_map;
            int rc = yt_merge(y, obj, raw, json_array_get(m, i), json_array_get(mraw, i), line);
            if (rc) return rc;
        }
        return 0;
    }
    if (!json_is_object(m)) goto want_map;
    const char *k;
    size_t kl;
    json_t *e;
    void *tmp;
    json_object_keylen_foreach_safe(m, tmp, k, kl, e)
    {
        json_t *ec = json_deep_copy(e), *rc_ = json_deep_copy(json_object_getn(mraw, k, kl));
        if (!ec || !rc_) {
            json_decref(ec);
            json_decref(rc_);
            return yt_nomem(y);
        }
        int rc = yt_set(y, obj, raw, k, kl, ec, rc_, line);
        if (rc) return rc;
    }
    return 0;
want_map:
    err_set(y->err, y->errlen, YT_PREFIX "yaml: map merge requires map or sequence of maps as the value");
    return CFRP_EPARSE;
}

static int yt_mapping(struct ytree *y, int depth, json_t *obj, json_t *raw, int *height)
{
    for (;;) {
        yaml_event_t kev, vev;
        int rc = yt_next(y, &kev);
        if (rc) return rc;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        bool merge = kev.type == YAML_SCALAR_EVENT && kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                     !kev.data.scalar.tag && kev.data.scalar.length == 2 &&
                     memcmp(kev.data.scalar.value, "<<", 2) == 0;
        json_t *kv = NULL, *kraw = NULL;
        int h = 0;
        rc = yt_node(y, &kev, depth + 1, &kv, &kraw, &h);
        if (rc) {
            yaml_event_delete(&kev);
            return rc;
        }
        if ((rc = yt_next(y, &vev))) {
            yaml_event_delete(&kev);
            json_decref(kv);
            json_decref(kraw);
            return rc;
        }
        size_t line = vev.start_mark.line + 1;
        json_t *v = NULL, *vraw = NULL;
        rc = yt_node(y, &vev, depth + 1, &v, &vraw, &h);
        yaml_event_delete(&vev);
        if (!rc && h + 1 > *height) *height = h + 1;
        if (!rc && merge) {
            rc = yt_merge(y, obj, raw, v, vraw, line);
            json_decref(v);
            json_decref(vraw);
        } else if (!rc) {
            char buf[64];
            const char *key;
            size_t keylen;
            rc = yt_key_text(y, &kev, kv, kraw, buf, sizeof buf, &key, &keylen);
            if (!rc) rc = yt_set(y, obj, raw, key, keylen, v, vraw, line);
            else json_decref(v), json_decref(vraw);
        }
        yaml_event_delete(&kev);
        json_decref(kv);
        json_decref(kraw);
        if (rc) return rc;
    }
}

static int yt_sequence(struct ytree *y, int depth, json_t *arr, json_t *raw, int *height)
{
    for (;;) {
        yaml_event_t ev;
        int rc = yt_next(y, &ev);
        if (rc) return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        json_t *v, *vraw;
        int h = 0;
        rc = yt_node(y, &ev, depth + 1, &v, &vraw, &h);
        yaml_event_delete(&ev);
        if (rc) return rc;
        if (h + 1 > *height) *height = h + 1;
        if (json_array_append_new(arr, v) || json_array_append_new(raw, vraw)) return yt_nomem(y);
    }
}

/* Builds the node that starts with ev (ev stays owned by the caller). */
static int yt_node(struct ytree *y, yaml_event_t *ev, int depth, json_t **v, json_t **raw, int *height)
{
    *v = *raw = NULL;
    *height = 0;
    if (depth > YAML_TREE_MAX_DEPTH) {
        err_set(y->err, y->errlen, YT_PREFIX "yaml: line %zu: exceeded max depth of %d",
                ev->start_mark.line + 1, YAML_TREE_MAX_DEPTH);
        return CFRP_ETOOBIG;
    }
    int rc = yt_count_nodes(y, 1);
    if (rc) return rc;
    const char *anchor = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        struct yt_anchor *a = yt_find_anchor(y, name);
        if (!a) {
            err_set(y->err, y->errlen, YT_PREFIX "yaml: unknown anchor '%s' referenced", name);
            return CFRP_EPARSE;
        }
        if (!a->v) {
            err_set(y->err, y->errlen, YT_PREFIX "yaml: anchor '%s' value contains itself", name);
            return CFRP_EPARSE;
        }
        if (depth + a->height > YAML_TREE_MAX_DEPTH) {
            err_set(y->err, y->errlen, YT_PREFIX "yaml: line %zu: exceeded max depth of %d",
                    ev->start_mark.line + 1, YAML_TREE_MAX_DEPTH);
            return CFRP_ETOOBIG;
        }
        if ((rc = yt_count_nodes(y, yt_count(a->v)))) return rc;
        *v = json_deep_copy(a->v);
        *raw = json_deep_copy(a->raw);
        *height = a->height;
        if (!*v || !*raw) {
            json_decref(*v);
            json_decref(*raw);
            *v = *raw = NULL;
            return yt_nomem(y);
        }
        return 0;
    }
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = (const char *)ev->data.sequence_start.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = (const char *)ev->data.mapping_start.anchor;
        break;
    default:
        err_set(y->err, y->errlen, YT_PREFIX "yaml: line %zu: unexpected event", ev->start_mark.line + 1);
        return CFRP_EPARSE;
    }
    size_t aidx = 0;
    if (anchor) {
        if ((rc = yt_anchor_begin(y, anchor))) return rc;
        aidx = y->nanchors - 1;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        rc = yt_scalar(y, ev, v, raw);
    } else {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        *v = map ? json_object() : json_array();
        *raw = map ? json_object() : json_array();
        if (!*v || !*raw) rc = yt_nomem(y);
        else if (map) rc = yt_mapping(y, depth, *v, *raw, height);
        else rc = yt_sequence(y, depth, *v, *raw, height);
    }
    if (rc) {
        json_decref(*v);
        json_decref(*raw);
        *v = *raw = NULL;
        return rc;
    }
    if (anchor) {
        struct yt_anchor *a = &y->anchors[aidx];
        a->v = json_incref(*v);
        a->raw = json_incref(*raw);
        a->height = *height;
    }
    return 0;
}

int yaml_tree_parse(const char *text, size_t len, bool strict, json_t **tree, json_t **raw, char *err,
                    size_t errlen)
{
    *tree = NULL;
    if (raw) *raw = NULL;
    struct ytree y = {.strict = strict, .err = err, .errlen = errlen};
    if (!yaml_parser_initialize(&y.parser)) return yt_nomem(&y);
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    json_t *v = NULL, *vraw = NULL;
    yaml_event_t ev;
    int rc = yt_next(&y, &ev);
    if (rc) goto done;
    yaml_event_delete(&ev); /* STREAM-START */
    if ((rc = yt_next(&y, &ev))) goto done;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        v = json_null();
        vraw = json_null();
        goto done;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if ((rc = yt_next(&y, &ev))) goto done;
    int height = 0;
    rc = yt_node(&y, &ev, 1, &v, &vraw, &height);
    yaml_event_delete(&ev);
    if (rc) goto done;
    /* yaml.v2 reads the document end; later documents are never parsed */
    if ((rc = yt_next(&y, &ev))) goto done;
    yaml_event_delete(&ev);
    if (y.terrors) {
        err_set(err, errlen, YT_PREFIX "yaml: unmarshal errors:%s", y.terrors);
        rc = CFRP_EPARSE;
    }
done:
    if (rc) {
        json_decref(v);
        json_decref(vraw);
    } else {
        *tree = v;
        if (raw) *raw = vraw;
        else json_decref(vraw);
    }
    for (size_t i = 0; i < y.nanchors; i++) {
        free(y.anchors[i].name);
        json_decref(y.anchors[i].v);
        json_decref(y.anchors[i].raw);
    }
    free(y.anchors);
    free(y.terrors);
    yaml_parser_delete(&y.parser);
    return rc;
}
