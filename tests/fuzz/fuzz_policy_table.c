/*
 * fuzz_policy_table.c - libFuzzer target for the relay's policy table and
 * exemption parsers (plugin/relay/policy_table.c).
 *
 * The input is parsed as both kinds of file. A success must hold only
 * what the header promises (lower-case domains without a trailing dot,
 * levels in range, match= only on verify/secure, NUL-terminated reasons),
 * each entry must be found again by its own domain, and an error must name
 * "fuzz:LINE:". Any breach aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/relay/policy_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_domain(const char *d)
{
	size_t n = strnlen(d, DANEGATE_NAME_MAX);

	if (n == 0 || n >= DANEGATE_NAME_MAX || d[n - 1] == '.')
		abort();
	for (size_t i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			abort();
}

static void
check_error(const char *err)
{
	if (strncmp(err, "fuzz:", 5) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct policy_table *t;
	struct exemptions *x;
	char err[POLICY_ERR_MAX];

	if (policy_table_parse("fuzz", text, size, &t, err, sizeof(err)) ==
	    0) {
		for (size_t i = 0; i < policy_table_count(t); i++) {
			const struct policy_entry *e = policy_table_entry(t,
			    i);
			const struct policy_entry *f;

			check_domain(e->domain);
			if (e->level > POLICY_LEVEL_SECURE)
				abort();
			if (e->n_match > POLICY_MATCH_MAX ||
			    ((e->level == POLICY_LEVEL_VERIFY ||
			    e->level == POLICY_LEVEL_SECURE) !=
			    (e->n_match > 0)))
				abort();
			/* an exact entry is found by its own name */
			f = policy_table_find(t, e->domain);
			if (!e->subdomains && f != e)
				abort();
			if (f != NULL && strcmp(f->domain, e->domain) != 0 &&
			    !f->subdomains)
				abort();
		}
		policy_table_free(t);
	} else {
		if (t != NULL)
			abort();
		check_error(err);
	}
	if (exemptions_parse("fuzz", text, size, &x, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < exemptions_count(x); i++) {
			struct exemption *e = exemptions_entry(x, i);

			check_domain(e->domain);
			if (strnlen(e->reason, sizeof(e->reason)) == 0 ||
			    strnlen(e->reason, sizeof(e->reason)) >=
			    sizeof(e->reason) || strlen(e->until) != 10)
				abort();
			if (exemptions_find(x, e->domain) != e)
				abort();
		}
		exemptions_free(x);
	} else {
		if (x != NULL)
			abort();
		check_error(err);
	}
	return 0;
}
