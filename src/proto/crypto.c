/* PBKDF2 and AES-128-CFB on OpenSSL EVP (see crypto.h). */
#include "proto/crypto.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include "base/err.h"

int crypto_derive_key(const void *secret, size_t len, uint8_t key[CRYPTO_KEY_LEN])
{
    static const unsigned char salt[] = {'f', 'r', 'p'};
    if (len > INT_MAX)
        return CFRP_EINVAL;
    if (PKCS5_PBKDF2_HMAC(secret ? secret : "", (int)len, salt, sizeof(salt), 64,
                          EVP_sha1(), CRYPTO_KEY_LEN, key) != 1)
        return CFRP_EINVAL;
    return 0;
}

int crypto_random_iv(uint8_t iv[CRYPTO_IV_LEN])
{
    return RAND_bytes(iv, CRYPTO_IV_LEN) == 1 ? 0 : CFRP_EINVAL;
}

int crypto_cfb_init(crypto_cfb *c, const uint8_t key[CRYPTO_KEY_LEN],
                    const uint8_t iv[CRYPTO_IV_LEN], bool encrypt)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    c->ctx = NULL;
    if (!ctx)
        return UV_ENOMEM;
    if (EVP_CipherInit_ex(ctx, EVP_aes_128_cfb128(), NULL, key, iv, encrypt ? 1 : 0) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return CFRP_EINVAL;
    }
    c->ctx = ctx;
    return 0;
}

int crypto_cfb_update(crypto_cfb *c, const void *in, void *out, size_t len)
{
    const unsigned char *src = in;
    unsigned char *dst = out;
    while (len > 0) {
        int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;
        int outl = 0;
        if (EVP_CipherUpdate(c->ctx, dst, &outl, src, n) != 1 || outl != n)
            return CFRP_EINVAL;
        src += n;
        dst += n;
        len -= (size_t)n;
    }
    return 0;
}

void crypto_cfb_free(crypto_cfb *c)
{
    EVP_CIPHER_CTX_free(c->ctx);
    c->ctx = NULL;
}
