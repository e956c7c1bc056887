/* Go text/template subset used to render frp config files before parsing (see
 * template.h). Three stages: a lexer turning the source into a token array, a
 * recursive-descent parser building an AST in an arena, and a tree-walking executor
 * writing into a bounded output buffer. Messages follow Go's text/template. */
#include "base/ascii.h"
#include "config/template.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

extern char **environ;

/* ---------------------------------------------------------------- string builder */

/* A growable byte buffer with a hard limit. Owns p (free with free()). Once full or
 * out of memory, further writes are dropped and the flag says why. */
struct sb {
    char *p;
    size_t n, cap, limit;
    bool full, nomem;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
    if (b->full || b->nomem || n == 0) return;
    if (n > b->limit - b->n) {
        b->full = true;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->nomem = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_putc(struct sb *b, char c) { sb_put(b, &c, 1); }

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *sb_str(struct sb *b) { return b->p ? b->p : ""; }

/* ------------------------------------------------------------------------ arena */

/* Bump allocator for the AST; everything is freed at once by arena_free. */
struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    max_align_t data[];
};

struct arena {
    struct arena_blk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct arena_blk *b = a->head;
        a->head = b->next;
        free(b);
    }
}

/* ------------------------------------------------------------------------ lexer */

enum tok_type {
    T_EOF, T_TEXT, T_LDELIM, T_RDELIM, T_IDENT, T_FIELD, T_DOT, T_VAR, T_STRING,
    T_RAWSTRING, T_CHARCONST, T_NUMBER, T_BOOL, T_NIL, T_LPAREN, T_RPAREN, T_PIPE,
    T_DECLARE, T_ASSIGN, T_COMMA, T_CHAR, T_K_RANGE, T_K_IF, T_K_ELSE, T_K_END,
    T_K_WITH, T_K_BREAK, T_K_CONTINUE, T_K_DEFINE, T_K_TEMPLATE, T_K_BLOCK
};

/* One token; p/n point into the source (for T_TEXT: the text after trimming). */
struct tok {
    enum tok_type type;
    bool space; /* whitespace precedes it inside the action */
    int line;
    size_t pos;
    const char *p;
    size_t n;
};

struct slice {
    const char *p;
    size_t n;
};

/* One render: the source, the token array (owned), the AST arena and the error. */
struct tmpl {
    const char *name;
    const char *src;
    size_t len;
    struct tok *toks;
    size_t ntok, captok;
    struct arena arena;
    char *err;
    size_t errlen;
    bool nomem;
    bool legacy; /* tmpl_render_legacy: Go's plain text/template */
};

static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_alnum(int c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 0x80;
}
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static int line_at(const struct tmpl *t, size_t pos)
{
    int line = 1;
    for (size_t i = 0; i < pos && i < t->len; i++)
        if (t->src[i] == '\n') line++;
    return line;
}

__attribute__((format(printf, 3, 4))) static int parse_fail(struct tmpl *t, int line,
                                                            const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(t->err, t->errlen, "template: %s:%d: %s", t->name, line, msg);
    return CFRP_EPARSE;
}

static int nomem(struct tmpl *t)
{
    t->nomem = true;
    err_set(t->err, t->errlen, "template: %s: out of memory", t->name);
    return UV_ENOMEM;
}

static int emit(struct tmpl *t, enum tok_type type, size_t pos, size_t end, bool space)
{
    if (t->ntok == t->captok) {
        size_t cap = t->captok ? t->captok * 2 : 256;
        struct tok *n = realloc(t->toks, cap * sizeof *n);
        if (!n) return nomem(t);
        t->toks = n;
        t->captok = cap;
    }
    struct tok *k = &t->toks[t->ntok++];
    k->type = type;
    k->space = space;
    k->pos = pos;
    k->p = t->src + pos;
    k->n = end - pos;
    k->line = 0; /* filled by lex_lines */
    return 0;
}

static bool has_at(const struct tmpl *t, size_t pos, const char *s)
{
    size_t n = strlen(s);
    return pos <= t->len && t->len - pos >= n && memcmp(t->src + pos, s, n) == 0;
}

/* Go's atTerminator: what may follow a field, variable or identifier. */
static bool at_terminator(const struct tmpl *t, size_t pos)
{
    if (pos >= t->len) return true;
    int c = (unsigned char)t->src[pos];
    return is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' ||
           c == '(' || has_at(t, pos, "}}");
}

static int bad_char(struct tmpl *t, size_t pos)
{
    int c = (unsigned char)t->src[pos];
    int line = line_at(t, pos);
    if (c >= 0x20 && c < 0x7f) return parse_fail(t, line, "bad character U+%04X '%c'", c, c);
    return parse_fail(t, line, "bad character U+%04X", c);
}

static const struct {
    const char *word;
    enum tok_type type;
} tmpl_keywords[] = {
    {"range", T_K_RANGE}, {"if", T_K_IF}, {"else", T_K_ELSE}, {"end", T_K_END},
    {"with", T_K_WITH}, {"break", T_K_BREAK}, {"continue", T_K_CONTINUE},
    {"define", T_K_DEFINE}, {"template", T_K_TEMPLATE}, {"block", T_K_BLOCK},
    {"true", T_BOOL}, {"false", T_BOOL}, {"nil", T_NIL},
};

/* Scans a number literal at pos the way Go's lexer does; returns its end or 0. */
static size_t scan_number(const struct tmpl *t, size_t pos)
{
    const char *s = t->src;
    size_t i = pos, n = t->len;
    const char *digits = "0123456789_";
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i + 1 < n && s[i] == '0' && strchr("xXoObB", s[i + 1]) && s[i + 1]) {
        char p = (char)(s[i + 1] | 0x20);
        digits = p == 'x' ? "0123456789abcdefABCDEF_" : p == 'o' ? "01234567_" : "01_";
        i += 2;
    }
    while (i < n && s[i] && strchr(digits, s[i])) i++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] && strchr(digits, s[i])) i++;
    }
    if (strlen(digits) == 11 && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        while (i < n && (is_digit(s[i]) || s[i] == '_')) i++;
    }
    if (strlen(digits) == 23 && i < n && (s[i] == 'p' || s[i] == 'P')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        while (i < n && (is_digit(s[i]) || s[i] == '_')) i++;
    }
    if (i < n && s[i] == 'i') i++;
    if (i < n && is_alnum((unsigned char)s[i])) return 0;
    return i;
}

/* Lexes the inside of one action starting at *pp (after "{{" and any "- ").
 * On return *pp is past the closing delimiter and *trim says whether it was " -}}". */
static int lex_action(struct tmpl *t, size_t *pp, bool *trim)
{
    size_t i = *pp;
    bool space = false;
    const char *s = t->src;
    for (;;) {
        if (i >= t->len) return parse_fail(t, line_at(t, i), "unclosed action");
        int c = (unsigned char)s[i];
        if (has_at(t, i, "}}")) {
            int rc = emit(t, T_RDELIM, i, i + 2, space);
            *pp = i + 2;
            *trim = false;
            return rc;
        }
        if (is_space(c)) {
            size_t j = i;
            while (j < t->len && is_space((unsigned char)s[j])) j++;
            if (has_at(t, j, "-}}")) {
                int rc = emit(t, T_RDELIM, j, j + 3, true);
                *pp = j + 3;
                *trim = true;
                return rc;
            }
            space = true;
            i = j;
            continue;
        }
        enum tok_type type;
        size_t end = i + 1;
        if (c == '=') {
            type = T_ASSIGN;
        } else if (c == ':') {
            if (i + 1 >= t->len || s[i + 1] != '=')
                return parse_fail(t, line_at(t, i), "expected :=");
            type = T_DECLARE;
            end = i + 2;
        } else if (c == '|') {
            type = T_PIPE;
        } else if (c == '(') {
            type = T_LPAREN;
        } else if (c == ')') {
            type = T_RPAREN;
        } else if (c == ',') {
            type = T_COMMA;
        } else if (c == '"' || c == '\'') {
            type = c == '"' ? T_STRING : T_CHARCONST;
            while (end < t->len && s[end] != c && s[end] != '\n') {
                if (s[end] == '\\' && end + 1 < t->len && s[end + 1] != '\n') end++;
                end++;
            }
            if (end >= t->len || s[end] != c)
                return parse_fail(t, line_at(t, i),
                                  c == '"' ? "unterminated quoted string"
                                           : "unterminated character constant");
            end++;
        } else if (c == '`') {
            type = T_RAWSTRING;
            while (end < t->len && s[end] != '`') end++;
            if (end >= t->len) return parse_fail(t, line_at(t, i), "unterminated raw quoted string");
            end++;
        } else if (c == '$' || (c == '.' && !(i + 1 < t->len && is_digit(s[i + 1])))) {
            while (end < t->len && is_alnum((unsigned char)s[end])) end++;
            type = c == '$' ? T_VAR : end == i + 1 ? T_DOT : T_FIELD;
            if (!at_terminator(t, end)) return bad_char(t, end);
        } else if (c == '+' || c == '-' || c == '.' || is_digit(c)) {
            end = scan_number(t, i);
            if (end == 0) {
                size_t e = i + 1;
                while (e < t->len && is_alnum((unsigned char)s[e])) e++;
                return parse_fail(t, line_at(t, i), "bad number syntax: \"%.*s\"",
                                  (int)(e - i), s + i);
            }
            type = T_NUMBER;
        } else if (is_alnum(c)) {
            while (end < t->len && is_alnum((unsigned char)s[end])) end++;
            if (!at_terminator(t, end)) return bad_char(t, end);
            type = T_IDENT;
            for (size_t k = 0; k < sizeof tmpl_keywords / sizeof tmpl_keywords[0]; k++)
                if (strlen(tmpl_keywords[k].word) == end - i &&
                    memcmp(tmpl_keywords[k].word, s + i, end - i) == 0)
                    type = tmpl_keywords[k].type;
        } else if (c >= 0x20 && c < 0x7f) {
            type = T_CHAR;
        } else {
            return bad_char(t, i);
        }
        int rc = emit(t, type, i, end, space);
        if (rc) return rc;
        space = false;
        i = end;
    }
}

/* Splits the whole source into tokens, applying trim markers to the text tokens. */
static int lex_all(struct tmpl *t)
{
    size_t pos = 0;
    bool trim_lead = false;
    const char *s = t->src;
    for (;;) {
        const char *d = t->len > pos ? memmem(s + pos, t->len - pos, "{{", 2) : NULL;
        size_t tend = d ? (size_t)(d - s) : t->len;
        bool ltrim = d && tend + 3 < t->len && s[tend + 2] == '-' &&
                     is_space((unsigned char)s[tend + 3]);
        size_t a = pos, b = tend;
        if (trim_lead)
            while (a < b && is_space((unsigned char)s[a])) a++;
        if (ltrim)
            while (b > a && is_space((unsigned char)s[b - 1])) b--;
        int rc;
        if (b > a && (rc = emit(t, T_TEXT, a, b, false))) return rc;
        if (!d) return emit(t, T_EOF, t->len, t->len, false);
        size_t ap = tend + 2 + (ltrim ? 2 : 0);
        if (has_at(t, ap, "/*")) {
            const char *e = memmem(s + ap + 2, t->len - ap - 2, "*/", 2);
            if (!e) return parse_fail(t, line_at(t, tend), "unclosed comment");
            size_t after = (size_t)(e - s) + 2;
            if (has_at(t, after, "}}")) {
                trim_lead = false;
                pos = after + 2;
            } else if (after < t->len && is_space((unsigned char)s[after]) &&
                       has_at(t, after + 1, "-}}")) {
                trim_lead = true;
                pos = after + 4;
            } else {
                return parse_fail(t, line_at(t, after), "comment ends before closing delimiter");
            }
            continue;
        }
        if ((rc = emit(t, T_LDELIM, tend, tend + 2, false))) return rc;
        if ((rc = lex_action(t, &ap, &trim_lead))) return rc;
        pos = ap;
    }
}

/* Fills each token's line number in one pass. */
static void lex_lines(struct tmpl *t)
{
    int line = 1;
    size_t at = 0;
    for (size_t i = 0; i < t->ntok; i++) {
        for (; at < t->toks[i].pos; at++)
            if (t->src[at] == '\n') line++;
        t->toks[i].line = line;
    }
}

