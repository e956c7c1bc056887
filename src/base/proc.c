/* Process-level helpers (see proc.h). */
#include "base/proc.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

_Noreturn void proc_die_by_signal(int signum)
{
    fflush(NULL);
    signal(signum, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signum);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(signum);
    _exit(128 + signum); /* only if the signal was ignored by our parent's mask rules */
}
