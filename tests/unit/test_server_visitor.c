/* Unit tests for frps's visitor checks (server/visitor.c): sign key, allowUsers with
 * "*", the owner-only default and frp's error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "proto/auth.h"
#include "server/svr_internal.h"

static void test_sign_key(void **state)
{
    (void)state;
    char key[AUTH_KEY_HEX], err[256] = "";
    struct cfg_strlist none = {0};
    auth_key("abc", 1700000000, key);
    assert_int_equal(
        svr_visitor_auth("u.p", "abc", &none, "u", 1700000000, key, "u", err, sizeof err), 0);
    /* a timestamp far from now is fine: frp does not check the clock */
    auth_key("abc", 5, key);
    assert_int_equal(svr_visitor_auth("u.p", "abc", &none, "u", 5, key, "u", err, sizeof err), 0);
    /* another timestamp, another key or a wrong secret: refused */
    assert_int_equal(svr_visitor_auth("u.p", "abc", &none, "u", 6, key, "u", err, sizeof err),
                     CFRP_EINVAL);
    assert_string_equal(err, "visitor connection of [u.p] auth failed");
    assert_int_equal(svr_visitor_auth("u.p", "abd", &none, "u", 5, key, "u", err, sizeof err),
                     CFRP_EINVAL);
    assert_int_equal(svr_visitor_auth("u.p", "abc", &none, "u", 5, "", "u", err, sizeof err),
                     CFRP_EINVAL);
    /* a key computed elsewhere: md5hex("abc1700000000") */
    assert_int_equal(svr_visitor_auth("u.p", "abc", &none, "u", 1700000000,
                                      "22bd6333f840eeeee03ad14f75fd96ac", "u", err, sizeof err),
                     0);
}

static void test_allow_users(void **state)
{
    (void)state;
    char key[AUTH_KEY_HEX], err[256] = "";
    auth_key("s", 42, key);
    struct cfg_strlist none = {0};
    /* empty list: only the proxy's own user */
    assert_int_equal(svr_visitor_auth("a.p", "s", &none, "a", 42, key, "a", err, sizeof err), 0);
    assert_int_equal(svr_visitor_auth("a.p", "s", &none, "a", 42, key, "b", err, sizeof err),
                     CFRP_EINVAL);
    assert_string_equal(err, "visitor connection of [a.p] user [b] not allowed");
    assert_int_equal(svr_visitor_auth("p", "s", &none, "", 42, key, "", err, sizeof err), 0);
    char *two[] = {"b", "c"};
    struct cfg_strlist bc = {two, 2};
    assert_int_equal(svr_visitor_auth("a.p", "s", &bc, "a", 42, key, "c", err, sizeof err), 0);
    /* a list replaces the owner default */
    assert_int_equal(svr_visitor_auth("a.p", "s", &bc, "a", 42, key, "a", err, sizeof err),
                     CFRP_EINVAL);
    assert_string_equal(err, "visitor connection of [a.p] user [a] not allowed");
    char *star[] = {"x", "*"};
    struct cfg_strlist any = {star, 2};
    assert_int_equal(svr_visitor_auth("a.p", "s", &any, "a", 42, key, "zz", err, sizeof err), 0);
    assert_int_equal(svr_visitor_auth("a.p", "s", &any, "a", 42, key, "", err, sizeof err), 0);
    /* the sign key is checked before the user */
    assert_int_equal(svr_visitor_auth("a.p", "t", &any, "a", 42, key, "zz", err, sizeof err),
                     CFRP_EINVAL);
    assert_string_equal(err, "visitor connection of [a.p] auth failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_key),
        cmocka_unit_test(test_allow_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
