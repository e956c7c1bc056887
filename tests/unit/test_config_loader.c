/* Unit tests for the config format front end (config/loader.c, config/yaml_tree.c):
 * format detection as frp does it, equal trees from TOML/JSON/YAML, YAML 1.1 quirks,
 * Go-shaped error texts from vectors/cli-output.txt section 2, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "config/loader.h"

static char errbuf[2048];

static struct cfg_source load_ok(const char *text, bool strict, enum cfg_format want)
{
    struct cfg_source s;
    errbuf[0] = '\0';
    int rc = cfg_source_load_text("test.conf", text, strlen(text), strict, &s, errbuf, sizeof errbuf);
    if (rc) fail_msg("load of [%.200s] failed: %d %s", text, rc, errbuf);
    assert_non_null(s.tree);
    if (s.format != want)
        fail_msg("[%.200s]: format %s, want %s", text, cfg_format_name(s.format), cfg_format_name(want));
    assert_true(want == CFG_FORMAT_TOML ? s.raw == NULL : s.raw != NULL);
    return s;
}

/* Loads text and compares the tree with the JSON in want. */
static void expect_tree(const char *text, bool strict, enum cfg_format fmt, const char *want)
{
    struct cfg_source s = load_ok(text, strict, fmt);
    json_error_t je;
    json_t *w = json_loads(want, JSON_DECODE_ANY, &je);
    if (!w) fail_msg("bad expected JSON %s: %s", want, je.text);
    if (!json_equal(s.tree, w)) {
        char *got = json_dumps(s.tree, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("[%.200s]: got %s, want %s", text, got, want);
    }
    json_decref(w);
    cfg_source_clear(&s);
    assert_null(s.tree);
}

static int load_err_n(const char *text, size_t len, bool strict)
{
    struct cfg_source s = {(json_t *)1, CFG_FORMAT_JSON, (json_t *)1};
    errbuf[0] = '\0';
    int rc = cfg_source_load_text("test.conf", text, len, strict, &s, errbuf, sizeof errbuf);
    if (rc == 0) cfg_source_clear(&s);
    else assert_null(s.tree);
    return rc;
}

static void expect_err(const char *text, bool strict, int rc, const char *msg)
{
    int got = load_err_n(text, strlen(text), strict);
    if (got != rc) fail_msg("[%.200s]: rc %d, want %d (%s)", text, got, rc, errbuf);
    if (msg) assert_string_equal(errbuf, msg);
}

static char *read_shared(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CFRP_SHARED_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_equal_trees(void **state)
{
    const char *want = "{\"serverAddr\":\"127.0.0.1\",\"serverPort\":7000,\"proxies\":[{\"name\":\"test-tcp\","
                       "\"type\":\"tcp\",\"localIP\":\"127.0.0.1\",\"localPort\":22,\"remotePort\":6000}]}";
    char *toml = read_shared("spec/examples/conf/frpc.toml");
    expect_tree(toml, true, CFG_FORMAT_TOML, want);
    free(toml);
    const char *fixtures[] = {"frpc.yaml", "frpc.json"};
    enum cfg_format fmts[] = {CFG_FORMAT_YAML, CFG_FORMAT_JSON};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/unit/fixtures/loader/%s", CFRP_SOURCE_DIR, fixtures[i]);
        struct cfg_source s;
        int rc = cfg_source_load_file(path, true, &s, errbuf, sizeof errbuf);
        if (rc) fail_msg("%s: %s", path, errbuf);
        assert_int_equal(s.format, fmts[i]);
        json_t *w = json_loads(want, 0, NULL);
        assert_true(json_equal(s.tree, w));
        json_decref(w);
        cfg_source_clear(&s);
    }
    expect_tree("bindPort = 7000\n", true, CFG_FORMAT_TOML, "{\"bindPort\":7000}");
    expect_tree("bindPort: 7000\n", true, CFG_FORMAT_YAML, "{\"bindPort\":7000}");
    expect_tree("{\"bindPort\": 7000}", true, CFG_FORMAT_JSON, "{\"bindPort\":7000}");
    /* every upstream example file is TOML */
    const char *examples[] = {"frps.toml", "frpc.toml", "frps_full_example.toml", "frpc_full_example.toml"};
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/spec/examples/conf/%s", CFRP_SHARED_DIR, examples[i]);
        struct cfg_source s;
        int rc = cfg_source_load_file(path, true, &s, errbuf, sizeof errbuf);
        if (rc) fail_msg("%s: %s", path, errbuf);
        assert_int_equal(s.format, CFG_FORMAT_TOML);
        assert_true(json_is_object(s.tree));
        cfg_source_clear(&s);
    }
    /* JSON: numbers keep their literal in raw; non-int64 numbers are reals */
    struct cfg_source s = load_ok("{\"a\": [1, 2.50, \"x\", true, 1e999], \"b\": {\"c\": -0},"
                                  " \"d\": 12345678901234567890}", true, CFG_FORMAT_JSON);
    json_t *wr = json_loads("{\"a\":[\"1\",\"2.50\",null,null,\"1e999\"],\"b\":{\"c\":\"-0\"},"
                            "\"d\":\"12345678901234567890\"}", 0, NULL);
    assert_true(json_equal(s.raw, wr));
    json_decref(wr);
    assert_true(json_is_integer(json_object_get(json_object_get(s.tree, "b"), "c")));
    assert_true(json_is_real(json_array_get(json_object_get(s.tree, "a"), 4)));
    assert_true(json_is_real(json_object_get(s.tree, "d")));
    cfg_source_clear(&s);
}

