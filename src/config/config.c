/* Loading frps and frpc configurations from files (config.h): the loader turns the
 * file into a tree, the schema decodes it, frpc's `includes` are expanded and merged
 * (config.md 6.1), then `start` and completion run. Legacy INI files (config.md 9)
 * take the config/legacy.h path instead. Validation is separate. */
#include "config/config.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "base/err.h"
#include "config/client_config.h"
#include "config/legacy.h"
#include "config/loader.h"
#include "config/server_config.h"

int cfg_server_load(const char *path, bool strict, struct frps_config **out, char *err,
                    size_t errlen)
{
    if (cfg_legacy_detect_file(path)) return cfg_legacy_server_load(path, out, err, errlen);
    struct cfg_source src = {0};
    int rc = cfg_source_load_file(path, strict, &src, err, errlen);
    if (rc) return rc;
    rc = cfg_server_decode(&src, strict, out, err, errlen);
    cfg_source_clear(&src);
    return rc;
}

/* Loads one file into a decoded (not completed) frpc config. */
static int cfgl_client_file(const char *path, bool strict, struct frpc_config **out, char *err,
                            size_t errlen)
{
    struct cfg_source src = {0};
    int rc = cfg_source_load_file(path, strict, &src, err, errlen);
    if (rc) return rc;
    rc = cfg_client_decode(&src, strict, out, err, errlen);
    cfg_source_clear(&src);
    return rc;
}

/* Go's text for an errno: strerror with a lower-case first letter. */
static void cfgl_errno_text(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z')) buf[0] = (char)(buf[0] - 'A' + 'a');
}

static int cfgl_namecmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* One `includes` entry: every non-directory file of its directory whose path matches
 * the pattern, in name order, appended to cfg. */
static int cfgl_include(struct frpc_config *cfg, const char *pattern_path, bool strict, char *err,
                        size_t errlen)
{
    char etext[128];
    char *dir = cfg_abs_dir(pattern_path);
    if (!dir) {
        cfgl_errno_text(errno, etext, sizeof etext);
        err_set(err, errlen, "%s", etext);
        return CFRP_EINVAL;
    }
    struct stat st;
    if (stat(dir, &st) != 0 && errno == ENOENT) {
        err_set(err, errlen, "stat %s: no such file or directory", dir);
        free(dir);
        return CFRP_ENOTFOUND;
    }
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, cfgl_namecmp);
    if (n < 0) {
        cfgl_errno_text(errno, etext, sizeof etext);
        err_set(err, errlen, "open %s: %s", dir, etext);
        free(dir);
        return CFRP_EINVAL;
    }
    /* The pattern is the directory joined with the last element of the entry. */
    size_t plen = strlen(pattern_path);
    while (plen > 1 && pattern_path[plen - 1] == '/') plen--;
    const char *base = pattern_path + plen;
    while (base > pattern_path && base[-1] != '/') base--;
    char *pattern = NULL;
    int rc = 0;
    if (asprintf(&pattern, "%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "", (int)(pattern_path + plen - base),
                 base) < 0) {
        pattern = NULL;
        rc = UV_ENOMEM;
    }
    for (int i = 0; i < n && !rc; i++) {
        char *file = NULL;
        if (asprintf(&file, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", ents[i]->d_name) < 0) {
            rc = UV_ENOMEM;
            break;
        }
        bool is_dir = ents[i]->d_type == DT_DIR;
        if (ents[i]->d_type == DT_UNKNOWN && lstat(file, &st) == 0) is_dir = S_ISDIR(st.st_mode);
        if (!is_dir && strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..") &&
            fnmatch(pattern, file, FNM_PATHNAME) == 0) {
            struct frpc_config *sub = NULL;
            rc = cfgl_client_file(file, strict, &sub, err, errlen);
            if (rc) err_prefix(err, errlen, "load additional config from %s error: ", file);
            else rc = cfg_client_append(cfg, sub);
            cfg_client_free(sub);
        }
        free(file);
    }
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    free(pattern);
    free(dir);
    return rc;
}

int cfg_client_load(const char *path, bool strict, struct frpc_config **out, char *err,
                    size_t errlen)
{
    if (cfg_legacy_detect_file(path)) return cfg_legacy_client_load(path, out, err, errlen);
    struct frpc_config *cfg = NULL;
    int rc = cfgl_client_file(path, strict, &cfg, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; !rc && i < cfg->includes.n; i++)
        rc = cfgl_include(cfg, cfg->includes.items[i], strict, err, errlen);
    if (!rc) rc = cfg_client_finish(cfg);
    if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
    if (rc) {
        cfg_client_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}
