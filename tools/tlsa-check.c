/*
 * tlsa-check - audits mail domains for SMTP DANE (RFC 7672) end to end,
 * and generates TLSA records from certificates.
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
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "audit.h"
#include "danegate.h"
#include "report.h"

#define EXIT_USAGE 3
#define MAX_JOBS 256

struct target {
	char *name;
	bool host_mode;
};

struct run {
	struct danegate_resolver_options ropts;
	struct audit_options aopts;
	struct target *targets;
	size_t n_targets;
	struct audit *audits;
	size_t next;			/* next target to take (under lock) */
	struct danegate_resolver *warm;	/* the anchor check's resolver, for
					 * the first worker (under lock) */
	pthread_mutex_t lock;
	int setup_error;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tlsa-check [options] DOMAIN...\n"
"       tlsa-check [options] -f FILE|-\n"
"       tlsa-check gen [--usage U] [--selector S] [--mtype M]\n"
"                      [--host NAME] [--port P] FILE.pem\n"
"\n"
"Audits mail domains for SMTP DANE: DNSSEC, MX, TLSA, STARTTLS, the\n"
"certificate match, MTA-STS, TLS-RPT, SPF and DMARC. Verdicts: dane-valid,\n"
"dane-partial, dane-failing, encrypt-only, no-dane, dns-failure, no-mail.\n"
"\n"
"  --json                one JSON document (schema: tlsa-check(1))\n"
"  --no-connect          DNS only, no SMTP connections\n"
"  --port N              SMTP port (default 25)\n"
"  --host HOST           check this host instead of a domain's MX\n"
"  --resolver ADDR[@P]   forward DNS to this resolver, still validating\n"
"  --trust-anchor FILE   DS/DNSKEY records (default /usr/share/dns/root.key)\n"
"  --unbound-conf FILE   extra libunbound settings (e.g. private root hints)\n"
"  --ca-file FILE        PKIX roots for MTA-STS (default: the system's)\n"
"  -4, -6                IPv4 or IPv6 addresses only\n"
"  -f FILE               read domains from FILE ('-': standard input)\n"
"  -j N                  audit N domains at once (default 1)\n"
"  --timeout SECONDS     per network step (default 10)\n"
"  --expiry-days N       warn when a certificate expires sooner (default 14)\n"
"  --next-cert FILE      check that this staged certificate is published\n"
"  -h, --help            this help\n"
"  -V, --version         version\n"
"\n"
"Exit: 0 all good, 1 warnings only, 2 a domain fails or would defer,\n"
"3 usage or configuration error.\n");
}

static int
add_target(struct run *run, const char *name, bool host_mode)
{
	struct target *grown = realloc(run->targets,
	    (run->n_targets + 1) * sizeof(*grown));

	if (grown == NULL || (grown[run->n_targets].name = strdup(name)) ==
	    NULL) {
		if (grown != NULL)
			run->targets = grown;
		return -1;
	}
	run->targets = grown;
	run->targets[run->n_targets++].host_mode = host_mode;
	return 0;
}

/* One name per line; blanks and '#' comments ignored. */
static int
read_targets(struct run *run, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char line[1024];
	unsigned lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "tlsa-check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;

		lineno++;
		p += strspn(p, " \t");
		end = p + strcspn(p, " \t\r\n#");
		if (*end != '\0' && *end != '#' && *end != '\n' &&
		    *end != '\r' && end[strspn(end, " \t\r\n")] != '\0' &&
		    end[strspn(end, " \t\r\n")] != '#') {
			fprintf(stderr, "tlsa-check: %s:%u: one domain per "
			    "line\n", path, lineno);
			if (f != stdin)
				fclose(f);
			return -1;
		}
		*end = '\0';
		if (*p != '\0' && add_target(run, p, false) != 0) {
			if (f != stdin)
				fclose(f);
			return -1;
		}
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

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
		if (i >= run->n_targets)
			break;
		opts = run->aopts;
		opts.host_mode = run->targets[i].host_mode;
		audit_run(r, run->targets[i].name, &opts, &run->audits[i]);
	}
	danegate_resolver_free(r);
	return NULL;
}

static int
parse_uint(const char *opt, const char *s, unsigned long min,
    unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		fprintf(stderr, "tlsa-check: %s: '%s' is not a number from %lu "
		    "to %lu\n", opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* The owner name of the first record of a zone-format file ("." for the
 * root), or "" if there is none. */
static void
anchor_zone(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, " \t\r\n");

		if (n == 0 || line[0] == ';' || line[0] == '#' ||
		    line[0] == '$')
			continue;
		snprintf(out, cap, "%.*s", (int)n, line);
		break;
	}
	fclose(f);
}

/*
 * libunbound reads the trust anchor only at the first lookup and would
 * then fail every lookup, which would look like a DNS failure of each
 * domain. Check it once up front, as danegated does at start-up: the
 * anchored zone's records must validate as secure.
 */
