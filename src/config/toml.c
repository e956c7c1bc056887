/* TOML 1.0 parser (see toml.h). One pass checks the raw text (UTF-8, control
 * characters, lone CR); a recursive-descent pass then builds the document tree
 * of toml_tree.h, enforcing TOML's rules on keys and tables as it goes; the
 * finished tree is converted to jansson at the end. */
#include "base/ascii.h"
#include "config/toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "config/toml_tree.h"

/* Longest integer or float text accepted (digits, signs, underscores). */
enum { TOML_MAX_NUMBER = 512 };

struct toml_key {
    const char *s; /* decoded key, arena */
    size_t len;
    const char *at; /* where it starts in the text, for messages */
};

struct toml_parser {
    const char *beg, *p, *end;  /* text after a BOM, cursor, end; borrowed */
    struct toml_arena ar;       /* owns every node, key and string */
    struct toml_index ix;       /* owned */
    struct toml_node *cur;      /* table the current section's keys go into */
    unsigned long section;      /* id of the current section or inline table */
    unsigned long sections;     /* last id handed out */
    char *sb;                   /* owned scratch for decoding strings */
    size_t sn, scap;
    struct toml_key keys[TOML_MAX_DEPTH]; /* parts of the key being parsed */
    size_t nkeys;
    int rc; /* code of the error reported */
    char *err;
    size_t errlen;
};

/* ---- errors ---- */

/* Reports msg at position at as "line L, column C: msg". Always returns -1. */
__attribute__((format(printf, 3, 4))) static int tp_fail(struct toml_parser *tp,
                                                         const char *at, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (const char *q = tp->beg; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(tp->err, tp->errlen, "line %zu, column %zu: %s", line, col, msg);
    tp->rc = CFRP_EPARSE;
    return -1;
}

static int tp_oom(struct toml_parser *tp)
{
    err_set(tp->err, tp->errlen, "out of memory");
    tp->rc = UV_ENOMEM;
    return -1;
}

/* Names what is at q for a message: end of input, newline, 'c' or U+XXXX. */
static const char *tp_what(const struct toml_parser *tp, const char *q, char *buf, size_t n)
{
    if (q >= tp->end) return "end of input";
    unsigned char c = (unsigned char)*q;
    if (c == '\n' || c == '\r') return "a newline";
    if (c >= 0x21 && c < 0x7f) {
        snprintf(buf, n, "'%c'", c);
        return buf;
    }
    if (c == ' ') return "a space";
    if (c == '\t') return "a tab";
    unsigned cp = c;
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    cp &= 0x3Fu >> more;
    for (int i = 1; i <= more && q + i < tp->end; i++)
        cp = (cp << 6) | ((unsigned char)q[i] & 0x3F);
    snprintf(buf, n, "U+%04X", cp);
    return buf;
}

/* Quotes a key for a message, escaping control characters and shortening it. */
static const char *tp_keyname(const struct toml_key *k, char *buf, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < k->len && o + 8 < n; i++) {
        unsigned char c = (unsigned char)k->s[i];
        if (o > 48 && (c & 0xC0) != 0x80) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, n - o, c == '"' || c == '\\' ? "\\%c" : "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---- raw text ---- */

/* Rejects invalid UTF-8 (overlong forms, surrogates, beyond U+10FFFF), control
 * characters other than tab and newline, and a CR not followed by LF: none of
 * them may appear anywhere in a TOML document. */
static int tp_check_text(struct toml_parser *tp)
{
    const unsigned char *s = (const unsigned char *)tp->beg;
    const unsigned char *e = (const unsigned char *)tp->end;
    while (s < e) {
        unsigned c = *s;
        if ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n') {
            s++;
            continue;
        }
        if (c == '\r') {
            if (s + 1 < e && s[1] == '\n') {
                s += 2;
                continue;
            }
            return tp_fail(tp, (const char *)s, "carriage return not followed by a newline");
        }
        if (c < 0x80) return tp_fail(tp, (const char *)s, "control character U+%04X", c);
        size_t more;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return tp_fail(tp, (const char *)s, "invalid UTF-8");
        }
        if ((size_t)(e - s) <= more || s[1] < lo || s[1] > hi)
            return tp_fail(tp, (const char *)s, "invalid UTF-8");
        for (size_t i = 2; i <= more; i++)
            if ((s[i] & 0xC0) != 0x80) return tp_fail(tp, (const char *)s, "invalid UTF-8");
        s += more + 1;
    }
    return 0;
}

