/* The table-driven engine behind every config struct. Each C struct is described once
 * by a struct sch_schema (a list of fields: JSON key, kind, offset, default, Go type
 * text); that one table drives
 *   - decoding from a jansson tree with Go encoding/json semantics: case-insensitive
 *     keys (exact match preferred), last duplicate wins, unknown keys rejected in strict
 *     mode, Go's error texts (first error wins, custom decoders abort at once),
 *   - completion: zero values replaced by the table's defaults (config.md 5),
 *   - encoding back to JSON in Go's field order with omitempty (admin API, dashboard),
 *   - freeing and deep copying.
 * Polymorphic values (proxies, visitors, plugins) select a per-type schema by `type`. */
#ifndef CFRP_CONFIG_SCHEMA_H
#define CFRP_CONFIG_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sch_kind {
    SCH_STRING,     /* char * (owned; NULL reads as "") */
    SCH_INT,        /* int64_t (Go int and int64) */
    SCH_BOOL,       /* bool */
    SCH_TRI,        /* enum cfg_tri (Go *bool) */
    SCH_STRLIST,    /* struct cfg_strlist */
    SCH_STRMAP,     /* struct cfg_strmap */
    SCH_STRUCT,     /* nested struct, inline, described by sub */
    SCH_STRUCT_PTR, /* pointer to a struct described by sub (NULL = absent) */
    SCH_LIST,       /* struct { T *items; size_t n; } of structs described by sub */
    SCH_BANDWIDTH,  /* struct cfg_bandwidth */
    SCH_POLY,       /* one polymorphic struct, inline, selected by poly (plugin) */
    SCH_POLY_LIST   /* struct { T *items; size_t n; } of polymorphic structs */
};

/* Field flags. */
enum {
    SCH_OMITEMPTY = 1 /* Go `omitempty`: not encoded when zero */
};

struct sch_schema;
struct sch_poly;

/* One-line field definitions for the tables (T is the C struct, m its member). */
#define SF_STR(k, T, m, fl, def) {k, SCH_STRING, offsetof(T, m), fl, "string", NULL, NULL, def, 0}
#define SF_STRT(k, T, m, gt, fl, def) {k, SCH_STRING, offsetof(T, m), fl, gt, NULL, NULL, def, 0}
#define SF_INT(k, T, m, gt, fl, def) {k, SCH_INT, offsetof(T, m), fl, gt, NULL, NULL, NULL, def}
#define SF_BOOL(k, T, m, fl) {k, SCH_BOOL, offsetof(T, m), fl, "bool", NULL, NULL, NULL, 0}
#define SF_TRI(k, T, m, def) {k, SCH_TRI, offsetof(T, m), SCH_OMITEMPTY, "bool", NULL, NULL, NULL, def}
#define SF_LIST(k, T, m, gt, fl) {k, SCH_STRLIST, offsetof(T, m), fl, gt, NULL, NULL, NULL, 0}
#define SF_MAP(k, T, m, fl) {k, SCH_STRMAP, offsetof(T, m), fl, "map[string]string", NULL, NULL, NULL, 0}
#define SF_SUB(k, kind, T, m, gt, fl, sub) {k, kind, offsetof(T, m), fl, gt, sub, NULL, NULL, 0}
#define SF_POLY(k, kind, T, m, gt, fl, poly) {k, kind, offsetof(T, m), fl, gt, NULL, poly, NULL, 0}
#define SF_END {NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0}

struct sch_field {
    const char *key;     /* JSON name, frp's lowerCamel spelling */
    enum sch_kind kind;
    size_t offset;       /* offsetof in the described struct */
    unsigned flags;
    const char *go_type; /* Go type as reflect prints it, for type errors */
    const struct sch_schema *sub;  /* STRUCT, STRUCT_PTR, LIST */
    const struct sch_poly *poly;   /* POLY, POLY_LIST */
    const char *def_str; /* default for a zero STRING (NULL: none) */
    int64_t def_int;     /* default for a zero INT; for TRI: nonzero = default true */
};

/* A struct: name is the Go struct name used in type errors ("ServerConfig"); fields
 * come from a NULL-terminated list of field arrays so that per-type tables extend a
 * common base ({base_fields, tcp_fields, NULL}). Each field array ends with key NULL. */
