/* Tests of the TOML parser: the toml-test 1.0.0 conformance cases (read from
 * CFRP_SHARED_DIR/toml-test at run time, compared by toml-test's own rules),
 * then focused tests of the plain tree frp's config loader uses. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/err.h"
#include "config/toml.h"

#define TT_DIR CFRP_SHARED_DIR "/toml-test/"

/* ---- helpers ---- */

/* Reads a whole file as bytes; the caller frees *data. */
static int tt_read(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

/* A parsed date/time text: any of the four TOML kinds. */
struct tt_time {
    bool has_date, has_time, has_off;
    int y, mo, d, h, mi, s;
    long nsec;
    int off_min; /* signed */
};

/* Parses the RFC 3339 forms used by toml-test (T, t or space; Z or z; any
 * number of fraction digits). Returns false if the text is not one of them. */
static bool tt_parse_time(const char *t, struct tt_time *o)
{
    memset(o, 0, sizeof *o);
    int n = 0;
    if (sscanf(t, "%4d-%2d-%2d%n", &o->y, &o->mo, &o->d, &n) == 3 && n == 10) {
        o->has_date = true;
        t += 10;
        if (*t == '\0') return true;
        if (*t != 'T' && *t != 't' && *t != ' ') return false;
        t++;
    }
    if (sscanf(t, "%2d:%2d:%2d%n", &o->h, &o->mi, &o->s, &n) != 3 || n != 8) return false;
    o->has_time = true;
    t += 8;
    if (*t == '.') {
        int digits = 0;
        for (t++; *t >= '0' && *t <= '9'; t++, digits++)
            if (digits < 9) o->nsec = o->nsec * 10 + (*t - '0');
        for (; digits < 9; digits++) o->nsec *= 10;
    }
    if (*t == 'Z' || *t == 'z') {
        o->has_off = true;
        t++;
    } else if (*t == '+' || *t == '-') {
        int oh, om;
        if (sscanf(t + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5) return false;
        o->has_off = true;
        o->off_min = (*t == '-' ? -1 : 1) * (oh * 60 + om);
        t += 6;
    }
    return *t == '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long tt_days(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool tt_time_equal(const char *want, const char *have, bool offset)
{
    struct tt_time a, b;
    if (!tt_parse_time(want, &a) || !tt_parse_time(have, &b)) return false;
    if (a.has_date != b.has_date || a.has_time != b.has_time || a.has_off != b.has_off ||
        a.has_off != offset)
        return false;
    if (offset) {
        long long sa = tt_days(a.y, a.mo, a.d) * 86400LL + a.h * 3600 + a.mi * 60 + a.s -
                       a.off_min * 60LL;
        long long sb = tt_days(b.y, b.mo, b.d) * 86400LL + b.h * 3600 + b.mi * 60 + b.s -
                       b.off_min * 60LL;
        return sa == sb && a.nsec == b.nsec;
    }
    return a.y == b.y && a.mo == b.mo && a.d == b.d && a.h == b.h && a.mi == b.mi &&
           a.s == b.s && a.nsec == b.nsec;
}

/* Lower-cases a NaN text and drops its sign, as toml-test does. */
static void tt_nan_text(const char *s, char *out, size_t n)
{
    if (*s == '+' || *s == '-') s++;
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[i] = '\0';
}

static bool tt_float_equal(const char *want, const char *have)
{
    char a[64], b[64];
    tt_nan_text(want, a, sizeof a);
    tt_nan_text(have, b, sizeof b);
    if (strcmp(a, "nan") == 0 || strcmp(b, "nan") == 0) return strcmp(a, b) == 0;
    char *ea, *eb;
    double fa = strtod(want, &ea), fb = strtod(have, &eb);
    return *ea == '\0' && *eb == '\0' && fa == fb;
}

/* jansson cannot load an object key with a NUL in it, so the expected JSON is
 * loaded with every \u0000 escape turned into this noncharacter (no case uses
 * it), and our output is compared as if its NULs were it. */
#define TT_NUL "\xEF\xB7\x90"

static bool tt_bytes_equal(const char *want, size_t wlen, const char *have, size_t hlen)
{
    size_t i = 0, k = 0;
    for (; i < wlen && k < hlen; k++) {
        if (have[k] == '\0') {
            if (wlen - i < 3 || memcmp(want + i, TT_NUL, 3) != 0) return false;
            i += 3;
        } else if (want[i++] != have[k]) {
            return false;
        }
    }
    return i == wlen && k == hlen;
}

/* The member of object have whose key equals want's key under tt_bytes_equal. */
static json_t *tt_member(json_t *have, const char *key, size_t klen)
{
    const char *hk;
    size_t hklen;
    json_t *hv;
    json_object_keylen_foreach(have, hk, hklen, hv) {
        if (tt_bytes_equal(key, klen, hk, hklen)) return hv;
    }
    return NULL;
}

/* Loads an expected .json file, mapping \u0000 to TT_NUL first. */
static json_t *tt_load_expected(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (tt_read(path, &text, &len)) return NULL;
    for (size_t i = 0; i + 6 <= len; i++)
        if (memcmp(text + i, "\\u0000", 6) == 0) {
            size_t bs = 0; /* an escaped backslash before it makes it literal text */
            while (bs < i && text[i - 1 - bs] == '\\') bs++;
            if (bs % 2 == 0) memcpy(text + i, "\\ufdd0", 6);
        }
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (!j) print_message("%s: %s\n", path, jerr.text);
    free(text);
    return j;
}

static bool tt_is_value(json_t *j)
{
    return json_is_object(j) && json_object_size(j) == 2 &&
           json_is_string(json_object_get(j, "type")) &&
           json_is_string(json_object_get(j, "value"));
}

static bool tt_value_equal(json_t *want, json_t *have)
{
    if (!tt_is_value(have)) return false;
    const char *type = json_string_value(json_object_get(want, "type"));
    if (strcmp(type, json_string_value(json_object_get(have, "type"))) != 0) return false;
    json_t *wv = json_object_get(want, "value"), *hv = json_object_get(have, "value");
    const char *w = json_string_value(wv), *h = json_string_value(hv);
    if (strcmp(type, "string") == 0 || strcmp(type, "integer") == 0)
        return tt_bytes_equal(w, json_string_length(wv), h, json_string_length(hv));
    if (strcmp(type, "float") == 0) return tt_float_equal(w, h);
    if (strcmp(type, "bool") == 0) return strcasecmp(w, h) == 0;
    if (strcmp(type, "datetime") == 0) return tt_time_equal(w, h, true);
    if (strcmp(type, "datetime-local") == 0 || strcmp(type, "date-local") == 0 ||
        strcmp(type, "time-local") == 0)
        return tt_time_equal(w, h, false);
    return false;
}

/* toml-test's compare(want, have); on a mismatch, path names where. */
static bool tt_equal(json_t *want, json_t *have, char *path, size_t plen)
{
    if (tt_is_value(want)) return tt_value_equal(want, have);
    if (json_is_object(want)) {
        if (!json_is_object(have) || tt_is_value(have) ||
            json_object_size(want) != json_object_size(have))
            return false;
        const char *key;
        size_t klen;
        json_t *wv;
        size_t used = strlen(path);
        json_object_keylen_foreach(want, key, klen, wv) {
            json_t *hv = tt_member(have, key, klen);
            snprintf(path + used, plen - used, ".%s", key);
            if (!hv || !tt_equal(wv, hv, path, plen)) return false;
            path[used] = '\0';
        }
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(have) || json_array_size(want) != json_array_size(have)) return false;
        size_t used = strlen(path);
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(path + used, plen - used, "[%zu]", i);
            if (!tt_equal(json_array_get(want, i), json_array_get(have, i), path, plen))
                return false;
            path[used] = '\0';
        }
        return true;
    }
    return false;
}

/* Runs one valid case; returns true if it passes. */
static bool tt_valid_case(const char *name, const char *data, size_t len)
{
    char err[256], path[1024], jpath[1024];
    json_t *have = NULL;
    int rc = toml_parse(data, len, TOML_TAGGED, &have, err, sizeof err);
    if (rc) {
        print_message("FAIL %s: rejected: %s\n", name, err);
        return false;
    }
    snprintf(jpath, sizeof jpath, TT_DIR "%.*s.json", (int)(strlen(name) - 5), name);
    json_t *want = tt_load_expected(jpath);
    path[0] = '\0';
    bool ok = want && tt_equal(want, have, path, sizeof path);
    if (!ok) {
        char *dump = json_dumps(have, JSON_COMPACT | JSON_ENSURE_ASCII);
        print_message("FAIL %s: differs at '%s'; got %s\n", name, path, dump ? dump : "?");
        free(dump);
    }
    json_decref(want);
    json_decref(have);
    /* The plain shape accepts the same document, except for inf and nan. */
    json_t *plain = NULL;
    rc = toml_parse(data, len, 0, &plain, err, sizeof err);
    json_decref(plain);
    if (rc != 0 && rc != CFRP_EINVAL) {
        print_message("FAIL %s: plain shape: %s\n", name, err);
        ok = false;
    }
    return ok;
}

static void test_toml_test_suite(void **state)
{
    char *list = NULL;
    size_t len = 0;
    assert_int_equal(tt_read(TT_DIR "files-toml-1.0.0", &list, &len), 0);
    list = realloc(list, len + 1);
    list[len] = '\0';
    int valid = 0, valid_ok = 0, invalid = 0, invalid_ok = 0;
    char *save = NULL;
    for (char *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        size_t nlen = strlen(name);
        if (nlen < 5 || strcmp(name + nlen - 5, ".toml") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, TT_DIR "%s", name);
        char *data = NULL;
        size_t dlen = 0;
        assert_int_equal(tt_read(path, &data, &dlen), 0);
        if (strncmp(name, "valid/", 6) == 0) {
            valid++;
            valid_ok += tt_valid_case(name, data, dlen);
        } else if (strncmp(name, "invalid/", 8) == 0) {
            invalid++;
            bool rejected = true;
            for (int flags = 0; flags <= TOML_TAGGED; flags++) {
                char err[256];
                json_t *out = NULL;
                if (toml_parse(data, dlen, flags, &out, err, sizeof err) != CFRP_EPARSE) {
                    rejected = false;
                    json_decref(out);
                }
            }
            if (!rejected) print_message("FAIL %s: accepted\n", name);
            invalid_ok += rejected;
        }
        free(data);
    }
    free(list);
    print_message("toml-test: %d/%d valid, %d/%d invalid\n", valid_ok, valid, invalid_ok,
                  invalid);
    assert_int_equal(valid, 210);
    assert_int_equal(invalid, 499);
    assert_int_equal(valid_ok, valid);
    assert_int_equal(invalid_ok, invalid);
}

/* ---- plain shape ---- */

static json_t *parse_ok(const char *text, int flags)
{
    char err[256] = "";
    json_t *out = NULL;
    int rc = toml_parse(text, strlen(text), flags, &out, err, sizeof err);
    if (rc) print_message("unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    return out;
}

/* Parses text expecting failure with code rc and message msg. */
static void parse_fails(const char *text, size_t len, int rc, const char *msg)
{
    char err[256] = "";
    json_t *out = (json_t *)1;
    for (int flags = 0; flags <= TOML_TAGGED; flags++) {
        assert_int_equal(toml_parse(text, len, flags, &out, err, sizeof err), rc);
        assert_null(out);
        assert_string_equal(err, msg);
    }
}

static void test_plain_types(void **state)
{
    json_t *j = parse_ok("i = 42\nneg = -0\nf = 7000.0\ng = 1e3\nb = true\nc = false\n"
                         "s = \"a\\u0000b\"\narr = [1, \"x\", [2.5]]\n[t]\nk = 'lit'\n"
                         "[[aot]]\nn = 1\n[[aot]]\nn = 2\n",
                         0);
    assert_true(json_is_integer(json_object_get(j, "i")));
    assert_int_equal(json_integer_value(json_object_get(j, "i")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "neg")), 0);
    json_t *f = json_object_get(j, "f");
    assert_true(json_is_real(f));
    assert_true(json_real_value(f) == 7000.0);
    assert_true(json_real_value(json_object_get(j, "g")) == 1000.0);
    assert_true(json_is_true(json_object_get(j, "b")));
    assert_true(json_is_false(json_object_get(j, "c")));
    json_t *s = json_object_get(j, "s");
    assert_int_equal(json_string_length(s), 3);
    assert_memory_equal(json_string_value(s), "a\0b", 3);
    json_t *arr = json_object_get(j, "arr");
    assert_int_equal(json_array_size(arr), 3);
    assert_string_equal(json_string_value(json_array_get(arr, 1)), "x");
    assert_true(json_real_value(json_array_get(json_array_get(arr, 2), 0)) == 2.5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "t"), "k")), "lit");
    json_t *aot = json_object_get(j, "aot");
    assert_int_equal(json_array_size(aot), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(aot, 1), "n")), 2);
    json_decref(j);

    j = parse_ok("", 0);
    assert_true(json_is_object(j));
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
}