/* ---- small scanners ---- */

static int tp_peek(const struct toml_parser *tp, size_t off)
{
    return (size_t)(tp->end - tp->p) > off ? (unsigned char)tp->p[off] : -1;
}

static bool tp_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool tp_is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || tp_is_digit(c) || c == '_' ||
           c == '-';
}

/* Value of a digit in bases up to 16, or 99. */
static int tp_digit_val(int c)
{
    int v = ascii_hex_value(c);
    return v < 0 ? 99 : v;
}

static void tp_skip_ws(struct toml_parser *tp)
{
    while (tp->p < tp->end && (*tp->p == ' ' || *tp->p == '\t')) tp->p++;
}

/* Length of the newline at p (LF, or CRLF: a lone CR was rejected up front), or 0. */
static size_t tp_newline(const struct toml_parser *tp)
{
    int c = tp_peek(tp, 0);
    return c == '\n' ? 1 : c == '\r' ? 2 : 0;
}

static void tp_skip_comment(struct toml_parser *tp)
{
    if (tp_peek(tp, 0) != '#') return;
    while (tp->p < tp->end && *tp->p != '\n' && *tp->p != '\r') tp->p++;
}

/* Skips whitespace, newlines and comments (between array elements). */
static void tp_skip_blank(struct toml_parser *tp)
{
    for (;;) {
        tp_skip_ws(tp);
        tp_skip_comment(tp);
        size_t nl = tp_newline(tp);
        if (!nl) return;
        tp->p += nl;
    }
}

/* After a key/value pair or a header: only a comment may follow on the line. */
static int tp_end_line(struct toml_parser *tp)
{
    tp_skip_ws(tp);
    tp_skip_comment(tp);
    if (tp->p == tp->end) return 0;
    size_t nl = tp_newline(tp);
    if (nl) {
        tp->p += nl;
        return 0;
    }
    char b[16];
    return tp_fail(tp, tp->p, "expected a newline or end of input, found %s",
                   tp_what(tp, tp->p, b, sizeof b));
}

/* ---- nodes ---- */

/* A new node; every table, array and value is made here, so this is where
 * the nesting limit is enforced. */
static struct toml_node *tp_node(struct toml_parser *tp, enum toml_kind kind, unsigned depth)
{
    if (depth > TOML_MAX_DEPTH) {
        tp_fail(tp, tp->p, "nested deeper than %d levels", TOML_MAX_DEPTH);
        return NULL;
    }
    struct toml_node *n = toml_arena_alloc(&tp->ar, sizeof *n);
    if (!n) {
        tp_oom(tp);
        return NULL;
    }
    n->kind = kind;
    n->depth = depth;
    return n;
}

static int tp_put(struct toml_parser *tp, struct toml_node *tab, const struct toml_key *k,
                  struct toml_node *val)
{
    return toml_table_put(&tp->ar, &tp->ix, tab, k->s, k->len, val) ? tp_oom(tp) : 0;
}

/* ---- strings ---- */

/* Appends n bytes to the scratch buffer. */
static int tp_sb_put(struct toml_parser *tp, const char *s, size_t n)
{
    if (n == 0) return 0;
    if (tp->scap - tp->sn < n) {
        size_t cap = tp->scap ? tp->scap : 64;
        while (cap - tp->sn < n) {
            if (cap > SIZE_MAX / 2) return tp_oom(tp);
            cap *= 2;
        }
        char *nb = realloc(tp->sb, cap);
        if (!nb) return tp_oom(tp);
        tp->sb = nb;
        tp->scap = cap;
    }
    memcpy(tp->sb + tp->sn, s, n);
    tp->sn += n;
    return 0;
}

/* Copies the scratch buffer into the arena. */
static const char *tp_sb_keep(struct toml_parser *tp)
{
    char *s = toml_arena_alloc(&tp->ar, tp->sn + 1);
    if (!s) {
        tp_oom(tp);
        return NULL;
    }
    if (tp->sn) memcpy(s, tp->sb, tp->sn);
    return s;
}

