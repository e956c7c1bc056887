/* Unit tests for the config template renderer (config/template.c): every construct of
 * spec config.md section 3, the upstream README examples, Go-shaped error messages
 * and the size/work bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "config/template.h"

static char errbuf[1024];

/* Renders src; returns the malloc'ed output (asserting success). */
static char *render_ok(const char *src)
{
    char *out = NULL;
    size_t n = 0;
    errbuf[0] = '\0';
    int rc = tmpl_render("frp", src, strlen(src), &out, &n, errbuf, sizeof errbuf);
    if (rc) fail_msg("render of [%s] failed: %d %s", src, rc, errbuf);
    assert_non_null(out);
    assert_int_equal(strlen(out), n);
    return out;
}

#define EXPECT(src, want)                         \
    do {                                          \
        char *o_ = render_ok(src);                \
        assert_string_equal(o_, (want));          \
        free(o_);                                 \
    } while (0)

/* Renders src expecting failure with code rc and exactly message msg. */
static void expect_err(const char *src, int rc, const char *msg)
{
    char *out = (char *)1;
    size_t n = 7;
    errbuf[0] = '\0';
    int got = tmpl_render("frp", src, strlen(src), &out, &n, errbuf, sizeof errbuf);
    if (got != rc) fail_msg("[%s]: rc %d, want %d (%s)", src, got, rc, errbuf);
    assert_null(out);
    assert_int_equal(n, 0);
    if (msg) assert_string_equal(errbuf, msg);
}

static void test_plain_text(void **state)
{
    EXPECT("", "");
    EXPECT("bindPort = 7000\n", "bindPort = 7000\n");
    EXPECT("a } b { c", "a } b { c");
    /* decisions.md 1: no HTML escaping, comments and '<' stay */
    EXPECT("a < b <!-- c --> & {{ \"+<&'\\\"\" }}", "a < b <!-- c --> & +<&'\"");
}

static void test_envs(void **state)
{
    setenv("CFRP_T_ADDR", "10.0.0.1", 1);
    setenv("CFRP_T_TOKEN", "a+b&c<d>\"e'f", 1);
    setenv("MY-VAR", "dash", 1);
    unsetenv("CFRP_T_NOPE");
    EXPECT("serverAddr = \"{{ .Envs.CFRP_T_ADDR }}\"", "serverAddr = \"10.0.0.1\"");
    EXPECT("t={{ .Envs.CFRP_T_TOKEN }}", "t=a+b&c<d>\"e'f");
    /* an unset variable is the empty string (config.md 3.1) */
    EXPECT("x={{ .Envs.CFRP_T_NOPE }};", "x=;");
    EXPECT("{{ index .Envs \"MY-VAR\" }}|{{ index .Envs \"CFRP_T_NOPE\" }}|", "dash||");
    EXPECT("{{ $.Envs.CFRP_T_ADDR }}", "10.0.0.1");
    EXPECT("{{ with .Envs.CFRP_T_ADDR }}<{{ . }}>{{ end }}{{ with .Envs.CFRP_T_NOPE }}x{{ else }}none{{ end }}",
           "<10.0.0.1>none");
    EXPECT("{{ if .Envs.CFRP_T_NOPE }}set{{ else }}unset{{ end }}", "unset");
    EXPECT("{{ .Envs.CFRP_T_ADDR | len }}", "8");
    EXPECT("{{ range $k, $v := .Envs }}{{ if eq $k \"CFRP_T_ADDR\" }}{{ $k }}={{ $v }}{{ end }}{{ end }}",
           "CFRP_T_ADDR=10.0.0.1");
    EXPECT("{{ .Envs.CFRP_T_NOPE.X }}|", "|");
}