static void test_plain_int_range(void **state)
{
    json_t *j = parse_ok("max = 9_223_372_036_854_775_807\nmin = -9223372036854775808\n"
                         "hex = 0x7FFFFFFFFFFFFFFF\nbin = 0b101\noct = 0o17\n",
                         0);
    assert_true(json_integer_value(json_object_get(j, "max")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(j, "min")) == INT64_MIN);
    assert_true(json_integer_value(json_object_get(j, "hex")) == INT64_MAX);
    assert_int_equal(json_integer_value(json_object_get(j, "bin")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "oct")), 15);
    json_decref(j);
    const char *over = "a = 9223372036854775808\n";
    parse_fails(over, strlen(over), CFRP_EPARSE,
                "line 1, column 5: integer out of range '9223372036854775808'");
    over = "a = 0x8000000000000000";
    parse_fails(over, strlen(over), CFRP_EPARSE,
                "line 1, column 5: integer out of range '0x8000000000000000'");
}

static void test_plain_inf_nan(void **state)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"x = inf", "json: unsupported value: +Inf"},
        {"x = +inf", "json: unsupported value: +Inf"},
        {"x = -inf", "json: unsupported value: -Inf"},
        {"x = nan", "json: unsupported value: NaN"},
        {"[t]\ny = [1.0, -nan]", "json: unsupported value: NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        json_t *out = NULL;
        assert_int_equal(toml_parse(cases[i].text, strlen(cases[i].text), 0, &out, err,
                                    sizeof err),
                         CFRP_EINVAL);
        assert_null(out);
        assert_string_equal(err, cases[i].msg);
        /* The tagged shape has no such limit. */
        out = parse_ok(cases[i].text, TOML_TAGGED);
        json_decref(out);
    }
}

