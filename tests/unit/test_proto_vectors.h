/* Test helpers for the proto unit tests: read vector files from CFRP_SHARED_DIR and
 * turn hex text into bytes. Header-only, included by tests/unit/test_proto_*.c. */
#ifndef CFRP_TEST_PROTO_VECTORS_H
#define CFRP_TEST_PROTO_VECTORS_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whole file under CFRP_SHARED_DIR/spec/vectors/, NUL-terminated; caller frees. */
static inline char *tv_read(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/spec/vectors/%s", CFRP_SHARED_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Decodes hex digits from s (single spaces are skipped; stops at two spaces or any
 * other character, so trailing annotations are ignored) into
 * out (capacity cap). Returns the byte count, or -1 on an odd digit count/overflow. */
static inline long tv_hex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (; *s; s++) {
        if (*s == ' ' && s[1] == ' ')
            break;
        if (*s == ' ')
            continue;
        if (!isxdigit((unsigned char)*s))
            break;
        int v = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
        if (half < 0) {
            half = v;
        } else {
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)(half << 4 | v);
            half = -1;
        }
    }
    return half < 0 ? (long)n : -1;
}

/* The text after the first occurrence of `label` at the start of a line, at or after
 * *pos; advances *pos past that line. NULL if not found. */
static inline const char *tv_find_line(const char *text, const char **pos, const char *label)
{
    const char *p = *pos ? *pos : text;
    size_t ll = strlen(label);
    while (*p) {
        if (strncmp(p, label, ll) == 0) {
            const char *eol = strchr(p, '\n');
            *pos = eol ? eol + 1 : p + strlen(p);
            return p + ll;
        }
        const char *eol = strchr(p, '\n');
        if (!eol)
            break;
        p = eol + 1;
    }
    return NULL;
}

#endif
