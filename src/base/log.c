/* The process-wide logger (see log.h and ../shared/spec/api.md section 8): frp's line
 * format, console colours, a lazily opened log file with daily rotation at local midnight
 * and cleanup of rotated files older than max_days. */
#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define LOG_PATH_MAX 4096
#define LOG_STACK_LINE 1024
#define LOG_BACKUP_FMT "%Y%m%d-%H%M%S"
#define LOG_BACKUP_LEN 15 /* strlen("20060102-150405") */

/* All logger state; guarded by mu. path is owned (strdup), fd is -1 while closed. */
static struct {
    pthread_mutex_t mu;
    enum log_level level;
    bool console;
    bool color;
    int max_days;
    char *path;
    int fd;
    time_t next_rotate; /* first local midnight after the file destination was set */
    log_clock_fn clock;
    uv_timer_t *timer; /* owned; freed in its close callback */
} g_log = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .level = LOG_INFO,
    .console = true,
    .color = false,
    .max_days = 3,
    .path = NULL,
    .fd = -1,
};

static void log_now(struct timespec *ts)
{
    if (g_log.clock)
        g_log.clock(ts);
    else
        clock_gettime(CLOCK_REALTIME, ts);
}

int log_level_parse(const char *name)
{
    static const char *const names[] = {"trace", "debug", "info", "warn", "error"};
    if (!name) return -1;
    if (name[0] == '\0') return LOG_INFO; /* as frp: the empty level means info */
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, names[i]) == 0) return i;
    return -1;
}

/* The local midnight that starts the day after t. */
static time_t log_next_midnight(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mday += 1;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

/* The local midnight that starts the day of t. */
static time_t log_this_midnight(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

/* Splits the file name of path into dir (with no trailing '/'; "." when none), stem and
 * extension (last '.' of the base name, dot included), as Go's filepath does. */
static void log_split_path(const char *path, char *dir, char *stem, char *ext, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    const char *dot = strrchr(base, '.');
    if (!dot) dot = base + strlen(base);
    snprintf(stem, cap, "%.*s", (int)(dot - base), base);
    snprintf(ext, cap, "%s", dot);
}

/* <dir>/<stem>.<YYYYMMDD-HHMMSS><ext> for time t (local). */
static int log_backup_name(const char *path, time_t t, char *out, size_t cap)
{
    char dir[LOG_PATH_MAX], stem[LOG_PATH_MAX], ext[LOG_PATH_MAX], stamp[32];
    struct tm tm;
    log_split_path(path, dir, stem, ext, sizeof dir);
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, LOG_BACKUP_FMT, &tm);
    int n = snprintf(out, cap, "%s%s%s.%s%s", dir, strcmp(dir, "/") ? "/" : "", stem, stamp,
                     ext);
    return n < 0 || (size_t)n >= cap ? UV_ENAMETOOLONG : 0;
}

/* mkdir -p with mode 0755 for every missing parent of path. */
static int log_mkdirs(const char *path)
{
    char tmp[LOG_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof tmp) return UV_ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -errno;
        tmp[i] = c;
    }
    return 0;
}

/* Creates a fresh log file; an existing one is first renamed to its backup name for time
 * t and its mode kept. Caller holds mu. */
static int log_open_new(time_t t)
{
    char dir[LOG_PATH_MAX], stem[LOG_PATH_MAX], ext[LOG_PATH_MAX];
    log_split_path(g_log.path, dir, stem, ext, sizeof dir);
    int rc = log_mkdirs(dir);
    if (rc < 0) return rc;
    mode_t mode = 0600;
    struct stat st;
    if (stat(g_log.path, &st) == 0) {
        char backup[LOG_PATH_MAX];
        mode = st.st_mode & 07777;
        int brc = log_backup_name(g_log.path, t, backup, sizeof backup);
        if (brc < 0) return brc;
        if (rename(g_log.path, backup) != 0) return -errno;
    }
    int fd = open(g_log.path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    g_log.fd = fd;
    return 0;
}

/* Opens the existing file for append, or a new one. Caller holds mu. */
static int log_open_existing_or_new(time_t now)
{
    struct stat st;
    if (stat(g_log.path, &st) != 0) {
        if (errno == ENOENT) return log_open_new(now);
        return -errno;
    }
    int fd = open(g_log.path, O_APPEND | O_WRONLY | O_CLOEXEC);
    if (fd < 0) return log_open_new(now);
    g_log.fd = fd;
    return 0;
}

/* Parses "YYYYMMDD-HHMMSS" strictly (local time). Returns 0 and sets *out. */
static int log_parse_stamp(const char *s, size_t len, time_t *out)
{
    if (len != LOG_BACKUP_LEN || s[8] != '-') return -1;
    int v[6], widths[6] = {4, 2, 2, 2, 2, 2};
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        if (i == 3) p++; /* the '-' */
        int x = 0;
        for (int k = 0; k < widths[i]; k++, p++) {
            if (*p < '0' || *p > '9') return -1;
            x = x * 10 + (*p - '0');
        }
        v[i] = x;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 ||
        v[4] > 59 || v[5] > 59)
        return -1;
    bool leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    if (v[1] == 2 && v[2] == 29 && !leap) return -1;
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5], .tm_isdst = -1};
    *out = mktime(&tm);
    return 0;
}

