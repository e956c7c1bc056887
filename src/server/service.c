/* frps service: sets up the server state (TLS context, token key, port managers,
 * registries), listens on bindPort with frp's start-up log lines and listener error
 * text, and serves until SIGINT/SIGTERM. Then it closes its listeners and every
 * control and connection, and dies by the same signal, so that its exit status is
 * frp's (which installs no handler); with CFRP_CLEAN_EXIT=1 it instead frees everything
 * and returns 0 (for leak checks). */
#include "server/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "base/proc.h"
#include "config/server_config.h"
#include "kcp/kcp_conn.h"
#include "net/tcp.h"
#include "net/tls.h"
#include "quic/quic.h"
#include "server/svr_internal.h"

static void svc_on_conn(tcp_listener *l, stream *s, void *arg)
{
    svr_bind_accept(arg, s);
}

/* A KCP session on kcpBindPort is classified like a TCP connection on bindPort. */
static void svc_on_kcp(kcp_listener *l, stream *s, void *arg)
{
    svr_bind_accept(arg, s);
}

static bool svc_probe_tcp(void *arg, int port)
{
    const struct server *svr = arg;
    return svr_port_probe_bind(svr->cfg->proxy_bind_addr, port, false);
}

static bool svc_probe_udp(void *arg, int port)
{
    const struct server *svr = arg;
    return svr_port_probe_bind(svr->cfg->proxy_bind_addr, port, true);
}

static bool svc_has_scope(const struct frps_config *cfg, const char *scope)
{
    return cfg_strlist_contains(&cfg->auth.additional_scopes, scope);
}

