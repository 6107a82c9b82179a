/*
 * control.h - danegate-relay's control socket (control-interface:),
 * served with lib/ctlsock.h for danegate-control --relay: status, stats,
 * reload.
 *
 * SECURITY: the socket is made mode 0660 before the privilege drop, so
 * only root and the relay's group connect; replies carry counters and
 * states, never a secret.
 */
#ifndef DANEGATE_RELAY_CONTROL_H
#define DANEGATE_RELAY_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

struct event_base;
struct front;
struct outbound_env;
struct relay_control;

/* main.c's part: reload (0, or -1: old config kept), and whether the
 * relay drains. */
struct relay_control_ops {
	int (*reload)(void *arg);
	bool (*draining)(void *arg);
	void *arg;
};

/*
 * Serves path on base over front and oenv (borrowed). uid/gid own the
 * socket (0: as created). Returns NULL after logging.
 */
struct relay_control *relay_control_new(struct event_base *base,
    struct front *front, struct outbound_env *oenv, const char *path,
    const struct relay_control_ops *ops, uid_t uid, gid_t gid);

/* Accepts NULL. */
void relay_control_free(struct relay_control *rc);

#endif
