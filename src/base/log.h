/* Logging in frp's line format (see ../shared/spec/api.md section 8):
 *   2024-12-16 19:41:22.130 [I] [client/service.c:287] [runid] [proxy] message
 * One process-wide logger, configured once from log.* options; the macros record the
 * caller's file and line. Prefixes ("[runid] ", "[name] ") are part of the message
 * text: callers build them with log_prefix-style helpers of their own. */
#ifndef CFRP_BASE_LOG_H
#define CFRP_BASE_LOG_H

#include <stdbool.h>
#include <time.h>

struct uv_loop_s;

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct log_options {
    const char *to;          /* "console" for stdout, anything else is a file path */
    enum log_level level;
    int max_days;            /* daily rotation keeps this many days of files */
    bool disable_color;      /* console only */
};

/* Parses "trace", "debug", "info", "warn", "error" (case-insensitive). -1 if unknown. */
int log_level_parse(const char *name);

/* Configures the logger; before the first call it logs info and up to the console. */
void log_setup(const struct log_options *opts);

/* Closes the log file, if any. */
void log_shutdown(void);

bool log_enabled(enum log_level level);

/* Daily rotation (file destination only) happens when a line is written after a local
 * midnight, and also when this timer fires, so an idle process rotates on time as frp
 * does. The timer does not keep the loop alive. Returns 0 or a UV_* code. */
int log_start_rotation_timer(struct uv_loop_s *loop);
/* Closes the timer (uv_close; the loop must run once more to finish). */
void log_stop_rotation_timer(void);

/* For tests: replaces the wall clock (CLOCK_REALTIME) the logger reads; NULL restores
 * it. Times are shown and rotated in local time (TZ). */
typedef void (*log_clock_fn)(struct timespec *now);
void log_set_clock(log_clock_fn fn);

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_trace(...) log_write(LOG_TRACE, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)

#endif
