/* yamux internals shared by yamux_session.c (carrier side: parsing, sending, timers)
 * and yamux_stream.c (the stream_ops of one yamux stream). Not for other modules. */
#ifndef CFRP_MUX_YAMUX_INTERNAL_H
#define CFRP_MUX_YAMUX_INTERNAL_H

#include "mux/yamux.h"

typedef struct yamux_stream yamux_stream;

/* One stream_write() call. Owned by its stream's send queue, then by the batch that
 * carries its last byte, then freed after its callback ran. */
typedef struct ys_wreq {
    struct ys_wreq *next;
    yamux_stream *st;
    stream_write_cb cb;
    void *arg;
    int status;   /* for requests on the stream's done list */
    size_t left;  /* bytes not yet framed */
    size_t nbufs;
    size_t idx;   /* first buffer with bytes left; bufs[idx] shrinks as it is framed */
    buf_ref bufs[]; /* owned */
} ys_wreq;

/* A node of a stream's receive queue (owns its buf_ref). */
typedef struct ys_rbuf {
    struct ys_rbuf *next;
    buf_ref ref;
} ys_rbuf;

/* A timeout list (open: SYN sent, no ACK; close: we closed, no FIN from the peer).
 * The timeout is the same for every member, so appending keeps it sorted. */
typedef struct ys_tlist {
    yamux_stream *head, *tail;
} ys_tlist;

enum ys_tl { YS_TL_NONE, YS_TL_OPEN, YS_TL_CLOSE };

/* A yamux stream. Allocated by the session; the application owns it from open/accept
 * until stream_close(); the session frees it once it is closed by the application (or
 * was never handed out), gone from the session's map, and no callback or batch refers
 * to it. */
struct yamux_stream {
    stream base; /* first: a yamux_stream is a stream */
    yamux_session *sess; /* always valid: the session outlives its streams */
    uint32_t id;

    yamux_stream *hnext;               /* hash chain of sess->map */
    yamux_stream *rprev, *rnext;       /* sess ready list (data to send, window open) */
    yamux_stream *dnext;               /* sess deferred-work list */
    yamux_stream *tprev, *tnext;       /* an open/close timeout list */
    yamux_stream *qnext;               /* sess backlog or SYN-wait list */
    uint64_t deadline;                 /* of the timeout list it is on */
    uint8_t tl;                        /* enum ys_tl */

    bool in_map, in_ready, in_defer, in_queue;
    bool outbound;      /* we opened it */
    bool syn_sent;      /* outbound: the SYN is queued (else waiting for a slot) */
    bool acked;         /* outbound: the peer's ACK arrived */
    bool app_owned;     /* handed to the application */
    bool app_closed;    /* the application called close */
    bool close_cb_done; /* on_close ran (or there was none to run) */
    bool reading;
    bool shutdown_req;  /* FIN to send once the send queue is empty */
    bool fin_sent, fin_recv;
    bool reset;         /* RST sent or received */
    bool eof_delivered, err_delivered;
    bool detached;      /* the session ended under it */
    unsigned busy;      /* callbacks running with this stream on the C stack */

    uint32_t recv_window; /* bytes the peer may still send */
    uint64_t send_window; /* bytes we may still send */

    ys_rbuf *rq_head, *rq_tail; /* received, not yet delivered */
    size_t rq_bytes;

    ys_wreq *sq_head, *sq_tail; /* accepted by write(), not fully framed */
    size_t sq_bytes;
    ys_wreq *done_head, *done_tail; /* callbacks to run from the deferred phase */
    unsigned inflight_reqs;         /* fully framed, carried by a batch in flight */
};

/* Header bytes of one queued control frame. */
typedef struct ys_ctl {
    uint8_t b[YAMUX_HEADER_SIZE];
} ys_ctl;

/* A session. Owned by the application until yamux_session_close() or its end; then it
 * frees itself once the carrier is closed, on_close ran and all streams are freed. */
struct yamux_session {
    uv_loop_t *loop;
    stream *inner; /* owned; closed at the end */
    struct yamux_config cfg;
    bool client;
    uint32_t next_id;
    yamux_accept_cb on_accept;
    yamux_close_cb on_close;
    void *data;

    yamux_stream **map; /* id -> stream, chained; nbuckets is a power of two */
    size_t nbuckets, nmap;
    size_t nstreams; /* allocated streams, in the map or not */

    /* receive parser */
    uint8_t hbuf[YAMUX_HEADER_SIZE];
    size_t hlen;
    uint32_t payload_left; /* of the Data frame being received */
    uint32_t payload_id;   /* its stream (looked up per piece; gone: discard) */
    bool payload_fin;      /* apply FIN when the payload is complete */

    /* send side */
    ys_ctl *ctl; /* ring of control frames */
    size_t ctl_head, ctl_len, ctl_cap;
    yamux_stream *ready_head, *ready_tail;
    size_t inflight_bytes;  /* handed to inner, write callback pending */
    unsigned inflight_batches;
    uint64_t last_progress; /* loop time of the last completed inner write */
    bool inner_read_paused; /* control queue too long: stopped reading inner */

    /* deferred work (run from the check phase) */
    yamux_stream *defer_head, *defer_tail;
    uv_check_t check;
    uv_idle_t idle; /* keeps the loop from blocking while work is deferred */
    bool deferred_on;
    uv_timer_t timer;
    uint64_t timer_at; /* armed deadline, 0 = none */
    unsigned handles_open;

    ys_tlist open_list, close_list;
    uint32_t syn_inflight; /* our SYNs without ACK */
    yamux_stream *synwait_head, *synwait_tail;
    yamux_stream *backlog_head, *backlog_tail;
    uint32_t backlog_len;
    bool accepting;

    /* keep-alive */
    uint32_t ping_counter;
    uint32_t ping_id;
    bool ping_out;
    uint64_t ping_deadline, next_ping;

    bool local_goaway, remote_goaway;
    bool dead;          /* ended: no more frames in or out */
    bool inner_closed;  /* the carrier's close callback ran */
    bool app_released;  /* yamux_session_close() called or on_close ran */
    int status;         /* why it ended */
    bool freeing;       /* its handles are closing */
    unsigned busy;      /* callbacks running with this session on the C stack */
};

/* session side, used by the streams */
void ys_sess_hold(yamux_session *s);
void ys_sess_unhold(yamux_session *s);
void ys_schedule(yamux_session *s);
/* Ends the session (no-op if it has ended): streams detach, the carrier is closed. */
void ys_sess_fail(yamux_session *s, int status);
void ys_defer(yamux_stream *st);
void ys_ctl_push(yamux_session *s, uint8_t type, uint16_t flags, uint32_t id, uint32_t len);
void ys_make_ready(yamux_stream *st);
void ys_unmap(yamux_stream *st);
void ys_tl_add(yamux_stream *st, enum ys_tl which);
void ys_tl_remove(yamux_stream *st);
void ys_timer_update(yamux_session *s);
void ys_maybe_free_stream(yamux_stream *st);

/* stream side, used by the session */
yamux_stream *ys_stream_new(yamux_session *s, uint32_t id);
void ys_stream_free(yamux_stream *st);
void ys_stream_recv(yamux_stream *st, buf_ref piece);
void ys_stream_deliver(yamux_stream *st);
void ys_stream_run_deferred(yamux_stream *st);
void ys_stream_cancel_writes(yamux_stream *st, int status);
void ys_stream_send_fin(yamux_stream *st);
void ys_stream_window_update(yamux_stream *st, uint16_t flags);
void ys_req_complete(ys_wreq *r, int status);

#endif