static void check_str(json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), want);
}

static void test_plain_datetimes(void **state)
{
    json_t *j = parse_ok("a = 1979-05-27T07:32:00Z\n"
                         "b = 1979-05-27 07:32:00.500+00:00\n"
                         "c = 1979-05-27T00:32:00.999999-07:00\n"
                         "d = 1979-05-27t07:32:00.1234567891z\n"
                         "e = 2016-12-31T23:59:60Z\n"
                         "f = 1979-05-27T07:32:00.500\n"
                         "g = 1979-05-27\n"
                         "h = 07:32:00.10\n"
                         "i = 2000-02-29T12:00:00-00:00\n",
                         0);
    check_str(j, "a", "1979-05-27T07:32:00Z");
    check_str(j, "b", "1979-05-27T07:32:00.5Z");
    check_str(j, "c", "1979-05-27T00:32:00.999999-07:00");
    check_str(j, "d", "1979-05-27T07:32:00.123456789Z");
    check_str(j, "e", "2017-01-01T00:00:00Z");
    check_str(j, "f", "1979-05-27T07:32:00.500");
    check_str(j, "g", "1979-05-27");
    check_str(j, "h", "07:32:00.10");
    check_str(j, "i", "2000-02-29T12:00:00Z");
    json_decref(j);

    j = parse_ok("a = 1979-05-27 07:32:00z\nb = 2000-01-01T00:00:00.5-00:00\nc = 23:59:60\n",
                 TOML_TAGGED);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "a"), "type")),
                        "datetime");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "a"), "value")),
                        "1979-05-27T07:32:00Z");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "b"), "value")),
                        "2000-01-01T00:00:00.5-00:00");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "c"), "type")),
                        "time-local");
    json_decref(j);

    const char *bad = "d = 2021-02-29\n";
    parse_fails(bad, strlen(bad), CFRP_EPARSE, "line 1, column 13: day 29 out of range for 2021-02");
    bad = "d = 2021-01-01T24:00:00\n";
    parse_fails(bad, strlen(bad), CFRP_EPARSE, "line 1, column 16: hour 24 out of range");
}

