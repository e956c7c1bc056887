/* cobra work-alike: the command tree, command lookup (with "Did you mean this?"
 * suggestions), help and usage texts, the default `help` and `completion` commands and
 * usage-error reporting, all byte-compatible with cobra v1.8.0 as frp uses it. */
#include "cmd/common_cli.h"
#include "cmd/common_flags.h"
#include "config/types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLI_MIN_NAME_PAD 11

void cli_add(struct cli_cmd *parent, struct cli_cmd *sub)
{
    if (parent->nsubs >= CLI_MAX_SUBS) abort(); /* programmer error: raise CLI_MAX_SUBS */
    parent->subs[parent->nsubs++] = sub;
    sub->parent = parent;
}

const char *cli_cmd_path(const struct cli_cmd *cmd)
{
    static char buf[256];
    const struct cli_cmd *chain[16];
    size_t n = 0;
    for (; cmd && n < 16; cmd = cmd->parent) chain[n++] = cmd;
    size_t o = 0;
    buf[0] = '\0';
    while (n-- > 0) {
        int w = snprintf(buf + o, sizeof buf - o, "%s%s", o ? " " : "", chain[n]->name);
        if (w < 0 || (size_t)w >= sizeof buf - o) break;
        o += (size_t)w;
    }
    return buf;
}

static bool is_available(const struct cli_cmd *c)
{
    if (c->hidden_help) return false;
    if (c->run) return true;
    for (size_t i = 0; i < c->nsubs; i++)
        if (is_available(c->subs[i])) return true;
    return false;
}

static bool has_available_subs(const struct cli_cmd *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (is_available(c->subs[i])) return true;
    return false;
}

static int cmp_cmds(const void *a, const void *b)
{
    return strcmp((*(struct cli_cmd *const *)a)->name, (*(struct cli_cmd *const *)b)->name);
}

/* Prints cobra's usage template for cmd. */
static void print_usage(struct cli_cmd *cmd, FILE *out)
{
    char path[256];
    snprintf(path, sizeof path, "%s", cli_cmd_path(cmd));
    struct cli_flagset all, local, inherited;
    cli_flagset_build(&all, cmd, CLI_SET_ALL);
    cli_flagset_build(&local, cmd, CLI_SET_LOCAL);
    cli_flagset_build(&inherited, cmd, CLI_SET_INHERITED);
    bool subs = has_available_subs(cmd);

    fputs("Usage:", out);
    if (cmd->run) {
        fprintf(out, "\n  %s%s%s", path, cmd->use_suffix ? " " : "",
                cmd->use_suffix ? cmd->use_suffix : "");
        bool has_flags_word = cmd->use_suffix && strstr(cmd->use_suffix, "[flags]");
        if (!cmd->no_flags_in_use && all.n > 0 && !has_flags_word) fputs(" [flags]", out);
    }
    if (subs) fprintf(out, "\n  %s [command]", path);
    if (subs) {
        struct cli_cmd *sorted[CLI_MAX_SUBS];
        memcpy(sorted, cmd->subs, cmd->nsubs * sizeof sorted[0]);
        qsort(sorted, cmd->nsubs, sizeof sorted[0], cmp_cmds);
        int pad = CLI_MIN_NAME_PAD;
        for (size_t i = 0; i < cmd->nsubs; i++)
            if ((int)strlen(sorted[i]->name) > pad) pad = (int)strlen(sorted[i]->name);
        fputs("\n\nAvailable Commands:", out);
        for (size_t i = 0; i < cmd->nsubs; i++) {
            struct cli_cmd *s = sorted[i];
            if (is_available(s) || strcmp(s->name, "help") == 0)
                fprintf(out, "\n  %-*s %s", pad, s->name, s->short_desc);
        }
    }
    if (local.n > 0) {
        fputs("\n\nFlags:\n", out);
        cli_flagset_usages(&local, out);
    }
    if (inherited.n > 0) {
        fputs("\n\nGlobal Flags:\n", out);
        cli_flagset_usages(&inherited, out);
    }
    if (subs) fprintf(out, "\n\nUse \"%s [command] --help\" for more information about a command.", path);
    fputc('\n', out);
}

void cli_print_help(struct cli_cmd *cmd)
{
    const char *text = cmd->long_desc ? cmd->long_desc : cmd->short_desc;
    if (text && text[0]) {
        size_t n = strlen(text);
        while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '\t')) n--;
        fprintf(stdout, "%.*s\n\n", (int)n, text);
    }
    if (cmd->run || cmd->nsubs > 0) print_usage(cmd, stdout);
    fflush(stdout);
}

/* Index of the first argument that is neither a flag nor a flag's value, or -1; the
 * way cobra's stripFlags/argsMinusFirstX read the arguments. */
