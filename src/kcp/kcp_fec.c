/* kcp-go's FEC packet layer and the Reed-Solomon code under it (see kcp_fec.h).
 *
 * GF(2^8) arithmetic uses log/exp tables for the polynomial 0x11D with generator 2,
 * built once. Matrices are small (at most 32x32) and live on the stack or in the
 * encoder/decoder structs; shard copies kept by the decoder are malloc'ed per shard. */
#include "kcp/kcp_fec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

static uint8_t gf_exp[510];
static uint8_t gf_log[256];
static pthread_once_t gf_once = PTHREAD_ONCE_INIT;

static void gf_build(void)
{
    unsigned x = 1;
    for (int i = 0; i < 255; i++) {
        gf_exp[i] = (uint8_t)x;
        gf_exp[i + 255] = (uint8_t)x;
        gf_log[x] = (uint8_t)i;
        x <<= 1;
        if (x & 0x100) x ^= 0x11D;
    }
}

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    if (a == 0 || b == 0) return 0;
    return gf_exp[gf_log[a] + gf_log[b]];
}

static uint8_t gf_inv(uint8_t a)
{
    return gf_exp[255 - gf_log[a]]; /* a != 0 */
}

/* a^n with 0^0 = 1, as klauspost's galExp. */
static uint8_t gf_pow(uint8_t a, int n)
{
    if (n == 0) return 1;
    if (a == 0) return 0;
    return gf_exp[(gf_log[a] * n) % 255];
}

typedef uint8_t kcp_mat[KCP_RS_MAX_SHARDS][KCP_RS_MAX_SHARDS];

/* Inverts the n x n matrix m in place (Gauss-Jordan). CFRP_EINVAL if singular. */
static int mat_invert(kcp_mat m, int n)
{
    kcp_mat inv;
    memset(inv, 0, sizeof inv);
    for (int i = 0; i < n; i++)
        inv[i][i] = 1;
    for (int col = 0; col < n; col++) {
        int piv = col;
        while (piv < n && m[piv][col] == 0)
            piv++;
        if (piv == n) return CFRP_EINVAL;
        if (piv != col) {
            uint8_t tmp[KCP_RS_MAX_SHARDS];
            memcpy(tmp, m[piv], sizeof tmp);
            memcpy(m[piv], m[col], sizeof tmp);
            memcpy(m[col], tmp, sizeof tmp);
            memcpy(tmp, inv[piv], sizeof tmp);
            memcpy(inv[piv], inv[col], sizeof tmp);
            memcpy(inv[col], tmp, sizeof tmp);
        }
        uint8_t s = gf_inv(m[col][col]);
        for (int c = 0; c < n; c++) {
            m[col][c] = gf_mul(m[col][c], s);
            inv[col][c] = gf_mul(inv[col][c], s);
        }
        for (int r = 0; r < n; r++) {
            uint8_t f = m[r][col];
            if (r == col || f == 0) continue;
            for (int c = 0; c < n; c++) {
                m[r][c] ^= gf_mul(f, m[col][c]);
                inv[r][c] ^= gf_mul(f, inv[col][c]);
            }
        }
    }
    memcpy(m, inv, sizeof inv);
    return 0;
}

int kcp_rs_init(kcp_rs *rs, int data, int parity)
{
    if (data < 1 || parity < 1 || data + parity > KCP_RS_MAX_SHARDS) return CFRP_EINVAL;
    pthread_once(&gf_once, gf_build);
    memset(rs, 0, sizeof *rs);
    rs->data = data;
    rs->parity = parity;
    kcp_mat top;
    memset(top, 0, sizeof top);
    for (int r = 0; r < data; r++)
        for (int c = 0; c < data; c++)
            top[r][c] = gf_pow((uint8_t)r, c);
    int rc = mat_invert(top, data);
    if (rc) return rc;
    /* rows = Vandermonde(data + parity, data) x top^-1 */
    for (int r = 0; r < data + parity; r++)
        for (int c = 0; c < data; c++) {
            uint8_t v = 0;
            for (int k = 0; k < data; k++)
                v ^= gf_mul(gf_pow((uint8_t)r, k), top[k][c]);
            rs->rows[r][c] = v;
        }
    return 0;
}

/* out[0..len) ^= coef * in[0..len) */
static void gf_mul_add(uint8_t *out, const uint8_t *in, uint8_t coef, size_t len)
{
    if (coef == 0) return;
    uint8_t t[256];
    for (int x = 0; x < 256; x++)
        t[x] = gf_mul(coef, (uint8_t)x);
    for (size_t i = 0; i < len; i++)
        out[i] ^= t[in[i]];
}

