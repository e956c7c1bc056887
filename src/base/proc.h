/* Process-level helpers shared by frps and frpc. */
#ifndef CFRP_BASE_PROC_H
#define CFRP_BASE_PROC_H

/* Ends the process as if signum had arrived with its default action: frp installs no
 * handler for SIGINT/SIGTERM, so "killed by the signal" is the exit status users and
 * scripts see. Output buffers are flushed first. Never returns. */
_Noreturn void proc_die_by_signal(int signum);

#endif
