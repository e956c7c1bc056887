/* The real frps (CFRP_BIN_DIR) on quicBindPort against a client of ours that opens 300
 * streams and sends each one byte of a frame that never completes: frps keeps at most
 * 256 of them waiting for their first frame and closes the rest at once, as it does for
 * yamux streams, while the QUIC session stays up. */
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "quic/quic.h"

#define STREAMS 300

static uv_loop_t loop;
static pid_t frps_pid; /* killed by the teardown, also when an assert fails */
static bool ready, closed_session;

static void on_ready(quic_session *s)
{
    ready = true;
}

static void on_close(quic_session *s, int status)
{
    closed_session = true;
}

static void on_read(stream *st, ssize_t n, buf_ref data)
{
    buf_ref_release(&data);
    if (n < 0) stream_read_stop(st);
}

static void run_for(uint64_t ms, bool *flag)
{
    uint64_t end = uv_hrtime() + ms * 1000000ull;
    while (uv_hrtime() < end && !(flag && *flag)) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

/* Lines of the file at path that contain needle. */
static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static int free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_waiting_streams_capped(void **state)
{
    (void)state;
    int qport = free_port(SOCK_DGRAM), bport = free_port(SOCK_STREAM);
    char dir[] = "/tmp/cfrp-quic-waiting-XXXXXX", conf[128], logpath[128];
    assert_non_null(mkdtemp(dir));
    snprintf(conf, sizeof conf, "%s/frps.toml", dir);
    snprintf(logpath, sizeof logpath, "%s/frps.log", dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "bindAddr = \"127.0.0.1\"\nbindPort = %d\nquicBindPort = %d\n"
               "log.level = \"trace\"\nlog.to = \"%s\"\n",
            bport, qport, logpath);
    fclose(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(CFRP_BIN_DIR "/frps", "frps", "-c", conf, (char *)NULL);
        _exit(127);
    }
    frps_pid = pid;
    usleep(700 * 1000);

    assert_int_equal(uv_loop_init(&loop), 0);
    struct quic_config cfg;
    quic_config_default(&cfg);
    struct quic_tls_options tls = {.server_name = "127.0.0.1"};
    struct quic_handlers h = {.on_ready = on_ready, .on_close = on_close};
    quic_session *qs;
    char err[256];
    assert_int_equal(quic_dial(&loop, "127.0.0.1", qport, &tls, &cfg, &h, &qs, err, sizeof err), 0);
    run_for(5000, &ready);
    assert_true(ready);

    static stream *streams[STREAMS];
    for (int i = 0; i < STREAMS; i++) {
        stream *st;
        assert_int_equal(quic_session_open(qs, &st), 0);
        streams[i] = st;
        assert_int_equal(stream_read_start(st, on_read), 0);
        /* the type byte of a frame whose length never comes */
        assert_int_equal(stream_write_copy(st, "o", 1, NULL, NULL), 0);
    }
    run_for(2000, NULL);
    /* the streams beyond 256 were closed at once (frps says so in its trace log); the
     * others wait (10 s) and the session lives on */
    assert_int_equal(count_lines(logpath, "too many streams waiting"), STREAMS - 256);
    assert_false(closed_session);

    for (int i = 0; i < STREAMS; i++) stream_close(streams[i]);
    quic_session_close(qs);
    run_for(2000, &closed_session);
    assert_true(closed_session);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    unlink(conf);
    unlink(logpath);
    rmdir(dir);
}

static int kill_frps(void **state)
{
    (void)state;
    if (frps_pid > 0) {
        int status;
        kill(frps_pid, SIGKILL);
        waitpid(frps_pid, &status, 0);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_waiting_streams_capped, kill_frps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