/* Decodes the escape sequence at p (a backslash) into the scratch buffer. */
static int tp_escape(struct toml_parser *tp)
{
    const char *at = tp->p;
    int c = tp_peek(tp, 1);
    char ch;
    switch (c) {
    case 'b': ch = '\b'; break;
    case 't': ch = '\t'; break;
    case 'n': ch = '\n'; break;
    case 'f': ch = '\f'; break;
    case 'r': ch = '\r'; break;
    case '"': ch = '"'; break;
    case '\\': ch = '\\'; break;
    case 'u':
    case 'U': {
        size_t nd = c == 'u' ? 4 : 8;
        unsigned long cp = 0;
        for (size_t i = 0; i < nd; i++) {
            int v = tp_digit_val(tp_peek(tp, 2 + i));
            if (v > 15)
                return tp_fail(tp, at, "\\%c needs %zu hexadecimal digits", c, nd);
            cp = cp * 16 + (unsigned long)v;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return tp_fail(tp, at, "\\%c%.*s is not a Unicode scalar value", c, (int)nd, at + 2);
        char u[4];
        size_t n;
        if (cp < 0x80) {
            u[0] = (char)cp;
            n = 1;
        } else if (cp < 0x800) {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            u[0] = (char)(0xE0 | (cp >> 12));
            u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (char)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            u[0] = (char)(0xF0 | (cp >> 18));
            u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[3] = (char)(0x80 | (cp & 0x3F));
            n = 4;
        }
        tp->p += 2 + nd;
        return tp_sb_put(tp, u, n);
    }
    default: {
        char b[16];
        return tp_fail(tp, at, "invalid escape sequence: backslash followed by %s",
                       tp_what(tp, at + 1, b, sizeof b));
    }
    }
    tp->p += 2;
    return tp_sb_put(tp, &ch, 1);
}

/* In a multi-line basic string, a backslash that ends its line (trailing
 * whitespace allowed) swallows all whitespace and newlines after it. Returns
 * 1 if that is what is at p (and skips it), 0 if not. */
static int tp_line_ending_backslash(struct toml_parser *tp)
{
    size_t i = 1;
    while (tp_peek(tp, i) == ' ' || tp_peek(tp, i) == '\t') i++;
    int c = tp_peek(tp, i);
    if (c != '\n' && c != '\r') return 0;
    tp->p += i;
    for (;;) {
        tp_skip_ws(tp);
        size_t nl = tp_newline(tp);
        if (!nl) return 1;
        tp->p += nl;
    }
}

/* Reads the string at p (quote is '"' or '\'', multi for the triple-quoted
 * forms) into the scratch buffer, with escapes decoded for basic strings. */
static int tp_string(struct toml_parser *tp, char quote, bool multi)
{
    const char *open = tp->p;
    tp->sn = 0;
    if (multi) {
        tp->p += 3;
        tp->p += tp_newline(tp); /* a newline right after the opening quotes is dropped */
    } else {
        tp->p++;
    }
    for (;;) {
        if (tp->p >= tp->end) return tp_fail(tp, open, "unterminated string");
        char c = *tp->p;
        if (c == quote) {
            if (!multi) {
                tp->p++;
                return 0;
            }
            /* Up to two quotes may end the body just before the closing three. */
            size_t q = 0;
            while (q < 6 && tp_peek(tp, q) == quote) q++;
            if (q == 6) return tp_fail(tp, tp->p, "too many quotes at the end of a string");
            size_t body = q >= 3 ? q - 3 : q;
            if (tp_sb_put(tp, tp->p, body)) return -1;
            tp->p += q;
            if (q >= 3) return 0;
            continue;
        }
        if (c == '\\' && quote == '"') {
            if (multi && tp_line_ending_backslash(tp)) continue;
            if (tp_escape(tp)) return -1;
            continue;
        }
        if ((c == '\n' || c == '\r') && !multi)
            return tp_fail(tp, tp->p, "newline in a single-line string");
        if (tp_sb_put(tp, tp->p, 1)) return -1;
        tp->p++;
    }
}

/* ---- keys ---- */

static int tp_simple_key(struct toml_parser *tp, struct toml_key *k)
{
    k->at = tp->p;
    int c = tp_peek(tp, 0);
    if (c == '"' || c == '\'') {
        if (tp_peek(tp, 1) == c && tp_peek(tp, 2) == c)
            return tp_fail(tp, tp->p, "a multi-line string cannot be a key");
        if (tp_string(tp, (char)c, false)) return -1;
    } else if (tp_is_bare(c)) {
        const char *s = tp->p;
        while (tp->p < tp->end && tp_is_bare((unsigned char)*tp->p)) tp->p++;
        tp->sn = 0;
        if (tp_sb_put(tp, s, (size_t)(tp->p - s))) return -1;
    } else {
        char b[16];
        return tp_fail(tp, tp->p, "expected a key, found %s", tp_what(tp, tp->p, b, sizeof b));
    }
    k->len = tp->sn;
    k->s = tp_sb_keep(tp);
    return k->s ? 0 : -1;
}

/* Reads a (possibly dotted) key into tp->keys, and the whitespace after it. */
static int tp_key(struct toml_parser *tp)
{
    tp->nkeys = 0;
    for (;;) {
        if (tp->nkeys == TOML_MAX_DEPTH)
            return tp_fail(tp, tp->p, "key nested deeper than %d levels", TOML_MAX_DEPTH);
        if (tp_simple_key(tp, &tp->keys[tp->nkeys++])) return -1;
        tp_skip_ws(tp);
        if (tp_peek(tp, 0) != '.') return 0;
        tp->p++;
        tp_skip_ws(tp);
    }
}

/* ---- numbers and dates ---- */

/* Skips a run of base-`base` digits in which single underscores may stand
 * between digits. Returns where the run ends, or NULL if it is empty or
 * misuses an underscore. */
static const char *tp_digit_run(const char *q, const char *e, int base)
{
    if (q >= e || tp_digit_val((unsigned char)*q) >= base) return NULL;
    while (q < e) {
        if (*q == '_') {
            if (q + 1 >= e || tp_digit_val((unsigned char)q[1]) >= base) return NULL;
        } else if (tp_digit_val((unsigned char)*q) >= base) {
            break;
        }
        q++;
    }
    return q;
}

/* Integer value of the digit run [q, e) in base; -1 if it exceeds limit. */
static int tp_int_value(const char *q, const char *e, int base, uint64_t limit, uint64_t *v)
{
    *v = 0;
    for (; q < e; q++) {
        if (*q == '_') continue;
        uint64_t d = (uint64_t)tp_digit_val((unsigned char)*q);
        if (*v > (limit - d) / (uint64_t)base) return -1;
        *v = *v * (uint64_t)base + d;
    }
    return 0;
}

/* Parses the integer or float text [s, e). */
static int tp_number(struct toml_parser *tp, const char *s, const char *e, struct toml_node *n)
{
    const char *q = s;
    bool neg = false, sign = *q == '+' || *q == '-';
    if (sign) neg = *q++ == '-';
    uint64_t v;
    if (e - q >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'o' || q[1] == 'b')) {
        int base = q[1] == 'x' ? 16 : q[1] == 'o' ? 8 : 2;
        if (sign) return tp_fail(tp, s, "a sign is not allowed before 0%c", q[1]);
        const char *r = tp_digit_run(q + 2, e, base);
        if (r != e) return tp_fail(tp, s, "invalid integer '%.*s'", (int)(e - s), s);
        if (tp_int_value(q + 2, e, base, INT64_MAX, &v))
            return tp_fail(tp, s, "integer out of range '%.*s'", (int)(e - s), s);
        n->kind = TOML_K_INT;
        n->u.i = (int64_t)v;
        return 0;
    }
    const char *r = tp_digit_run(q, e, 10);
    if (!r) return tp_fail(tp, s, "invalid number '%.*s'", (int)(e - s), s);
    if (*q == '0' && r - q > 1)
        return tp_fail(tp, s, "leading zeros are not allowed in '%.*s'", (int)(e - s), s);
    const char *int_end = r;
    bool is_float = false;
    if (r < e && *r == '.') {
        is_float = true;
        r = tp_digit_run(r + 1, e, 10);
        if (!r) return tp_fail(tp, s, "a decimal point must be followed by digits");
    }
    if (r < e && (*r == 'e' || *r == 'E')) {
        is_float = true;
        r++;
        if (r < e && (*r == '+' || *r == '-')) r++;
        r = tp_digit_run(r, e, 10);
        if (!r) return tp_fail(tp, s, "an exponent must have digits");
    }
    if (r != e) return tp_fail(tp, s, "invalid number '%.*s'", (int)(e - s), s);
    if (!is_float) {
        if (tp_int_value(q, int_end, 10, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &v))
            return tp_fail(tp, s, "integer out of range '%.*s'", (int)(e - s), s);
        n->kind = TOML_K_INT;
        n->u.i = neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
    }
    char buf[TOML_MAX_NUMBER + 1];
    size_t len = 0;
    for (q = s; q < e; q++)
        if (*q != '_') buf[len++] = *q;
    buf[len] = '\0';
    errno = 0;
    double f = strtod(buf, NULL);
    if (errno == ERANGE && isinf(f))
        return tp_fail(tp, s, "float out of range '%.*s'", (int)(e - s), s);
    n->kind = TOML_K_FLOAT;
    n->u.f = f;
    return 0;
}

