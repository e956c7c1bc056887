/* go-ini compatible INI parsing and value conversions (see ini.h). The parser reads the
 * text line by line as go-ini does: a line is left-trimmed, then it is blank, a comment,
 * a section header, or a key line whose value may continue on following lines. */
#include "config/ini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

/* A growing byte string; p is malloc'ed and owned by the holder. */
struct ini_sb {
    char *p;
    size_t n, cap;
    bool oom;
};

static void ini_sb_put(struct ini_sb *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Length of the Unicode white space character at s (Go's unicode.IsSpace), or 0. */
static size_t ini_space_at(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;
    if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;
    return 0;
}

/* Length of the white space character that ends s[0..n), or 0. */
static size_t ini_space_before(const unsigned char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (ini_space_at(s + n - k, k) == k) return k;
    return 0;
}

static void ini_trim(const char **s, size_t *n)
{
    size_t k;
    while ((k = ini_space_at((const unsigned char *)*s, *n)) > 0) {
        *s += k;
        *n -= k;
    }
    while ((k = ini_space_before((const unsigned char *)*s, *n)) > 0) *n -= k;
}

/* Last occurrence of needle (nlen bytes) in s[0..n), or -1. */
static long ini_rfind(const char *s, size_t n, const char *needle, size_t nlen)
{
    if (nlen > n) return -1;
    for (size_t i = n - nlen + 1; i-- > 0;)
        if (memcmp(s + i, needle, nlen) == 0) return (long)i;
    return -1;
}

/* The parser's state: the text and the current line. */
struct ini_parser {
    const char *name;
    const char *text;
    size_t len, pos;
    int line; /* number of the last line read */
    bool eof; /* the last read reached the end without a newline */
    const struct ini_options *opt;
    char *err;
    size_t errlen;
};

/* The next line with its newline (go-ini's readUntil('\n')). */
static void ini_read_line(struct ini_parser *p, const char **s, size_t *n)
{
    const char *start = p->text + p->pos;
    const char *nl = memchr(start, '\n', p->len - p->pos);
    size_t k = nl ? (size_t)(nl - start) + 1 : p->len - p->pos;
    if (!nl) p->eof = true;
    p->pos += k;
    p->line++;
    *s = start;
    *n = k;
}

static int ini_fail(struct ini_parser *p, const char *fmt, const char *s, size_t n)
{
    char what[160];
    snprintf(what, sizeof what, "%.*s", (int)(n > 120 ? 120 : n), s);
    what[strcspn(what, "\r\n")] = '\0';
    err_set(p->err, p->errlen, "%s:%d: ", p->name, p->line);
    size_t used = p->err ? strlen(p->err) : 0;
    if (p->err && used < p->errlen) snprintf(p->err + used, p->errlen - used, fmt, what);
    return CFRP_EPARSE;
}

/* A value that starts with `"""` or a backtick and does not close on its line: the rest
 * of the first line and following lines up to the last quote of the closing line. */
static int ini_multiline(struct ini_parser *p, const char *first, size_t firstlen,
                         const char *quote, struct ini_sb *out)
{
    ini_sb_put(out, first, firstlen);
    size_t ql = strlen(quote);
    for (;;) {
        const char *s;
        size_t n;
        ini_read_line(p, &s, &n);
        long at = ini_rfind(s, n, quote, ql);
        if (at >= 0) {
            ini_sb_put(out, s, (size_t)at);
            return 0;
        }
        ini_sb_put(out, s, n);
        if (p->eof || p->pos >= p->len) return ini_fail(p, "missing closing quote %s", quote, ql);
    }
}

/* `\` at the end of a value: following trimmed lines are appended until an empty line
 * or one that does not end in `\`. */
static void ini_continuation(struct ini_parser *p, struct ini_sb *out)
{
    while (p->pos < p->len) {
        const char *s;
        size_t n;
        ini_read_line(p, &s, &n);
        ini_trim(&s, &n);
        if (n == 0) break;
        ini_sb_put(out, s, n);
        if (out->n == 0 || out->p[out->n - 1] != '\\') break;
        out->n--;
        out->p[out->n] = '\0';
    }
}

static bool ini_surrounded(const char *s, size_t n, char q)
{
    if (n < 2 || s[0] != q || s[n - 1] != q) return false;
    return memchr(s + 1, q, n - 2) == NULL;
}

/* go-ini's readValue of s[0..n) (the text after the delimiter, newline included). */
static int ini_value(struct ini_parser *p, const char *s, size_t n, struct ini_sb *out)
{
    size_t k;
    while ((k = ini_space_at((const unsigned char *)s, n)) > 0) {
        s += k;
        n -= k;
    }
    ini_sb_put(out, "", 0);
    if (n == 0) return 0;
    const char *quote = NULL;
    if (n > 3 && memcmp(s, "\"\"\"", 3) == 0) quote = "\"\"\"";
    else if (s[0] == '`') quote = "`";
    if (quote) {
        size_t ql = strlen(quote);
        long at = ini_rfind(s + ql, n - ql, quote, ql);
        if (at < 0) return ini_multiline(p, s + ql, n - ql, quote, out);
        ini_sb_put(out, s + ql, (size_t)at);
        return 0;
    }
    ini_trim(&s, &n);
    if (n > 0 && s[n - 1] == '\\') {
        ini_sb_put(out, s, n - 1);
        ini_continuation(p, out);
        return 0;
    }
    if (!p->opt->ignore_inline_comment) {
        size_t i = 0;
        while (i < n && s[i] != '#' && s[i] != ';') i++;
        if (i < n) {
            n = i;
            ini_trim(&s, &n);
        }
    }
    if (ini_surrounded(s, n, '\'') || ini_surrounded(s, n, '"')) {
        s++;
        n -= 2;
    }
    ini_sb_put(out, s, n);
    return 0;
}

/* go-ini's readKeyName: the key and the offset just after the delimiter. Returns 1 when
 * the line has no delimiter (a boolean key candidate). */
static int ini_key_name(struct ini_parser *p, const char *s, size_t n, struct ini_sb *key,
                        size_t *after)
{
    const char *quote = NULL;
    if (s[0] == '"') quote = (n > 6 && memcmp(s, "\"\"\"", 3) == 0) ? "\"\"\"" : "\"";
    else if (s[0] == '`') quote = "`";
    if (quote) {
        size_t ql = strlen(quote);
        const char *end = NULL;
        for (size_t i = ql; i + ql <= n && !end; i++)
            if (memcmp(s + i, quote, ql) == 0) end = s + i;
        if (!end) return ini_fail(p, "missing closing key quote: %s", s, n);
        size_t rest = (size_t)(end - s) + ql;
        size_t d = rest;
        while (d < n && s[d] != '=' && s[d] != ':') d++;
        if (d >= n) return 1;
        const char *k = s + ql;
        size_t kn = (size_t)(end - k);
        ini_trim(&k, &kn);
        ini_sb_put(key, "", 0);
        ini_sb_put(key, k, kn);
        *after = d + 1;
        return 0;
    }
    size_t d = 0;
    while (d < n && s[d] != '=' && s[d] != ':') d++;
    if (d >= n) return 1;
    if (d == 0) return ini_fail(p, "empty key name: %s", s, n);
    const char *k = s;
    size_t kn = d;
    ini_trim(&k, &kn);
    ini_sb_put(key, "", 0);
    ini_sb_put(key, k, kn);
    *after = d + 1;
    return 0;
}

/* The section named name, created at the end when new. */
static int ini_open_section(struct ini_parser *p, json_t *file, const char *name, json_t **sec)
{
    *sec = json_object_get(file, name);
    if (*sec) return 0;
    if (json_object_size(file) >= INI_MAX_SECTIONS) {
        err_set(p->err, p->errlen, "%s:%d: more than %d sections", p->name, p->line,
                INI_MAX_SECTIONS);
        return CFRP_ETOOBIG;
    }
    json_t *o = json_object();
    if (!o || json_object_set_new_nocheck(file, name, o)) return UV_ENOMEM;
    *sec = o;
    return 0;
}

static int ini_set_key(struct ini_parser *p, json_t *sec, const char *key, const char *val,
                       size_t vlen)
{
    if (!json_object_get(sec, key) && json_object_size(sec) >= INI_MAX_KEYS) {
        err_set(p->err, p->errlen, "%s:%d: more than %d keys in one section", p->name, p->line,
                INI_MAX_KEYS);
        return CFRP_ETOOBIG;
    }
    json_t *v = json_stringn_nocheck(val, vlen);
    if (!v || json_object_set_new_nocheck(sec, key, v)) return UV_ENOMEM;
    return 0;
}

/* One left-trimmed, non-empty line that is not a comment or section header. */
static int ini_key_line(struct ini_parser *p, json_t *sec, const char *s, size_t n)
{
    struct ini_sb key = {0}, val = {0};
    size_t after = 0;
    int rc = ini_key_name(p, s, n, &key, &after);
    if (rc == 1) {
        if (!p->opt->allow_boolean_keys) {
            rc = ini_fail(p, "key-value delimiter not found: %s", s, n);
        } else {
            rc = ini_value(p, s, n, &key);
            if (!rc && !key.oom) rc = ini_set_key(p, sec, key.p, "true", 4);
        }
    } else if (rc == 0) {
        if (key.n == 0) {
            rc = ini_fail(p, "empty key name: %s", s, n);
        } else {
            rc = ini_value(p, s + after, n - after, &val);
            if (!rc && !val.oom && !key.oom) rc = ini_set_key(p, sec, key.p, val.p, val.n);
        }
    }
    if (!rc && (key.oom || val.oom)) rc = UV_ENOMEM;
    free(key.p);
    free(val.p);
    return rc;
}

int ini_parse(const char *name, const char *text, size_t len, const struct ini_options *opt,
              json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    struct ini_parser p = {
        .name = name, .text = text, .len = len, .opt = opt, .err = err, .errlen = errlen};
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        p.line = 1;
        for (const char *c = text; c < nul; c++) p.line += *c == '\n';
        err_set(err, errlen, "%s:%d: NUL byte in the text", name, p.line);
        return CFRP_EPARSE;
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    json_t *file = json_object();
    json_t *sec = NULL;
    int rc = file ? ini_open_section(&p, file, "DEFAULT", &sec) : UV_ENOMEM;
    while (!rc && p.pos < p.len) {
        const char *s;
        size_t n, k;
        ini_read_line(&p, &s, &n);
        while ((k = ini_space_at((const unsigned char *)s, n)) > 0) {
            s += k;
            n -= k;
        }
        if (n == 0 || s[0] == '#' || s[0] == ';') continue;
        if (s[0] == '[') {
            long close = ini_rfind(s, n, "]", 1);
            if (close < 0) {
                rc = ini_fail(&p, "unclosed section: %s", s, n);
                break;
            }
            if (close == 1) {
                rc = ini_fail(&p, "empty section name%s", "", 0);
                break;
            }
            char *sname = strndup(s + 1, (size_t)close - 1);
            rc = sname ? ini_open_section(&p, file, sname, &sec) : UV_ENOMEM;
            free(sname);
            continue;
        }
        rc = ini_key_line(&p, sec, s, n);
    }
    if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
    if (rc) {
        json_decref(file);
        return rc;
    }
    *out = file;
    return 0;
}

json_t *ini_section(json_t *file, const char *section)
{
    return json_object_get(file, section);
}

const char *ini_get(json_t *file, const char *section, const char *key)
{
    size_t n = strlen(section);
    char *name = strdup(section);
    if (!name) return NULL;
    const char *found = NULL;
    for (;;) {
        json_t *v = json_object_get(json_object_get(file, name), key);
        if (v) {
            found = json_string_value(v);
            break;
        }
        while (n > 0 && name[n - 1] != '.') n--;
        if (n == 0) break;
        name[--n] = '\0';
    }
    free(name);
    return found;
}

int ini_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1",   "t",   "T",   "true", "TRUE", "True", "YES",
                                      "yes", "Yes", "y",   "ON",   "on",   "On"};
    static const char *const no[] = {"0",  "f",  "F",  "false", "FALSE", "False", "NO",
                                     "no", "No", "n",  "OFF",   "off",   "Off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return CFRP_EINVAL;
}

static int ini_digit(char c, int base)
{
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'z' ? c - 'a' + 10
            : c >= 'A' && c <= 'Z' ? c - 'A' + 10
                                   : 99;
    return d < base ? d : -1;
}

int ini_parse_int(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    int base = 10;
    bool prefixed = false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, s += 2, prefixed = true;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) base = 8, s += 2, prefixed = true;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) base = 2, s += 2, prefixed = true;
    else if (s[0] == '0' && s[1]) base = 8, s += 1, prefixed = true;
    /* Go's underscoreOK (base 0): each '_' follows a digit or the base prefix and is
     * followed by a digit. */
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool any = false, after_digit = prefixed;
    for (; *s; s++) {
        if (*s == '_') {
            if (!after_digit) return CFRP_EINVAL;
            after_digit = false;
            continue;
        }
        int d = ini_digit(*s, base);
        if (d < 0) return CFRP_EINVAL;
        if (v > (limit - (uint64_t)d) / (uint64_t)base) return CFRP_EINVAL;
        v = v * (uint64_t)base + (uint64_t)d;
        any = true;
        after_digit = true;
    }
    if (!any || !after_digit) return CFRP_EINVAL;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

json_t *ini_list(const char *s)
{
    json_t *arr = json_array();
    if (!arr || !*s) return arr;
    struct ini_sb b = {0};
    ini_sb_put(&b, "", 0);
    bool escape = false;
    for (const char *c = s;; c++) {
        bool end = *c == '\0';
        if (!end && escape) {
            escape = false;
            if (*c != '\\' && *c != ',') ini_sb_put(&b, "\\", 1);
            ini_sb_put(&b, c, 1);
            continue;
        }
        if (!end && *c == '\\') {
            escape = true;
            continue;
        }
        if (end && b.n == 0) break;
        if (end || *c == ',') {
            const char *t = b.p ? b.p : "";
            size_t tn = b.n;
            ini_trim(&t, &tn);
            json_t *item = b.oom ? NULL : json_stringn_nocheck(t, tn);
            if (!item || json_array_append_new(arr, item)) {
                free(b.p);
                json_decref(arr);
                return NULL;
            }
            b.n = 0;
            if (end) break;
            continue;
        }
        ini_sb_put(&b, c, 1);
    }
    free(b.p);
    return arr;
}
