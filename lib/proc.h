/*
 * proc.h - the process start-up steps every danegate daemon takes the same
 * way: telling systemd its state, leaving the terminal, the pid file.
 *
 * SECURITY: runs at start-up with the privileges the daemon was started
 * with (the pid file is written before the privilege drop, as Unbound
 * does, so that its directory can stay root's).
 */
#ifndef DG_PROC_H
#define DG_PROC_H

#include <stddef.h>

/* sd_notify(3) of state ("READY=1", "STOPPING=1", ...); nothing when
 * built without systemd or not started by it. */
void proc_notify(const char *state);

/*
 * Classic daemonizing for life outside systemd without -d: fork (the
 * parent exits 0), setsid, stdin and stdout to /dev/null (stderr stays
 * for messages before the logger moves), then logging to syslog.
 * Returns 0 in the child, or -1 with the failed step in err; the caller
 * stops.
 */
int proc_detach(char *err, size_t errlen);

/* Writes the pid and a newline to path; NULL or "" writes nothing.
 * Returns 0, or -1 with errno set (the caller warns and goes on). */
int proc_write_pidfile(const char *path);

#endif
