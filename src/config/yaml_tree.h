/* YAML text to a jansson tree with gopkg.in/yaml.v2 semantics as frp (through
 * sigs.k8s.io/yaml) sees them: YAML 1.1 scalars (yes/no/on/off/y/n booleans,
 * 0x/0o/0b/leading-0 integers, .inf/.nan), only the first document, merge keys
 * (<<), anchors and aliases expanded (bounded against alias bombs), duplicate keys
 * rejected in strict mode with yaml.v2's message, non-string keys turned into their
 * text. Errors read as frp prints them, e.g.
 * "error converting YAML to JSON: yaml: line 1: did not find expected node content". */
#ifndef CFRP_CONFIG_YAML_TREE_H
#define CFRP_CONFIG_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define YAML_TREE_MAX_DEPTH 1000     /* nested collections */
#define YAML_TREE_MAX_NODES 2000000  /* nodes after alias expansion */

/* Parses len bytes. On success *tree is a new reference: the first document's value
 * (an empty document gives JSON null). *raw (may be NULL if not wanted) is a tree of
 * the same shape in which every scalar that YAML resolved to a number, boolean or null
 * holds its source text as a string, and every other scalar is JSON null; the config
 * decoder uses it for the number-to-string coercion of config.md 2.5. Returns 0 or
 * CFRP_EPARSE / CFRP_ETOOBIG / UV_ENOMEM with the message in err. */
int yaml_tree_parse(const char *text, size_t len, bool strict, json_t **tree, json_t **raw, char *err,
                    size_t errlen);

#endif
