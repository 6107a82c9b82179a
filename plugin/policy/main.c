/*
 * danegate-policy - Postfix's TLS policy over socketmap, decided by
 * libdanegate: DANE always wins, MTA-STS only where there is no DANE, and
 * every answer can be explained (--explain).
 *
 * main.c is the only file of the program: command line, configuration,
 * listeners as root, privilege drop, the event loop. The service is
 * server.c, the reply verdict.c, the protocol socketmap.c.
 *
 * SECURITY: starts as root only to bind its sockets (unix sockets may
 * sit in Postfix's chroot, owned by the configured user/group); then
 * setgroups/setresgid/setresuid to `username`, optional chroot,
 * PR_SET_NO_NEW_PRIVS and danegated's seccomp allow-list. Talks to local
 * socketmap clients, to DNS (libunbound, validating), to MTA-STS web
 * servers (HTTPS), to systemd (sd_notify) and, with prometheus-interface:,
 * to the HTTP clients access-control: allows (lib/http_metrics.c).
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "acl.h"
#include "addr.h"
#include "http_metrics.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "conf.h"
#include "control.h"
#include "explain.h"
#include "server.h"

struct policy_daemon {
	struct event_base *base;
	struct policy_server *srv;
	struct policy_control *ctl;	/* control-interface:, or NULL */
	struct http_metrics *metrics;	/* prometheus-interface:, or NULL */
	char metrics_spec[128];		/* its address, "" = none */
	const char *conf_path;		/* NULL: no file */
	struct policy_overrides ov;
	struct event *ev_hup, *ev_term, *ev_int, *ev_usr1;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: danegate-policy [-dhtvV] [-c file] [--listen ADDR@PORT|PATH]\n"
	    "           [--resolver ADDR[@PORT]] [--trust-anchor FILE]\n"
	    "           [--unbound-conf FILE] [--ca-file FILE]\n"
	    "       danegate-policy [options] --explain DOMAIN [--json]\n"
	    "\n"
	    "Postfix's smtp_tls_policy_maps over socketmap, decided by\n"
	    "libdanegate (RFC 7672 DANE first, RFC 8461 MTA-STS where there\n"
	    "is no DANE).\n"
	    "\n"
	    "  -c file            configuration file (default %s;\n"
	    "                     without -c and without that file: none)\n"
	    "  -d                 stay in the foreground\n"
	    "  -t                 check the configuration and exit (0 usable,\n"
	    "                     1 with every error as FILE:LINE: message)\n"
	    "  -v                 more verbose (repeatable)\n"
	    "  --listen SPEC      unix socket PATH or loopback ADDR@PORT\n"
	    "                     (repeatable; replaces listen: lines)\n"
	    "  --resolver ADDR    forward DNS there, still validating\n"
	    "  --trust-anchor F   DS/DNSKEY records (default the system's)\n"
	    "  --unbound-conf F   extra libunbound settings\n"
	    "  --ca-file F        PKIX roots for MTA-STS fetches\n"
	    "  --explain DOMAIN   print the decision path and the reply\n"
	    "  --json             with --explain: JSON\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "Signals: SIGHUP reloads (a bad file keeps the old one), SIGUSR1\n"
	    "logs the counters, SIGTERM/SIGINT stop. See danegate-policy(8).\n",
	    POLICY_CONF_DEFAULT);
}

/* Returns 0, or -1 when the old configuration stays in force. */
static int
daemon_reload(struct policy_daemon *d)
{
	struct policy_conf *conf;

	proc_notify("RELOADING=1");
	log_notice("reloading %s", d->conf_path ? d->conf_path : "(no file)");
	if (policy_conf_load(d->conf_path, &d->ov, &conf) != 0 ||
	    policy_server_reload(d->srv, conf) != 0) {
		log_err("reload failed: keeping the old configuration");
		proc_notify("READY=1\nSTATUS=serving (last reload failed)");
		return -1;
	}
	log_set_verbosity(conf->verbosity);
	if (strcmp(conf->prometheus_interface, d->metrics_spec) != 0)
		log_warnx("prometheus-interface: '%s' takes effect at the next "
		    "start (the socket is bound before the privilege drop); "
		    "still '%s'", conf->prometheus_interface, d->metrics_spec);
	log_notice("reloaded");
	proc_notify("READY=1\nSTATUS=serving, configuration reloaded");
	return 0;
}