/* ------------------------------------------------------------------------- AST */

struct tfunc;
struct tpipe;

enum arg_type { A_FIELD, A_VAR, A_DOT, A_FUNC, A_STRING, A_NUMBER, A_BOOL, A_NIL, A_PIPE, A_CHAIN };

/* An operand. raw is its source text (names, literals); fields are trailing .X.Y. */
struct targ {
    enum arg_type type;
    size_t pos;
    struct targ *next;
    struct slice raw;
    struct slice *fields;
    size_t nfields;
    char *str; /* A_STRING: decoded value (arena) */
    size_t strn;
    bool isint;    /* A_NUMBER: integer value in i, else float in f */
    bool overflow; /* A_NUMBER: an integer literal too large for int */
    int64_t i;
    double f;
    bool b;
    struct tpipe *pipe;      /* A_PIPE, or A_CHAIN whose base is a pipe */
    struct targ *base;       /* A_CHAIN */
    const struct tfunc *fn;  /* A_FUNC */
};

struct tcmd {
    size_t pos;
    struct targ *args;
    size_t nargs;
    struct tcmd *next;
};

struct tpipe {
    size_t pos;
    int ndecl;
    bool assign;
    struct slice decl[2];
    struct tcmd *cmds;
};

enum node_type { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_BREAK, N_CONTINUE };

struct tnode {
    enum node_type type;
    size_t pos;
    struct tnode *next;
    const char *text; /* N_TEXT */
    size_t len;
    struct tpipe *pipe;
    struct tnode *list, *elselist;
};

/* ------------------------------------------------------------------- functions */

struct tval;
struct exec;
typedef int (*tfunc_fn)(struct exec *x, struct tval *args, size_t n, struct tval *out,
                        struct sb *msg);

struct tfunc {
    const char *name;
    int min, max; /* argument count bounds; max -1 = variadic */
    tfunc_fn fn;  /* NULL for and/or, which evaluate lazily */
    bool frp;     /* frp's own function, not defined for legacy INI files */
};

static const struct tfunc *func_lookup(const struct tmpl *t, const char *name, size_t n);

/* ----------------------------------------------------------------------- parser */

#define TMPL_MAX_VARS 4096

struct parser {
    struct tmpl *t;
    size_t i;
    struct slice vars[TMPL_MAX_VARS];
    size_t nvars;
    int depth;
    int range_depth;
};

static struct tok *peek(struct parser *p) { return &p->t->toks[p->i]; }
static struct tok *next_tok(struct parser *p)
{
    struct tok *k = &p->t->toks[p->i];
    if (k->type != T_EOF) p->i++;
    return k;
}

static void *p_alloc(struct parser *p, size_t n)
{
    void *m = arena_alloc(&p->t->arena, n);
    if (!m) nomem(p->t);
    return m;
}

/* Go's item String() for "unexpected X in Y" messages. */
static int unexpected(struct parser *p, const struct tok *k, const char *context)
{
    if (k->type == T_EOF) return parse_fail(p->t, k->line, "unexpected EOF in %s", context);
    if (k->type == T_RDELIM) return parse_fail(p->t, k->line, "unexpected \"}}\" in %s", context);
    if (k->type >= T_K_RANGE)
        return parse_fail(p->t, k->line, "unexpected <%.*s> in %s", (int)k->n, k->p, context);
    if (k->n > 10)
        return parse_fail(p->t, k->line, "unexpected \"%.10s\"... in %s", k->p, context);
    return parse_fail(p->t, k->line, "unexpected \"%.*s\" in %s", (int)k->n, k->p, context);
}

static bool var_defined(struct parser *p, const char *name, size_t n)
{
    if (n == 1 && name[0] == '$') return true;
    for (size_t i = p->nvars; i-- > 0;)
        if (p->vars[i].n == n && memcmp(p->vars[i].p, name, n) == 0) return true;
    return false;
}

static int var_push(struct parser *p, struct slice name, int line)
{
    if (p->nvars == TMPL_MAX_VARS) return parse_fail(p->t, line, "too many variables");
    p->vars[p->nvars++] = name;
    return 0;
}

/* Decodes a Go quoted string or char literal (with quotes) into out (arena). */
static int unquote(struct parser *p, const struct tok *k, char **out, size_t *outn)
{
    char *o = p_alloc(p, k->n + 1);
    if (!o) return UV_ENOMEM;
    size_t n = 0;
    const char *s = k->p + 1, *e = k->p + k->n - 1;
    if (k->type == T_RAWSTRING) {
        for (; s < e; s++)
            if (*s != '\r') o[n++] = *s;
        *out = o;
        *outn = n;
        return 0;
    }
    while (s < e) {
        if (*s != '\\') {
            o[n++] = *s++;
            continue;
        }
        s++;
        if (s >= e) goto bad;
        char c = *s++;
        uint32_t r;
        int digits = 0, base = 16;
        switch (c) {
        case 'a': o[n++] = '\a'; continue;
        case 'b': o[n++] = '\b'; continue;
        case 'f': o[n++] = '\f'; continue;
        case 'n': o[n++] = '\n'; continue;
        case 'r': o[n++] = '\r'; continue;
        case 't': o[n++] = '\t'; continue;
        case 'v': o[n++] = '\v'; continue;
        case '\\': o[n++] = '\\'; continue;
        case '"':
        case '\'':
            if ((c == '"') != (k->type == T_STRING)) goto bad;
            o[n++] = c;
            continue;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (c >= '0' && c <= '7') {
                base = 8;
                digits = 3;
                s--;
                break;
            }
            goto bad;
        }
        r = 0;
        for (int d = 0; d < digits; d++) {
            if (s >= e) goto bad;
            int v = ascii_hex_value((unsigned char)*s++);
            if (v < 0 || v >= base) goto bad;
            r = r * (uint32_t)base + (uint32_t)v;
        }
        if (c == 'x' || base == 8) {
            if (r > 255) goto bad;
            o[n++] = (char)r;
        } else {
            if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) goto bad;
            if (r < 0x80) o[n++] = (char)r;
            else if (r < 0x800) {
                o[n++] = (char)(0xC0 | (r >> 6));
                o[n++] = (char)(0x80 | (r & 0x3F));
            } else if (r < 0x10000) {
                o[n++] = (char)(0xE0 | (r >> 12));
                o[n++] = (char)(0x80 | ((r >> 6) & 0x3F));
                o[n++] = (char)(0x80 | (r & 0x3F));
            } else {
                o[n++] = (char)(0xF0 | (r >> 18));
                o[n++] = (char)(0x80 | ((r >> 12) & 0x3F));
                o[n++] = (char)(0x80 | ((r >> 6) & 0x3F));
                o[n++] = (char)(0x80 | (r & 0x3F));
            }
        }
    }
    *out = o;
    *outn = n;
    return 0;
bad:
    if (k->type == T_CHARCONST)
        return parse_fail(p->t, k->line, "malformed character constant: %.*s", (int)k->n, k->p);
    return parse_fail(p->t, k->line, "invalid syntax");
}

/* Decodes one UTF-8 rune of s[0..n); returns its length (1 for invalid bytes). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *r)
{
    if (n == 0) {
        *r = 0xFFFD;
        return 0;
    }
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n) {
        *r = 0xFFFD;
        return 1;
    }
    uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *r = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *r = 0xFFFD;
        return 1;
    }
    *r = v;
    return len;
}

/* Parses a number token into a (Go "ideal constant"-like) int or float. */
static int parse_number(struct parser *p, const struct tok *k, struct targ *a)
{
    char buf[128];
    size_t n = 0;
    if (k->type == T_CHARCONST) {
        char *s;
        size_t sn;
        int rc = unquote(p, k, &s, &sn);
        if (rc) return rc;
        uint32_t r;
        size_t used = utf8_decode((const unsigned char *)s, sn, &r);
        if (sn == 0 || used != sn)
            return parse_fail(p->t, k->line, "malformed character constant: %.*s", (int)k->n, k->p);
        a->isint = true;
        a->i = r;
        return 0;
    }
    if (k->n >= sizeof buf) goto bad;
    for (size_t i = 0; i < k->n; i++)
        if (k->p[i] != '_') buf[n++] = k->p[i];
    buf[n] = '\0';
    if (n && buf[n - 1] == 'i')
        return parse_fail(p->t, k->line, "complex constants are not supported: %.*s", (int)k->n, k->p);
    const char *d = buf;
    bool neg = false;
    if (*d == '+' || *d == '-') neg = *d++ == '-';
    bool hex = d[0] == '0' && (d[1] | 0x20) == 'x';
    bool isfloat = strpbrk(d, hex ? ".pP" : ".eE") != NULL;
    if (!isfloat) {
        int base = 10;
        const char *digits = d;
        if (d[0] == '0' && d[1]) {
            char c = (char)(d[1] | 0x20);
            if (c == 'x') base = 16, digits = d + 2;
            else if (c == 'o') base = 8, digits = d + 2;
            else if (c == 'b') base = 2, digits = d + 2;
            else base = 8, digits = d + 1;
        }
        if (!*digits) goto bad;
        uint64_t v = 0;
        bool overflow = false;
        for (const char *c = digits; *c; c++) {
            int dv = ascii_hex_value((unsigned char)*c);
            if (dv < 0 || dv >= base) goto bad;
            if (v > (UINT64_MAX - (uint64_t)dv) / (uint64_t)base) overflow = true;
            else v = v * (uint64_t)base + (uint64_t)dv;
        }
        if (!overflow && (v <= INT64_MAX || (neg && v == (uint64_t)INT64_MAX + 1))) {
            a->isint = true;
            a->i = neg ? (int64_t)(0 - v) : (int64_t)v;
            return 0;
        }
        a->overflow = true;
        return 0;
    }
    /* a literal written as a float stays a float, as Go's ideal constants do */
    char *end;
    a->f = strtod(buf, &end);
    if (*end || end == buf) goto bad;
    return 0;
bad:
    return parse_fail(p->t, k->line, "illegal number syntax: \"%.*s\"", (int)k->n, k->p);
}

static int parse_pipeline(struct parser *p, const char *context, bool allow_decl, bool in_paren,
                          struct tpipe **out);

/* term: a single operand without trailing fields, or NULL result when none. */
static int parse_term(struct parser *p, struct targ **out)
{
    struct tok *k = peek(p);
    *out = NULL;
    struct targ *a;
    switch (k->type) {
    case T_IDENT: case T_DOT: case T_NIL: case T_VAR: case T_FIELD: case T_BOOL:
    case T_NUMBER: case T_CHARCONST: case T_STRING: case T_RAWSTRING: case T_LPAREN:
        break;
    default:
        return 0;
    }
    next_tok(p);
    if (!(a = p_alloc(p, sizeof *a))) return UV_ENOMEM;
    a->pos = k->pos;
    a->raw = (struct slice){k->p, k->n};
    switch (k->type) {
    case T_IDENT:
        a->type = A_FUNC;
        a->fn = func_lookup(p->t, k->p, k->n);
        if (!a->fn)
            return parse_fail(p->t, k->line, "function \"%.*s\" not defined", (int)k->n, k->p);
        break;
    case T_DOT: a->type = A_DOT; break;
    case T_NIL: a->type = A_NIL; break;
    case T_VAR:
        a->type = A_VAR;
        if (!var_defined(p, k->p, k->n))
            return parse_fail(p->t, k->line, "undefined variable \"%.*s\"", (int)k->n, k->p);
        break;
    case T_FIELD:
        a->type = A_FIELD;
        break;
    case T_BOOL:
        a->type = A_BOOL;
        a->b = k->n == 4;
        break;
    case T_NUMBER:
    case T_CHARCONST: {
        a->type = A_NUMBER;
        int rc = parse_number(p, k, a);
        if (rc) return rc;
        break;
    }
    case T_STRING:
    case T_RAWSTRING: {
        a->type = A_STRING;
        int rc = unquote(p, k, &a->str, &a->strn);
        if (rc) return rc;
        break;
    }
    default: { /* T_LPAREN */
        if (++p->depth > TMPL_MAX_DEPTH) {
            err_set(p->t->err, p->t->errlen, "template: %s:%d: too deeply nested", p->t->name, k->line);
            return CFRP_ETOOBIG;
        }
        a->type = A_PIPE;
        int rc = parse_pipeline(p, "parenthesized pipeline", false, true, &a->pipe);
        if (rc) return rc;
        p->depth--;
        struct tok *r = next_tok(p);
        if (r->type != T_RPAREN) {
            if (r->type == T_RDELIM) return parse_fail(p->t, r->line, "unclosed left paren");
            return unexpected(p, r, "parenthesized pipeline");
        }
        break;
    }
    }
    *out = a;
    return 0;
}