static void test_error_positions(void **state)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"a = 1\na = 2\n", "line 2, column 1: duplicate key \"a\""},
        {"a = \"abc\n", "line 1, column 9: newline in a single-line string"},
        {"[a]\nx = 1\n[a]\n", "line 3, column 2: table \"a\" is already defined"},
        {"a.b = 1\n[a]\n", "line 2, column 2: table \"a\" is already defined"},
        {"x = {a = 1}\nx.b = 2\n", "line 2, column 1: inline table \"x\" cannot be extended"},
        {"# c\n  k = \"\xc3\xa9\x01\"\n", "line 2, column 9: control character U+0001"},
        {"k = 1\nv = \"\xc3\x28\"", "line 2, column 6: invalid UTF-8"},
        {"a = 1 b = 2", "line 1, column 7: expected a newline or end of input, found 'b'"},
        {"a = [1 2]", "line 1, column 8: expected ',' or ']' in array, found '2'"},
        {"a = 'x", "line 1, column 5: unterminated string"},
        {"a = 0x", "line 1, column 5: invalid integer '0x'"},
        {"a = 01", "line 1, column 5: leading zeros are not allowed in '01'"},
        {"a = \"\\q\"", "line 1, column 6: invalid escape sequence: backslash followed by 'q'"},
        {"a =", "line 1, column 4: expected a value, found end of input"},
        {"a\r = 1", "line 1, column 2: carriage return not followed by a newline"},
        {"\xef\xbb\xbf" "a = 1\n\xef\xbb\xbf", "line 2, column 1: expected a key, found U+FEFF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        parse_fails(cases[i].text, strlen(cases[i].text), CFRP_EPARSE, cases[i].msg);

    /* NUL bytes are counted by len and rejected, not taken as the end. */
    static const char nul[] = "a = 1\nb = \"x\0\"\n";
    parse_fails(nul, sizeof nul - 1, CFRP_EPARSE, "line 2, column 7: control character U+0000");
    /* The text need not be NUL-terminated: only len bytes are read. */
    static const char longer[] = "a = 12345";
    char err[256];
    json_t *j = NULL;
    assert_int_equal(toml_parse(longer, 6, 0, &j, err, sizeof err), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 12);
    json_decref(j);
}

