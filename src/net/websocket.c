/* WebSocket handshake and framing as a stream filter (see websocket.h).
 *
 * Reading: the stream below is read only while the handshake runs or the reader wants
 * data, and only while no earlier read is left over (pend), so at most one read of the
 * stream below is held. ws_process() parses frame headers (kept in hdr until whole),
 * collects control payloads (at most 125 bytes) and hands data payload slices to the
 * reader as they come, unmasked in place when the chunk has no other reference. It runs
 * from the read callback below and from an idle handle (after read_start, so the reader
 * is never called from inside read_start). */
#include "net/websocket.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/err.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_TOO_BIG 1009
/* Header of the largest frame: 2 + 8 length bytes + 4 mask bytes. */
#define WS_HDR_MAX 14
/* Buffers per write kept on the stack (more are allocated). */
#define WS_STACK_BUFS 16
/* Upper bounds of the request's host and path (ws_client_new). */
#define WS_HOST_MAX 512
#define WS_PATH_MAX 1024

/* A write made by the user: waiting for the handshake (bufs held, n > 0) or passed
 * below with this as the callback argument (n = 0). Owned by whoever holds it. */
typedef struct ws_wreq {
    struct ws_wreq *next;
    struct ws_stream *ws;
    stream_write_cb cb;
    void *arg;
    size_t n;
    buf_ref bufs[];
} ws_wreq;

/* Owned by the user until close(); then by itself, freed when both the idle handle
 * and the stream below have finished closing. */
typedef struct ws_stream {
    stream base;
    stream *below; /* owned */
    uv_idle_t idle;
    bool client;
    /* client handshake */
    ws_handshake_cb hs_cb;
    void *hs_arg;
    char accept[WS_ACCEPT_LEN + 1]; /* the Sec-WebSocket-Accept we expect */
    char *hbuf;                     /* response head so far; owned, WS_RESPONSE_MAX */
    size_t hlen;
    bool hs_done, hs_reported;
    ws_wreq *wait_head, *wait_tail; /* writes waiting for the handshake */
    size_t wait_bytes;
    /* reading */
    buf_ref pend; /* bytes read below and not yet parsed; owned */
    uint8_t hdr[WS_HDR_MAX];
    size_t hdr_len;
    bool in_payload; /* hdr was parsed: payload bytes follow */
    uint8_t opcode;
    bool masked;
    uint8_t key[4];
    unsigned key_pos; /* mask offset of the next payload byte */
    uint64_t left;    /* payload bytes of the current frame still to come */
    uint8_t ctl[WS_MAX_CONTROL];
    size_t ctl_len;
    bool reading, below_reading, below_eof, eof_delivered;
    bool failed, error_delivered;
    int error;
    bool close_sent, shut_wanted, closing;
    int pending_closes; /* idle handle and stream below, while closing */
} ws_stream;

static void ws_process(ws_stream *ws);

/* ---- helpers ---- */

int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    char in[WS_KEY_MAX + sizeof WS_GUID];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (key_len > WS_KEY_MAX) return CFRP_EINVAL;
    memcpy(in, key, key_len);
    memcpy(in + key_len, WS_GUID, sizeof WS_GUID - 1);
    if (EVP_Digest(in, key_len + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
        mdlen != 20)
        return CFRP_EPROTO;
    EVP_EncodeBlock((unsigned char *)out, md, mdlen);
    out[WS_ACCEPT_LEN] = '\0';
    return 0;
}

static void ws_on_idle(uv_idle_t *h)
{
    ws_stream *ws = h->data;
    uv_idle_stop(h);
    ws_process(ws);
}

static void ws_kick(ws_stream *ws)
{
    if (!ws->closing) uv_idle_start(&ws->idle, ws_on_idle);
}

static void ws_on_below_write(stream *below, int status, void *arg)
{
    ws_wreq *w = arg;
    if (w->cb) w->cb(&w->ws->base, status, w->arg);
    free(w);
}

