/* frp's deprecated INI configuration format (spec config.md 9): detection, the INI
 * template step, and the conversion of `[common]`, `[plugin.NAME]` (frps), proxy,
 * visitor and `[range:PREFIX]` sections (frpc, with legacy `includes`) into the v1
 * typed configs, with the legacy defaults (e.g. frps webServer.addr 0.0.0.0). The
 * result is completed as any v1 config is; validation stays separate. */
#ifndef CFRP_CONFIG_LEGACY_H
#define CFRP_CONFIG_LEGACY_H

#include <stdbool.h>
#include <stddef.h>

struct frps_config;
struct frpc_config;

/* The deprecation line frp prints (stdout) when it runs a legacy file. */
#define CFG_LEGACY_WARNING                                                                     \
    "WARNING: ini format is deprecated and the support will be removed in the future, please " \
    "use yaml/json/toml format instead!"

/* config.md 9.1: text parses with go-ini's default options (no value-less keys) and has
 * a section named exactly "common". */
bool cfg_legacy_detect(const char *text, size_t len);

/* Whether the file at path is a legacy INI file; false when it cannot be read. */
bool cfg_legacy_detect_file(const char *path);

/* Loads a legacy frps file: render, parse, convert, complete. *out is owned by the
 * caller (cfg_server_free). Returns 0 or a negative code with frp's message in err. */
int cfg_legacy_server_load(const char *path, struct frps_config **out, char *err,
                           size_t errlen);

/* Loads a legacy frpc file with its INI includes, the start filter and completion.
 * Prints frp's "WARNING! tls_*_file is invalid when tls_enable is false" lines to stdout
 * as frp does while loading. *out is owned by the caller (cfg_client_free). */
int cfg_legacy_client_load(const char *path, struct frpc_config **out, char *err,
                           size_t errlen);

#endif
