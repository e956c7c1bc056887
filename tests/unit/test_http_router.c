/* Unit tests for the vhost router (precedence rules of protocol.md 6.3) and Basic auth
 * (decisions.md #2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "http/http_auth.h"
#include "http/vhost_router.h"

static const char *look(vhost_router *r, const char *host, const char *path, const char *user)
{
    return vhost_router_lookup(r, host, path, strlen(path), user);
}

static void test_precedence(void **state)
{
    vhost_router *r = vhost_router_new();
    assert_non_null(r);
    static const struct {
        const char *dom, *loc, *user, *name;
    } routes[] = {
        {"a.b.example.com", "", "", "exact"},
        {"a.b.example.com", "/api", "", "exact-api"},
        {"a.b.example.com", "/api/v2", "", "exact-api-v2"},
        {"a.b.example.com", "", "alice", "exact-alice"},
        {"*.b.example.com", "", "", "wild-b"},
        {"*.EXAMPLE.com", "", "", "wild-ex"},
        {"*.example.com", "/x", "bob", "wild-ex-bob-x"},
        {"*", "", "", "catchall"},
        {"example.com", "/", "", "apex"},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(vhost_router_add(r, routes[i].dom, routes[i].loc, routes[i].user,
                                          (void *)routes[i].name, NULL, 0), 0);
    static const struct {
        const char *host, *path, *user, *want;
    } cases[] = {
        {"a.b.example.com", "/", "", "exact"},
        {"a.b.example.com", "/api", "", "exact-api"},
        {"a.b.example.com", "/apix", "", "exact-api"},      /* plain prefix, no segment rule */
        {"a.b.example.com", "/api/v2/z", "", "exact-api-v2"},/* longest (descending) wins */
        {"a.b.example.com", "/API", "", "exact"},            /* paths are case-sensitive */
        {"A.B.Example.COM", "/", "", "exact"},
        {"a.b.example.com", "/api", "alice", "exact-alice"}, /* user list first */
        {"a.b.example.com", "/api", "carol", "exact-api"},   /* unknown user: generic */
        {"c.b.example.com", "/", "", "wild-b"},
        {"x.y.b.example.com", "/", "", "wild-b"},            /* *.y.b... then *.b.example.com */
        {"c.d.example.com", "/", "", "wild-ex"},
        {"c.d.example.com", "/x", "bob", "wild-ex-bob-x"},
        {"c.d.example.com", "/y", "bob", "wild-ex"},
        {"example.com", "/", "", "apex"},
        {"example.com", "", "", "catchall"},                 /* "/" is not a prefix of "" */
        {"other.org", "/", "", "catchall"},
        {"", "", "", "catchall"},
        {"b.example.com", "/", "", "wild-ex"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = look(r, cases[i].host, cases[i].path, cases[i].user);
        if (!got || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%s %s %s): got %s want %s", i, cases[i].host, cases[i].path,
                     cases[i].user, got ? got : "NULL", cases[i].want);
    }
    assert_int_equal(vhost_router_count(r), 9);
    vhost_router_del(r, "*", "", "");
    assert_null(look(r, "other.org", "/", ""));
    vhost_router_del(r, "A.B.example.com", "/api", "");
    assert_string_equal(look(r, "a.b.example.com", "/api", ""), "exact");
    vhost_router_free(r);
}

static void test_no_com_wildcard(void **state)
{
    vhost_router *r = vhost_router_new();
    assert_int_equal(vhost_router_add(r, "*.com", "", "", (void *)"c", NULL, 0), 0);
    assert_null(look(r, "example.com", "/", ""));
    assert_null(look(r, "a.example.com", "/", "")); /* *.example.com, never *.com */
    vhost_router_free(r);
}

static void test_conflict(void **state)
{
    vhost_router *r = vhost_router_new();
    char err[64];
    assert_int_equal(vhost_router_add(r, "Web.example.com", "/a", "u", (void *)"1", err, sizeof(err)), 0);
    assert_int_equal(vhost_router_add(r, "web.EXAMPLE.com", "/a", "u", (void *)"2", err, sizeof(err)),
                     CFRP_EINVAL);
    assert_string_equal(err, "router config conflict");
    assert_int_equal(vhost_router_add(r, "web.example.com", "/a", "", (void *)"3", err, sizeof(err)), 0);
    assert_int_equal(vhost_router_add(r, "web.example.com", "/A", "u", (void *)"4", err, sizeof(err)), 0);
    /* many domains force a rehash; all remain reachable */
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "h%d.example.org", i);
        assert_int_equal(vhost_router_add(r, name, "", "", (void *)"many", NULL, 0), 0);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "h%d.example.org", i);
        assert_string_equal(look(r, name, "", ""), "many");
    }
    vhost_router_free(r);
}

/* A domain whose last route goes is freed: registering and closing proxies with ever
 * new domains must not grow the table (review defect: ndomains never decreased). */