/* Builds prefix + n copies of rep + mid + n copies of close + suffix. */
static char *nest(const char *prefix, const char *rep, int n, const char *mid,
                  const char *close, const char *suffix)
{
    size_t len = strlen(prefix) + (strlen(rep) + strlen(close)) * (size_t)n + strlen(mid) +
                 strlen(suffix) + 1;
    char *s = malloc(len), *p = s;
    p += sprintf(p, "%s", prefix);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s", rep);
    p += sprintf(p, "%s", mid);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s", close);
    sprintf(p, "%s", suffix);
    return s;
}

static void test_nesting_limit(void **state)
{
    char err[256];
    json_t *j = NULL;
    /* a at depth 1, then 126 more arrays, the integer at depth 128: accepted. */
    char *s = nest("a = ", "[", TOML_MAX_DEPTH - 1, "1", "]", "\n");
    assert_int_equal(toml_parse(s, strlen(s), 0, &j, err, sizeof err), 0);
    json_decref(j);
    free(s);
    /* One level more, and far more (no stack overflow either way). */
    int depths[] = {TOML_MAX_DEPTH, 100000};
    for (size_t i = 0; i < 2; i++) {
        s = nest("a = ", "[", depths[i], "1", "]", "\n");
        assert_int_equal(toml_parse(s, strlen(s), 0, &j, err, sizeof err), CFRP_EPARSE);
        assert_non_null(strstr(err, "nested deeper than 128 levels"));
        free(s);
        s = nest("a = ", "{b=", depths[i], "1", "}", "\n");
        assert_int_equal(toml_parse(s, strlen(s), TOML_TAGGED, &j, err, sizeof err),
                         CFRP_EPARSE);
        assert_non_null(strstr(err, "nested deeper than 128 levels"));
        free(s);
        s = nest("", "k.", depths[i], "k = 1", "", "\n");
        assert_int_equal(toml_parse(s, strlen(s), 0, &j, err, sizeof err), CFRP_EPARSE);
        assert_non_null(strstr(err, "deeper than 128 levels"));
        free(s);
    }
    /* Arrays of tables count two levels per key. */
    char buf[8192] = "";
    for (int i = 0; i < 70; i++) {
        strcat(buf, "[[a");
        for (int k = 0; k < i; k++) strcat(buf, ".a");
        strcat(buf, "]]\n");
    }
    assert_int_equal(toml_parse(buf, strlen(buf), 0, &j, err, sizeof err), CFRP_EPARSE);
    assert_non_null(strstr(err, "nested deeper than 128 levels"));
}

