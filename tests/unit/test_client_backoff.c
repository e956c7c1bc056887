/* frp's fast backoff (client/backoff.c): the delays of the first login loop, the
 * re-login loop and the outer reconnect loop, with fixed random numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/backoff.h"

/* First login with loginFailExit = false: at once, then 2 s, 4 s, 8 s, 10 s, 10 s. */
static void test_login_loop(void **state)
{
    struct client_backoff_opts o;
    client_backoff_login_opts(&o, 10000);
    struct client_backoff b;
    client_backoff_init(&b, &o);
    assert_int_equal(client_backoff_next(&b, 0, false, 0, 0.0), 1000); /* ticker creation */
    uint64_t d = 0, want[] = {2000, 4000, 8000, 10000, 10000};
    for (int i = 0; i < 5; i++) {
        d = client_backoff_next(&b, d, true, 1000 * (uint64_t)i, 0.0);
        assert_int_equal(d, want[i]);
    }
    /* re-logins are capped at 20 s */
    client_backoff_login_opts(&o, 20000);
    client_backoff_init(&b, &o);
    client_backoff_next(&b, 0, false, 0, 0.0);
    d = 0;
    uint64_t want2[] = {2000, 4000, 8000, 16000, 20000};
    for (int i = 0; i < 5; i++) {
        d = client_backoff_next(&b, d, true, 0, 0.0);
        assert_int_equal(d, want2[i]);
    }
}

/* Jitter adds up to 10 % and the cap still holds. */
static void test_jitter(void **state)
{
    struct client_backoff_opts o;
    client_backoff_login_opts(&o, 10000);
    struct client_backoff b;
    client_backoff_init(&b, &o);
    client_backoff_next(&b, 0, false, 0, 0.0);
    uint64_t d = client_backoff_next(&b, 0, true, 0, 0.5);
    assert_int_equal(d, 2100);
    d = client_backoff_next(&b, d, true, 0, 0.999);
    assert_true(d > 4200 && d < 4620);
    d = client_backoff_next(&b, 9000, true, 0, 0.999);
    assert_int_equal(d, 10000);
}

/* A success resets to the plain duration; the next error starts from the delay given. */
static void test_success_resets(void **state)
{
    struct client_backoff_opts o;
    client_backoff_login_opts(&o, 10000);
    struct client_backoff b;
    client_backoff_init(&b, &o);
    client_backoff_next(&b, 0, false, 0, 0.0);
    assert_int_equal(client_backoff_next(&b, 0, true, 0, 0.0), 2000);
    assert_int_equal(client_backoff_next(&b, 2000, false, 0, 0.0), 1000);
    assert_int_equal(client_backoff_next(&b, 1000, true, 0, 0.0), 2000);
}

/* The outer loop: 3 quick retries (200-300 ms) per minute, then exponential from there. */
static void test_reconnect_fast_retries(void **state)
{
    struct client_backoff_opts o;
    client_backoff_reconnect_opts(&o);
    struct client_backoff b;
    client_backoff_init(&b, &o);
    client_backoff_next(&b, 0, false, 0, 0.0);
    uint64_t now = 1000, d = 0;
    d = client_backoff_next(&b, d, true, now, 0.0);
    assert_int_equal(d, 200);
    d = client_backoff_next(&b, d, true, now += 300, 0.99);
    assert_int_equal(d, 299);
    /* third error: the fast window is opened, delays grow from the last one */
    d = client_backoff_next(&b, d, true, now += 300, 0.0);
    assert_int_equal(d, 598);
    /* inside the window the count restarts from 0: three more fast retries */
    assert_int_equal(client_backoff_next(&b, d, true, now += 600, 0.0), 200);
    assert_int_equal(client_backoff_next(&b, 200, true, now += 200, 0.0), 200);
    assert_int_equal(client_backoff_next(&b, 200, true, now += 200, 0.0), 200);
    /* then, still inside the minute, exponential growth capped at 20 s */
    d = client_backoff_next(&b, 200, true, now += 200, 0.0);
    assert_int_equal(d, 400);
    for (int i = 0; i < 10; i++) d = client_backoff_next(&b, d, true, now += 10, 0.0);
    assert_int_equal(d, 20000);
    /* once the minute is over, the window reopens: growth continues, then fast again */
    assert_int_equal(client_backoff_next(&b, d, true, now += 60000, 0.0), 20000);
    assert_int_equal(client_backoff_next(&b, d, true, now += 10, 0.0), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_loop),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_success_resets),
        cmocka_unit_test(test_reconnect_fast_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
