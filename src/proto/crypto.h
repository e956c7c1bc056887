/* frp's stream encryption: PBKDF2 key derivation and AES-128-CFB contexts.
 *
 * key = PBKDF2-HMAC-SHA1(secret, salt "frp", 64 iterations, 16 bytes); the cipher is
 * AES-128 in CFB mode with 128-bit segments, one continuous keystream per direction
 * after a 16-byte IV (protocol.md §4.3, §5.2). A crypto_cfb context carries the
 * keystream position across calls, so data may be fed in pieces of any size. */
#ifndef CFRP_PROTO_CRYPTO_H
#define CFRP_PROTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 16
#define CRYPTO_IV_LEN 16

/* Derives the stream key from secret (len bytes; NULL with len 0 for the empty
 * token). Returns 0 or CFRP_EINVAL if OpenSSL fails. */
int crypto_derive_key(const void *secret, size_t len, uint8_t key[CRYPTO_KEY_LEN]);

/* Fills iv with cryptographically random bytes. Returns 0 or CFRP_EINVAL. */
int crypto_random_iv(uint8_t iv[CRYPTO_IV_LEN]);

/* One direction of AES-128-CFB. Owns an OpenSSL context: free with crypto_cfb_free.
 * Encryption is CFB on EVP (inherently serial). Decryption is done here on an
 * AES-128-ECB context: the keystream of each block is the encryption of the previous
 * ciphertext block, all known in advance, so a whole run of blocks is one pipelined
 * ECB call (about ten times faster with AES-NI); reg/num carry the state between calls
 * exactly as OpenSSL's CFB128 would. */
typedef struct crypto_cfb {
    void *ctx;       /* EVP_CIPHER_CTX: AES-128-CFB (encrypt) or AES-128-ECB (decrypt) */
    bool decrypt;
    unsigned num;    /* decrypt: bytes of the current block already used */
    uint8_t reg[16]; /* decrypt: keystream bytes [num, 16), ciphertext bytes [0, num);
                        with num == 0, the previous ciphertext block */
} crypto_cfb;

/* Starts a keystream for encrypting (encrypt = true) or decrypting. Returns 0, or
 * UV_ENOMEM / CFRP_EINVAL; on error c needs no free. */
int crypto_cfb_init(crypto_cfb *c, const uint8_t key[CRYPTO_KEY_LEN],
                    const uint8_t iv[CRYPTO_IV_LEN], bool encrypt);

/* Transforms len bytes from in to out (in == out is allowed), continuing the stream.
 * Returns 0 or CFRP_EINVAL. */
int crypto_cfb_update(crypto_cfb *c, const void *in, void *out, size_t len);

/* Frees the context; safe on a zeroed or already freed c. */
void crypto_cfb_free(crypto_cfb *c);

#endif
