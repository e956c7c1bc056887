/* kcp-go's forward error correction layer, as frp v0.61.1 uses it (protocol.md 1.6).
 *
 * Every UDP payload starts with a 6-byte FEC header: seqid u32le, flag u16le (0x00F1 data
 * shard, 0x00F2 parity shard). A data shard continues with size u16le (2 + the number of
 * KCP bytes that follow) and the KCP bytes. After 10 data shards sent in quick succession
 * the sender adds 3 parity shards: Reed-Solomon over the 10 shards' size+KCP areas,
 * zero-padded to the longest. The code is klauspost/reedsolomon's default: GF(2^8) with
 * polynomial 0x11D, a Vandermonde matrix made systematic by the inverse of its top
 * square. A receiver groups shards by seqid / 13 and rebuilds lost data shards from any
 * 10 of a group's 13. */
#ifndef CFRP_KCP_FEC_H
#define CFRP_KCP_FEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KCP_FEC_HEADER 6       /* seqid + flag */
#define KCP_FEC_HEADER_PLUS2 8 /* seqid + flag + size: room reserved before KCP bytes */
#define KCP_FEC_TYPE_DATA 0xF1
#define KCP_FEC_TYPE_PARITY 0xF2
#define KCP_FEC_DATA_SHARDS 10
#define KCP_FEC_PARITY_SHARDS 3
#define KCP_FEC_SHARDS (KCP_FEC_DATA_SHARDS + KCP_FEC_PARITY_SHARDS)
#define KCP_FEC_MAX_PACKET 1500 /* kcp-go's mtuLimit: no datagram is longer */
#define KCP_FEC_MAX_SHARD (KCP_FEC_MAX_PACKET - KCP_FEC_HEADER)
#define KCP_FEC_MAX_GROUPS 8      /* incomplete groups a decoder keeps */
#define KCP_FEC_PARITY_GAP_MS 500 /* parity only if the 10th shard follows the 9th sooner */

/* ---- Reed-Solomon over GF(2^8) ---- */

#define KCP_RS_MAX_SHARDS 32

/* A systematic (data + parity) code; rows[r] is the encoding row of shard r. */
typedef struct kcp_rs {
    int data, parity;
    uint8_t rows[KCP_RS_MAX_SHARDS][KCP_RS_MAX_SHARDS];
} kcp_rs;

/* Builds the code klauspost/reedsolomon.New(data, parity) uses. data >= 1, parity >= 1,
 * data + parity <= KCP_RS_MAX_SHARDS; else CFRP_EINVAL. */
int kcp_rs_init(kcp_rs *rs, int data, int parity);
/* parity[p][0..len) = encoding of data[0..rs->data)[0..len). */
void kcp_rs_encode(const kcp_rs *rs, const uint8_t *const *data, uint8_t *const *parity,
                   size_t len);
/* shards[0..data+parity) each len bytes; present[i] says which hold bytes. Rebuilds the
 * missing data shards in place (their buffers must exist, len bytes). Needs at least
 * rs->data present shards: else CFRP_EINVAL. */
int kcp_rs_reconstruct(const kcp_rs *rs, uint8_t *const *shards, const bool *present, size_t len);

/* ---- the packet layer ---- */

/* Sender state for one session (fixed size; embedded by its owner). */
typedef struct kcp_fec_encoder {
    kcp_rs rs;
    uint32_t next;  /* next seqid */
    uint32_t paws;  /* seqids wrap modulo this */
    int count;      /* data shards collected in the current group */
    size_t max_len; /* longest size+KCP area of the group */
    uint64_t last_ms;
    bool have_last;
    size_t lens[KCP_FEC_DATA_SHARDS];
    uint8_t data[KCP_FEC_DATA_SHARDS][KCP_FEC_MAX_SHARD];
    uint8_t parity[KCP_FEC_PARITY_SHARDS][KCP_FEC_MAX_PACKET]; /* header + parity bytes */
} kcp_fec_encoder;

void kcp_fec_encoder_init(kcp_fec_encoder *enc);
/* pkt[0..len) is a datagram whose KCP bytes start at offset 8; fills its header and size
 * field and records it. Returns the number of parity datagrams now ready (0 or 3); they
 * are enc->parity[i][0..*parity_len), valid until the next call. CFRP_EINVAL (nothing
 * done) unless 8 <= len <= KCP_FEC_MAX_PACKET. */
int kcp_fec_encode(kcp_fec_encoder *enc, uint8_t *pkt, size_t len, uint64_t now_ms,
                   size_t *parity_len);

/* One incomplete group; shard copies are malloc'ed and owned by the group. */
typedef struct kcp_fec_group {
    bool used;
    uint32_t id; /* seqid / 13 */
    int count;
    uint8_t *shards[KCP_FEC_SHARDS]; /* size+KCP area (data) or parity bytes */
    uint16_t lens[KCP_FEC_SHARDS];
} kcp_fec_group;

typedef struct kcp_fec_decoder {
    kcp_rs rs;
    uint32_t min_id; /* groups at or before this one are finished */
    bool have_min;
    kcp_fec_group groups[KCP_FEC_MAX_GROUPS];
} kcp_fec_decoder;

/* Receives the KCP bytes of one recovered data shard. */
typedef void (*kcp_fec_recovered_cb)(const uint8_t *kcp, size_t len, void *arg);

void kcp_fec_decoder_init(kcp_fec_decoder *dec);
/* Frees the shard copies. */
void kcp_fec_decoder_free(kcp_fec_decoder *dec);
/* Records one FEC datagram (header included). The caller feeds a data shard's own KCP
 * bytes (pkt + 8) to KCP itself; this calls cb for every data shard rebuilt from parity.
 * Returns 0, CFRP_EPROTO for a datagram that is not a valid FEC shard, UV_ENOMEM. */
int kcp_fec_decode(kcp_fec_decoder *dec, const uint8_t *pkt, size_t len, kcp_fec_recovered_cb cb,
                   void *arg);

/* The flag of a datagram: KCP_FEC_TYPE_DATA, KCP_FEC_TYPE_PARITY or 0 (not FEC). */
int kcp_fec_flag(const uint8_t *pkt, size_t len);

#endif
