/* KCP ARQ state machine, stream mode (see kcp_core.h).
 *
 * Segments are malloc'ed with room for a full MSS of data (so stream-mode appends never
 * reallocate) and linked into one of four lists owned by the kcp_core: snd_queue
 * (written, not yet in the send window), snd_buf (sent, not yet acknowledged), rcv_buf
 * (received out of order, inside the receive window) and rcv_queue (in order, ready for
 * kcp_core_recv). Times are 32-bit milliseconds compared with wrapping differences. */
#include "kcp/kcp_core.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

#define KCP_RTO_NDL 30
#define KCP_RTO_MIN 100
#define KCP_RTO_DEF 200
#define KCP_RTO_MAX 60000
#define KCP_ASK_SEND 1
#define KCP_ASK_TELL 2
#define KCP_WND_SND 32
#define KCP_WND_RCV 32
#define KCP_MTU_DEF 1400
#define KCP_INTERVAL 100
#define KCP_THRESH_INIT 2
#define KCP_THRESH_MIN 2
#define KCP_PROBE_INIT 7000
#define KCP_PROBE_LIMIT 120000
#define KCP_RESERVED_MAX 64

typedef struct kcp_seg {
    struct list_link link;
    uint32_t conv, cmd, frg, wnd, ts, sn, una, len;
    uint32_t resendts, rto, fastack, xmit;
    uint8_t data[]; /* mss bytes for segments we send, len for received ones */
} kcp_seg;

#define SEG(l) LIST_ITEM(l, kcp_seg, link)

static int32_t tdiff(uint32_t later, uint32_t earlier)
{
    return (int32_t)(later - earlier);
}

