/* Tests of frpc `includes` (config.md 6.1) through cfg_client_load on real files in a
 * temporary directory: glob matching and filename order, directories skipped, no
 * match, a missing directory (Go's stat error), relative patterns resolved against the
 * working directory (not the main file's directory), what an included file contributes
 * (only proxies and visitors; other keys ignored, no recursion), strict mode and error
 * wrapping for included files, mixed formats, templates and the `start` filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/client_config.h"
#include "config/config.h"

/* The test's scratch directory (absolute) and the working directory to restore. */
struct fx {
    char root[256];
    char oldcwd[4096];
};

static void put(const struct fx *f, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void dir(const struct fx *f, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    assert_int_equal(mkdir(path, 0700), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/cfrp-incl-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    assert_non_null(getcwd(f->oldcwd, sizeof f->oldcwd));
    assert_int_equal(chdir(f->root), 0);
    *state = f;
    return 0;
}

static void rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(chdir(f->oldcwd), 0);
    rm_tree(f->root);
    free(f);
    return 0;
}

/* Loads main.toml from the working directory; fails the test on error. */
static struct frpc_config *load_ok(const char *path, bool strict)
{
    struct frpc_config *c = NULL;
    char err[1024] = "";
    if (cfg_client_load(path, strict, &c, err, sizeof err) != 0) fail_msg("load %s: %s", path, err);
    return c;
}

/* Loads and expects an error; returns it in err. */
static void load_err(const char *path, bool strict, char *err, size_t errlen)
{
    struct frpc_config *c = NULL;
    err[0] = '\0';
    assert_int_not_equal(cfg_client_load(path, strict, &c, err, errlen), 0);
    assert_null(c);
}

static void expect_proxies(const struct frpc_config *c, const char *const *names, size_t n)
{
    if (c->proxies.n != n) fail_msg("got %zu proxies, want %zu", c->proxies.n, n);
    for (size_t i = 0; i < n; i++) assert_string_equal(c->proxies.items[i].name, names[i]);
}

#define PROXY(name) "[[proxies]]\nname = \"" name "\"\ntype = \"tcp\"\nlocalPort = 22\n"

static void test_glob_order_and_formats(void **state)
{
    struct fx *f = *state;
    dir(f, "confd");
    dir(f, "confd/sub.toml"); /* a directory that matches is skipped */
    put(f, "confd/sub.toml/x.toml", PROXY("nested"));
    put(f, "confd/b.toml", PROXY("b"));
    put(f, "confd/a.yaml", "proxies:\n  - name: a\n    type: tcp\n    localPort: 22\n");
    put(f, "confd/c.json", "{\"proxies\": [{\"name\": \"c\", \"type\": \"udp\", \"localPort\": 53}],"
                           " \"visitors\": [{\"name\": \"v\", \"type\": \"stcp\", \"serverName\": \"s\","
                           " \"bindPort\": 9000}]}");
    put(f, "confd/.hidden", PROXY("hidden")); /* Go's '*' also matches a leading dot */
    put(f, "main.toml", "includes = [\"./confd/*\"]\n" PROXY("main"));
    struct frpc_config *c = load_ok("main.toml", true);
    static const char *const want[] = {"main", "hidden", "a", "b", "c"};
    expect_proxies(c, want, 5);
    assert_string_equal(c->proxies.items[4].type, "udp");
    assert_int_equal(c->visitors.n, 1);
    assert_string_equal(c->visitors.items[0].name, "v");
    cfg_client_free(c);

    /* only the last element is a pattern; several entries are loaded in list order */
    put(f, "main.toml", "includes = [\"confd/*.toml\", \"./confd/?.yaml\", \"confd/[c]*\"]\n");
    c = load_ok("main.toml", true);
    static const char *const want2[] = {"b", "a", "c"};
    expect_proxies(c, want2, 3);
    cfg_client_free(c);
}

static void test_no_match_and_missing_dir(void **state)
{
    struct fx *f = *state;
    dir(f, "empty");
    put(f, "main.toml", "includes = [\"./empty/*.toml\", \"./*.nothing\"]\n" PROXY("m"));
    struct frpc_config *c = load_ok("main.toml", true);
    static const char *const want[] = {"m"};
    expect_proxies(c, want, 1);
    cfg_client_free(c);

    char err[1024], exp[1024];
    put(f, "main.toml", "includes = [\"./nodir/*.toml\"]\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp, "stat %s/nodir: no such file or directory", f->root);
    assert_string_equal(err, exp);

    /* absolute, with components to clean */
    put(f, "main.toml", "includes = [\"/nonexistent-cfrp-dir/../nonexistent-cfrp-2/x/*.toml\"]\n");
    load_err("main.toml", true, err, sizeof err);
    assert_string_equal(err, "stat /nonexistent-cfrp-2/x: no such file or directory");

    /* the directory part names a file: os.ReadDir's error */
    put(f, "plain", "");
    put(f, "main.toml", "includes = [\"plain/*.toml\"]\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp, "open %s/plain: not a directory", f->root);
    assert_string_equal(err, exp);
}

static void test_relative_to_cwd(void **state)
{
    struct fx *f = *state;
    /* main file in conf/, its include dir beside it; the working directory is root */
    dir(f, "conf");
    dir(f, "conf/confd");
    put(f, "conf/confd/p.toml", PROXY("p"));
    put(f, "conf/main.toml", "includes = [\"./confd/*.toml\"]\n");
    char err[1024], exp[1024];
    load_err("conf/main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp, "stat %s/confd: no such file or directory", f->root);
    assert_string_equal(err, exp);
    /* from inside conf/ it is found */
    assert_int_equal(chdir("conf"), 0);
    struct frpc_config *c = load_ok("main.toml", true);
    static const char *const want[] = {"p"};
    expect_proxies(c, want, 1);
    cfg_client_free(c);
    assert_int_equal(chdir(f->root), 0);
}

static void test_only_proxies_and_visitors(void **state)
{
    struct fx *f = *state;
    dir(f, "inc");
    /* other valid keys are ignored, includes are not followed */
    put(f, "inc/x.toml", "serverAddr = \"10.9.9.9\"\nserverPort = 1\nuser = \"other\"\n"
                         "includes = [\"/nonexistent-cfrp-dir/*.toml\"]\nstart = [\"nothing\"]\n"
                         "[log]\nlevel = \"debug\"\n" PROXY("x"));
    put(f, "main.toml", "serverAddr = \"1.2.3.4\"\nuser = \"u\"\nincludes = [\"inc/*.toml\"]\n" PROXY("m"));
    struct frpc_config *c = load_ok("main.toml", true);
    assert_string_equal(c->server_addr, "1.2.3.4");
    assert_int_equal(c->server_port, 7000);
    assert_string_equal(c->log.level, "info");
    assert_int_equal(c->start.n, 0);
    assert_int_equal(c->includes.n, 1);
    /* included proxies are completed with the main file's user */
    static const char *const want[] = {"u.m", "u.x"};
    expect_proxies(c, want, 2);
    cfg_client_free(c);
}

static void test_strict_and_wrapping(void **state)
{
    struct fx *f = *state;
    char err[1024], exp[1024];
    dir(f, "inc");
    put(f, "inc/a.toml", PROXY("a"));
    put(f, "inc/b.toml", "bogus = 1\n" PROXY("b"));
    put(f, "main.toml", "includes = [\"inc/*.toml\"]\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp, "load additional config from %s/inc/b.toml error: json: unknown field \"bogus\"",
             f->root);
    assert_string_equal(err, exp);
    /* non-strict loading ignores it in included files too */
    struct frpc_config *c = load_ok("main.toml", false);
    static const char *const want[] = {"a", "b"};
    expect_proxies(c, want, 2);
    cfg_client_free(c);

    /* unknown key inside an included proxy */
    put(f, "inc/b.toml", PROXY("b") "remotePorts = 1\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp,
             "load additional config from %s/inc/b.toml error: unmarshal ProxyConfig error: json: unknown field "
             "\"remotePorts\"",
             f->root);
    assert_string_equal(err, exp);

    /* a YAML include's own error text, wrapped */
    put(f, "inc/b.toml", "proxies: [\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp,
             "load additional config from %s/inc/b.toml error: error converting YAML to JSON: yaml: line 1: did "
             "not find expected node content",
             f->root);
    assert_string_equal(err, exp);

    /* YAML strict duplicate keys in an include */
    put(f, "inc/b.toml", "proxies: []\nproxies: []\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp,
             "load additional config from %s/inc/b.toml error: error converting YAML to JSON: yaml: unmarshal "
             "errors:\n  line 2: key \"proxies\" already set in map",
             f->root);
    assert_string_equal(err, exp);

    /* a template error in an include */
    put(f, "inc/b.toml", "user = \"{{ .Nope }}\"\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp,
             "load additional config from %s/inc/b.toml error: template: frp:1:11: executing \"frp\" at <.Nope>: "
             "can't evaluate field Nope in type *config.Values",
             f->root);
    assert_string_equal(err, exp);

    /* a legacy INI include is decoded as TOML and fails strict decoding */
    put(f, "inc/b.toml", "[common]\nserver_addr = \"x\"\n");
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp, "load additional config from %s/inc/b.toml error: json: unknown field \"common\"",
             f->root);
    assert_string_equal(err, exp);

    /* an unreadable match (a symlink to a directory is not skipped by Go either) */
    put(f, "inc/b.toml", PROXY("b"));
    assert_int_equal(symlink(f->root, "inc/z.toml"), 0);
    load_err("main.toml", true, err, sizeof err);
    snprintf(exp, sizeof exp, "load additional config from %s/inc/z.toml error: read %s/inc/z.toml: is a directory",
             f->root, f->root);
    assert_string_equal(err, exp);
}

static void test_templates_and_start(void **state)
{
    struct fx *f = *state;
    dir(f, "inc");
    assert_int_equal(setenv("CFRP_INCL_NAME", "fromenv", 1), 0);
    put(f, "inc/t.yaml", "proxies:\n{{- range $_, $v := parseNumberRangePair \"7001-7002\" \"8001-8002\" }}\n"
                         "  - name: r{{ $v.First }}\n    type: tcp\n    localPort: {{ $v.First }}\n"
                         "    remotePort: {{ $v.Second }}\n{{- end }}\n"
                         "  - name: {{ .Envs.CFRP_INCL_NAME }}\n    type: tcp\n");
    put(f, "main.toml", "includes = [\"inc/*.yaml\"]\n" PROXY("m"));
    struct frpc_config *c = load_ok("main.toml", true);
    static const char *const want[] = {"m", "r7001", "r7002", "fromenv"};
    expect_proxies(c, want, 4);
    assert_int_equal(c->proxies.items[2].local_port, 7002);
    assert_int_equal(c->proxies.items[2].remote_port, 8002);
    cfg_client_free(c);

    /* start filters included proxies by unprefixed name */
    put(f, "main.toml", "user = \"u\"\nstart = [\"r7002\", \"m\"]\nincludes = [\"inc/*.yaml\"]\n" PROXY("m"));
    c = load_ok("main.toml", true);
    static const char *const want2[] = {"u.m", "u.r7002"};
    expect_proxies(c, want2, 2);
    cfg_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_glob_order_and_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_match_and_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_to_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_proxies_and_visitors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_and_wrapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates_and_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
