/* pflag work-alike: flag values (Go's strconv/time parsing and error texts), flag sets
 * of a command, argument parsing and the aligned usage lines of help output. */
#include "base/ascii.h"
#include "cmd/common_flags.h"
#include "config/types.h"

#include <stdlib.h>
#include <string.h>

/* ---- Go-compatible value parsing ---------------------------------------------------- */

static int lower(int c)
{
    return c | 0x20;
}

/* Go's strconv underscoreOK. */
static bool go_underscore_ok(const char *s)
{
    char saw = '^';
    size_t i = 0, n;
    if (*s == '-' || *s == '+') s++;
    n = strlen(s);
    bool hex = false;
    if (n >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = lower(s[1]) == 'x';
    }
    for (; i < n; i++) {
        if ((s[i] >= '0' && s[i] <= '9') || (hex && ascii_hex_value((unsigned char)s[i]) >= 0)) {
            saw = '0';
            continue;
        }
        if (s[i] == '_') {
            if (saw != '0') return false;
            saw = '_';
            continue;
        }
        if (saw == '_') return false;
        saw = '!';
    }
    return saw != '_';
}

int cli_parse_int(const char *s0, long long *out, char *err, size_t errlen)
{
    char q[600];
    cfg_go_quote(s0, q, sizeof q);
    const char *s = s0;
    bool neg = false;
    if (*s == '+') s++;
    else if (*s == '-') neg = true, s++;
    if (*s == '\0') goto syntax;
    int base = 10;
    if (s[0] == '0') {
        size_t n = strlen(s);
        if (n >= 3 && lower(s[1]) == 'b') base = 2, s += 2;
        else if (n >= 3 && lower(s[1]) == 'o') base = 8, s += 2;
        else if (n >= 3 && lower(s[1]) == 'x') base = 16, s += 2;
        else base = 8, s += 1;
    }
    unsigned long long v = 0;
    bool underscores = false, range = false;
    for (; *s; s++) {
        int c = (unsigned char)*s, d;
        if (c == '_') {
            underscores = true;
            continue;
        } else if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (lower(c) >= 'a' && lower(c) <= 'z') {
            d = lower(c) - 'a' + 10;
        } else {
            goto syntax;
        }
        if (d >= base) goto syntax;
        if (range) continue;
        if (v > (~0ULL - (unsigned)d) / (unsigned)base) {
            range = true;
            continue;
        }
        v = v * (unsigned)base + (unsigned)d;
    }
    if (underscores && !go_underscore_ok(s0)) goto syntax;
    if (range || (!neg && v >= (1ULL << 63)) || (neg && v > (1ULL << 63))) {
        snprintf(err, errlen, "strconv.ParseInt: parsing %s: value out of range", q);
        return -1;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
syntax:
    snprintf(err, errlen, "strconv.ParseInt: parsing %s: invalid syntax", q);
    return -1;
}

/* Go's strconv.ParseBool. */
static int go_parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0) return *out = true, 0;
        if (strcmp(s, f[i]) == 0) return *out = false, 0;
    }
    char q[600];
    cfg_go_quote(s, q, sizeof q);
    snprintf(err, errlen, "strconv.ParseBool: parsing %s: invalid syntax", q);
    return -1;
}

