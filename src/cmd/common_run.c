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

/* go-ini accepts a line when it is blank, a comment, a [section] header or a key with
 * '=' or ':' (frp's detection parse does not allow bare keys). */
static bool ini_line_ok(const char *l, bool *common)
{
    while (*l == ' ' || *l == '\t') l++;
    if (*l == '\0' || *l == '#' || *l == ';') return true;
    if (*l == '[') {
        const char *end = strchr(l, ']');
        if (!end) return false;
        size_t n = (size_t)(end - l - 1);
        const char *name = l + 1;
        while (n > 0 && (*name == ' ' || *name == '\t')) name++, n--;
        while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t')) n--;
        if (n == 6 && strncmp(name, "common", 6) == 0) *common = true;
        return true;
    }
    return strchr(l, '=') || strchr(l, ':');
}

bool cli_is_legacy_ini(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool common = false, ok = true;
    char line[8192];
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        ok = ini_line_ok(line, &common);
    }
    fclose(f);
    return ok && common;
}
