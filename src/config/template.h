/* The template step of the config pipeline: a Go text/template subset with frp's
 * data (.Envs from the process environment) and functions (parseNumberRange,
 * parseNumberRangePair), as in spec config.md section 3 and decisions.md item 1:
 * no HTML escaping; an unset variable renders as the empty string, as v0.61.1 did.
 *
 * Supported: text and {{ }} actions, {{- / -}} trim markers, comment actions,
 * pipelines with |, parenthesised pipelines, field chains (.Envs.X, $v.First),
 * variables ($ $x := / =, $i, $v := in range), if / else if / else / with / range
 * (over lists, maps and ints) / break / continue / end, literals (strings, raw strings,
 * chars, numbers, true, false, nil), and the builtins and or not len index slice print
 * printf println eq ne lt le gt ge html js urlquery call. define/template/block are
 * rejected with an error.
 *
 * Errors use Go's shapes: parse errors "template: NAME:LINE: msg", execution errors
 * "template: NAME:LINE:COL: executing \"NAME\" at <node>: msg". frp names its template
 * "frp"; the loader passes that name so messages match frp byte for byte. */
#ifndef CFRP_CONFIG_TEMPLATE_H
#define CFRP_CONFIG_TEMPLATE_H

#include <stddef.h>

/* Bounds: larger input, output, nesting or work is rejected with CFRP_ETOOBIG. */
#define TMPL_MAX_INPUT (16u << 20)   /* template source bytes */
#define TMPL_MAX_OUTPUT (64u << 20)  /* rendered bytes */
#define TMPL_MAX_DEPTH 100           /* nested control structures / parentheses */
#define TMPL_MAX_RANGE (1u << 20)    /* numbers one parseNumberRange may produce */
#define TMPL_MAX_STEPS 20000000u     /* evaluated nodes per render */

/* Renders src (len bytes, need not be NUL-terminated) with the environment variables
 * of environ as .Envs. name is the template name used in error messages (frp uses
 * "frp"). On success *out is a malloc'ed NUL-terminated buffer owned by the caller and
 * *outlen its length (without the NUL). Returns 0, CFRP_EPARSE (syntax or execution
 * error) or CFRP_ETOOBIG / UV_ENOMEM, with the message in err; *out is NULL then. */
int tmpl_render(const char *name, const char *src, size_t len, char **out, size_t *outlen,
                char *err, size_t errlen);

/* The same for legacy INI files (config.md 9.2): Go's plain text/template, so an unset
 * variable prints "<no value>" and parseNumberRange(Pair) are not defined. */
int tmpl_render_legacy(const char *name, const char *src, size_t len, char **out,
                       size_t *outlen, char *err, size_t errlen);

#endif