/* Two digits at q as a number, or -1. */
static int tp_two_digits(const struct toml_parser *tp, const char *q)
{
    if (tp->end - q < 2 || !tp_is_digit((unsigned char)q[0]) || !tp_is_digit((unsigned char)q[1]))
        return -1;
    return (q[0] - '0') * 10 + (q[1] - '0');
}

/* Parses HH:MM:SS[.frac] at *q into dt. */
static int tp_time(struct toml_parser *tp, const char **qp, struct toml_datetime *dt)
{
    const char *q = *qp;
    dt->hour = tp_two_digits(tp, q);
    dt->minute = tp->end - q > 2 && q[2] == ':' ? tp_two_digits(tp, q + 3) : -1;
    dt->second = tp->end - q > 5 && q[5] == ':' ? tp_two_digits(tp, q + 6) : -1;
    if (dt->hour < 0 || dt->minute < 0 || dt->second < 0)
        return tp_fail(tp, q, "expected a time as HH:MM:SS");
    if (dt->hour > 23) return tp_fail(tp, q, "hour %02d out of range", dt->hour);
    if (dt->minute > 59) return tp_fail(tp, q + 3, "minute %02d out of range", dt->minute);
    if (dt->second > 60) return tp_fail(tp, q + 6, "second %02d out of range", dt->second);
    q += 8;
    if (q < tp->end && *q == '.') {
        if (q + 1 >= tp->end || !tp_is_digit((unsigned char)q[1]))
            return tp_fail(tp, q, "a decimal point must be followed by digits");
        for (q++; q < tp->end && tp_is_digit((unsigned char)*q); q++)
            if (dt->prec < 9) {
                dt->nsec = dt->nsec * 10 + (*q - '0');
                dt->prec++;
            }
        for (int i = dt->prec; i < 9; i++) dt->nsec *= 10;
    }
    *qp = q;
    return 0;
}