/* XORs len bytes at p with the mask key, starting at key offset *pos. */
static void ws_mask(uint8_t *p, size_t len, const uint8_t key[4], unsigned *pos)
{
    unsigned k = *pos;
    for (size_t i = 0; i < len; i++, k = (k + 1) & 3)
        p[i] ^= key[k];
    *pos = k;
}

/* Writes one frame (FIN set) with the payload in bufs (taken, also on error); w (may
 * be NULL) completes with the write below. Client frames are masked into one new
 * chunk; server frames pass the caller's chunks on behind a header chunk. Returns 0 or
 * a negative code (w is then freed without its callback running). */
static int ws_send_frame(ws_stream *ws, uint8_t opcode, buf_ref *bufs, size_t n, ws_wreq *w)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += bufs[i].len;
    uint8_t h[WS_HDR_MAX];
    size_t hl = 2;
    h[0] = (uint8_t)(0x80 | opcode);
    if (total <= 125) {
        h[1] = (uint8_t)total;
    } else if (total <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(total >> 8);
        h[3] = (uint8_t)total;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)(total >> (56 - 8 * i));
        hl = 10;
    }
    int rc = 0;
    buf_ref stack[WS_STACK_BUFS];
    buf_ref *out = stack;
    size_t nout = 0;
    if (ws->client) {
        h[1] |= 0x80;
        uint8_t *key = h + hl;
        hl += 4;
        buf_chunk *c = NULL;
        if (RAND_bytes(key, 4) != 1)
            rc = CFRP_EPROTO;
        else if (!(c = buf_chunk_alloc(hl + total)))
            rc = UV_ENOMEM;
        if (rc == 0) {
            memcpy(c->data, h, hl);
            size_t off = hl;
            unsigned pos = 0;
            for (size_t i = 0; i < n; i++) {
                memcpy(c->data + off, bufs[i].base, bufs[i].len);
                ws_mask((uint8_t *)c->data + off, bufs[i].len, key, &pos);
                off += bufs[i].len;
            }
            out[nout++] = buf_ref_make(c, 0, off);
        }
        for (size_t i = 0; i < n; i++)
            buf_ref_release(&bufs[i]);
    } else {
        if (n + 1 > WS_STACK_BUFS) out = malloc((n + 1) * sizeof *out);
        if (out) out[0] = buf_ref_copy(h, hl);
        if (!out || !out[0].chunk) {
            rc = UV_ENOMEM;
            for (size_t i = 0; i < n; i++)
                buf_ref_release(&bufs[i]);
        } else {
            nout = 1;
            for (size_t i = 0; i < n; i++) {
                out[nout++] = bufs[i];
                bufs[i] = (buf_ref){0};
            }
        }
    }
    if (rc == 0) {
        rc = stream_write(ws->below, out, nout, w ? ws_on_below_write : NULL, w);
        w = rc ? w : NULL; /* on success the write below owns w */
    }
    if (out != stack) free(out);
    free(w);
    return rc;
}

/* A control frame with a small payload, best effort (no callback). */
static int ws_send_control(ws_stream *ws, uint8_t opcode, const void *payload, size_t len)
{
    buf_ref r = {0};
    if (len > 0) {
        r = buf_ref_copy(payload, len);
        if (!r.chunk) return UV_ENOMEM;
    }
    return ws_send_frame(ws, opcode, &r, len > 0 ? 1 : 0, NULL);
}

static void ws_send_close(ws_stream *ws, unsigned code)
{
    if (ws->close_sent || !ws->hs_done) return;
    ws->close_sent = true;
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    ws_send_control(ws, WS_OP_CLOSE, p, sizeof p);
}

static void ws_fail_waiting(ws_stream *ws, int status)
{
    while (ws->wait_head) {
        ws_wreq *w = ws->wait_head;
        ws->wait_head = w->next;
        for (size_t k = 0; k < w->n; k++)
            buf_ref_release(&w->bufs[k]);
        if (w->cb) w->cb(&ws->base, status, w->arg);
        free(w);
    }
    ws->wait_tail = NULL;
    ws->wait_bytes = 0;
}