/* Deletes rotated files of this log older than now - max_days. Caller holds mu. */
static void log_clear_old(const struct timespec *now)
{
    if (g_log.max_days <= 0) return;
    char dir[LOG_PATH_MAX], stem[LOG_PATH_MAX], ext[LOG_PATH_MAX], prefix[LOG_PATH_MAX + 1];
    log_split_path(g_log.path, dir, stem, ext, sizeof dir);
    snprintf(prefix, sizeof prefix, "%s.", stem);
    size_t plen = strlen(prefix), elen = strlen(ext);
    /* frp keeps files newer than now - maxDays*24h + 5ms */
    int64_t cutoff_ms = (int64_t)now->tv_sec * 1000 + now->tv_nsec / 1000000 -
                        (int64_t)g_log.max_days * 86400 * 1000 + 5;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        size_t n = strlen(name);
        if (n <= plen + elen || strncmp(name, prefix, plen) != 0 ||
            strcmp(name + n - elen, ext) != 0)
            continue;
        time_t t;
        if (log_parse_stamp(name + plen, n - plen - elen, &t) != 0) continue;
        char full[2 * LOG_PATH_MAX + 2];
        int fn = snprintf(full, sizeof full, "%s/%s", dir, name);
        if (fn < 0 || (size_t)fn >= sizeof full) continue;
        struct stat st;
        if (lstat(full, &st) != 0 || S_ISDIR(st.st_mode)) continue;
        if ((int64_t)t * 1000 < cutoff_ms) unlink(full);
    }
    closedir(d);
}

/* Rotates when a local midnight has passed since the file destination was set or last
 * rotated. Caller holds mu. */
static void log_rotate_if_due(const struct timespec *now)
{
    if (g_log.console || !g_log.path || now->tv_sec < g_log.next_rotate) return;
    time_t stamp = log_this_midnight(now->tv_sec);
    g_log.next_rotate = log_next_midnight(now->tv_sec);
    if (g_log.fd >= 0) {
        close(g_log.fd);
        g_log.fd = -1;
    }
    if (log_open_new(stamp) == 0) log_clear_old(now);
}

void log_setup(const struct log_options *opts)
{
    struct timespec now;
    log_now(&now);
    pthread_mutex_lock(&g_log.mu);
    if (g_log.fd >= 0) close(g_log.fd);
    g_log.fd = -1;
    free(g_log.path);
    g_log.path = NULL;
    g_log.level = opts->level;
    g_log.max_days = opts->max_days;
    g_log.console = !opts->to || strcmp(opts->to, "console") == 0;
    g_log.color = g_log.console && !opts->disable_color;
    if (!g_log.console) {
        g_log.path = strdup(opts->to[0] ? opts->to : "default.log");
        if (!g_log.path) g_log.console = true;
        g_log.next_rotate = log_next_midnight(now.tv_sec);
    }
    pthread_mutex_unlock(&g_log.mu);
}

void log_shutdown(void)
{
    pthread_mutex_lock(&g_log.mu);
    if (g_log.fd >= 0) close(g_log.fd);
    g_log.fd = -1;
    free(g_log.path);
    g_log.path = NULL;
    g_log.console = true;
    g_log.color = false;
    g_log.level = LOG_INFO;
    pthread_mutex_unlock(&g_log.mu);
}

void log_set_clock(log_clock_fn fn)
{
    pthread_mutex_lock(&g_log.mu);
    g_log.clock = fn;
    pthread_mutex_unlock(&g_log.mu);
}

bool log_enabled(enum log_level level)
{
    return level >= g_log.level;
}

