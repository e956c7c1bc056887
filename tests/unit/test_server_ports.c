/* Unit tests for frps's remote-port manager: allowPorts, used/reserved ports, random
 * choice for remotePort = 0 and frp's error texts. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "server/svr_internal.h"

/* A probe that reports every port bindable except those in the busy list. */
struct probe_state {
    int busy[8];
    int nbusy;
    int calls;
};

static bool fake_probe(void *arg, int port)
{
    struct probe_state *st = arg;
    st->calls++;
    for (int i = 0; i < st->nbusy; i++)
        if (st->busy[i] == port) return false;
    return true;
}

static void test_specific_ports(void **state)
{
    struct cfg_ports_range r[] = {{.start = 2000, .end = 2002}, {.single = 3001}};
    struct probe_state st = {.busy = {2002}, .nbusy = 1};
    struct svr_ports *pm = svr_ports_new(r, 2, fake_probe, &st);
    assert_non_null(pm);
    char err[64];
    assert_int_equal(svr_ports_acquire(pm, "a", 2000, 0, err, sizeof err), 2000);
    assert_true(svr_ports_in_use(pm, 2000));
    assert_int_equal(svr_ports_acquire(pm, "b", 2000, 0, err, sizeof err), CFRP_EINVAL);
    assert_string_equal(err, "port already used");
    assert_int_equal(svr_ports_acquire(pm, "b", 2500, 0, err, sizeof err), CFRP_EINVAL);
    assert_string_equal(err, "port not allowed");
    assert_int_equal(svr_ports_acquire(pm, "b", 70000, 0, err, sizeof err), CFRP_EINVAL);
    assert_string_equal(err, "port not allowed");
    assert_int_equal(svr_ports_acquire(pm, "b", 2002, 0, err, sizeof err), CFRP_EINVAL);
    assert_string_equal(err, "port unavailable");
    assert_int_equal(svr_ports_acquire(pm, "b", 3001, 0, err, sizeof err), 3001);
    svr_ports_release(pm, 2000, 10);
    assert_false(svr_ports_in_use(pm, 2000));
    assert_int_equal(svr_ports_acquire(pm, "c", 2000, 20, err, sizeof err), 2000);
    svr_ports_free(pm);
}

static void test_random_and_reserved(void **state)
{
    struct cfg_ports_range r[] = {{.start = 4000, .end = 4003}};
    struct probe_state st = {0};
    struct svr_ports *pm = svr_ports_new(r, 1, fake_probe, &st);
    char err[64];
    int seen[4] = {0}, orig[4];
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", i);
        int port = svr_ports_acquire(pm, name, 0, 0, err, sizeof err);
        assert_in_range(port, 4000, 4003);
        assert_int_equal(seen[port - 4000], 0);
        seen[port - 4000] = 1;
        orig[i] = port;
    }
    assert_int_equal(svr_ports_acquire(pm, "p4", 0, 0, err, sizeof err), CFRP_EINVAL);
    assert_string_equal(err, "no available port");
    /* after a release every name gets its previous port back with port 0 */
    for (int port = 4000; port <= 4003; port++) svr_ports_release(pm, port, 100);
    for (int i = 3; i >= 0; i--) {
        char name[8];
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(svr_ports_acquire(pm, name, 0, 200, err, sizeof err), orig[i]);
    }
    svr_ports_free(pm);
}

static void test_reservation_kept_then_expires(void **state)
{
    struct cfg_ports_range r[] = {{.start = 5000, .end = 5999}};
    struct probe_state st = {0};
    struct svr_ports *pm = svr_ports_new(r, 1, fake_probe, &st);
    char err[64];
    int first = svr_ports_acquire(pm, "web", 0, 0, err, sizeof err);
    assert_in_range(first, 5000, 5999);
    svr_ports_release(pm, first, 1000);
    /* within 24 h the same name gets the same port back */
    assert_int_equal(svr_ports_acquire(pm, "web", 0, 2000, err, sizeof err), first);
    svr_ports_release(pm, first, 3000);
    /* a busy reserved port is skipped */
    st.busy[0] = first;
    st.nbusy = 1;
    int other = svr_ports_acquire(pm, "web", 0, 4000, err, sizeof err);
    assert_int_not_equal(other, first);
    assert_in_range(other, 5000, 5999);
    svr_ports_free(pm);
}

static void test_empty_list_allows_all(void **state)
{
    struct probe_state st = {0};
    struct svr_ports *pm = svr_ports_new(NULL, 0, fake_probe, &st);
    char err[64];
    assert_int_equal(svr_ports_acquire(pm, "a", 1, 0, err, sizeof err), 1);
    assert_int_equal(svr_ports_acquire(pm, "b", 65535, 0, err, sizeof err), 65535);
    assert_int_equal(svr_ports_acquire(pm, "c", 65536, 0, err, sizeof err), CFRP_EINVAL);
    int port = svr_ports_acquire(pm, "d", 0, 0, err, sizeof err);
    assert_in_range(port, 2, 65534);
    svr_ports_free(pm);
}

static void test_probe_bind(void **state)
{
    /* a port bound by us cannot be probed; after closing it can */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof in;
    getsockname(fd, (struct sockaddr *)&in, &len);
    int port = ntohs(in.sin_port);
    assert_false(svr_port_probe_bind("127.0.0.1", port, false));
    close(fd);
    assert_true(svr_port_probe_bind("127.0.0.1", port, false));
    assert_true(svr_port_probe_bind("127.0.0.1", port, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specific_ports),
        cmocka_unit_test(test_random_and_reserved),
        cmocka_unit_test(test_reservation_kept_then_expires),
        cmocka_unit_test(test_empty_list_allows_all),
        cmocka_unit_test(test_probe_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