static void ws_want_below(ws_stream *ws);

/* A fatal error: the handshake callback gets it if the handshake was not reported
 * yet, and the reader gets it as a read error (now or at its next read_start). */
static void ws_fail(ws_stream *ws, int code, const char *text)
{
    if (ws->failed || ws->closing) return;
    ws->failed = true;
    ws->error = code;
    buf_ref_release(&ws->pend);
    ws_want_below(ws);
    ws_fail_waiting(ws, code);
    if (!ws->hs_reported && ws->hs_cb) {
        ws->hs_reported = true;
        ws->hs_cb(&ws->base, code, text, ws->hs_arg);
    }
    ws->hs_reported = true;
    ws_kick(ws);
}

/* A broken peer: Close with code (as Go answers), then fail. */
static void ws_protocol_error(ws_stream *ws, unsigned code)
{
    ws_send_close(ws, code);
    ws_fail(ws, code == WS_CLOSE_TOO_BIG ? CFRP_ETOOBIG : CFRP_EPROTO, "protocol error");
}

static void ws_below_read(stream *below, ssize_t nread, buf_ref data);

static void ws_want_below(ws_stream *ws)
{
    bool want = !ws->closing && !ws->failed && !ws->below_eof && !ws->eof_delivered &&
                ws->pend.len == 0 && (!ws->hs_done || ws->reading);
    if (want == ws->below_reading) return;
    ws->below_reading = want;
    int rc = want ? stream_read_start(ws->below, ws_below_read) : stream_read_stop(ws->below);
    if (rc && want) ws_fail(ws, rc, "read error");
}

/* ---- client handshake ---- */

/* The first value of header name in the response head (lines after the status line),
 * trimmed; false if absent. */
static bool ws_resp_header(const char *head, size_t len, const char *name, const char **v,
                           size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = memchr(head, '\n', len);
    const char *end = head + len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        const char *le = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon && (size_t)(colon - line) == nlen && strncasecmp(line, name, nlen) == 0) {
            const char *a = colon + 1, *b = le;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            *v = a;
            *vlen = (size_t)(b - a);
            return true;
        }
        p = eol;
    }
    return false;
}

static bool ws_value_is(const char *v, size_t vlen, const char *want)
{
    return vlen == strlen(want) && strncasecmp(v, want, vlen) == 0;
}

/* Checks a complete response head as x/net's hybiClientHandshake does. Returns NULL or
 * the error text. */
static const char *ws_check_response(const ws_stream *ws, const char *h, size_t len)
{
    /* "HTTP/1.x SSS ..." */
    if (len < 12 || memcmp(h, "HTTP/", 5) != 0) return "malformed HTTP response";
    const char *sp = memchr(h, ' ', len);
    if (!sp || (size_t)(h + len - sp) < 4) return "malformed HTTP response";
    if (memcmp(sp + 1, "101", 3) != 0 || (sp[4] != ' ' && sp[4] != '\r')) return "bad status";
    const char *v;
    size_t vl;
    if (!ws_resp_header(h, len, "Upgrade", &v, &vl) || !ws_value_is(v, vl, "websocket") ||
        !ws_resp_header(h, len, "Connection", &v, &vl) || !ws_value_is(v, vl, "upgrade"))
        return "missing or bad upgrade";
    if (!ws_resp_header(h, len, "Sec-WebSocket-Accept", &v, &vl) || vl != WS_ACCEPT_LEN ||
        memcmp(v, ws->accept, WS_ACCEPT_LEN) != 0)
        return "mismatch challenge/response";
    if (ws_resp_header(h, len, "Sec-WebSocket-Extensions", &v, &vl) && vl > 0)
        return "unsupported extensions";
    if (ws_resp_header(h, len, "Sec-WebSocket-Protocol", &v, &vl) && vl > 0)
        return "missing or bad WebSocket-Protocol";
    return NULL;
}

