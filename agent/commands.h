/*
 * podprof's commands. Each takes argv with argv[0] the command name and the process
 * environment, and returns the process exit status: 0 success, 1 failure at run time,
 * 2 bad input (usage, flags, environment).
 */
#ifndef PODPROF_COMMANDS_H
#define PODPROF_COMMANDS_H

#include <signal.h>

/* Set by SIGTERM/SIGINT; long-running loops stop when it is non-zero. */
extern volatile sig_atomic_t podprof_stop_requested;

/* Installs the SIGTERM/SIGINT handlers that set podprof_stop_requested, and ignores
 * SIGPIPE. */
void commands_install_signals(void);

int cmd_upload(int argc, char **argv, char **envp);
int cmd_node(int argc, char **argv, char **envp);
int cmd_cluster(int argc, char **argv, char **envp);
int cmd_heap(int argc, char **argv, char **envp);
int cmd_ps(int argc, char **argv, char **envp);
int cmd_targets(int argc, char **argv, char **envp);

#endif
