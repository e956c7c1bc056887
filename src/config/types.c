/* Shared config value types: lists, maps, bandwidth, port ranges, and the Go-compatible
 * text helpers used to reproduce frp's messages (see types.h). */
#include "config/types.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "config/schema.h"

bool cfg_strlist_contains(const struct cfg_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0) return true;
    return false;
}

int cfg_strlist_push(struct cfg_strlist *l, const char *s)
{
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) return UV_ENOMEM;
    l->items = items;
    if (!(items[l->n] = strdup(s))) return UV_ENOMEM;
    l->n++;
    return 0;
}

void cfg_strlist_clear(struct cfg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

const char *cfg_strmap_get(const struct cfg_strmap *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
    return NULL;
}

int cfg_strmap_set(struct cfg_strmap *m, const char *key, const char *val)
{
    char *v = strdup(val);
    if (!v) return UV_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            free(m->vals[i]);
            m->vals[i] = v;
            return 0;
        }
    }
    char **keys = realloc(m->keys, (m->n + 1) * sizeof *keys);
    if (keys) m->keys = keys;
    char **vals = keys ? realloc(m->vals, (m->n + 1) * sizeof *vals) : NULL;
    if (vals) m->vals = vals;
    char *k = vals ? strdup(key) : NULL;
    if (!k) {
        free(v);
        return UV_ENOMEM;
    }
    m->keys[m->n] = k;
    m->vals[m->n] = v;
    m->n++;
    return 0;
}

void cfg_strmap_clear(struct cfg_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
    m->n = 0;
}

/* Go's strconv.ParseFloat on the whole of s (no surrounding spaces allowed). */
static int cfgt_parse_float(const char *s, double *out, char *err, size_t errlen)
{
    char q[256];
    char *end;
    bool ok = *s && !isspace((unsigned char)*s);
    errno = 0;
    double f = ok ? strtod(s, &end) : 0;
    if (!ok || *end) {
        err_set(err, errlen, "strconv.ParseFloat: parsing %s: invalid syntax",
                cfg_go_quote(s, q, sizeof q));
        return CFRP_EINVAL;
    }
    if (errno == ERANGE && isinf(f)) {
        err_set(err, errlen, "strconv.ParseFloat: parsing %s: value out of range",
                cfg_go_quote(s, q, sizeof q));
        return CFRP_EINVAL;
    }
    *out = f;
    return 0;
}

int cfg_bandwidth_parse(const char *s, struct cfg_bandwidth *out, char *err, size_t errlen)
{
    while (*s && isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len == 0) {
        char *t = strdup("");
        if (!t) return UV_ENOMEM;
        free(out->text);
        out->text = t;
        out->bytes = 0;
        return 0;
    }
    int64_t base;
    if (len >= 2 && memcmp(s + len - 2, "MB", 2) == 0) base = 1024 * 1024;
    else if (len >= 2 && memcmp(s + len - 2, "KB", 2) == 0) base = 1024;
    else {
        err_set(err, errlen, "unit not support");
        return CFRP_EINVAL;
    }
    char num[128];
    if (len - 2 >= sizeof num) {
        err_set(err, errlen, "strconv.ParseFloat: parsing number: invalid syntax");
        return CFRP_EINVAL;
    }
    memcpy(num, s, len - 2);
    num[len - 2] = '\0';
    double f;
    int rc = cfgt_parse_float(num, &f, err, errlen);
    if (rc) return rc;
    char *t = strndup(s, len);
    if (!t) return UV_ENOMEM;
    double b = f * (double)base;
    free(out->text);
    out->text = t;
    /* Go's float->int64 conversion of an out-of-range value is undefined; clamp. */
    out->bytes = isnan(b) ? 0 : b >= 9.2e18 ? INT64_MAX : b <= -9.2e18 ? INT64_MIN
                                                                           : (int64_t)b;
    return 0;
}

/* strconv.ParseInt(s, 10, 64) after trimming spaces, with frp's wrapping. */
static int cfgt_range_int(const char *s, size_t len, int64_t *out, char *err, size_t errlen)
{
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    char buf[64], q[160];
    bool ok = len > 0 && len < sizeof buf;
    if (ok) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        size_t i = (buf[0] == '+' || buf[0] == '-') ? 1 : 0;
        ok = buf[i] != '\0';
        for (; ok && buf[i]; i++) ok = isdigit((unsigned char)buf[i]);
    }
    if (!ok) {
        char raw[128];
        size_t l = len < sizeof raw - 1 ? len : sizeof raw - 1;
        memcpy(raw, s, l);
        raw[l] = '\0';
        err_set(err, errlen, "range number is invalid, strconv.ParseInt: parsing %s: invalid syntax",
                cfg_go_quote(raw, q, sizeof q));
        return CFRP_EINVAL;
    }
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE) {
        err_set(err, errlen, "range number is invalid, strconv.ParseInt: parsing %s: value out of range",
                cfg_go_quote(buf, q, sizeof q));
        return CFRP_EINVAL;
    }
    *out = v;
    return 0;
}

