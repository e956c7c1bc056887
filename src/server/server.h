/* frps service entry point: runs the server described by a loaded, validated config. */
#ifndef CFRP_SERVER_SERVER_H
#define CFRP_SERVER_SERVER_H

struct frps_config;

/* Logs the config source (config_path, or NULL for command-line flags), creates the
 * listeners, logs "frps started successfully" and serves until the process is killed.
 * When a listener cannot be created it prints frp's error line on stdout and returns a
 * negative code. The caller owns cfg and must have set up logging. */
int server_run(struct frps_config *cfg, const char *config_path);

#endif
