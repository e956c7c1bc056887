/* frp's fast backoff manager (see backoff.h): the delays between login attempts. */
#include "client/backoff.h"

#include <string.h>

void client_backoff_init(struct client_backoff *b, const struct client_backoff_opts *o)
{
    memset(b, 0, sizeof *b);
    b->o = *o;
    b->fast_counts = 1; /* as frp's constructor sets it */
}

static uint64_t backoff_jitter(uint64_t d, double max_factor, double rnd)
{
    if (max_factor <= 0.0) max_factor = 1.0;
    return d + (uint64_t)(rnd * max_factor * (double)d);
}

uint64_t client_backoff_next(struct client_backoff *b, uint64_t prev_ms, bool prev_err,
                             uint64_t now_ms, double rnd)
{
    if (!b->called) {
        b->called = true;
        return b->o.duration_ms;
    }
    if (prev_err)
        b->consecutive_err++;
    else
        b->consecutive_err = 0;

    if (b->o.fast_count > 0 && prev_err) {
        b->fast_counts++;
        if (b->fast_counts <= b->o.fast_count)
            return backoff_jitter(b->o.fast_delay_ms, b->o.fast_jitter, rnd);
        if (now_ms > b->fast_cutoff_ms) {
            b->fast_cutoff_ms = now_ms + b->o.fast_window_ms;
            b->fast_counts = 0;
        }
    }
    if (!prev_err) return b->o.duration_ms;

    uint64_t d = prev_ms;
    if (b->consecutive_err == 1 && b->o.init_if_fail_ms) d = b->o.init_if_fail_ms;
    if (d == 0) d = 1000;
    if (b->o.factor != 0.0) d = (uint64_t)((double)d * b->o.factor);
    if (b->o.jitter > 0.0) d = backoff_jitter(d, b->o.jitter, rnd);
    if (b->o.max_ms > 0 && d > b->o.max_ms) d = b->o.max_ms;
    return d;
}

void client_backoff_login_opts(struct client_backoff_opts *o, uint64_t max_ms)
{
    *o = (struct client_backoff_opts){
        .duration_ms = 1000, .factor = 2.0, .jitter = 0.1, .max_ms = max_ms};
}

void client_backoff_reconnect_opts(struct client_backoff_opts *o)
{
    *o = (struct client_backoff_opts){.duration_ms = 1000,
                                      .factor = 2.0,
                                      .jitter = 0.1,
                                      .max_ms = 20000,
                                      .fast_count = 3,
                                      .fast_delay_ms = 200,
                                      .fast_jitter = 0.5,
                                      .fast_window_ms = 60000};
}
