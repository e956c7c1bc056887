/* Config format front end (see loader.h): file read with Go's error texts, template
 * step, TOML / JSON / YAML detection as frp v0.61.1 does it, and a JSON syntax check
 * that reports errors with the texts of Go's encoding/json before jansson parses. */
#include "base/ascii.h"
#include "config/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "config/template.h"
#include "config/toml.h"
#include "config/yaml_tree.h"

#define CFG_JSON_MAX_DEPTH 10000 /* Go's encoding/json nesting limit */

const char *cfg_format_name(enum cfg_format format)
{
    switch (format) {
    case CFG_FORMAT_TOML: return "toml";
    case CFG_FORMAT_JSON: return "json";
    default: return "yaml";
    }
}

void cfg_source_clear(struct cfg_source *src)
{
    json_decref(src->tree);
    json_decref(src->raw);
    src->tree = NULL;
    src->raw = NULL;
}

/* Go's syscall error text: the C library's, with a lower-case first letter. */
static void cfg_errno_text(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* Reads a whole file as os.ReadFile does. *data is malloc'ed (caller frees). */
static int cfg_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    char et[128];
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        cfg_errno_text(e, et, sizeof et);
        err_set(err, errlen, "open %s: %s", path, et);
        return uv_translate_sys_error(e);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    int rc = 0;
    if (!buf) {
        rc = UV_ENOMEM;
        err_set(err, errlen, "read %s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= CFG_MAX_FILE_SIZE) {
                rc = CFRP_ETOOBIG;
                err_set(err, errlen, "read %s: file is larger than %u bytes", path, CFG_MAX_FILE_SIZE);
                goto out;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                rc = UV_ENOMEM;
                err_set(err, errlen, "read %s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            cfg_errno_text(e, et, sizeof et);
            err_set(err, errlen, "read %s: %s", path, et);
            rc = uv_translate_sys_error(e);
            goto out;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Length of the Unicode white space (Go's unicode.IsSpace) at s, 0 if none. */
static size_t cfg_space_len(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3; /* U+1680 */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3; /* U+2000..200A, 2028, 2029, 202F */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
    if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

/* ---- Go encoding/json syntax check */

/* Go's quoteChar: a byte as it appears in "invalid character ..." messages. */
static void cfg_json_quote_char(unsigned char c, char *buf, size_t len)
{
    if (c == '\'') snprintf(buf, len, "'\\''");
    else if (c == '"') snprintf(buf, len, "'\"'");
    else if (c == '\n') snprintf(buf, len, "'\\n'");
    else if (c == '\r') snprintf(buf, len, "'\\r'");
    else if (c == '\t') snprintf(buf, len, "'\\t'");
    else if (c == '\a') snprintf(buf, len, "'\\a'");
    else if (c == '\b') snprintf(buf, len, "'\\b'");
    else if (c == '\f') snprintf(buf, len, "'\\f'");
    else if (c == '\v') snprintf(buf, len, "'\\v'");
    else if (c < 0x20 || c == 0x7f) snprintf(buf, len, "'\\x%02x'", c);
    else if (c < 0x80) snprintf(buf, len, "'%c'", c);
    else if (c < 0xA1 || c == 0xAD) snprintf(buf, len, "'\\u%04x'", c); /* not printable */
    else snprintf(buf, len, "'%c%c'", 0xC0 | (c >> 6), 0x80 | (c & 0x3F));
}

/* Go's json.Decoder on the first JSON value of a text: its syntax errors, and a tree
 * with a raw twin (loader.h) built in the same pass. Strings are decoded as Go's
 * unquote does: bad UTF-8 and lone surrogates become U+FFFD. */
struct cfg_json_scan {
    const unsigned char *s;
    size_t n, i;
    int depth;
    char *err;
    size_t errlen;
};

static int cfg_json_bad(struct cfg_json_scan *j, const char *context)
{
    if (j->i >= j->n) {
        err_set(j->err, j->errlen, "unexpected EOF");
        return CFRP_EPARSE;
    }
    char q[16];
    cfg_json_quote_char(j->s[j->i], q, sizeof q);
    err_set(j->err, j->errlen, "invalid character %s %s", q, context);
    return CFRP_EPARSE;
}

static int cfg_json_nomem(struct cfg_json_scan *j)
{
    err_set(j->err, j->errlen, "out of memory");
    return UV_ENOMEM;
}

static void cfg_json_ws(struct cfg_json_scan *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\r' || j->s[j->i] == '\n'))
        j->i++;
}

static bool cfg_json_digit(struct cfg_json_scan *j)
{
    return j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9';
}

static int cfg_json_hex4(const unsigned char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int c = p[k];
        v = v * 16 + ascii_hex_value(c);
    }
    return v;
}

static size_t cfg_utf8_put(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid (Go's rules:
 * no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t cfg_utf8_valid(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    return len;
}

/* Scans a string literal at j->i and, when out is not NULL, decodes it into a new
 * jansson string. */
static int cfg_json_string(struct cfg_json_scan *j, json_t **out)
{
    size_t start = ++j->i; /* after the opening quote */
    for (;;) {
        if (j->i >= j->n) return cfg_json_bad(j, "");
        unsigned char c = j->s[j->i];
        if (c == '"') break;
        if (c < 0x20) return cfg_json_bad(j, "in string literal");
        if (c == '\\') {
            j->i++;
            if (j->i >= j->n) return cfg_json_bad(j, "");
            c = j->s[j->i];
            if (c == 'u') {
                for (int k = 0; k < 4; k++) {
                    j->i++;
                    if (j->i >= j->n) return cfg_json_bad(j, "");
                    unsigned char h = j->s[j->i];
                    if (ascii_hex_value(h) < 0)
                        return cfg_json_bad(j, "in \\u hexadecimal character escape");
                }
            } else if (!strchr("bfnrt\\/\"", c) || c == '\0') {
                return cfg_json_bad(j, "in string escape code");
            }
        }
        j->i++;
    }
    size_t end = j->i++;
    if (!out) return 0;
    /* decoded text is at most 3 bytes per source byte (a bad byte becomes U+FFFD) */
    char *buf = malloc((end - start) * 3 + 1);
    if (!buf) return cfg_json_nomem(j);
    size_t o = 0;
    for (size_t i = start; i < end;) {
        unsigned char c = j->s[i];
        if (c != '\\') {
            size_t l = cfg_utf8_valid(j->s + i, end - i);
            if (l == 0) {
                o += cfg_utf8_put(0xFFFD, buf + o);
                i++;
            } else {
                memcpy(buf + o, j->s + i, l);
                o += l;
                i += l;
            }
            continue;
        }
        c = j->s[i + 1];
        i += 2;
        switch (c) {
        case 'b': buf[o++] = '\b'; break;
        case 'f': buf[o++] = '\f'; break;
        case 'n': buf[o++] = '\n'; break;
        case 'r': buf[o++] = '\r'; break;
        case 't': buf[o++] = '\t'; break;
        case 'u': {
            unsigned cp = (unsigned)cfg_json_hex4(j->s + i);
            i += 4;
            if (cp >= 0xD800 && cp < 0xE000) {
                unsigned lo = 0;
                if (cp < 0xDC00 && i + 6 <= end && j->s[i] == '\\' && j->s[i + 1] == 'u')
                    lo = (unsigned)cfg_json_hex4(j->s + i + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else {
                    cp = 0xFFFD;
                }
            }
            o += cfg_utf8_put(cp, buf + o);
            break;
        }
        default: buf[o++] = (char)c; break; /* " \ / */
        }
    }
    *out = json_stringn(buf, o);
    free(buf);
    return *out ? 0 : cfg_json_nomem(j);
}

static int cfg_json_literal(struct cfg_json_scan *j, const char *word)
{
    char ctx[64];
    for (size_t k = 1; word[k]; k++) {
        j->i++;
        if (j->i >= j->n) return cfg_json_bad(j, "");
        if (j->s[j->i] != (unsigned char)word[k]) {
            snprintf(ctx, sizeof ctx, "in literal %s (expecting '%c')", word, word[k]);
            return cfg_json_bad(j, ctx);
        }
    }
    j->i++;
    return 0;
}

/* A number: an integer in *v when the literal is one that fits int64, else a real
 * (clamped to the largest finite double); the literal text in *raw. */
static int cfg_json_number(struct cfg_json_scan *j, json_t **v, json_t **raw)
{
    size_t start = j->i;
    bool integral = true;
    if (j->s[j->i] == '-') {
        j->i++;
        if (!cfg_json_digit(j)) return cfg_json_bad(j, "in numeric literal");
    }
    if (j->s[j->i] == '0') j->i++;
    else
        while (cfg_json_digit(j)) j->i++;
    if (j->i < j->n && j->s[j->i] == '.') {
        integral = false;
        j->i++;
        if (!cfg_json_digit(j)) return cfg_json_bad(j, "after decimal point in numeric literal");
        while (cfg_json_digit(j)) j->i++;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        integral = false;
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) j->i++;
        if (!cfg_json_digit(j)) return cfg_json_bad(j, "in exponent of numeric literal");
        while (cfg_json_digit(j)) j->i++;
    }
    size_t len = j->i - start;
    char *lit = strndup((const char *)j->s + start, len);
    if (!lit) return cfg_json_nomem(j);
    errno = 0;
    long long ll = integral ? strtoll(lit, NULL, 10) : 0;
    if (integral && errno == 0) {
        *v = json_integer(ll);
    } else {
        double d = strtod(lit, NULL);
        if (isinf(d)) d = d > 0 ? DBL_MAX : -DBL_MAX;
        *v = json_real(d);
    }
    *raw = json_stringn(lit, len);
    free(lit);
    return *v && *raw ? 0 : cfg_json_nomem(j);
}

static int cfg_json_value(struct cfg_json_scan *j, json_t **v, json_t **raw);

static int cfg_json_container(struct cfg_json_scan *j, bool object, json_t *v, json_t *raw)
{
    if (++j->depth > CFG_JSON_MAX_DEPTH) {
        err_set(j->err, j->errlen, "exceeded max depth");
        return CFRP_EPARSE;
    }
    j->i++;
    cfg_json_ws(j);
    if (j->i < j->n && j->s[j->i] == (object ? '}' : ']')) {
        j->i++;
        j->depth--;
        return 0;
    }
    for (;;) {
        int rc;
        json_t *key = NULL, *e = NULL, *eraw = NULL;
        if (object) {
            if (j->i >= j->n || j->s[j->i] != '"')
                return cfg_json_bad(j, "looking for beginning of object key string");
            if ((rc = cfg_json_string(j, &key))) return rc;
            cfg_json_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':') {
                json_decref(key);
                return cfg_json_bad(j, "after object key");
            }
            j->i++;
        }
        rc = cfg_json_value(j, &e, &eraw);
        if (!rc && object) {
            const char *k = json_string_value(key);
            size_t kl = json_string_length(key);
            if (json_object_setn_new(v, k, kl, e) | json_object_setn_new(raw, k, kl, eraw)) rc = cfg_json_nomem(j);
        } else if (!rc) {
            if (json_array_append_new(v, e) | json_array_append_new(raw, eraw)) rc = cfg_json_nomem(j);
        }
        json_decref(key);
        if (rc) return rc;
        cfg_json_ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            cfg_json_ws(j);
            continue;
        }
        if (j->i < j->n && j->s[j->i] == (object ? '}' : ']')) {
            j->i++;
            j->depth--;
            return 0;
        }
        return cfg_json_bad(j, object ? "after object key:value pair" : "after array element");
    }
}

/* One value at j->i: *v and *raw are new references on success, NULL on error. */
static int cfg_json_value(struct cfg_json_scan *j, json_t **v, json_t **raw)
{
    *v = *raw = NULL;
    cfg_json_ws(j);
    if (j->i >= j->n) return cfg_json_bad(j, "");
    unsigned char c = j->s[j->i];
    int rc;
    switch (c) {
    case '{':
    case '[':
        *v = c == '{' ? json_object() : json_array();
        *raw = c == '{' ? json_object() : json_array();
        rc = *v && *raw ? cfg_json_container(j, c == '{', *v, *raw) : cfg_json_nomem(j);
        break;
    case '"': rc = cfg_json_string(j, v); break;
    case 't': rc = cfg_json_literal(j, "true"), *v = json_true(); break;
    case 'f': rc = cfg_json_literal(j, "false"), *v = json_false(); break;
    case 'n': rc = cfg_json_literal(j, "null"), *v = json_null(); break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) rc = cfg_json_number(j, v, raw);
        else rc = cfg_json_bad(j, "looking for beginning of value");
    }
    if (!rc && !*raw) *raw = json_null();
    if (rc) {
        json_decref(*v);
        json_decref(*raw);
        *v = *raw = NULL;
    }
    return rc;
}

/* Decodes the first JSON value of text as Go's json.Decoder does; trailing text is
 * ignored. */
static int cfg_load_json(const char *text, size_t len, json_t **out, json_t **raw, char *err, size_t errlen)
{
    struct cfg_json_scan j = {.s = (const unsigned char *)text, .n = len, .err = err, .errlen = errlen};
    return cfg_json_value(&j, out, raw);
}

/* ---- detection */

static bool cfg_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '"' || c == '\'' || c == ' ' || c == '\t';
}

/* Whether the first significant line reads as TOML: "key = ..." or a "[table]" /
 * "[[array]]" header. Decides which error a broken file gets (decisions.md 3). */
static bool cfg_looks_like_toml(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        size_t a = i;
        while (a < e && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        if (a == e || text[a] == '#') {
            i = e + 1;
            continue;
        }
        if (text[a] == '[') {
            size_t k = a + 1 + (a + 1 < e && text[a + 1] == '[');
            size_t s = k;
            while (k < e && cfg_key_char((unsigned char)text[k])) k++;
            return k > s && k < e && text[k] == ']';
        }
        size_t k = a;
        while (k < e && cfg_key_char((unsigned char)text[k])) k++;
        return k > a && k < e && text[k] == '=';
    }
    return false;
}

int cfg_source_load_text(const char *name, const char *text, size_t len, bool strict, struct cfg_source *out,
                         char *err, size_t errlen)
{
    out->tree = NULL;
    out->raw = NULL;
    out->format = CFG_FORMAT_TOML;
    char *r = NULL;
    size_t rlen = 0;
    int rc = tmpl_render("frp", text, len, &r, &rlen, err, errlen);
    if (rc) return rc;

    char terr[512] = "";
    json_t *tree = NULL;
    rc = toml_parse(r, rlen, 0, &tree, terr, sizeof terr);
    if (rc == 0) {
        out->tree = tree;
        out->format = CFG_FORMAT_TOML;
        free(r);
        return 0;
    }
    if (rc != CFRP_EPARSE) {
        /* TOML parsed but cannot become JSON (inf/nan), or out of memory */
        err_set(err, errlen, "%s", terr);
        free(r);
        return rc;
    }

    size_t i = 0, sl;
    while ((sl = cfg_space_len((const unsigned char *)r + i, rlen - i)) > 0) i += sl;
    json_t *raw = NULL;
    enum cfg_format fmt;
    if (i < rlen && r[i] == '{') {
        fmt = CFG_FORMAT_JSON;
        rc = cfg_load_json(r, rlen, &tree, &raw, err, errlen);
    } else {
        fmt = CFG_FORMAT_YAML;
        rc = yaml_tree_parse(r, rlen, strict, &tree, &raw, err, errlen);
    }
    /* frp would fail on anything but an object (null loads the defaults); if the text
     * was meant as TOML, its TOML error is the useful one */
    bool usable = rc == 0 && (json_is_object(tree) || json_is_null(tree));
    if (!usable && fmt == CFG_FORMAT_YAML && cfg_looks_like_toml(r, rlen)) {
        json_decref(tree);
        json_decref(raw);
        free(r);
        err_set(err, errlen, "%s: toml: %s", name, terr);
        return CFRP_EPARSE;
    }
    free(r);
    if (rc) return rc;
    if (json_is_null(tree)) {
        json_decref(tree);
        json_decref(raw);
        tree = json_object();
        raw = json_object();
        if (!tree || !raw) {
            json_decref(tree);
            json_decref(raw);
            err_set(err, errlen, "out of memory");
            return UV_ENOMEM;
        }
    }
    out->tree = tree;
    out->raw = raw;
    out->format = fmt;
    return 0;
}

int cfg_source_load_file(const char *path, bool strict, struct cfg_source *out, char *err, size_t errlen)
{
    out->tree = NULL;
    out->raw = NULL;
    out->format = CFG_FORMAT_TOML;
    char *data;
    size_t len;
    int rc = cfg_read_file(path, &data, &len, err, errlen);
    if (rc) return rc;
    rc = cfg_source_load_text(path, data, len, strict, out, err, errlen);
    free(data);
    return rc;
}