static void log_timer_arm(uv_timer_t *t);

static void log_timer_cb(uv_timer_t *t)
{
    struct timespec now;
    log_now(&now);
    pthread_mutex_lock(&g_log.mu);
    log_rotate_if_due(&now);
    pthread_mutex_unlock(&g_log.mu);
    log_timer_arm(t);
}

/* Fires at the next local hour boundary (plus a few ms, so the clock has passed it). */
static void log_timer_arm(uv_timer_t *t)
{
    struct timespec now;
    log_now(&now);
    struct tm tm;
    localtime_r(&now.tv_sec, &tm);
    tm.tm_min = tm.tm_sec = 0;
    tm.tm_hour += 1;
    tm.tm_isdst = -1;
    time_t next = mktime(&tm);
    int64_t ms = ((int64_t)next - now.tv_sec) * 1000 - now.tv_nsec / 1000000 + 5;
    if (ms < 5) ms = 5;
    uv_timer_start(t, log_timer_cb, (uint64_t)ms, 0);
}

int log_start_rotation_timer(struct uv_loop_s *loop)
{
    if (g_log.timer) return 0;
    uv_timer_t *t = malloc(sizeof *t);
    if (!t) return UV_ENOMEM;
    int rc = uv_timer_init(loop, t);
    if (rc < 0) {
        free(t);
        return rc;
    }
    uv_unref((uv_handle_t *)t);
    g_log.timer = t;
    log_timer_arm(t);
    return 0;
}

static void log_timer_closed(uv_handle_t *h)
{
    free(h);
}

void log_stop_rotation_timer(void)
{
    if (!g_log.timer) return;
    uv_close((uv_handle_t *)g_log.timer, log_timer_closed);
    g_log.timer = NULL;
}

/* "dir/file.c:line" from the last two components of file. */
static int log_caller(char *out, size_t cap, const char *file, int line)
{
    const char *last = strrchr(file, '/');
    const char *start = file;
    if (last) {
        const char *p = last;
        while (p > file && p[-1] != '/') p--;
        /* p is the start of the directory component before the file name */
        if (p > file) start = p;
    }
    return snprintf(out, cap, "%s:%d", start, line);
}

static void log_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    static const char letters[] = "TDIWE";
    static const char *const colors[] = {NULL, "1;36", "1;34", "1;33", "1;31"};
    if ((unsigned)level > LOG_ERROR || !log_enabled(level)) return;

    struct timespec now;
    log_now(&now);
    struct tm tm;
    localtime_r(&now.tv_sec, &tm);
    char caller[512];
    log_caller(caller, sizeof caller, file ? file : "???", line);
    char head[700];
    int hn = snprintf(head, sizeof head, "%04d-%02d-%02d %02d:%02d:%02d.%03ld [%c] [%s] ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, now.tv_nsec / 1000000, letters[level], caller);
    if (hn < 0) return;
    if ((size_t)hn >= sizeof head) hn = sizeof head - 1;

    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char stack[LOG_STACK_LINE];
    int mn = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    char *msg = stack;
    if (mn < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)mn >= sizeof stack) {
        msg = malloc((size_t)mn + 1);
        if (!msg) {
            va_end(ap2);
            return;
        }
        vsnprintf(msg, (size_t)mn + 1, fmt, ap2);
    }
    va_end(ap2);

    pthread_mutex_lock(&g_log.mu);
    if (g_log.console) {
        const char *color = g_log.color ? colors[level] : NULL;
        if (color) fprintf(stdout, "\033[%sm", color);
        fwrite(head, 1, (size_t)hn, stdout);
        fwrite(msg, 1, (size_t)mn, stdout);
        fputc('\n', stdout);
        if (color) fputs("\033[0m", stdout);
        fflush(stdout);
    } else {
        log_rotate_if_due(&now);
        if (g_log.fd < 0) log_open_existing_or_new(now.tv_sec);
        if (g_log.fd >= 0) {
            /* one write per line so concurrent writers never interleave inside a line */
            size_t total = (size_t)hn + (size_t)mn + 1;
            char *line_buf = malloc(total);
            if (line_buf) {
                memcpy(line_buf, head, (size_t)hn);
                memcpy(line_buf + hn, msg, (size_t)mn);
                line_buf[total - 1] = '\n';
                log_write_all(g_log.fd, line_buf, total);
                free(line_buf);
            }
        }
    }
    pthread_mutex_unlock(&g_log.mu);
    if (msg != stack) free(msg);
}
