/* The format front end of the config pipeline (spec config.md 1 and 2.1): read a
 * v1 config file, render it as a template, detect its format the way frp does (TOML,
 * else JSON when the text starts with '{', else YAML) and parse it into one jansson
 * tree. Decoding the tree into typed structs is the config decoders' job.
 * Legacy INI detection happens before this step and is not done here. */
#ifndef CFRP_CONFIG_LOADER_H
#define CFRP_CONFIG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define CFG_MAX_FILE_SIZE (16u << 20) /* config files larger than this are refused */

enum cfg_format { CFG_FORMAT_TOML, CFG_FORMAT_JSON, CFG_FORMAT_YAML };

/* One loaded file. tree and raw are owned by the caller after a successful load
 * (cfg_source_clear releases both).
 * tree: the document; an empty TOML file or an empty/null YAML document gives an empty
 *   object. A YAML file whose document is a scalar or a sequence gives that value: frp
 *   then fails decoding with "cannot unmarshal string|array into Go value of type ...",
 *   which needs the config type name, so the decoder reports it.
 * raw: a tree of the same shape as tree (NULL for TOML, whose numbers Go re-encodes):
 *   - JSON: every number holds its literal text as a JSON string, every other value
 *     is JSON null. Integers that fit int64 are integers in tree; any other number
 *     (fraction, exponent, out of range) is a real whose value may be approximate
 *     (a huge exponent is clamped): only its literal reaches Go's messages.
 *   - YAML: every scalar that YAML resolved to a number, bool or null holds its source
 *     text, every other scalar is JSON null (yaml_tree.h; for config.md 2.5 coercion
 *     and for .inf/.nan, which are JSON null in tree). */
struct cfg_source {
    json_t *tree;
    enum cfg_format format;
    json_t *raw;
};

/* Reads path, renders the template, detects the format and parses into one tree.
 * strict affects YAML duplicate keys. Returns 0 or a negative code with the message
 * frp prints in err: "open <path>: no such file or directory", template errors
 * ("template: frp:1:17: executing ..."), Go's JSON syntax errors ("invalid character
 * '}' looking for beginning of object key string"), YAML errors ("error converting
 * YAML to JSON: yaml: line 1: ..."). A file that looks like TOML but is not valid TOML
 * (and is no valid YAML/JSON object either) gets the TOML error instead of frp's
 * misleading YAML one (decisions.md 3): "<path>: toml: line L, column C: <what>". */
int cfg_source_load_file(const char *path, bool strict, struct cfg_source *out, char *err, size_t errlen);

/* Same for text already in memory; name stands for the path in messages. */
int cfg_source_load_text(const char *name, const char *text, size_t len, bool strict, struct cfg_source *out,
                         char *err, size_t errlen);

/* Releases tree and raw and sets them to NULL. */
void cfg_source_clear(struct cfg_source *src);

/* The name of a format, "toml", "json" or "yaml". */
const char *cfg_format_name(enum cfg_format format);

#endif
