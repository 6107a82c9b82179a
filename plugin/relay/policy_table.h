/*
 * policy_table.h - danegate-relay's per-domain TLS policy table (like
 * Postfix's smtp_tls_policy_maps) and its list of DANE exemptions.
 *
 * Policy table, one entry per line, '#' starts a comment:
 *
 *     example.com        dane
 *     .example.com       secure match=nexthop:dot-nexthop
 *     bank.example       verify match=hostname:mx.bank.example
 *     legacy.example     none
 *
 * The first word is a domain ("example.com": that domain only) or a
 * parent domain with a leading dot (".example.com": every domain below
 * it, not the domain itself), the second a level: none | may | encrypt |
 * dane | dane-only | verify | secure (Postfix's words and meanings); then
 * options: only "match=" (for verify and secure; patterns separated by ':'
 * - "hostname", "nexthop", "dot-nexthop", a name, or ".name" for names
 * below it). verify defaults to match=hostname, secure to
 * match=nexthop:dot-nexthop (Postfix's defaults). An exact entry wins
 * over the nearest parent entry; a domain not in the table gets "dane",
 * the engine's own RFC 7672 verdict.
 *
 * Exemption list, one entry per line:
 *
 *     broken.example   2027-01-31   TLSA records stale since the key roll
 *
 * a domain (exact, no leading dot), the last day the exemption applies
 * (YYYY-MM-DD, UTC, inclusive) and a reason (the rest of the line, at least
 * one word). While it applies, the domain's DANE failures no longer defer
 * its mail: delivery proceeds with unauthenticated TLS where offered, each
 * such use is logged with the reason and counted; once expired it is
 * refused (logged, DANE enforced again).
 *
 * Errors name "FILE:LINE: what". Domains are compared without regard to
 * ASCII case and without a trailing dot.
 *
 * SECURITY: the files are the administrator's (read at start-up and
 * reload), but the parsers treat them as untrusted input: every line is
 * read with bounds, NUL bytes and over-long lines are refused, and both
 * parsers are fuzzed (tests/fuzz/fuzz_policy_table.c).
 *
 * Ownership: tables come from the parse and load functions and go with
 * their free functions (NULL accepted); pointers returned by the lookups
 * are borrowed from the table until it is freed.
 */
#ifndef DANEGATE_RELAY_POLICY_TABLE_H
#define DANEGATE_RELAY_POLICY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "plugin/danegate.h"

#define POLICY_LINE_MAX		4096	/* bytes per line, without LF */
#define POLICY_FILE_MAX		(16u << 20)
#define POLICY_MATCH_MAX	8	/* match= patterns per entry */
#define POLICY_ERR_MAX		256

enum policy_level {
	POLICY_LEVEL_NONE = 0,		/* plaintext, STARTTLS never tried */
	POLICY_LEVEL_MAY,		/* opportunistic TLS */
	POLICY_LEVEL_ENCRYPT,		/* TLS required, not authenticated */
	POLICY_LEVEL_DANE,		/* RFC 7672 where usable TLSA exist,
					 * else may (the default) */
	POLICY_LEVEL_DANE_ONLY,		/* DANE required on every MX host */
	POLICY_LEVEL_VERIFY,		/* PKIX + match=, MX names from DNS */
	POLICY_LEVEL_SECURE,		/* PKIX + match=, secure-channel */
};

/* "none", "may", "encrypt", "dane", "dane-only", "verify", "secure" */
const char *policy_level_name(enum policy_level level);

struct policy_entry {
	char domain[DANEGATE_NAME_MAX];	/* lower case, no trailing dot */
	bool subdomains;		/* written with a leading dot */
	enum policy_level level;
	char match[POLICY_MATCH_MAX][DANEGATE_NAME_MAX];
	size_t n_match;			/* 0 unless verify/secure */
	unsigned line;
};

struct policy_table;

/*
 * Parses a policy table from text (len bytes; fname names it in errors).
 * Returns 0 and sets *out, or DANEGATE_E_INVALID with "FNAME:LINE: why"
 * in err (cap bytes), or DANEGATE_E_NOMEM. A domain listed twice is an
 * error.
 */
int policy_table_parse(const char *fname, const char *text, size_t len,
    struct policy_table **out, char *err, size_t cap);
/* The same from a file. */
int policy_table_load(const char *path, struct policy_table **out, char *err,
    size_t cap);
/* The entry for domain (exact first, then the nearest parent written
 * with a leading dot), or NULL: the default, "dane". */
const struct policy_entry *policy_table_find(const struct policy_table *t,
    const char *domain);
size_t policy_table_count(const struct policy_table *t);
/* The i-th entry in file order (i < count), for listings. */
const struct policy_entry *policy_table_entry(const struct policy_table *t,
    size_t i);
void policy_table_free(struct policy_table *t);

/* ---- exemptions ---------------------------------------------------------- */

struct exemption {
	char domain[DANEGATE_NAME_MAX];
	time_t expires;			/* first second it no longer applies */
	char until[11];			/* "2027-01-31" as written */
	char reason[256];
	unsigned line;
	unsigned long uses;		/* times it let mail through */
	unsigned long refused;		/* times it was found expired */
};

struct exemptions;

/* As policy_table_parse(). A domain listed twice is an error. */
int exemptions_parse(const char *fname, const char *text, size_t len,
    struct exemptions **out, char *err, size_t cap);
int exemptions_load(const char *path, struct exemptions **out, char *err,
    size_t cap);
/* domain's entry (exact match), expired or not, or NULL. */
struct exemption *exemptions_find(struct exemptions *x, const char *domain);
/* True while e applies at now. */
bool exemption_active(const struct exemption *e, time_t now);
size_t exemptions_count(const struct exemptions *x);
/* The i-th entry in file order (i < count): use counts for metrics. */
struct exemption *exemptions_entry(struct exemptions *x, size_t i);
void exemptions_free(struct exemptions *x);

#endif
