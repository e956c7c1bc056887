/* Bandwidth limits: a token bucket shared by connections, and a stream filter that
 * draws from it (protocol.md section 8).
 *
 * Behaviour follows frp v0.61.1 (golang.org/x/time/rate under pkg/util/limit):
 * - one bucket per proxy, shared by all its connections and by both directions;
 *   rate = limit bytes per second, burst = limit bytes, initially full;
 * - a read hands on at most `burst` bytes at a time, each piece after the tokens for
 *   it are reserved and the wait they imply has passed (the bytes were already read);
 * - a write is cut into pieces of at most `burst` bytes and each piece waits for its
 *   tokens before it is written to the stream below.
 * Reservations may drive the bucket negative: later callers then wait behind earlier
 * ones, which is how the shared rate holds across connections.
 *
 * While a read piece waits, the filter stops reading the stream below, so it never
 * holds more than what that stream delivered before read_stop took effect.
 * A bucket is used on one loop (thread) only. */
#ifndef CFRP_NET_RATELIMIT_H
#define CFRP_NET_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/stream.h"

/* A reference-counted token bucket. */
typedef struct ratelimit ratelimit;

/* A new bucket with one reference: rate and burst are bytes_per_sec, tokens start at
 * burst. NULL when bytes_per_sec is 0 (0 means "no limit": use no filter) or when out
 * of memory. */
ratelimit *ratelimit_new(uint64_t bytes_per_sec);
void ratelimit_retain(ratelimit *rl);
/* Drops one reference; the last one frees the bucket. Safe on NULL. */
void ratelimit_release(ratelimit *rl);

uint64_t ratelimit_burst(const ratelimit *rl);

/* Takes n tokens at time now_ns (a monotonic clock, e.g. uv_hrtime()) and returns how
 * many nanoseconds the caller must wait before using them (0: at once). n may exceed
 * the burst; the filter never asks for more than the burst at a time. */
uint64_t ratelimit_reserve(ratelimit *rl, size_t n, uint64_t now_ns);

/* Wraps inner in a rate-limited stream and stores it in *out. The filter takes one
 * reference to rl (the caller keeps its own) and owns inner from now on: closing the
 * filter closes inner, and inner's on_close and data fields are the filter's.
 * Returns 0, or UV_ENOMEM (inner is then still the caller's). */
int ratelimit_stream_new(uv_loop_t *loop, stream *inner, ratelimit *rl, stream **out);

#endif