/* Parses a date, date-time or time (has_date false) at p into n. */
static int tp_datetime(struct toml_parser *tp, bool has_date, struct toml_node *n)
{
    struct toml_datetime *dt = &n->u.dt;
    const char *q = tp->p;
    if (has_date) {
        int y1 = tp_two_digits(tp, q), y2 = tp_two_digits(tp, q + 2);
        dt->month = q + 4 < tp->end ? tp_two_digits(tp, q + 5) : -1;
        dt->day = q + 7 < tp->end && q[7] == '-' ? tp_two_digits(tp, q + 8) : -1;
        if (y1 < 0 || y2 < 0 || dt->month < 0 || dt->day < 0)
            return tp_fail(tp, q, "expected a date as YYYY-MM-DD");
        dt->year = y1 * 100 + y2;
        if (dt->month < 1 || dt->month > 12)
            return tp_fail(tp, q + 5, "month %02d out of range", dt->month);
        if (dt->day < 1 || dt->day > toml_days_in_month(dt->year, dt->month))
            return tp_fail(tp, q + 8, "day %02d out of range for %04d-%02d", dt->day, dt->year,
                           dt->month);
        q += 10;
        /* A space separates a time only where one follows. */
        bool time = q < tp->end && (*q == 'T' || *q == 't' ||
                                    (*q == ' ' && tp_two_digits(tp, q + 1) >= 0 &&
                                     tp->end - q > 3 && q[3] == ':'));
        if (!time) {
            n->kind = TOML_K_DATE_LOCAL;
            tp->p = q;
            return 0;
        }
        q++;
    }
    if (tp_time(tp, &q, dt)) return -1;
    n->kind = has_date ? TOML_K_DATETIME_LOCAL : TOML_K_TIME_LOCAL;
    if (has_date && q < tp->end && (*q == 'Z' || *q == 'z')) {
        n->kind = TOML_K_DATETIME;
        dt->offset_sign = 'Z';
        q++;
    } else if (has_date && q < tp->end && (*q == '+' || *q == '-')) {
        int h = tp_two_digits(tp, q + 1);
        int m = tp->end - q > 3 && q[3] == ':' ? tp_two_digits(tp, q + 4) : -1;
        if (h < 0 || m < 0) return tp_fail(tp, q, "expected a time offset as +HH:MM");
        if (h > 23 || m > 59) return tp_fail(tp, q, "time offset out of range");
        n->kind = TOML_K_DATETIME;
        dt->offset_sign = *q;
        dt->offset_min = h * 60 + m;
        q += 6;
    }
    tp->p = q;
    return 0;
}

