/*
 * control.h - danegate-relay's control socket (control-interface:),
 * served with lib/ctlsock.h for danegate-control --relay: status, stats,
 * reload, sts (the MTA-STS cache), tokens (OAuth2 token states per
 * route, never a token), tlsrpt (the TLS-RPT period's counts and the
 * reports owed and sent).
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
struct oauth2_cache;
struct outbound_env;
struct relay_conf;
struct relay_control;
struct tlsrpt;
struct tlsrpt_send;

/*
 * main.c's part: reload (0, or -1: old config kept), whether the relay
 * drains, the configuration in force (its route: clauses), and the
 * routes' token cache (one for all routes, keyed by mailbox; NULL: none).
 */
struct relay_control_ops {
	int (*reload)(void *arg);
	bool (*draining)(void *arg);
	const struct relay_conf *(*conf)(void *arg);
	struct oauth2_cache *(*token_cache)(void *arg);
	void *arg;
};

/*
 * Serves path on base over front and oenv (borrowed). uid/gid own the
 * socket (0: as created). Returns NULL after logging.
 */
struct relay_control *relay_control_new(struct event_base *base,
    struct front *front, struct outbound_env *oenv, const char *path,
    const struct relay_control_ops *ops, uid_t uid, gid_t gid);

/* TLS reporting's store and sender (borrowed; NULL: off), for
 * "tlsrpt"; they start after the socket opens. Accepts rc NULL. */
void relay_control_set_tlsrpt(struct relay_control *rc, struct tlsrpt *t,
    struct tlsrpt_send *ts);

/* Accepts NULL. */
void relay_control_free(struct relay_control *rc);

#endif
