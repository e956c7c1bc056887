/* Unit tests for the yamux frame codec: the hand-built vectors of
 * spec/vectors/yamux.txt byte for byte, every frame of the live capture in
 * spec/vectors/session-tcpmux.txt, and rejection of bad versions and types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "mux/yamux.h"

static char *read_vector(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/spec/vectors/%s", CFRP_SHARED_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses hex digits (spaces allowed) from p up to a run of 3 spaces or end of line. */
static size_t parse_hex(const char *p, uint8_t *out, size_t cap, const char **end)
{
    size_t n = 0;
    int hi = -1;
    while (*p && *p != '\n') {
        if (p[0] == ' ' && p[1] == ' ') break;
        if (*p == ' ') {
            p++;
            continue;
        }
        int v = hexval(*p);
        if (v < 0) break;
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
        p++;
    }
    assert_int_equal(hi, -1);
    if (end) *end = p;
    return n;
}

static void test_vectors_yamux_txt(void **state)
{
    (void)state;
    char *text = read_vector("yamux.txt");
    int count = 0;
    static const char *types[] = {"Data", "WindowUpdate", "Ping", "GoAway"};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != '0') continue;
        uint8_t b[32];
        const char *rest;
        size_t n = parse_hex(line, b, sizeof b, &rest);
        assert_int_equal(n, YAMUX_HEADER_SIZE);
        while (*rest == ' ') rest++;
        struct yamux_header h;
        char err[64];
        assert_int_equal(yamux_header_decode(b, &h, err, sizeof err), 0);
        /* the description names the type and the flags */
        assert_true(strncmp(rest, types[h.type], strlen(types[h.type])) == 0);
        const char *desc = rest + strlen(types[h.type]);
        static const char *fl[] = {"SYN", "ACK", "FIN", "RST"};
        for (int k = 0; k < 4; k++) {
            bool named = strncmp(desc, fl[k], 3) == 0 || strstr(desc, fl[k]) == desc + 1;
            assert_int_equal(named, (h.flags & (1 << k)) != 0);
        }
        const char *sid = strstr(rest, "stream ");
        if (sid && h.type <= YAMUX_TYPE_WINDOW_UPDATE)
            assert_int_equal(strtoul(sid + 7, NULL, 10), h.stream_id);
        if (strstr(rest, "delta 6029312")) assert_int_equal(h.length, 6029312);
        if (strstr(rest, "163 payload bytes")) assert_int_equal(h.length, 163);
        const char *val = strstr(rest, "value ");
        if (val) assert_int_equal(strtoul(val + 6, NULL, 10), h.length);
        const char *reason = strstr(rest, "reason ");
        if (reason) assert_int_equal(strtoul(reason + 7, NULL, 10), h.length);
        uint8_t again[YAMUX_HEADER_SIZE];
        yamux_header_encode(again, &h);
        assert_memory_equal(again, b, YAMUX_HEADER_SIZE);
        count++;
    }
    assert_int_equal(count, 12);
    free(text);
}

static void test_encode_known(void **state)
{
    (void)state;
    struct yamux_header h = {0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1,
                             YAMUX_FRP_MAX_WINDOW - YAMUX_INITIAL_WINDOW};
    uint8_t b[YAMUX_HEADER_SIZE];
    yamux_header_encode(b, &h);
    static const uint8_t want[] = {0, 1, 0, 1, 0, 0, 0, 1, 0, 0x5c, 0, 0};
    assert_memory_equal(b, want, sizeof want);
    h = (struct yamux_header){0, YAMUX_TYPE_DATA, 0xabcd, 0xfffffffe, 0x01020304};
    yamux_header_encode(b, &h);
    static const uint8_t want2[] = {0, 0, 0xab, 0xcd, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4};
    assert_memory_equal(b, want2, sizeof want2);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    uint8_t b[YAMUX_HEADER_SIZE] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    struct yamux_header h;
    char err[64] = "";
    assert_int_equal(yamux_header_decode(b, &h, err, sizeof err), CFRP_EPROTO);
    assert_non_null(strstr(err, "version"));
    b[0] = 0x6f; /* a plain frp Login frame's first byte */
    assert_int_equal(yamux_header_decode(b, &h, NULL, 0), CFRP_EPROTO);
    b[0] = 0;
    b[1] = 4;
    err[0] = 0;
    assert_int_equal(yamux_header_decode(b, &h, err, sizeof err), CFRP_EPROTO);
    assert_non_null(strstr(err, "type"));
    b[1] = 0xff;
    assert_int_equal(yamux_header_decode(b, &h, NULL, 0), CFRP_EPROTO);
    for (int t = 0; t < 4; t++) {
        b[1] = (uint8_t)t;
        assert_int_equal(yamux_header_decode(b, &h, NULL, 0), 0);
        assert_int_equal(h.type, t);
    }
}

