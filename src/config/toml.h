/* TOML 1.0 parser: text in, a jansson tree out, in one of two shapes.
 *
 * flags 0 gives the plain tree frp's config pipeline decodes (what Go's
 * json.Marshal prints for the value go-toml v2 unmarshals into interface{}):
 *   table → object, array → array, integer → json_integer, float → json_real
 *   (7000.0 stays a real), bool → json_true/json_false, string → json_string
 *   (NULs kept), date/time kinds → RFC 3339 strings:
 *     offset date-time  2006-01-02T15:04:05.5Z / ...+07:00   (fraction without
 *                       trailing zeros, zero offset written Z, leap second 60
 *                       carried into the next minute, as Go's time.Time does)
 *     local date-time   2006-01-02T15:04:05.500   (fraction digits as written)
 *     local date        2006-01-02
 *     local time        15:04:05.500
 *   inf and nan are an error: CFRP_EINVAL with exactly Go's text
 *   "json: unsupported value: +Inf" ("-Inf", "NaN"), no line prefix.
 *
 * flags TOML_TAGGED gives toml-test's tagged JSON: every scalar becomes
 * {"type": T, "value": TEXT} with T one of string, integer, float, bool,
 * datetime, datetime-local, date-local, time-local (texts: canonical decimal
 * integers, "inf"/"-inf"/"nan", dates with upper-case T and Z and the offset
 * as written).
 *
 * Syntax and semantic errors (bad UTF-8, control characters, duplicate keys,
 * table redefinition, integer overflow, impossible dates, nesting deeper than
 * TOML_MAX_DEPTH, ...) return CFRP_EPARSE with
 * "line L, column C: <what is wrong>" in err (1-based; columns count
 * characters). */
#ifndef CFRP_CONFIG_TOML_H
#define CFRP_CONFIG_TOML_H

#include <stddef.h>
#include <jansson.h>

enum { TOML_TAGGED = 1 };

/* Tables and arrays nested deeper than this (counting every key of a dotted
 * key or table header as one level) are rejected. */
enum { TOML_MAX_DEPTH = 128 };

/* Parses len bytes of TOML (need not be NUL-terminated). Returns 0 and *out,
 * a new reference the caller json_decref's; or a negative code (see above)
 * with *out set to NULL and the message in err (err may be NULL). */
int toml_parse(const char *data, size_t len, int flags, json_t **out, char *err,
               size_t errlen);

#endif
