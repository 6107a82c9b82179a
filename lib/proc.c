/*
 * proc.c - daemon start-up steps shared by danegated, danegate-relay and
 * danegate-policy: see proc.h.
 *
 * SECURITY: start-up only, before the privilege drop.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "proc.h"

void
proc_notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

int
proc_detach(char *err, size_t errlen)
{
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() < 0) {
		snprintf(err, errlen, "setsid: %s", strerror(errno));
		return -1;
	}
	if (freopen("/dev/null", "r", stdin) == NULL ||
	    freopen("/dev/null", "w", stdout) == NULL) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		return -1;
	}
	log_use_syslog();
	return 0;
}

int
proc_write_pidfile(const char *path)
{
	FILE *f;
	int bad;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((f = fopen(path, "we")) == NULL)
		return -1;
	bad = fprintf(f, "%ld\n", (long)getpid()) < 0;
	/* a full disk shows at fclose() */
	if (fclose(f) != 0 || bad)
		return -1;
	return 0;
}