struct sch_schema {
    const char *name;
    size_t size;         /* sizeof the C struct (for LIST elements and STRUCT_PTR) */
    const struct sch_field *const *parts;
    /* Go embedding as the YAML type hint (sch_yaml_prepare) sees it: the fields of these
     * parts (a NULL-terminated subset of parts, or NULL) are promoted from an embedded
     * struct, so a key naming one is hinted with that struct, `embedded` (NULL when
     * such a hint cannot change the outcome), instead of with the field. */
    const struct sch_field *const *promoted;
    const struct sch_schema *embedded;
};

/* One alternative of a polymorphic value. */
struct sch_variant {
    const char *type;           /* value of the `type` key, e.g. "tcp" */
    int id;                     /* stored into the struct's int at poly->id_offset */
    const struct sch_schema *schema;
};

struct sch_poly {
    size_t elem_size;           /* sizeof the C struct */
    size_t id_offset;           /* offset of the int (enum) that records the variant */
    size_t type_offset;         /* offset of the char * type name (also a "type" field of
                                   every variant table, which owns it) */
    const struct sch_variant *variants; /* ends with type NULL */
    const char *wrap;           /* "unmarshal ProxyConfig error: " */
    const char *unknown_fmt;    /* "unknown proxy type: %s" */
    const char *empty_msg;      /* error for type "" (NULL: treated as unknown type) */
    const char *null_msg;       /* error for a JSON null (NULL: null means absent) */
};

/* Decoding options. */
struct sch_opts {
    bool strict;   /* unknown keys are errors */
    bool sorted;   /* walk object keys in byte order (TOML/YAML trees were Go maps) */
    json_t *raw;   /* borrowed, may be NULL: the tree's raw twin, the literal text of
                      every JSON number, or (raw_yaml) yaml_tree's source texts; gives
                      Go's text of numbers in type errors ("number 7000.0") */
    bool raw_yaml;
    const char *top_type; /* Go type of the whole value, "v1.ServerConfig" */
};

/* Decodes tree into obj (zero-initialised by the caller, or holding earlier values that
 * keys in tree replace). Returns 0, or CFRP_EPARSE/CFRP_EINVAL with Go's message in
 * err, or UV_ENOMEM. On error obj may be partly filled; free it with sch_free. */
int sch_decode(const struct sch_schema *s, const struct sch_opts *o, json_t *tree,
               void *obj, char *err, size_t errlen);

/* sigs.k8s.io/yaml's step between YAML and JSON (config.md 2.5) on a YAML tree and its
 * raw twin (yaml_tree.h), with s as the type hint: a number or boolean bound for a
 * string field becomes a string as frp makes it (decimal for ints, Go's FormatFloat
 * 'g' float32 form for floats, "true"/"false"). The hint follows Go's embedding
 * (sch_schema.promoted), which is why it works for frps files and (almost) never for
 * frpc ones. Then a non-finite float left anywhere fails as Go's JSON encoder does,
 * first in sorted key order: "error converting YAML to JSON: json: unsupported value:
 * +Inf". Returns 0, CFRP_EPARSE or UV_ENOMEM (message in err). */
int sch_yaml_prepare(const struct sch_schema *s, json_t *tree, json_t *raw, char *err, size_t errlen);

/* Decodes one polymorphic value (a proxy outside a file) into elem (zero on entry),
 * as an element of a list of p would be. Errors as sch_decode. */
int sch_decode_poly(const struct sch_poly *p, const struct sch_opts *o, json_t *tree,
                    void *elem, char *err, size_t errlen);

/* Replaces zero values by the table defaults, recursing into STRUCT fields, existing
 * STRUCT_PTR targets and POLY values (not lists: their completion needs the user).
 * Returns 0 or UV_ENOMEM. */
int sch_complete(const struct sch_schema *s, void *obj);

/* Replaces NULL strings by "" everywhere (lists of structs included), so that users of
 * a loaded config never see NULL. Returns 0 or UV_ENOMEM. */
int sch_fill_strings(const struct sch_schema *s, void *obj);

/* Encodes obj as Go's json.Marshal would. New reference, NULL on ENOMEM. */
json_t *sch_encode(const struct sch_schema *s, const void *obj);

/* Frees everything obj owns (not obj itself) and zeroes it. */
void sch_free(const struct sch_schema *s, void *obj);

/* Deep copy of src into dst (dst must be zero). Returns 0 or UV_ENOMEM (dst then holds
 * a partial copy to sch_free). */
int sch_copy(const struct sch_schema *s, void *dst, const void *src);

/* Schema of a polymorphic value's current variant (by its id), NULL if none. */
const struct sch_schema *sch_poly_schema(const struct sch_poly *p, const void *obj);

#endif