static int first_positional(struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_flagset fs;
    cli_flagset_build(&fs, cmd, CLI_SET_ALL);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--") == 0) return -1;
        if (strncmp(s, "--", 2) == 0 && !strchr(s, '=')) {
            struct cli_flag *f = cli_flagset_lookup(&fs, s + 2, strlen(s + 2));
            if (!f || !cli_flag_no_value(f)) i++;
            continue;
        }
        if (s[0] == '-' && !strchr(s, '=') && strlen(s) == 2) {
            struct cli_flag *f = cli_flagset_short(&fs, s[1]);
            if (!f || !cli_flag_no_value(f)) i++;
            continue;
        }
        if (s[0] != '\0' && s[0] != '-') return i;
    }
    return -1;
}

static struct cli_cmd *find_sub(struct cli_cmd *cmd, const char *name)
{
    for (size_t i = 0; i < cmd->nsubs; i++)
        if (strcmp(cmd->subs[i]->name, name) == 0) return cmd->subs[i];
    return NULL;
}

/* Walks argv down the tree; removes the matched command names from argv (in place). */
static struct cli_cmd *find_cmd(struct cli_cmd *root, int *argc, char **argv)
{
    struct cli_cmd *cmd = root;
    for (;;) {
        int i = first_positional(cmd, *argc, argv);
        if (i < 0) return cmd;
        struct cli_cmd *next = find_sub(cmd, argv[i]);
        if (!next) return cmd;
        memmove(argv + i, argv + i + 1, (size_t)(*argc - i - 1) * sizeof argv[0]);
        (*argc)--;
        cmd = next;
    }
}

/* Levenshtein distance, case-insensitive (cobra's ld with ignoreCase). */
static size_t lev(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = (a[i - 1] | 0x20) == (b[j - 1] | 0x20) ? 0 : 1;
            size_t m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < m) m = d[i - 1][j - 1] + cost;
            d[i][j] = m;
        }
    return d[la][lb];
}

static void print_unknown_command(struct cli_cmd *cmd, const char *arg)
{
    char q[600];
    cfg_go_quote(arg, q, sizeof q);
    fprintf(stderr, "Error: unknown command %s for \"%s\"", q, cli_cmd_path(cmd));
    struct cli_cmd *sorted[CLI_MAX_SUBS];
    memcpy(sorted, cmd->subs, cmd->nsubs * sizeof sorted[0]);
    qsort(sorted, cmd->nsubs, sizeof sorted[0], cmp_cmds);
    bool any = false;
    for (size_t i = 0; i < cmd->nsubs; i++) {
        struct cli_cmd *s = sorted[i];
        if (!is_available(s)) continue;
        size_t al = strlen(arg);
        bool prefix = al <= strlen(s->name) && strncasecmp(s->name, arg, al) == 0;
        if (lev(arg, s->name) <= 2 || prefix) {
            if (!any) fputs("\n\nDid you mean this?\n", stderr);
            any = true;
            fprintf(stderr, "\t%s\n", s->name);
        }
    }
    fprintf(stderr, "\nRun '%s --help' for usage.\n", cli_cmd_path(cmd));
    fflush(stderr);
}

static int usage_error(struct cli_cmd *cmd, const char *msg)
{
    fprintf(stderr, "Error: %s\n", msg);
    print_usage(cmd, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    return 1;
}

/* ---- default commands --------------------------------------------------------------- */

static struct cli_cmd *g_root;

static int help_run(struct cli_cmd *cmd, int argc, char **argv)
{
    int n = argc;
    struct cli_cmd *target = find_cmd(g_root, &n, argv);
    int i = first_positional(target, n, argv);
    bool unknown = i >= 0 && target == g_root && g_root->nsubs > 0;
    if (unknown) {
        fputs("Unknown help topic [", stderr);
        for (int k = 0; k < argc; k++) fprintf(stderr, "%s`%s`", k ? " " : "", argv[k]);
        fputs("]\n", stderr);
        print_usage(g_root, stderr);
        fflush(stderr);
        return 0;
    }
    cli_print_help(target);
    return 0;
}

static bool g_no_desc;
static struct cli_flag g_comp_flags[] = {
    {.name = "no-descriptions", .type = CLI_BOOL, .dst = &g_no_desc, .def = "false",
     .usage = "disable completion descriptions"},
    {.name = NULL},
};

/* Appends the words completing after cmd: its subcommands and its flags. */
static void comp_words(struct cli_cmd *cmd, char *out, size_t cap)
{
    size_t o = strlen(out);
    for (size_t i = 0; i < cmd->nsubs; i++)
        if (is_available(cmd->subs[i]) || strcmp(cmd->subs[i]->name, "help") == 0)
            o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s ", cmd->subs[i]->name);
    struct cli_flagset fs;
    cli_flagset_build(&fs, cmd, CLI_SET_ALL);
    for (size_t i = 0; i < fs.n && o < cap; i++) {
        char name[128];
        size_t k = 0;
        for (const char *p = fs.f[i]->name; *p && k + 1 < sizeof name; p++)
            name[k++] = *p == '_' ? '-' : *p;
        name[k] = '\0';
        o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "--%s ", name);
        if (fs.f[i]->shorthand && o < cap)
            o += (size_t)snprintf(out + o, cap - o, "-%c ", fs.f[i]->shorthand);
    }
    if (o >= cap) out[cap - 1] = '\0';
}

