/*
 * dmarc.h - a DMARC policy record (RFC 7489 §6.3, §6.4), internal to
 * libdanegate: what the relay's DMARC guard (issue 9) and tlsa-check's
 * audit need from it, the requested policy for the domain and its
 * subdomains and the sampling rate.
 *
 * Follows the RFC's grammar where it is strict (v=DMARC1 first and exact;
 * tags separated by ';' with optional blanks; each known tag's value in
 * its grammar) and §6.6.3's leniency where it says to be lenient (unknown
 * tags ignored; a record without a valid p= but with a valid rua= is
 * p=none; an invalid sp= is ignored).
 *
 * SECURITY: the text comes from any zone (joined by txt_join()); parsed
 * with bounds, never allocated; fuzzed (tests/fuzz/fuzz_dmarc.c).
 */
#ifndef DANEGATE_DMARC_H
#define DANEGATE_DMARC_H

#include <stdbool.h>
#include <stddef.h>

enum dmarc_policy {
	DMARC_P_NONE = 0,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

struct dmarc_record {
	enum dmarc_policy p;	/* for the domain */
	enum dmarc_policy sp;	/* for its subdomains (p if not given) */
	unsigned pct;		/* 0-100, 100 if not given */
};

/* what dmarc_record_parse() says */
enum dmarc_status {
	DMARC_OK = 0,
	DMARC_E_VERSION = -1,	/* not a DMARC record: no v=DMARC1 first */
	DMARC_E_SYNTAX = -2,	/* a tag that is not NAME=VALUE */
	DMARC_E_POLICY = -3,	/* no valid p= and no valid rua= */
	DMARC_E_DUP = -4,	/* a tag twice */
};

/*
 * Parses one record's text (len bytes, need not be NUL-terminated).
 * Returns DMARC_OK and *out, or a negative DMARC_E_* status.
 */
int dmarc_record_parse(const char *text, size_t len, struct dmarc_record *out);

/*
 * Loads the Public Suffix List for dmarc_org_domain(): libpsl's
 * psl_latest(), the newer of the list built into libpsl and the
 * system's (Debian's publicsuffix package, /usr/share/publicsuffix,
 * updated more often than libpsl). To be called before a chroot hides
 * that file; without it, the first dmarc_org_domain() takes the built-in
 * list. Returns 0 or DANEGATE_E_NOMEM (no list at all).
 */
int dmarc_psl_load(void);

/*
 * The organizational domain of domain (RFC 7489 §3.2): its registrable
 * domain by the Public Suffix List, one label below the longest public
 * suffix (a TLD the list does not know counts as one, its rule "*").
 * Returns a pointer into domain, or NULL if domain is a public suffix
 * itself or not a name.
 */
const char *dmarc_org_domain(const char *domain);

/* "none", "quarantine", "reject" */
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