/* Go's time.ParseDuration, in nanoseconds. */
static int go_parse_duration(const char *orig, int64_t *out, char *err, size_t errlen)
{
    static const struct { const char *u; uint64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
        {"ms", 1000000}, {"s", 1000000000ULL}, {"m", 60000000000ULL},
        {"h", 3600000000000ULL}};
    char q[600];
    cfg_go_quote(orig, q, sizeof q);
    const char *s = orig;
    bool neg = false;
    if (*s == '-' || *s == '+') neg = *s == '-', s++;
    if (strcmp(s, "0") == 0) return *out = 0, 0;
    if (*s == '\0') goto invalid;
    uint64_t d = 0;
    while (*s) {
        if (!(*s == '.' || (*s >= '0' && *s <= '9'))) goto invalid;
        uint64_t v = 0, f = 0;
        double scale = 1;
        const char *start = s;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (v > (1ULL << 63) / 10) goto invalid;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > (1ULL << 63)) goto invalid;
        }
        bool pre = s != start, post = false;
        if (*s == '.') {
            s++;
            const char *fs = s;
            bool overflow = false;
            for (; *s >= '0' && *s <= '9'; s++) {
                if (overflow) continue;
                if (f > (UINT64_MAX >> 1) / 10) {
                    overflow = true;
                    continue;
                }
                f = f * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
            post = s != fs;
        }
        if (!pre && !post) goto invalid;
        const char *us = s;
        while (*s && !(*s == '.' || (*s >= '0' && *s <= '9'))) s++;
        size_t ulen = (size_t)(s - us);
        if (ulen == 0) {
            snprintf(err, errlen, "time: missing unit in duration %s", q);
            return -1;
        }
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].u) == ulen && memcmp(units[i].u, us, ulen) == 0) unit = units[i].ns;
        if (!unit) {
            char u[256], uq[600];
            snprintf(u, sizeof u, "%.*s", (int)(ulen < 255 ? ulen : 255), us);
            cfg_go_quote(u, uq, sizeof uq);
            snprintf(err, errlen, "time: unknown unit %s in duration %s", uq, q);
            return -1;
        }
        if (v > (1ULL << 63) / unit) goto invalid;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > (1ULL << 63)) goto invalid;
        }
        d += v;
        if (d > (1ULL << 63)) goto invalid;
    }
    if (neg) return *out = (int64_t)(0 - d), 0;
    if (d > (uint64_t)INT64_MAX) goto invalid;
    *out = (int64_t)d;
    return 0;
invalid:
    snprintf(err, errlen, "time: invalid duration %s", q);
    return -1;
}

/* Go's encoding/csv for one record; appends the fields to list. */
static int csv_append(struct cli_list *list, const char *s, char *err, size_t errlen)
{
    if (*s == '\0') return 0;
    size_t cap = strlen(s) + 1;
    const char *p = s;
    for (;;) {
        char *field = malloc(cap);
        if (!field) return snprintf(err, errlen, "out of memory"), -1;
        size_t n = 0;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    free(field);
                    snprintf(err, errlen, "parse error on line 1, column %zu: extraneous or "
                             "missing \" in quoted-field", (size_t)(p - s) + 1);
                    return -1;
                }
                if (*p == '"' && p[1] == '"') {
                    field[n++] = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    field[n++] = *p++;
                }
            }
            if (*p != ',' && *p != '\0') {
                free(field);
                snprintf(err, errlen, "parse error on line 1, column %zu: extraneous or "
                         "missing \" in quoted-field", (size_t)(p - s) + 1);
                return -1;
            }
        } else {
            while (*p && *p != ',') {
                if (*p == '"') {
                    free(field);
                    snprintf(err, errlen,
                             "parse error on line 1, column %zu: bare \" in non-quoted-field",
                             (size_t)(p - s) + 1);
                    return -1;
                }
                field[n++] = *p++;
            }
        }
        field[n] = '\0';
        if (list->n >= CLI_LIST_MAX) {
            free(field);
            snprintf(err, errlen, "too many values (at most %d)", CLI_LIST_MAX);
            return -1;
        }
        list->items[list->n++] = field;
        if (*p == '\0') return 0;
        p++; /* ',' */
    }
}

static void list_clear(struct cli_list *list)
{
    for (size_t i = 0; i < list->n; i++) free(list->items[i]);
    list->n = 0;
}

