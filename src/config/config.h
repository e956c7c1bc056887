/* Public face of the config module: load a frps or frpc config from a file (any of
 * frp's formats) or from a tree built by the command line, validate it as frp does,
 * free it. The typed structs themselves are in config/server_config.h and
 * config/client_config.h.
 *
 * Loading = read → template → parse (TOML/YAML/JSON) → decode into the typed struct
 * (unknown keys are an error when strict) → complete defaults. It does not validate.
 * Error texts are the lines frp prints for the same mistake, naming file and key. */
#ifndef CFRP_CONFIG_CONFIG_H
#define CFRP_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct frps_config;
struct frpc_config;

/* frps. Returns 0, or a negative code with the message in err. *out is owned by the
 * caller (cfg_server_free). */
int cfg_server_load(const char *path, bool strict, struct frps_config **out, char *err,
                    size_t errlen);
/* Same from a tree in the config file's shape (frps command-line flags). Borrows tree. */
int cfg_server_from_tree(json_t *tree, bool strict, struct frps_config **out, char *err,
                         size_t errlen);
/* Validates as frp does. Returns 0 when there are no errors. *warnings and *errors get
 * newly allocated texts, one message per line, or NULL when there are none; the caller
 * frees them. */
int cfg_server_validate(const struct frps_config *cfg, char **warnings, char **errors);
void cfg_server_free(struct frps_config *cfg);

/* frpc: the same, and `includes` are loaded too. */
int cfg_client_load(const char *path, bool strict, struct frpc_config **out, char *err,
                    size_t errlen);
int cfg_client_from_tree(json_t *tree, bool strict, struct frpc_config **out, char *err,
                         size_t errlen);
int cfg_client_validate(const struct frpc_config *cfg, char **warnings, char **errors);
void cfg_client_free(struct frpc_config *cfg);

#endif
