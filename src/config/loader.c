/* Config format front end (see loader.h): file read with Go's error texts, template
 * step, TOML / JSON / YAML detection as frp v0.61.1 does it, and a JSON syntax check
 * that reports errors with the texts of Go's encoding/json before jansson parses. */
#include "config/loader.h"

#include <errno.h>
#include <fcntl.h>
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
    json_decref(src->yaml_raw);
    src->tree = NULL;
    src->yaml_raw = NULL;
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

static void cfg_json_ws(struct cfg_json_scan *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\r' || j->s[j->i] == '\n'))
        j->i++;
}

static bool cfg_json_digit(struct cfg_json_scan *j)
{
    return j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9';
}

static int cfg_json_string(struct cfg_json_scan *j)
{
    j->i++; /* opening quote */
    for (;;) {
        if (j->i >= j->n) return cfg_json_bad(j, "");
        unsigned char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
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
                    if (!((h >= '0' && h <= '9') || ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')))
                        return cfg_json_bad(j, "in \\u hexadecimal character escape");
                }
            } else if (!strchr("bfnrt\\/\"", c) || c == '\0') {
                return cfg_json_bad(j, "in string escape code");
            }
        }
        j->i++;
    }
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

static int cfg_json_number(struct cfg_json_scan *j)
{
    if (j->s[j->i] == '-') {
        j->i++;
        if (!cfg_json_digit(j)) return cfg_json_bad(j, "in numeric literal");
    }
    if (j->s[j->i] == '0') j->i++;
    else
        while (cfg_json_digit(j)) j->i++;
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (!cfg_json_digit(j)) return cfg_json_bad(j, "after decimal point in numeric literal");
        while (cfg_json_digit(j)) j->i++;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) j->i++;
        if (!cfg_json_digit(j)) return cfg_json_bad(j, "in exponent of numeric literal");
        while (cfg_json_digit(j)) j->i++;
    }
    return 0;
}

static int cfg_json_value(struct cfg_json_scan *j);

static int cfg_json_container(struct cfg_json_scan *j, bool object)
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
        if (object) {
            if (j->i >= j->n || j->s[j->i] != '"')
                return cfg_json_bad(j, "looking for beginning of object key string");
            if ((rc = cfg_json_string(j))) return rc;
            cfg_json_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':') return cfg_json_bad(j, "after object key");
            j->i++;
        }
        if ((rc = cfg_json_value(j))) return rc;
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

static int cfg_json_value(struct cfg_json_scan *j)
{
    cfg_json_ws(j);
    if (j->i >= j->n) return cfg_json_bad(j, "");
    unsigned char c = j->s[j->i];
    switch (c) {
    case '{': return cfg_json_container(j, true);
    case '[': return cfg_json_container(j, false);
    case '"': return cfg_json_string(j);
    case 't': return cfg_json_literal(j, "true");
    case 'f': return cfg_json_literal(j, "false");
    case 'n': return cfg_json_literal(j, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return cfg_json_number(j);
        return cfg_json_bad(j, "looking for beginning of value");
    }
}

/* Decodes the first JSON value of text as Go's json.Decoder does; trailing text is
 * ignored. The structure is walked iteratively by jansson after the syntax check. */
static int cfg_load_json(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    struct cfg_json_scan j = {.s = (const unsigned char *)text, .n = len, .err = err, .errlen = errlen};
    int rc = cfg_json_value(&j);
    if (rc) return rc;
    json_error_t je;
    *out = json_loadb(text, j.i, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!*out) {
        err_set(err, errlen, "%s", je.text);
        return CFRP_EPARSE;
    }
    return 0;
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
    out->yaml_raw = NULL;
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
        rc = cfg_load_json(r, rlen, &tree, err, errlen);
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
    out->yaml_raw = raw;
    out->format = fmt;
    return 0;
}

int cfg_source_load_file(const char *path, bool strict, struct cfg_source *out, char *err, size_t errlen)
{
    out->tree = NULL;
    out->yaml_raw = NULL;
    out->format = CFG_FORMAT_TOML;
    char *data;
    size_t len;
    int rc = cfg_read_file(path, &data, &len, err, errlen);
    if (rc) return rc;
    rc = cfg_source_load_text(path, data, len, strict, out, err, errlen);
    free(data);
    return rc;
}