/* Sets one flag from its text; err gets the underlying Go error text. */
static int flag_set(struct cli_flag *f, const char *v, char *err, size_t errlen)
{
    switch (f->type) {
    case CLI_BOOL: return go_parse_bool(v, (bool *)f->dst, err, errlen);
    case CLI_STRING: *(const char **)f->dst = v; return 0;
    case CLI_INT: return cli_parse_int(v, (long long *)f->dst, err, errlen);
    case CLI_DURATION: return go_parse_duration(v, (int64_t *)f->dst, err, errlen);
    case CLI_CUSTOM:
        if (f->check && f->check(v, err, errlen) != 0) return -1;
        *(const char **)f->dst = v;
        return 0;
    case CLI_STRINGS: {
        struct cli_list *l = f->dst;
        struct cli_list tmp = {.n = 0};
        if (csv_append(&tmp, v, err, errlen) != 0) {
            list_clear(&tmp);
            return -1;
        }
        if (!l->set) list_clear(l);
        l->set = true;
        for (size_t i = 0; i < tmp.n; i++) {
            if (l->n >= CLI_LIST_MAX) {
                list_clear(&tmp);
                snprintf(err, errlen, "too many values (at most %d)", CLI_LIST_MAX);
                return -1;
            }
            l->items[l->n++] = tmp.items[i];
            tmp.items[i] = NULL;
        }
        return 0;
    }
    }
    return -1;
}

void cli_flags_defaults(struct cli_cmd *cmd)
{
    struct cli_flag *arrays[2] = {cmd->flags, cmd->pflags};
    for (int a = 0; a < 2; a++) {
        for (struct cli_flag *f = arrays[a]; f && f->name; f++) {
            char err[256];
            f->changed = false;
            switch (f->type) {
            case CLI_STRINGS: list_clear(f->dst); ((struct cli_list *)f->dst)->set = false; break;
            case CLI_CUSTOM: *(const char **)f->dst = f->def; break;
            default: flag_set(f, f->def, err, sizeof err); break;
            }
        }
    }
    for (size_t i = 0; i < cmd->nsubs; i++) cli_flags_defaults(cmd->subs[i]);
}

/* ---- flag sets ---------------------------------------------------------------------- */

static bool name_eq(const char *registered, const char *name, size_t len)
{
    size_t i = 0;
    for (; i < len && registered[i]; i++) {
        char a = registered[i] == '_' ? '-' : registered[i];
        char b = name[i] == '_' ? '-' : name[i];
        if (a != b) return false;
    }
    return i == len && registered[i] == '\0';
}

struct cli_flag *cli_flagset_lookup(struct cli_flagset *fs, const char *name, size_t len)
{
    for (size_t i = 0; i < fs->n; i++)
        if (name_eq(fs->f[i]->name, name, len)) return fs->f[i];
    return NULL;
}

struct cli_flag *cli_flagset_short(struct cli_flagset *fs, char c)
{
    for (size_t i = 0; i < fs->n; i++)
        if (fs->f[i]->shorthand == c) return fs->f[i];
    return NULL;
}

static void set_add(struct cli_flagset *fs, struct cli_flag *arr)
{
    for (struct cli_flag *f = arr; f && f->name; f++) {
        if (cli_flagset_lookup(fs, f->name, strlen(f->name))) continue; /* shadowed */
        if (fs->n < CLI_SET_MAX) fs->f[fs->n++] = f;
    }
}

