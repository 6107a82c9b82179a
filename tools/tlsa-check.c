/*
 * tlsa-check - audits mail domains for SMTP DANE (RFC 7672) end to end,
 * and generates TLSA records from certificates. This file is main() and
 * the worker threads; the logic is tools/libtlsacheck.la (audit.c,
 * report.c, cli.c, gen.c).
 *
 *     tlsa-check [options] DOMAIN...       audit (see tlsa-check(1))
 *     tlsa-check gen [options] FILE.pem    TLSA records for a cert/key
 *
 * The verdicts come from libdanegate, the same code that decides delivery
 * in danegate-relay, with every DNS answer validated locally.
 *
 * Exit codes: 0 all good, 1 warnings only, 2 a domain fails or would
 * defer, 3 usage or configuration error.
 *
 * SECURITY: an unprivileged client: DNS through libunbound (validating),
 * SMTP to port 25 of the MX hosts, HTTPS to mta-sts.<domain>. Runs
 * concurrent audits in threads (-j), each with its own resolver.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "audit.h"
#include "danegate.h"
#include "report.h"
#include "tlsacheck.h"

#define MAX_JOBS 256

struct run {
	struct danegate_resolver_options ropts;
	struct audit_options aopts;
	struct targets targets;
	struct audit *audits;
	size_t next;			/* next target to take (under lock) */
	struct danegate_resolver *warm;	/* the anchor check's resolver, for
					 * the first worker (under lock) */
	pthread_mutex_t lock;
	int setup_error;
};


static void *
worker(void *arg)
{
	struct run *run = arg;
	struct danegate_resolver *r;
	int err = 0;

	/* the first worker starts with the anchor check's warm cache */
	pthread_mutex_lock(&run->lock);
	r = run->warm;
	run->warm = NULL;
	pthread_mutex_unlock(&run->lock);
	if (r == NULL)
		r = danegate_resolver_new(&run->ropts, NULL, &err);
	if (r == NULL) {
		pthread_mutex_lock(&run->lock);
		run->setup_error = err ? err : DANEGATE_E_RESOLVER;
		pthread_mutex_unlock(&run->lock);
		return NULL;
	}
	for (;;) {
		size_t i;
		struct audit_options opts;

		pthread_mutex_lock(&run->lock);
		i = run->next++;
		pthread_mutex_unlock(&run->lock);
		if (i >= run->targets.n)
			break;
		opts = run->aopts;
		opts.host_mode = run->targets.list[i].host_mode;
		audit_run(r, run->targets.list[i].name, &opts, &run->audits[i]);
	}
	danegate_resolver_free(r);
	return NULL;
}


/*
 * The trust anchor is checked once up front, with danegated's rule
 * (danegate_resolver_check): otherwise a broken one would show as a DNS
 * failure of every domain. The checked resolver, its cache warm, goes to
 * the first worker.
 */
static int
check_trust_anchor(const struct danegate_resolver_options *ropts,
    struct danegate_resolver **warm)
{
	const char *file = ropts->trust_anchor_file ?
	    ropts->trust_anchor_file : "/usr/share/dns/root.key";
	struct danegate_resolver *r;
	char why[512];
	int err = 0;

	if ((r = danegate_resolver_new(ropts, NULL, &err)) == NULL) {
		fprintf(stderr, "tlsa-check: cannot set up the validating "
		    "resolver with trust anchor %s: %s (check --trust-anchor, "
		    "--resolver, --unbound-conf)\n", file,
		    danegate_strerror(err));
		return -1;
	}
	if (danegate_resolver_check(r, why, sizeof(why)) != 0) {
		fprintf(stderr, "tlsa-check: %s: %s\n", file, why);
		danegate_resolver_free(r);
		return -1;
	}
	*warm = r;
	return 0;
}