static void ws_handshake_done(ws_stream *ws)
{
    ws->hs_done = true;
    free(ws->hbuf);
    ws->hbuf = NULL;
    while (ws->wait_head && !ws->failed && !ws->closing) {
        ws_wreq *w = ws->wait_head;
        ws->wait_head = w->next;
        if (!ws->wait_head) ws->wait_tail = NULL;
        size_t n = w->n;
        for (size_t k = 0; k < n; k++)
            ws->wait_bytes -= w->bufs[k].len;
        w->n = 0;
        stream_write_cb cb = w->cb;
        void *arg = w->arg;
        int rc = ws_send_frame(ws, WS_OP_TEXT, w->bufs, n, w);
        if (rc) {
            if (cb) cb(&ws->base, rc, arg);
            ws_fail(ws, rc, "write error");
        }
    }
    if (ws->shut_wanted && !ws->failed && !ws->closing) {
        ws_send_close(ws, WS_CLOSE_NORMAL);
        stream_shutdown(ws->below);
    }
    if (!ws->hs_reported && !ws->closing) {
        ws->hs_reported = true;
        if (ws->hs_cb) ws->hs_cb(&ws->base, 0, NULL, ws->hs_arg);
    }
}

/* Takes response head bytes from pend; completes or fails the handshake at its end. */
static void ws_hs_feed(ws_stream *ws)
{
    size_t old = ws->hlen;
    size_t take = ws->pend.len;
    if (take > WS_RESPONSE_MAX - old) take = WS_RESPONSE_MAX - old;
    memcpy(ws->hbuf + old, ws->pend.base, take);
    ws->hlen += take;
    size_t from = old >= 3 ? old - 3 : 0;
    size_t end = 0;
    for (size_t i = from; i + 4 <= ws->hlen; i++) {
        if (memcmp(ws->hbuf + i, "\r\n\r\n", 4) == 0) {
            end = i + 4;
            break;
        }
    }
    if (end == 0) {
        ws->pend.base += take;
        ws->pend.len -= take;
        if (ws->hlen == WS_RESPONSE_MAX) ws_fail(ws, CFRP_ETOOBIG, "response head too large");
        return;
    }
    ws->pend.base += end - old;
    ws->pend.len -= end - old;
    const char *why = ws_check_response(ws, ws->hbuf, end);
    if (why) {
        ws_fail(ws, CFRP_EPROTO, why);
        return;
    }
    ws_handshake_done(ws);
}

/* ---- frames ---- */

/* Bytes of the frame header whose first hdr_len bytes are in hdr. */
static size_t ws_hdr_need(const ws_stream *ws)
{
    if (ws->hdr_len < 2) return 2;
    uint8_t l7 = ws->hdr[1] & 0x7f;
    return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((ws->hdr[1] & 0x80) ? 4 : 0);
}

/* The header in hdr is whole: validate it and start its payload. 0 or -1 (failed). */
static int ws_hdr_parse(ws_stream *ws)
{
    const uint8_t *h = ws->hdr;
    uint8_t op = h[0] & 0x0f;
    bool fin = h[0] & 0x80;
    ws->masked = h[1] & 0x80;
    uint8_t l7 = h[1] & 0x7f;
    uint64_t len = l7;
    size_t at = 2;
    if (l7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
    }
    if (ws->masked) memcpy(ws->key, h + at, 4);
    bool control = op & 0x8;
    bool known = op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE ||
                 op == WS_OP_PING || op == WS_OP_PONG;
    if ((h[0] & 0x70) || !known || ws->masked == ws->client ||
        (control && (!fin || len > WS_MAX_CONTROL))) {
        ws_protocol_error(ws, WS_CLOSE_PROTOCOL);
        return -1;
    }
    if (len > WS_MAX_FRAME) {
        ws_protocol_error(ws, WS_CLOSE_TOO_BIG);
        return -1;
    }
    ws->opcode = op;
    ws->left = len;
    ws->key_pos = 0;
    ws->ctl_len = 0;
    ws->in_payload = true;
    ws->hdr_len = 0;
    return 0;
}