/* operand: term followed by .Field chains without spaces. */
static int parse_operand(struct parser *p, struct targ **out)
{
    int rc = parse_term(p, out);
    if (rc || !*out) return rc;
    struct targ *a = *out;
    /* for .A.B the term itself is the first field */
    size_t start = a->type == A_FIELD ? p->i - 1 : p->i, j = p->i;
    while (p->t->toks[j].type == T_FIELD && !p->t->toks[j].space) j++;
    size_t nf = j - start;
    if (nf == 0) return 0;
    switch (a->type) {
    case A_FIELD: case A_VAR: case A_PIPE:
        break;
    default:
        return parse_fail(p->t, peek(p)->line, "unexpected . after term \"%.*s\"", (int)a->raw.n,
                          a->raw.p);
    }
    struct slice *f = p_alloc(p, nf * sizeof *f);
    if (!f) return UV_ENOMEM;
    for (size_t i = 0; i < nf; i++) {
        const struct tok *k = &p->t->toks[start + i];
        f[i] = (struct slice){k->p + 1, k->n - 1};
    }
    p->i = j;
    if (a->type == A_PIPE) {
        struct targ *c = p_alloc(p, sizeof *c);
        if (!c) return UV_ENOMEM;
        c->type = A_CHAIN;
        c->pos = a->pos;
        c->base = a;
        a = c;
        *out = c;
    }
    a->fields = f;
    a->nfields = nf;
    return 0;
}

static bool non_executable(const struct targ *a)
{
    return a->type == A_BOOL || a->type == A_DOT || a->type == A_NIL || a->type == A_NUMBER ||
           a->type == A_STRING;
}

static int parse_command(struct parser *p, struct tcmd **out)
{
    struct tcmd *c = p_alloc(p, sizeof *c);
    if (!c) return UV_ENOMEM;
    c->pos = peek(p)->pos;
    struct targ **tail = &c->args;
    for (;;) {
        struct tok *k = peek(p);
        if (c->nargs > 0 && !k->space && k->type != T_RDELIM && k->type != T_RPAREN &&
            k->type != T_PIPE)
            return unexpected(p, k, "operand");
        struct targ *a;
        int rc = parse_operand(p, &a);
        if (rc) return rc;
        if (!a) break;
        *tail = a;
        tail = &a->next;
        c->nargs++;
    }
    struct tok *k = peek(p);
    if (k->type != T_RDELIM && k->type != T_RPAREN && k->type != T_PIPE)
        return unexpected(p, k, "command");
    if (c->nargs == 0) return parse_fail(p->t, k->line, "empty command");
    *out = c;
    return 0;
}

/* pipeline: optional declaration, then commands separated by '|'. Stops before the
 * closing delimiter or ')' (not consumed). */
static int parse_pipeline(struct parser *p, const char *context, bool allow_decl, bool in_paren,
                          struct tpipe **out)
{
    struct tpipe *pp = p_alloc(p, sizeof *pp);
    if (!pp) return UV_ENOMEM;
    struct tok *k = peek(p);
    pp->pos = k->pos;
    int line = k->line;
    if (k->type == T_VAR) {
        struct tok *k1 = &p->t->toks[p->i + 1];
        if (k1->type == T_DECLARE || k1->type == T_ASSIGN) {
            pp->ndecl = 1;
            pp->decl[0] = (struct slice){k->p, k->n};
            pp->assign = k1->type == T_ASSIGN;
            p->i += 2;
        } else if (k1->type == T_COMMA && p->t->toks[p->i + 2].type == T_VAR &&
                   (p->t->toks[p->i + 3].type == T_DECLARE ||
                    p->t->toks[p->i + 3].type == T_ASSIGN)) {
            if (!allow_decl) return parse_fail(p->t, k->line, "too many declarations in %s", context);
            struct tok *k2 = &p->t->toks[p->i + 2];
            pp->ndecl = 2;
            pp->decl[0] = (struct slice){k->p, k->n};
            pp->decl[1] = (struct slice){k2->p, k2->n};
            pp->assign = p->t->toks[p->i + 3].type == T_ASSIGN;
            p->i += 4;
        } else if (k1->type == T_COMMA) {
            return parse_fail(p->t, k->line, "range can only initialize variables");
        }
        for (int d = 0; d < pp->ndecl; d++) {
            if (pp->assign) {
                if (!var_defined(p, pp->decl[d].p, pp->decl[d].n))
                    return parse_fail(p->t, line, "undefined variable \"%.*s\"", (int)pp->decl[d].n,
                                      pp->decl[d].p);
            } else {
                int rc = var_push(p, pp->decl[d], line);
                if (rc) return rc;
            }
        }
    }
    struct tcmd **tail = &pp->cmds;
    int ncmd = 0;
    for (;;) {
        k = peek(p);
        if (k->type == T_RDELIM || (in_paren && k->type == T_RPAREN)) break;
        if (k->type == T_RPAREN) return parse_fail(p->t, k->line, "unexpected right paren");
        if (k->type == T_EOF) return unexpected(p, k, context);
        struct tcmd *c = NULL;
        int rc = parse_command(p, &c);
        if (rc) return rc;
        if (ncmd > 0 && non_executable(c->args))
            return parse_fail(p->t, k->line, "non executable command in pipeline stage %d", ncmd + 1);
        *tail = c;
        tail = &c->next;
        ncmd++;
        if (peek(p)->type == T_PIPE) {
            next_tok(p);
            if (peek(p)->type == T_RDELIM || peek(p)->type == T_RPAREN)
                return parse_fail(p->t, peek(p)->line, "missing command after |");
        }
    }
    if (ncmd == 0) return parse_fail(p->t, k->line, "missing value for %s", context);
    *out = pp;
    return 0;
}

enum list_end { END_EOF, END_END, END_ELSE };

static int parse_list(struct parser *p, struct tnode **out, enum list_end *end);

static int expect_rdelim(struct parser *p, const char *context)
{
    struct tok *k = next_tok(p);
    if (k->type != T_RDELIM) return unexpected(p, k, context);
    return 0;
}

/* {{if|range|with pipeline}} list [{{else}} list] {{end}}; the keyword is consumed. */
static int parse_control(struct parser *p, enum node_type type, size_t pos, struct tnode **out)
{
    static const char *names[] = {[N_IF] = "if", [N_RANGE] = "range", [N_WITH] = "with"};
    const char *context = names[type];
    struct tnode *n = p_alloc(p, sizeof *n);
    if (!n) return UV_ENOMEM;
    n->type = type;
    n->pos = pos;
    if (++p->depth > TMPL_MAX_DEPTH) {
        err_set(p->t->err, p->t->errlen, "template: %s:%d: too deeply nested", p->t->name,
                peek(p)->line);
        return CFRP_ETOOBIG;
    }
    size_t mark = p->nvars;
    int rc = parse_pipeline(p, context, type == N_RANGE, false, &n->pipe);
    if (rc) return rc;
    if ((rc = expect_rdelim(p, context))) return rc;
    if (type == N_RANGE) p->range_depth++;
    enum list_end end;
    if ((rc = parse_list(p, &n->list, &end))) return rc;
    if (type == N_RANGE) p->range_depth--;
    if (end == END_EOF) return parse_fail(p->t, peek(p)->line, "unexpected EOF");
    if (end == END_ELSE) {
        struct tok *k = peek(p);
        if ((type == N_IF && k->type == T_K_IF) || (type == N_WITH && k->type == T_K_WITH)) {
            /* {{else if x}} is {{else}}{{if x}}...{{end}}{{end}} sharing one end */
            next_tok(p);
            if ((rc = parse_control(p, type, k->pos, &n->elselist))) return rc;
        } else {
            if ((rc = expect_rdelim(p, "else"))) return rc;
            if ((rc = parse_list(p, &n->elselist, &end))) return rc;
            if (end == END_EOF) return parse_fail(p->t, peek(p)->line, "unexpected EOF");
            if (end == END_ELSE) return parse_fail(p->t, peek(p)->line, "expected end; found {{else}}");
        }
    }
    p->nvars = mark;
    p->depth--;
    *out = n;
    return 0;
}

/* Parses nodes until EOF, {{end}} (consumed with its delimiter) or {{else}} (consumed up
 * to the keyword, so the caller can look for "else if"). */
static int parse_list(struct parser *p, struct tnode **out, enum list_end *end)
{
    struct tnode **tail = out;
    *out = NULL;
    for (;;) {
        struct tok *k = next_tok(p);
        struct tnode *n = NULL;
        int rc;
        if (k->type == T_EOF) {
            *end = END_EOF;
            return 0;
        }
        if (k->type == T_TEXT) {
            if (!(n = p_alloc(p, sizeof *n))) return UV_ENOMEM;
            n->type = N_TEXT;
            n->pos = k->pos;
            n->text = k->p;
            n->len = k->n;
        } else {
            /* T_LDELIM */
            size_t pos = k->pos;
            k = peek(p);
            switch (k->type) {
            case T_K_END:
                next_tok(p);
                if ((rc = expect_rdelim(p, "end"))) return rc;
                *end = END_END;
                return 0;
            case T_K_ELSE:
                next_tok(p);
                *end = END_ELSE;
                return 0;
            case T_K_IF:
            case T_K_RANGE:
            case T_K_WITH:
                next_tok(p);
                rc = parse_control(p, k->type == T_K_IF ? N_IF : k->type == T_K_RANGE ? N_RANGE : N_WITH,
                                   k->pos, &n);
                if (rc) return rc;
                break;
            case T_K_BREAK:
            case T_K_CONTINUE:
                next_tok(p);
                if (p->range_depth == 0)
                    return parse_fail(p->t, k->line, "{{%.*s}} outside {{range}}", (int)k->n, k->p);
                if ((rc = expect_rdelim(p, k->type == T_K_BREAK ? "break" : "continue"))) return rc;
                if (!(n = p_alloc(p, sizeof *n))) return UV_ENOMEM;
                n->type = k->type == T_K_BREAK ? N_BREAK : N_CONTINUE;
                n->pos = k->pos;
                break;
            case T_K_DEFINE:
            case T_K_TEMPLATE:
            case T_K_BLOCK:
                return parse_fail(p->t, k->line, "{{%.*s}} is not supported in config files",
                                  (int)k->n, k->p);
            default:
                if (!(n = p_alloc(p, sizeof *n))) return UV_ENOMEM;
                n->type = N_ACTION;
                n->pos = pos;
                if ((rc = parse_pipeline(p, "command", false, false, &n->pipe))) return rc;
                if ((rc = expect_rdelim(p, "command"))) return rc;
                break;
            }
        }
        *tail = n;
        tail = &n->next;
    }
}

/* ------------------------------------------------------------------------ values */

enum vkind { V_INVALID, V_NIL, V_BOOL, V_INT, V_FLOAT, V_STRING, V_INTS, V_PAIRS, V_PAIR, V_ENVS, V_ROOT };

/* Refcounted storage for strings and lists made while rendering. */
struct tstr {
    size_t refs, len;
    char s[];
};
struct tlist {
    size_t refs, n; /* n elements; a pair list stores 2n numbers */
    int64_t v[];
};

/* A value. Strings either borrow s (from the AST or environ) or hold a reference on so;
 * lists hold a reference on l. i64 marks Go's int64 (range values) versus int. */
struct tval {
    enum vkind k;
    bool b, i64;
    int64_t i, i2;
    double f;
    const char *s;
    size_t n;
    struct tstr *so;
    struct tlist *l;
};

static void val_hold(struct tval *v)
{
    if (v->so) v->so->refs++;
    if (v->l) v->l->refs++;
}