/* Fills svr from cfg. Returns 0, or a negative code with the error to print in err. */
static int svc_init(struct server *svr, uv_loop_t *loop, const struct frps_config *cfg, char *err,
                    size_t errlen)
{
    memset(svr, 0, sizeof *svr);
    svr->loop = loop;
    svr->cfg = cfg;
    svr->tcp_mux = cfg_tri_true(cfg->transport.tcp_mux);
    svr->detailed_errors = cfg_tri_true(cfg->detailed_errors_to_client);
    svr->scope_heartbeats = svc_has_scope(cfg, "HeartBeats");
    svr->scope_new_work_conns = svc_has_scope(cfg, "NewWorkConns");
    svr->tls_force = cfg->transport.tls.force || cfg->transport.tls.tls.trusted_ca_file[0];
    svr_map_init(&svr->controls);
    svr_map_init(&svr->proxies);
    list_init(&svr->accepting);
    list_init(&svr->wsconns);
    list_init(&svr->newconns);
    list_init(&svr->sessions);
    list_init(&svr->ctls);
    list_init(&svr->userconns);
    const char *token = cfg->auth.token;
    int rc = crypto_derive_key(token, strlen(token), svr->token_key);
    if (rc) {
        snprintf(err, errlen, "derive the token key failed");
        return rc;
    }
    const struct cfg_tls *t = &cfg->transport.tls.tls;
    struct tls_options to = {
        .cert_file = t->cert_file[0] && t->key_file[0] ? t->cert_file : NULL,
        .key_file = t->cert_file[0] && t->key_file[0] ? t->key_file : NULL,
        .trusted_ca_file = t->trusted_ca_file[0] ? t->trusted_ca_file : NULL,
    };
    rc = tls_ctx_server(&to, &svr->tls, err, errlen);
    if (rc) return rc;
    svr->tcp_ports = svr_ports_new(cfg->allow_ports.items, cfg->allow_ports.n, svc_probe_tcp, svr);
    svr->udp_ports = svr_ports_new(cfg->allow_ports.items, cfg->allow_ports.n, svc_probe_udp, svr);
    if (!svr->tcp_ports || !svr->udp_ports || svr_vhost_init(svr)) {
        snprintf(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    return 0;
}

static void svc_free(struct server *svr)
{
    svr_vhost_free(svr);
    svr_ports_free(svr->tcp_ports);
    svr_ports_free(svr->udp_ports);
    if (svr->tls) tls_ctx_free(svr->tls);
    svr_map_free(&svr->controls);
    svr_map_free(&svr->proxies);
}

/* Closes everything so that the loop ends (CFRP_CLEAN_EXIT). */
static void svc_stop(struct server *svr)
{
    if (svr->stopping) return;
    svr->stopping = true;
    if (svr->listener) tcp_listener_close(svr->listener);
    svr->listener = NULL;
    if (svr->kcp_listener) kcp_listener_close(svr->kcp_listener);
    svr->kcp_listener = NULL;
    if (svr->quic_listener) quic_listener_close(svr->quic_listener);
    svr->quic_listener = NULL;
    svr_bind_stop(svr);
    svr_vhost_stop(svr);
    svr_control_stop_all(svr);
    svr_userconn_stop_all(svr);
    log_stop_rotation_timer();
}

/* Without CFRP_CLEAN_EXIT: how long the closing may take before the signal is raised
 * anyway. */
#define SVC_STOP_DEADLINE_MS 2000

/* The SIGINT/SIGTERM handling; lives on server_run's stack. */
struct svc_signals {
    struct server *svr;
    uv_signal_t sig_int, sig_term;
    uv_timer_t deadline; /* runs unreferenced once stopping without CFRP_CLEAN_EXIT */
    int signum;          /* the signal received; 0 before */
    bool clean;          /* CFRP_CLEAN_EXIT=1 */
};


static void svc_on_deadline(uv_timer_t *t)
{
    struct svc_signals *sg = t->data;
    proc_die_by_signal(sg->signum);
}

static void svc_on_signal(uv_signal_t *h, int signum)
{
    struct svc_signals *sg = h->data;
    if (sg->signum) return;
    sg->signum = signum;
    log_debug("receive signal %d, stopping", signum);
    uv_close((uv_handle_t *)&sg->sig_int, NULL);
    uv_close((uv_handle_t *)&sg->sig_term, NULL);
    svc_stop(sg->svr);
    if (sg->clean) {
        uv_close((uv_handle_t *)&sg->deadline, NULL);
        return;
    }
    /* the closing should end the loop; if something holds it, die anyway */
    uv_timer_start(&sg->deadline, svc_on_deadline, SVC_STOP_DEADLINE_MS, 0);
    uv_unref((uv_handle_t *)&sg->deadline);
}

/* Start-up failed after svc_init: says why on stdout (as frp does), closes what was
 * opened and returns rc. */
static int svc_abort(struct server *svr, int rc, const char *prefix, const char *err)
{
    printf("%s%s\n", prefix, err);
    fflush(stdout);
    svc_stop(svr);
    uv_run(svr->loop, UV_RUN_DEFAULT);
    svc_free(svr);
    return rc;
}

int server_run(struct frps_config *cfg, const char *config_path)
{
    if (config_path)
        log_info("frps uses config file: %s", config_path);
    else
        log_info("frps uses command line arguments for config");
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    struct server svr;
    char err[512];
    int rc = svc_init(&svr, loop, cfg, err, sizeof err);
    if (rc) {
        printf("%s\n", err);
        fflush(stdout);
        svc_free(&svr);
        return rc;
    }
    rc = svr_vhost_listen_tcpmux(&svr, err, sizeof err);
    if (rc) return svc_abort(&svr, rc, "", err);
    struct tcp_options opts = {.nodelay = true,
                               .keepalive_secs = (int)cfg->transport.tcp_keepalive};
    rc = tcp_listen(loop, cfg->bind_addr, (int)cfg->bind_port, 4096, &opts, svc_on_conn, &svr,
                    &svr.listener, err, sizeof err);
    if (rc) return svc_abort(&svr, rc, "create server listener error, ", err);
    char addr[300];
    tcp_join_host_port(addr, sizeof addr, cfg->bind_addr, (int)cfg->bind_port);
    log_info("frps tcp listen on %s", addr);
    if (cfg->kcp_bind_port > 0) {
        tcp_join_host_port(addr, sizeof addr, cfg->bind_addr, (int)cfg->kcp_bind_port);
        char e[400];
        rc = kcp_listen(loop, cfg->bind_addr, (int)cfg->kcp_bind_port, NULL, svc_on_kcp, &svr,
                        &svr.kcp_listener, e, sizeof e);
        if (rc) {
            snprintf(err, sizeof err, "listen on kcp udp address %.200s error: %.250s", addr, e);
            return svc_abort(&svr, rc, "", err);
        }
        log_info("frps kcp listen on udp %s", addr);
    }
    rc = svr_quic_listen(&svr, err, sizeof err);
    if (rc) return svc_abort(&svr, rc, "", err);
    rc = svr_vhost_listen_http(&svr, err, sizeof err);
    if (rc) return svc_abort(&svr, rc, "", err);
    log_info("frps started successfully");
    log_start_rotation_timer(loop);

    const char *clean = getenv("CFRP_CLEAN_EXIT");
    struct svc_signals sg = {.svr = &svr, .clean = clean && strcmp(clean, "1") == 0};
    uv_signal_init(loop, &sg.sig_int);
    uv_signal_init(loop, &sg.sig_term);
    uv_timer_init(loop, &sg.deadline);
    sg.sig_int.data = sg.sig_term.data = sg.deadline.data = &sg;
    uv_signal_start(&sg.sig_int, svc_on_signal, SIGINT);
    uv_signal_start(&sg.sig_term, svc_on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    if (sg.signum && !sg.clean) proc_die_by_signal(sg.signum);
    svc_free(&svr);
    uv_loop_close(loop);
    buf_pool_drain();
    return 0;
}