static int
check_trust_anchor(const struct danegate_resolver_options *ropts,
    struct danegate_resolver **warm)
{
	const char *file = ropts->trust_anchor_file ?
	    ropts->trust_anchor_file : "/usr/share/dns/root.key";
	struct danegate_resolver *r;
	struct danegate_txt *txt = NULL;
	char zone[256];
	int err = 0, rc = -1;

	if ((r = danegate_resolver_new(ropts, NULL, &err)) == NULL) {
		fprintf(stderr, "tlsa-check: cannot set up the validating "
		    "resolver with trust anchor %s: %s (check --trust-anchor, "
		    "--resolver, --unbound-conf)\n", file,
		    danegate_strerror(err));
		return -1;
	}
	anchor_zone(file, zone, sizeof(zone));
	if (zone[0] == '\0')
		fprintf(stderr, "tlsa-check: %s: no DS or DNSKEY record\n",
		    file);
	else if (danegate_lookup_txt(r, zone, &txt) != 0 ||
	    txt->state != DANEGATE_SECURE)
		fprintf(stderr, "tlsa-check: the trust anchor %s does not "
		    "validate %s (%s%s%s)\n", file, zone, txt ?
		    danegate_dnssec_name(txt->state) : "lookup failed",
		    txt && txt->why[0] ? ": " : "", txt ? txt->why : "");
	else
		rc = 0;
	danegate_txt_free(txt);
	if (rc == 0)
		*warm = r;
	else
		danegate_resolver_free(r);
	return rc;
}

/* ---- gen ---------------------------------------------------------------- */

static void
print_record(const char *owner, const struct danegate_tlsa *t,
    const char *comment)
{
	char text[2 * 1024 + 16];

	if (danegate_tlsa_format(t, text, sizeof(text)) != 0)
		return;
	printf("; %s\n%s IN TLSA %s\n", comment, owner, text);
}

/* The certificate's first DNS name, for the record's owner. */
static void
cert_host_name(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	for (unsigned i = 0; i < 16; i++) {
		size_t len = cap;
		unsigned type;

		if (gnutls_x509_crt_get_subject_alt_name2(crt, i, out, &len,
		    &type, NULL) < 0)
			break;
		if (type == GNUTLS_SAN_DNSNAME)
			return;
	}
	out[0] = '\0';
}