/* A number, date or time at p (which starts with a digit, '+' or '-'). */
static int tp_number_or_date(struct toml_parser *tp, struct toml_node *n)
{
    const char *s = tp->p;
    size_t avail = (size_t)(tp->end - s);
    if (avail >= 5 && tp_two_digits(tp, s) >= 0 && tp_two_digits(tp, s + 2) >= 0 && s[4] == '-')
        return tp_datetime(tp, true, n);
    if (avail >= 3 && tp_two_digits(tp, s) >= 0 && s[2] == ':') return tp_datetime(tp, false, n);
    const char *e = s;
    while (e < tp->end &&
           (tp_is_bare((unsigned char)*e) || *e == '.' || *e == '+' || *e == '-'))
        e++;
    if (e - s > TOML_MAX_NUMBER) return tp_fail(tp, s, "number too long");
    if (tp_number(tp, s, e, n)) return -1;
    tp->p = e;
    return 0;
}

/* ---- values ---- */

static int tp_value(struct toml_parser *tp, unsigned depth, struct toml_node **out);
static int tp_keyval(struct toml_parser *tp, struct toml_node *tab);

/* Marks an inline table and the tables its dotted keys created as closed. */
static void tp_freeze(struct toml_node *n)
{
    if (n->flags & TOML_F_FROZEN) return;
    n->flags |= TOML_F_FROZEN;
    for (size_t i = 0; i < n->u.tab.n; i++)
        if (n->u.tab.items[i].val->kind == TOML_K_TABLE) tp_freeze(n->u.tab.items[i].val);
}

static int tp_array(struct toml_parser *tp, struct toml_node *arr)
{
    tp->p++;
    for (;;) {
        tp_skip_blank(tp);
        if (tp_peek(tp, 0) == ']') break;
        struct toml_node *v;
        if (tp_value(tp, arr->depth + 1, &v)) return -1;
        if (toml_array_push(&tp->ar, arr, v)) return tp_oom(tp);
        tp_skip_blank(tp);
        int c = tp_peek(tp, 0);
        if (c == ']') break;
        if (c != ',') {
            char b[16];
            return tp_fail(tp, tp->p, "expected ',' or ']' in array, found %s",
                           tp_what(tp, tp->p, b, sizeof b));
        }
        tp->p++;
    }
    tp->p++;
    return 0;
}

static int tp_inline_table(struct toml_parser *tp, struct toml_node *tab)
{
    unsigned long outer = tp->section;
    tp->section = ++tp->sections; /* dotted keys inside belong to this table only */
    tp->p++;
    tp_skip_ws(tp);
    if (tp_peek(tp, 0) != '}') {
        for (;;) {
            if (tp_keyval(tp, tab)) return -1;
            tp_skip_ws(tp);
            int c = tp_peek(tp, 0);
            if (c == '}') break;
            if (c != ',') {
                char b[16];
                return tp_fail(tp, tp->p, "expected ',' or '}' in inline table, found %s",
                               tp_what(tp, tp->p, b, sizeof b));
            }
            tp->p++;
            tp_skip_ws(tp);
        }
    }
    tp->p++;
    tp_freeze(tab);
    tp->section = outer;
    return 0;
}

