/*
 * Process signals: SIGTERM and SIGINT ask every loop to stop (Kubernetes sends SIGTERM
 * and waits terminationGracePeriodSeconds, so the uploader gets to spool what is
 * queued); SIGPIPE is ignored because a peer closing a socket is an error to handle,
 * not a reason to die.
 */
#include <string.h>

#include "commands.h"

volatile sig_atomic_t podprof_stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	podprof_stop_requested = 1;
}

void commands_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