/* A control frame's payload is complete. */
static void ws_control_done(ws_stream *ws)
{
    if (ws->opcode == WS_OP_PING) {
        int rc = ws_send_control(ws, WS_OP_PONG, ws->ctl, ws->ctl_len);
        if (rc) ws_fail(ws, rc, "write error");
    } else if (ws->opcode == WS_OP_CLOSE) {
        buf_ref_release(&ws->pend);
        ws->eof_delivered = true;
        ws_want_below(ws);
        ws->base.on_read(&ws->base, UV_EOF, (buf_ref){0});
    }
}

/* Payload bytes at the front of pend (at most ws->left). */
static void ws_payload(ws_stream *ws)
{
    size_t take = ws->pend.len < ws->left ? ws->pend.len : (size_t)ws->left;
    ws->left -= take;
    if (ws->opcode & 0x8) {
        memcpy(ws->ctl + ws->ctl_len, ws->pend.base, take);
        if (ws->masked) ws_mask(ws->ctl + ws->ctl_len, take, ws->key, &ws->key_pos);
        ws->ctl_len += take;
        ws->pend.base += take;
        ws->pend.len -= take;
        if (ws->left == 0) {
            ws->in_payload = false;
            ws_control_done(ws);
        }
        return;
    }
    if (ws->left == 0) ws->in_payload = false;
    buf_ref out;
    if (ws->masked && ws->pend.chunk->refs > 1) {
        /* Someone else holds the chunk: unmask a copy. */
        out = buf_ref_copy(ws->pend.base, take);
        if (!out.chunk) {
            ws_fail(ws, UV_ENOMEM, "out of memory");
            return;
        }
        ws_mask((uint8_t *)out.base, take, ws->key, &ws->key_pos);
        ws->pend.base += take;
        ws->pend.len -= take;
    } else {
        if (ws->masked) ws_mask((uint8_t *)ws->pend.base, take, ws->key, &ws->key_pos);
        if (take == ws->pend.len) {
            out = ws->pend;
            ws->pend = (buf_ref){0};
        } else {
            out = buf_ref_dup(&ws->pend);
            out.len = take;
            ws->pend.base += take;
            ws->pend.len -= take;
        }
    }
    ws->base.on_read(&ws->base, (ssize_t)out.len, out);
}

static void ws_process(ws_stream *ws)
{
    if (ws->closing) return;
    if (ws->failed) {
        if (ws->reading && !ws->error_delivered) {
            ws->error_delivered = true;
            ws->base.on_read(&ws->base, ws->error, (buf_ref){0});
        }
        return;
    }
    while (ws->pend.len > 0 && !ws->closing && !ws->failed && !ws->eof_delivered) {
        if (!ws->hs_done) {
            ws_hs_feed(ws);
            continue;
        }
        if (!ws->reading) break;
        if (ws->in_payload) {
            ws_payload(ws);
            continue;
        }
        size_t need = ws_hdr_need(ws);
        while (ws->hdr_len < need && ws->pend.len > 0) {
            ws->hdr[ws->hdr_len++] = (uint8_t)*ws->pend.base;
            ws->pend.base++;
            ws->pend.len--;
            need = ws_hdr_need(ws);
        }
        if (ws->hdr_len == need && ws_hdr_parse(ws) == 0 && ws->left == 0) {
            ws->in_payload = false;
            if (ws->opcode & 0x8) ws_control_done(ws);
        }
    }
    if (ws->closing) return;
    if (ws->failed) {
        ws_process(ws); /* the reader hears of it */
        return;
    }
    if (ws->pend.chunk && ws->pend.len == 0) buf_ref_release(&ws->pend);
    if (ws->below_eof && ws->pend.len == 0 && !ws->eof_delivered) {
        if (!ws->hs_done) {
            ws_fail(ws, UV_EOF, ws->hlen ? "unexpected EOF" : "EOF");
            return;
        }
        if (ws->reading) {
            ws->eof_delivered = true;
            ws->base.on_read(&ws->base, UV_EOF, (buf_ref){0});
            return;
        }
    }
    ws_want_below(ws);
}