/* Parses the value at p into a new node at the given depth. */
static int tp_value(struct toml_parser *tp, unsigned depth, struct toml_node **out)
{
    struct toml_node *n = tp_node(tp, TOML_K_STRING, depth);
    if (!n) return -1;
    *out = n;
    int c = tp_peek(tp, 0), sign = c == '+' || c == '-';
    if (c == '"' || c == '\'') {
        bool multi = tp_peek(tp, 1) == c && tp_peek(tp, 2) == c;
        if (tp_string(tp, (char)c, multi)) return -1;
        n->u.str.len = tp->sn;
        n->u.str.s = tp_sb_keep(tp);
        return n->u.str.s ? 0 : -1;
    }
    if (c == '[') {
        n->kind = TOML_K_ARRAY;
        n->flags = TOML_F_FROZEN;
        return tp_array(tp, n);
    }
    if (c == '{') {
        n->kind = TOML_K_TABLE;
        return tp_inline_table(tp, n);
    }
    size_t avail = (size_t)(tp->end - tp->p);
    if (avail >= 4 && memcmp(tp->p, "true", 4) == 0) {
        n->kind = TOML_K_BOOL;
        n->u.b = 1;
        tp->p += 4;
        return 0;
    }
    if (avail >= 5 && memcmp(tp->p, "false", 5) == 0) {
        n->kind = TOML_K_BOOL;
        tp->p += 5;
        return 0;
    }
    if (avail >= 3u + sign && (memcmp(tp->p + sign, "inf", 3) == 0 ||
                               memcmp(tp->p + sign, "nan", 3) == 0)) {
        n->kind = TOML_K_FLOAT;
        n->u.f = tp->p[sign] == 'n' ? NAN : c == '-' ? -INFINITY : INFINITY;
        tp->p += 3 + sign;
        return 0;
    }
    if (tp_is_digit(c) || sign) return tp_number_or_date(tp, n);
    char b[16];
    return tp_fail(tp, tp->p, "expected a value, found %s", tp_what(tp, tp->p, b, sizeof b));
}

/* ---- key/value pairs and headers ---- */

/* Parses key = value into table tab; dotted keys create or extend tables
 * owned by the current section. */
static int tp_keyval(struct toml_parser *tp, struct toml_node *tab)
{
    char kb[96];
    if (tp_key(tp)) return -1;
    struct toml_node *t = tab;
    for (size_t i = 0; i + 1 < tp->nkeys; i++) {
        const struct toml_key *k = &tp->keys[i];
        struct toml_node *child = toml_table_get(&tp->ix, t, k->s, k->len);
        if (!child) {
            child = tp_node(tp, TOML_K_TABLE, t->depth + 1);
            if (!child || tp_put(tp, t, k, child)) return -1;
        } else if (child->kind != TOML_K_TABLE) {
            return tp_fail(tp, k->at, "key %s already has a value that is not a table",
                           tp_keyname(k, kb, sizeof kb));
        } else if (child->flags & TOML_F_FROZEN) {
            return tp_fail(tp, k->at, "inline table %s cannot be extended",
                           tp_keyname(k, kb, sizeof kb));
        } else if ((child->flags & TOML_F_DEFINED) ||
                   ((child->flags & TOML_F_DOTTED) && child->section != tp->section)) {
            return tp_fail(tp, k->at, "table %s is already defined",
                           tp_keyname(k, kb, sizeof kb));
        }
        child->flags |= TOML_F_DOTTED;
        child->section = tp->section;
        t = child;
    }
    struct toml_key last = tp->keys[tp->nkeys - 1];
    if (toml_table_get(&tp->ix, t, last.s, last.len))
        return tp_fail(tp, last.at, "duplicate key %s", tp_keyname(&last, kb, sizeof kb));
    if (tp_peek(tp, 0) != '=') {
        char b[16];
        return tp_fail(tp, tp->p, "expected '=' after key, found %s",
                       tp_what(tp, tp->p, b, sizeof b));
    }
    tp->p++;
    tp_skip_ws(tp);
    struct toml_node *val;
    if (tp_value(tp, t->depth + 1, &val)) return -1;
    return tp_put(tp, t, &last, val);
}