static void val_drop(struct tval *v)
{
    if (v->so && --v->so->refs == 0) free(v->so);
    if (v->l && --v->l->refs == 0) free(v->l);
    memset(v, 0, sizeof *v);
}

static struct tval val_int(int64_t i, bool i64) { return (struct tval){.k = V_INT, .i = i, .i64 = i64}; }
static struct tval val_bool(bool b) { return (struct tval){.k = V_BOOL, .b = b}; }

/* Moves the builder's bytes into a new owned string value (frees the builder). */
static int val_from_sb(struct tval *out, struct sb *b)
{
    if (b->nomem) {
        free(b->p);
        return UV_ENOMEM;
    }
    struct tstr *s = malloc(sizeof *s + b->n + 1);
    if (!s) {
        free(b->p);
        return UV_ENOMEM;
    }
    s->refs = 1;
    s->len = b->n;
    if (b->n) memcpy(s->s, b->p, b->n);
    s->s[b->n] = '\0';
    free(b->p);
    memset(b, 0, sizeof *b);
    *out = (struct tval){.k = V_STRING, .s = s->s, .n = s->len, .so = s};
    return 0;
}

static bool val_truth(const struct tval *v)
{
    switch (v->k) {
    case V_INVALID: case V_NIL: return false;
    case V_BOOL: return v->b;
    case V_INT: return v->i != 0;
    case V_FLOAT: return v->f != 0;
    case V_STRING: return v->n > 0;
    case V_INTS: case V_PAIRS: return v->l->n > 0;
    case V_ENVS: return true; /* replaced by the env count in exec */
    default: return true;
    }
}

static const char *val_type(const struct tval *v)
{
    switch (v->k) {
    case V_INVALID: return "<nil>";
    case V_NIL: return "<nil>";
    case V_BOOL: return "bool";
    case V_INT: return v->i64 ? "int64" : "int";
    case V_FLOAT: return "float64";
    case V_STRING: return "string";
    case V_INTS: return "[]int64";
    case V_PAIRS: return "[]config.NumberPair";
    case V_PAIR: return "config.NumberPair";
    case V_ENVS: return "map[string]string";
    default: return "*config.Values";
    }
}

/* ------------------------------------------------------------------------ exec */

struct env {
    const char *k, *v;
    size_t kn;
    size_t idx;
};

struct var {
    struct slice name;
    struct tval v;
};

struct exec {
    struct tmpl *t;
    struct env *env; /* sorted by key, unique; borrows environ's strings */
    size_t nenv;
    struct var *vars;
    size_t nvars, capvars;
    struct sb out;
    uint64_t steps;
};

/* ---- node text for error contexts, as Go's Node.String() prints them */

static void str_pipe(struct sb *b, const struct tpipe *p);

static void str_arg(struct sb *b, const struct targ *a)
{
    switch (a->type) {
    case A_PIPE:
        sb_putc(b, '(');
        str_pipe(b, a->pipe);
        sb_putc(b, ')');
        break;
    case A_CHAIN:
        str_arg(b, a->base);
        break;
    case A_FIELD:
        break;
    case A_BOOL:
        sb_puts(b, a->b ? "true" : "false");
        break;
    default:
        sb_put(b, a->raw.p, a->raw.n);
    }
    for (size_t i = 0; i < a->nfields; i++) {
        sb_putc(b, '.');
        sb_put(b, a->fields[i].p, a->fields[i].n);
    }
}

static void str_cmd(struct sb *b, const struct tcmd *c)
{
    for (const struct targ *a = c->args; a; a = a->next) {
        if (a != c->args) sb_putc(b, ' ');
        str_arg(b, a);
    }
}

static void str_pipe(struct sb *b, const struct tpipe *p)
{
    for (int i = 0; i < p->ndecl; i++) {
        if (i) sb_puts(b, ", ");
        sb_put(b, p->decl[i].p, p->decl[i].n);
    }
    if (p->ndecl) sb_puts(b, p->assign ? " = " : " := ");
    for (const struct tcmd *c = p->cmds; c; c = c->next) {
        if (c != p->cmds) sb_puts(b, " | ");
        str_cmd(b, c);
    }
}

/* Writes Go's execution error "template: NAME:L:C: executing "NAME" at <ctx>: msg";
 * the column is the 0-based byte offset in the line, as Go prints it. */
static int x_vfail(struct exec *x, size_t pos, const char *ctx, const char *fmt, va_list ap)
{
    struct tmpl *t = x->t;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t ls = pos;
    while (ls > 0 && t->src[ls - 1] != '\n') ls--;
    err_set(t->err, t->errlen, "template: %s:%d:%zu: executing \"%s\" at <%s>: %s", t->name,
            line_at(t, pos), pos - ls, t->name, ctx, msg);
    return CFRP_EPARSE;
}

__attribute__((format(printf, 4, 5))) static int x_fail(struct exec *x, size_t pos,
                                                        const char *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = x_vfail(x, pos, ctx, fmt, ap);
    va_end(ap);
    return rc;
}

/* Error at an operand, which is also the <context>. */
__attribute__((format(printf, 3, 4))) static int x_fail_arg(struct exec *x, const struct targ *a,
                                                            const char *fmt, ...)
{
    struct sb ctx = {.limit = 4096};
    str_arg(&ctx, a);
    va_list ap;
    va_start(ap, fmt);
    int rc = x_vfail(x, a->pos, sb_str(&ctx), fmt, ap);
    va_end(ap);
    free(ctx.p);
    return rc;
}

/* Error at a whole command (Go's "error calling" errors). */
__attribute__((format(printf, 3, 4))) static int x_fail_cmd(struct exec *x, const struct tcmd *c,
                                                            const char *fmt, ...)
{
    struct sb ctx = {.limit = 4096};
    str_cmd(&ctx, c);
    va_list ap;
    va_start(ap, fmt);
    int rc = x_vfail(x, c->pos, sb_str(&ctx), fmt, ap);
    va_end(ap);
    free(ctx.p);
    return rc;
}

static int x_step(struct exec *x, size_t pos)
{
    if (++x->steps <= TMPL_MAX_STEPS) return 0;
    err_set(x->t->err, x->t->errlen, "template: %s:%d: template execution exceeds %u steps",
            x->t->name, line_at(x->t, pos), TMPL_MAX_STEPS);
    return CFRP_ETOOBIG;
}

