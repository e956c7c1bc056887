/* frps's quicBindPort (protocol.md 1.7): QUIC sessions on bindAddr, every stream the
 * client opens a new frp connection (Login, NewWorkConn, NewVisitorConn first frame), as
 * yamux streams are on bindPort; no 0x17 byte and no TLS sniff, TLS is QUIC's own. */
#include <stdio.h>

#include "base/log.h"
#include "config/server_config.h"
#include "net/tcp.h"
#include "quic/quic.h"
#include "server/svr_internal.h"

static void qb_on_stream(quic_session *sess, stream *st)
{
    svr_session_stream(quic_session_data(sess), st);
}

static void qb_on_close(quic_session *sess, int status)
{
    log_debug("Accept new quic mux stream error: %s",
              quic_session_error(sess) ? quic_session_error(sess) : svr_err_text(status));
    svr_session_end(quic_session_data(sess));
}

static void qb_on_session(quic_listener *l, quic_session *sess, void *arg)
{
    struct svr_session *ss = svr_session_new_quic(arg);
    if (!ss) {
        quic_session_close(sess);
        return;
    }
    struct quic_handlers h = {.on_accept = qb_on_stream, .on_close = qb_on_close, .data = ss};
    quic_session_set_handlers(sess, &h);
}

int svr_quic_listen(struct server *svr, char *err, size_t errlen)
{
    const struct frps_config *cfg = svr->cfg;
    if (cfg->quic_bind_port <= 0) return 0;
    char addr[300];
    tcp_join_host_port(addr, sizeof addr, cfg->bind_addr, (int)cfg->quic_bind_port);
    struct quic_config qc;
    quic_config_default(&qc);
    if (cfg->transport.quic.keepalive_period > 0)
        qc.keepalive_ms = (uint64_t)cfg->transport.quic.keepalive_period * 1000;
    if (cfg->transport.quic.max_idle_timeout > 0)
        qc.max_idle_timeout_ms = (uint64_t)cfg->transport.quic.max_idle_timeout * 1000;
    if (cfg->transport.quic.max_incoming_streams > 0)
        qc.max_incoming_streams = (uint64_t)cfg->transport.quic.max_incoming_streams;
    const struct cfg_tls *t = &cfg->transport.tls.tls;
    struct quic_tls_options tls = {.cert_file = t->cert_file,
                                   .key_file = t->key_file,
                                   .trusted_ca_file = t->trusted_ca_file};
    char e[256] = "";
    int rc = quic_listen(svr->loop, cfg->bind_addr, (int)cfg->quic_bind_port, &tls, &qc,
                         qb_on_session, svr, &svr->quic_listener, e, sizeof e);
    if (rc < 0) {
        snprintf(err, errlen, "listen on quic udp address %.200s error: %.250s", addr, e);
        return rc;
    }
    log_info("frps quic listen on %s", addr);
    return 0;
}
