/* Proxy registration state machine (see proxy_state.h). */
#include "client/proxy_state.h"

const char *client_px_phase_name(enum client_px_phase p)
{
    switch (p) {
    case CLIENT_PX_NEW: return "new";
    case CLIENT_PX_WAIT_START: return "wait start";
    case CLIENT_PX_START_ERR: return "start error";
    case CLIENT_PX_RUNNING: return "running";
    case CLIENT_PX_CHECK_FAILED: return "check failed";
    case CLIENT_PX_CLOSED: return "closed";
    }
    return "";
}

enum client_px_action client_pxstate_check(struct client_pxstate *s, uint64_t now_ms,
                                           bool healthy)
{
    if (s->phase == CLIENT_PX_CLOSED) return CLIENT_PX_NONE;
    if (!healthy) {
        if (s->phase == CLIENT_PX_RUNNING || s->phase == CLIENT_PX_WAIT_START) {
            s->phase = CLIENT_PX_CHECK_FAILED;
            return CLIENT_PX_SEND_CLOSE;
        }
        return CLIENT_PX_NONE;
    }
    if (s->phase == CLIENT_PX_NEW || s->phase == CLIENT_PX_CHECK_FAILED ||
        (s->phase == CLIENT_PX_WAIT_START && now_ms > s->last_send_ms + CLIENT_PX_WAIT_RESP_MS) ||
        (s->phase == CLIENT_PX_START_ERR && now_ms > s->last_err_ms + CLIENT_PX_START_ERR_MS)) {
        s->phase = CLIENT_PX_WAIT_START;
        s->last_send_ms = now_ms;
        return CLIENT_PX_SEND_NEW;
    }
    return CLIENT_PX_NONE;
}

bool client_pxstate_on_resp(struct client_pxstate *s, uint64_t now_ms, const char *error)
{
    if (s->phase != CLIENT_PX_WAIT_START) return false;
    if (error && error[0]) {
        s->phase = CLIENT_PX_START_ERR;
        s->last_err_ms = now_ms;
    } else {
        s->phase = CLIENT_PX_RUNNING;
    }
    return true;
}

void client_pxstate_run_failed(struct client_pxstate *s, uint64_t now_ms)
{
    s->phase = CLIENT_PX_START_ERR;
    s->last_err_ms = now_ms;
}
