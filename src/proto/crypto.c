/* PBKDF2 and AES-128-CFB on OpenSSL EVP (see crypto.h). */
#include "proto/crypto.h"

#include <limits.h>
#include <string.h>
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
    *c = (crypto_cfb){.decrypt = !encrypt};
    if (!ctx)
        return UV_ENOMEM;
    int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_128_cfb128(), NULL, key, iv)
                     : EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) &&
                           EVP_CIPHER_CTX_set_padding(ctx, 0);
    if (ok != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return CFRP_EINVAL;
    }
    memcpy(c->reg, iv, sizeof c->reg);
    c->ctx = ctx;
    return 0;
}

/* Blocks per ECB call when decrypting (keystream kept on the stack). */
#define CRYPTO_DEC_BATCH 256

/* AES-128-ECB of n whole blocks from in to out. */
static int crypto_ecb(crypto_cfb *c, const uint8_t *in, uint8_t *out, size_t n)
{
    int outl = 0;
    if (EVP_EncryptUpdate(c->ctx, out, &outl, in, (int)(n * 16)) != 1 || outl != (int)(n * 16))
        return CFRP_EINVAL;
    return 0;
}

/* CFB128 decryption (see crypto_cfb in crypto.h); in == out is allowed. */
static int crypto_cfb_decrypt(crypto_cfb *c, const uint8_t *src, uint8_t *dst, size_t len)
{
    /* The rest of a block begun in an earlier call. */
    while (len > 0 && c->num > 0) {
        uint8_t ct = *src++;
        *dst++ = ct ^ c->reg[c->num];
        c->reg[c->num] = ct;
        c->num = (c->num + 1) % 16;
        len--;
    }
    uint8_t ks[CRYPTO_DEC_BATCH * 16];
    while (len >= 16) {
        size_t n = len / 16 < CRYPTO_DEC_BATCH ? len / 16 : CRYPTO_DEC_BATCH;
        /* ks[0] = E(previous ciphertext block), ks[j] = E(ciphertext block j - 1) */
        if (crypto_ecb(c, c->reg, ks, 1) < 0 || (n > 1 && crypto_ecb(c, src, ks + 16, n - 1) < 0))
            return CFRP_EINVAL;
        memcpy(c->reg, src + (n - 1) * 16, 16); /* before dst (maybe src) is written */
        for (size_t i = 0; i < n * 16; i += 8) { /* word-wise XOR */
            uint64_t a, b;
            memcpy(&a, src + i, 8);
            memcpy(&b, ks + i, 8);
            a ^= b;
            memcpy(dst + i, &a, 8);
        }
        src += n * 16;
        dst += n * 16;
        len -= n * 16;
    }
    if (len > 0) { /* a partial block: its keystream is kept for the next call */
        if (crypto_ecb(c, c->reg, c->reg, 1) < 0)
            return CFRP_EINVAL;
        for (; c->num < len; c->num++) {
            uint8_t ct = src[c->num];
            dst[c->num] = ct ^ c->reg[c->num];
            c->reg[c->num] = ct;
        }
    }
    return 0;
}

int crypto_cfb_update(crypto_cfb *c, const void *in, void *out, size_t len)
{
    const unsigned char *src = in;
    unsigned char *dst = out;
    if (c->decrypt)
        return crypto_cfb_decrypt(c, src, dst, len);
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
