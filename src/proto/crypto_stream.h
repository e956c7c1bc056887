/* AES-128-CFB stream filter: the encrypted control stream after login and work or
 * visitor connections with useEncryption (protocol.md §4.3, §5.2).
 *
 * Writes: the first write sends a fresh random 16-byte IV, then everything written is
 * one continuous CFB keystream. Reads: the first 16 bytes are the peer's IV, the rest
 * is decrypted. EOF in the middle of the peer's IV is reported as CFRP_EPROTO. */
#ifndef CFRP_PROTO_CRYPTO_STREAM_H
#define CFRP_PROTO_CRYPTO_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/stream.h"
#include "proto/crypto.h"

/* Wraps inner with the key from crypto_derive_key(). head/head_len: bytes already read
 * from inner past the last clear frame (e.g. after LoginResp); they are decrypted
 * first (copied; may be NULL/0). On success the filter owns inner (see filter.h).
 * Returns 0 or UV_ENOMEM / CFRP_EINVAL (inner is then still the caller's). */
int crypto_stream_new(uv_loop_t *loop, stream *inner, const uint8_t key[CRYPTO_KEY_LEN],
                      const void *head, size_t head_len, stream **out);

#endif