/* Emits one `case` arm per command path of the tree for the bash script. */
static void comp_bash_cases(struct cli_cmd *cmd, const char *key)
{
    char words[8192] = "";
    comp_words(cmd, words, sizeof words);
    fprintf(stdout, "        \"%s\") words=\"%s\" ;;\n", key, words);
    for (size_t i = 0; i < cmd->nsubs; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s", key, key[0] ? " " : "", cmd->subs[i]->name);
        comp_bash_cases(cmd->subs[i], sub);
    }
}

static void comp_bash(const char *prog)
{
    fprintf(stdout,
            "# bash completion for %1$s\n"
            "_%1$s_completions()\n"
            "{\n"
            "    local cur path w words i\n"
            "    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
            "    path=\"\"\n"
            "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
            "        w=\"${COMP_WORDS[i]}\"\n"
            "        case \"$w\" in -*) continue ;; esac\n"
            "        if [[ -n \"$path\" ]]; then path=\"$path $w\"; else path=\"$w\"; fi\n"
            "    done\n"
            "    words=\"\"\n"
            "    case \"$path\" in\n",
            prog);
    comp_bash_cases(g_root, "");
    fprintf(stdout,
            "    esac\n"
            "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
            "}\n"
            "complete -o default -F _%1$s_completions %1$s\n",
            prog);
}

static int comp_run(struct cli_cmd *cmd, int argc, char **argv)
{
    const char *prog = g_root->name;
    if (strcmp(cmd->name, "bash") == 0) {
        comp_bash(prog);
    } else if (strcmp(cmd->name, "zsh") == 0) {
        fprintf(stdout, "#compdef %s\nautoload -U +X bashcompinit && bashcompinit\n", prog);
        comp_bash(prog);
    } else if (strcmp(cmd->name, "fish") == 0) {
        char words[8192] = "";
        comp_words(g_root, words, sizeof words);
        fprintf(stdout, "# fish completion for %s\ncomplete -c %s -f -a '%s'\n", prog, prog,
                words);
    } else {
        char words[8192] = "";
        comp_words(g_root, words, sizeof words);
        fprintf(stdout,
                "# powershell completion for %1$s\n"
                "Register-ArgumentCompleter -CommandName '%1$s' -ScriptBlock {\n"
                "    param($wordToComplete, $commandAst, $cursorPosition)\n"
                "    '%2$s'.Split(' ') | Where-Object { $_ -and $_ -like \"$wordToComplete*\" } |\n"
                "        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_) }\n"
                "}\n",
                prog, words);
    }
    fflush(stdout);
    return 0;
}

static char g_comp_long[256], g_help_long[256];
static char g_long_bash[1024], g_long_zsh[1024], g_long_fish[512], g_long_ps[512];

static struct cli_cmd g_comp = {
    .name = "completion",
    .short_desc = "Generate the autocompletion script for the specified shell",
    .long_desc = g_comp_long,
    .no_args = true,
};
static struct cli_cmd g_comp_sh[4] = {
    {.name = "bash", .short_desc = "Generate the autocompletion script for bash",
     .long_desc = g_long_bash, .flags = g_comp_flags, .run = comp_run, .no_args = true,
     .no_flags_in_use = true},
    {.name = "fish", .short_desc = "Generate the autocompletion script for fish",
     .long_desc = g_long_fish, .flags = g_comp_flags, .run = comp_run, .no_args = true,
     .no_flags_in_use = true},
    {.name = "powershell", .short_desc = "Generate the autocompletion script for powershell",
     .long_desc = g_long_ps, .flags = g_comp_flags, .run = comp_run, .no_args = true,
     .no_flags_in_use = true},
    {.name = "zsh", .short_desc = "Generate the autocompletion script for zsh",
     .long_desc = g_long_zsh, .flags = g_comp_flags, .run = comp_run, .no_args = true,
     .no_flags_in_use = true},
};
static struct cli_cmd g_help = {
    .name = "help",
    .use_suffix = "[command]",
    .short_desc = "Help about any command",
    .long_desc = g_help_long,
    .run = help_run,
    .hidden_help = true,
};