/* Legacy INI files (config.md 9.2): Go's plain text/template. */
static void test_legacy_ini_mode(void **state)
{
    setenv("CFRP_T_ADDR", "10.0.0.1", 1);
    unsetenv("CFRP_T_NOPE");
    static const char src[] = "a={{ .Envs.CFRP_T_ADDR }} b={{ .Envs.CFRP_T_NOPE }} "
                              "c={{ index .Envs \"CFRP_T_NOPE\" }};";
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(tmpl_render_legacy("frp", src, strlen(src), &out, &n, errbuf, sizeof errbuf), 0);
    /* a missing field prints Go's <no value>; index of a missing key is the zero value */
    assert_string_equal(out, "a=10.0.0.1 b=<no value> c=;");
    free(out);
    static const char fn[] = "{{ parseNumberRange \"1-2\" }}";
    out = (char *)1;
    assert_int_equal(tmpl_render_legacy("frp", fn, strlen(fn), &out, &n, errbuf, sizeof errbuf),
                     CFRP_EPARSE);
    assert_null(out);
    assert_string_equal(errbuf, "template: frp:1: function \"parseNumberRange\" not defined");
}

static void test_trim_and_comments(void **state)
{
    EXPECT("a  \n {{- 1 -}} \n\t b", "a1b");
    EXPECT("a {{- 1 }} b", "a1 b");
    EXPECT("a {{ 1 -}} b", "a 1b");
    EXPECT("{{-3}}", "-3");
    EXPECT("{{ -3 }}", "-3");
    EXPECT("x{{/* a comment */}}y", "xy");
    EXPECT("x \n{{- /* multi\nline */ -}}\n y", "xy");
    EXPECT("a\n{{- /* c */}}\nb", "a\nb");
    expect_err("x{{/* open", CFRP_EPARSE, "template: frp:1: unclosed comment");
    expect_err("x{{/* c */ 1 }}", CFRP_EPARSE, "template: frp:1: comment ends before closing delimiter");
}

static void test_variables(void **state)
{
    EXPECT("{{ $v := \"q\" }}{{ $v }}{{ $v = 5 }}{{ $v }}", "q5");
    EXPECT("{{ $a := 1 }}{{ if true }}{{ $a = 2 }}{{ $b := 3 }}{{ $b }}{{ end }}{{ $a }}", "32");
    expect_err("{{ if true }}{{ $b := 3 }}{{ end }}{{ $b }}", CFRP_EPARSE,
               "template: frp:1: undefined variable \"$b\"");
    expect_err("{{ $x }}", CFRP_EPARSE, "template: frp:1: undefined variable \"$x\"");
    expect_err("{{ $x = 1 }}", CFRP_EPARSE, "template: frp:1: undefined variable \"$x\"");
    expect_err("{{ $a, $b := 1 }}", CFRP_EPARSE, "template: frp:1: too many declarations in command");
}

static void test_ranges(void **state)
{
    EXPECT("{{ range $i, $v := parseNumberRange \"1000-1002,2000\" }}{{ $i }}:{{ $v }} {{ end }}",
           "0:1000 1:1001 2:1002 3:2000 ");
    EXPECT("{{ range $v := parseNumberRange \" 5 - 6 , 5 \" }}{{ $v }},{{ end }}", "5,6,5,");
    EXPECT("{{ range parseNumberRange \"7-8\" }}[{{ . }}]{{ end }}", "[7][8]");
    EXPECT("{{ parseNumberRange \"1-3\" }} {{ parseNumberRangePair \"1-2\" \"3-4\" }}", "[1 2 3] [{1 3} {2 4}]");
    EXPECT("{{ range $p := parseNumberRangePair \"1-2\" \"3-4\" }}{{ $p.First }}>{{ $p.Second }};{{ end }}",
           "1>3;2>4;");
    EXPECT("{{ index (parseNumberRangePair \"1-3\" \"4-6\") 1 }} {{ (index (parseNumberRangePair \"1\" \"2\") 0).Second }}",
           "{2 5} 2");
    EXPECT("{{ range 3 }}{{ . }}{{ end }}", "012");
    EXPECT("{{ range 0 }}x{{ else }}empty{{ end }}", "empty");
    EXPECT("{{ range $i, $v := parseNumberRange \"1-10\" }}{{ if eq $v 3 }}{{ continue }}{{ end }}"
           "{{ if gt $v 5 }}{{ break }}{{ end }}{{ $v }}{{ end }}",
           "1245");
    EXPECT("{{ $x := 0 }}{{ range $x = parseNumberRange \"4-5\" }}{{ end }}{{ $x }}", "5");
    EXPECT("{{ range .Envs.CFRP_T_NOPE }}x{{ else }}no{{ end }}", "no");
    expect_err("{{ break }}", CFRP_EPARSE, "template: frp:1: {{break}} outside {{range}}");
    expect_err("{{ range \"abc\" }}{{ end }}", CFRP_EPARSE,
               "template: frp:1:3: executing \"frp\" at <range>: range can't iterate over abc");
}

