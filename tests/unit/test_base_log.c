/* Unit tests for the logger (src/base/log.c): line format, levels, console colours,
 * file destination, daily rotation naming and cleanup, with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"

static struct timespec fake_now;

static void fake_clock(struct timespec *now)
{
    *now = fake_now;
}

/* Sets the fake clock to a UTC date and time plus milliseconds. */
static void set_time(int y, int mo, int d, int h, int mi, int s, long ms)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = s};
    fake_now.tv_sec = timegm(&tm);
    fake_now.tv_nsec = ms * 1000000L;
}

static char tmpdir[256];

static int setup(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cfrp-logtest-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    log_set_clock(fake_clock);
    set_time(2024, 12, 16, 19, 41, 22, 130);
    return 0;
}

static int teardown(void **state)
{
    log_shutdown();
    log_set_clock(NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Reads a whole file into a malloc'd NUL-terminated string (NULL if missing). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void file_opts(struct log_options *o, const char *path, enum log_level lvl, int days)
{
    o->to = path;
    o->level = lvl;
    o->max_days = days;
    o->disable_color = false;
}

static void test_level_parse(void **state)
{
    assert_int_equal(log_level_parse("trace"), LOG_TRACE);
    assert_int_equal(log_level_parse("DEBUG"), LOG_DEBUG);
    assert_int_equal(log_level_parse("Info"), LOG_INFO);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("warning"), -1);
    assert_int_equal(log_level_parse(NULL), -1);
}

static void test_line_format_and_levels(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/a.log", tmpdir);
    struct log_options o;
    file_opts(&o, path, LOG_INFO, 3);
    log_setup(&o);
    assert_false(log_enabled(LOG_DEBUG));
    assert_true(log_enabled(LOG_INFO));
    log_debug("hidden %d", 1);
    int line = __LINE__ + 1;
    log_info("[%s] login to server success, get run id [%s]", "8a1b", "8a1b");
    log_trace("hidden too");
    set_time(2024, 12, 16, 19, 41, 22, 7);
    log_error("boom");
    log_warn("w");
    log_shutdown();
    char *got = slurp(path);
    assert_non_null(got);
    char want[1024];
    snprintf(want, sizeof want,
             "2024-12-16 19:41:22.130 [I] [unit/test_base_log.c:%d] [8a1b] login to server "
             "success, get run id [8a1b]\n"
             "2024-12-16 19:41:22.007 [E] [unit/test_base_log.c:%d] boom\n"
             "2024-12-16 19:41:22.007 [W] [unit/test_base_log.c:%d] w\n",
             line, line + 3, line + 4);
    assert_string_equal(got, want);
    free(got);
}

static void test_long_message(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/long.log", tmpdir);
    struct log_options o;
    file_opts(&o, path, LOG_TRACE, 3);
    log_setup(&o);
    char *big = malloc(5001);
    memset(big, 'x', 5000);
    big[5000] = '\0';
    log_trace("%s|", big);
    log_shutdown();
    char *got = slurp(path);
    assert_non_null(got);
    char *bar = strchr(got, '|');
    assert_non_null(bar);
    assert_string_equal(bar, "|\n");
    assert_int_equal(bar - strchr(got, 'x'), 5000);
    free(got);
    free(big);
}

/* Runs fn with stdout redirected into a file and returns what was written. */
static char *capture_stdout(void (*fn)(void))
{
    char path[512];
    snprintf(path, sizeof path, "%s/stdout.txt", tmpdir);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    dup2(fd, 1);
    close(fd);
    fn();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return slurp(path);
}

static void emit_colored(void)
{
    struct log_options o = {.to = "console", .level = LOG_TRACE, .max_days = 3};
    log_setup(&o);
    log_info("i");
    log_trace("t");
    log_debug("d");
    log_warn("w");
    log_error("e");
}

static void emit_plain(void)
{
    struct log_options o = {.to = "console", .level = LOG_INFO, .disable_color = true};
    log_setup(&o);
    log_info("i");
    log_warn("w");
}

static void test_console_colors(void **state)
{
    char *got = capture_stdout(emit_colored);
    assert_non_null(got);
    const char *pfx = "2024-12-16 19:41:22.130 ";
    char want[2048];
    int l = 0;
    /* the caller lines are fixed offsets inside emit_colored */
    int base = 0;
    const char *p = strstr(got, "test_base_log.c:");
    assert_non_null(p);
    base = atoi(p + strlen("test_base_log.c:"));
    l += snprintf(want + l, sizeof want - l, "\033[1;34m%s[I] [unit/test_base_log.c:%d] i\n\033[0m",
                  pfx, base);
    l += snprintf(want + l, sizeof want - l, "%s[T] [unit/test_base_log.c:%d] t\n", pfx,
                  base + 1);
    l += snprintf(want + l, sizeof want - l,
                  "\033[1;36m%s[D] [unit/test_base_log.c:%d] d\n\033[0m", pfx, base + 2);
    l += snprintf(want + l, sizeof want - l,
                  "\033[1;33m%s[W] [unit/test_base_log.c:%d] w\n\033[0m", pfx, base + 3);
    snprintf(want + l, sizeof want - l, "\033[1;31m%s[E] [unit/test_base_log.c:%d] e\n\033[0m",
             pfx, base + 4);
    assert_string_equal(got, want);
    free(got);

    got = capture_stdout(emit_plain);
    assert_non_null(got);
    assert_null(strchr(got, '\033'));
    assert_non_null(strstr(got, "[I] [unit/test_base_log.c:"));
    assert_non_null(strstr(got, "] w\n"));
    free(got);
}

static void test_file_lazy_modes_append(void **state)
{
    char path[600], dir[512];
    snprintf(dir, sizeof dir, "%s/logs/sub", tmpdir);
    snprintf(path, sizeof path, "%s/frps.log", dir);
    struct log_options o;
    file_opts(&o, path, LOG_INFO, 3);
    log_setup(&o);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0); /* nothing created before the first line */
    log_info("first");
    assert_int_equal(stat(dir, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0755 & ~mask);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    log_shutdown();
    /* a second run appends to the existing file */
    log_setup(&o);
    log_info("second");
    log_shutdown();
    char *got = slurp(path);
    assert_non_null(got);
    assert_non_null(strstr(got, "] first\n"));
    assert_non_null(strstr(got, "] second\n"));
    assert_true(strstr(got, "first") < strstr(got, "second"));
    free(got);
}

static void touch(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void test_rotation_and_cleanup(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/frps.log", tmpdir);
    touch(tmpdir, "frps.20241210-000000.log");  /* older than 3 days: deleted */
    touch(tmpdir, "frps.20241214-120000.log");  /* within 3 days: kept */
    touch(tmpdir, "frps.20241201-000000.txt");  /* other extension: kept */
    touch(tmpdir, "frpc.20241201-000000.log");  /* other stem: kept */
    touch(tmpdir, "frps.2024121-000000.log");   /* not a timestamp: kept */
    set_time(2024, 12, 16, 23, 59, 59, 500);
    struct log_options o;
    file_opts(&o, path, LOG_INFO, 3);
    log_setup(&o);
    log_info("day one");
    set_time(2024, 12, 16, 23, 59, 59, 900);
    log_info("day one again");
    assert_false(exists(tmpdir, "frps.20241217-000000.log"));
    set_time(2024, 12, 17, 0, 0, 1, 0);
    log_info("day two");
    log_shutdown();

    char rotated[600];
    snprintf(rotated, sizeof rotated, "%s/frps.20241217-000000.log", tmpdir);
    char *old = slurp(rotated);
    assert_non_null(old);
    assert_non_null(strstr(old, "day one\n"));
    assert_non_null(strstr(old, "day one again\n"));
    assert_null(strstr(old, "day two"));
    free(old);
    char *cur = slurp(path);
    assert_non_null(cur);
    assert_non_null(strstr(cur, "day two\n"));
    assert_null(strstr(cur, "day one"));
    free(cur);
    assert_false(exists(tmpdir, "frps.20241210-000000.log"));
    assert_true(exists(tmpdir, "frps.20241214-120000.log"));
    assert_true(exists(tmpdir, "frps.20241201-000000.txt"));
    assert_true(exists(tmpdir, "frpc.20241201-000000.log"));
    assert_true(exists(tmpdir, "frps.2024121-000000.log"));
}

static void test_rotation_no_ext_and_no_cleanup(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/frpslog", tmpdir);
    touch(tmpdir, "frpslog.20200101-000000");
    set_time(2024, 12, 16, 10, 0, 0, 0);
    struct log_options o;
    file_opts(&o, path, LOG_INFO, -1); /* negative: keep everything */
    log_setup(&o);
    log_info("a");
    set_time(2024, 12, 18, 3, 0, 0, 0); /* two midnights later: one rotation */
    log_info("b");
    log_shutdown();
    assert_true(exists(tmpdir, "frpslog.20241218-000000"));
    assert_true(exists(tmpdir, "frpslog.20200101-000000"));
}

static void keepalive_cb(uv_timer_t *t)
{
    (void)t;
}

static void test_rotation_timer(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t.log", tmpdir);
    set_time(2024, 12, 16, 23, 59, 59, 985);
    struct log_options o;
    file_opts(&o, path, LOG_INFO, 3);
    log_setup(&o);
    log_info("before");
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(log_start_rotation_timer(&loop), 0);
    set_time(2024, 12, 17, 0, 0, 0, 30);
    uv_timer_t keep;
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, keepalive_cb, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(exists(tmpdir, "t.20241217-000000.log"));
    assert_true(exists(tmpdir, "t.log"));
    log_stop_rotation_timer();
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    log_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_format_and_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_colors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_lazy_modes_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_no_ext_and_no_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_timer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
