/* MD5-based auth keys on OpenSSL EVP (see auth.h). */
#include "proto/auth.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void auth_key(const char *key, int64_t timestamp, char out[AUTH_KEY_HEX])
{
    static const char hex[] = "0123456789abcdef";
    char ts[24];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* MD5 over two pieces; only allocation failure can make EVP fail here, and then the
     * output is an empty string that matches no real key. */
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, key ? key : "", key ? strlen(key) : 0) != 1 ||
        EVP_DigestUpdate(ctx, ts, (size_t)n) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        EVP_MD_CTX_free(ctx);
        out[0] = '\0';
        return;
    }
    EVP_MD_CTX_free(ctx);
    for (unsigned int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

bool auth_key_verify(const char *key, int64_t timestamp, const char *received)
{
    char want[AUTH_KEY_HEX];
    auth_key(key, timestamp, want);
    if (!received || want[0] == '\0' || strlen(received) != 32)
        return false;
    return CRYPTO_memcmp(want, received, 32) == 0;
}
