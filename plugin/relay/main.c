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
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "acl.h"
#include "control.h"
#include "front.h"
#include "http_metrics.h"
#include "log.h"
#include "outbound.h"
#include "policy_table.h"
#include "relay_conf.h"
#include "sandbox.h"

struct relay {
	struct event_base *base;
	struct front *front;
	struct outbound_env *oenv;
	struct relay_conf *conf;
	struct policy_table *policies;	/* tls-policy-file:, or NULL */
	struct exemptions *exemptions;	/* dane-exemptions-file:, or NULL */
	const char *conf_path;
	struct relay_conf_overrides ov;
	struct event *ev_hup, *ev_term, *ev_int;
	struct http_metrics *metrics;	/* prometheus-interface:, or NULL */
	struct relay_control *ctl;	/* control-interface:, or NULL */
	bool stopping;
};

static void
notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: danegate-relay [-dhtvV] [-c file] [--listen ADDR@PORT]\n"
	    "         [--lmtp ADDR@PORT|PATH] [--resolver ADDR[@PORT]]\n"
	    "         [--trust-anchor FILE] [--ca-file FILE]\n"
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
	    "finish until drain-timeout, then 421. See danegate-relay(8).\n",
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

	notify("RELOADING=1");
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
	policy_table_free(r->policies);
	exemptions_free(r->exemptions);
	r->policies = pt;
	r->exemptions = ex;
	relay_conf_free(r->conf);
	r->conf = conf;
	log_set_verbosity(conf->verbosity);
	log_notice("reloaded %s", r->conf_path);
	notify("READY=1\nSTATUS=relaying, configuration reloaded");
	return 0;
fail:
	log_err("reload failed: keeping the old configuration");
	notify("READY=1\nSTATUS=relaying (last reload failed)");
	return -1;
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
	    "transactions, TCP sessions, reused and resumed sessions.\n"
	    "# TYPE danegate_relay_outbound_total counter\n");
	out_printf(&o, "danegate_relay_outbound_total{what=\"transactions\"}"
	    " %lu\n", os.transactions);
	out_printf(&o, "danegate_relay_outbound_total{what=\"sessions\"} "
	    "%lu\n", os.sessions);
	out_printf(&o, "danegate_relay_outbound_total{what=\"reused\"} %lu\n",
	    os.reused);
	out_printf(&o, "danegate_relay_outbound_total{what=\"resumed\"} "
	    "%lu\n", os.resumed);
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
	if (relay_conf_parse_addr(spec, 9167, &ss, &len) != 0) {
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

/* Opens control-interface: (before the privilege drop), owned by
 * username: so that its group may use danegate-control. */
static int
relay_control_open(struct relay *r)
{
	const struct relay_control_ops ops = {
		relay_reload_cb, relay_draining_cb, r,
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
	if (r->stopping) {
		log_notice("signal %d again: stopping now", (int)sig);
		event_base_loopbreak(r->base);
		return;
	}
	r->stopping = true;
	log_notice("signal %d: draining (at most %u s)", (int)sig,
	    r->conf->drain_timeout);
	notify("STOPPING=1");
	front_drain(r->front, relay_drained, r);
}

static void
relay_detach(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid");
	if (freopen("/dev/null", "r", stdin) == NULL ||
	    freopen("/dev/null", "w", stdout) == NULL)
		fatal("/dev/null");
	log_use_syslog();
}

static void
relay_sandbox(const struct relay_conf *conf)
{
	char err[256];
	const char *user = conf->username ? conf->username : "";
	const char *chroot_dir = conf->chroot ? conf->chroot : "";

	if (sandbox_drop_privileges(user, chroot_dir, conf->directory, err,
	    sizeof(err)) != 0)
		fatalx("cannot drop privileges: %s", err);
	if (sandbox_no_new_privs(err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (sandbox_seccomp_install(SANDBOX_RELAY, err, sizeof(err)) != 0)
		fatalx("cannot install the seccomp filter: %s", err);
	log_notice("running as %s%s%s, seccomp filter in %s mode",
	    user[0] ? user : "the starting user", chroot_dir[0] ?
	    " in chroot " : "", chroot_dir, sandbox_seccomp_mode() ?
	    sandbox_seccomp_mode() : "?");
}

static void
write_pidfile(const char *path)
{
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return;
	if ((f = fopen(path, "w")) == NULL) {
		log_warn("pidfile %s", path);
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
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
	relay_conf_free(conf);
	if (bad)
		return 1;
	printf("%s: configuration OK\n", r->conf_path && r->conf_path[0] ?
	    r->conf_path : "(no file)");
	return 0;
}

int
main(int argc, char **argv)
{
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
	/* the remote's final reply must reach our client before its own
	 * 10-minute timeout (RFC 5321 §4.5.3.2.6) */
	eo.timeouts.data_end_ms = r.conf->final_timeout * 1000;
	if ((err = outbound_env_new(&eo, &r.oenv)) != 0)
		fatalx("outbound: %s", danegate_strerror(err));
	if (front_new(r.base, r.oenv, r.conf, &r.front) != 0)
		return 1;
	if (front_listen(r.front) != 0 || relay_metrics_open(&r) != 0 ||
	    relay_control_open(&r) != 0)
		return 1;
	if (!foreground)
		relay_detach();
	write_pidfile(r.conf->pidfile);
	relay_sandbox(r.conf);

	r.ev_hup = evsignal_new(r.base, SIGHUP, relay_on_signal, &r);
	r.ev_term = evsignal_new(r.base, SIGTERM, relay_on_signal, &r);
	r.ev_int = evsignal_new(r.base, SIGINT, relay_on_signal, &r);
	evsignal_add(r.ev_hup, NULL);
	evsignal_add(r.ev_term, NULL);
	evsignal_add(r.ev_int, NULL);
	log_notice("danegate-relay %s started", PACKAGE_VERSION);
	notify("READY=1\nSTATUS=relaying");

	event_base_dispatch(r.base);

	http_metrics_free(r.metrics);
	relay_control_free(r.ctl);
	front_free(r.front);
	outbound_env_free(r.oenv);
	danegate_resolver_free(resolver);
	policy_table_free(r.policies);
	exemptions_free(r.exemptions);
	event_free(r.ev_hup);
	event_free(r.ev_term);
	event_free(r.ev_int);
	event_base_free(r.base);
	relay_conf_free(r.conf);
	log_notice("stopped");
	return 0;
}
