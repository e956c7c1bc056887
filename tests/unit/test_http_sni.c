/* Unit tests for ClientHello SNI extraction, with ClientHellos produced by OpenSSL
 * (SSL_connect into a memory BIO) plus truncated, re-recorded and garbage inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "base/err.h"
#include "http/sni.h"

/* Runs an OpenSSL client until it has written its ClientHello; returns its bytes. */
static size_t client_hello(const char *sni, unsigned char *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL *ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    if (sni)
        assert_int_equal(SSL_set_tlsext_host_name(ssl, sni), 1);
    assert_true(SSL_connect(ssl) <= 0); /* wants to read the ServerHello */
    int n = BIO_read(wb, out, (int)cap);
    assert_true(n > 50);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return (size_t)n;
}

static void test_real_hello(void **state)
{
    unsigned char buf[8192];
    char name[SNI_NAME_MAX + 1];
    size_t n = client_hello("WWW.Example.com", buf, sizeof(buf));
    assert_int_equal(sni_parse(buf, n, name), SNI_FOUND);
    assert_string_equal(name, "www.example.com");
    /* every proper prefix asks for more */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(sni_parse(buf, k, name), SNI_NEED_MORE);
    /* trailing bytes (the client's next records) do not matter */
    memset(buf + n, 0x17, 10);
    assert_int_equal(sni_parse(buf, n + 10, name), SNI_FOUND);

    n = client_hello(NULL, buf, sizeof(buf));
    assert_int_equal(sni_parse(buf, n, name), SNI_NONE);
    assert_string_equal(name, "");
}

/* Re-records one ClientHello into records of at most chunk handshake bytes. */
static size_t rerecord(const unsigned char *in, size_t n, size_t chunk, unsigned char *out)
{
    size_t rlen = (size_t)in[3] << 8 | in[4], o = 0;
    assert_int_equal(rlen + 5, n);
    for (size_t off = 0; off < rlen; off += chunk) {
        size_t k = rlen - off < chunk ? rlen - off : chunk;
        out[o++] = 22;
        out[o++] = 3;
        out[o++] = 1;
        out[o++] = (unsigned char)(k >> 8);
        out[o++] = (unsigned char)k;
        memcpy(out + o, in + 5 + off, k);
        o += k;
    }
    return o;
}

static void test_split_records(void **state)
{
    unsigned char buf[8192], rec[65536];
    char name[SNI_NAME_MAX + 1];
    size_t n = client_hello("split.example.org", buf, sizeof(buf));
    for (size_t chunk = 1; chunk <= 64; chunk = chunk * 2 + 1) {
        size_t m = rerecord(buf, n, chunk, rec);
        assert_int_equal(sni_parse(rec, m, name), SNI_FOUND);
        assert_string_equal(name, "split.example.org");
        assert_int_equal(sni_parse(rec, m - 1, name), SNI_NEED_MORE);
    }
}

static void test_invalid(void **state)
{
    char name[SNI_NAME_MAX + 1];
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(sni_parse((const unsigned char *)http, sizeof(http) - 1, name), CFRP_EPARSE);
    unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70};
    assert_int_equal(sni_parse(alert, sizeof(alert), name), CFRP_EPARSE);
    unsigned char big[] = {0x16, 0x03, 0x01, 0xff, 0xff};
    assert_int_equal(sni_parse(big, sizeof(big), name), CFRP_EPARSE);
    unsigned char server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
    assert_int_equal(sni_parse(server_hello, sizeof(server_hello), name), CFRP_EPARSE);

    unsigned char buf[8192];
    size_t n = client_hello("abc.example.com", buf, sizeof(buf));
    /* corrupt the server_name: find "abc.example.com" and break its length / add a dot */
    unsigned char *s = memmem(buf, n, "abc.example.com", 15);
    assert_non_null(s);
    unsigned char copy[8192];
    memcpy(copy, buf, n);
    copy[s - buf - 1] = 16; /* host_name length one too long */
    assert_int_equal(sni_parse(copy, n, name), CFRP_EPARSE);
    memcpy(copy, buf, n);
    copy[s - buf + 14] = '.'; /* trailing dot */
    assert_int_equal(sni_parse(copy, n, name), CFRP_EPARSE);
    /* extensions length that does not match */
    memcpy(copy, buf, n);
    copy[8] ^= 0x01; /* handshake length low byte: message shorter/longer than record */
    assert_true(sni_parse(copy, n, name) != SNI_FOUND);

    /* random garbage never crashes */
    srand(1);
    for (int i = 0; i < 2000; i++) {
        unsigned char g[256];
        for (size_t k = 0; k < sizeof(g); k++)
            g[k] = (unsigned char)rand();
        g[0] = 22;
        g[1] = 3;
        int rc = sni_parse(g, sizeof(g), name);
        assert_true(rc == SNI_NEED_MORE || rc == CFRP_EPARSE || rc == SNI_NONE || rc == SNI_FOUND);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_hello),
        cmocka_unit_test(test_split_records),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
