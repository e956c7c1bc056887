/* frpc service: the login loops around sessions (api.md 1.3.1, protocol.md 4.8-4.9).
 * The first login is retried with frp's backoff (2 s, 4 s, 8 s, 10 s) unless
 * loginFailExit, which ends the run with frp's message; after a session dies the outer
 * loop logs in again with the same run id (3 quick retries a minute, then backing off
 * up to 20 s), each re-login retried up to every 20 s. On SIGINT/SIGTERM frpc tells
 * frps it leaves (CloseProxy for every proxy, up to 500 ms for them to be sent), closes
 * the session and then dies by the same signal, so its exit status is frp's for the tcp
 * transport (killed by the signal); with CFRP_CLEAN_EXIT=1 it instead frees everything
 * and returns 0 (so leak checkers can see the end of a run). */
#include "client/client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "base/proc.h"
#include "client/client_internal.h"
#include "config/client_config.h"

/* How long CloseProxy messages may take to leave before the session is closed. */
#define CSVC_LEAVE_GRACE_MS 500
/* Without CFRP_CLEAN_EXIT: how long the closing may take before the signal is raised
 * anyway. */
#define CSVC_STOP_DEADLINE_MS 2000

/* The SIGINT/SIGTERM shutdown; lives on client_run's stack and is the data of the
 * service's signal handles (svc->sig_int.data). */
struct csvc_shutdown {
    struct csvc *svc;
    struct csess *live; /* the session that is logged in, or NULL */
    uv_timer_t timer;   /* the grace period, then (unreferenced) the stop deadline */
    int signum;         /* the signal being handled; 0 before one arrives */
    bool clean;         /* CFRP_CLEAN_EXIT=1 */
    bool stopped;       /* csvc_stop ran for it */
};

static double csvc_rand(void)
{
    return (double)rand() / ((double)RAND_MAX + 1.0);
}

static void csvc_attempt(struct csvc *svc)
{
    log_info("%stry to connect to server...", svc->prefix);
    if (svc->tls_err[0]) {
        csvc_login_done(svc, NULL, svc->tls_err);
        return;
    }
    int rc = csess_start(svc);
    if (rc < 0) csvc_login_done(svc, NULL, err_str(rc));
}

/* Starts a fresh login loop (frp's loopLoginUntilSuccess) with its own backoff. */
static void csvc_login_loop(struct csvc *svc, uint64_t max_ms)
{
    struct client_backoff_opts o;
    client_backoff_login_opts(&o, max_ms);
    client_backoff_init(&svc->login_bo, &o);
    client_backoff_next(&svc->login_bo, 0, false, cnow_ms(svc), csvc_rand());
    svc->login_delay_ms = 0;
    csvc_attempt(svc);
}

static void csvc_retry_cb(uv_timer_t *t)
{
    struct csvc *svc = t->data;
    if (svc->retry_new_loop)
        csvc_login_loop(svc, 20000);
    else
        csvc_attempt(svc);
}

/* Ends the run: nothing keeps the loop alive afterwards. */
static void csvc_stop(struct csvc *svc)
{
    svc->stopping = true;
    uv_timer_stop(&svc->retry);
    if (svc->sess) csess_close(svc->sess);
    svc->sess = NULL;
    ctcp_abort_all(svc);
    if (!uv_is_closing((uv_handle_t *)&svc->retry)) uv_close((uv_handle_t *)&svc->retry, NULL);
    if (svc->signals) {
        struct csvc_shutdown *sd = svc->sig_int.data;
        uv_close((uv_handle_t *)&svc->sig_int, NULL);
        uv_close((uv_handle_t *)&svc->sig_term, NULL);
        svc->signals = false;
        if (sd->clean || !sd->signum) uv_close((uv_handle_t *)&sd->timer, NULL);
    }
}

static void csvc_deadline_cb(uv_timer_t *t)
{
    struct csvc_shutdown *sd = t->data;
    proc_die_by_signal(sd->signum);
}

/* The CloseProxy messages had their time (or the session ended): close it and stop. */
static void csvc_shutdown_finish(struct csvc_shutdown *sd)
{
    struct csvc *svc = sd->svc;
    if (sd->stopped) return;
    sd->stopped = true;
    uv_timer_stop(&sd->timer);
    struct csess *s = sd->live;
    sd->live = NULL;
    /* closed before stopping is set, so that it does not send CloseProxy again */
    if (s && svc->sess == s) csess_close(s);
    csvc_stop(svc);
    if (!sd->clean) {
        /* the closing should end the loop; if something holds it, die anyway */
        uv_timer_start(&sd->timer, csvc_deadline_cb, CSVC_STOP_DEADLINE_MS, 0);
        uv_unref((uv_handle_t *)&sd->timer);
    }
}

static void csvc_grace_cb(uv_timer_t *t)
{
    csvc_shutdown_finish(t->data);
}

void csvc_login_done(struct csvc *svc, struct csess *s, const char *err)
{
    if (svc->stopping) return;
    if (!err) {
        svc->sess = s;
        snprintf(svc->prefix, sizeof svc->prefix, "[%s] ", svc->run_id);
        ((struct csvc_shutdown *)svc->sig_int.data)->live = s;
        log_info("%slogin to server success, get run id [%s]", svc->prefix, svc->run_id);
        svc->logged_in = true;
        return;
    }
    if (svc->sess == s) svc->sess = NULL;
    /* the connection ended under the login: Go's yamux stream read says EOF */
    if (strcmp(err, err_str(CFRP_ECLOSED)) == 0) err = "EOF";
    log_warn("%sconnect to server error: %s", svc->prefix, err);
    if (!svc->logged_in && cfg_tri_true(svc->cfg->login_fail_exit)) {
        snprintf(svc->reason, sizeof svc->reason, "%s", err);
        svc->result = -1;
        csvc_stop(svc);
        return;
    }
    svc->login_delay_ms =
        client_backoff_next(&svc->login_bo, svc->login_delay_ms, true, cnow_ms(svc), csvc_rand());
    svc->retry_new_loop = false;
    uv_timer_start(&svc->retry, csvc_retry_cb, svc->login_delay_ms, 0);
}