static void test_readme_examples(void **state)
{
    setenv("FRP_SERVER_ADDR", "x.example.com", 1);
    setenv("FRP_SSH_REMOTE_PORT", "6000", 1);
    EXPECT("serverAddr = \"{{ .Envs.FRP_SERVER_ADDR }}\"\nserverPort = 7000\n\n[[proxies]]\nname = \"ssh\"\n"
           "type = \"tcp\"\nlocalIP = \"127.0.0.1\"\nlocalPort = 22\nremotePort = {{ .Envs.FRP_SSH_REMOTE_PORT }}\n",
           "serverAddr = \"x.example.com\"\nserverPort = 7000\n\n[[proxies]]\nname = \"ssh\"\n"
           "type = \"tcp\"\nlocalIP = \"127.0.0.1\"\nlocalPort = 22\nremotePort = 6000\n");
    /* config.md 3.3 */
    EXPECT("serverAddr = \"{{ .Envs.FRP_SERVER_ADDR }}\"\n"
           "{{- range $_, $v := parseNumberRangePair \"6000-6001,6007\" \"7000-7001,7007\" }}\n"
           "[[proxies]]\nname = \"tcp-{{ $v.First }}\"\ntype = \"tcp\"\nlocalPort = {{ $v.First }}\n"
           "remotePort = {{ $v.Second }}\n{{- end }}\n",
           "serverAddr = \"x.example.com\"\n"
           "[[proxies]]\nname = \"tcp-6000\"\ntype = \"tcp\"\nlocalPort = 6000\nremotePort = 7000\n"
           "[[proxies]]\nname = \"tcp-6001\"\ntype = \"tcp\"\nlocalPort = 6001\nremotePort = 7001\n"
           "[[proxies]]\nname = \"tcp-6007\"\ntype = \"tcp\"\nlocalPort = 6007\nremotePort = 7007\n");
}

static void test_conditionals(void **state)
{
    EXPECT("{{ if eq 1 2 }}a{{ else if eq 2 2 }}b{{ else }}c{{ end }}", "b");
    EXPECT("{{ if eq 1 2 }}a{{ else if eq 2 3 }}b{{ else }}c{{ end }}", "c");
    EXPECT("{{ if and 1 0 }}y{{ else }}n{{ end }}{{ and 1 0 }}{{ or 0 \"x\" }}{{ not true }}", "n0xfalse");
    EXPECT("{{ lt 1 2 }}{{ le 2 2 }}{{ gt \"b\" \"a\" }}{{ ge 1.5 2.5 }}{{ ne \"a\" \"b\" }}{{ eq 3 1 2 3 }}",
           "truetruetruefalsetruetrue");
    expect_err("{{ eq 1 \"1\" }}", CFRP_EPARSE,
               "template: frp:1:3: executing \"frp\" at <eq 1 \"1\">: error calling eq: incompatible types for comparison");
    /* and/or evaluate lazily: the failing call is never made */
    EXPECT("{{ or 1 (parseNumberRange \"x\") }}", "1");
}

