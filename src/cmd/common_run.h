/* Internal to src/cmd: steps shared by frps and frpc after the command line is parsed
 * (printing validation results, starting the logger, Go-style network error texts). */
#ifndef CFRP_CMD_COMMON_RUN_H
#define CFRP_CMD_COMMON_RUN_H

#include <stdbool.h>

#include "config/types.h"

/* Prints "WARNING: <warnings>" and the errors on stdout as frp does, frees both and
 * returns true when there were errors. */
bool cli_report_validation(char *warnings, char *errors);

/* Configures the logger from a config's log section. */
void cli_setup_log(const struct cfg_log *log);

#endif
