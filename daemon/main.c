/*
 * danegated - a hardened, validating DNS resolver for mail gateways.
 *
 * main.c is the only file of the program: it reads the command line and
 * the configuration, opens the listeners as root, drops privileges, and
 * runs the event loop. Everything else lives in libdanegated (this folder),
 * so that tests and fuzzers link the real code.
 *
 * SECURITY: starts as root only to bind port 53 and the control socket;
 * then chroot (optional), setgroups/setresgid/setresuid to `username`,
 * PR_SET_NO_NEW_PRIVS and a seccomp allow-list. Talks to DNS clients
 * (server.c), to authoritative servers or forwarders (libunbound), to
 * systemd (sd_notify) and to the operator (control.c).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <unbound.h>

#include "algcheck.h"
#include "conf.h"
#include "control.h"
#include "log.h"
#include "proc.h"
#include "resolver.h"
#include "sandbox.h"
#include "server.h"

struct daemon {
	struct event_base *base;
	struct server *srv;
	struct control *ctl;
	const char *conf_path;
	struct event *ev_hup, *ev_term, *ev_int, *ev_watchdog;
	struct timeval watchdog_interval;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: danegated [-dhtvV] [-c file]\n"
	    "\n"
	    "A validating DNS resolver for mail gateways (libunbound).\n"
	    "\n"
	    "  -c file   configuration file (default %s)\n"
	    "  -d        stay in the foreground (do not daemonize)\n"
	    "  -t        check the configuration and exit: 0 if usable,\n"
	    "            1 with every error as FILE:LINE: message\n"
	    "  -v        more verbose (repeatable; adds to verbosity:)\n"
	    "  -V        print the version and exit\n"
	    "  -h        this help\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration (a bad file keeps the\n"
	    "old one), SIGTERM/SIGINT stop. See danegated(8) and\n"
	    "danegated.conf(5).\n", CONF_DEFAULT_PATH);
}

static void
daemon_on_ready(void *arg)
{
	(void)arg;
	log_notice("trust anchors validate: ready");
	proc_notify("READY=1\nSTATUS=serving, DNSSEC validation working");
}

static void
daemon_on_status(void *arg, const char *text)
{
	char buf[600];

	(void)arg;
	snprintf(buf, sizeof(buf), "STATUS=not ready: %s", text);
	proc_notify(buf);
}

/* Returns 0, or -1 when the old configuration stays in force. */
static int
daemon_reload(void *arg)
{
	struct daemon *d = arg;
	struct conf *conf = NULL;
	struct resolver *r = NULL;

	proc_notify("RELOADING=1");
	log_notice("reloading %s", d->conf_path);
	if (conf_load(d->conf_path, &conf) != 0)
		goto fail;
	/* the same rule as at start-up: never a resolver that cannot
	 * validate */
	if (conf->n_trust_anchors == 0) {
		log_err("%s: no trust anchor", d->conf_path);
		goto fail;
	}
	if ((r = resolver_new(d->base, conf)) == NULL)
		goto fail;
	if (server_reload(d->srv, conf, r) != 0) {
		resolver_shutdown(r);
		goto fail;
	}
	log_notice("reloaded %s", d->conf_path);
	proc_notify("READY=1\nSTATUS=serving, configuration reloaded");
	return 0;
fail:
	conf_free(conf);
	log_err("reload failed: keeping the old configuration");
	proc_notify("READY=1\nSTATUS=serving (last reload failed)");
	return -1;
}

static void
daemon_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		(void)daemon_reload(d);
		return;
	}
	log_notice("signal %d: stopping", (int)sig);
	proc_notify("STOPPING=1");
	event_base_loopbreak(d->base);
}

static void
daemon_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	/* The loop turned: it is alive. */
	proc_notify("WATCHDOG=1");
}

static void
daemon_sandbox(const struct conf *conf)
{
	char err[256];

	if (sandbox_enter(conf->username, conf->chroot, conf->directory,
	    SANDBOX_RESOLVER, err, sizeof(err)) != 0)
		fatalx("%s", err);
	log_notice("running as %s%s%s, seccomp filter in %s mode",
	    conf->username[0] ? conf->username : "the starting user",
	    conf->chroot[0] ? " in chroot " : "", conf->chroot,
	    sandbox_seccomp_mode() ? sandbox_seccomp_mode() : "?");
}