static int
daemon_reload_cb(void *arg)
{
	return daemon_reload(arg);
}

/* Opens control-interface: (before the privilege drop), owned by
 * username: so that its group may use danegate-control. */
static int
daemon_control_open(struct policy_daemon *d, const struct policy_conf *conf)
{
	const struct policy_control_ops ops = { daemon_reload_cb, d };
	const struct passwd *pw = NULL;

	if (conf->control_interface[0] == '\0')
		return 0;
	if (conf->username[0] != '\0' &&
	    (pw = getpwnam(conf->username)) == NULL) {
		log_err("username: %s: no such user", conf->username);
		return -1;
	}
	d->ctl = policy_control_new(d->base, d->srv, conf->control_interface,
	    &ops, pw ? pw->pw_uid : 0, pw ? pw->pw_gid : 0);
	return d->ctl != NULL ? 0 : -1;
}

/* /metrics (lib/http_metrics.h): only clients access-control: allows, as
 * the configuration in force says (a reload takes effect at once). */
static bool
daemon_metrics_allow(void *arg, const struct sockaddr *peer)
{
	const struct policy_daemon *d = arg;

	return acl_lookup(policy_server_conf(d->srv)->acl, peer) == ACL_ALLOW;
}

static size_t
daemon_metrics_render(void *arg, char *buf, size_t cap)
{
	const struct policy_daemon *d = arg;

	return policy_server_metrics(d->srv, buf, cap);
}

/* Binds prometheus-interface: (before the privilege drop, as the socketmap
 * listeners; with systemd's sockets too). */
static int
daemon_metrics_open(struct policy_daemon *d, const struct policy_conf *conf)
{
	static const struct http_metrics_ops ops = {
		daemon_metrics_allow, daemon_metrics_render,
	};
	const char *spec = conf->prometheus_interface;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (spec[0] == '\0')
		return 0;
	if (addr_parse(spec, POLICY_PROMETHEUS_PORT, &ss,
	    &len) != 0) {
		log_err("prometheus-interface: cannot parse '%s'", spec);
		return -1;
	}
	if ((fd = http_metrics_listen(&ss, len)) < 0) {
		log_warn("prometheus-interface: cannot listen on %s", spec);
		return -1;
	}
	if ((d->metrics = http_metrics_new(d->base, fd, &ops, d)) == NULL) {
		close(fd);
		return -1;
	}
	snprintf(d->metrics_spec, sizeof(d->metrics_spec), "%s", spec);
	log_notice("Prometheus metrics on http://%s/metrics", spec);
	return 0;
}

static void
daemon_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct policy_daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		(void)daemon_reload(d);
		return;
	}
	if (sig == SIGUSR1) {
		static char buf[16384];

		(void)policy_server_metrics(d->srv, buf, sizeof(buf));
		log_notice("counters:\n%s", buf);
		return;
	}
	log_notice("signal %d: stopping", (int)sig);
	proc_notify("STOPPING=1");
	event_base_loopbreak(d->base);
}

static void
daemon_sandbox(const struct policy_conf *conf)
{
	char err[256];

	if (sandbox_enter(conf->username, conf->chroot, "/", SANDBOX_RESOLVER,
	    err, sizeof(err)) != 0)
		fatalx("%s", err);
	log_notice("running as %s%s%s, seccomp filter in %s mode",
	    conf->username[0] ? conf->username : "the starting user",
	    conf->chroot[0] ? " in chroot " : "", conf->chroot,
	    sandbox_seccomp_mode() ? sandbox_seccomp_mode() : "?");
}

