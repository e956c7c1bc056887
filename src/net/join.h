/* stream_join: pump bytes both ways between two streams until they are done.
 *
 * Backpressure: reading one side stops while the other side's queued() is above the
 * high-water mark and resumes when it falls to half of it (or nothing is in flight).
 * Read chunks are written onward as they are, so the pump allocates nothing per read.
 *
 * Ending, two modes:
 * - frp's (half_close = false, protocol.md 9.1): the first EOF on either side ends the
 *   join; once the bytes already read have been handed to the other side, both streams
 *   are closed.
 * - half-close (half_close = true): EOF on one side becomes shutdown() of the other
 *   (after the bytes before it); the join ends when both directions saw EOF.
 * Any read or write error ends the join at once. In every case the join closes both
 * streams, and its callback runs after both on_close callbacks, with the byte counts. */
#ifndef CFRP_NET_JOIN_H
#define CFRP_NET_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/stream.h"

#define JOIN_DEFAULT_HIGH_WATER (256 * 1024)

struct join_options {
    size_t high_water; /* bytes; 0: JOIN_DEFAULT_HIGH_WATER */
    bool half_close;
};

struct join_result {
    uint64_t a_to_b, b_to_a; /* bytes read from a and written to b, and the reverse */
    int status;              /* 0 after EOF; else the first error, CFRP_ECLOSED after join_abort */
    size_t max_queued_a, max_queued_b; /* highest queued() seen after a write to a / b */
};

typedef struct join join;

/* Runs once, after both streams are closed; the join is freed after it returns. */
typedef void (*join_done_cb)(const struct join_result *res, void *arg);

/* Starts pumping between a and b. On success the join owns both streams (it uses their
 * data, on_read and on_close fields) and *out (if non-NULL) is valid until cb runs.
 * Returns 0 or UV_ENOMEM (a and b are then still the caller's). */
int stream_join(stream *a, stream *b, const struct join_options *opts, join_done_cb cb,
                void *arg, join **out);

/* Ends the join now: both streams are closed, status CFRP_ECLOSED (unless an error came
 * first). Safe to call more than once before cb runs. */
void join_abort(join *j);

/* Bytes moved so far, for progress metrics. */
void join_counts(const join *j, uint64_t *a_to_b, uint64_t *b_to_a);

#endif
