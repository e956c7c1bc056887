/* An INI parser with the rules of go-ini (gopkg.in/ini.v1) as frp v0.61.1 configures it
 * (spec config.md 9.3): `[section]` lines, `key = value` / `key: value`, `#` and `;`
 * comment lines, keys before the first section in "DEFAULT", duplicate keys (last value
 * wins, first position kept), duplicate sections merged, quoted and `"""` / backtick
 * multi-line values, `\` line continuation, optional value-less ("boolean") keys and
 * optional inline comments. Section `a.b` inherits keys it lacks from `a` (ini_get).
 * Also go-ini's value conversions (bool, int with Go base prefixes, comma lists).
 *
 * The parsed file is a jansson object {section: {key: value}} in file order: the
 * "DEFAULT" section first, values are strings (not checked to be UTF-8). */
#ifndef CFRP_CONFIG_INI_H
#define CFRP_CONFIG_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define INI_MAX_SECTIONS 100000 /* sections per file (range expansion included) */
#define INI_MAX_KEYS 10000      /* keys per section */

struct ini_options {
    bool allow_boolean_keys;    /* a line without delimiter is a key with value "true" */
    bool ignore_inline_comment; /* keep `# ...` / `; ...` after a value as part of it */
};

/* Parses text (len bytes, NUL bytes are an error) into *out, a new object owned by the
 * caller. name is the file name used in messages. Returns 0, CFRP_EPARSE with
 * "<name>:<line>: <go-ini's message>" in err (e.g. "key-value delimiter not found: x",
 * "unclosed section: [a", "empty section name", "empty key name: = v"), CFRP_ETOOBIG
 * past the limits above, or UV_ENOMEM. */
int ini_parse(const char *name, const char *text, size_t len, const struct ini_options *opt,
              json_t **out, char *err, size_t errlen);

/* The section's object, or NULL. Borrowed from file. */
json_t *ini_section(json_t *file, const char *section);

/* The value of key in section, else in the nearest existing ancestor section ("a.b.c"
 * looks in "a.b", then "a"); NULL when none has it. Borrowed from file. */
const char *ini_get(json_t *file, const char *section, const char *key);

/* go-ini's Key.Bool: "1 t T true TRUE True y yes YES Yes on ON On" and the false forms.
 * Returns 0 or CFRP_EINVAL (out untouched). */
int ini_parse_bool(const char *s, bool *out);

/* go-ini's Key.Int64: strconv.ParseInt(s, 0, 64) (0x/0o/0b/0 prefixes, sign,
 * underscores after a prefix or between digits). Returns 0 or CFRP_EINVAL. */
int ini_parse_int(const char *s, int64_t *out);

/* go-ini's Key.Strings(","): split at commas (`\,` is a literal comma, `\\` a
 * backslash), items trimmed, a trailing empty item dropped; "" gives an empty list.
 * Returns a new array of strings, NULL on ENOMEM. */
json_t *ini_list(const char *s);

#endif