static const struct env *env_find(const struct exec *x, const char *k, size_t kn)
{
    size_t lo = 0, hi = x->nenv;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct env *e = &x->env[mid];
        size_t m = e->kn < kn ? e->kn : kn;
        int c = memcmp(e->k, k, m);
        if (c == 0) c = e->kn < kn ? -1 : e->kn > kn ? 1 : 0;
        if (c == 0) return e;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- formatting (Go's fmt for the value kinds we have) */

static void fmt_value(struct exec *x, struct sb *b, const struct tval *v, char verb);

/* Go's float formatting. Without a precision %v/%g print the shortest representation
 * that reads back exactly, in %e form when the exponent is < -4 or >= 6 (strconv's
 * rule for 'g' with shortest precision). */
static void fmt_float(struct sb *b, double f, char verb, int prec)
{
    char buf[512];
    if (isnan(f)) {
        sb_puts(b, "NaN");
        return;
    }
    if (isinf(f)) {
        sb_puts(b, f > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (verb == 'e' || verb == 'E' || verb == 'f' || verb == 'F') {
        char fmt[8] = {'%', '.', '*', verb, 0};
        snprintf(buf, sizeof buf, fmt, prec < 0 ? 6 : (prec > 100 ? 100 : prec), f);
        sb_puts(b, buf);
        return;
    }
    if (prec >= 0) {
        snprintf(buf, sizeof buf, verb == 'G' ? "%.*G" : "%.*g", prec > 100 ? 100 : prec, f);
        sb_puts(b, buf);
        return;
    }
    int nd;
    for (nd = 1; nd < 17; nd++) {
        snprintf(buf, sizeof buf, "%.*e", nd - 1, f);
        if (strtod(buf, NULL) == f) break;
    }
    snprintf(buf, sizeof buf, "%.*e", nd - 1, f);
    const char *e = strchr(buf, 'e');
    int exp = e ? atoi(e + 1) : 0;
    if (exp < -4 || exp >= 6) {
        if (verb == 'G') buf[e - buf] = 'E';
        sb_puts(b, buf);
    } else {
        int dec = nd - 1 - exp;
        snprintf(buf, sizeof buf, "%.*f", dec < 0 ? 0 : dec, f);
        sb_puts(b, buf);
    }
}

/* strconv.Quote: printable UTF-8 kept, the rest escaped. */
static void fmt_quote(struct sb *b, const char *s, size_t n, char q)
{
    sb_putc(b, q);
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t l = utf8_decode((const unsigned char *)s + i, n - i, &r);
        unsigned char c = (unsigned char)s[i];
        if (r == 0xFFFD && l == 1 && c >= 0x80) {
            sb_printf(b, "\\x%02x", c);
        } else if (c == (unsigned char)q || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
        } else if (r >= 0x20 && r != 0x7f) {
            sb_put(b, s + i, l);
        } else {
            switch (c) {
            case '\a': sb_puts(b, "\\a"); break;
            case '\b': sb_puts(b, "\\b"); break;
            case '\f': sb_puts(b, "\\f"); break;
            case '\n': sb_puts(b, "\\n"); break;
            case '\r': sb_puts(b, "\\r"); break;
            case '\t': sb_puts(b, "\\t"); break;
            case '\v': sb_puts(b, "\\v"); break;
            default: sb_printf(b, "\\x%02x", c);
            }
        }
        i += l;
    }
    sb_putc(b, q);
}

static void fmt_rune(struct sb *b, int64_t r)
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
    char u[4];
    size_t n;
    if (r < 0x80) u[0] = (char)r, n = 1;
    else if (r < 0x800) u[0] = (char)(0xC0 | (r >> 6)), u[1] = (char)(0x80 | (r & 0x3F)), n = 2;
    else if (r < 0x10000)
        u[0] = (char)(0xE0 | (r >> 12)), u[1] = (char)(0x80 | ((r >> 6) & 0x3F)),
        u[2] = (char)(0x80 | (r & 0x3F)), n = 3;
    else
        u[0] = (char)(0xF0 | (r >> 18)), u[1] = (char)(0x80 | ((r >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((r >> 6) & 0x3F)), u[3] = (char)(0x80 | (r & 0x3F)), n = 4;
    sb_put(b, u, n);
}

struct fspec {
    bool minus, plus, sharp, zero, space;
    int width, prec; /* -1 when absent */
};

/* Formats an integer for d b o O x X with Go's sign/prefix/precision rules. */
static void fmt_int(struct sb *b, int64_t v, char verb, const struct fspec *fs)
{
    char digits[80];
    size_t nd = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    unsigned base = verb == 'b' ? 2 : (verb == 'o' || verb == 'O') ? 8 : (verb == 'x' || verb == 'X') ? 16 : 10;
    const char *dig = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[nd++] = dig[u % base];
        u /= base;
    } while (u);
    if (fs->prec == 0 && v == 0) nd = 0;
    int prec = fs->prec > 64 ? 64 : fs->prec;
    while ((int)nd < prec) digits[nd++] = '0';
    char pre[8];
    size_t np = 0;
    if (v < 0) pre[np++] = '-';
    else if (fs->plus) pre[np++] = '+';
    else if (fs->space) pre[np++] = ' ';
    if (verb == 'O') pre[np++] = '0', pre[np++] = 'o';
    if (fs->sharp) {
        if (verb == 'x' || verb == 'X') pre[np++] = '0', pre[np++] = (char)verb;
        else if (verb == 'b') pre[np++] = '0', pre[np++] = 'b';
        else if (verb == 'o' && (nd == 0 || digits[nd - 1] != '0')) pre[np++] = '0';
    }
    int width = fs->width > 4096 ? 4096 : fs->width;
    int pad = width - (int)(nd + np);
    if (pad > 0 && !fs->minus && !(fs->zero && fs->prec < 0))
        for (int i = 0; i < pad; i++) sb_putc(b, ' ');
    sb_put(b, pre, np);
    if (pad > 0 && !fs->minus && fs->zero && fs->prec < 0)
        for (int i = 0; i < pad; i++) sb_putc(b, '0');
    while (nd) sb_putc(b, digits[--nd]);
    if (pad > 0 && fs->minus)
        for (int i = 0; i < pad; i++) sb_putc(b, ' ');
}

/* Pads an already formatted piece to the width. */
static void fmt_pad(struct sb *b, const char *s, size_t n, const struct fspec *fs)
{
    int width = fs->width > 4096 ? 4096 : fs->width;
    int pad = width - (int)n;
    if (pad > 0 && !fs->minus)
        for (int i = 0; i < pad; i++) sb_putc(b, fs->zero ? '0' : ' ');
    sb_put(b, s, n);
    if (pad > 0 && fs->minus)
        for (int i = 0; i < pad; i++) sb_putc(b, ' ');
}

static void fmt_bad(struct exec *x, struct sb *b, const struct tval *v, char verb)
{
    sb_printf(b, "%%!%c(", verb);
    if (v->k == V_INVALID || v->k == V_NIL) {
        sb_puts(b, "<nil>)");
        return;
    }
    sb_puts(b, val_type(v));
    sb_putc(b, '=');
    fmt_value(x, b, v, 'v');
    sb_putc(b, ')');
}

/* One printf verb applied to one value. */
static void fmt_one(struct exec *x, struct sb *b, const struct tval *v, char verb, const struct fspec *fs)
{
    struct sb tmp = {.limit = TMPL_MAX_OUTPUT};
    switch (v->k) {
    case V_BOOL:
        if (verb != 't' && verb != 'v') goto bad;
        fmt_pad(b, v->b ? "true" : "false", v->b ? 4 : 5, fs);
        return;
    case V_INT:
        switch (verb) {
        case 'v': case 'd': fmt_int(b, v->i, 'd', fs); return;
        case 'b': case 'o': case 'O': case 'x': case 'X': fmt_int(b, v->i, verb, fs); return;
        case 'c': fmt_rune(&tmp, v->i); break;
        case 'q':
            sb_putc(&tmp, '\'');
            if (v->i == '\'' || v->i == '\\') sb_putc(&tmp, '\\');
            if (v->i >= 0x20 && v->i != 0x7f) fmt_rune(&tmp, v->i);
            else sb_printf(&tmp, "\\x%02x", (unsigned)(v->i & 0xff));
            sb_putc(&tmp, '\'');
            break;
        case 'U': sb_printf(&tmp, "U+%04llX", (unsigned long long)v->i); break;
        default: goto bad;
        }
        break;
    case V_FLOAT:
        switch (verb) {
        case 'v': case 'g': case 'G': case 'e': case 'E': case 'f': case 'F':
            if (fs->plus && !signbit(v->f) && !isnan(v->f)) sb_putc(&tmp, '+');
            fmt_float(&tmp, v->f, verb, fs->prec);
            break;
        default: goto bad;
        }
        break;
    case V_STRING: {
        size_t n = v->n;
        if (fs->prec >= 0) {
            size_t i = 0;
            for (int r = 0; r < fs->prec && i < n; r++) {
                uint32_t cp;
                i += utf8_decode((const unsigned char *)v->s + i, n - i, &cp);
            }
            n = i;
        }
        switch (verb) {
        case 'v': case 's': sb_put(&tmp, v->s, n); break;
        case 'q': fmt_quote(&tmp, v->s, n, '"'); break;
        case 'x': case 'X':
            for (size_t i = 0; i < n; i++) {
                if (i && fs->space) sb_putc(&tmp, ' ');
                sb_printf(&tmp, verb == 'x' ? "%02x" : "%02X", (unsigned char)v->s[i]);
            }
            break;
        default: goto bad;
        }
        break;
    }
    case V_INVALID:
    case V_NIL:
        if (verb != 'v') goto bad;
        sb_puts(&tmp, "<nil>");
        break;
    default: {
        /* composite values: Go applies the verb to each element */
        if (v->k == V_ROOT) sb_puts(b, "&{");
        if (v->k == V_INTS || v->k == V_PAIRS) sb_putc(b, '[');
        if (v->k == V_ENVS || v->k == V_ROOT) sb_puts(b, "map[");
        if (v->k == V_PAIR) sb_putc(b, '{');
        struct fspec plain = {.width = -1, .prec = -1};
        if (v->k == V_INTS) {
            for (size_t i = 0; i < v->l->n; i++) {
                if (i) sb_putc(b, ' ');
                struct tval e = val_int(v->l->v[i], true);
                fmt_one(x, b, &e, verb, &plain);
            }
        } else if (v->k == V_PAIRS || v->k == V_PAIR) {
            size_t n = v->k == V_PAIR ? 1 : v->l->n;
            for (size_t i = 0; i < n; i++) {
                if (i) sb_putc(b, ' ');
                struct tval a = val_int(v->k == V_PAIR ? v->i : v->l->v[2 * i], true);
                struct tval c = val_int(v->k == V_PAIR ? v->i2 : v->l->v[2 * i + 1], true);
                if (v->k == V_PAIRS) sb_putc(b, '{');
                fmt_one(x, b, &a, verb, &plain);
                sb_putc(b, ' ');
                fmt_one(x, b, &c, verb, &plain);
                if (v->k == V_PAIRS) sb_putc(b, '}');
            }
        } else {
            for (size_t i = 0; i < x->nenv; i++) {
                if (i) sb_putc(b, ' ');
                struct tval k = {.k = V_STRING, .s = x->env[i].k, .n = x->env[i].kn};
                struct tval e = {.k = V_STRING, .s = x->env[i].v, .n = strlen(x->env[i].v)};
                fmt_one(x, b, &k, verb, &plain);
                sb_putc(b, ':');
                fmt_one(x, b, &e, verb, &plain);
            }
        }
        if (v->k == V_ENVS || v->k == V_INTS || v->k == V_PAIRS) sb_putc(b, ']');
        if (v->k == V_ROOT) sb_puts(b, "]}");
        if (v->k == V_PAIR) sb_putc(b, '}');
        return;
    }
    }
    fmt_pad(b, sb_str(&tmp), tmp.n, fs);
    free(tmp.p);
    return;
bad:
    free(tmp.p);
    fmt_bad(x, b, v, verb);
}

static void fmt_value(struct exec *x, struct sb *b, const struct tval *v, char verb)
{
    struct fspec fs = {.width = -1, .prec = -1};
    fmt_one(x, b, v, verb, &fs);
}

/* fmt.Sprint: a space between operands when neither side is a string. */
static void fmt_sprint(struct exec *x, struct sb *b, const struct tval *args, size_t n, bool ln)
{
    for (size_t i = 0; i < n; i++) {
        bool str = args[i].k == V_STRING;
        if (i > 0 && (ln || (!str && args[i - 1].k != V_STRING))) sb_putc(b, ' ');
        fmt_value(x, b, &args[i], 'v');
    }
    if (ln) sb_putc(b, '\n');
}

static void fmt_printf(struct exec *x, struct sb *b, const char *f, size_t fn, const struct tval *args,
                       size_t nargs)
{
    size_t ai = 0;
    for (size_t i = 0; i < fn;) {
        if (f[i] != '%') {
            size_t j = i;
            while (j < fn && f[j] != '%') j++;
            sb_put(b, f + i, j - i);
            i = j;
            continue;
        }
        i++;
        struct fspec fs = {.width = -1, .prec = -1};
        for (; i < fn; i++) {
            if (f[i] == '-') fs.minus = true;
            else if (f[i] == '+') fs.plus = true;
            else if (f[i] == '#') fs.sharp = true;
            else if (f[i] == '0') fs.zero = true;
            else if (f[i] == ' ') fs.space = true;
            else break;
        }
        for (int pass = 0; pass < 2; pass++) {
            int *dst = pass == 0 ? &fs.width : &fs.prec;
            if (pass == 1) {
                if (i >= fn || f[i] != '.') break;
                i++;
                fs.prec = 0;
            }
            if (i < fn && f[i] == '*') {
                i++;
                if (ai < nargs && args[ai].k == V_INT && args[ai].i >= -4096 && args[ai].i <= 4096) {
                    *dst = (int)args[ai++].i;
                    if (pass == 0 && *dst < 0) fs.minus = true, *dst = -*dst;
                    if (pass == 1 && *dst < 0) *dst = -1;
                } else {
                    if (ai < nargs) ai++;
                    sb_puts(b, pass == 0 ? "%!(BADWIDTH)" : "%!(BADPREC)");
                }
            } else {
                while (i < fn && is_digit(f[i])) {
                    if (*dst < 0) *dst = 0;
                    if (*dst < 100000) *dst = *dst * 10 + (f[i] - '0');
                    i++;
                }
            }
        }
        if (i >= fn) {
            sb_puts(b, "%!(NOVERB)");
            break;
        }
        char verb = f[i++];
        if (verb == '%') {
            sb_putc(b, '%');
            continue;
        }
        if (ai >= nargs) {
            sb_printf(b, "%%!%c(MISSING)", verb);
            continue;
        }
        fmt_one(x, b, &args[ai++], verb, &fs);
    }
    if (ai < nargs) {
        sb_puts(b, "%!(EXTRA ");
        for (size_t i = ai; i < nargs; i++) {
            if (i > ai) sb_puts(b, ", ");
            if (args[i].k == V_INVALID || args[i].k == V_NIL) {
                sb_puts(b, "<nil>");
                continue;
            }
            sb_puts(b, val_type(&args[i]));
            sb_putc(b, '=');
            fmt_value(x, b, &args[i], 'v');
        }
        sb_putc(b, ')');
    }
}

/* ---- builtin functions. Each returns 0 or -1 with the reason in msg (the caller
 * turns it into "error calling NAME: reason"); UV_ENOMEM on allocation failure. */

static int fn_sb_result(struct sb *b, struct tval *out)
{
    if (b->full) {
        free(b->p);
        memset(b, 0, sizeof *b);
        return CFRP_ETOOBIG;
    }
    return val_from_sb(out, b);
}

static int f_print(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    struct sb b = {.limit = TMPL_MAX_OUTPUT};
    fmt_sprint(x, &b, a, n, false);
    return fn_sb_result(&b, out);
}

static int f_println(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    struct sb b = {.limit = TMPL_MAX_OUTPUT};
    fmt_sprint(x, &b, a, n, true);
    return fn_sb_result(&b, out);
}

static int want_string(const struct tval *v, struct sb *msg)
{
    if (v->k == V_STRING) return 0;
    if (v->k == V_INVALID || v->k == V_NIL) sb_puts(msg, "invalid value; expected string");
    else sb_printf(msg, "wrong type for value; expected string; got %s", val_type(v));
    return -2; /* an argument error, not "error calling" */
}

static int f_printf(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    int rc = want_string(&a[0], msg);
    if (rc) return rc;
    struct sb b = {.limit = TMPL_MAX_OUTPUT};
    fmt_printf(x, &b, a[0].s, a[0].n, a + 1, n - 1);
    return fn_sb_result(&b, out);
}

/* The single string argument or the Sprint of all (Go's evalArgs for escapers). */
static void escaper_input(struct exec *x, struct tval *a, size_t n, struct sb *b)
{
    if (n == 1 && a[0].k == V_STRING) sb_put(b, a[0].s, a[0].n);
    else fmt_sprint(x, b, a, n, false);
}

static int f_html(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    struct sb in = {.limit = TMPL_MAX_OUTPUT}, b = {.limit = TMPL_MAX_OUTPUT};
    escaper_input(x, a, n, &in);
    for (size_t i = 0; i < in.n; i++) {
        char c = in.p[i];
        switch (c) {
        case '"': sb_puts(&b, "&#34;"); break;
        case '\'': sb_puts(&b, "&#39;"); break;
        case '&': sb_puts(&b, "&amp;"); break;
        case '<': sb_puts(&b, "&lt;"); break;
        case '>': sb_puts(&b, "&gt;"); break;
        case '\0': sb_puts(&b, "\xEF\xBF\xBD"); break;
        default: sb_putc(&b, c);
        }
    }
    free(in.p);
    return fn_sb_result(&b, out);
}

static int f_js(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    struct sb in = {.limit = TMPL_MAX_OUTPUT}, b = {.limit = TMPL_MAX_OUTPUT};
    escaper_input(x, a, n, &in);
    for (size_t i = 0; i < in.n;) {
        uint32_t r;
        size_t l = utf8_decode((const unsigned char *)in.p + i, in.n - i, &r);
        switch (r) {
        case '\\': sb_puts(&b, "\\\\"); break;
        case '\'': sb_puts(&b, "\\'"); break;
        case '"': sb_puts(&b, "\\\""); break;
        case '<': sb_puts(&b, "\\u003C"); break;
        case '>': sb_puts(&b, "\\u003E"); break;
        case '&': sb_puts(&b, "\\u0026"); break;
        case '=': sb_puts(&b, "\\u003D"); break;
        default:
            if (r < 0x20) sb_printf(&b, "\\u%04X", r);
            else sb_put(&b, in.p + i, l);
        }
        i += l;
    }
    free(in.p);
    return fn_sb_result(&b, out);
}

static int f_urlquery(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    struct sb in = {.limit = TMPL_MAX_OUTPUT}, b = {.limit = TMPL_MAX_OUTPUT};
    escaper_input(x, a, n, &in);
    for (size_t i = 0; i < in.n; i++) {
        unsigned char c = (unsigned char)in.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
            c == '_' || c == '.' || c == '~')
            sb_putc(&b, (char)c);
        else if (c == ' ') sb_putc(&b, '+');
        else sb_printf(&b, "%%%02X", c);
    }
    free(in.p);
    return fn_sb_result(&b, out);
}

static int f_len(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    switch (a[0].k) {
    case V_STRING: *out = val_int((int64_t)a[0].n, false); return 0;
    case V_INTS: case V_PAIRS: *out = val_int((int64_t)a[0].l->n, false); return 0;
    case V_ENVS: *out = val_int((int64_t)x->nenv, false); return 0;
    case V_INVALID: case V_NIL: sb_puts(msg, "len of nil pointer"); return -1;
    default: sb_printf(msg, "len of type %s", val_type(&a[0])); return -1;
    }
}

static int f_not(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    *out = val_bool(!(a[0].k == V_ENVS ? x->nenv > 0 : val_truth(&a[0])));
    return 0;
}

static int index_of(const struct tval *i, size_t cap, size_t *out, struct sb *msg)
{
    if (i->k != V_INT) {
        if (i->k == V_INVALID || i->k == V_NIL) sb_puts(msg, "cannot index slice/array with nil");
        else sb_printf(msg, "cannot index slice/array with type %s", val_type(i));
        return -1;
    }
    if (i->i < 0 || (uint64_t)i->i >= cap) {
        sb_printf(msg, "index out of range: %lld", (long long)i->i);
        return -1;
    }
    *out = (size_t)i->i;
    return 0;
}

static int f_index(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    struct tval cur = a[0];
    val_hold(&cur);
    for (size_t k = 1; k < n; k++) {
        size_t idx;
        struct tval nv = {0};
        switch (cur.k) {
        case V_ENVS: {
            if (a[k].k != V_STRING) {
                sb_printf(msg, "value has type %s; should be string", val_type(&a[k]));
                val_drop(&cur);
                return -1;
            }
            const struct env *e = env_find(x, a[k].s, a[k].n);
            nv = (struct tval){.k = V_STRING, .s = e ? e->v : "", .n = e ? strlen(e->v) : 0};
            break;
        }
        case V_INTS:
            if (index_of(&a[k], cur.l->n, &idx, msg)) goto fail;
            nv = val_int(cur.l->v[idx], true);
            break;
        case V_PAIRS:
            if (index_of(&a[k], cur.l->n, &idx, msg)) goto fail;
            nv = (struct tval){.k = V_PAIR, .i = cur.l->v[2 * idx], .i2 = cur.l->v[2 * idx + 1]};
            break;
        case V_STRING:
            if (index_of(&a[k], cur.n, &idx, msg)) goto fail;
            nv = (struct tval){.k = V_INT, .i = (unsigned char)cur.s[idx]};
            break;
        case V_INVALID:
        case V_NIL:
            sb_puts(msg, "index of untyped nil");
            goto fail;
        default:
            sb_printf(msg, "can't index item of type %s", val_type(&cur));
            goto fail;
        }
        val_drop(&cur);
        cur = nv;
    }
    *out = cur;
    return 0;
fail:
    val_drop(&cur);
    return -1;
}

static int f_slice(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    size_t cap;
    if (a[0].k == V_STRING) {
        cap = a[0].n;
        if (n > 3) {
            sb_puts(msg, "cannot 3-index slice a string");
            return -1;
        }
    } else if (a[0].k == V_INTS || a[0].k == V_PAIRS) {
        cap = a[0].l->n;
    } else {
        if (a[0].k == V_INVALID || a[0].k == V_NIL) sb_puts(msg, "slice of untyped nil");
        else sb_printf(msg, "can't slice item of type %s", val_type(&a[0]));
        return -1;
    }
    if (n > 4) {
        sb_printf(msg, "too many slice indexes: %zu", n - 1);
        return -1;
    }
    size_t idx[3] = {0, cap, cap};
    for (size_t k = 1; k < n; k++) {
        if (index_of(&a[k], cap + 1, &idx[k - 1], msg)) return -1;
    }
    if (idx[0] > idx[1]) {
        sb_printf(msg, "invalid slice index: %zu > %zu", idx[0], idx[1]);
        return -1;
    }
    if (n == 4 && idx[1] > idx[2]) {
        sb_printf(msg, "invalid slice index: %zu > %zu", idx[1], idx[2]);
        return -1;
    }
    if (a[0].k == V_STRING) {
        *out = a[0];
        val_hold(out);
        out->s += idx[0];
        out->n = idx[1] - idx[0];
        return 0;
    }
    size_t w = a[0].k == V_PAIRS ? 2 : 1, cnt = idx[1] - idx[0];
    struct tlist *l = malloc(sizeof *l + cnt * w * sizeof(int64_t));
    if (!l) return UV_ENOMEM;
    l->refs = 1;
    l->n = cnt;
    if (cnt) memcpy(l->v, a[0].l->v + idx[0] * w, cnt * w * sizeof(int64_t));
    *out = (struct tval){.k = a[0].k, .l = l};
    return 0;
}

/* Go's basic kinds for comparisons. */
enum cmp_kind { CK_BAD, CK_BOOL, CK_INT, CK_FLOAT, CK_STRING };

static enum cmp_kind cmp_kind(const struct tval *v)
{
    switch (v->k) {
    case V_BOOL: return CK_BOOL;
    case V_INT: return CK_INT;
    case V_FLOAT: return CK_FLOAT;
    case V_STRING: return CK_STRING;
    default: return CK_BAD;
    }
}

/* Compares a and b: *c gets <0, 0, >0. Returns -1 with msg when not comparable. */
static int cmp_vals(const struct tval *a, const struct tval *b, bool ordered, int *c, struct sb *msg)
{
    enum cmp_kind ka = cmp_kind(a), kb = cmp_kind(b);
    if (ka == CK_BAD || kb == CK_BAD || (ordered && (ka == CK_BOOL || kb == CK_BOOL))) {
        sb_puts(msg, "invalid type for comparison");
        return -1;
    }
    if (ka != kb) {
        sb_puts(msg, "incompatible types for comparison");
        return -1;
    }
    switch (ka) {
    case CK_BOOL: *c = a->b == b->b ? 0 : 1; break;
    case CK_INT: *c = a->i < b->i ? -1 : a->i > b->i; break;
    case CK_FLOAT: *c = a->f < b->f ? -1 : a->f > b->f ? 1 : (a->f == b->f ? 0 : 2); break;
    default: {
        size_t m = a->n < b->n ? a->n : b->n;
        int r = m ? memcmp(a->s, b->s, m) : 0;
        *c = r ? r : a->n < b->n ? -1 : a->n > b->n;
    }
    }
    return 0;
}

static int f_eq(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    for (size_t i = 1; i < n; i++) {
        int c;
        if (cmp_vals(&a[0], &a[i], false, &c, msg)) return -1;
        if (c == 0) {
            *out = val_bool(true);
            return 0;
        }
    }
    *out = val_bool(false);
    return 0;
}

static int f_ne(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    int c;
    if (cmp_vals(&a[0], &a[1], false, &c, msg)) return -1;
    *out = val_bool(c != 0);
    return 0;
}

#define CMP_FN(name, expr)                                                                   \
    static int name(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg) \
    {                                                                                        \
        int c;                                                                               \
        if (cmp_vals(&a[0], &a[1], true, &c, msg)) return -1;                                \
        *out = val_bool(c != 2 && (expr));                                                   \
        return 0;                                                                            \
    }
CMP_FN(f_lt, c < 0)
CMP_FN(f_le, c <= 0)
CMP_FN(f_gt, c > 0 && c != 2)
CMP_FN(f_ge, c >= 0)

static int f_call(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    if (a[0].k == V_INVALID || a[0].k == V_NIL) sb_puts(msg, "call of nil");
    else sb_printf(msg, "non-function of type %s", val_type(&a[0]));
    return -1;
}

/* Parses one integer piece as strconv.ParseInt(s, 10, 64) does, with its error text. */
static int range_int(const char *s, size_t n, int64_t *out, struct sb *msg)
{
    while (n && is_space((unsigned char)*s)) s++, n--;
    while (n && is_space((unsigned char)s[n - 1])) n--;
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) neg = s[i++] == '-';
    uint64_t v = 0;
    bool range = false;
    if (i == n) goto syntax;
    for (; i < n; i++) {
        if (!is_digit(s[i])) goto syntax;
        if (v > (UINT64_MAX - 9) / 10) range = true;
        else v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (range || v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
        sb_puts(msg, "range number is invalid, strconv.ParseInt: parsing ");
        fmt_quote(msg, s, n, '"');
        sb_puts(msg, ": value out of range");
        return -1;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
syntax:
    sb_puts(msg, "range number is invalid, strconv.ParseInt: parsing ");
    fmt_quote(msg, s, n, '"');
    sb_puts(msg, ": invalid syntax");
    return -1;
}

/* frp's ParseRangeNumbers: "1000-1002,2000" -> [1000 1001 1002 2000]. *out is a new list. */
static int parse_range(const char *s, size_t n, struct tlist **out, struct sb *msg)
{
    while (n && is_space((unsigned char)*s)) s++, n--;
    while (n && is_space((unsigned char)s[n - 1])) n--;
    size_t cap = 16, cnt = 0;
    struct tlist *l = malloc(sizeof *l + cap * sizeof(int64_t));
    if (!l) return UV_ENOMEM;
    const char *end = s + n;
    for (const char *piece = s;;) {
        const char *comma = memchr(piece, ',', (size_t)(end - piece));
        const char *pe = comma ? comma : end;
        const char *dash = memchr(piece, '-', (size_t)(pe - piece));
        int64_t lo, hi;
        if (!dash) {
            if (range_int(piece, (size_t)(pe - piece), &lo, msg)) goto fail;
            hi = lo;
        } else {
            if (memchr(dash + 1, '-', (size_t)(pe - dash - 1))) {
                sb_puts(msg, "range number is invalid");
                goto fail;
            }
            if (range_int(piece, (size_t)(dash - piece), &lo, msg)) goto fail;
            if (range_int(dash + 1, (size_t)(pe - dash - 1), &hi, msg)) goto fail;
            if (hi < lo) {
                sb_puts(msg, "range number is invalid");
                goto fail;
            }
        }
        if ((uint64_t)hi - (uint64_t)lo >= TMPL_MAX_RANGE - cnt) {
            sb_printf(msg, "range number is invalid, more than %u numbers", TMPL_MAX_RANGE);
            goto fail;
        }
        size_t add = (size_t)((uint64_t)hi - (uint64_t)lo) + 1;
        if (cnt + add > cap) {
            while (cap < cnt + add) cap *= 2;
            struct tlist *nl = realloc(l, sizeof *l + cap * sizeof(int64_t));
            if (!nl) {
                free(l);
                return UV_ENOMEM;
            }
            l = nl;
        }
        for (size_t k = 0; k < add; k++) l->v[cnt++] = lo + (int64_t)k;
        if (!comma) break;
        piece = comma + 1;
    }
    l->refs = 1;
    l->n = cnt;
    *out = l;
    return 0;
fail:
    free(l);
    return -1;
}

static int f_range(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    int rc = want_string(&a[0], msg);
    if (rc) return rc;
    struct tlist *l;
    if ((rc = parse_range(a[0].s, a[0].n, &l, msg))) return rc;
    *out = (struct tval){.k = V_INTS, .l = l};
    return 0;
}

static int f_range_pair(struct exec *x, struct tval *a, size_t n, struct tval *out, struct sb *msg)
{
    int rc;
    if ((rc = want_string(&a[0], msg)) || (rc = want_string(&a[1], msg))) return rc;
    struct tlist *l1, *l2;
    if ((rc = parse_range(a[0].s, a[0].n, &l1, msg))) return rc;
    if ((rc = parse_range(a[1].s, a[1].n, &l2, msg))) {
        free(l1);
        return rc;
    }
    if (l1->n != l2->n) {
        free(l1);
        free(l2);
        sb_puts(msg, "first and second range numbers are not in pairs");
        return -1;
    }
    struct tlist *p = malloc(sizeof *p + 2 * l1->n * sizeof(int64_t));
    if (!p) {
        free(l1);
        free(l2);
        return UV_ENOMEM;
    }
    p->refs = 1;
    p->n = l1->n;
    for (size_t i = 0; i < l1->n; i++) {
        p->v[2 * i] = l1->v[i];
        p->v[2 * i + 1] = l2->v[i];
    }
    free(l1);
    free(l2);
    *out = (struct tval){.k = V_PAIRS, .l = p};
    return 0;
}

static const struct tfunc tmpl_funcs[] = {
    {"and", 1, -1, NULL, false},
    {"or", 1, -1, NULL, false},
    {"not", 1, 1, f_not, false},
    {"len", 1, 1, f_len, false},
    {"index", 1, -1, f_index, false},
    {"slice", 1, -1, f_slice, false},
    {"print", 0, -1, f_print, false},
    {"printf", 1, -1, f_printf, false},
    {"println", 0, -1, f_println, false},
    {"eq", 1, -1, f_eq, false},
    {"ne", 2, 2, f_ne, false},
    {"lt", 2, 2, f_lt, false},
    {"le", 2, 2, f_le, false},
    {"gt", 2, 2, f_gt, false},
    {"ge", 2, 2, f_ge, false},
    {"html", 0, -1, f_html, false},
    {"js", 0, -1, f_js, false},
    {"urlquery", 0, -1, f_urlquery, false},
    {"call", 1, -1, f_call, false},
    {"parseNumberRange", 1, 1, f_range, true},
    {"parseNumberRangePair", 2, 2, f_range_pair, true},
};

static const struct tfunc *func_lookup(const struct tmpl *t, const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof tmpl_funcs / sizeof tmpl_funcs[0]; i++)
        if (strlen(tmpl_funcs[i].name) == n && memcmp(tmpl_funcs[i].name, name, n) == 0)
            return tmpl_funcs[i].frp && t->legacy ? NULL : &tmpl_funcs[i];
    return NULL;
}

/* ---- evaluation */

static int eval_pipe(struct exec *x, const struct tpipe *p, const struct tval *dot, struct tval *out);
static int eval_arg(struct exec *x, const struct tcmd *cmd, const struct targ *a, const struct tval *dot,
                    struct tval *out);

static struct var *var_lookup(struct exec *x, struct slice name)
{
    for (size_t i = x->nvars; i-- > 0;)
        if (x->vars[i].name.n == name.n && memcmp(x->vars[i].name.p, name.p, name.n) == 0)
            return &x->vars[i];
    return NULL;
}

/* Pushes a variable; takes over the reference held by v. */
static int var_push_x(struct exec *x, struct slice name, struct tval *v)
{
    if (x->nvars == x->capvars) {
        size_t cap = x->capvars ? x->capvars * 2 : 16;
        if (cap > TMPL_MAX_VARS * 4) {
            val_drop(v);
            err_set(x->t->err, x->t->errlen, "template: %s: too many variables", x->t->name);
            return CFRP_ETOOBIG;
        }
        struct var *nv = realloc(x->vars, cap * sizeof *nv);
        if (!nv) {
            val_drop(v);
            return nomem(x->t);
        }
        x->vars = nv;
        x->capvars = cap;
    }
    x->vars[x->nvars].name = name;
    x->vars[x->nvars].v = *v;
    x->nvars++;
    memset(v, 0, sizeof *v);
    return 0;
}

static void var_pop_to(struct exec *x, size_t mark)
{
    while (x->nvars > mark) val_drop(&x->vars[--x->nvars].v);
}

/* Sets an existing variable (or the one `top` from the top); takes over v's reference. */
static void var_set(struct var *slot, struct tval *v)
{
    val_drop(&slot->v);
    slot->v = *v;
    memset(v, 0, sizeof *v);
}

/* Field lookup name on receiver recv (borrowed); *out is a new value. has_args says
 * the field is the head of a command with arguments. */
static int eval_field(struct exec *x, const struct targ *node, const struct tval *recv, struct slice name,
                      bool has_args, struct tval *out)
{
    switch (recv->k) {
    case V_INVALID:
        *out = (struct tval){0};
        return 0;
    case V_ROOT:
        if (name.n == 4 && memcmp(name.p, "Envs", 4) == 0) {
            if (has_args)
                return x_fail_arg(x, node, "Envs has arguments but cannot be invoked as function");
            *out = (struct tval){.k = V_ENVS};
            return 0;
        }
        break;
    case V_ENVS: {
        if (has_args)
            return x_fail_arg(x, node, "%.*s is not a method but has arguments", (int)name.n, name.p);
        const struct env *e = env_find(x, name.p, name.n);
        *out = e ? (struct tval){.k = V_STRING, .s = e->v, .n = strlen(e->v)} : (struct tval){0};
        return 0;
    }
    case V_PAIR:
        if (name.n == 5 && (memcmp(name.p, "First", 5) == 0)) {
            if (has_args) break;
            *out = val_int(recv->i, true);
            return 0;
        }
        if (name.n == 6 && memcmp(name.p, "Second", 6) == 0) {
            if (has_args) break;
            *out = val_int(recv->i2, true);
            return 0;
        }
        break;
    case V_NIL:
        return x_fail_arg(x, node, "nil pointer evaluating interface {}.%.*s", (int)name.n, name.p);
    default:
        break;
    }
    if (has_args && recv->k == V_PAIR)
        return x_fail_arg(x, node, "%.*s has arguments but cannot be invoked as function", (int)name.n,
                          name.p);
    return x_fail_arg(x, node, "can't evaluate field %.*s in type %s", (int)name.n, name.p, val_type(recv));
}

/* Applies node's trailing fields to base (reference taken over). */
static int eval_chain(struct exec *x, const struct targ *node, struct tval *base, bool has_args,
                      struct tval *out)
{
    for (size_t i = 0; i < node->nfields; i++) {
        struct tval nv;
        int rc = eval_field(x, node, base, node->fields[i], has_args && i + 1 == node->nfields, &nv);
        val_drop(base);
        if (rc) return rc;
        *base = nv;
    }
    *out = *base;
    memset(base, 0, sizeof *base);
    return 0;
}

/* Evaluates a function call; args are cmd's args after the first (NULL-terminated
 * list from first), plus final when has_final. */
static int eval_call(struct exec *x, const struct tcmd *cmd, const struct targ *fnode, const struct targ *first,
                     const struct tval *dot, struct tval *final, struct tval *out)
{
    const struct tfunc *fn = fnode->fn;
    size_t nargs = 0;
    for (const struct targ *a = first; a; a = a->next) nargs++;
    if (final) nargs++;
    if ((int)nargs < fn->min || (fn->max >= 0 && (int)nargs > fn->max)) {
        if (fn->fn == NULL)
            return x_fail_arg(x, fnode, "wrong number of args for %s: want at least 1 got %zu", fn->name, nargs);
        if (fn->max < 0)
            return x_fail_arg(x, fnode, "wrong number of args for %s: want at least %d got %zu", fn->name,
                              fn->min, nargs);
        return x_fail_arg(x, fnode, "wrong number of args for %s: want %d got %zu", fn->name, fn->min, nargs);
    }
    int rc;
    if (!fn->fn) {
        /* and / or: evaluate left to right, stop at the first deciding value */
        bool is_and = fn->name[0] == 'a';
        const struct targ *a = first;
        struct tval v = {0};
        for (size_t i = 0; i < nargs; i++) {
            val_drop(&v);
            if (a) {
                if ((rc = eval_arg(x, cmd, a, dot, &v))) return rc;
                a = a->next;
            } else {
                v = *final;
                memset(final, 0, sizeof *final);
            }
            bool truth = v.k == V_ENVS ? x->nenv > 0 : val_truth(&v);
            if (truth != is_and) break;
        }
        *out = v;
        return 0;
    }
    struct tval args[64];
    if (nargs > 64) return x_fail_arg(x, fnode, "too many arguments for %s", fn->name);
    size_t k = 0;
    for (const struct targ *a = first; a; a = a->next) {
        if ((rc = eval_arg(x, cmd, a, dot, &args[k]))) goto done;
        k++;
    }
    if (final) {
        args[k++] = *final;
        memset(final, 0, sizeof *final);
    }
    struct sb msg = {.limit = 1024};
    rc = fn->fn(x, args, k, out, &msg);
    if (rc == -1) rc = x_fail_cmd(x, cmd, "error calling %s: %s", fn->name, sb_str(&msg));
    else if (rc == -2) rc = x_fail_cmd(x, cmd, "%s", sb_str(&msg));
    else if (rc == CFRP_ETOOBIG)
        err_set(x->t->err, x->t->errlen, "template: %s: output of %s exceeds %u bytes", x->t->name,
                fn->name, TMPL_MAX_OUTPUT);
    else if (rc == UV_ENOMEM) nomem(x->t);
    free(msg.p);
done:
    for (size_t i = 0; i < k; i++) val_drop(&args[i]);
    return rc;
}

/* The value of a variable node's base ($x), referenced. */
static int eval_var_base(struct exec *x, const struct targ *a, struct tval *out)
{
    struct var *v = var_lookup(x, a->raw);
    if (!v) return x_fail_arg(x, a, "undefined variable: %.*s", (int)a->raw.n, a->raw.p);
    *out = v->v;
    val_hold(out);
    return 0;
}

static int literal_value(const struct targ *a, struct tval *out)
{
    switch (a->type) {
    case A_BOOL: *out = val_bool(a->b); return 0;
    case A_NIL: *out = (struct tval){.k = V_NIL}; return 0;
    case A_STRING: *out = (struct tval){.k = V_STRING, .s = a->str, .n = a->strn}; return 0;
    case A_NUMBER:
        *out = a->isint ? val_int(a->i, false) : (struct tval){.k = V_FLOAT, .f = a->f};
        return 0;
    default: return -1;
    }
}

/* An operand used as an argument (not the head of a command). */
static int eval_arg(struct exec *x, const struct tcmd *cmd, const struct targ *a, const struct tval *dot,
                    struct tval *out)
{
    int rc;
    if ((rc = x_step(x, a->pos))) return rc;
    struct tval base;
    switch (a->type) {
    case A_DOT:
        *out = *dot;
        val_hold(out);
        return 0;
    case A_FIELD:
        base = *dot;
        val_hold(&base);
        return eval_chain(x, a, &base, false, out);
    case A_VAR:
        if ((rc = eval_var_base(x, a, &base))) return rc;
        return eval_chain(x, a, &base, false, out);
    case A_PIPE:
        return eval_pipe(x, a->pipe, dot, out);
    case A_CHAIN:
        if ((rc = eval_pipe(x, a->base->pipe, dot, &base))) return rc;
        return eval_chain(x, a, &base, false, out);
    case A_FUNC:
        return eval_call(x, cmd, a, NULL, dot, NULL, out);
    case A_NIL:
        return x_fail_arg(x, a, "cannot assign nil to %s", "interface {}");
    case A_NUMBER:
        if (a->overflow) return x_fail_arg(x, a, "%.*s overflows int", (int)a->raw.n, a->raw.p);
        return literal_value(a, out);
    default:
        return literal_value(a, out);
    }
}

static int not_a_function(struct exec *x, const struct tcmd *cmd, const struct tval *final)
{
    if (cmd->nargs <= 1 && !final) return 0;
    struct sb s = {.limit = 4096};
    str_arg(&s, cmd->args);
    int rc = x_fail_arg(x, cmd->args, "can't give argument to non-function %s", sb_str(&s));
    free(s.p);
    return rc;
}

/* A command: its first operand decides (function call, field, variable, literal). */
static int eval_cmd(struct exec *x, const struct tcmd *cmd, const struct tval *dot, struct tval *final,
                    struct tval *out)
{
    const struct targ *a = cmd->args;
    int rc;
    bool has_args = cmd->nargs > 1 || final;
    struct tval base;
    if ((rc = x_step(x, cmd->pos))) return rc;
    switch (a->type) {
    case A_FUNC:
        return eval_call(x, cmd, a, a->next, dot, final, out);
    case A_FIELD:
    case A_VAR:
    case A_CHAIN:
        if (a->nfields == 0 || !has_args) {
            if ((rc = not_a_function(x, cmd, final))) return rc;
            return eval_arg(x, cmd, a, dot, out);
        }
        if (a->type == A_FIELD) {
            base = *dot;
            val_hold(&base);
        } else if (a->type == A_VAR) {
            if ((rc = eval_var_base(x, a, &base))) return rc;
        } else if ((rc = eval_pipe(x, a->base->pipe, dot, &base))) {
            return rc;
        }
        if ((rc = eval_chain(x, a, &base, true, out))) return rc;
        /* fields never take arguments: eval_field failed already unless the value was
         * missing, which Go reports the same way as a non-function */
        val_drop(out);
        return not_a_function(x, cmd, final);
    case A_NIL:
        if ((rc = not_a_function(x, cmd, final))) return rc;
        return x_fail_arg(x, a, "nil is not a command");
    default:
        if ((rc = not_a_function(x, cmd, final))) return rc;
        return eval_arg(x, cmd, a, dot, out);
    }
}

/* Evaluates a pipeline; declarations push (or assign) variables. */
static int eval_pipe(struct exec *x, const struct tpipe *p, const struct tval *dot, struct tval *out)
{
    struct tval v = {0};
    bool have = false;
    for (const struct tcmd *c = p->cmds; c; c = c->next) {
        struct tval nv;
        int rc = eval_cmd(x, c, dot, have ? &v : NULL, &nv);
        val_drop(&v);
        if (rc) return rc;
        v = nv;
        have = true;
    }
    for (int d = 0; d < p->ndecl; d++) {
        struct tval copy = v;
        val_hold(&copy);
        if (p->assign) {
            struct var *slot = var_lookup(x, p->decl[d]);
            if (slot) var_set(slot, &copy);
            else val_drop(&copy);
        } else {
            int rc = var_push_x(x, p->decl[d], &copy);
            if (rc) {
                val_drop(&v);
                return rc;
            }
        }
    }
    *out = v;
    return 0;
}

enum { WALK_BREAK = 1, WALK_CONTINUE = 2 };

static int walk(struct exec *x, const struct tnode *n, const struct tval *dot);

static int out_check(struct exec *x)
{
    if (x->out.full) {
        err_set(x->t->err, x->t->errlen, "template: %s: output exceeds %u bytes", x->t->name,
                TMPL_MAX_OUTPUT);
        return CFRP_ETOOBIG;
    }
    if (x->out.nomem) return nomem(x->t);
    return 0;
}

static int print_value(struct exec *x, const struct tval *v)
{
    /* "no value" prints as nothing (config.md 3.1: frp v0.61.1 rendered unset
     * variables as the empty string), and as Go's "<no value>" in legacy INI files */
    if (v->k != V_INVALID)
        fmt_value(x, &x->out, v, 'v');
    else if (x->t->legacy)
        sb_puts(&x->out, "<no value>");
    return out_check(x);
}

/* One range iteration: sets the loop variables, walks the body with dot = elem. */
static int range_iter(struct exec *x, const struct tnode *n, struct tval *index, struct tval *elem, size_t mark)
{
    const struct tpipe *p = n->pipe;
    if (p->ndecl > 0) {
        /* one variable gets the element; two get index and element. Declared ones
         * were pushed by the pipeline (the element's is on top); assigned ones exist. */
        struct tval e = *elem, i = *index;
        val_hold(&e);
        val_hold(&i);
        struct var *ve, *vi = NULL;
        if (p->assign) {
            ve = var_lookup(x, p->decl[p->ndecl - 1]);
            if (p->ndecl > 1) vi = var_lookup(x, p->decl[0]);
        } else {
            ve = &x->vars[mark - 1];
            if (p->ndecl > 1) vi = &x->vars[mark - 2];
        }
        if (ve) var_set(ve, &e);
        if (vi) var_set(vi, &i);
        val_drop(&e);
        val_drop(&i);
    }
    int rc = walk(x, n->list, elem);
    var_pop_to(x, mark);
    return rc;
}

static int walk_range(struct exec *x, const struct tnode *n, const struct tval *dot)
{
    size_t outer = x->nvars;
    struct tval v;
    int rc = eval_pipe(x, n->pipe, dot, &v);
    if (rc) return rc;
    size_t mark = x->nvars;
    size_t count = 0;
    switch (v.k) {
    case V_INTS:
    case V_PAIRS:
    case V_ENVS:
    case V_INT:
        count = v.k == V_ENVS ? x->nenv : v.k == V_INT ? (v.i > 0 ? (size_t)v.i : 0) : v.l->n;
        if (v.k == V_INT && n->pipe->ndecl > 1) {
            rc = x_fail(x, n->pos, "range", "can't use %lld to iterate over more than one variable",
                        (long long)v.i);
            goto out;
        }
        for (size_t i = 0; i < count; i++) {
            if ((rc = x_step(x, n->pos))) goto out;
            struct tval idx = val_int((int64_t)i, false), elem;
            if (v.k == V_INTS) elem = val_int(v.l->v[i], true);
            else if (v.k == V_PAIRS) elem = (struct tval){.k = V_PAIR, .i = v.l->v[2 * i], .i2 = v.l->v[2 * i + 1]};
            else if (v.k == V_INT) elem = val_int((int64_t)i, v.i64);
            else {
                idx = (struct tval){.k = V_STRING, .s = x->env[i].k, .n = x->env[i].kn};
                elem = (struct tval){.k = V_STRING, .s = x->env[i].v, .n = strlen(x->env[i].v)};
            }
            rc = range_iter(x, n, &idx, &elem, mark);
            if (rc == WALK_BREAK) {
                rc = 0;
                break;
            }
            if (rc == WALK_CONTINUE) rc = 0;
            if (rc) goto out;
        }
        break;
    case V_INVALID:
    case V_NIL:
        break;
    default: {
        struct sb s = {.limit = 256};
        fmt_value(x, &s, &v, 'v');
        rc = x_fail(x, n->pos, "range", "range can't iterate over %s", sb_str(&s));
        free(s.p);
        goto out;
    }
    }
    if (count == 0 && n->elselist) rc = walk(x, n->elselist, dot);
out:
    val_drop(&v);
    var_pop_to(x, outer);
    return rc;
}

static int walk_if_with(struct exec *x, const struct tnode *n, const struct tval *dot)
{
    size_t mark = x->nvars;
    struct tval v;
    int rc = eval_pipe(x, n->pipe, dot, &v);
    if (rc) return rc;
    bool truth = v.k == V_ENVS ? x->nenv > 0 : val_truth(&v);
    if (truth) rc = walk(x, n->list, n->type == N_WITH ? &v : dot);
    else if (n->elselist) rc = walk(x, n->elselist, dot);
    val_drop(&v);
    var_pop_to(x, mark);
    return rc;
}

/* Walks a node list. Returns 0, WALK_BREAK/WALK_CONTINUE, or a negative error. */
static int walk(struct exec *x, const struct tnode *n, const struct tval *dot)
{
    for (; n; n = n->next) {
        int rc = x_step(x, n->pos);
        if (rc) return rc;
        switch (n->type) {
        case N_TEXT:
            sb_put(&x->out, n->text, n->len);
            rc = out_check(x);
            break;
        case N_ACTION: {
            struct tval v;
            if ((rc = eval_pipe(x, n->pipe, dot, &v))) return rc;
            if (n->pipe->ndecl == 0) rc = print_value(x, &v);
            val_drop(&v);
            break;
        }
        case N_IF:
        case N_WITH:
            rc = walk_if_with(x, n, dot);
            break;
        case N_RANGE:
            rc = walk_range(x, n, dot);
            break;
        case N_BREAK:
            return WALK_BREAK;
        case N_CONTINUE:
            return WALK_CONTINUE;
        }
        if (rc) return rc;
    }
    return 0;
}

static int env_cmp(const void *a, const void *b)
{
    const struct env *x = a, *y = b;
    size_t m = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->k, y->k, m);
    if (c == 0) c = x->kn < y->kn ? -1 : x->kn > y->kn;
    if (c == 0) c = x->idx < y->idx ? -1 : 1;
    return c;
}

/* Snapshot of environ as a sorted map; a later duplicate name wins, as in Go's loop. */
static int env_load(struct exec *x)
{
    size_t n = 0;
    for (char **e = environ; e && *e && n < 65536; e++) n++;
    x->env = calloc(n ? n : 1, sizeof *x->env);
    if (!x->env) return nomem(x->t);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        if (!eq) continue;
        x->env[k++] = (struct env){environ[i], eq + 1, (size_t)(eq - environ[i]), i};
    }
    qsort(x->env, k, sizeof *x->env, env_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && x->env[u - 1].kn == x->env[i].kn && memcmp(x->env[u - 1].k, x->env[i].k, x->env[i].kn) == 0)
            x->env[u - 1] = x->env[i];
        else
            x->env[u++] = x->env[i];
    }
    x->nenv = u;
    return 0;
}