int cfg_ports_parse(const char *s, struct cfg_ports_range **out, size_t *n, char *err,
                    size_t errlen)
{
    while (*s && isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1])) len--;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += s[i] == ',';
    struct cfg_ports_range *r = calloc(cap, sizeof *r);
    if (!r) return UV_ENOMEM;
    size_t cnt = 0;
    const char *p = s, *end = s + len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *pe = comma ? comma : end;
        const char *dash = memchr(p, '-', (size_t)(pe - p));
        int rc = 0;
        if (!dash) {
            rc = cfgt_range_int(p, (size_t)(pe - p), &r[cnt].single, err, errlen);
        } else if (memchr(dash + 1, '-', (size_t)(pe - dash - 1))) {
            err_set(err, errlen, "range number is invalid");
            rc = CFRP_EINVAL;
        } else {
            rc = cfgt_range_int(p, (size_t)(dash - p), &r[cnt].start, err, errlen);
            if (!rc) rc = cfgt_range_int(dash + 1, (size_t)(pe - dash - 1), &r[cnt].end, err, errlen);
            if (!rc && r[cnt].end < r[cnt].start) {
                err_set(err, errlen, "range number is invalid");
                rc = CFRP_EINVAL;
            }
        }
        if (rc) {
            free(r);
            return rc;
        }
        cnt++;
        if (!comma) break;
        p = comma + 1;
    }
    *out = r;
    *n = cnt;
    return 0;
}

char *cfg_ports_format(const struct cfg_ports_range *r, size_t n)
{
    size_t cap = n * 42 + 1;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t off = 0;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        if (r[i].single > 0)
            off += (size_t)snprintf(s + off, cap - off, "%s%lld", sep, (long long)r[i].single);
        else
            off += (size_t)snprintf(s + off, cap - off, "%s%lld-%lld", sep,
                                    (long long)r[i].start, (long long)r[i].end);
    }
    return s;
}

bool cfg_ports_allowed(const struct cfg_ports_range *r, size_t n, int64_t port)
{
    if (n == 0) return port >= 1 && port <= 65535;
    for (size_t i = 0; i < n; i++) {
        if (r[i].single > 0) {
            if (r[i].single == port) return true;
        } else if (port >= r[i].start && port <= r[i].end) {
            return true;
        }
    }
    return false;
}

char *cfg_user_name(const char *user, const char *name)
{
    if (!user) user = "";
    if (!name) name = "";
    char *s;
    if (*user) {
        if (asprintf(&s, "%s.%s", user, name) < 0) return NULL;
        return s;
    }
    return strdup(name);
}

/* Length of the valid UTF-8 sequence at s (>= 2 bytes), or 0 if invalid. */
static size_t cfgt_utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (s[0] >= 0xf8) n = 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

char *cfg_go_quote(const char *s, char *out, size_t outlen)
{
    if (!outlen) return out;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    char tmp[8];
#define CFGT_PUT(str)                                                                      \
    do {                                                                                   \
        const char *q_ = (str);                                                            \
        size_t l_ = strlen(q_);                                                            \
        if (o + l_ >= outlen) goto done;                                                   \
        memcpy(out + o, q_, l_);                                                           \
        o += l_;                                                                           \
    } while (0)
    CFGT_PUT("\"");
    while (*p) {
        unsigned char c = *p;
        const char *esc = NULL;
        switch (c) {
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\v': esc = "\\v"; break;
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        default: break;
        }
        if (esc) {
            CFGT_PUT(esc);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            CFGT_PUT(tmp);
            p++;
        } else if (c < 0x80) {
            tmp[0] = (char)c;
            tmp[1] = '\0';
            CFGT_PUT(tmp);
            p++;
        } else {
            size_t n = cfgt_utf8_len(p);
            if (n == 0) {
                snprintf(tmp, sizeof tmp, "\\x%02x", c);
                CFGT_PUT(tmp);
                p++;
            } else {
                memcpy(tmp, p, n);
                tmp[n] = '\0';
                CFGT_PUT(tmp);
                p += n;
            }
        }
    }
    CFGT_PUT("\"");
#undef CFGT_PUT
done:
    out[o] = '\0';
    return out;
}

/* Writes Go's plain decimal form of the significant digits `digits` (nd of them, value
 * d.ddd × 10^exp) at buf + o and NUL-terminates it; returns the new length. */