static void test_del_frees_domain(void **state)
{
    vhost_router *r = vhost_router_new();
    char name[48];
    assert_int_equal(vhost_router_add(r, "keep.example.com", "/a", "", (void *)"k1", NULL, 0), 0);
    assert_int_equal(vhost_router_add(r, "keep.example.com", "/b", "u", (void *)"k2", NULL, 0), 0);
    assert_int_equal(vhost_router_domains(r), 1);
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "tmp%d.Example.com", i);
        assert_int_equal(vhost_router_add(r, name, "", "", (void *)"t", NULL, 0), 0);
        assert_int_equal(vhost_router_domains(r), 2);
        snprintf(name, sizeof(name), "TMP%d.example.com", i); /* del lower-cases too */
        vhost_router_del(r, name, "", "");
        assert_int_equal(vhost_router_domains(r), 1);
        assert_null(look(r, name, "", ""));
    }
    assert_int_equal(vhost_router_count(r), 2);
    /* removing one of two routes keeps the domain; removing the last frees it */
    vhost_router_del(r, "keep.example.com", "/a", "");
    assert_int_equal(vhost_router_domains(r), 1);
    assert_string_equal(look(r, "keep.example.com", "/b", "u"), "k2");
    vhost_router_del(r, "keep.example.com", "/b", "u");
    assert_int_equal(vhost_router_domains(r), 0);
    assert_int_equal(vhost_router_count(r), 0);
    /* a deleted domain can come back, and deleting an unknown route changes nothing */
    assert_int_equal(vhost_router_add(r, "keep.example.com", "/a", "", (void *)"k3", NULL, 0), 0);
    vhost_router_del(r, "keep.example.com", "/zzz", "");
    vhost_router_del(r, "nowhere.example.com", "/a", "");
    assert_int_equal(vhost_router_domains(r), 1);
    assert_string_equal(look(r, "keep.example.com", "/a", ""), "k3");
    vhost_router_free(r);
}

/* ---- auth ---- */

static void parse(http_request_parser *p, const char *s)
{
    size_t c;
    http_request_parser_init(p);
    assert_int_equal(http_request_feed(p, s, strlen(s), &c, NULL, 0), HTTP_DONE);
}

static void test_basic_parse(void **state)
{
    http_creds c;
    const char *v = "basic Zm9vOmJhcjpiYXo="; /* foo:bar:baz */
    assert_int_equal(http_auth_parse_basic(v, strlen(v), &c), 0);
    assert_string_equal(c.user, "foo");
    assert_string_equal(c.pass, "bar:baz");
    static const char *bad[] = {"Bearer x", "Basic", "Basic Zm9v", "Basic Zm9vOmJhcg",
                                "Basic Zm9v=mJh", "Basic !!!!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(http_auth_parse_basic(bad[i], strlen(bad[i]), &c), CFRP_EPARSE);
        assert_false(c.ok);
    }
    v = "Basic OnA="; /* ":p" */
    assert_int_equal(http_auth_parse_basic(v, strlen(v), &c), 0);
    assert_string_equal(c.user, "");
    assert_string_equal(c.pass, "p");
    assert_true(http_auth_equal("abc", "abc"));
    assert_false(http_auth_equal("abc", "abd"));
    assert_false(http_auth_equal("abc", "ab"));
    assert_false(http_auth_equal("", "a"));
}

static void test_same_header_policy(void **state)
{
    http_request_parser p;
    char user[64];
    /* origin form: Authorization for both routing and the check */
    parse(&p, "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"
              "Proxy-Authorization: Basic Ym9iOnB3Mg==\r\n\r\n"); /* alice:pw, bob:pw2 */
    http_auth_route_user(&p.req, user, sizeof(user));
    assert_string_equal(user, "alice");
    assert_int_equal(http_auth_check(&p.req, "alice", "pw"), 0);
    assert_int_equal(http_auth_check(&p.req, "bob", "pw2"), 401);
    assert_int_equal(http_auth_check(&p.req, "", ""), 0);
    http_request_parser_free(&p);

    /* absolute form: Proxy-Authorization selects the route and is the one checked;
     * a valid Authorization for another user does not help (the CVE case) */
    parse(&p, "GET http://h/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"
              "Proxy-Authorization: Basic Ym9iOnB3Mg==\r\n\r\n");
    http_auth_route_user(&p.req, user, sizeof(user));
    assert_string_equal(user, "bob");
    assert_int_equal(http_auth_check(&p.req, "bob", "pw2"), 0);
    assert_int_equal(http_auth_check(&p.req, "bob", "other"), 407);
    assert_int_equal(http_auth_check(&p.req, "alice", "pw"), 407);
    http_request_parser_free(&p);

    /* absolute form without Proxy-Authorization: routed by Authorization, never passes a
     * protected route with it */
    parse(&p, "GET http://h/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxpY2U6cHc=\r\n\r\n");
    http_auth_route_user(&p.req, user, sizeof(user));
    assert_string_equal(user, "alice");
    assert_int_equal(http_auth_check(&p.req, "alice", "pw"), 407);
    http_request_parser_free(&p);

    /* tcpmux: Proxy-Authorization; user set -> both must match */
    parse(&p, "CONNECT h:22 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6cHc=\r\n\r\n");
    http_creds c;
    http_auth_tcpmux_creds(&p.req, &c);
    assert_string_equal(c.user, "alice");
    assert_true(http_auth_tcpmux_ok(&c, "alice", "pw"));
    assert_false(http_auth_tcpmux_ok(&c, "alice", "x"));
    assert_true(http_auth_tcpmux_ok(&c, "", "x")); /* frp checks only when a user is set */
    http_request_parser_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence), cmocka_unit_test(test_no_com_wildcard),
        cmocka_unit_test(test_conflict),   cmocka_unit_test(test_basic_parse),
        cmocka_unit_test(test_same_header_policy), cmocka_unit_test(test_del_frees_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
