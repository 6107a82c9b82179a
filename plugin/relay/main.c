/*
 * danegate-relay - the outbound connector that cannot be downgraded.
 *
 * main.c is the only file of the program: it reads the command line and
 * the configuration, opens the listeners, drops privileges, and runs the
 * event loop. The front (front.c: SMTP/LMTP sessions) and the outbound
 * side (outbound.c: delivery under DANE, MTA-STS and the policy table)
 * live in librelay, so that tests and fuzzers link the real code.
 *
 * SECURITY: starts as root (or as its user with CAP_NET_BIND_SERVICE) only
 * to bind its listeners and read its key; then chroot (optional),
 * setgroups/setresgid/setresuid to `username`, PR_SET_NO_NEW_PRIVS and a
 * seccomp allow-list (lib/sandbox.h). Talks to SMTP/LMTP clients (front),
 * remote MX hosts and the resolver (outbound), and systemd (sd_notify).
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <crypt.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "acl.h"
#include "addr.h"
#include "clients.h"
#include "control.h"
#include "curl_thread.h"
#include "front.h"
#include "http_metrics.h"
#include "log.h"
#include "proc.h"
#include "outbound.h"
#include "policy_table.h"
#include "relay_conf.h"
#include "sandbox.h"
#include "dmarc.h"
#include "sasl.h"
#include "tlsrpt.h"
#include "tlsrpt_send.h"

/* a password line: SASL's longest field, its newline and NUL */
#define PASSWD_CAP (SASL_FIELD_MAX + 2)

struct relay {
	struct event_base *base;
	struct front *front;
	struct outbound_env *oenv;
	struct relay_conf *conf;
	struct policy_table *policies;	/* tls-policy-file:, or NULL */
	struct exemptions *exemptions;	/* dane-exemptions-file:, or NULL */
	const char *conf_path;
	struct relay_conf_overrides ov;
	struct event *ev_hup, *ev_term, *ev_int, *ev_usr1;
	struct tlsrpt *tlsrpt;		/* tlsrpt-state-file:, or NULL */
	struct tlsrpt_send *tlsrpt_send;
	struct curl_thread *tlsrpt_smtp;	/* its mailto: submissions */
	struct event *tlsrpt_save;	/* writes the counts every minute */
	struct http_metrics *metrics;	/* prometheus-interface:, or NULL */
	struct relay_control *ctl;	/* control-interface:, or NULL */
	bool stopping;
};

static void usage(FILE *f);

/*
 * Reads one password line from fd 0 into buf: from a terminal without
 * echo, asked twice; otherwise the first line of stdin (scripts). Never
 * from the command line, where ps(1) would show it. 0 or -1 (said why).
 */
static int
read_password(char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(0) && tcgetattr(0, &old) == 0;
	char again[PASSWD_CAP] = "";
	int rc = -1;

	if (cap > sizeof(again))
		cap = sizeof(again);
	for (int round = 0; round < (tty ? 2 : 1); round++) {
		char *dst = round == 0 ? buf : again;
		size_t n;

		if (tty) {
			fprintf(stderr, round == 0 ? "Password: " :
			    "Again: ");
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			(void)tcsetattr(0, TCSAFLUSH, &quiet);
		}
		if (fgets(dst, (int)cap, stdin) == NULL)
			dst[0] = '\0';
		if (tty) {
			(void)tcsetattr(0, TCSAFLUSH, &old);
			fputc('\n', stderr);
		}
		n = strcspn(dst, "\r\n");
		if (dst[n] == '\0' && n == cap - 1) {
			fprintf(stderr, "danegate-relay passwd: password "
			    "longer than %zu bytes\n", cap - 2);
			goto out;
		}
		dst[n] = '\0';
	}
	if (buf[0] == '\0')
		fprintf(stderr, "danegate-relay passwd: empty password\n");
	else if (tty && strcmp(buf, again) != 0)
		fprintf(stderr, "danegate-relay passwd: the passwords "
		    "differ\n");
	else
		rc = 0;
out:
	explicit_bzero(again, sizeof(again));
	return rc;
}