static size_t go_float_fixed(char *buf, size_t o, const char *digits, size_t nd, int exp)
{
    if (exp >= 0) {
        for (int i = 0; i <= exp; i++) buf[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)exp + 1 < nd) {
            buf[o++] = '.';
            for (size_t i = (size_t)exp + 1; i < nd; i++) buf[o++] = digits[i];
        }
    } else {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = 0; i < -exp - 1; i++) buf[o++] = '0';
        memcpy(buf + o, digits, nd);
        o += nd;
    }
    buf[o] = '\0';
    return o;
}

/* Writes "d[.ddd]e±XX" at buf + o (cap bytes in all); returns the new length. */
static size_t go_float_exp(char *buf, size_t o, size_t cap, const char *digits, size_t nd,
                           int exp)
{
    buf[o++] = digits[0];
    if (nd > 1) {
        buf[o++] = '.';
        memcpy(buf + o, digits + 1, nd - 1);
        o += nd - 1;
    }
    o += (size_t)snprintf(buf + o, cap - o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    return o;
}

void cfg_go_float(double v, char *out, size_t outlen)
{
    if (!isfinite(v)) {
        snprintf(out, outlen, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(out, outlen, "%s", signbit(v) ? "-0" : "0");
        return;
    }
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e is "[-]d[.ddd]e[+-]XX": split into sign, digits, exponent. */
    bool neg = e[0] == '-';
    char digits[24];
    size_t nd = 0;
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q) && nd < sizeof digits - 1) digits[nd++] = *q;
    digits[nd] = '\0';
    int exp = atoi(q + 1);
    double a = fabs(v);
    char buf[400];
    size_t o = 0;
    if (neg) buf[o++] = '-';
    if (a < 1e-6 || a >= 1e21) {
        o = go_float_exp(buf, o, sizeof buf, digits, nd, exp);
        size_t n = o;
        if (n >= 4 && buf[n - 4] == 'e' && buf[n - 3] == '-' && buf[n - 2] == '0') {
            buf[n - 2] = buf[n - 1];
            buf[n - 1] = '\0';
        }
    } else {
        go_float_fixed(buf, o, digits, nd, exp);
    }
    snprintf(out, outlen, "%s", buf);
}

char *cfg_path_clean(const char *path)
{
    size_t len = strlen(path);
    if (len == 0) return strdup(".");
    bool rooted = path[0] == '/';
    char *out = malloc(len + 2);
    if (!out) return NULL;
    size_t w = 0, r = 0, dotdot = 0;
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < len) {
        if (path[r] == '/') {
            r++;
        } else if (path[r] == '.' && (r + 1 == len || path[r + 1] == '/')) {
            r++;
        } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == len || path[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/') w--;
            } else if (!rooted) {
                if (w > 0) out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
            for (; r < len && path[r] != '/'; r++) out[w++] = path[r];
        }
    }
    if (w == 0) out[w++] = '.';
    out[w] = '\0';
    return out;
}

