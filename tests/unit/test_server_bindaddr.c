/* Unit tests for proxyBindAddr addresses (server/bind_addr.h): literals parsed without a
 * lookup, names looked up once and remembered (getaddrinfo is counted here by
 * interposing it), IPv4 preferred as Go's listeners do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <net/if.h>
#include <netdb.h>

#include <cmocka.h>

#include "base/err.h"
#include "server/bind_addr.h"

/* ---- a counting getaddrinfo with two fake names ---- */

static int lookups;
static struct sockaddr_in fake_v4;
static struct sockaddr_in6 fake_v6;
static struct addrinfo fake_ai4, fake_ai6;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    if (node && strcmp(node, "proxy.bind.test") == 0) {
        lookups++;
        fake_v6 = (struct sockaddr_in6){.sin6_family = AF_INET6};
        inet_pton(AF_INET6, "2001:db8::5", &fake_v6.sin6_addr);
        fake_v4 = (struct sockaddr_in){.sin_family = AF_INET};
        inet_pton(AF_INET, "192.0.2.9", &fake_v4.sin_addr);
        /* IPv6 first: the IPv4 address must still win */
        fake_ai4 = (struct addrinfo){.ai_family = AF_INET, .ai_addrlen = sizeof fake_v4,
                                     .ai_addr = (struct sockaddr *)&fake_v4};
        fake_ai6 = (struct addrinfo){.ai_family = AF_INET6, .ai_addrlen = sizeof fake_v6,
                                     .ai_addr = (struct sockaddr *)&fake_v6, .ai_next = &fake_ai4};
        *res = &fake_ai6;
        return 0;
    }
    if (node && strcmp(node, "missing.bind.test") == 0) {
        lookups++;
        return EAI_NONAME;
    }
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))dlsym(
            RTLD_NEXT, "getaddrinfo");
    return real(node, service, hints, res);
}

void freeaddrinfo(struct addrinfo *ai)
{
    if (ai == &fake_ai6) return;
    void (*real)(struct addrinfo *) = (void (*)(struct addrinfo *))dlsym(RTLD_NEXT, "freeaddrinfo");
    real(ai);
}

static void text_of(const struct sockaddr_storage *ss, char *out, size_t cap, int *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
        *port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
        *port = ntohs(in6->sin6_port);
    }
}

static void test_literals_need_no_lookup(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char text[INET6_ADDRSTRLEN];
    int port = 0;
    lookups = 0;
    assert_int_equal(svr_bind_addr("127.0.0.1", 7001, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    text_of(&ss, text, sizeof text, &port);
    assert_string_equal(text, "127.0.0.1");
    assert_int_equal(port, 7001);
    assert_int_equal(svr_bind_addr("::1", 7002, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    text_of(&ss, text, sizeof text, &port);
    assert_string_equal(text, "::1");
    assert_int_equal(port, 7002);
    assert_int_equal(svr_bind_addr("fe80::1%lo", 7003, &ss, &len), 0);
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, if_nametoindex("lo"));
    assert_int_equal(lookups, 0);
}

static void test_name_looked_up_once(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char text[INET6_ADDRSTRLEN];
    int port = 0;
    lookups = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(svr_bind_addr("proxy.bind.test", 8000 + i, &ss, &len), 0);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        text_of(&ss, text, sizeof text, &port);
        assert_string_equal(text, "192.0.2.9");
        assert_int_equal(port, 8000 + i);
    }
    assert_int_equal(lookups, 1);
    /* a name that does not resolve keeps failing without new lookups */
    for (int i = 0; i < 3; i++)
        assert_int_equal(svr_bind_addr("missing.bind.test", 80, &ss, &len), CFRP_ENOTFOUND);
    assert_int_equal(lookups, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_need_no_lookup),
        cmocka_unit_test(test_name_looked_up_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