void kcp_rs_encode(const kcp_rs *rs, const uint8_t *const *data, uint8_t *const *parity, size_t len)
{
    for (int p = 0; p < rs->parity; p++) {
        memset(parity[p], 0, len);
        for (int c = 0; c < rs->data; c++)
            gf_mul_add(parity[p], data[c], rs->rows[rs->data + p][c], len);
    }
}

int kcp_rs_reconstruct(const kcp_rs *rs, uint8_t *const *shards, const bool *present, size_t len)
{
    int idx[KCP_RS_MAX_SHARDS], n = 0;
    for (int i = 0; i < rs->data + rs->parity && n < rs->data; i++)
        if (present[i]) idx[n++] = i;
    if (n < rs->data) return CFRP_EINVAL;
    kcp_mat m;
    memset(m, 0, sizeof m);
    for (int r = 0; r < n; r++)
        memcpy(m[r], rs->rows[idx[r]], (size_t)rs->data);
    int rc = mat_invert(m, n);
    if (rc) return rc;
    for (int d = 0; d < rs->data; d++) {
        if (present[d]) continue;
        memset(shards[d], 0, len);
        for (int j = 0; j < n; j++)
            gf_mul_add(shards[d], shards[idx[j]], m[d][j], len);
    }
    return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void kcp_fec_encoder_init(kcp_fec_encoder *enc)
{
    memset(enc, 0, sizeof *enc);
    kcp_rs_init(&enc->rs, KCP_FEC_DATA_SHARDS, KCP_FEC_PARITY_SHARDS);
    enc->paws = 0xFFFFFFFFu / KCP_FEC_SHARDS * KCP_FEC_SHARDS;
}

int kcp_fec_encode(kcp_fec_encoder *enc, uint8_t *pkt, size_t len, uint64_t now_ms,
                   size_t *parity_len)
{
    if (len < KCP_FEC_HEADER_PLUS2 || len > KCP_FEC_MAX_PACKET) return CFRP_EINVAL;
    size_t area = len - KCP_FEC_HEADER; /* size field + KCP bytes */
    put_le32(pkt, enc->next++);
    pkt[4] = KCP_FEC_TYPE_DATA;
    pkt[5] = 0;
    pkt[6] = (uint8_t)area;
    pkt[7] = (uint8_t)(area >> 8);
    memcpy(enc->data[enc->count], pkt + KCP_FEC_HEADER, area);
    enc->lens[enc->count++] = area;
    if (area > enc->max_len) enc->max_len = area;

    int ready = 0;
    if (enc->count == KCP_FEC_DATA_SHARDS) {
        if (enc->have_last && now_ms - enc->last_ms < KCP_FEC_PARITY_GAP_MS) {
            const uint8_t *in[KCP_FEC_DATA_SHARDS];
            uint8_t *out[KCP_FEC_PARITY_SHARDS];
            for (int i = 0; i < KCP_FEC_DATA_SHARDS; i++) {
                memset(enc->data[i] + enc->lens[i], 0, enc->max_len - enc->lens[i]);
                in[i] = enc->data[i];
            }
            for (int p = 0; p < KCP_FEC_PARITY_SHARDS; p++) {
                out[p] = enc->parity[p] + KCP_FEC_HEADER;
                put_le32(enc->parity[p], enc->next);
                enc->parity[p][4] = KCP_FEC_TYPE_PARITY;
                enc->parity[p][5] = 0;
                enc->next = (enc->next + 1) % enc->paws;
            }
            kcp_rs_encode(&enc->rs, in, out, enc->max_len);
            *parity_len = enc->max_len + KCP_FEC_HEADER;
            ready = KCP_FEC_PARITY_SHARDS;
        }
        enc->count = 0;
        enc->max_len = 0;
    }
    enc->last_ms = now_ms;
    enc->have_last = true;
    return ready;
}

int kcp_fec_flag(const uint8_t *pkt, size_t len)
{
    if (len < KCP_FEC_HEADER || pkt[5] != 0) return 0;
    if (pkt[4] == KCP_FEC_TYPE_DATA || pkt[4] == KCP_FEC_TYPE_PARITY) return pkt[4];
    return 0;
}

void kcp_fec_decoder_init(kcp_fec_decoder *dec)
{
    memset(dec, 0, sizeof *dec);
    kcp_rs_init(&dec->rs, KCP_FEC_DATA_SHARDS, KCP_FEC_PARITY_SHARDS);
}

static void group_free(kcp_fec_group *g)
{
    for (int i = 0; i < KCP_FEC_SHARDS; i++)
        free(g->shards[i]);
    memset(g, 0, sizeof *g);
}

void kcp_fec_decoder_free(kcp_fec_decoder *dec)
{
    for (int i = 0; i < KCP_FEC_MAX_GROUPS; i++)
        group_free(&dec->groups[i]);
}

/* Signed distance a - b for wrapping ids. */
static int32_t id_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static kcp_fec_group *group_find(kcp_fec_decoder *dec, uint32_t id)
{
    kcp_fec_group *oldest = NULL, *free_slot = NULL;
    for (int i = 0; i < KCP_FEC_MAX_GROUPS; i++) {
        kcp_fec_group *g = &dec->groups[i];
        if (!g->used) {
            if (!free_slot) free_slot = g;
            continue;
        }
        if (g->id == id) return g;
        if (!oldest || id_diff(g->id, oldest->id) < 0) oldest = g;
    }
    kcp_fec_group *g = free_slot;
    if (!g) {
        if (id_diff(id, oldest->id) < 0) return NULL; /* older than all we keep */
        group_free(oldest);
        g = oldest;
    }
    g->used = true;
    g->id = id;
    return g;
}

/* Rebuilds g's missing data shards and hands each one's KCP bytes to cb. */
static int group_recover(kcp_fec_decoder *dec, kcp_fec_group *g, kcp_fec_recovered_cb cb, void *arg)
{
    size_t maxlen = 0;
    for (int i = 0; i < KCP_FEC_SHARDS; i++)
        if (g->shards[i] && g->lens[i] > maxlen) maxlen = g->lens[i];
    uint8_t *work[KCP_FEC_SHARDS] = {0};
    bool present[KCP_FEC_SHARDS];
    int rc = 0;
    for (int i = 0; i < KCP_FEC_SHARDS; i++) {
        present[i] = g->shards[i] != NULL;
        if (!present[i] && i >= KCP_FEC_DATA_SHARDS) continue;
        work[i] = calloc(1, maxlen);
        if (!work[i]) {
            rc = UV_ENOMEM;
            goto out;
        }
        if (present[i]) memcpy(work[i], g->shards[i], g->lens[i]);
    }
    rc = kcp_rs_reconstruct(&dec->rs, work, present, maxlen);
    if (rc) goto out;
    for (int i = 0; i < KCP_FEC_DATA_SHARDS; i++) {
        if (present[i]) continue;
        size_t size = (size_t)work[i][0] | (size_t)work[i][1] << 8;
        if (size >= 2 && size <= maxlen) cb(work[i] + 2, size - 2, arg);
    }
out:
    for (int i = 0; i < KCP_FEC_SHARDS; i++)
        free(work[i]);
    return rc;
}

int kcp_fec_decode(kcp_fec_decoder *dec, const uint8_t *pkt, size_t len, kcp_fec_recovered_cb cb,
                   void *arg)
{
    int flag = kcp_fec_flag(pkt, len);
    if (!flag || len > KCP_FEC_MAX_PACKET) return CFRP_EPROTO;
    if (flag == KCP_FEC_TYPE_DATA && len < KCP_FEC_HEADER_PLUS2) return CFRP_EPROTO;
    if (len == KCP_FEC_HEADER) return CFRP_EPROTO;
    uint32_t seqid = get_le32(pkt);
    uint32_t id = seqid / KCP_FEC_SHARDS;
    int pos = (int)(seqid % KCP_FEC_SHARDS);
    /* Shards off their slot (the sender skipped parity without skipping seqids) are
     * useless for recovery. */
    if ((pos < KCP_FEC_DATA_SHARDS) != (flag == KCP_FEC_TYPE_DATA)) return 0;
    if (dec->have_min && id_diff(id, dec->min_id) <= 0) return 0;
    kcp_fec_group *g = group_find(dec, id);
    if (!g || g->shards[pos]) return 0;
    size_t area = len - KCP_FEC_HEADER;
    g->shards[pos] = malloc(area);
    if (!g->shards[pos]) return UV_ENOMEM;
    memcpy(g->shards[pos], pkt + KCP_FEC_HEADER, area);
    g->lens[pos] = (uint16_t)area;
    if (++g->count < KCP_FEC_DATA_SHARDS) return 0;

    int ndata = 0;
    for (int i = 0; i < KCP_FEC_DATA_SHARDS; i++)
        ndata += g->shards[i] != NULL;
    int rc = ndata == KCP_FEC_DATA_SHARDS ? 0 : group_recover(dec, g, cb, arg);
    if (!dec->have_min || id_diff(id, dec->min_id) > 0) dec->min_id = id;
    dec->have_min = true;
    for (int i = 0; i < KCP_FEC_MAX_GROUPS; i++) {
        kcp_fec_group *o = &dec->groups[i];
        if (o->used && id_diff(o->id, dec->min_id) <= 0) group_free(o);
    }
    return rc == CFRP_EINVAL ? 0 : rc;
}