int
main(int argc, char **argv)
{
	char detach_err[256];
	struct daemon d = { .conf_path = CONF_DEFAULT_PATH };
	struct control_ops ops = { daemon_reload, &d };
	struct conf *conf;
	struct resolver *r;
	bool foreground = false, check_only = false;
	int ch, extra_verbosity = 0;
	uid_t uid = 0;
	gid_t gid = 0;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	log_init("danegated", LOG_VERB_NOTICE);
	while ((ch = getopt_long(argc, argv, "c:dhtvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.conf_path = optarg;
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
			printf("danegated %s (libunbound %s)\n", PACKAGE_VERSION,
			    ub_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (check_only) {
		int errors = conf_check(d.conf_path, &conf);

		if (conf == NULL)
			return 1;
		if (conf->n_trust_anchors == 0) {
			log_err("%s: no trust anchor (trust-anchor-file:, "
			    "auto-trust-anchor-file: or trust-anchor:)",
			    d.conf_path);
			errors++;
		}
		/* libunbound judges its own options */
		if ((r = resolver_new(NULL, conf)) == NULL)
			errors++;
		else
			resolver_shutdown(r);
		conf_free(conf);
		if (errors > 0)
			return 1;
		printf("%s: configuration OK\n", d.conf_path);
		return 0;
	}
	if (conf_load(d.conf_path, &conf) != 0)
		return 1;
	/* Reloads happen after chdir(directory:): keep an absolute path. */
	{
		static char abs[PATH_MAX];

		if (realpath(d.conf_path, abs) != NULL)
			d.conf_path = abs;
	}
	conf->verbosity += extra_verbosity;
	log_set_verbosity(conf->verbosity);
	if (conf->n_trust_anchors == 0) {
		log_err("%s: no trust anchor (trust-anchor-file:, "
		    "auto-trust-anchor-file: or trust-anchor:): danegated "
		    "refuses to run a resolver that cannot validate",
		    d.conf_path);
		conf_free(conf);
		return 1;
	}

	if (conf->username[0] != '\0') {
		struct passwd *pw = getpwnam(conf->username);

		if (pw == NULL)
			fatalx("username: no such user '%s'", conf->username);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	/* What the linked libunbound validates, once: a zone it cannot
	 * validate comes out insecure, which for DANE is a downgrade. */
	(void)algcheck_log();
	signal(SIGPIPE, SIG_IGN);
	if ((d.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((r = resolver_new(d.base, conf)) == NULL)
		return 1;
	d.srv = server_new(d.base, conf, r);
	if (server_listen(d.srv) != 0)
		return 1;
	if ((d.ctl = control_new(d.base, d.srv, &ops, uid, gid)) == NULL)
		return 1;
	if (!foreground && proc_detach(detach_err, sizeof(detach_err)) != 0)
		fatalx("%s", detach_err);
	if (proc_write_pidfile(conf->pidfile) != 0)
		log_warn("pidfile %s", conf->pidfile);

	/* libunbound reads the trust anchors and root hints when a context
	 * is finalized: the serving context now, and the probe's first
	 * round below, still as root, before the chroot. The serving
	 * context sends nothing until a client asks. */
	(void)resolver_finalize(r);
	server_start(d.srv);
	server_probe_anchors(d.srv, daemon_on_ready, daemon_on_status, &d);
	daemon_sandbox(conf);

	/* without its signal handlers danegated could be neither reloaded
	 * nor stopped cleanly: refuse to run */
	d.ev_hup = evsignal_new(d.base, SIGHUP, daemon_on_signal, &d);
	d.ev_term = evsignal_new(d.base, SIGTERM, daemon_on_signal, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, daemon_on_signal, &d);
	if (d.ev_hup == NULL || d.ev_term == NULL || d.ev_int == NULL ||
	    evsignal_add(d.ev_hup, NULL) != 0 ||
	    evsignal_add(d.ev_term, NULL) != 0 ||
	    evsignal_add(d.ev_int, NULL) != 0)
		fatalx("cannot watch SIGHUP, SIGTERM and SIGINT");
#ifdef HAVE_SYSTEMD
	{
		uint64_t usec;

		if (sd_watchdog_enabled(0, &usec) > 0) {
			usec /= 2;
			d.watchdog_interval.tv_sec = (time_t)(usec / 1000000);
			d.watchdog_interval.tv_usec =
			    (suseconds_t)(usec % 1000000);
			d.ev_watchdog = event_new(d.base, -1, EV_PERSIST,
			    daemon_on_watchdog, &d);
			/* systemd would kill a daemon that never pets it */
			if (d.ev_watchdog == NULL ||
			    event_add(d.ev_watchdog, &d.watchdog_interval) != 0)
				fatalx("cannot start the watchdog timer");
		}
	}
#endif
	log_notice("danegated %s started", PACKAGE_VERSION);
	proc_notify("STATUS=started, checking trust anchors");

	event_base_dispatch(d.base);

	control_free(d.ctl);
	server_free(d.srv);
	event_free(d.ev_hup);
	event_free(d.ev_term);
	event_free(d.ev_int);
	if (d.ev_watchdog)
		event_free(d.ev_watchdog);
	event_base_free(d.base);
	log_notice("stopped");
	return 0;
}
