/*
 * control.h - danegate-policy's control socket (control-interface:),
 * served with lib/ctlsock.h for danegate-control: status, stats, reload,
 * explain [--json] DOMAIN.
 *
 * SECURITY: the socket is made mode 0660 before the privilege drop and
 * owned by the service's user, so only root and its group connect.
 * explain runs the same blocking lookup as `danegate-policy --explain`
 * (plugin/policy/explain.h) on the loop: socketmap clients wait while it
 * runs (operators' use, a few seconds at most); it sees the service's
 * configuration in force.
 */
#ifndef DANEGATE_POLICY_CONTROL_H
#define DANEGATE_POLICY_CONTROL_H

#include <sys/types.h>

struct event_base;
struct policy_server;
struct policy_control;

/* What changes the service: main.c's reload (0, or -1: old config kept). */
struct policy_control_ops {
	int (*reload)(void *arg);
	void *arg;
};

/*
 * Serves path on base for srv (borrowed). uid/gid own the socket (0: as
 * created). Returns NULL after logging.
 */
struct policy_control *policy_control_new(struct event_base *base,
    struct policy_server *srv, const char *path,
    const struct policy_control_ops *ops, uid_t uid, gid_t gid);

/* Accepts NULL. */
void policy_control_free(struct policy_control *pc);

#endif
