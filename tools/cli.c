/*
 * cli.c - see tlsacheck.h: the usage text, numbers on the command line,
 * and the list of names to audit.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsacheck.h"

void
cli_usage(FILE *f)
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

int
cli_parse_uint(const char *opt, const char *s, unsigned long min,
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

int
targets_add(struct targets *t, const char *name, bool host_mode)
{
	struct target *grown = realloc(t->list,
	    (t->n + 1) * sizeof(*grown));

	if (grown == NULL || (grown[t->n].name = strdup(name)) ==
	    NULL) {
		if (grown != NULL)
			t->list = grown;
		return -1;
	}
	t->list = grown;
	t->list[t->n++].host_mode = host_mode;
	return 0;
}

/* One name per line; blanks and '#' comments ignored. */
int
targets_read(struct targets *t, const char *path)
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
		if (*p != '\0' && targets_add(t, p, false) != 0) {
			if (f != stdin)
				fclose(f);
			return -1;
		}
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

void
targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->list[i].name);
	free(t->list);
	t->list = NULL;
	t->n = 0;
}
