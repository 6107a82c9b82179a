/*
 * control.c - see control.h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "control.h"
#include "ctlsock.h"
#include "front.h"
#include "log.h"
#include "outbound.h"

struct relay_control {
	struct front *front;
	struct outbound_env *oenv;
	struct relay_control_ops ops;
	struct ctlsock *cs;
	time_t started;
};

static void
rc_status(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;
	struct front_stats fs;

	(void)cmdarg;
	front_stats_get(rc->front, &fs);
	ctlsock_printf(out, "version: %s\nuptime: %lld seconds\n"
	    "sessions: %u\ndraining: %s\nverbosity: %d\n", PACKAGE_VERSION,
	    (long long)(time(NULL) - rc->started), fs.active,
	    rc->ops.draining(rc->ops.arg) ? "yes" : "no",
	    log_get_verbosity());
}

static void
rc_stats(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;
	struct front_stats fs;
	struct outbound_stats os;

	(void)cmdarg;
	front_stats_get(rc->front, &fs);
	outbound_env_stats(rc->oenv, &os);
	ctlsock_printf(out, "sessions=%" PRIu64 "\nsessions.refused=%" PRIu64
	    "\nsessions.active=%u\nmessages=%" PRIu64 "\n"
	    "recipients.delivered=%" PRIu64 "\nrecipients.deferred=%" PRIu64
	    "\nrecipients.bounced=%" PRIu64 "\npossible_duplicates=%" PRIu64
	    "\n", fs.sessions, fs.refused, fs.active, fs.messages,
	    fs.delivered, fs.deferred, fs.bounced, fs.possible_duplicates);
	ctlsock_printf(out, "outbound.transactions=%lu\noutbound.sessions=%lu"
	    "\noutbound.reused=%lu\noutbound.resumed=%lu\n"
	    "deliveries.sent=%lu\ndeliveries.deferred=%lu\n"
	    "deliveries.bounced=%lu\nexemptions.used=%lu\n"
	    "exemptions.refused=%lu\n", os.transactions, os.sessions,
	    os.reused, os.resumed, os.sent, os.deferred, os.bounced,
	    os.exemptions_used, os.exemptions_refused);
	for (int i = 0; i < DANEGATE_R_COUNT; i++)
		if (os.failures[i] != 0)
			ctlsock_printf(out, "failures.%s=%lu\n",
			    danegate_reason_name((enum danegate_reason)i),
			    os.failures[i]);
}

static void
rc_reload(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;

	(void)cmdarg;
	if (rc->ops.reload(rc->ops.arg) == 0)
		ctlsock_printf(out, "ok\n");
	else
		ctlsock_printf(out, "error: reload failed, the old "
		    "configuration stays in force (see the log)\n");
}

static const struct ctlsock_cmd rc_cmds[] = {
	{ "status", NULL, rc_status },
	{ "stats", NULL, rc_stats },
	{ "reload", NULL, rc_reload },
	{ NULL, NULL, NULL },
};

struct relay_control *
relay_control_new(struct event_base *base, struct front *front,
    struct outbound_env *oenv, const char *path,
    const struct relay_control_ops *ops, uid_t uid, gid_t gid)
{
	struct relay_control *rc = calloc(1, sizeof(*rc));

	if (rc == NULL) {
		log_warn("control-interface");
		return NULL;
	}
	rc->front = front;
	rc->oenv = oenv;
	rc->ops = *ops;
	rc->started = time(NULL);
	if ((rc->cs = ctlsock_new(base, "control-interface", path, 0660, uid,
	    gid, rc_cmds, rc)) == NULL) {
		free(rc);
		return NULL;
	}
	log_notice("control socket on %s", path);
	return rc;
}

void
relay_control_free(struct relay_control *rc)
{
	if (rc == NULL)
		return;
	ctlsock_free(rc->cs);
	free(rc);
}
