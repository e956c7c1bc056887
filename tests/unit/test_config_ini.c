/* Tests of the go-ini compatible parser (config/ini.h, config.md 9.3): sections and
 * DEFAULT, both delimiters, comments, inline comments kept or cut, quotes, """ and
 * backtick multi-line values, continuation lines, duplicate keys and sections,
 * boolean keys on and off, dotted-section inheritance, malformed input with file and
 * line in the message, and the bool / int / list conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "config/ini.h"

static const struct ini_options frp_opts = {.allow_boolean_keys = true,
                                            .ignore_inline_comment = true};
static const struct ini_options plain = {0};

static json_t *parse_ok(const char *text, const struct ini_options *o)
{
    char err[256] = "";
    json_t *f = NULL;
    int rc = ini_parse("t.ini", text, strlen(text), o, &f, err, sizeof err);
    if (rc) fail_msg("parse failed: %s", err);
    return f;
}

static const char *val(json_t *f, const char *sec, const char *key)
{
    return json_string_value(json_object_get(json_object_get(f, sec), key));
}

static void test_sections_and_keys(void **state)
{
    (void)state;
    json_t *f = parse_ok("top = 1\n\n  [common]\nbind_port = 7000\r\n"
                         "name: a:b=c\n# c1 = x\n; c2 = y\n[web]\n  type=http\n",
                         &frp_opts);
    const char *k;
    json_t *v;
    const char *order[] = {"DEFAULT", "common", "web"};
    size_t i = 0;
    json_object_foreach(f, k, v) assert_string_equal(k, order[i++]);
    assert_int_equal(i, 3);
    assert_string_equal(val(f, "DEFAULT", "top"), "1");
    assert_string_equal(val(f, "common", "bind_port"), "7000");
    assert_string_equal(val(f, "common", "name"), "a:b=c");
    assert_null(val(f, "common", "# c1"));
    assert_int_equal(json_object_size(json_object_get(f, "common")), 2);
    assert_string_equal(val(f, "web", "type"), "http");
    json_decref(f);
}

static void test_inline_comments_and_quotes(void **state)
{
    (void)state;
    const char *text = "[a]\ntoken = abc # comment\nq1 = \"quoted # x\"\nq2 = 'single'\n"
                       "q3 = \"a\"b\"\nempty =\n";
    json_t *f = parse_ok(text, &frp_opts);
    assert_string_equal(val(f, "a", "token"), "abc # comment");
    assert_string_equal(val(f, "a", "q1"), "quoted # x");
    assert_string_equal(val(f, "a", "q2"), "single");
    assert_string_equal(val(f, "a", "q3"), "\"a\"b\""); /* three quotes: kept */
    assert_string_equal(val(f, "a", "empty"), "");
    json_decref(f);
    f = parse_ok(text, &plain); /* go-ini's default cuts at # and ; */
    assert_string_equal(val(f, "a", "token"), "abc");
    json_decref(f);
}

static void test_multiline_and_continuation(void **state)
{
    (void)state;
    json_t *f = parse_ok("[a]\nm = \"\"\"first\nsecond\"\"\" tail\none = \"\"\"x\"\"\"\n"
                         "b = `l1\nl2`\nc = part1 \\\n   part2\\\n part3\nd = after\n",
                         &frp_opts);
    assert_string_equal(val(f, "a", "m"), "first\nsecond");
    assert_string_equal(val(f, "a", "one"), "x");
    assert_string_equal(val(f, "a", "b"), "l1\nl2");
    assert_string_equal(val(f, "a", "c"), "part1 part2part3");
    assert_string_equal(val(f, "a", "d"), "after");
    json_decref(f);
}

static void test_duplicates(void **state)
{
    (void)state;
    json_t *f = parse_ok("[a]\nx = 1\ny = 2\nx = 3\n[b]\nz = 1\n[a]\nw = 4\n", &frp_opts);
    json_t *a = json_object_get(f, "a");
    assert_int_equal(json_object_size(f), 3);
    assert_int_equal(json_object_size(a), 3);
    assert_string_equal(val(f, "a", "x"), "3");
    assert_string_equal(json_object_iter_key(json_object_iter(a)), "x"); /* first position */
    assert_string_equal(val(f, "a", "w"), "4");
    json_decref(f);
}

static void test_boolean_keys(void **state)
{
    (void)state;
    json_t *f = parse_ok("[common]\nenable_prometheus\n", &frp_opts);
    assert_string_equal(val(f, "common", "enable_prometheus"), "true");
    json_decref(f);
    char err[256];
    json_t *g = NULL;
    const char *t = "[common]\nx = 1\nenable_prometheus\n";
    assert_int_equal(ini_parse("f.ini", t, strlen(t), &plain, &g, err, sizeof err), CFRP_EPARSE);
    assert_null(g);
    assert_string_equal(err, "f.ini:3: key-value delimiter not found: enable_prometheus");
}