static void ws_below_read(stream *below, ssize_t nread, buf_ref data)
{
    ws_stream *ws = below->data;
    if (nread < 0) {
        buf_ref_release(&data);
        ws->below_reading = false;
        if (nread != UV_EOF) {
            ws_fail(ws, (int)nread, "read error");
            return;
        }
        ws->below_eof = true;
    } else if (ws->pend.len == 0) {
        buf_ref_release(&ws->pend);
        ws->pend = data;
    } else {
        /* The stream below read once more after read_stop: join the two. */
        buf_ref j = {0};
        buf_chunk *c = buf_chunk_alloc(ws->pend.len + data.len);
        if (c) {
            memcpy(c->data, ws->pend.base, ws->pend.len);
            memcpy(c->data + ws->pend.len, data.base, data.len);
            j = buf_ref_make(c, 0, ws->pend.len + data.len);
        }
        buf_ref_release(&data);
        buf_ref_release(&ws->pend);
        if (!c) {
            ws_fail(ws, UV_ENOMEM, "out of memory");
            return;
        }
        ws->pend = j;
    }
    ws_process(ws);
}

/* ---- stream ops ---- */

static int ws_read_start(stream *s)
{
    ws_stream *ws = (ws_stream *)s;
    if (ws->closing) return CFRP_ECLOSED;
    ws->reading = true;
    ws_kick(ws);
    return 0;
}

static int ws_read_stop(stream *s)
{
    ws_stream *ws = (ws_stream *)s;
    ws->reading = false;
    if (ws->hs_done) ws_want_below(ws);
    return 0;
}

static int ws_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    ws_stream *ws = (ws_stream *)s;
    int rc = ws->closing ? CFRP_ECLOSED : ws->failed ? ws->error : ws->shut_wanted ? UV_EPIPE : 0;
    size_t nkeep = ws->hs_done ? 0 : nbufs;
    ws_wreq *w = NULL;
    if (rc == 0 && (cb || nkeep)) {
        w = malloc(sizeof *w + nkeep * sizeof(buf_ref));
        if (!w) rc = UV_ENOMEM;
    }
    if (rc) {
        for (size_t k = 0; k < nbufs; k++)
            buf_ref_release(&bufs[k]);
        return rc;
    }
    if (ws->hs_done) {
        if (w) *w = (ws_wreq){.ws = ws, .cb = cb, .arg = arg};
        return ws_send_frame(ws, WS_OP_TEXT, bufs, nbufs, w);
    }
    *w = (ws_wreq){.ws = ws, .cb = cb, .arg = arg, .n = nkeep};
    for (size_t k = 0; k < nbufs; k++) {
        w->bufs[k] = bufs[k];
        ws->wait_bytes += bufs[k].len;
        bufs[k] = (buf_ref){0};
    }
    if (ws->wait_tail)
        ws->wait_tail->next = w;
    else
        ws->wait_head = w;
    ws->wait_tail = w;
    return 0;
}

static int ws_shutdown(stream *s)
{
    ws_stream *ws = (ws_stream *)s;
    if (ws->closing) return CFRP_ECLOSED;
    if (ws->shut_wanted) return UV_EPIPE;
    ws->shut_wanted = true;
    if (!ws->hs_done) return 0; /* after the handshake and the waiting writes */
    ws_send_close(ws, WS_CLOSE_NORMAL);
    return stream_shutdown(ws->below);
}

static void ws_free_if_done(ws_stream *ws)
{
    if (--ws->pending_closes > 0) return;
    ws_fail_waiting(ws, UV_ECANCELED);
    if (ws->base.on_close) ws->base.on_close(&ws->base);
    buf_ref_release(&ws->pend);
    free(ws->hbuf);
    free(ws);
}

static void ws_on_idle_closed(uv_handle_t *h)
{
    ws_free_if_done(h->data);
}

