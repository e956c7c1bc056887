/* frp's "fast backoff" delays (pkg/util/wait in v0.61.1) as pure arithmetic: the first
 * login loop, the re-login loop and the outer reconnect loop of frpc all draw their
 * waits from one of these (protocol.md 4.8, api.md 1.3.1). */
#ifndef CFRP_CLIENT_BACKOFF_H
#define CFRP_CLIENT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct client_backoff_opts {
    uint64_t duration_ms;     /* delay after a success (and the very first call) */
    uint64_t init_if_fail_ms; /* base of the first error delay; 0: the previous delay */
    double factor;            /* growth per consecutive error; 0: none */
    double jitter;            /* up to this fraction added at random; 0: none */
    uint64_t max_ms;          /* cap; 0: none */
    int fast_count;           /* first errors within fast_window get fast_delay */
    uint64_t fast_delay_ms;
    double fast_jitter;
    uint64_t fast_window_ms;
};

/* State of one backoff manager; plain data, no allocation. */
struct client_backoff {
    struct client_backoff_opts o;
    bool called;
    int consecutive_err;
    uint64_t fast_cutoff_ms;
    int fast_counts;
};

void client_backoff_init(struct client_backoff *b, const struct client_backoff_opts *o);

/* The next delay after a run that took prev_ms of delay before it and ended with an
 * error (prev_err) or not, at monotonic time now_ms. rnd is a uniform random number in
 * [0, 1) used for the jitter. */
uint64_t client_backoff_next(struct client_backoff *b, uint64_t prev_ms, bool prev_err,
                             uint64_t now_ms, double rnd);

/* The options frpc uses: the login loop (max_ms 10 s for the first login, 20 s for
 * re-logins) and the outer reconnect loop (3 fast retries of 200 ms per minute). */
void client_backoff_login_opts(struct client_backoff_opts *o, uint64_t max_ms);
void client_backoff_reconnect_opts(struct client_backoff_opts *o);

#endif