static void test_empty_and_detection(void **state)
{
    expect_tree("", true, CFG_FORMAT_TOML, "{}");
    expect_tree("# only a comment\n", true, CFG_FORMAT_TOML, "{}");
    expect_tree("---\n", true, CFG_FORMAT_YAML, "{}");
    expect_tree("~\n", true, CFG_FORMAT_YAML, "{}");
    /* JSON: first value only, trailing text ignored; leading Unicode space allowed */
    expect_tree("{\"bindPort\":7000} garbage", true, CFG_FORMAT_JSON, "{\"bindPort\":7000}");
    expect_tree("\n  {\"a\":[1,2.5,true,null,\"x\\u00e9\"]}", true, CFG_FORMAT_JSON,
                "{\"a\":[1,2.5,true,null,\"x\\u00e9\"]}");
    expect_tree("{\"a\":1,\"a\":2}", true, CFG_FORMAT_JSON, "{\"a\":2}");
    /* a YAML scalar or sequence document is handed on for the decoder to reject */
    expect_tree("hello world\n", true, CFG_FORMAT_YAML, "\"hello world\"");
    expect_tree("- a\n- b\n", true, CFG_FORMAT_YAML, "[\"a\",\"b\"]");
    /* the template runs before detection */
    setenv("CFRP_LOADER_ADDR", "1.2.3.4", 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/loader/range.toml", CFRP_SOURCE_DIR);
    struct cfg_source s;
    assert_int_equal(cfg_source_load_file(path, true, &s, errbuf, sizeof errbuf), 0);
    json_t *w = json_loads("{\"serverAddr\":\"1.2.3.4\",\"proxies\":[{\"name\":\"tcp-6000\",\"type\":\"tcp\","
                           "\"localPort\":6000,\"remotePort\":7000},{\"name\":\"tcp-6001\",\"type\":\"tcp\","
                           "\"localPort\":6001,\"remotePort\":7001}]}", 0, NULL);
    assert_true(json_equal(s.tree, w));
    json_decref(w);
    cfg_source_clear(&s);
    expect_tree("token: \"{{ .Envs.CFRP_LOADER_ADDR }}\"\n", true, CFG_FORMAT_YAML, "{\"token\":\"1.2.3.4\"}");
    assert_string_equal(cfg_format_name(CFG_FORMAT_YAML), "yaml");
}

static void test_yaml_quirks(void **state)
{
    expect_tree("a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: true\ng: \"yes\"\nh: 'on'\n", true, CFG_FORMAT_YAML,
                "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,\"f\":true,\"g\":\"yes\",\"h\":\"on\"}");
    expect_tree("a: 0x1F\nb: 0o17\nc: 017\nd: 1_000\ne: -0b101\nf: +5\ng: 08\nh: 1.5\ni: .5\nj: 1e3\nk: 0x\n",
                true, CFG_FORMAT_YAML,
                "{\"a\":31,\"b\":15,\"c\":15,\"d\":1000,\"e\":-5,\"f\":5,\"g\":8.0,\"h\":1.5,\"i\":0.5,\"j\":1000.0,"
                "\"k\":\"0x\"}");
    expect_tree("a: ~\nb: null\nc:\nd: !!str 12\ne: !!int \"12\"\nf: 2024-01-02\ng: |\n  x\n  y\n", true,
                CFG_FORMAT_YAML,
                "{\"a\":null,\"b\":null,\"c\":null,\"d\":\"12\",\"e\":12,\"f\":\"2024-01-02\",\"g\":\"x\\ny\\n\"}");
    /* non-string keys become their text */
    expect_tree("1: a\ntrue: b\n", true, CFG_FORMAT_YAML, "{\"1\":\"a\",\"true\":\"b\"}");
    /* the raw twin keeps the source text of resolved scalars */
    struct cfg_source s = load_ok("token: 12345678\nsub: yes\nhex: 0x1F\nq: \"7\"\nl: [1, x]\n", true,
                                  CFG_FORMAT_YAML);
    json_t *w = json_loads("{\"token\":\"12345678\",\"sub\":\"yes\",\"hex\":\"0x1F\",\"q\":null,\"l\":[\"1\",null]}",
                           0, NULL);
    assert_true(json_equal(s.raw, w));
    json_decref(w);
    assert_int_equal(json_integer_value(json_object_get(s.tree, "token")), 12345678);
    cfg_source_clear(&s);
    /* first document only */
    expect_tree("a: 1\n---\nb: 2\n", true, CFG_FORMAT_YAML, "{\"a\":1}");
    expect_tree("--- \na: 1\n...\n--- [oops\n", true, CFG_FORMAT_YAML, "{\"a\":1}");
    /* anchors, aliases, merge keys */
    expect_tree("base: &b {x: 1, l: [1, 2]}\nuse: *b\nm:\n  <<: *b\n  z: 2\n", true, CFG_FORMAT_YAML,
                "{\"base\":{\"x\":1,\"l\":[1,2]},\"use\":{\"x\":1,\"l\":[1,2]},\"m\":{\"x\":1,\"l\":[1,2],\"z\":2}}");
    /* yaml.v2 reads the keys y and n as booleans too */
    expect_tree("y: 1\nn: 2\n", true, CFG_FORMAT_YAML, "{\"true\":1,\"false\":2}");
    expect_tree("a: &x 1\nb: *x\n", true, CFG_FORMAT_YAML, "{\"a\":1,\"b\":1}");
    /* duplicate keys: strict rejects with yaml.v2's message, non-strict keeps the last */
    expect_err("bindPort: 7000\nbindPort: 7001\n", true, CFRP_EPARSE,
               "error converting YAML to JSON: yaml: unmarshal errors:\n  line 2: key \"bindPort\" already set in map");
    expect_tree("bindPort: 7000\nbindPort: 7001\n", false, CFG_FORMAT_YAML, "{\"bindPort\":7001}");
    expect_err("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", true, CFRP_EPARSE,
               "error converting YAML to JSON: yaml: unmarshal errors:\n  line 4: key \"c\" already set in map"
               "\n  line 5: key \"a\" already set in map");
}

static void test_errors(void **state)
{
    /* vectors/cli-output.txt section 2 */
    expect_err("{\"bindPort\":7000,}", true, CFRP_EPARSE,
               "invalid character '}' looking for beginning of object key string");
    expect_err("bindPort: [", true, CFRP_EPARSE,
               "error converting YAML to JSON: yaml: line 1: did not find expected node content");
    expect_err("bindPort: [\n", true, CFRP_EPARSE,
               "error converting YAML to JSON: yaml: line 1: did not find expected node content");
    expect_err("bindPort = inf\n", true, CFRP_EINVAL, "json: unsupported value: +Inf");
    /* more of Go's JSON texts */
    expect_err("{\"a\":", true, CFRP_EPARSE, "unexpected EOF");
    expect_err("{\"a\" 1}", true, CFRP_EPARSE, "invalid character '1' after object key");
    expect_err("{\"a\":1 \"b\":2}", true, CFRP_EPARSE, "invalid character '\"' after object key:value pair");
    expect_err("{\"a\":[1 2]}", true, CFRP_EPARSE, "invalid character '2' after array element");
    expect_err("{\"a\":tru}", true, CFRP_EPARSE, "invalid character '}' in literal true (expecting 'e')");
    expect_err("{\"a\":-x}", true, CFRP_EPARSE, "invalid character 'x' in numeric literal");
    expect_err("{\"a\":\"\n\"}", true, CFRP_EPARSE, "invalid character '\\n' in string literal");
    expect_err("{\"a\":\"\\q\"}", true, CFRP_EPARSE, "invalid character 'q' in string escape code");
    expect_err("{\"a\":1.}", true, CFRP_EPARSE, "invalid character '}' after decimal point in numeric literal");
    expect_err("{\"a\":'x'}", true, CFRP_EPARSE, "invalid character '\\'' looking for beginning of value");
    /* decisions.md 3: a broken TOML file gets its TOML error with line and column */
    expect_err("bindPort = 7000\nbindAddr = \"0.0.0.0\nx = 1\n", true, CFRP_EPARSE, NULL);
    assert_true(strncmp(errbuf, "test.conf: toml: line 2, column ", 32) == 0);
    expect_err("a = 1\na = 2\n", true, CFRP_EPARSE, NULL);
    assert_true(strncmp(errbuf, "test.conf: toml: line 2", 23) == 0);
    expect_err("[[proxies]\nname = \"x\"\n", true, CFRP_EPARSE, NULL);
    assert_true(strncmp(errbuf, "test.conf: toml: line 1", 23) == 0);
    /* a template error comes first */
    expect_err("auth.token = \"{{ .Foo }}\"", true, CFRP_EPARSE,
               "template: frp:1:17: executing \"frp\" at <.Foo>: can't evaluate field Foo in type *config.Values");
    /* files */
    struct cfg_source s;
    assert_int_equal(cfg_source_load_file("/nonexistent/dir/frpc.toml", true, &s, errbuf, sizeof errbuf),
                     UV_ENOENT);
    assert_string_equal(errbuf, "open /nonexistent/dir/frpc.toml: no such file or directory");
    assert_null(s.tree);
    assert_int_equal(cfg_source_load_file("/tmp", true, &s, errbuf, sizeof errbuf), UV_EISDIR);
    assert_string_equal(errbuf, "read /tmp: is a directory");
}

static void test_hostile(void **state)
{
    size_t n = 100000;
    char *deep = malloc(n + 16);
    /* 100k '[' goes to YAML (not TOML, not '{') */
    memset(deep, '[', n);
    deep[n] = '\0';
    int rc = load_err_n(deep, n, true);
    assert_true(rc == CFRP_ETOOBIG || rc == CFRP_EPARSE);
    /* deep JSON */
    memcpy(deep, "{\"a\":", 5);
    rc = load_err_n(deep, n, true);
    assert_int_equal(rc, CFRP_EPARSE);
    assert_string_equal(errbuf, "exceeded max depth");
    /* deep YAML mappings */
    size_t k = 0;
    for (int d = 0; d < 1100; d++) deep[k++] = '{', deep[k++] = 'a', deep[k++] = ':', deep[k++] = ' ';
    deep[k] = '\0';
    memmove(deep + 2, deep, k + 1);
    memcpy(deep, "x:", 2);
    assert_int_not_equal(load_err_n(deep, strlen(deep), true), 0);
    free(deep);
    /* alias bomb */
    const char *bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    expect_err(bomb, true, CFRP_ETOOBIG, "error converting YAML to JSON: yaml: document contains excessive aliasing");
    expect_err("a: &a [*a]\n", true, CFRP_EPARSE, "error converting YAML to JSON: yaml: anchor 'a' value contains itself");
    expect_err("a: *nope\n", true, CFRP_EPARSE, "error converting YAML to JSON: yaml: unknown anchor 'nope' referenced");
    /* .inf is JSON null with its text in raw: the decoder knows whether it may stay */
    struct cfg_source s = load_ok("a: .inf\nb: [-.INF, .NaN]\n", true, CFG_FORMAT_YAML);
    json_t *w = json_loads("{\"a\":null,\"b\":[null,null]}", 0, NULL);
    json_t *wr = json_loads("{\"a\":\".inf\",\"b\":[\"-.INF\",\".NaN\"]}", 0, NULL);
    assert_true(json_equal(s.tree, w) && json_equal(s.raw, wr));
    json_decref(w);
    json_decref(wr);
    cfg_source_clear(&s);
    /* non-string keys as sigs.k8s.io/yaml writes them */
    expect_tree("1.5: a\n.inf: b\n1e7: c\n0x10: d\n", true, CFG_FORMAT_YAML,
                "{\"1.5\":\"a\",\".inf\":\"b\",\"1e+07\":\"c\",\"16\":\"d\"}");
    /* truncated inputs and binary garbage: an error or a tree, never a crash */
    const char *samples[] = {"serverAddr = \"127.0.0.1\"\n[[proxies]]\nname = \"a\"\n", "{\"a\":[1,{\"b\":\"c\"}]}",
                             "a:\n  - b: [1, 2]\n    c: &x {d: e}\n  - *x\n"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(samples[i]);
        for (size_t cut = 0; cut < len; cut++) {
            rc = load_err_n(samples[i], cut, true);
            assert_true(rc == 0 || rc < 0);
        }
    }
    char garbage[2048];
    uint32_t seed = 99;
    for (int round = 0; round < 300; round++) {
        for (size_t i = 0; i < sizeof garbage; i++) {
            seed = seed * 1103515245u + 12345u;
            garbage[i] = (char)(seed >> 16);
        }
        if (round % 3 == 1) garbage[0] = '{';
        load_err_n(garbage, sizeof garbage, round % 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_trees), cmocka_unit_test(test_empty_and_detection),
        cmocka_unit_test(test_yaml_quirks), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