static void test_inheritance(void **state)
{
    (void)state;
    json_t *f = parse_ok("[web]\ntype = http\nlocal_port = 80\n[web.b]\ncustom_domains = b\n"
                         "[x.y.z]\nk = 1\n[x]\nlocal_port = 9\n",
                         &frp_opts);
    assert_string_equal(ini_get(f, "web.b", "type"), "http");
    assert_string_equal(ini_get(f, "web.b", "local_port"), "80");
    assert_string_equal(ini_get(f, "web.b", "custom_domains"), "b");
    assert_null(ini_get(f, "web", "custom_domains"));
    assert_string_equal(ini_get(f, "x.y.z", "local_port"), "9"); /* x.y missing: skip to x */
    assert_null(ini_get(f, "x.y.z", "type"));
    json_decref(f);
}

static void expect_error(const char *text, const char *want)
{
    char err[256] = "";
    json_t *f = NULL;
    assert_int_equal(ini_parse("bad.ini", text, strlen(text), &frp_opts, &f, err, sizeof err),
                     CFRP_EPARSE);
    assert_null(f);
    assert_string_equal(err, want);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_error("[common\nx = 1\n", "bad.ini:1: unclosed section: [common");
    expect_error("[a]\n\n[]\n", "bad.ini:3: empty section name");
    expect_error("[a]\n = v\n", "bad.ini:2: empty key name: = v");
    expect_error("[a]\nm = \"\"\"never\nclosed\n", "bad.ini:3: missing closing quote \"\"\"");
    /* a NUL byte inside the given length */
    char err[128];
    json_t *f = NULL;
    assert_int_equal(ini_parse("n.ini", "[a]\nx = 1\0y\n", 11, &frp_opts, &f, err, sizeof err),
                     CFRP_EPARSE);
    assert_string_equal(err, "n.ini:2: NUL byte in the text");
    /* a long line is cut in the message, which stays bounded */
    char big[5000];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ini_parse("big.ini", big, strlen(big), &plain, &f, err, sizeof err),
                     CFRP_EPARSE);
    assert_true(strlen(err) < sizeof err);
}

static void test_bom_and_empty(void **state)
{
    (void)state;
    json_t *f = parse_ok("\xEF\xBB\xBF[common]\nx=1", &frp_opts);
    assert_string_equal(val(f, "common", "x"), "1");
    json_decref(f);
    f = parse_ok("", &frp_opts);
    assert_int_equal(json_object_size(f), 1); /* DEFAULT only */
    json_decref(f);
}

static void test_bool(void **state)
{
    (void)state;
    bool b = false;
    const char *t[] = {"1", "t", "T", "true", "TRUE", "True", "y", "yes", "YES", "Yes", "on", "ON", "On"};
    const char *f[] = {"0", "f", "F", "false", "FALSE", "False", "n", "no", "NO", "No", "off", "OFF", "Off"};
    for (size_t i = 0; i < 13; i++) {
        b = false;
        assert_int_equal(ini_parse_bool(t[i], &b), 0);
        assert_true(b);
        assert_int_equal(ini_parse_bool(f[i], &b), 0);
        assert_false(b);
    }
    b = true;
    assert_int_equal(ini_parse_bool("Y", &b), CFRP_EINVAL);
    assert_int_equal(ini_parse_bool("tRUE", &b), CFRP_EINVAL);
    assert_int_equal(ini_parse_bool("", &b), CFRP_EINVAL);
    assert_true(b);
}

static void test_int(void **state)
{
    (void)state;
    int64_t v = -1;
    struct {
        const char *s;
        int64_t want;
    } ok[] = {{"7000", 7000}, {"0x50", 80}, {"0o17", 15}, {"017", 15}, {"0b101", 5},
              {"-12", -12},   {"+3", 3},    {"1_000", 1000}, {"0x_1F", 31}, {"0", 0},
              {"9223372036854775807", INT64_MAX}, {"-9223372036854775808", INT64_MIN}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(ini_parse_int(ok[i].s, &v), 0);
        assert_true(v == ok[i].want);
    }
    const char *bad[] = {"", "abc", "08", "0x", "1_", "_1", "1__0", " 1", "1 ", "12a",
                         "9223372036854775808", "-", "0o"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ini_parse_int(bad[i], &v), CFRP_EINVAL);
}

static void check_list(const char *in, size_t n, const char *const *want)
{
    json_t *l = ini_list(in);
    assert_non_null(l);
    assert_int_equal(json_array_size(l), n);
    for (size_t i = 0; i < n; i++) assert_string_equal(json_string_value(json_array_get(l, i)), want[i]);
    json_decref(l);
}

static void test_list(void **state)
{
    (void)state;
    check_list("", 0, NULL);
    check_list(" a , b,c ", 3, (const char *const[]){"a", "b", "c"});
    check_list("a,,b,", 3, (const char *const[]){"a", "", "b"});
    check_list("a\\,b,c\\\\d,e\\x", 3, (const char *const[]){"a,b", "c\\d", "e\\x"});
    check_list("a, ", 2, (const char *const[]){"a", ""});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_and_keys), cmocka_unit_test(test_inline_comments_and_quotes),
        cmocka_unit_test(test_multiline_and_continuation), cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_boolean_keys),      cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_bom_and_empty),
        cmocka_unit_test(test_bool),              cmocka_unit_test(test_int),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
