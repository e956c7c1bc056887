/* Value types shared by the frps and frpc configurations (config.md section 4):
 * string lists and maps, tri-state booleans, bandwidth quantities, port ranges, and
 * the small Go-compatible text helpers (quoting, float formatting, path cleaning)
 * that the error messages need. */
#ifndef CFRP_CONFIG_TYPES_H
#define CFRP_CONFIG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A Go *bool: unset (nil) is distinct from an explicit false. Zero is unset. */
enum cfg_tri { CFG_UNSET = 0, CFG_FALSE = 1, CFG_TRUE = 2 };

/* lo.FromPtr: unset reads as false. */
static inline bool cfg_tri_true(enum cfg_tri t) { return t == CFG_TRUE; }

/* List of strings. items == NULL is Go's nil slice (absent or null); an allocated
 * items with n == 0 is an explicit empty list. The struct owns items and each string. */
struct cfg_strlist {
    char **items;
    size_t n;
};

/* Map string -> string, kept in the order the keys were decoded (the encoder sorts,
 * as Go does). keys == NULL is nil. Owns both arrays and every string. */
struct cfg_strmap {
    char **keys;
    char **vals;
    size_t n;
};

/* transport.bandwidthLimit: the trimmed text as written ("" = no limit) and its value
 * in bytes per second. Owns text. */
struct cfg_bandwidth {
    char *text;
    int64_t bytes;
};

/* One allowPorts entry: single > 0 allows that port, else start..end inclusive. */
struct cfg_ports_range {
    int64_t start;
    int64_t end;
    int64_t single;
};

/* healthCheck.httpHeaders entry. Owns both strings. */
struct cfg_http_header {
    char *name;
    char *value;
};

/* HeaderOperations: only `set` exists. */
struct cfg_header_ops {
    struct cfg_strmap set;
};

bool cfg_strlist_contains(const struct cfg_strlist *l, const char *s);
/* Appends a copy of s. Returns 0 or UV_ENOMEM. */
int cfg_strlist_push(struct cfg_strlist *l, const char *s);
void cfg_strlist_clear(struct cfg_strlist *l);
/* Value for key (exact match) or NULL. */
const char *cfg_strmap_get(const struct cfg_strmap *m, const char *key);
/* Sets key to a copy of val, replacing an existing value. Returns 0 or UV_ENOMEM. */
int cfg_strmap_set(struct cfg_strmap *m, const char *key, const char *val);
void cfg_strmap_clear(struct cfg_strmap *m);

/* Parses a BandwidthQuantity string as frp does (config.md 4.3): "1MB", " 1.5KB ", "".
 * On success out->text is a new copy of the trimmed text. On error returns CFRP_EINVAL
 * with frp's text in err ("unit not support", "strconv.ParseFloat: parsing ...").
 * Out is left untouched on error. */
int cfg_bandwidth_parse(const char *s, struct cfg_bandwidth *out, char *err, size_t errlen);

/* Range syntax of config.md 3.2 ("2000-3000,3001"), into allowPorts entries. *out is
 * malloc'd (owned by the caller), *n its length. Errors carry frp's texts. */
int cfg_ports_parse(const char *s, struct cfg_ports_range **out, size_t *n, char *err,
                    size_t errlen);
/* Canonical string of a ports list ("2000-3000,3001"); malloc'd, NULL on ENOMEM. */
char *cfg_ports_format(const struct cfg_ports_range *r, size_t n);
/* Whether port is allowed by the list (an empty list allows 1..65535). */
bool cfg_ports_allowed(const struct cfg_ports_range *r, size_t n, int64_t port);

/* The `user.` prefix of config.md 5.6: "<user>.<name>" when user is non-empty, else a
 * copy of name. malloc'd; NULL on ENOMEM. NULL arguments read as "". */
char *cfg_user_name(const char *user, const char *name);

/* Go's strconv.Quote of s into out (truncated to outlen). Returns out. */
char *cfg_go_quote(const char *s, char *out, size_t outlen);
/* Go's encoding/json rendering of a float64 (shortest form, 'e' outside 1e-6..1e21). */
void cfg_go_float(double v, char *out, size_t outlen);
/* Go's strconv.FormatFloat(v, 'g', -1, 32): v rounded to float32, shortest digits,
 * exponent form when the exponent is < -4 or >= 6 ("1.5", "1e+06", "+Inf"). */
void cfg_go_float32_g(double v, char *out, size_t outlen);
/* Go's filepath.Abs(filepath.Dir(path)): the directory part made absolute against the
 * working directory, cleaned. malloc'd; NULL on error (errno set). */
char *cfg_abs_dir(const char *path);
/* Go's filepath.Clean of an absolute or relative path; malloc'd, NULL on ENOMEM. */
char *cfg_path_clean(const char *path);

/* Sections shared by frps and frpc (Go: LogConfig, WebServerConfig, TLSConfig,
 * QUICOptions). Strings are owned; after loading none is NULL. */
struct cfg_tls {
    char *cert_file;
    char *key_file;
    char *trusted_ca_file;
    char *server_name;
};

struct cfg_log {
    char *to;           /* "console" or a file path */
    char *level;        /* trace debug info warn error */
    int64_t max_days;
    bool disable_print_color;
};

struct cfg_web_server {
    char *addr;
    int64_t port;       /* 0 = off */
    char *user;
    char *password;
    char *assets_dir;
    bool pprof_enable;
    struct cfg_tls *tls; /* NULL = plain HTTP; owned */
};

struct cfg_quic {
    int64_t keepalive_period;     /* seconds */
    int64_t max_idle_timeout;     /* seconds */
    int64_t max_incoming_streams;
};

struct sch_schema;
extern const struct sch_schema cfg_tls_schema;
extern const struct sch_schema cfg_log_schema;
extern const struct sch_schema cfg_web_server_schema;
extern const struct sch_schema cfg_quic_schema;
extern const struct sch_schema cfg_ports_range_schema;
extern const struct sch_schema cfg_http_header_schema;
extern const struct sch_schema cfg_header_ops_schema;

#endif
