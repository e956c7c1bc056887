/* Shared run steps of frps and frpc: validation output, logger start and the legacy
 * INI check behind the deprecation warning. */
#include "cmd/common_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

bool cli_report_validation(char *warnings, char *errors)
{
    if (warnings && warnings[0]) printf("WARNING: %s\n", warnings);
    bool failed = errors && errors[0];
    if (failed) printf("%s\n", errors);
    fflush(stdout);
    free(warnings);
    free(errors);
    return failed;
}

void cli_setup_log(const struct cfg_log *log)
{
    int level = log_level_parse(log->level ? log->level : "");
    struct log_options o = {
        .to = log->to && log->to[0] ? log->to : "console",
        .level = level < 0 ? LOG_INFO : (enum log_level)level,
        .max_days = (int)(log->max_days > 1000000 ? 1000000 : log->max_days),
        .disable_color = log->disable_print_color,
    };
    log_setup(&o);
}
