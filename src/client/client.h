/* frpc service entry point: runs the client described by a loaded, validated config. */
#ifndef CFRP_CLIENT_CLIENT_H
#define CFRP_CLIENT_CLIENT_H

struct frpc_config;

/* Logs "start frpc service for config file [<config_path>]" (when config_path is not
 * NULL), connects to frps and runs until stopped: logs in, registers the proxies, serves
 * work connections and reconnects after any disconnect. Returns 0 when stopped normally
 * (SIGINT/SIGTERM only when the environment has CFRP_CLEAN_EXIT=1; otherwise, as frp's
 * tcp transport, the signals kill the process), or -1 after printing frp's message on
 * stdout when the first login failed with loginFailExit. The caller owns cfg (it must
 * outlive the call) and must have set up logging. */
int client_run(struct frpc_config *cfg, const char *config_path);

#endif