static uint32_t umin(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t umax(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t kcp_core_get_conv(const uint8_t *data)
{
    return get32(data);
}

static void free_list(struct list_link *head)
{
    while (!list_empty(head)) {
        struct list_link *l = head->next;
        list_del(l);
        free(SEG(l));
    }
}

int kcp_core_init(kcp_core *k, uint32_t conv, size_t reserved, kcp_output_fn output, void *arg)
{
    if (reserved > KCP_RESERVED_MAX) return CFRP_EINVAL;
    memset(k, 0, sizeof *k);
    k->conv = conv;
    k->snd_wnd = KCP_WND_SND;
    k->rcv_wnd = KCP_WND_RCV;
    k->rmt_wnd = KCP_WND_RCV;
    k->mtu = KCP_MTU_DEF;
    k->mss = k->mtu - KCP_OVERHEAD;
    k->rx_rto = KCP_RTO_DEF;
    k->rx_minrto = KCP_RTO_MIN;
    k->interval = KCP_INTERVAL;
    k->ts_flush = KCP_INTERVAL;
    k->ssthresh = KCP_THRESH_INIT;
    k->reserved = reserved;
    k->output = output;
    k->arg = arg;
    list_init(&k->snd_queue);
    list_init(&k->rcv_queue);
    list_init(&k->snd_buf);
    list_init(&k->rcv_buf);
    k->buffer = malloc(reserved + KCP_MTU_MAX);
    k->acklist = malloc(sizeof(uint32_t) * 2 * KCP_ACKLIST_MAX);
    if (!k->buffer || !k->acklist) {
        kcp_core_free(k);
        return UV_ENOMEM;
    }
    return 0;
}

void kcp_core_free(kcp_core *k)
{
    free_list(&k->snd_queue);
    free_list(&k->rcv_queue);
    free_list(&k->snd_buf);
    free_list(&k->rcv_buf);
    free(k->buffer);
    free(k->acklist);
    k->buffer = NULL;
    k->acklist = NULL;
}

void kcp_core_set_nodelay(kcp_core *k, int nodelay, int interval, int resend, bool nc)
{
    if (nodelay >= 0) {
        k->nodelay = (uint32_t)nodelay;
        k->rx_minrto = nodelay ? KCP_RTO_NDL : KCP_RTO_MIN;
    }
    if (interval >= 0) k->interval = umin(umax((uint32_t)interval, 10), 5000);
    if (resend >= 0) k->fastresend = resend;
    k->nocwnd = nc;
}

int kcp_core_set_wndsize(kcp_core *k, uint32_t snd, uint32_t rcv)
{
    if (snd < 1 || rcv < 1 || snd > KCP_WND_MAX || rcv > KCP_WND_MAX) return CFRP_EINVAL;
    k->snd_wnd = snd;
    k->rcv_wnd = rcv;
    return 0;
}

int kcp_core_set_mtu(kcp_core *k, uint32_t mtu)
{
    if (mtu < 50 || mtu > KCP_MTU_MAX) return CFRP_EINVAL;
    if (!list_empty(&k->snd_queue)) return CFRP_EINVAL; /* queued segments use the old mss */
    k->mtu = mtu;
    k->mss = mtu - KCP_OVERHEAD;
    return 0;
}

static kcp_seg *seg_new(size_t cap)
{
    kcp_seg *s = calloc(1, sizeof *s + cap);
    if (s) list_init(&s->link);
    return s;
}

int kcp_core_send(kcp_core *k, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (!list_empty(&k->snd_queue)) { /* stream mode: fill the last segment first */
        kcp_seg *last = SEG(k->snd_queue.prev);
        size_t room = k->mss - last->len;
        size_t n = len < room ? len : room;
        memcpy(last->data + last->len, p, n);
        last->len += (uint32_t)n;
        k->send_bytes += n;
        p += n;
        len -= n;
    }
    while (len > 0) {
        size_t n = len < k->mss ? len : k->mss;
        kcp_seg *s = seg_new(k->mss);
        if (!s) return UV_ENOMEM;
        memcpy(s->data, p, n);
        s->len = (uint32_t)n;
        list_push(&k->snd_queue, &s->link);
        k->nsnd_que++;
        k->send_bytes += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* Moves in-order segments from rcv_buf to rcv_queue while the queue has room. */
static void move_ready(kcp_core *k)
{
    while (!list_empty(&k->rcv_buf)) {
        kcp_seg *s = SEG(k->rcv_buf.next);
        if (s->sn != k->rcv_nxt || k->nrcv_que >= k->rcv_wnd) break;
        list_del(&s->link);
        k->nrcv_buf--;
        list_push(&k->rcv_queue, &s->link);
        k->nrcv_que++;
        k->rcv_nxt++;
    }
}

bool kcp_core_readable(const kcp_core *k)
{
    return !list_empty(&k->rcv_queue);
}

size_t kcp_core_recv(kcp_core *k, uint8_t *out, size_t cap)
{
    bool was_full = k->nrcv_que >= k->rcv_wnd;
    size_t n = 0;
    while (!list_empty(&k->rcv_queue)) {
        kcp_seg *s = SEG(k->rcv_queue.next);
        if (n + s->len > cap) break;
        memcpy(out + n, s->data, s->len);
        n += s->len;
        list_del(&s->link);
        free(s);
        k->nrcv_que--;
    }
    move_ready(k);
    if (was_full && k->nrcv_que < k->rcv_wnd) k->probe |= KCP_ASK_TELL; /* window reopened */
    return n;
}

uint32_t kcp_core_waitsnd(const kcp_core *k)
{
    return k->nsnd_buf + k->nsnd_que;
}

static void update_ack(kcp_core *k, int32_t rtt)
{
    if (k->rx_srtt == 0) {
        k->rx_srtt = rtt;
        k->rx_rttval = rtt / 2;
    } else {
        int32_t delta = rtt - k->rx_srtt;
        if (delta < 0) delta = -delta;
        k->rx_rttval = (3 * k->rx_rttval + delta) / 4;
        k->rx_srtt = (7 * k->rx_srtt + rtt) / 8;
        if (k->rx_srtt < 1) k->rx_srtt = 1;
    }
    int32_t var4 = 4 * k->rx_rttval;
    int32_t rto = k->rx_srtt + ((int32_t)k->interval > var4 ? (int32_t)k->interval : var4);
    if (rto < k->rx_minrto) rto = k->rx_minrto;
    if (rto > KCP_RTO_MAX) rto = KCP_RTO_MAX;
    k->rx_rto = rto;
}

static void shrink_buf(kcp_core *k)
{
    k->snd_una = list_empty(&k->snd_buf) ? k->snd_nxt : SEG(k->snd_buf.next)->sn;
}

static void drop_sent(kcp_core *k, kcp_seg *s)
{
    list_del(&s->link);
    k->nsnd_buf--;
    k->send_bytes -= s->len;
    free(s);
}

static void parse_ack(kcp_core *k, uint32_t sn)
{
    if (tdiff(sn, k->snd_una) < 0 || tdiff(sn, k->snd_nxt) >= 0) return;
    for (struct list_link *l = k->snd_buf.next; l != &k->snd_buf; l = l->next) {
        kcp_seg *s = SEG(l);
        if (s->sn == sn) {
            drop_sent(k, s);
            break;
        }
        if (tdiff(sn, s->sn) < 0) break;
    }
}

static void parse_una(kcp_core *k, uint32_t una)
{
    while (!list_empty(&k->snd_buf)) {
        kcp_seg *s = SEG(k->snd_buf.next);
        if (tdiff(una, s->sn) <= 0) break;
        drop_sent(k, s);
    }
}

static void parse_fastack(kcp_core *k, uint32_t sn)
{
    if (tdiff(sn, k->snd_una) < 0 || tdiff(sn, k->snd_nxt) >= 0) return;
    for (struct list_link *l = k->snd_buf.next; l != &k->snd_buf; l = l->next) {
        kcp_seg *s = SEG(l);
        if (tdiff(sn, s->sn) < 0) break;
        if (sn != s->sn) s->fastack++;
    }
}

static void ack_push(kcp_core *k, uint32_t sn, uint32_t ts)
{
    if (k->ackcount >= KCP_ACKLIST_MAX) return; /* the peer will resend */
    k->acklist[2 * k->ackcount] = sn;
    k->acklist[2 * k->ackcount + 1] = ts;
    k->ackcount++;
}

/* Stores a received PUSH segment (sn inside the window) unless it is a duplicate. */
static int parse_data(kcp_core *k, uint32_t sn, const uint8_t *data, uint32_t len)
{
    if (tdiff(sn, k->rcv_nxt + k->rcv_wnd) >= 0 || tdiff(sn, k->rcv_nxt) < 0) return 0;
    struct list_link *pos = &k->rcv_buf; /* insert before pos */
    for (struct list_link *l = k->rcv_buf.prev; l != &k->rcv_buf; l = l->prev) {
        kcp_seg *s = SEG(l);
        if (s->sn == sn) return 0;
        if (tdiff(sn, s->sn) > 0) break;
        pos = l;
    }
    kcp_seg *s = seg_new(len);
    if (!s) return UV_ENOMEM;
    s->sn = sn;
    s->len = len;
    memcpy(s->data, data, len);
    list_push(pos, &s->link);
    k->nrcv_buf++;
    move_ready(k);
    return 0;
}

int kcp_core_input(kcp_core *k, const uint8_t *data, size_t size, uint32_t now)
{
    k->current = now;
    uint32_t prev_una = k->snd_una, maxack = 0;
    bool have_ack = false;
    if (size < KCP_OVERHEAD) return CFRP_EPROTO;
    int rc = 0;
    while (size >= KCP_OVERHEAD) {
        uint32_t conv = get32(data);
        uint8_t cmd = data[4];
        uint32_t wnd = (uint32_t)data[6] | (uint32_t)data[7] << 8;
        uint32_t ts = get32(data + 8), sn = get32(data + 12), una = get32(data + 16);
        uint32_t len = get32(data + 20);
        data += KCP_OVERHEAD;
        size -= KCP_OVERHEAD;
        if (conv != k->conv || size < len || cmd < KCP_CMD_PUSH || cmd > KCP_CMD_WINS) {
            rc = CFRP_EPROTO;
            break;
        }
        k->rmt_wnd = wnd;
        parse_una(k, una);
        shrink_buf(k);
        if (cmd == KCP_CMD_ACK) {
            if (tdiff(k->current, ts) >= 0) update_ack(k, tdiff(k->current, ts));
            parse_ack(k, sn);
            shrink_buf(k);
            if (!have_ack || tdiff(sn, maxack) > 0) maxack = sn;
            have_ack = true;
        } else if (cmd == KCP_CMD_PUSH) {
            if (tdiff(sn, k->rcv_nxt + k->rcv_wnd) < 0) {
                ack_push(k, sn, ts);
                rc = parse_data(k, sn, data, len);
                if (rc) break;
            }
        } else if (cmd == KCP_CMD_WASK) {
            k->probe |= KCP_ASK_TELL;
        }
        data += len;
        size -= len;
    }
    if (have_ack) parse_fastack(k, maxack);
    if (tdiff(k->snd_una, prev_una) > 0 && k->cwnd < k->rmt_wnd) { /* congestion window */
        uint32_t mss = k->mss;
        if (k->cwnd < k->ssthresh) {
            k->cwnd++;
            k->incr += mss;
        } else {
            if (k->incr < mss) k->incr = mss;
            k->incr += (mss * mss) / k->incr + (mss / 16);
            if ((k->cwnd + 1) * mss <= k->incr) k->cwnd = (k->incr + mss - 1) / mss;
        }
        if (k->cwnd > k->rmt_wnd) {
            k->cwnd = k->rmt_wnd;
            k->incr = k->rmt_wnd * mss;
        }
    }
    return rc;
}

static uint32_t wnd_unused(const kcp_core *k)
{
    return k->nrcv_que < k->rcv_wnd ? k->rcv_wnd - k->nrcv_que : 0;
}

/* Output packet under construction: k->buffer[reserved .. reserved + *fill). */
static void emit(kcp_core *k, size_t *fill)
{
    if (*fill == 0) return;
    k->output(k->buffer, k->reserved + *fill, k->arg);
    *fill = 0;
}

static void put_seg(kcp_core *k, size_t *fill, uint32_t cmd, uint32_t wnd, uint32_t ts, uint32_t sn,
                    const uint8_t *data, uint32_t len)
{
    if (*fill + KCP_OVERHEAD + len > k->mtu) emit(k, fill);
    uint8_t *p = k->buffer + k->reserved + *fill;
    put32(p, k->conv);
    p[4] = (uint8_t)cmd;
    p[5] = 0;            /* frg: always 0 in stream mode */
    p[6] = (uint8_t)wnd; /* wnd <= KCP_WND_MAX fits 16 bits */
    p[7] = (uint8_t)(wnd >> 8);
    put32(p + 8, ts);
    put32(p + 12, sn);
    put32(p + 16, k->rcv_nxt);
    put32(p + 20, len);
    if (len) memcpy(p + KCP_OVERHEAD, data, len);
    *fill += KCP_OVERHEAD + len;
}

void kcp_core_flush(kcp_core *k)
{
    size_t fill = 0;
    uint32_t wnd = wnd_unused(k);
    for (uint32_t i = 0; i < k->ackcount; i++)
        put_seg(k, &fill, KCP_CMD_ACK, wnd, k->acklist[2 * i + 1], k->acklist[2 * i], NULL, 0);
    k->ackcount = 0;

    if (k->rmt_wnd == 0) { /* peer's window is closed: probe it now and then */
        if (k->probe_wait == 0) {
            k->probe_wait = KCP_PROBE_INIT;
            k->ts_probe = k->current + k->probe_wait;
        } else if (tdiff(k->current, k->ts_probe) >= 0) {
            k->probe_wait += k->probe_wait / 2;
            if (k->probe_wait > KCP_PROBE_LIMIT) k->probe_wait = KCP_PROBE_LIMIT;
            k->ts_probe = k->current + k->probe_wait;
            k->probe |= KCP_ASK_SEND;
        }
    } else {
        k->ts_probe = 0;
        k->probe_wait = 0;
    }
    if (k->probe & KCP_ASK_SEND) put_seg(k, &fill, KCP_CMD_WASK, wnd, 0, 0, NULL, 0);
    if (k->probe & KCP_ASK_TELL) put_seg(k, &fill, KCP_CMD_WINS, wnd, 0, 0, NULL, 0);
    k->probe = 0;

    uint32_t cwnd = umin(k->snd_wnd, k->rmt_wnd);
    if (!k->nocwnd) cwnd = umin(k->cwnd, cwnd);
    while (tdiff(k->snd_nxt, k->snd_una + cwnd) < 0 && !list_empty(&k->snd_queue)) {
        kcp_seg *s = SEG(k->snd_queue.next);
        list_del(&s->link);
        k->nsnd_que--;
        s->conv = k->conv;
        s->cmd = KCP_CMD_PUSH;
        s->sn = k->snd_nxt++;
        s->xmit = 0;
        s->fastack = 0;
        list_push(&k->snd_buf, &s->link);
        k->nsnd_buf++;
    }

    uint32_t resent = k->fastresend > 0 ? (uint32_t)k->fastresend : 0xFFFFFFFFu;
    uint32_t rtomin = k->nodelay == 0 ? (uint32_t)(k->rx_rto >> 3) : 0;
    bool lost = false, change = false;
    for (struct list_link *l = k->snd_buf.next; l != &k->snd_buf; l = l->next) {
        kcp_seg *s = SEG(l);
        bool send = false;
        if (s->xmit == 0) {
            send = true;
            s->rto = (uint32_t)k->rx_rto;
            s->resendts = k->current + s->rto + rtomin;
        } else if (tdiff(k->current, s->resendts) >= 0) {
            send = true;
            if (k->nodelay == 0)
                s->rto += umax(s->rto, (uint32_t)k->rx_rto);
            else
                s->rto += (uint32_t)k->rx_rto / 2;
            s->resendts = k->current + s->rto;
            lost = true;
        } else if (s->fastack >= resent) {
            send = true;
            s->fastack = 0;
            s->resendts = k->current + s->rto;
            change = true;
        }
        if (!send) continue;
        s->xmit++;
        s->ts = k->current;
        put_seg(k, &fill, KCP_CMD_PUSH, wnd, s->ts, s->sn, s->data, s->len);
    }
    emit(k, &fill);

    if (change) {
        uint32_t inflight = k->snd_nxt - k->snd_una;
        k->ssthresh = umax(inflight / 2, KCP_THRESH_MIN);
        k->cwnd = k->ssthresh + resent;
        k->incr = k->cwnd * k->mss;
    }
    if (lost) {
        k->ssthresh = umax(cwnd / 2, KCP_THRESH_MIN);
        k->cwnd = 1;
        k->incr = k->mss;
    }
    if (k->cwnd < 1) {
        k->cwnd = 1;
        k->incr = k->mss;
    }
}

void kcp_core_update(kcp_core *k, uint32_t now)
{
    k->current = now;
    if (!k->updated) {
        k->updated = true;
        k->ts_flush = now;
    }
    int32_t slap = tdiff(now, k->ts_flush);
    if (slap >= 10000 || slap < -10000) {
        k->ts_flush = now;
        slap = 0;
    }
    if (slap >= 0) {
        k->ts_flush += k->interval;
        if (tdiff(now, k->ts_flush) >= 0) k->ts_flush = now + k->interval;
        kcp_core_flush(k);
    }
}