void cli_flagset_build(struct cli_flagset *fs, struct cli_cmd *cmd, enum cli_set_kind kind)
{
    fs->n = 0;
    if (kind != CLI_SET_INHERITED) {
        set_add(fs, cmd->flags);
        set_add(fs, cmd->pflags);
        snprintf(fs->help_usage, sizeof fs->help_usage, "help for %s", cmd->name);
        fs->help = (struct cli_flag){.name = "help", .type = CLI_BOOL, .dst = &fs->help_value,
                                     .def = "false", .usage = fs->help_usage};
        fs->help_value = false;
        if (!cli_flagset_lookup(fs, "help", 4)) {
            struct cli_flagset tmp = {.n = 0};
            /* -h only when no other flag of the full set uses it */
            for (struct cli_cmd *c = cmd; c; c = c->parent) {
                set_add(&tmp, c == cmd ? c->flags : NULL);
                set_add(&tmp, c->pflags);
            }
            if (!cli_flagset_short(&tmp, 'h')) fs->help.shorthand = 'h';
            if (fs->n < CLI_SET_MAX) fs->f[fs->n++] = &fs->help;
        }
        if (kind == CLI_SET_LOCAL) return;
    }
    struct cli_flagset own = {.n = 0};
    if (kind == CLI_SET_INHERITED) {
        set_add(&own, cmd->flags);
        set_add(&own, cmd->pflags);
    }
    for (struct cli_cmd *c = cmd->parent; c; c = c->parent) {
        for (struct cli_flag *f = c->pflags; f && f->name; f++) {
            if (kind == CLI_SET_INHERITED && cli_flagset_lookup(&own, f->name, strlen(f->name)))
                continue;
            if (cli_flagset_lookup(fs, f->name, strlen(f->name))) continue;
            if (fs->n < CLI_SET_MAX) fs->f[fs->n++] = f;
        }
    }
}

bool cli_flag_no_value(const struct cli_flag *f)
{
    return f->type == CLI_BOOL;
}

/* pflag's "invalid argument" wrapper around a value error. */
static void bad_value(struct cli_flag *f, const char *v, const char *why, char *err,
                      size_t errlen)
{
    char q[600], name[128];
    cfg_go_quote(v, q, sizeof q);
    size_t k = 0;
    for (const char *p = f->name; *p && k + 1 < sizeof name; p++) name[k++] = *p == '_' ? '-' : *p;
    name[k] = '\0';
    if (f->shorthand)
        snprintf(err, errlen, "invalid argument %s for \"-%c, --%s\" flag: %s", q, f->shorthand,
                 name, why);
    else
        snprintf(err, errlen, "invalid argument %s for \"--%s\" flag: %s", q, name, why);
}

static int apply(struct cli_flag *f, const char *v, char *err, size_t errlen)
{
    char why[2048];
    if (flag_set(f, v, why, sizeof why) != 0) {
        bad_value(f, v, why, err, errlen);
        return -1;
    }
    f->changed = true;
    return 0;
}

int cli_flagset_parse(struct cli_flagset *fs, int argc, char **argv, char **pos, int *npos,
                      char *err, size_t errlen)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        char *s = argv[i];
        if (s[0] != '-' || s[1] == '\0') {
            pos[(*npos)++] = s;
            continue;
        }
        if (s[1] == '-') {
            if (s[2] == '\0') { /* "--" ends the flags */
                for (i++; i < argc; i++) pos[(*npos)++] = argv[i];
                break;
            }
            const char *name = s + 2;
            if (name[0] == '-' || name[0] == '=') {
                snprintf(err, errlen, "bad flag syntax: %s", s);
                return -1;
            }
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            struct cli_flag *f = cli_flagset_lookup(fs, name, nlen);
            if (!f) {
                snprintf(err, errlen, "unknown flag: --%.*s", (int)nlen, name);
                return -1;
            }
            const char *v;
            if (eq) v = eq + 1;
            else if (cli_flag_no_value(f)) v = "true";
            else if (i + 1 < argc) v = argv[++i];
            else {
                snprintf(err, errlen, "flag needs an argument: %s", s);
                return -1;
            }
            if (apply(f, v, err, errlen) != 0) return -1;
            continue;
        }
        const char *sh = s + 1;
        while (*sh) {
            struct cli_flag *f = cli_flagset_short(fs, *sh);
            if (!f) {
                char q[16];
                snprintf(q, sizeof q, "%c", *sh);
                char qq[32];
                cfg_go_quote(q, qq, sizeof qq);
                qq[0] = qq[strlen(qq) - 1] = '\'';
                snprintf(err, errlen, "unknown shorthand flag: %s in -%s", qq, sh);
                return -1;
            }
            const char *v;
            const char *rest = sh + 1;
            if (strlen(sh) > 2 && sh[1] == '=') {
                v = sh + 2;
                rest = "";
            } else if (cli_flag_no_value(f)) {
                v = "true";
            } else if (sh[1]) {
                v = sh + 1;
                rest = "";
            } else if (i + 1 < argc) {
                v = argv[++i];
            } else {
                snprintf(err, errlen, "flag needs an argument: '%c' in -%s", *sh, sh);
                return -1;
            }
            if (apply(f, v, err, errlen) != 0) return -1;
            sh = rest;
        }
    }
    return 0;
}