static int tmpl_run(const char *name, const char *src, size_t len, bool legacy, char **out,
                    size_t *outlen, char *err, size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    struct tmpl t = {
        .name = name, .src = src, .len = len, .err = err, .errlen = errlen, .legacy = legacy};
    if (len > TMPL_MAX_INPUT) {
        err_set(err, errlen, "template: %s: input exceeds %u bytes", name, TMPL_MAX_INPUT);
        return CFRP_ETOOBIG;
    }
    struct parser *p = NULL;
    struct exec x = {.t = &t, .out = {.limit = TMPL_MAX_OUTPUT}};
    struct tnode *root = NULL;
    int rc = lex_all(&t);
    if (rc) goto done;
    lex_lines(&t);
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = nomem(&t);
        goto done;
    }
    p->t = &t;
    enum list_end end;
    if ((rc = parse_list(p, &root, &end))) goto done;
    if (end != END_EOF) {
        const struct tok *k = &t.toks[p->i ? p->i - 1 : 0];
        rc = parse_fail(&t, k->line, end == END_END ? "unexpected {{end}}" : "unexpected {{else}}");
        goto done;
    }
    if ((rc = env_load(&x))) goto done;
    struct tval rootv = {.k = V_ROOT};
    struct tval dollar = rootv;
    if ((rc = var_push_x(&x, (struct slice){"$", 1}, &dollar))) goto done;
    rc = walk(&x, root, &rootv);
    if (rc > 0) rc = 0; /* break/continue cannot escape: the parser checked */
    if (rc) goto done;
    if (!x.out.p) {
        x.out.p = malloc(1);
        if (!x.out.p) {
            rc = nomem(&t);
            goto done;
        }
        x.out.p[0] = '\0';
    }
    *out = x.out.p;
    *outlen = x.out.n;
    x.out.p = NULL;
done:
    var_pop_to(&x, 0);
    free(x.vars);
    free(x.env);
    free(x.out.p);
    free(p);
    free(t.toks);
    arena_free(&t.arena);
    return rc;
}

int tmpl_render(const char *name, const char *src, size_t len, char **out, size_t *outlen, char *err,
                size_t errlen)
{
    return tmpl_run(name, src, len, false, out, outlen, err, errlen);
}

int tmpl_render_legacy(const char *name, const char *src, size_t len, char **out, size_t *outlen,
                       char *err, size_t errlen)
{
    return tmpl_run(name, src, len, true, out, outlen, err, errlen);
}
