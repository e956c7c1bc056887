/* A small cobra/pflag work-alike shared by frps and frpc: typed flags (with pflag's
 * parsing rules and error texts), a command tree, cobra's command lookup, help and usage
 * texts, the `help` and `completion` commands and the exit codes of api.md section 1.
 *
 * Flags store into variables owned by the program (dst). String values point into argv,
 * which lives as long as the process, so nothing is copied except list items. */
#ifndef CFRP_CMD_COMMON_CLI_H
#define CFRP_CMD_COMMON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cli_flag_type {
    CLI_BOOL,     /* dst: bool *; "--f" sets true, "--f=false" sets false */
    CLI_STRING,   /* dst: const char ** */
    CLI_INT,      /* dst: long long *; shown as "int" */
    CLI_STRINGS,  /* dst: struct cli_list *; comma-separated and repeatable */
    CLI_DURATION, /* dst: int64_t * nanoseconds; Go duration syntax */
    CLI_CUSTOM    /* dst: const char **; check() validates; type_name is shown */
};

#define CLI_LIST_MAX 256

/* A strings flag's value. Items are owned by the list (strdup'd). */
struct cli_list {
    char *items[CLI_LIST_MAX];
    size_t n;
    bool set; /* the first Set replaces the default, later ones append (pflag) */
};

struct cli_flag {
    const char *name;     /* as registered; '_' shows as '-' and both are accepted */
    char shorthand;       /* 0 when none */
    enum cli_flag_type type;
    void *dst;
    const char *def;      /* default text as pflag shows it; applied to dst at start */
    const char *usage;
    const char *type_name;                              /* CLI_CUSTOM: "string" or "bool" */
    int (*check)(const char *v, char *err, size_t len); /* CLI_CUSTOM */
    bool changed;         /* set on the command line */
};

/* Table helpers: CLI_FLAG(name, shorthand, type, dst, default, usage). */
#define CLI_FLAG(n, s, t, d, df, u) \
    {.name = (n), .shorthand = (s), .type = (t), .dst = (d), .def = (df), .usage = (u)}
#define CLI_FLAG_CUSTOM(n, s, t, d, df, u, tn, chk)                                      \
    {.name = (n), .shorthand = (s), .type = (t), .dst = (d), .def = (df), .usage = (u), \
     .type_name = (tn), .check = (chk)}
#define CLI_FLAG_END {.name = NULL}

#define CLI_MAX_SUBS 24

struct cli_cmd;
/* Runs a leaf command; args are the positional arguments. Returns the exit status. */
typedef int (*cli_run_fn)(struct cli_cmd *cmd, int argc, char **argv);

struct cli_cmd {
    const char *name;
    const char *use_suffix;   /* after the name in the usage line, e.g. "[command]" */
    const char *short_desc;
    const char *long_desc;    /* NULL: help shows short_desc */
    struct cli_flag *flags;   /* local flags, NULL-name terminated (may be NULL) */
    struct cli_flag *pflags;  /* persistent flags, inherited by subcommands */
    cli_run_fn run;           /* NULL: not runnable, prints its help */
    bool no_args;             /* cobra.NoArgs */
    bool no_flags_in_use;     /* DisableFlagsInUseLine */
    bool hidden_help;         /* the help command itself (listed, not "available") */
    struct cli_cmd *subs[CLI_MAX_SUBS];
    size_t nsubs;
    struct cli_cmd *parent;
};

/* Adds sub to parent (order does not matter: help lists commands sorted by name). */
void cli_add(struct cli_cmd *parent, struct cli_cmd *sub);

/* Adds cobra's default `completion` (bash, zsh, fish, powershell) and `help` commands
 * to root, parses argv, runs the selected command and returns the exit status:
 * 0 for help and success, 1 for usage errors, else what the command returned. */
int cli_execute(struct cli_cmd *root, int argc, char **argv);

/* The full command path, e.g. "frpc tcp visitor". Static buffer. */
const char *cli_cmd_path(const struct cli_cmd *cmd);

/* Prints cmd's help text (cobra's help template) to stdout. */
void cli_print_help(struct cli_cmd *cmd);

/* Go's strconv.ParseInt(s, 0, 64): 0 or -1 with Go's error text in err. */
int cli_parse_int(const char *s, long long *out, char *err, size_t errlen);

#endif