static void ws_on_below_closed(stream *below)
{
    ws_free_if_done(below->data);
}

static void ws_close(stream *s)
{
    ws_stream *ws = (ws_stream *)s;
    if (ws->closing) return;
    if (!ws->failed) ws_send_close(ws, WS_CLOSE_NORMAL);
    ws->closing = true;
    ws->reading = false;
    ws->pending_closes = 2;
    uv_idle_stop(&ws->idle);
    uv_close((uv_handle_t *)&ws->idle, ws_on_idle_closed);
    ws->below->on_close = ws_on_below_closed;
    stream_close(ws->below);
}

static size_t ws_queued(const stream *s)
{
    const ws_stream *ws = (const ws_stream *)s;
    return ws->wait_bytes + stream_queued(ws->below);
}

static int ws_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    const stream *b = ((const ws_stream *)s)->below;
    return b->ops->peer_addr ? b->ops->peer_addr(b, addr) : UV_ENOTSUP;
}

static int ws_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    const stream *b = ((const ws_stream *)s)->below;
    return b->ops->local_addr ? b->ops->local_addr(b, addr) : UV_ENOTSUP;
}

static const struct stream_ops ws_ops = {
    .name = "websocket",
    .read_start = ws_read_start,
    .read_stop = ws_read_stop,
    .write = ws_write,
    .shutdown = ws_shutdown,
    .close = ws_close,
    .queued = ws_queued,
    .peer_addr = ws_peer_addr,
    .local_addr = ws_local_addr,
};

static ws_stream *ws_new(uv_loop_t *loop, stream *below, bool client)
{
    ws_stream *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->base.ops = &ws_ops;
    ws->below = below;
    ws->client = client;
    uv_idle_init(loop, &ws->idle);
    ws->idle.data = ws;
    return ws;
}

/* Hands below over to ws (only once nothing can fail any more). */
static void ws_adopt(ws_stream *ws, stream **out)
{
    ws->below->data = ws;
    ws->below->on_close = NULL;
    *out = &ws->base;
}

/* Frees a stream that was never handed out (its idle handle closes first). */
static void ws_discard_closed(uv_handle_t *h)
{
    ws_stream *ws = h->data;
    buf_ref_release(&ws->pend);
    free(ws->hbuf);
    free(ws);
}

static void ws_discard(ws_stream *ws)
{
    uv_close((uv_handle_t *)&ws->idle, ws_discard_closed);
}

static bool ws_text_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) return false;
    return true;
}