static void test_functions(void **state)
{
    EXPECT("{{ printf \"%s-%d|%05d|%q|%x|%v|%5.2f|%-4s|%%\" \"a\" 3 42 \"hi\\n\" 255 (parseNumberRange \"1-2\") 3.14159 \"ab\" }}",
           "a-3|00042|\"hi\\n\"|ff|[1 2]| 3.14|ab  |%");
    EXPECT("{{ printf \"%d %s\" }}{{ printf \"%d\" 1 2 }}{{ printf \"%s\" 1 }}",
           "%!d(MISSING) %!s(MISSING)1%!(EXTRA int=2)%!s(int=1)");
    EXPECT("{{ print 1 2 \"a\" 3 }}{{ println \"x\" 1 }}", "1 2a3x 1\n");
    EXPECT("{{ \"abc\" | printf \"%s!\" }}{{ 5 | printf \"%d-%d\" 4 }}", "abc!4-5");
    EXPECT("{{ printf \"%d\" (len \"abcd\") }}", "4");
    EXPECT("{{ html \"<a&'\\\"\" }} {{ urlquery \"a b&c\" }} {{ js \"a<b'\" }}", "&lt;a&amp;&#39;&#34; a+b%26c a\\u003Cb\\'");
    EXPECT("{{ slice \"abcdef\" 1 3 }} {{ slice (parseNumberRange \"1-5\") 3 }} {{ index (parseNumberRange \"5-9\") 2 }}",
           "bc [4 5] 7");
    EXPECT("{{ 1.5 }} {{ 1e6 }} {{ 0x1F }} {{ 'a' }} {{ 1_000 }} {{ 017 }} {{ `r\\n` }} {{ \"\\u00e9\\x41\" }}",
           "1.5 1e+06 31 97 1000 15 r\\n \xc3\xa9" "A");
    EXPECT("{{ true }} {{ false }}", "true false");
}

static void test_errors(void **state)
{
    /* the two template errors in vectors/cli-output.txt */
    expect_err("auth.token = \"{{ .Foo }}\"", CFRP_EPARSE,
               "template: frp:1:17: executing \"frp\" at <.Foo>: can't evaluate field Foo in type *config.Values");
    expect_err("{{- range $_, $v := parseNumberRange \"1-x\" }}{{ end }}", CFRP_EPARSE,
               "template: frp:1:20: executing \"frp\" at <parseNumberRange \"1-x\">: error calling parseNumberRange: "
               "range number is invalid, strconv.ParseInt: parsing \"x\": invalid syntax");
    expect_err("a\nb = {{ parseNumberRange \"3-1\" }}", CFRP_EPARSE,
               "template: frp:2:7: executing \"frp\" at <parseNumberRange \"3-1\">: error calling parseNumberRange: "
               "range number is invalid");
    expect_err("{{ parseNumberRange \"1-2-3\" }}", CFRP_EPARSE, NULL);
    assert_non_null(strstr(errbuf, ": range number is invalid"));
    expect_err("{{ parseNumberRange \"\" }}", CFRP_EPARSE, NULL);
    assert_non_null(strstr(errbuf, "strconv.ParseInt: parsing \"\": invalid syntax"));
    expect_err("{{ parseNumberRange \"99999999999999999999\" }}", CFRP_EPARSE, NULL);
    assert_non_null(strstr(errbuf, "parsing \"99999999999999999999\": value out of range"));
    expect_err("{{ parseNumberRangePair \"1-2\" \"1\" }}", CFRP_EPARSE,
               "template: frp:1:3: executing \"frp\" at <parseNumberRangePair \"1-2\" \"1\">: error calling "
               "parseNumberRangePair: first and second range numbers are not in pairs");
    expect_err("{{ range $v := parseNumberRange \"1\" }}{{ $v.Foo }}{{ end }}", CFRP_EPARSE,
               "template: frp:1:41: executing \"frp\" at <$v.Foo>: can't evaluate field Foo in type int64");
    expect_err("a\nb \"{{ \"x }}", CFRP_EPARSE, "template: frp:2: unterminated quoted string");
    expect_err("{{ foo }}", CFRP_EPARSE, "template: frp:1: function \"foo\" not defined");
    expect_err("x\n{{ if 1 }}", CFRP_EPARSE, "template: frp:2: unexpected EOF");
    expect_err("{{ end }}", CFRP_EPARSE, "template: frp:1: unexpected {{end}}");
    expect_err("{{ else }}", CFRP_EPARSE, "template: frp:1: unexpected {{else}}");
    expect_err("{{ .A", CFRP_EPARSE, "template: frp:1: unclosed action");
    expect_err("{{ }}", CFRP_EPARSE, "template: frp:1: missing value for command");
    expect_err("{{ if }}{{ end }}", CFRP_EPARSE, "template: frp:1: missing value for if");
    expect_err("{{ # }}", CFRP_EPARSE, "template: frp:1: unexpected \"#\" in command");
    expect_err("{{ (1 }}", CFRP_EPARSE, "template: frp:1: unclosed left paren");
    expect_err("{{ 1) }}", CFRP_EPARSE, "template: frp:1: unexpected right paren");
    expect_err("{{ define \"x\" }}{{ end }}", CFRP_EPARSE, NULL);
    expect_err("{{ \"a\" \"b\" }}", CFRP_EPARSE,
               "template: frp:1:3: executing \"frp\" at <\"a\">: can't give argument to non-function \"a\"");
    expect_err("{{ 1 | 2 }}", CFRP_EPARSE, "template: frp:1: non executable command in pipeline stage 2");
    expect_err("{{ 99999999999999999999 }}", CFRP_EPARSE, NULL);
    expect_err("{{ printf }}", CFRP_EPARSE,
               "template: frp:1:3: executing \"frp\" at <printf>: wrong number of args for printf: want at least 1 got 0");
    expect_err("{{ index (parseNumberRange \"1\") 5 }}", CFRP_EPARSE, NULL);
    assert_non_null(strstr(errbuf, "error calling index: index out of range: 5"));
    expect_err("{{ .Envs \"x\" }}", CFRP_EPARSE, NULL);
    /* the name given is the one in messages */
    char *out;
    size_t n;
    assert_int_equal(tmpl_render("/etc/frp/frpc.toml", "{{ end }}", 9, &out, &n, errbuf, sizeof errbuf),
                     CFRP_EPARSE);
    assert_string_equal(errbuf, "template: /etc/frp/frpc.toml:1: unexpected {{end}}");
}