/* danegate-relay passwd [-f FILE] [-m MAILBOX[,...]] CLIENT */
static int
relay_passwd(int argc, char **argv)
{
	const char *file = NULL, *boxes = NULL;
	char pass[PASSWD_CAP], hash[CRYPT_OUTPUT_SIZE], err[512];
	int ch, rc;

	while ((ch = getopt(argc, argv, "f:m:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'm':
			boxes = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (read_password(pass, sizeof(pass)) != 0)
		return 1;
	rc = clients_hash(pass, hash, sizeof(hash));
	explicit_bzero(pass, sizeof(pass));
	if (rc != 0) {
		fprintf(stderr, "danegate-relay passwd: crypt(3) failed\n");
		return 1;
	}
	if (file == NULL) {
		/* no file: the line, for the admin to place */
		printf("%s:%s:%s\n", argv[optind], hash,
		    boxes != NULL ? boxes : "MAILBOX");
		return 0;
	}
	if (clients_file_set(file, argv[optind], hash, boxes, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "danegate-relay passwd: %s\n", err);
		return 1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: danegate-relay [-dhtvV] [-c file] [--listen ADDR@PORT]\n"
	    "         [--lmtp ADDR@PORT|PATH] [--resolver ADDR[@PORT]]\n"
	    "         [--trust-anchor FILE] [--ca-file FILE]\n"
	    "       danegate-relay passwd [-f FILE] [-m MAILBOX[,...]] "
	    "CLIENT\n"
	    "\n"
	    "An SMTP/LMTP relay that delivers under DANE (RFC 7672) and\n"
	    "MTA-STS and never downgrades: queue-less, it answers the end of\n"
	    "the data with the remote's own reply.\n"
	    "\n"
	    "  -c file               configuration (default %s;\n"
	    "                        \"\" for none)\n"
	    "  -d                    stay in the foreground\n"
	    "  -t                    check the configuration and exit: 0 if\n"
	    "                        usable, 1 with each error as FILE:LINE\n"
	    "  -v                    more verbose (repeatable)\n"
	    "  --listen ADDR@PORT    SMTP listener (replaces listen:)\n"
	    "  --lmtp ADDR@PORT|PATH LMTP listener (replaces lmtp:)\n"
	    "  --resolver ADDR[@P]   forward DNS there, still validating\n"
	    "  --trust-anchor FILE   DS/DNSKEY records (default\n"
	    "                        /usr/share/dns/root.key)\n"
	    "  --ca-file FILE        PKIX roots for MTA-STS and the policy\n"
	    "                        table's verify/secure\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration (a bad file keeps the\n"
	    "old one); SIGTERM drains: no new sessions, transactions in flight\n"
	    "finish until drain-timeout, then 421; SIGUSR1 sends the TLS\n"
	    "reports now. See danegate-relay(8).\n",
	    RELAY_CONF_DEFAULT_PATH);
}

/*
 * Reads conf's tls-policy-file: and dane-exemptions-file: (either may be
 * unset: NULL). Returns 0 and sets both, or -1 after logging each error as
 * "FILE:LINE: why" (nothing set).
 */
static int
relay_load_policies(const struct relay_conf *conf, struct policy_table **pt,
    struct exemptions **ex)
{
	char err[POLICY_ERR_MAX];
	int rc = 0;

	*pt = NULL;
	*ex = NULL;
	if (conf->policy_file != NULL && policy_table_load(conf->policy_file,
	    pt, err, sizeof(err)) != 0) {
		log_err("tls-policy-file: %s", err);
		rc = -1;
	}
	if (conf->exemptions_file != NULL && exemptions_load(
	    conf->exemptions_file, ex, err, sizeof(err)) != 0) {
		log_err("dane-exemptions-file: %s", err);
		rc = -1;
	}
	if (rc != 0) {
		policy_table_free(*pt);
		exemptions_free(*ex);
		*pt = NULL;
		*ex = NULL;
	}
	return rc;
}

/* Returns 0, or -1 when the old configuration stays in force. */
static int
relay_reload(struct relay *r)
{
	struct relay_conf *conf;
	struct policy_table *pt;
	struct exemptions *ex;

	proc_notify("RELOADING=1");
	log_notice("reloading %s", r->conf_path);
	if (relay_conf_load(r->conf_path, &r->ov, &conf) != 0)
		goto fail;
	if (relay_load_policies(conf, &pt, &ex) != 0) {
		relay_conf_free(conf);
		goto fail;
	}
	if (front_set_conf(r->front, conf) != 0) {
		policy_table_free(pt);
		exemptions_free(ex);
		relay_conf_free(conf);
		goto fail;
	}
	/* open transactions copied their policy entry; the env looks the
	 * exemptions up again when it uses one, in the new list */
	outbound_env_set_policies(r->oenv, pt, ex);
	outbound_env_set_routes(r->oenv, conf->routes, conf->n_routes);
	policy_table_free(r->policies);
	exemptions_free(r->exemptions);
	r->policies = pt;
	r->exemptions = ex;
	relay_conf_free(r->conf);
	r->conf = conf;
	log_set_verbosity(conf->verbosity);
	log_notice("reloaded %s", r->conf_path);
	proc_notify("READY=1\nSTATUS=relaying, configuration reloaded");
	return 0;
fail:
	log_err("reload failed: keeping the old configuration");
	proc_notify("READY=1\nSTATUS=relaying (last reload failed)");
	return -1;
}

/*
 * The MTA-STS cache directory is made (0700) before the privilege drop;
 * the unprivileged relay writes into it later, so it must own it.
 */
static void
sts_dir_own(const char *dir, const char *username)
{
	if (sandbox_give_to_user(dir, username) != 0)
		log_warn("MTA-STS cache %s: chown to %s", dir, username);
}

/* ---- Prometheus metrics (lib/http_metrics.h) ---------------------------- */

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3)))
static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->len += (size_t)n;
	if (o->len >= o->cap)
		o->len = o->cap - 1;
}

