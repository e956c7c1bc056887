/* The KCP ARQ state machine (skywind3000's ikcp as xtaci/kcp-go runs it), stream mode
 * only, as frp uses it (protocol.md 1.6).
 *
 * Segment on the wire (little-endian, 24-byte header): conv u32 | cmd u8 | frg u8 |
 * wnd u16 | ts u32 | sn u32 | una u32 | len u32 | data[len]. cmd 81 PUSH, 82 ACK,
 * 83 WASK (window probe), 84 WINS (window tell). In stream mode frg is always 0 and small
 * writes are appended to the last queued segment up to the MSS (mtu - 24).
 *
 * The owner drives it: kcp_core_input() with each received KCP packet, kcp_core_update()
 * every interval, kcp_core_send()/kcp_core_recv() for the byte stream. Packets leave
 * through the output callback, with `reserved` free bytes in front of the KCP bytes (room
 * for the FEC header). No I/O and no clock inside: times are passed in (ms, wrapping). */
#ifndef CFRP_KCP_CORE_H
#define CFRP_KCP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

#define KCP_OVERHEAD 24
#define KCP_CMD_PUSH 81
#define KCP_CMD_ACK 82
#define KCP_CMD_WASK 83
#define KCP_CMD_WINS 84
#define KCP_MTU_MAX 1500
#define KCP_ACKLIST_MAX 4096 /* acks kept between two flushes; more are dropped */
#define KCP_WND_MAX 32768    /* largest window accepted by kcp_core_set_wndsize */

/* buf[0..len) is one packet: `reserved` free bytes, then KCP bytes. buf is only valid
 * during the call; the callee may write into the reserved bytes. */
typedef void (*kcp_output_fn)(uint8_t *buf, size_t len, void *arg);

typedef struct kcp_core {
    uint32_t conv, mtu, mss;
    uint32_t snd_una, snd_nxt, rcv_nxt;
    uint32_t ssthresh;
    int32_t rx_rttval, rx_srtt, rx_rto, rx_minrto;
    uint32_t snd_wnd, rcv_wnd, rmt_wnd, cwnd, probe;
    uint32_t current, interval, ts_flush;
    uint32_t nrcv_buf, nsnd_buf, nrcv_que, nsnd_que;
    uint32_t nodelay;
    bool updated;
    uint32_t ts_probe, probe_wait;
    uint32_t incr;
    int fastresend;
    bool nocwnd;
    struct list_link snd_queue, rcv_queue, snd_buf, rcv_buf; /* of kcp_seg, owned */
    uint32_t *acklist;                                       /* sn, ts pairs; owned */
    uint32_t ackcount;
    size_t send_bytes; /* payload bytes in snd_queue + snd_buf */
    size_t reserved;
    uint8_t *buffer; /* reserved + mtu bytes; owned */
    kcp_output_fn output;
    void *arg;
} kcp_core;

/* Sets up k with ikcp's defaults (mtu 1400, windows 32/32, normal mode); reserved bytes
 * (at most 64) precede every output packet. 0 or UV_ENOMEM/CFRP_EINVAL. */
int kcp_core_init(kcp_core *k, uint32_t conv, size_t reserved, kcp_output_fn output, void *arg);
/* Frees every segment and buffer. */
void kcp_core_free(kcp_core *k);
/* nodelay 0/1/2, interval in ms (10..5000), fast resend after that many skipping acks
 * (0 off), nc: no congestion window. */
void kcp_core_set_nodelay(kcp_core *k, int nodelay, int interval, int resend, bool nc);
/* Windows in segments (1..KCP_WND_MAX). */
int kcp_core_set_wndsize(kcp_core *k, uint32_t snd, uint32_t rcv);
/* mtu 50..KCP_MTU_MAX. */
int kcp_core_set_mtu(kcp_core *k, uint32_t mtu);

/* Queues len bytes (stream mode). 0 or UV_ENOMEM. */
int kcp_core_send(kcp_core *k, const void *data, size_t len);
/* Copies whole received segments in order into out while they fit (cap >= mtu always
 * makes progress); returns the byte count, 0 when nothing is ready. */
size_t kcp_core_recv(kcp_core *k, uint8_t *out, size_t cap);
/* Whether kcp_core_recv has bytes to return. */
bool kcp_core_readable(const kcp_core *k);
/* Feeds one KCP packet (one or more segments) received at time now. 0, or CFRP_EPROTO
 * for a wrong conv, bad command or truncated segment (segments before it were used). */
int kcp_core_input(kcp_core *k, const uint8_t *data, size_t len, uint32_t now);
/* Advances the clock; flushes when an interval has passed. */
void kcp_core_update(kcp_core *k, uint32_t now);
/* Sends pending acks, probes and due segments now. */
void kcp_core_flush(kcp_core *k);
/* Segments not yet acknowledged or not yet sent. */
uint32_t kcp_core_waitsnd(const kcp_core *k);

/* The conv field of a KCP packet (len >= 4). */
uint32_t kcp_core_get_conv(const uint8_t *data);

#endif