static void test_bounds(void **state)
{
    expect_err("{{ parseNumberRange \"1-100000000\" }}", CFRP_EPARSE, NULL);
    /* work bound: 2000^3 empty iterations */
    expect_err("{{ range parseNumberRange \"1-2000\" }}{{ range parseNumberRange \"1-2000\" }}"
               "{{ range parseNumberRange \"1-2000\" }}{{ end }}{{ end }}{{ end }}",
               CFRP_ETOOBIG, NULL);
    /* nesting bound */
    size_t depth = TMPL_MAX_DEPTH + 5;
    char *src = malloc(depth * 20 + 1);
    size_t k = 0;
    for (size_t i = 0; i < depth; i++) k += (size_t)sprintf(src + k, "{{ if 1 }}");
    for (size_t i = 0; i < depth; i++) k += (size_t)sprintf(src + k, "{{ end }}");
    expect_err(src, CFRP_ETOOBIG, NULL);
    k = 0;
    for (size_t i = 0; i < depth; i++) src[k++] = '(';
    src[k] = '\0';
    char *src2 = malloc(k + 20);
    sprintf(src2, "{{ %s 1 }}", src);
    expect_err(src2, CFRP_ETOOBIG, NULL);
    free(src2);
    free(src);
    /* output bound: 1000 * 1000 * 70 bytes > 64 MiB */
    const char *big = "{{ $s := printf \"%070d\" 0 }}{{ range parseNumberRange \"1-1000\" }}"
                      "{{ range parseNumberRange \"1-1000\" }}{{ $s }}{{ end }}{{ end }}";
    expect_err(big, CFRP_ETOOBIG, NULL);
    /* binary garbage never crashes */
    char garbage[4096];
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof garbage; i++) {
            seed = seed * 1103515245u + 12345u;
            garbage[i] = (char)(seed >> 16);
            if (i % 7 == 0) garbage[i] = "{}$.( |\"-"[seed % 9];
        }
        char *out = NULL;
        size_t n;
        int rc = tmpl_render("frp", garbage, sizeof garbage, &out, &n, errbuf, sizeof errbuf);
        if (rc == 0) free(out);
        else assert_null(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),     cmocka_unit_test(test_envs), cmocka_unit_test(test_legacy_ini_mode),
        cmocka_unit_test(test_trim_and_comments), cmocka_unit_test(test_variables),
        cmocka_unit_test(test_ranges),         cmocka_unit_test(test_readme_examples),
        cmocka_unit_test(test_conditionals),   cmocka_unit_test(test_functions),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