void csvc_session_done(struct csvc *svc, struct csess *s)
{
    struct csvc_shutdown *sd = svc->sig_int.data;
    if (sd->live == s) sd->live = NULL;
    if (svc->sess == s) svc->sess = NULL;
    if (svc->stopping) return;
    if (sd->signum) {
        csvc_shutdown_finish(sd); /* the control is gone: nothing left to wait for */
        return;
    }
    if (!svc->in_outer) {
        /* frp's keepControllerWorking: the outer loop's first run starts at once. */
        struct client_backoff_opts o;
        client_backoff_reconnect_opts(&o);
        client_backoff_init(&svc->outer_bo, &o);
        client_backoff_next(&svc->outer_bo, 0, false, cnow_ms(svc), csvc_rand());
        svc->outer_delay_ms = 0;
        svc->in_outer = true;
        svc->retry_new_loop = true;
        uv_timer_start(&svc->retry, csvc_retry_cb, 0, 0);
        return;
    }
    svc->outer_delay_ms =
        client_backoff_next(&svc->outer_bo, svc->outer_delay_ms, true, cnow_ms(svc), csvc_rand());
    svc->retry_new_loop = true;
    uv_timer_start(&svc->retry, csvc_retry_cb, svc->outer_delay_ms, 0);
}

static void csvc_signal_cb(uv_signal_t *h, int signum)
{
    struct csvc_shutdown *sd = h->data;
    struct csvc *svc = sd->svc;
    if (sd->signum) { /* a second signal: no more waiting */
        csvc_shutdown_finish(sd);
        return;
    }
    sd->signum = signum;
    log_debug("%sreceive signal %d, stopping", svc->prefix, signum);
    struct csess *s = sd->live;
    if (!s || svc->sess != s) {
        csvc_shutdown_finish(sd);
        return;
    }
    /* frp's GracefulClose: every proxy is closed at frps before the control goes */
    for (size_t i = 0; i < svc->cfg->proxies.n; i++) {
        msg m;
        msg_init(&m, MSG_CLOSE_PROXY);
        m.u.close_proxy.proxy_name = svc->cfg->proxies.items[i].name;
        csess_send(s, &m);
        if (sd->live != s) return; /* the send failed and closed the session */
    }
    uv_timer_start(&sd->timer, csvc_grace_cb, CSVC_LEAVE_GRACE_MS, 0);
}

int client_run(struct frpc_config *cfg, const char *config_path)
{
    if (config_path) log_info("start frpc service for config file [%s]", config_path);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    struct csvc svc = {.cfg = cfg, .loop = uv_default_loop(), .result = 0};
    list_init(&svc.tcp_works);
    const char *token = cfg->auth.token ? cfg->auth.token : "";
    if (crypto_derive_key(token, strlen(token), svc.key) != 0) {
        printf("derive the token key failed\n");
        return -1;
    }
    const char *proto = cfg->transport.protocol ? cfg->transport.protocol : "tcp";
    if (!carrier_supported(proto))
        snprintf(svc.tls_err, sizeof svc.tls_err,
                 "transport protocol [%s] is not supported by this build", proto);
    else if (carrier_wants_tls(cfg)) {
        const struct cfg_tls *t = &cfg->transport.tls.tls;
        struct tls_options to = {.cert_file = t->cert_file && t->cert_file[0] ? t->cert_file : NULL,
                                 .key_file = t->key_file && t->key_file[0] ? t->key_file : NULL,
                                 .trusted_ca_file = t->trusted_ca_file && t->trusted_ca_file[0]
                                                        ? t->trusted_ca_file
                                                        : NULL};
        if (tls_ctx_client(&to, &svc.tls, svc.tls_err, sizeof svc.tls_err) != 0 &&
            !svc.tls_err[0])
            snprintf(svc.tls_err, sizeof svc.tls_err, "tls: configuration error");
    }
    uv_timer_init(svc.loop, &svc.retry);
    svc.retry.data = &svc;
    const char *clean = getenv("CFRP_CLEAN_EXIT");
    struct csvc_shutdown sd = {.svc = &svc, .clean = clean && strcmp(clean, "1") == 0};
    uv_timer_init(svc.loop, &sd.timer);
    sd.timer.data = &sd;
    uv_signal_init(svc.loop, &svc.sig_int);
    uv_signal_init(svc.loop, &svc.sig_term);
    svc.sig_int.data = svc.sig_term.data = &sd;
    uv_signal_start(&svc.sig_int, csvc_signal_cb, SIGINT);
    uv_signal_start(&svc.sig_term, csvc_signal_cb, SIGTERM);
    svc.signals = true;
    log_start_rotation_timer(svc.loop);
    csvc_login_loop(&svc, 10000);
    uv_run(svc.loop, UV_RUN_DEFAULT);
    if (sd.signum && !sd.clean) proc_die_by_signal(sd.signum);
    log_stop_rotation_timer();
    uv_run(svc.loop, UV_RUN_DEFAULT);
    tls_ctx_free(svc.tls);
    buf_pool_drain();
    if (config_path) log_info("frpc service for config file [%s] stopped", config_path);
    if (svc.result == -1) {
        printf("login to the server failed: %s. With loginFailExit enabled, no additional "
               "retries will be attempted\n", svc.reason);
    }
    fflush(stdout);
    return svc.result;
}
