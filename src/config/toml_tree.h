/* Internal to the TOML parser (toml.c): the document tree it builds, the arena
 * that owns that tree, the key index of all tables, and the conversion of the
 * finished tree into jansson (toml_tree.c). Not for other modules. */
#ifndef CFRP_CONFIG_TOML_TREE_H
#define CFRP_CONFIG_TOML_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Bump allocator: every node, key and string of one parse lives here and is
 * released at once by toml_arena_free. */
struct toml_arena_block;
struct toml_arena {
    struct toml_arena_block *head; /* owned: the newest block, linked to older ones */
};

/* Returns zeroed memory aligned for any node, or NULL when out of memory. */
void *toml_arena_alloc(struct toml_arena *ar, size_t n);
void toml_arena_free(struct toml_arena *ar);

enum toml_kind {
    TOML_K_TABLE,
    TOML_K_ARRAY,
    TOML_K_STRING,
    TOML_K_INT,
    TOML_K_FLOAT,
    TOML_K_BOOL,
    TOML_K_DATETIME,       /* offset date-time */
    TOML_K_DATETIME_LOCAL,
    TOML_K_DATE_LOCAL,
    TOML_K_TIME_LOCAL
};

/* How a table or array came to be; decides what may still be added to it. A
 * table with none of these flags was created implicitly as a parent in a
 * [header] path and may be defined by its own header once. */
enum {
    TOML_F_DEFINED = 1, /* table: the root, a [header]'s table or a [[header]] element */
    TOML_F_DOTTED = 2,  /* table: created (or taken over) by dotted keys in `section` */
    TOML_F_FROZEN = 4,  /* inline table, anything inside one, or a value array */
    TOML_F_AOT = 8      /* array: made by [[header]]; its elements are tables */
};

struct toml_datetime {
    int year, month, day;       /* local time has none */
    int hour, minute, second;   /* local date has none */
    long nsec;                  /* fraction, truncated to nanoseconds */
    int prec;                   /* fraction digits written, at most 9; 0 = none */
    char offset_sign;           /* 'Z', '+' or '-'; offset date-time only */
    int offset_min;             /* absolute offset in minutes */
};

struct toml_node;

struct toml_entry {
    const char *key; /* arena; may contain NULs */
    size_t klen;
    struct toml_node *val;
};

struct toml_node {
    enum toml_kind kind;
    unsigned flags;        /* TOML_F_* */
    unsigned depth;        /* the root is 0 */
    unsigned long section; /* with TOML_F_DOTTED: the section whose dotted keys own it */
    union {
        struct {
            struct toml_entry *items; /* arena, document order */
            size_t n, cap;
        } tab;
        struct {
            struct toml_node **items; /* arena */
            size_t n, cap;
        } arr;
        struct {
            const char *s; /* arena; may contain NULs */
            size_t len;
        } str;
        int64_t i;
        double f;
        int b;
        struct toml_datetime dt;
    } u;
};

/* Finds a table's keys in O(1): one open-addressing map over (table, key) for
 * the whole document. */
struct toml_index {
    struct toml_slot *slots; /* owned (malloc); NULL until the first insert */
    size_t cap, used;
};

void toml_index_free(struct toml_index *ix);

/* The value under key in table tab, or NULL. */
struct toml_node *toml_table_get(const struct toml_index *ix, const struct toml_node *tab,
                                 const char *key, size_t klen);
/* Adds key (not present yet; key must live in the arena) → val to tab. 0 or
 * -1 when out of memory. */
int toml_table_put(struct toml_arena *ar, struct toml_index *ix, struct toml_node *tab,
                   const char *key, size_t klen, struct toml_node *val);
/* Appends val to array arr. 0 or -1 when out of memory. */
int toml_array_push(struct toml_arena *ar, struct toml_node *arr, struct toml_node *val);

/* 28..31 for month 1..12 of a proleptic Gregorian year. */
int toml_days_in_month(int year, int month);

/* Builds the jansson tree for node (see toml.h for the two shapes; tagged
 * selects TOML_TAGGED). Returns 0 and *out (new reference); CFRP_EINVAL for
 * inf/nan in the plain shape; UV_ENOMEM. The message goes into err. */
int toml_tree_to_json(const struct toml_node *node, int tagged, json_t **out, char *err,
                      size_t errlen);

#endif