static bool
relay_metrics_allow(void *arg, const struct sockaddr *peer)
{
	struct relay *r = arg;

	return acl_lookup(r->conf->acl, peer) == ACL_ALLOW;
}

/*
 * The exposition: the front's sessions and per-recipient outcomes, the
 * latency the relay adds after the final dot, the outbound side's
 * transactions and its own failures by RFC 8460 result type.
 */
/* The metric label of an outbound policy (enum outbound_policy). */
static const char *
policy_label(int p)
{
	static const char *names[OB_POLICY_TABLE] = {
		"unknown", "dane", "sts", "opportunistic", "exemption",
		"tls-required-no",
	};
	static char table[OB_POLICY_COUNT - OB_POLICY_TABLE][32];

	if (p < OB_POLICY_TABLE)
		return names[p];
	/* "table-encrypt": the policy table's level */
	snprintf(table[p - OB_POLICY_TABLE], sizeof(table[0]), "table-%s",
	    policy_level_name((enum policy_level)(p - OB_POLICY_TABLE)));
	return table[p - OB_POLICY_TABLE];
}

static size_t
relay_metrics_render(void *arg, char *buf, size_t cap)
{
	struct relay *r = arg;
	struct front_stats fs;
	struct outbound_stats os;
	struct out o = { buf, cap, 0 };
	uint64_t cum = 0, count = 0;

	buf[0] = '\0';
	front_stats_get(r->front, &fs);
	outbound_env_stats(r->oenv, &os);
	out_printf(&o, "# HELP danegate_relay_sessions_total SMTP and LMTP "
	    "sessions accepted.\n# TYPE danegate_relay_sessions_total "
	    "counter\ndanegate_relay_sessions_total %" PRIu64 "\n",
	    fs.sessions);
	out_printf(&o, "# HELP danegate_relay_sessions_refused_total Clients "
	    "refused by the access list or the session limit.\n# TYPE "
	    "danegate_relay_sessions_refused_total counter\n"
	    "danegate_relay_sessions_refused_total %" PRIu64 "\n", fs.refused);
	out_printf(&o, "# HELP danegate_relay_sessions Sessions open now.\n"
	    "# TYPE danegate_relay_sessions gauge\ndanegate_relay_sessions "
	    "%u\n", fs.active);
	out_printf(&o, "# HELP danegate_relay_messages_total Messages whose "
	    "data reached its end.\n# TYPE danegate_relay_messages_total "
	    "counter\ndanegate_relay_messages_total %" PRIu64 "\n",
	    fs.messages);
	out_printf(&o, "# HELP danegate_relay_recipients_total Final replies "
	    "per recipient, by outcome.\n# TYPE danegate_relay_recipients_total"
	    " counter\n");
	out_printf(&o, "danegate_relay_recipients_total{outcome=\"delivered\"}"
	    " %" PRIu64 "\n", fs.delivered);
	out_printf(&o, "danegate_relay_recipients_total{outcome=\"deferred\"}"
	    " %" PRIu64 "\n", fs.deferred);
	out_printf(&o, "danegate_relay_recipients_total{outcome=\"bounced\"}"
	    " %" PRIu64 "\n", fs.bounced);
	out_printf(&o, "# HELP danegate_relay_possible_duplicates_total "
	    "Clients gone after the remote accepted their message.\n# TYPE "
	    "danegate_relay_possible_duplicates_total counter\n"
	    "danegate_relay_possible_duplicates_total %" PRIu64 "\n",
	    fs.possible_duplicates);
	out_printf(&o, "# HELP danegate_relay_reply_latency_seconds From the "
	    "client's final dot to the relay's reply.\n# TYPE "
	    "danegate_relay_reply_latency_seconds histogram\n");
	for (size_t i = 0; i < FRONT_LATENCY_BUCKETS; i++) {
		cum += fs.latency[i];
		if (i < FRONT_LATENCY_BUCKETS - 1)
			out_printf(&o, "danegate_relay_reply_latency_seconds_"
			    "bucket{le=\"%g\"} %" PRIu64 "\n",
			    (double)front_latency_bounds_us[i] / 1e6, cum);
		else
			out_printf(&o, "danegate_relay_reply_latency_seconds_"
			    "bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	count = cum;
	out_printf(&o, "danegate_relay_reply_latency_seconds_sum %g\n"
	    "danegate_relay_reply_latency_seconds_count %" PRIu64 "\n",
	    (double)fs.latency_sum_us / 1e6, count);
	out_printf(&o, "# HELP danegate_relay_outbound_total Outbound side: "
	    "transactions, TCP sessions, reused and resumed sessions, waits for "
	    "a connection and their timeouts.\n"
	    "# TYPE danegate_relay_outbound_total counter\n");
	out_printf(&o, "danegate_relay_outbound_total{what=\"transactions\"}"
	    " %lu\n", os.transactions);
	out_printf(&o, "danegate_relay_outbound_total{what=\"sessions\"} "
	    "%lu\n", os.sessions);
	out_printf(&o, "danegate_relay_outbound_total{what=\"reused\"} %lu\n",
	    os.reused);
	out_printf(&o, "danegate_relay_outbound_total{what=\"resumed\"} "
	    "%lu\n", os.resumed);
	out_printf(&o, "danegate_relay_outbound_total{what=\"waited\"} "
	    "%lu\n", os.waited);
	out_printf(&o, "danegate_relay_outbound_total{what=\"wait_timeouts\"}"
	    " %lu\n", os.wait_timeouts);
	out_printf(&o, "# HELP danegate_relay_deliveries_total Outbound "
	    "attempts per recipient, by status.\n# TYPE "
	    "danegate_relay_deliveries_total counter\n");
	out_printf(&o, "danegate_relay_deliveries_total{status=\"sent\"} "
	    "%lu\n", os.sent);
	out_printf(&o, "danegate_relay_deliveries_total{status=\"deferred\"} "
	    "%lu\n", os.deferred);
	out_printf(&o, "danegate_relay_deliveries_total{status=\"bounced\"} "
	    "%lu\n", os.bounced);
	out_printf(&o, "# HELP danegate_relay_failures_total The relay's own "
	    "delivery failures, by RFC 8460 result type.\n# TYPE "
	    "danegate_relay_failures_total counter\n");
	for (int i = 0; i < DANEGATE_R_COUNT; i++)
		if (os.failures[i] != 0)
			out_printf(&o, "danegate_relay_failures_total{"
			    "result_type=\"%s\"} %lu\n",
			    danegate_reason_name((enum danegate_reason)i),
			    os.failures[i]);
	out_printf(&o, "# HELP danegate_relay_exemptions_total DANE "
	    "exemption list: uses, and refusals of expired entries.\n"
	    "# TYPE danegate_relay_exemptions_total counter\n"
	    "danegate_relay_exemptions_total{what=\"used\"} %lu\n"
	    "danegate_relay_exemptions_total{what=\"refused\"} %lu\n",
	    os.exemptions_used, os.exemptions_refused);
	{
		static const char *const names[OB_OAUTH2_COUNT] = {
			"token_cached", "token_refreshed", "token_requested",
			"token_refused", "token_unavailable", "auth_ok",
			"auth_retried", "auth_disabled", "auth_refused",
		};

		out_printf(&o, "# HELP danegate_relay_oauth2_total Submission "
		    "routes: tokens (cache, refresh, request, refusals, "
		    "outages) and the smarthost's AUTH XOAUTH2 outcomes.\n"
		    "# TYPE danegate_relay_oauth2_total counter\n");
		for (int i = 0; i < OB_OAUTH2_COUNT; i++)
			out_printf(&o, "danegate_relay_oauth2_total{outcome="
			    "\"%s\"} %lu\n", names[i], os.oauth2[i]);
		out_printf(&o, "# HELP danegate_relay_oauth2_aadsts_total "
		    "Token requests refused, by AADSTS code (0: none).\n"
		    "# TYPE danegate_relay_oauth2_aadsts_total counter\n");
		for (int i = 0; i < OB_AADSTS_MAX; i++)
			if (os.aadsts[i].n != 0)
				out_printf(&o, "danegate_relay_oauth2_aadsts_"
				    "total{code=\"%u\"} %lu\n",
				    os.aadsts[i].code, os.aadsts[i].n);
	}
	if (r->tlsrpt_send != NULL) {
		unsigned long sent, failed;

		tlsrpt_send_stats(r->tlsrpt_send, &sent, &failed);
		out_printf(&o, "# HELP danegate_relay_tlsrpt_reports_total TLS "
		    "reports (RFC 8460) per recipient, by outcome.\n# TYPE "
		    "danegate_relay_tlsrpt_reports_total counter\n"
		    "danegate_relay_tlsrpt_reports_total{outcome=\"sent\"} "
		    "%lu\ndanegate_relay_tlsrpt_reports_total{outcome="
		    "\"failed\"} %lu\n", sent, failed);
	}
	out_printf(&o, "# HELP danegate_relay_attempts_total Outbound "
	    "attempts per recipient by policy (dane, sts, table-LEVEL, "
	    "opportunistic, exemption, tls-required-no), outcome and RFC "
	    "8460 result type (or the verdict: dane-verified, none ...).\n"
	    "# TYPE danegate_relay_attempts_total counter\n");
	for (int p = 0; p < OB_POLICY_COUNT; p++)
		for (int k = 0; k < OB_OUTCOMES; k++)
			for (int i = 0; i < DANEGATE_R_COUNT; i++)
				if (os.attempts[p][k][i] != 0)
					out_printf(&o, "danegate_relay_attempts_"
					    "total{policy=\"%s\",outcome=\"%s\","
					    "result_type=\"%s\"} %lu\n",
					    policy_label(p), k == 0 ? "sent" :
					    k == 1 ? "deferred" : "bounced",
					    danegate_reason_name(
					    (enum danegate_reason)i),
					    os.attempts[p][k][i]);
	out_printf(&o, "# HELP danegate_relay_tls_required_no_total "
	    "Destinations whose TLS policy failed, opened for a message "
	    "whose header said TLS-Required: No (RFC 8689).\n# TYPE "
	    "danegate_relay_tls_required_no_total counter\n"
	    "danegate_relay_tls_required_no_total %" PRIu64 "\n",
	    fs.tls_required_no);
	out_printf(&o, "# HELP danegate_relay_aborted_total Outbound "
	    "transactions dropped before their final dot (client gone or "
	    "timed out in the data, or the message refused after its "
	    "header).\n# TYPE danegate_relay_aborted_total "
	    "counter\ndanegate_relay_aborted_total %" PRIu64 "\n",
	    fs.aborted);
	out_printf(&o, "# HELP danegate_relay_dmarc_guard_total Transactions "
	    "the DMARC guard bound to a route or refused (5xx).\n# TYPE "
	    "danegate_relay_dmarc_guard_total counter\n"
	    "danegate_relay_dmarc_guard_total{verdict=\"routed\"} %" PRIu64
	    "\ndanegate_relay_dmarc_guard_total{verdict=\"refused\"} %"
	    PRIu64 "\n", fs.dmarc_routed, fs.dmarc_refused);
	return o.len;
}

/* Binds prometheus-interface: (before the privilege drop). */
static int
relay_metrics_open(struct relay *r)
{
	static const struct http_metrics_ops ops = {
		relay_metrics_allow, relay_metrics_render,
	};
	const char *spec = r->conf->prometheus_interface;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (spec == NULL)
		return 0;
	if (addr_parse(spec, 9167, &ss, &len) != 0) {
		log_err("prometheus-interface: cannot parse '%s'", spec);
		return -1;
	}
	if ((fd = http_metrics_listen(&ss, len)) < 0) {
		log_warn("prometheus-interface: cannot listen on %s", spec);
		return -1;
	}
	if ((r->metrics = http_metrics_new(r->base, fd, &ops, r)) == NULL) {
		close(fd);
		return -1;
	}
	log_notice("Prometheus metrics on http://%s/metrics", spec);
	return 0;
}

static int
relay_reload_cb(void *arg)
{
	return relay_reload(arg);
}

static bool
relay_draining_cb(void *arg)
{
	const struct relay *r = arg;

	return r->stopping;
}

static const struct relay_conf *
relay_conf_cb(void *arg)
{
	const struct relay *r = arg;

	return r->conf;
}

/* The routes' token cache, for danegate-control's "tokens". */
static struct oauth2_cache *
relay_token_cache_cb(void *arg)
{
	const struct relay *r = arg;

	return outbound_env_token_cache(r->oenv);
}

/* Opens control-interface: (before the privilege drop), owned by
 * username: so that its group may use danegate-control. */
static int
relay_control_open(struct relay *r)
{
	const struct relay_control_ops ops = {
		.reload = relay_reload_cb,
		.draining = relay_draining_cb,
		.conf = relay_conf_cb,
		.token_cache = relay_token_cache_cb,
		.arg = r,
	};
	const struct passwd *pw = NULL;

	if (r->conf->control_interface == NULL)
		return 0;
	if (r->conf->username != NULL && r->conf->username[0] != '\0' &&
	    (pw = getpwnam(r->conf->username)) == NULL) {
		log_err("username: %s: no such user", r->conf->username);
		return -1;
	}
	r->ctl = relay_control_new(r->base, r->front, r->oenv,
	    r->conf->control_interface, &ops, pw ? pw->pw_uid : 0,
	    pw ? pw->pw_gid : 0);
	return r->ctl != NULL ? 0 : -1;
}

static void
relay_drained(void *arg)
{
	struct relay *r = arg;

	log_notice("drained: stopping");
	event_base_loopbreak(r->base);
}

static void
relay_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct relay *r = arg;

	(void)what;
	if (sig == SIGHUP) {
		(void)relay_reload(r);
		return;
	}
	if (sig == SIGUSR1) {
		if (r->tlsrpt_send != NULL)
			tlsrpt_send_now(r->tlsrpt_send);
		else
			log_notice("SIGUSR1: no tlsrpt-state-file:, no TLS "
			    "reports to send");
		return;
	}
	if (r->stopping) {
		log_notice("signal %d again: stopping now", (int)sig);
		event_base_loopbreak(r->base);
		return;
	}
	r->stopping = true;
	log_notice("signal %d: draining (at most %u s)", (int)sig,
	    r->conf->drain_timeout);
	proc_notify("STOPPING=1");
	front_drain(r->front, relay_drained, r);
}

static void
relay_sandbox(const struct relay_conf *conf)
{
	char err[256];
	const char *user = conf->username ? conf->username : "";
	const char *chroot_dir = conf->chroot ? conf->chroot : "";

	if (sandbox_enter(user, chroot_dir, conf->directory, SANDBOX_RELAY,
	    err, sizeof(err)) != 0)
		fatalx("%s", err);
	log_notice("running as %s%s%s, seccomp filter in %s mode",
	    user[0] ? user : "the starting user", chroot_dir[0] ?
	    " in chroot " : "", chroot_dir, sandbox_seccomp_mode() ?
	    sandbox_seccomp_mode() : "?");
}

/* -t: the file, the overrides, the key pair, the policy table and the
 * exemption list; 0 or 1. */
static int
relay_check(struct relay *r)
{
	struct relay_conf *conf;
	struct front *f;
	struct policy_table *pt;
	struct exemptions *ex;
	int bad = 0;

	if (relay_conf_load(r->conf_path, &r->ov, &conf) != 0)
		return 1;
	if (relay_load_policies(conf, &pt, &ex) != 0)
		bad = 1;
	policy_table_free(pt);
	exemptions_free(ex);
	if (front_new(NULL, NULL, conf, &f) != 0)
		bad = 1;
	else
		front_free(f);
	if (conf->tlsrpt_state_file != NULL) {
		struct tlsrpt *t;
		char why[512];

		/* a damaged file would stop the start */
		if (tlsrpt_open(conf->tlsrpt_state_file, time(NULL), &t, why,
		    sizeof(why)) != 0) {
			log_err("tlsrpt-state-file: %s", why[0] ? why :
			    "out of memory");
			bad = 1;
		}
		tlsrpt_free(t);
	}
	relay_conf_free(conf);
	if (bad)
		return 1;
	printf("%s: configuration OK\n", r->conf_path && r->conf_path[0] ?
	    r->conf_path : "(no file)");
	return 0;
}

static void
relay_tlsrpt_save(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;

	(void)fd;
	(void)what;
	if (tlsrpt_save(r->tlsrpt) != 0)
		log_warnx("tlsrpt-state-file: %s: cannot write",
		    r->conf->tlsrpt_state_file);
}

/*
 * TLS reporting: the counts (after the privilege drop, so the file is the
 * relay user's, inside the chroot if any) and the daily reports.
 */
static void
relay_tlsrpt_start(struct relay *r, struct danegate_resolver *resolver)
{
	const struct relay_conf *c = r->conf;
	struct tlsrpt_send_options so = { 0 };
	static const struct timeval minute = { 60, 0 };
	char why[512], from[300];
	int rc;

	if (c->tlsrpt_state_file == NULL)
		return;
	if (tlsrpt_open(c->tlsrpt_state_file, time(NULL), &r->tlsrpt, why,
	    sizeof(why)) != 0)
		fatalx("tlsrpt-state-file: %s", why[0] ? why : "out of memory");
	outbound_env_set_tlsrpt(r->oenv, r->tlsrpt);
	snprintf(from, sizeof(from), "noreply-smtp-tls-reporting@%s",
	    c->hostname);
	so.base = r->base;
	so.resolver = resolver;
	so.store = r->tlsrpt;
	so.submitter = c->tlsrpt_submitter ? c->tlsrpt_submitter : c->hostname;
	so.mail_from = c->tlsrpt_mail_from ? c->tlsrpt_mail_from : from;
	so.organization = c->tlsrpt_organization ? c->tlsrpt_organization :
	    so.submitter;
	so.contact = c->tlsrpt_contact ? c->tlsrpt_contact : so.mail_from;
	so.submission = c->tlsrpt_submission;
	so.ca_file = c->ca_file;
	so.smtp_thread = r->tlsrpt_smtp;
	so.interval_s = c->tlsrpt_interval;
	so.max_delay_s = c->tlsrpt_max_delay;
	so.timeout_s = c->tlsrpt_timeout;
	if ((rc = tlsrpt_send_new(&so, &r->tlsrpt_send)) != 0)
		fatalx("TLS-RPT: %s", danegate_strerror(rc));
	relay_control_set_tlsrpt(r->ctl, r->tlsrpt, r->tlsrpt_send);
	if ((r->tlsrpt_save = event_new(r->base, -1, EV_PERSIST,
	    relay_tlsrpt_save, r)) == NULL ||
	    event_add(r->tlsrpt_save, &minute) != 0)
		fatalx("TLS-RPT: cannot start the save timer");
	log_notice("TLS-RPT: counting into %s, reports every %u s%s",
	    c->tlsrpt_state_file, c->tlsrpt_interval, c->tlsrpt_submission ?
	    "" : " (no tlsrpt-submission: mailto: recipients are skipped)");
}

int
main(int argc, char **argv)
{
	char detach_err[256];
	struct relay r = { .conf_path = RELAY_CONF_DEFAULT_PATH };
	struct danegate_resolver_options ro = { 0 };
	struct outbound_env_options eo = { 0 };
	struct danegate_resolver *resolver;
	bool foreground = false, check_only = false;
	int ch, extra_verbosity = 0, err = 0;
	enum { O_LISTEN = 256, O_LMTP, O_RESOLVER, O_ANCHOR, O_CA, O_UBCONF };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "lmtp", required_argument, NULL, O_LMTP },
		{ "resolver", required_argument, NULL, O_RESOLVER },
		{ "trust-anchor", required_argument, NULL, O_ANCHOR },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "unbound-conf", required_argument, NULL, O_UBCONF },
		{ NULL, 0, NULL, 0 },
	};

	log_init("danegate-relay", LOG_VERB_NOTICE);
	if (argc > 1 && strcmp(argv[1], "passwd") == 0)
		return relay_passwd(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "c:dhtvV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			r.conf_path = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'v':
			extra_verbosity++;
			break;
		case 'V':
			printf("danegate-relay %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case O_LISTEN:
			r.ov.listen = optarg;
			break;
		case O_LMTP:
			r.ov.lmtp = optarg;
			break;
		case O_RESOLVER:
			r.ov.resolver = optarg;
			break;
		case O_ANCHOR:
			r.ov.trust_anchor_file = optarg;
			break;
		case O_CA:
			r.ov.ca_file = optarg;
			break;
		case O_UBCONF:
			r.ov.unbound_conf = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check_only)
		return relay_check(&r);

	if (relay_conf_load(r.conf_path, &r.ov, &r.conf) != 0 ||
	    r.conf == NULL)
		return 1;
	if (relay_load_policies(r.conf, &r.policies, &r.exemptions) != 0)
		return 1;
	if (r.conf_path[0] != '\0') {
		/* reloads happen after chdir(directory:) */
		static char abs[PATH_MAX];

		if (realpath(r.conf_path, abs) != NULL)
			r.conf_path = abs;
	}
	log_set_verbosity(r.conf->verbosity + extra_verbosity);
	signal(SIGPIPE, SIG_IGN);
	if ((r.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");

	ro.trust_anchor_file = r.conf->trust_anchor_file;
	ro.forwarder = r.conf->resolver;
	ro.unbound_conf = r.conf->unbound_conf;
	if ((resolver = danegate_resolver_new(&ro, r.base, &err)) == NULL)
		fatalx("resolver (trust anchor %s%s%s): %s",
		    ro.trust_anchor_file ? ro.trust_anchor_file :
		    "/usr/share/dns/root.key", ro.forwarder ? ", forwarder " :
		    "", ro.forwarder ? ro.forwarder : "",
		    danegate_strerror(err));
	eo.base = r.base;
	eo.resolver = resolver;
	eo.helo_name = r.conf->hostname;
	eo.ca_file = r.conf->ca_file;
	eo.port = r.conf->remote_port;
	eo.policies = r.policies;
	eo.exemptions = r.exemptions;
	eo.dest_limit = r.conf->dest_limit;
	eo.dest_wait_ms = r.conf->dest_wait * 1000;
	/* the remote's final reply must reach our client before its own
	 * 10-minute timeout (RFC 5321 §4.5.3.2.6) */
	eo.timeouts.data_end_ms = r.conf->final_timeout * 1000;
	eo.sts_cache_dir = r.conf->sts_cache_dir;
	/* fork() before any thread: a child has only the thread that
	 * forked, and the token worker and the TLS-RPT submission thread
	 * start below (then the seccomp filter, which allows no clone) */
	if (!foreground && proc_detach(detach_err, sizeof(detach_err)) != 0)
		fatalx("%s", detach_err);
	if (proc_write_pidfile(r.conf->pidfile) != 0)
		log_warn("pidfile %s", r.conf->pidfile);
	/* before any thread: the env starts the token worker (oauth2.h) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("cannot initialise libcurl");
	/* a thread too: libcurl's SMTP blocks at the end of the data */
	if (r.conf->tlsrpt_state_file != NULL &&
	    r.conf->tlsrpt_submission != NULL &&
	    curl_thread_new(r.base, &r.tlsrpt_smtp) != 0)
		fatalx("TLS-RPT: cannot start the mailto: submission thread");
	if ((err = outbound_env_new(&eo, &r.oenv)) != 0 &&
	    eo.sts_cache_dir != NULL && !r.conf->sts_cache_dir_set) {
		/* the default place is missing (not installed): memory
		 * only, said once; a configured one must work */
		log_warnx("MTA-STS policies kept in memory only: %s is not "
		    "usable (set sts-cache-dir:)", eo.sts_cache_dir);
		eo.sts_cache_dir = NULL;
		err = outbound_env_new(&eo, &r.oenv);
	}
	if (err != 0)
		fatalx("outbound: %s", danegate_strerror(err));
	outbound_env_set_routes(r.oenv, r.conf->routes, r.conf->n_routes);
	if (eo.sts_cache_dir != NULL)
		sts_dir_own(eo.sts_cache_dir, r.conf->username);
	if (front_new(r.base, r.oenv, r.conf, &r.front) != 0)
		return 1;
	front_set_resolver(r.front, resolver);
	if (front_listen(r.front) != 0 || relay_metrics_open(&r) != 0 ||
	    relay_control_open(&r) != 0)
		return 1;
	/* the system's Public Suffix List is outside the chroot */
	if (dmarc_psl_load() != 0)
		log_warnx("no Public Suffix List: DMARC organizational "
		    "domains not found");
	relay_sandbox(r.conf);
	relay_tlsrpt_start(&r, resolver);

	r.ev_hup = evsignal_new(r.base, SIGHUP, relay_on_signal, &r);
	r.ev_term = evsignal_new(r.base, SIGTERM, relay_on_signal, &r);
	r.ev_int = evsignal_new(r.base, SIGINT, relay_on_signal, &r);
	evsignal_add(r.ev_hup, NULL);
	evsignal_add(r.ev_term, NULL);
	evsignal_add(r.ev_int, NULL);
	r.ev_usr1 = evsignal_new(r.base, SIGUSR1, relay_on_signal, &r);
	evsignal_add(r.ev_usr1, NULL);
	log_notice("danegate-relay %s started", PACKAGE_VERSION);
	proc_notify("READY=1\nSTATUS=relaying");

	event_base_dispatch(r.base);

	http_metrics_free(r.metrics);
	tlsrpt_send_free(r.tlsrpt_send);
	curl_thread_free(r.tlsrpt_smtp);
	if (r.tlsrpt != NULL && tlsrpt_save(r.tlsrpt) != 0)
		log_warnx("tlsrpt-state-file: cannot write");
	if (r.tlsrpt_save != NULL)
		event_free(r.tlsrpt_save);
	relay_control_free(r.ctl);
	front_free(r.front);
	outbound_env_free(r.oenv);
	danegate_resolver_free(resolver);
	tlsrpt_free(r.tlsrpt);
	policy_table_free(r.policies);
	exemptions_free(r.exemptions);
	event_free(r.ev_hup);
	event_free(r.ev_term);
	event_free(r.ev_int);
	event_free(r.ev_usr1);
	event_base_free(r.base);
	relay_conf_free(r.conf);
	log_notice("stopped");
	return 0;
}
