/* Unit tests of auth keys, PBKDF2 and AES-128-CFB against vectors/crypto.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/auth.h"
#include "proto/crypto.h"
#include "test_proto_vectors.h"

static char *crypto_txt;

static int setup(void **state)
{
    crypto_txt = tv_read("crypto.txt");
    return crypto_txt ? 0 : -1;
}

static int teardown(void **state)
{
    free(crypto_txt);
    return 0;
}

/* Every GetAuthKey("key", ts) = hex line. */
static void test_auth_keys(void **state)
{
    const char *pos = NULL, *line;
    int count = 0;
    while ((line = tv_find_line(crypto_txt, &pos, "GetAuthKey(\"")) != NULL) {
        char key[64], want[33];
        long long ts;
        size_t klen = strcspn(line, "\"");
        assert_true(klen < sizeof(key));
        memcpy(key, line, klen);
        key[klen] = '\0';
        assert_int_equal(sscanf(line + klen, "\", %lld) = %32s", &ts, want), 2);
        char got[AUTH_KEY_HEX];
        auth_key(key, ts, got);
        assert_string_equal(got, want);
        assert_true(auth_key_verify(key, ts, want));
        want[0] = want[0] == '0' ? '1' : '0';
        assert_false(auth_key_verify(key, ts, want));
        assert_false(auth_key_verify(key, ts + 1, got));
        count++;
    }
    assert_int_equal(count, 3);
    char got[AUTH_KEY_HEX];
    auth_key(NULL, 0, got);
    assert_string_equal(got, "cfcd208495d565ef66e7dff9f98764da");
    assert_false(auth_key_verify("12345678", 1700000000, NULL));
    assert_false(auth_key_verify("12345678", 1700000000, "3d8aac6cc09d79da303be74c311e580"));
    assert_false(auth_key_verify("12345678", 1700000000, "3d8aac6cc09d79da303be74c311e58081"));
}

/* Every PBKDF2("key") = hex line. */
static void test_pbkdf2(void **state)
{
    const char *pos = NULL, *line;
    int count = 0;
    while ((line = tv_find_line(crypto_txt, &pos, "PBKDF2(\"")) != NULL) {
        char key[64];
        size_t klen = strcspn(line, "\"");
        memcpy(key, line, klen);
        key[klen] = '\0';
        const char *eq = strstr(line, "= ");
        assert_non_null(eq);
        unsigned char want[16];
        assert_int_equal(tv_hex(eq + 2, want, sizeof(want)), 16);
        uint8_t got[CRYPTO_KEY_LEN];
        assert_int_equal(crypto_derive_key(key, klen, got), 0);
        assert_memory_equal(got, want, 16);
        count++;
    }
    assert_int_equal(count, 3);
}

/* Encrypts plaintext under key/iv in pieces of `piece` bytes; checks IV || ct = wire,
 * then decrypts in pieces again. */
static void check_cfb(const uint8_t *key, const uint8_t *iv, const unsigned char *pt, size_t n,
                      const unsigned char *wire, size_t wn, size_t piece)
{
    unsigned char buf[512];
    assert_int_equal(wn, 16 + n);
    assert_memory_equal(wire, iv, 16);
    crypto_cfb enc, dec;
    assert_int_equal(crypto_cfb_init(&enc, key, iv, true), 0);
    for (size_t off = 0; off < n; off += piece) {
        size_t len = n - off < piece ? n - off : piece;
        assert_int_equal(crypto_cfb_update(&enc, pt + off, buf + off, len), 0);
    }
    assert_memory_equal(buf, wire + 16, n);
    assert_int_equal(crypto_cfb_init(&dec, key, wire, false), 0);
    for (size_t off = 0; off < n; off += piece) { /* in place */
        size_t len = n - off < piece ? n - off : piece;
        assert_int_equal(crypto_cfb_update(&dec, buf + off, buf + off, len), 0);
    }
    assert_memory_equal(buf, pt, n);
    crypto_cfb_free(&enc);
    crypto_cfb_free(&dec);
    crypto_cfb_free(&dec); /* idempotent */
}

/* Decryption runs whole blocks through ECB in batches: long inputs fed in pieces of
 * awkward sizes (partial blocks, batch boundaries) must give back the plaintext that
 * OpenSSL's CFB encryption consumed. */
static void test_cfb_decrypt_long(void **state)
{
    enum { N = 100000 };
    static unsigned char pt[N], ct[N], out[N];
    uint8_t key[16], iv[16];
    for (size_t i = 0; i < N; i++) pt[i] = (unsigned char)(i * 131 + (i >> 9));
    memset(key, 0x5a, sizeof key);
    memset(iv, 0xa5, sizeof iv);
    crypto_cfb enc;
    assert_int_equal(crypto_cfb_init(&enc, key, iv, true), 0);
    assert_int_equal(crypto_cfb_update(&enc, pt, ct, N), 0);
    crypto_cfb_free(&enc);
    const size_t pieces[] = {1, 7, 16, 17, 4095, 4096, 4097, 4111, 65536, N};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        crypto_cfb dec;
        assert_int_equal(crypto_cfb_init(&dec, key, iv, false), 0);
        memcpy(out, ct, N);
        for (size_t off = 0; off < N; off += pieces[k]) { /* in place */
            size_t len = N - off < pieces[k] ? N - off : pieces[k];
            assert_int_equal(crypto_cfb_update(&dec, out + off, out + off, len), 0);
        }
        assert_memory_equal(out, pt, N);
        crypto_cfb_free(&dec);
    }
}

/* Section 3 (stream) and 4 (datagram): every plaintext/wire and plaintext/datagram pair. */
static void test_cfb_vectors(void **state)
{
    const char *pos = strstr(crypto_txt, "## 3.");
    assert_non_null(pos);
    unsigned char key[16], iv[16];
    const char *k = tv_find_line(crypto_txt, &pos, "key       = ");
    assert_int_equal(tv_hex(k, key, 16), 16);
    const char *v = tv_find_line(crypto_txt, &pos, "iv        = ");
    assert_int_equal(tv_hex(v, iv, 16), 16);
    int count = 0;
    const char *p;
    while ((p = tv_find_line(crypto_txt, &pos, "plaintext = ")) != NULL) {
        unsigned char pt[256], wire[512];
        long n = tv_hex(p, pt, sizeof(pt));
        assert_true(n > 0);
        const char *w = tv_find_line(crypto_txt, &pos, count < 2 ? "wire      = " : "datagram  = ");
        assert_non_null(w);
        long wn = tv_hex(w, wire, sizeof(wire));
        if (count == 2) {
            /* The datagram is keyed with PBKDF2("abc"). */
            assert_int_equal(crypto_derive_key("abc", 3, key), 0);
        }
        for (size_t piece = 1; piece <= (size_t)n; piece++)
            check_cfb(key, iv, pt, (size_t)n, wire, (size_t)wn, piece);
        count++;
    }
    assert_int_equal(count, 3);
}

static void test_random_iv(void **state)
{
    uint8_t a[CRYPTO_IV_LEN], b[CRYPTO_IV_LEN];
    assert_int_equal(crypto_random_iv(a), 0);
    assert_int_equal(crypto_random_iv(b), 0);
    assert_memory_not_equal(a, b, CRYPTO_IV_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_keys),
        cmocka_unit_test(test_pbkdf2),
        cmocka_unit_test(test_cfb_vectors),
        cmocka_unit_test(test_cfb_decrypt_long),
        cmocka_unit_test(test_random_iv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
