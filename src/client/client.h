/* frpc service entry point: runs the client described by a loaded, validated config. */
#ifndef CFRP_CLIENT_CLIENT_H
#define CFRP_CLIENT_CLIENT_H

struct frpc_config;

/* Logs "start frpc service for config file [<config_path>]" (when config_path is not
 * NULL), connects to frps and runs until stopped. Returns 0 when stopped normally, or a
 * negative code after printing frp's message on stdout (e.g. the first login failed with
 * loginFailExit). The caller owns cfg and must have set up logging. */
int client_run(struct frpc_config *cfg, const char *config_path);

#endif