/* Splits a direction's byte stream into frames and compares each header with the
 * listed one; returns the number of frames. */
static int check_direction(const uint8_t *data, size_t len, const char *listing,
                           const char *dir)
{
    size_t off = 0;
    int frames = 0;
    const char *p = listing;
    while (off < len) {
        assert_true(len - off >= YAMUX_HEADER_SIZE);
        struct yamux_header h;
        assert_int_equal(yamux_header_decode(data + off, &h, NULL, 0), 0);
        /* next listed frame of this direction */
        for (;;) {
            p = strstr(p, dir);
            assert_non_null(p);
            if (p == listing || p[-1] == '\n') break;
            p++;
        }
        uint8_t want[YAMUX_HEADER_SIZE];
        const char *rest;
        assert_int_equal(parse_hex(p + 4, want, sizeof want, &rest), YAMUX_HEADER_SIZE);
        assert_memory_equal(data + off, want, YAMUX_HEADER_SIZE);
        char meaning[64];
        snprintf(meaning, sizeof meaning, "%s stream=%u", h.type ? "WndUpd" : "Data",
                 h.stream_id);
        assert_non_null(strstr(rest, meaning));
        if (h.type == YAMUX_TYPE_WINDOW_UPDATE) {
            snprintf(meaning, sizeof meaning, "delta/value=%u", h.length);
            assert_non_null(strstr(rest, meaning));
            const char *fl = h.flags == YAMUX_FLAG_SYN   ? "flags=SYN"
                             : h.flags == YAMUX_FLAG_ACK ? "flags=ACK"
                                                         : "flags=FIN";
            assert_non_null(strstr(rest, fl));
            off += YAMUX_HEADER_SIZE;
        } else {
            snprintf(meaning, sizeof meaning, "len=%u flags=-  payload=", h.length);
            const char *pl = strstr(rest, meaning);
            assert_non_null(pl);
            pl += strlen(meaning);
            uint8_t payload[512];
            size_t pn = parse_hex(pl, payload, sizeof payload, NULL);
            assert_int_equal(pn, h.length);
            assert_true(len - off - YAMUX_HEADER_SIZE >= h.length);
            assert_memory_equal(data + off + YAMUX_HEADER_SIZE, payload, pn);
            off += YAMUX_HEADER_SIZE + h.length;
        }
        p++;
        frames++;
    }
    return frames;
}

static void test_session_capture(void **state)
{
    (void)state;
    char *text = read_vector("session-tcpmux.txt");
    char *listing = strstr(text, "# yamux frames per direction");
    assert_non_null(listing);
    size_t cap = 8192, nc = 0, ns = 0;
    uint8_t *c2s = malloc(cap), *s2c = malloc(cap);
    for (const char *p = text; p < listing; p = strchr(p, '\n') + 1) {
        if (strncmp(p, "c2s ", 4) == 0) nc += parse_hex(p + 4, c2s + nc, cap - nc, NULL);
        else if (strncmp(p, "s2c ", 4) == 0) ns += parse_hex(p + 4, s2c + ns, cap - ns, NULL);
    }
    assert_true(nc > 0 && ns > 0);
    assert_int_equal(check_direction(c2s, nc, listing, "c2s "), 14);
    assert_int_equal(check_direction(s2c, ns, listing, "s2c "), 15);
    free(c2s);
    free(s2c);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_yamux_txt),
        cmocka_unit_test(test_encode_known),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_session_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
