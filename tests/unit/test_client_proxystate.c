/* The proxy registration state machine (client/proxy_state.c): 3 s checks, NewProxy
 * resent after 20 s without an answer, retry 30 s after a start error, CloseProxy when
 * the health check fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/proxy_state.h"

static void test_new_sends_once(void **state)
{
    struct client_pxstate s = {.phase = CLIENT_PX_NEW};
    assert_int_equal(client_pxstate_check(&s, 0, true), CLIENT_PX_SEND_NEW);
    assert_int_equal(s.phase, CLIENT_PX_WAIT_START);
    assert_string_equal(client_px_phase_name(s.phase), "wait start");
    for (uint64_t t = 3000; t <= 20000; t += 3000)
        assert_int_equal(client_pxstate_check(&s, t, true), CLIENT_PX_NONE);
    /* strictly after 20 s without an answer: resent */
    assert_int_equal(client_pxstate_check(&s, 20001, true), CLIENT_PX_SEND_NEW);
    assert_int_equal(s.last_send_ms, 20001);
}

static void test_success(void **state)
{
    struct client_pxstate s = {.phase = CLIENT_PX_NEW};
    client_pxstate_check(&s, 0, true);
    assert_true(client_pxstate_on_resp(&s, 50, NULL));
    assert_int_equal(s.phase, CLIENT_PX_RUNNING);
    assert_string_equal(client_px_phase_name(s.phase), "running");
    /* a second answer is ignored */
    assert_false(client_pxstate_on_resp(&s, 60, ""));
    assert_int_equal(client_pxstate_check(&s, 100000, true), CLIENT_PX_NONE);
}

static void test_start_error_retry(void **state)
{
    struct client_pxstate s = {.phase = CLIENT_PX_NEW};
    client_pxstate_check(&s, 0, true);
    assert_true(client_pxstate_on_resp(&s, 1000, "port unavailable"));
    assert_int_equal(s.phase, CLIENT_PX_START_ERR);
    assert_string_equal(client_px_phase_name(s.phase), "start error");
    assert_int_equal(client_pxstate_check(&s, 31000, true), CLIENT_PX_NONE);
    assert_int_equal(client_pxstate_check(&s, 31001, true), CLIENT_PX_SEND_NEW);
    assert_int_equal(s.phase, CLIENT_PX_WAIT_START);
}

static void test_run_failed(void **state)
{
    struct client_pxstate s = {.phase = CLIENT_PX_NEW};
    client_pxstate_check(&s, 0, true);
    assert_true(client_pxstate_on_resp(&s, 10, ""));
    client_pxstate_run_failed(&s, 10);
    assert_int_equal(s.phase, CLIENT_PX_START_ERR);
    assert_int_equal(client_pxstate_check(&s, 30011, true), CLIENT_PX_SEND_NEW);
}

static void test_health(void **state)
{
    struct client_pxstate s = {.phase = CLIENT_PX_NEW};
    /* unhealthy from the start: nothing is sent */
    assert_int_equal(client_pxstate_check(&s, 0, false), CLIENT_PX_NONE);
    assert_int_equal(client_pxstate_check(&s, 3000, true), CLIENT_PX_SEND_NEW);
    assert_true(client_pxstate_on_resp(&s, 3100, NULL));
    assert_int_equal(client_pxstate_check(&s, 6000, false), CLIENT_PX_SEND_CLOSE);
    assert_int_equal(s.phase, CLIENT_PX_CHECK_FAILED);
    assert_string_equal(client_px_phase_name(s.phase), "check failed");
    assert_int_equal(client_pxstate_check(&s, 9000, false), CLIENT_PX_NONE);
    assert_int_equal(client_pxstate_check(&s, 12000, true), CLIENT_PX_SEND_NEW);
}

static void test_closed(void **state)
{
    struct client_pxstate s = {.phase = CLIENT_PX_CLOSED};
    assert_int_equal(client_pxstate_check(&s, 0, true), CLIENT_PX_NONE);
    assert_false(client_pxstate_on_resp(&s, 0, NULL));
    assert_string_equal(client_px_phase_name(s.phase), "closed");
    assert_string_equal(client_px_phase_name(CLIENT_PX_NEW), "new");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_sends_once), cmocka_unit_test(test_success),
        cmocka_unit_test(test_start_error_retry), cmocka_unit_test(test_run_failed),
        cmocka_unit_test(test_health), cmocka_unit_test(test_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
