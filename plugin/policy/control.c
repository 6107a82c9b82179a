/*
 * control.c - see control.h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "control.h"
#include "ctlsock.h"
#include "explain.h"
#include "log.h"
#include "server.h"

struct policy_control {
	struct policy_server *srv;
	struct policy_control_ops ops;
	struct ctlsock *cs;
	time_t started;
};

static void
pc_status(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct policy_control *pc = arg;
	const struct policy_stats *st = policy_server_stats(pc->srv);

	(void)cmdarg;
	ctlsock_printf(out, "version: %s\nuptime: %lld seconds\n"
	    "clients: %" PRIu64 "\nverbosity: %d\n", PACKAGE_VERSION,
	    (long long)(time(NULL) - pc->started), st->clients,
	    log_get_verbosity());
}

static void
pc_stats(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct policy_control *pc = arg;
	const struct policy_stats *st = policy_server_stats(pc->srv);
	static const char *const reply[4] = { "OK", "NOTFOUND", "TEMP",
	    "PERM" };
	uint64_t cum = 0;

	(void)cmdarg;
	for (size_t i = 0; i < 4; i++)
		ctlsock_printf(out, "replies.%s=%" PRIu64 "\n", reply[i],
		    st->replies[i]);
	for (size_t i = 0; i < POLICY_LEVELS; i++)
		if (st->ok_level[i] != 0)
			ctlsock_printf(out, "replies.OK.%s=%" PRIu64 "\n",
			    policy_level_names[i], st->ok_level[i]);
	ctlsock_printf(out, "cache.hits=%" PRIu64 "\ncache.misses=%" PRIu64
	    "\ncoalesced=%" PRIu64 "\nsts.fetches=%" PRIu64 "\n"
	    "sts.fetched=%" PRIu64 "\nsts.failed=%" PRIu64 "\n"
	    "refused=%" PRIu64 "\n", st->cache_hits, st->cache_misses,
	    st->coalesced, st->sts_fetches, st->sts_fetched,
	    st->sts_fetch_failed, st->refused);
	/* cumulative, as danegated's stats */
	for (size_t i = 0; i < POLICY_LATENCY_BUCKETS; i++) {
		cum += st->latency[i];
		if (i + 1 < POLICY_LATENCY_BUCKETS)
			ctlsock_printf(out, "latency.le_%" PRIu64 "us=%" PRIu64
			    "\n", policy_latency_bounds_us[i], cum);
		else
			ctlsock_printf(out, "latency.le_inf=%" PRIu64 "\n",
			    cum);
	}
	ctlsock_printf(out, "latency.sum_us=%" PRIu64 "\nlatency.count=%"
	    PRIu64 "\nclients=%" PRIu64 "\nclients.max=%" PRIu64 "\n",
	    st->latency_us_sum, cum, st->clients, st->clients_max);
}

static void
pc_reload(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct policy_control *pc = arg;

	(void)cmdarg;
	if (pc->ops.reload(pc->ops.arg) == 0)
		ctlsock_printf(out, "ok\n");
	else
		ctlsock_printf(out, "error: reload failed, the old "
		    "configuration stays in force (see the log)\n");
}

/* "explain DOMAIN" or "explain --json DOMAIN": the --explain output. */
static void
pc_explain(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct policy_control *pc = arg;
	bool json = false;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (strncmp(cmdarg, "--json ", 7) == 0) {
		json = true;
		cmdarg += 7;
	}
	if (cmdarg[0] == '\0' || cmdarg[0] == '-' ||
	    strchr(cmdarg, ' ') != NULL) {
		ctlsock_printf(out, "error: usage: explain [--json] DOMAIN\n");
		return;
	}
	if ((f = open_memstream(&text, &len)) == NULL) {
		ctlsock_printf(out, "error: out of memory\n");
		return;
	}
	rc = explain_run(policy_server_conf(pc->srv), cmdarg, json, f);
	fclose(f);
	if (rc != 0)
		ctlsock_printf(out, "error: explain %.64s: the resolver cannot "
		    "be set up (see the log)\n", cmdarg);
	else if (text != NULL)
		ctlsock_printf(out, "%s", text);
	free(text);
}

static const struct ctlsock_cmd pc_cmds[] = {
	{ "status", NULL, pc_status },
	{ "stats", NULL, pc_stats },
	{ "reload", NULL, pc_reload },
	{ "explain", "[--json] DOMAIN", pc_explain },
	{ NULL, NULL, NULL },
};

struct policy_control *
policy_control_new(struct event_base *base, struct policy_server *srv,
    const char *path, const struct policy_control_ops *ops, uid_t uid,
    gid_t gid)
{
	struct policy_control *pc = calloc(1, sizeof(*pc));

	if (pc == NULL) {
		log_warn("control-interface");
		return NULL;
	}
	pc->srv = srv;
	pc->ops = *ops;
	pc->started = time(NULL);
	if ((pc->cs = ctlsock_new(base, "control-interface", path, 0660, uid,
	    gid, pc_cmds, pc)) == NULL) {
		free(pc);
		return NULL;
	}
	log_notice("control socket on %s", path);
	return pc;
}

void
policy_control_free(struct policy_control *pc)
{
	if (pc == NULL)
		return;
	ctlsock_free(pc->cs);
	free(pc);
}