/* 1,000 Postfix processes at a time need more than the usual 1,024. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	char detach_err[256];
	struct policy_daemon d = { .conf_path = NULL };
	struct policy_conf *conf;
	const char *explain = NULL;
	bool foreground = false, check_only = false, json = false;
	bool conf_given = false;
	int ch, rc;
	enum { O_LISTEN = 256, O_RESOLVER, O_ANCHOR, O_UBCONF, O_CAFILE,
		O_EXPLAIN, O_JSON };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "resolver", required_argument, NULL, O_RESOLVER },
		{ "trust-anchor", required_argument, NULL, O_ANCHOR },
		{ "unbound-conf", required_argument, NULL, O_UBCONF },
		{ "ca-file", required_argument, NULL, O_CAFILE },
		{ "explain", required_argument, NULL, O_EXPLAIN },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};

	log_init("danegate-policy", LOG_VERB_NOTICE);
	while ((ch = getopt_long(argc, argv, "c:dhtvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.conf_path = optarg;
			conf_given = true;
			break;
		case 'd':
			foreground = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'v':
			d.ov.verbosity++;
			break;
		case O_LISTEN:
			if (d.ov.n_listen == POLICY_LISTEN_MAX) {
				fprintf(stderr, "danegate-policy: more than "
				    "%d --listen\n", POLICY_LISTEN_MAX);
				return 2;
			}
			d.ov.listen[d.ov.n_listen++] = optarg;
			break;
		case O_RESOLVER:
			d.ov.resolver = optarg;
			break;
		case O_ANCHOR:
			d.ov.trust_anchor_file = optarg;
			break;
		case O_UBCONF:
			d.ov.unbound_conf = optarg;
			break;
		case O_CAFILE:
			d.ov.ca_file = optarg;
			break;
		case O_EXPLAIN:
			explain = optarg;
			break;
		case O_JSON:
			json = true;
			break;
		case 'V':
			printf("danegate-policy %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (json && explain == NULL)) {
		usage(stderr);
		return 2;
	}
	/* the default file is optional: the overrides alone are a usable
	 * configuration */
	if (!conf_given && access(POLICY_CONF_DEFAULT, F_OK) == 0)
		d.conf_path = POLICY_CONF_DEFAULT;
	if (d.conf_path != NULL && d.conf_path[0] != '/') {
		static char abs[PATH_MAX];

		/* reloads happen after chdir("/"): keep an absolute path */
		if (realpath(d.conf_path, abs) != NULL)
			d.conf_path = abs;
	}

	rc = policy_conf_load(d.conf_path, &d.ov, &conf);
	if (check_only) {
		if (rc != 0)
			return 1;
		printf("%s: configuration OK\n", d.conf_path ? d.conf_path :
		    "(no file)");
		policy_conf_free(conf);
		return 0;
	}
	if (rc != 0)
		return 1;
	log_set_verbosity(conf->verbosity);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("libcurl cannot start");
	if (explain != NULL) {
		rc = explain_run(conf, explain, json, stdout);
		policy_conf_free(conf);
		curl_global_cleanup();
		return rc;
	}

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if ((d.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((d.srv = policy_server_new(d.base, conf)) == NULL)
		return 1;
	if (policy_server_listen(d.srv) != 0 ||
	    daemon_control_open(&d, conf) != 0 ||
	    daemon_metrics_open(&d, conf) != 0)
		return 1;
	if (!foreground && proc_detach(detach_err, sizeof(detach_err)) != 0)
		fatalx("%s", detach_err);
	if (proc_write_pidfile(conf->pidfile) != 0)
		log_warn("pidfile %s", conf->pidfile);
	policy_server_prime(d.srv);
	daemon_sandbox(conf);

	d.ev_hup = evsignal_new(d.base, SIGHUP, daemon_on_signal, &d);
	d.ev_term = evsignal_new(d.base, SIGTERM, daemon_on_signal, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, daemon_on_signal, &d);
	d.ev_usr1 = evsignal_new(d.base, SIGUSR1, daemon_on_signal, &d);
	evsignal_add(d.ev_hup, NULL);
	evsignal_add(d.ev_term, NULL);
	evsignal_add(d.ev_int, NULL);
	evsignal_add(d.ev_usr1, NULL);
	log_notice("danegate-policy %s started", PACKAGE_VERSION);
	proc_notify("READY=1\nSTATUS=serving");

	event_base_dispatch(d.base);

	http_metrics_free(d.metrics);
	policy_control_free(d.ctl);
	policy_server_free(d.srv);
	event_free(d.ev_hup);
	event_free(d.ev_term);
	event_free(d.ev_int);
	event_free(d.ev_usr1);
	event_base_free(d.base);
	curl_global_cleanup();
	log_notice("stopped");
	return 0;
}