static void add_default_commands(struct cli_cmd *root)
{
    const char *p = root->name;
    snprintf(g_comp_long, sizeof g_comp_long,
             "Generate the autocompletion script for %s for the specified shell.\n"
             "See each sub-command's help for details on how to use the generated script.\n",
             p);
    snprintf(g_help_long, sizeof g_help_long,
             "Help provides help for any command in the application.\n"
             "Simply type %s help [path to command] for full details.",
             p);
    snprintf(g_long_bash, sizeof g_long_bash,
             "Generate the autocompletion script for the bash shell.\n\n"
             "This script depends on the 'bash-completion' package.\n"
             "If it is not installed already, you can install it via your OS's package "
             "manager.\n\n"
             "To load completions in your current shell session:\n\n"
             "\tsource <(%1$s completion bash)\n\n"
             "To load completions for every new session, execute once:\n\n"
             "#### Linux:\n\n"
             "\t%1$s completion bash > /etc/bash_completion.d/%1$s\n\n"
             "#### macOS:\n\n"
             "\t%1$s completion bash > $(brew --prefix)/etc/bash_completion.d/%1$s\n\n"
             "You will need to start a new shell for this setup to take effect.\n",
             p);
    snprintf(g_long_zsh, sizeof g_long_zsh,
             "Generate the autocompletion script for the zsh shell.\n\n"
             "If shell completion is not already enabled in your environment you will need\n"
             "to enable it.  You can execute the following once:\n\n"
             "\techo \"autoload -U compinit; compinit\" >> ~/.zshrc\n\n"
             "To load completions in your current shell session:\n\n"
             "\tsource <(%1$s completion zsh)\n\n"
             "To load completions for every new session, execute once:\n\n"
             "#### Linux:\n\n"
             "\t%1$s completion zsh > \"${fpath[1]}/_%1$s\"\n\n"
             "#### macOS:\n\n"
             "\t%1$s completion zsh > $(brew --prefix)/share/zsh/site-functions/_%1$s\n\n"
             "You will need to start a new shell for this setup to take effect.\n",
             p);
    snprintf(g_long_fish, sizeof g_long_fish,
             "Generate the autocompletion script for the fish shell.\n\n"
             "To load completions in your current shell session:\n\n"
             "\t%1$s completion fish | source\n\n"
             "To load completions for every new session, execute once:\n\n"
             "\t%1$s completion fish > ~/.config/fish/completions/%1$s.fish\n\n"
             "You will need to start a new shell for this setup to take effect.\n",
             p);
    snprintf(g_long_ps, sizeof g_long_ps,
             "Generate the autocompletion script for powershell.\n\n"
             "To load completions in your current shell session:\n\n"
             "\t%1$s completion powershell | Out-String | Invoke-Expression\n\n"
             "To load completions for every new session, add the output of the above command\n"
             "to your powershell profile.\n",
             p);
    if (!find_sub(root, "completion")) {
        for (int i = 0; i < 4; i++) cli_add(&g_comp, &g_comp_sh[i]);
        cli_add(root, &g_comp);
    }
    if (!find_sub(root, "help")) cli_add(root, &g_help);
}

/* ---- execution ---------------------------------------------------------------------- */

int cli_execute(struct cli_cmd *root, int argc, char **argv)
{
    g_root = root;
    if (root->nsubs > 0) add_default_commands(root);
    cli_flags_defaults(root);

    int n = argc > 1 ? argc - 1 : 0;
    char **args = calloc((size_t)n + 1, sizeof *args);
    char **pos = calloc((size_t)n + 1, sizeof *pos);
    if (!args || !pos) {
        free(args);
        free(pos);
        fputs("out of memory\n", stderr);
        return 1;
    }
    if (n) memcpy(args, argv + 1, (size_t)n * sizeof *args);
    int rc;
    struct cli_cmd *cmd = find_cmd(root, &n, args);
    int stray = first_positional(cmd, n, args);
    if (stray >= 0 && cmd == root && root->nsubs > 0) {
        print_unknown_command(root, args[stray]);
        rc = 1;
        goto out;
    }
    struct cli_flagset fs;
    cli_flagset_build(&fs, cmd, CLI_SET_ALL);
    char err[4096];
    int npos = 0;
    if (cli_flagset_parse(&fs, n, args, pos, &npos, err, sizeof err) != 0) {
        rc = usage_error(cmd, err);
        goto out;
    }
    if (fs.help_value || !cmd->run) {
        cli_print_help(cmd);
        rc = 0;
        goto out;
    }
    if (cmd->no_args && npos > 0) {
        char q[600], msg[1024];
        cfg_go_quote(pos[0], q, sizeof q);
        snprintf(msg, sizeof msg, "unknown command %s for \"%s\"", q, cli_cmd_path(cmd));
        rc = usage_error(cmd, msg);
        goto out;
    }
    fflush(stdout);
    rc = cmd->run(cmd, npos, pos);
out:
    fflush(stdout);
    free(args);
    free(pos);
    return rc;
}