/* ---- usage lines -------------------------------------------------------------------- */

static const char *varname(const struct cli_flag *f)
{
    switch (f->type) {
    case CLI_BOOL: return "";
    case CLI_STRING: return "string";
    case CLI_INT: return "int";
    case CLI_STRINGS: return "strings";
    case CLI_DURATION: return "duration";
    case CLI_CUSTOM: return strcmp(f->type_name, "bool") == 0 ? "" : f->type_name;
    }
    return "";
}

static bool default_is_zero(const struct cli_flag *f)
{
    const char *d = f->def ? f->def : "";
    switch (f->type) {
    case CLI_BOOL: return strcmp(d, "false") == 0;
    case CLI_DURATION: return strcmp(d, "0") == 0 || strcmp(d, "0s") == 0;
    case CLI_INT: return strcmp(d, "0") == 0;
    case CLI_STRING: return d[0] == '\0';
    case CLI_STRINGS: return strcmp(d, "[]") == 0;
    case CLI_CUSTOM:
        return strcmp(d, "false") == 0 || strcmp(d, "<nil>") == 0 || d[0] == '\0' ||
               strcmp(d, "0") == 0;
    }
    return true;
}

static void normalized(const char *name, char *out, size_t cap)
{
    size_t k = 0;
    for (; *name && k + 1 < cap; name++) out[k++] = *name == '_' ? '-' : *name;
    out[k] = '\0';
}

static int cmp_flags(const void *a, const void *b)
{
    char x[128], y[128];
    normalized((*(struct cli_flag *const *)a)->name, x, sizeof x);
    normalized((*(struct cli_flag *const *)b)->name, y, sizeof y);
    return strcmp(x, y);
}

void cli_flagset_usages(struct cli_flagset *fs, FILE *out)
{
    struct cli_flag *sorted[CLI_SET_MAX];
    char heads[CLI_SET_MAX][192];
    memcpy(sorted, fs->f, fs->n * sizeof sorted[0]);
    qsort(sorted, fs->n, sizeof sorted[0], cmp_flags);
    size_t maxlen = 0;
    for (size_t i = 0; i < fs->n; i++) {
        struct cli_flag *f = sorted[i];
        char name[128];
        normalized(f->name, name, sizeof name);
        const char *vn = varname(f);
        int n;
        if (f->shorthand)
            n = snprintf(heads[i], sizeof heads[i], "  -%c, --%s%s%s", f->shorthand, name,
                         vn[0] ? " " : "", vn);
        else
            n = snprintf(heads[i], sizeof heads[i], "      --%s%s%s", name, vn[0] ? " " : "", vn);
        if (n > 0 && (size_t)n + 1 > maxlen) maxlen = (size_t)n + 1;
    }
    for (size_t i = 0; i < fs->n; i++) {
        struct cli_flag *f = sorted[i];
        size_t hl = strlen(heads[i]);
        if (i) fputc('\n', out);
        fprintf(out, "%s %*s %s", heads[i], (int)(maxlen - hl), "", f->usage);
        if (!default_is_zero(f)) {
            bool is_string = f->type == CLI_STRING ||
                             (f->type == CLI_CUSTOM && strcmp(f->type_name, "string") == 0);
            if (is_string) {
                char q[600];
                cfg_go_quote(f->def, q, sizeof q);
                fprintf(out, " (default %s)", q);
            } else {
                fprintf(out, " (default %s)", f->def);
            }
        }
    }
}