/* Parses a [table] or [[array of tables]] header and makes its table current. */
static int tp_header(struct toml_parser *tp, struct toml_node *root)
{
    char kb[96];
    bool aot = tp_peek(tp, 1) == '[';
    tp->p += aot ? 2 : 1;
    tp_skip_ws(tp);
    if (tp_key(tp)) return -1;
    if (tp_peek(tp, 0) != ']' || (aot && tp_peek(tp, 1) != ']')) {
        char b[16];
        return tp_fail(tp, tp->p, "expected '%s' after table name, found %s", aot ? "]]" : "]",
                       tp_what(tp, tp->p, b, sizeof b));
    }
    tp->p += aot ? 2 : 1;
    struct toml_node *t = root;
    for (size_t i = 0; i + 1 < tp->nkeys; i++) {
        const struct toml_key *k = &tp->keys[i];
        struct toml_node *child = toml_table_get(&tp->ix, t, k->s, k->len);
        if (!child) {
            child = tp_node(tp, TOML_K_TABLE, t->depth + 1);
            if (!child || tp_put(tp, t, k, child)) return -1;
        } else if (child->kind == TOML_K_ARRAY && (child->flags & TOML_F_AOT)) {
            child = child->u.arr.items[child->u.arr.n - 1];
        } else if (child->kind != TOML_K_TABLE || (child->flags & TOML_F_FROZEN)) {
            return tp_fail(tp, k->at, "key %s already has a value that cannot be extended",
                           tp_keyname(k, kb, sizeof kb));
        }
        t = child;
    }
    const struct toml_key *k = &tp->keys[tp->nkeys - 1];
    struct toml_node *child = toml_table_get(&tp->ix, t, k->s, k->len);
    if (aot) {
        if (!child) {
            child = tp_node(tp, TOML_K_ARRAY, t->depth + 1);
            if (!child || tp_put(tp, t, k, child)) return -1;
            child->flags = TOML_F_AOT;
        } else if (child->kind != TOML_K_ARRAY || !(child->flags & TOML_F_AOT)) {
            return tp_fail(tp, k->at, "key %s is already defined and is not an array of tables",
                           tp_keyname(k, kb, sizeof kb));
        }
        struct toml_node *elem = tp_node(tp, TOML_K_TABLE, child->depth + 1);
        if (!elem) return -1;
        if (toml_array_push(&tp->ar, child, elem)) return tp_oom(tp);
        child = elem;
    } else if (!child) {
        child = tp_node(tp, TOML_K_TABLE, t->depth + 1);
        if (!child || tp_put(tp, t, k, child)) return -1;
    } else if (child->kind != TOML_K_TABLE || child->flags) {
        return tp_fail(tp, k->at, "%s %s is already defined",
                       child->kind == TOML_K_TABLE ? "table" : "key",
                       tp_keyname(k, kb, sizeof kb));
    }
    child->flags |= TOML_F_DEFINED;
    tp->cur = child;
    tp->section = ++tp->sections;
    return 0;
}

static int tp_document(struct toml_parser *tp, struct toml_node *root)
{
    tp->cur = root;
    for (;;) {
        tp_skip_ws(tp);
        if (tp->p == tp->end) return 0;
        int c = tp_peek(tp, 0);
        if (c == '[') {
            if (tp_header(tp, root)) return -1;
        } else if (c != '#' && c != '\n' && c != '\r') {
            if (tp_keyval(tp, tp->cur)) return -1;
        }
        if (tp_end_line(tp)) return -1;
    }
}

int toml_parse(const char *data, size_t len, int flags, json_t **out, char *err, size_t errlen)
{
    struct toml_parser tp = {.err = err, .errlen = errlen};
    *out = NULL;
    if (!data) data = "";
    tp.beg = data;
    tp.end = data + len;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) tp.beg += 3;
    tp.p = tp.beg;
    int rc;
    struct toml_node *root = NULL;
    if (tp_check_text(&tp) == 0 && (root = tp_node(&tp, TOML_K_TABLE, 0)) != NULL) {
        root->flags = TOML_F_DEFINED;
    }
    if (root && tp_document(&tp, root) == 0)
        rc = toml_tree_to_json(root, flags & TOML_TAGGED, out, err, errlen);
    else
        rc = tp.rc;
    toml_index_free(&tp.ix);
    toml_arena_free(&tp.ar);
    free(tp.sb);
    return rc;
}