int ws_client_new(uv_loop_t *loop, stream *below, const char *host, const char *path,
                  ws_handshake_cb hs_cb, void *arg, stream **out)
{
    if (!ws_text_ok(host, WS_HOST_MAX) || !ws_text_ok(path, WS_PATH_MAX)) return CFRP_EINVAL;
    uint8_t nonce[16];
    char key[32];
    if (RAND_bytes(nonce, sizeof nonce) != 1) return CFRP_EPROTO;
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
    size_t hostlen = strlen(host);
    char origin[WS_HOST_MAX + 1];
    for (size_t i = 0; i <= hostlen; i++)
        origin[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
    char req[2 * WS_HOST_MAX + WS_PATH_MAX + 256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: "
                     "Upgrade\r\nSec-WebSocket-Key: %s\r\nOrigin: http://%s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, host, key, origin);
    ws_stream *ws = ws_new(loop, below, true);
    if (!ws) return UV_ENOMEM;
    ws->hbuf = malloc(WS_RESPONSE_MAX);
    if (!ws->hbuf) {
        ws_discard(ws);
        return UV_ENOMEM;
    }
    if (ws_accept_key(key, strlen(key), ws->accept) != 0) {
        ws_discard(ws);
        return CFRP_EPROTO;
    }
    ws->hs_cb = hs_cb;
    ws->hs_arg = arg;
    int rc = stream_write_copy(below, req, (size_t)n, NULL, NULL);
    if (rc) {
        ws_discard(ws);
        return rc;
    }
    ws_adopt(ws, out);
    ws_want_below(ws);
    return 0;
}

int ws_server_new(uv_loop_t *loop, stream *below, const void *prefix, size_t prefix_len,
                  stream **out)
{
    ws_stream *ws = ws_new(loop, below, false);
    if (!ws) return UV_ENOMEM;
    ws->hs_done = ws->hs_reported = true;
    if (prefix_len > 0) {
        ws->pend = buf_ref_copy(prefix, prefix_len);
        if (!ws->pend.chunk) {
            ws_discard(ws);
            return UV_ENOMEM;
        }
    }
    ws_adopt(ws, out);
    return 0;
}

/* ---- server handshake ---- */

static bool ws_str_is(struct ws_str s, const char *want)
{
    return s.p && ws_value_is(s.p, s.n, want);
}

/* Whether s, lower-cased, contains "upgrade" (x/net: strings.Contains). */
static bool ws_str_has_upgrade(struct ws_str s)
{
    for (size_t i = 0; s.p && i + 7 <= s.n; i++)
        if (strncasecmp(s.p + i, "upgrade", 7) == 0) return true;
    return false;
}

/* Go's url.ParseRequestURI acceptance, roughly: an absolute path, or a scheme
 * ([A-Za-z][A-Za-z0-9+.-]*) followed by ':'. */
static bool ws_origin_ok(struct ws_str o)
{
    if (!o.p || o.n == 0) return false;
    if (o.p[0] == '/') return true;
    if (!((o.p[0] | 0x20) >= 'a' && (o.p[0] | 0x20) <= 'z')) return false;
    for (size_t i = 1; i < o.n; i++) {
        char c = o.p[i];
        if (c == ':') return true;
        bool ok = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '-' || c == '.';
        if (!ok) return false;
    }
    return false;
}

/* Longest single subprotocol echoed back. */
#define WS_PROTOCOL_MAX 128

int ws_server_answer(const struct ws_upgrade_req *rq, char *out, size_t cap, size_t *out_len)
{
    int status = 101;
    const char *body = "";
    const char *extra = "";
    /* A single offered subprotocol, trimmed (x/net splits on ',' and trims). */
    const char *proto = NULL;
    size_t proto_len = 0;
    if (rq->protocol.p) {
        const char *a = rq->protocol.p, *b = a + rq->protocol.n;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            proto = a;
            proto_len = (size_t)(b - a);
        }
    }
    if (!ws_str_is(rq->upgrade, "websocket") || !ws_str_has_upgrade(rq->connection)) {
        status = 400;
        body = "not websocket protocol";
    } else if (!rq->key.p || rq->key.n == 0 || rq->key.n > WS_KEY_MAX) {
        status = 400;
        body = "mismatch challenge/response";
    } else if (!rq->version.p || rq->version.n != 2 || memcmp(rq->version.p, "13", 2) != 0) {
        status = 400;
        body = "missing or bad WebSocket Version";
        extra = "Sec-WebSocket-Version: 13\r\n";
    } else if (!ws_origin_ok(rq->origin)) {
        status = 403;
    } else if (proto && (memchr(proto, ',', proto_len) || proto_len > WS_PROTOCOL_MAX)) {
        status = 400;
    }
    int n;
    if (status == 101) {
        char accept[WS_ACCEPT_LEN + 1];
        if (ws_accept_key(rq->key.p, rq->key.n, accept) != 0) return CFRP_EINVAL;
        n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%.*s%s\r\n",
                     accept, proto ? "Sec-WebSocket-Protocol: " : "", proto ? (int)proto_len : 0,
                     proto ? proto : "", proto ? "\r\n" : "");
    } else {
        const char *text = status == 403 ? "Forbidden" : "Bad Request";
        n = snprintf(out, cap, "HTTP/1.1 %d %s\r\n%s\r\n%s", status, text, extra, body);
    }
    if (n < 0 || (size_t)n >= cap) return CFRP_ETOOBIG;
    *out_len = (size_t)n;
    return status;
}
