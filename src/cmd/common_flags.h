/* Internal to src/cmd: the flag set of one command as pflag sees it (local, persistent,
 * inherited and the implicit --help), parsing with pflag's rules, and the usage lines. */
#ifndef CFRP_CMD_COMMON_FLAGS_H
#define CFRP_CMD_COMMON_FLAGS_H

#include <stdio.h>

#include "cmd/common_cli.h"

#define CLI_SET_MAX 128

enum cli_set_kind {
    CLI_SET_ALL,      /* everything a command accepts */
    CLI_SET_LOCAL,    /* "Flags:" in help: own flags, own persistent flags and --help */
    CLI_SET_INHERITED /* "Global Flags:": persistent flags of the ancestors */
};

/* Pointers into the commands' flag arrays (not owned), plus the synthesized help flag. */
struct cli_flagset {
    struct cli_flag *f[CLI_SET_MAX];
    size_t n;
    struct cli_flag help;
    char help_usage[96];
    bool help_value;
};

void cli_flagset_build(struct cli_flagset *fs, struct cli_cmd *cmd, enum cli_set_kind kind);

/* Looks a long name up, '_' and '-' being the same. NULL if absent. */
struct cli_flag *cli_flagset_lookup(struct cli_flagset *fs, const char *name, size_t len);
struct cli_flag *cli_flagset_short(struct cli_flagset *fs, char c);

/* Whether the flag needs no value (pflag NoOptDefVal): plain bool flags. */
bool cli_flag_no_value(const struct cli_flag *f);

/* Parses argv[0..argc) like pflag; positional arguments are stored in pos (capacity
 * argc) and counted in *npos. Returns 0, or -1 with pflag's message in err. */
int cli_flagset_parse(struct cli_flagset *fs, int argc, char **argv, char **pos, int *npos,
                      char *err, size_t errlen);

/* Writes pflag's FlagUsages block (sorted, aligned, without the final newline). */
void cli_flagset_usages(struct cli_flagset *fs, FILE *out);

/* Applies every flag's default to its destination, for cmd and all its subcommands. */
void cli_flags_defaults(struct cli_cmd *cmd);

#endif