static int
gen_main(int argc, char **argv)
{
	unsigned long usage_v = 256, selector = 1, mtype = 1, port = 25;
	const char *host = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	gnutls_x509_crt_t *certs = NULL;
	unsigned n = 0;
	char owner[DANEGATE_NAME_MAX + 32], name[DANEGATE_NAME_MAX];
	int ch, rc = 0;
	static const struct option longopts[] = {
		{ "usage", required_argument, NULL, 'u' },
		{ "selector", required_argument, NULL, 's' },
		{ "mtype", required_argument, NULL, 'm' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (parse_uint("--usage", optarg, 0, 255, &usage_v) != 0)
				return EXIT_USAGE;
			break;
		case 's':
			if (parse_uint("--selector", optarg, 0, 255, &selector))
				return EXIT_USAGE;
			break;
		case 'm':
			if (parse_uint("--mtype", optarg, 0, 255, &mtype) != 0)
				return EXIT_USAGE;
			break;
		case 'H':
			host = optarg;
			break;
		case 'p':
			if (parse_uint("--port", optarg, 1, 65535, &port) != 0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "tlsa-check gen: name one PEM file\n");
		return EXIT_USAGE;
	}
	if (gnutls_load_file(argv[optind], &pem) < 0) {
		fprintf(stderr, "tlsa-check gen: %s: cannot read\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (gnutls_x509_crt_list_import2(&certs, &n, &pem, GNUTLS_X509_FMT_PEM,
	    0) < 0 || n == 0) {
		/* not certificates: a public or private key, selector 1 */
		gnutls_pubkey_t pub;
		gnutls_privkey_t priv;
		gnutls_datum_t spki = { NULL, 0 };
		uint8_t digest[64];
		struct danegate_tlsa t = { 0 };
		int ok;

		gnutls_pubkey_init(&pub);
		ok = gnutls_pubkey_import(pub, &pem, GNUTLS_X509_FMT_PEM) >= 0;
		if (!ok) {
			gnutls_privkey_init(&priv);
			ok = gnutls_privkey_import_x509_raw(priv, &pem,
			    GNUTLS_X509_FMT_PEM, NULL, 0) >= 0 &&
			    gnutls_pubkey_import_privkey(pub, priv, 0, 0) >= 0;
			gnutls_privkey_deinit(priv);
		}
		if (!ok || gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER,
		    &spki) < 0 || mtype > 2) {
			fprintf(stderr, "tlsa-check gen: %s: no certificate or "
			    "key in PEM form (or --mtype above 2)\n",
			    argv[optind]);
			gnutls_pubkey_deinit(pub);
			gnutls_free(pem.data);
			return EXIT_USAGE;
		}
		t.usage = usage_v > 255 ? 3 : (uint8_t)usage_v;
		t.selector = 1;
		t.mtype = (uint8_t)mtype;
		if (mtype == 0) {
			t.data = spki.data;
			t.len = spki.size;
		} else {
			gnutls_hash_fast(mtype == 1 ? GNUTLS_DIG_SHA256 :
			    GNUTLS_DIG_SHA512, spki.data, spki.size, digest);
			t.data = digest;
			t.len = mtype == 1 ? 32 : 64;
		}
		/* no host: a name relative to the host's own $ORIGIN */
		snprintf(owner, sizeof(owner), "_%lu._tcp%s%s%s", port,
		    host ? "." : "", host ? host : "",
		    host && host[strlen(host) - 1] != '.' ? "." : "");
		print_record(owner, &t, "public key (selector 1: the key "
		    "alone)");
		gnutls_free(spki.data);
		gnutls_pubkey_deinit(pub);
		gnutls_free(pem.data);
		return 0;
	}
	name[0] = '\0';
	if (host != NULL)
		snprintf(name, sizeof(name), "%s", host);
	else
		cert_host_name(certs[0], name, sizeof(name));
	snprintf(owner, sizeof(owner), "_%lu._tcp%s%s%s", port,
	    name[0] ? "." : "", name,
	    name[0] && name[strlen(name) - 1] != '.' ? "." : "");
	for (unsigned i = 0; i < n; i++) {
		gnutls_datum_t der = { NULL, 0 };
		struct danegate_tlsa t = { 0 };
		char dn[512] = "?", comment[600];
		size_t dnlen = sizeof(dn);
		/* the leaf as DANE-EE, the CAs above it as DANE-TA, unless
		 * the usage was given */
		uint8_t u = usage_v <= 255 ? (uint8_t)usage_v : i == 0 ? 3 : 2;

		(void)gnutls_x509_crt_get_dn(certs[i], dn, &dnlen);
		if (gnutls_x509_crt_export2(certs[i], GNUTLS_X509_FMT_DER,
		    &der) < 0 || danegate_tlsa_for_cert(der.data, der.size, u,
		    (uint8_t)selector, (uint8_t)mtype, &t) != 0) {
			fprintf(stderr, "tlsa-check gen: cannot make a record "
			    "for certificate %u (%s)\n", i, dn);
			rc = EXIT_USAGE;
		} else {
			snprintf(comment, sizeof(comment), "[%u] %s", i, dn);
			print_record(owner, &t, comment);
		}
		danegate_tlsa_clear(&t);
		gnutls_free(der.data);
		gnutls_x509_crt_deinit(certs[i]);
	}
	gnutls_free(certs);
	gnutls_free(pem.data);
	return rc;
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
			if (read_targets(&run, optarg) != 0)
				goto usage_error;
			break;
		case 'j':
			if (parse_uint("-j", optarg, 1, MAX_JOBS, &jobs) != 0)
				goto usage_error;
			break;
		case 'J':
			json = true;
			break;
		case 'N':
			run.aopts.connect = false;
			break;
		case 'p':
			if (parse_uint("--port", optarg, 1, 65535, &v) != 0)
				goto usage_error;
			run.aopts.port = (uint16_t)v;
			break;
		case 'H':
			if (add_target(&run, optarg, true) != 0)
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
			if (parse_uint("--timeout", optarg, 1, 3600, &v) != 0)
				goto usage_error;
			run.aopts.timeout_ms = (unsigned)v * 1000;
			run.ropts.timeout_ms = (unsigned)v * 1000;
			break;
		case 'E':
			if (parse_uint("--expiry-days", optarg, 0, 3650, &v) != 0)
				goto usage_error;
			run.aopts.expiry_days = (unsigned)v;
			break;
		case 'X':
			run.aopts.next_cert = optarg;
			break;
		case 'h':
			usage(stdout);
			goto out;
		case 'V':
			printf("tlsa-check %s\n", PACKAGE_VERSION);
			goto out;
		default:
			usage(stderr);
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
		if (add_target(&run, argv[i], false) != 0)
			goto usage_error;
	if (run.n_targets == 0) {
		usage(stderr);
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
	if ((run.audits = calloc(run.n_targets, sizeof(*run.audits))) == NULL)
		goto usage_error;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (jobs > run.n_targets)
		jobs = run.n_targets;
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
	for (size_t i = 0; i < run.n_targets; i++) {
		int c = audit_exit_class(&run.audits[i]);

		if (c > worst)
			worst = c;
	}
	if (json) {
		report_json(stdout, run.audits, run.n_targets, worst);
	} else {
		for (size_t i = 0; i < run.n_targets; i++) {
			if (i > 0)
				printf("\n");
			report_text(stdout, &run.audits[i]);
		}
	}
	curl_global_cleanup();
	goto out;
usage_error:
	worst = EXIT_USAGE;
out:
	danegate_resolver_free(run.warm);
	probe_cache_free(run.aopts.probes);
	for (size_t i = 0; i < run.n_targets; i++) {
		if (run.audits != NULL)
			audit_free(&run.audits[i]);
		free(run.targets[i].name);
	}
	free(run.audits);
	free(run.targets);
	return worst;
}
