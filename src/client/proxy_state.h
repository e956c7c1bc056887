/* The per-proxy registration state machine of frpc's proxy wrapper (protocol.md 4.4):
 * new -> wait start (NewProxy sent) -> running / start error, NewProxy resent after
 * 20 s without an answer and 30 s after an error, CloseProxy when the health check
 * fails. Pure logic on a monotonic clock in milliseconds; the caller sends messages. */
#ifndef CFRP_CLIENT_PROXY_STATE_H
#define CFRP_CLIENT_PROXY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define CLIENT_PX_CHECK_MS 3000       /* status check period */
#define CLIENT_PX_WAIT_RESP_MS 20000  /* NewProxy resent after this without an answer */
#define CLIENT_PX_START_ERR_MS 30000  /* retry after a start error */

enum client_px_phase {
    CLIENT_PX_NEW,
    CLIENT_PX_WAIT_START,
    CLIENT_PX_START_ERR,
    CLIENT_PX_RUNNING,
    CLIENT_PX_CHECK_FAILED,
    CLIENT_PX_CLOSED
};

/* frp's texts for the phases ("new", "wait start", "start error", "running",
 * "check failed", "closed"), as the admin API shows them. */
const char *client_px_phase_name(enum client_px_phase p);

struct client_pxstate {
    enum client_px_phase phase;
    uint64_t last_send_ms;
    uint64_t last_err_ms;
};

enum client_px_action { CLIENT_PX_NONE, CLIENT_PX_SEND_NEW, CLIENT_PX_SEND_CLOSE };

/* One periodic check at now_ms; healthy is false while a health check reports failure.
 * Returns what the caller must send (NewProxy or CloseProxy). */
enum client_px_action client_pxstate_check(struct client_pxstate *s, uint64_t now_ms,
                                           bool healthy);

/* A NewProxyResp arrived (error NULL or "" on success). Returns false when the proxy
 * was not waiting for one (frp's "status not wait start, ignore start message"). */
bool client_pxstate_on_resp(struct client_pxstate *s, uint64_t now_ms, const char *error);

/* A proxy whose local side failed to start after a successful NewProxyResp: frp
 * records a start error (retried after 30 s); the caller sends CloseProxy. */
void client_pxstate_run_failed(struct client_pxstate *s, uint64_t now_ms);

#endif
