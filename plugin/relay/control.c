/*
 * control.c - see control.h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "control.h"
#include "ctlsock.h"
#include "front.h"
#include "log.h"
#include "oauth2.h"
#include "outbound.h"
#include "relay_conf.h"
#include "sts.h"
#include "tlsrpt.h"
#include "tlsrpt_send.h"

struct relay_control {
	struct front *front;
	struct outbound_env *oenv;
	struct relay_control_ops ops;
	struct ctlsock *cs;
	time_t started;
	struct tlsrpt *tlsrpt;		/* NULL: TLS-RPT off */
	struct tlsrpt_send *tlsrpt_send;
};

/* RFC 3339 UTC, "-" for 0 */
static const char *
utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

static void
rc_status(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;
	struct front_stats fs;
	struct outbound_stats os;

	(void)cmdarg;
	front_stats_get(rc->front, &fs);
	outbound_env_stats(rc->oenv, &os);
	ctlsock_printf(out, "version: %s\nuptime: %lld seconds\n"
	    "sessions: %u\ntransactions in flight: %u\n"
	    "sessions kept for reuse: %u\ndraining: %s\nverbosity: %d\n",
	    PACKAGE_VERSION, (long long)(time(NULL) - rc->started), fs.active,
	    os.in_flight, os.kept, rc->ops.draining(rc->ops.arg) ? "yes" :
	    "no", log_get_verbosity());
}

/* "sts": one line per cached domain, newest first. */
static int
rc_sts_entry(void *arg, const struct sts_cache_entry *e)
{
	struct ctlsock_out *out = arg;
	char t1[32], t2[32], t3[32];
	time_t now = time(NULL);

	if (e->have_policy)
		ctlsock_printf(out, "%s mode=%s id=%s fetched=%s expires=%s "
		    "(in %lld s)", e->domain, mta_sts_mode_name(
		    e->policy.mode), e->id, utc(e->fetched, t1, sizeof(t1)),
		    utc(e->expires, t2, sizeof(t2)),
		    (long long)(e->expires - now));
	else
		ctlsock_printf(out, "%s mode=- id=-", e->domain);
	if (e->last_failure != 0)
		ctlsock_printf(out, " last-error=%s (%s): %s",
		    danegate_reason_name(e->failure), utc(e->last_failure, t3,
		    sizeof(t3)), e->error);
	ctlsock_printf(out, "%s\n", e->refreshing ? " refreshing" : "");
	return 0;
}

static void
rc_sts(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;
	struct sts *sts = outbound_env_sts(rc->oenv);
	struct sts_cache *c;

	(void)cmdarg;
	if (sts == NULL || (c = sts_cache_of(sts)) == NULL) {
		ctlsock_printf(out, "MTA-STS: off\n");
		return;
	}
	ctlsock_printf(out, "MTA-STS cache: %zu domains, %zu policy bytes\n",
	    sts_cache_count(c), sts_cache_bytes(c));
	sts_cache_foreach(c, rc_sts_entry, out);
}

static const char *
grant_name(int grant)
{
	switch (grant) {
	case OAUTH2_GRANT_PASSWORD:
		return "password";
	case OAUTH2_GRANT_SECRET:
		return "secret";
	case OAUTH2_GRANT_CERT:
		return "certificate";
	default:
		return "-";
	}
}

struct rc_tokens {
	struct ctlsock_out *out;
	const struct relay_route *route;
	unsigned n;
};

/* A mailbox belongs to the route whose domain: lists its domain (the
 * front binds a sender to a route that way). */
static int
rc_token_entry(void *arg, const struct oauth2_token_state *st)
{
	struct rc_tokens *t = arg;
	const char *at = strrchr(st->mailbox, '@');
	char line[512];
	size_t i;

	for (i = 0; at != NULL && i < t->route->n_domains; i++)
		if (strcasecmp(t->route->domains[i], at + 1) == 0)
			break;
	if (at == NULL || i == t->route->n_domains)
		return 0;
	if (oauth2_token_state_format(st, line, sizeof(line)) == 0)
		ctlsock_printf(t->out, "  %s\n", line);
	t->n++;
	return 0;
}

/* "tokens": per route, the state of each cached token, never a token
 * (oauth2_cache_foreach() hands out states only). */
static void
rc_tokens(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;
	const struct relay_conf *conf = rc->ops.conf != NULL ?
	    rc->ops.conf(rc->ops.arg) : NULL;
	size_t i;

	(void)cmdarg;
	if (conf == NULL || conf->n_routes == 0) {
		ctlsock_printf(out, "no route: clause\n");
		return;
	}
	for (i = 0; i < conf->n_routes; i++) {
		const struct relay_route *r = &conf->routes[i];
		struct oauth2_cache *c = rc->ops.token_cache != NULL ?
		    rc->ops.token_cache(rc->ops.arg) : NULL;
		struct rc_tokens t = { out, r, 0 };

		ctlsock_printf(out, "route %s grant=%s endpoint=%s\n", r->name,
		    grant_name(r->grant), r->token_endpoint != NULL ?
		    r->token_endpoint : "-");
		if (c != NULL)
			oauth2_cache_foreach(c, time(NULL), rc_token_entry, &t);
		if (t.n == 0)
			ctlsock_printf(out, "  no token\n");
	}
}

/* "tlsrpt": the current period's domains and counts, the reports owed
 * (closed periods not delivered yet) and those sent since start. */
static void
rc_tlsrpt(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct relay_control *rc = arg;
	char **d = NULL, t1[32];
	size_t n = 0, i;
	uint64_t ok, fail;
	unsigned long sent = 0, failed = 0;

	(void)cmdarg;
	if (rc->tlsrpt == NULL) {
		ctlsock_printf(out, "TLS-RPT: off (no tlsrpt-state-file:)\n");
		return;
	}
	ctlsock_printf(out, "period-start: %s\n", utc(tlsrpt_period_start(
	    rc->tlsrpt), t1, sizeof(t1)));
	if (tlsrpt_domains(rc->tlsrpt, &d, &n) == 0)
		for (i = 0; i < n; i++)
			if (tlsrpt_counts(rc->tlsrpt, d[i], false, &ok,
			    &fail) == 0)
				ctlsock_printf(out, "domain %s success=%" PRIu64
				    " failure=%" PRIu64 "\n", d[i], ok, fail);
	tlsrpt_domains_free(d, n);
	if (tlsrpt_owed(rc->tlsrpt, &d, &n) == 0)
		for (i = 0; i < n; i++)
			if (tlsrpt_counts(rc->tlsrpt, d[i], true, &ok,
			    &fail) == 0)
				ctlsock_printf(out, "owed %s success=%" PRIu64
				    " failure=%" PRIu64 "\n", d[i], ok, fail);
	tlsrpt_domains_free(d, n);
	if (rc->tlsrpt_send != NULL)
		tlsrpt_send_stats(rc->tlsrpt_send, &sent, &failed);
	ctlsock_printf(out, "reports.owed=%zu\nreports.sent=%lu\n"
	    "reports.failed=%lu\n", n, sent, failed);
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
	{ "sts", NULL, rc_sts },
	{ "tokens", NULL, rc_tokens },
	{ "tlsrpt", NULL, rc_tlsrpt },
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
relay_control_set_tlsrpt(struct relay_control *rc, struct tlsrpt *t,
    struct tlsrpt_send *ts)
{
	if (rc == NULL)
		return;
	rc->tlsrpt = t;
	rc->tlsrpt_send = ts;
}

void
relay_control_free(struct relay_control *rc)
{
	if (rc == NULL)
		return;
	ctlsock_free(rc->cs);
	free(rc);
}