static void test_tables_and_keys(void **state)
{
    json_t *j = parse_ok("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n"
                         "[fruit.apple.texture]\nsmooth = true\n"
                         "[x.y.z]\n[x]\nq = 1\n"
                         "\"\" = 'empty'\n\"a.b\" = 2\n",
                         0);
    json_t *apple = json_object_get(json_object_get(j, "fruit"), "apple");
    check_str(apple, "color", "red");
    assert_true(json_is_true(json_object_get(json_object_get(apple, "texture"), "smooth")));
    json_t *x = json_object_get(j, "x");
    assert_true(json_is_object(json_object_get(json_object_get(x, "y"), "z")));
    check_str(x, "", "empty");
    assert_int_equal(json_integer_value(json_object_get(x, "a.b")), 2);
    json_decref(j);

    const char *bad = "[fruit]\napple.color = 1\n[fruit.apple]\n";
    parse_fails(bad, strlen(bad), CFRP_EPARSE, "line 3, column 8: table \"apple\" is already defined");
    bad = "a = []\n[[a]]\n";
    parse_fails(bad, strlen(bad), CFRP_EPARSE,
                "line 2, column 3: key \"a\" is already defined and is not an array of tables");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toml_test_suite),  cmocka_unit_test(test_plain_types),
        cmocka_unit_test(test_plain_int_range),  cmocka_unit_test(test_plain_inf_nan),
        cmocka_unit_test(test_plain_datetimes),  cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_nesting_limit),    cmocka_unit_test(test_tables_and_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