/* ---- audit -------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	struct run run;
	pthread_t threads[MAX_JOBS];
	unsigned long jobs = 1, v;
	bool json = false, only4 = false, only6 = false;
	int ch, worst = 0;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "no-connect", no_argument, NULL, 'N' },
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "resolver", required_argument, NULL, 'r' },
		{ "trust-anchor", required_argument, NULL, 't' },
		{ "unbound-conf", required_argument, NULL, 'U' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "expiry-days", required_argument, NULL, 'E' },
		{ "next-cert", required_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	if (argc > 1 && strcmp(argv[1], "gen") == 0)
		return gen_main(argc - 1, argv + 1);

	memset(&run, 0, sizeof(run));
	pthread_mutex_init(&run.lock, NULL);
	run.ropts.timeout_ms = 10000;
	run.aopts = (struct audit_options){ .connect = true, .ipv4 = true,
		.ipv6 = true, .port = 25, .timeout_ms = 10000,
		.expiry_days = 14 };

	while ((ch = getopt_long(argc, argv, "46f:j:hV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case '4':
			only4 = true;
			break;
		case '6':
			only6 = true;
			break;
		case 'f':
			if (targets_read(&run.targets, optarg) != 0)
				goto usage_error;
			break;
		case 'j':
			if (cli_parse_uint("-j", optarg, 1, MAX_JOBS, &jobs) != 0)
				goto usage_error;
			break;
		case 'J':
			json = true;
			break;
		case 'N':
			run.aopts.connect = false;
			break;
		case 'p':
			if (cli_parse_uint("--port", optarg, 1, 65535, &v) != 0)
				goto usage_error;
			run.aopts.port = (uint16_t)v;
			break;
		case 'H':
			if (targets_add(&run.targets, optarg, true) != 0)
				goto usage_error;
			break;
		case 'r':
			run.ropts.forwarder = optarg;
			break;
		case 't':
			run.ropts.trust_anchor_file = optarg;
			break;
		case 'U':
			run.ropts.unbound_conf = optarg;
			break;
		case 'C':
			run.aopts.ca_file = optarg;
			break;
		case 'T':
			if (cli_parse_uint("--timeout", optarg, 1, 3600, &v) != 0)
				goto usage_error;
			run.aopts.timeout_ms = (unsigned)v * 1000;
			run.ropts.timeout_ms = (unsigned)v * 1000;
			break;
		case 'E':
			if (cli_parse_uint("--expiry-days", optarg, 0, 3650, &v) != 0)
				goto usage_error;
			run.aopts.expiry_days = (unsigned)v;
			break;
		case 'X':
			run.aopts.next_cert = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			goto out;
		case 'V':
			printf("tlsa-check %s\n", PACKAGE_VERSION);
			goto out;
		default:
			cli_usage(stderr);
			goto usage_error;
		}
	}
	if (only4 && only6) {
		fprintf(stderr, "tlsa-check: -4 and -6 exclude each other\n");
		goto usage_error;
	}
	run.aopts.ipv4 = !only6;
	run.aopts.ipv6 = !only4;
	for (int i = optind; i < argc; i++)
		if (targets_add(&run.targets, argv[i], false) != 0)
			goto usage_error;
	if (run.targets.n == 0) {
		cli_usage(stderr);
		goto usage_error;
	}
	if (run.aopts.next_cert != NULL && access(run.aopts.next_cert, R_OK)
	    != 0) {
		fprintf(stderr, "tlsa-check: --next-cert %s: %s\n",
		    run.aopts.next_cert, strerror(errno));
		goto usage_error;
	}
	if (check_trust_anchor(&run.ropts, &run.warm) != 0)
		goto usage_error;
	if (run.aopts.connect && (run.aopts.probes = probe_cache_new()) ==
	    NULL)
		goto usage_error;
	if ((run.audits = calloc(run.targets.n, sizeof(*run.audits))) == NULL)
		goto usage_error;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (jobs > run.targets.n)
		jobs = run.targets.n;
	for (unsigned long i = 0; i < jobs; i++)
		if (pthread_create(&threads[i], NULL, worker, &run) != 0) {
			jobs = i;
			break;
		}
	for (unsigned long i = 0; i < jobs; i++)
		pthread_join(threads[i], NULL);
	if (run.setup_error != 0 || jobs == 0) {
		fprintf(stderr, "tlsa-check: cannot set up the validating "
		    "resolver: %s (check --trust-anchor, --resolver, "
		    "--unbound-conf)\n", danegate_strerror(run.setup_error));
		goto usage_error;
	}
	for (size_t i = 0; i < run.targets.n; i++) {
		int c = audit_exit_class(&run.audits[i]);

		if (c > worst)
			worst = c;
	}
	if (json) {
		report_json(stdout, run.audits, run.targets.n, worst);
	} else {
		for (size_t i = 0; i < run.targets.n; i++) {
			if (i > 0)
				printf("\n");
			report_text(stdout, &run.audits[i]);
		}
	}
	curl_global_cleanup();
	goto out;
usage_error:
	worst = TLSA_CHECK_EXIT_USAGE;
out:
	danegate_resolver_free(run.warm);
	probe_cache_free(run.aopts.probes);
	for (size_t i = 0; i < run.targets.n && run.audits != NULL; i++)
		audit_free(&run.audits[i]);
	free(run.audits);
	targets_free(&run.targets);
	return worst;
}