/* Schemas of the shared sections: one line per option. */
static const struct sch_field cfgt_tls_fields[] = {
    SF_STR("certFile", struct cfg_tls, cert_file, SCH_OMITEMPTY, NULL),
    SF_STR("keyFile", struct cfg_tls, key_file, SCH_OMITEMPTY, NULL),
    SF_STR("trustedCaFile", struct cfg_tls, trusted_ca_file, SCH_OMITEMPTY, NULL),
    SF_STR("serverName", struct cfg_tls, server_name, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field *const cfgt_tls_parts[] = {cfgt_tls_fields, NULL};
const struct sch_schema cfg_tls_schema = {"TLSConfig", sizeof(struct cfg_tls), cfgt_tls_parts, NULL, NULL};

static const struct sch_field cfgt_log_fields[] = {
    SF_STR("to", struct cfg_log, to, SCH_OMITEMPTY, "console"),
    SF_STR("level", struct cfg_log, level, SCH_OMITEMPTY, "info"),
    SF_INT("maxDays", struct cfg_log, max_days, "int64", 0, 3),
    SF_BOOL("disablePrintColor", struct cfg_log, disable_print_color, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field *const cfgt_log_parts[] = {cfgt_log_fields, NULL};
const struct sch_schema cfg_log_schema = {"LogConfig", sizeof(struct cfg_log), cfgt_log_parts, NULL, NULL};

static const struct sch_field cfgt_web_fields[] = {
    SF_STR("addr", struct cfg_web_server, addr, SCH_OMITEMPTY, "127.0.0.1"),
    SF_INT("port", struct cfg_web_server, port, "int", SCH_OMITEMPTY, 0),
    SF_STR("user", struct cfg_web_server, user, SCH_OMITEMPTY, NULL),
    SF_STR("password", struct cfg_web_server, password, SCH_OMITEMPTY, NULL),
    SF_STR("assetsDir", struct cfg_web_server, assets_dir, SCH_OMITEMPTY, NULL),
    SF_BOOL("pprofEnable", struct cfg_web_server, pprof_enable, SCH_OMITEMPTY),
    SF_SUB("tls", SCH_STRUCT_PTR, struct cfg_web_server, tls, "v1.TLSConfig", SCH_OMITEMPTY, &cfg_tls_schema),
    SF_END};
static const struct sch_field *const cfgt_web_parts[] = {cfgt_web_fields, NULL};
const struct sch_schema cfg_web_server_schema = {"WebServerConfig", sizeof(struct cfg_web_server),
                                                 cfgt_web_parts, NULL, NULL};

static const struct sch_field cfgt_quic_fields[] = {
    SF_INT("keepalivePeriod", struct cfg_quic, keepalive_period, "int", SCH_OMITEMPTY, 10),
    SF_INT("maxIdleTimeout", struct cfg_quic, max_idle_timeout, "int", SCH_OMITEMPTY, 30),
    SF_INT("maxIncomingStreams", struct cfg_quic, max_incoming_streams, "int", SCH_OMITEMPTY, 100000),
    SF_END};
static const struct sch_field *const cfgt_quic_parts[] = {cfgt_quic_fields, NULL};
const struct sch_schema cfg_quic_schema = {"QUICOptions", sizeof(struct cfg_quic), cfgt_quic_parts, NULL, NULL};

static const struct sch_field cfgt_ports_fields[] = {
    SF_INT("start", struct cfg_ports_range, start, "int", SCH_OMITEMPTY, 0),
    SF_INT("end", struct cfg_ports_range, end, "int", SCH_OMITEMPTY, 0),
    SF_INT("single", struct cfg_ports_range, single, "int", SCH_OMITEMPTY, 0),
    SF_END};
static const struct sch_field *const cfgt_ports_parts[] = {cfgt_ports_fields, NULL};
const struct sch_schema cfg_ports_range_schema = {"PortsRange", sizeof(struct cfg_ports_range),
                                                  cfgt_ports_parts, NULL, NULL};

static const struct sch_field cfgt_header_fields[] = {
    SF_STR("name", struct cfg_http_header, name, 0, NULL),
    SF_STR("value", struct cfg_http_header, value, 0, NULL),
    SF_END};
static const struct sch_field *const cfgt_header_parts[] = {cfgt_header_fields, NULL};
const struct sch_schema cfg_http_header_schema = {"HTTPHeader", sizeof(struct cfg_http_header),
                                                  cfgt_header_parts, NULL, NULL};

static const struct sch_field cfgt_hops_fields[] = {
    SF_MAP("set", struct cfg_header_ops, set, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field *const cfgt_hops_parts[] = {cfgt_hops_fields, NULL};
const struct sch_schema cfg_header_ops_schema = {"HeaderOperations", sizeof(struct cfg_header_ops),
                                                 cfgt_hops_parts, NULL, NULL};

void cfg_go_float32_g(double v, char *out, size_t outlen)
{
    float f = (float)v;
    if (!isfinite(f)) {
        snprintf(out, outlen, "%s", isnan(f) ? "NaN" : f > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (f == 0) {
        snprintf(out, outlen, "%s", signbit(f) ? "-0" : "0");
        return;
    }
    /* shortest digits that read back as the same float32 */
    char e[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, (double)f);
        if (strtof(e, NULL) == f) break;
    }
    bool neg = e[0] == '-';
    char digits[16];
    size_t nd = 0;
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q) && nd < sizeof digits - 1) digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    int exp = atoi(q + 1);
    char buf[80];
    size_t o = 0;
    if (neg) buf[o++] = '-';
    if (exp < -4 || exp >= 6)
        go_float_exp(buf, o, sizeof buf, digits, nd, exp);
    else
        go_float_fixed(buf, o, digits, nd, exp);
    snprintf(out, outlen, "%s", buf);
}

char *cfg_abs_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!dir) return NULL;
    if (dir[0] == '/') {
        char *c = cfg_path_clean(dir);
        free(dir);
        return c;
    }
    char cwd[4096];
    char *joined = NULL;
    if (!getcwd(cwd, sizeof cwd) || asprintf(&joined, "%s/%s", cwd, dir) < 0) joined = NULL;
    free(dir);
    if (!joined) return NULL;
    char *c = cfg_path_clean(joined);
    free(joined);
    return c;
}
