/*
 * dmarc_guard.h - the relay's DMARC guard (issue 9): whether mail for a
 * domain may go straight to the recipient's MX, must go through the
 * domain's submission route, or must be refused, from what the DNS says
 * about the domain (its DMARC record, RFC 7489, and its SPF record, RFC
 * 7208) and from the relay's configuration. Pure: no DNS here; front.c
 * does the lookups (through the engine's validating resolver) and hands
 * the answers over as text.
 *
 * The rule (RFC 7489 §6.6.2, §6.6.3): a domain whose policy is quarantine
 * or reject would see the relay's direct mail quarantined or rejected
 * unless SPF or DKIM passes aligned. The relay does not DKIM-sign, so
 * only SPF is left: it passes only if every address the relay sends from
 * (relay: spf-address:) gets "pass" from the domain's SPF, evaluated in
 * full with its own lookups (RFC 7208 check_host(), plugin/spf.h and
 * spf_lookup.h). Anything but a pass routes (the route needs no SPF) or
 * else refuses, but a temperror defers (451 4.4.3: it might have
 * passed). pct= is ignored: RFC 7489
 * §6.6.4 lets it sample, not relax, reject.
 *
 * Organizational domain (RFC 7489 §3.2, §6.6.3): if _dmarc.DOMAIN has no
 * record, the organizational domain's applies with its sp= policy; that
 * domain comes from the Public Suffix List (dmarc_org_domain(), libpsl),
 * so a.b.school.example finds school.example's and news.school.co.uk
 * school.co.uk's, and a public suffix's record is never taken.
 *
 * SECURITY: the texts come from any zone (validated by the resolver);
 * parsed by the fuzzed dmarc.c and spf.c; nothing allocated.
 */
#ifndef DANEGATE_RELAY_DMARC_GUARD_H
#define DANEGATE_RELAY_DMARC_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dmarc.h"
#include "spf.h"

/* What one TXT lookup gave. */
enum dmarc_guard_dns {
	DMARC_GUARD_DNS_NONE = 0,	/* no usable record: NXDOMAIN, NODATA,
					 * none or several of the kind,
					 * or one that does not parse */
	DMARC_GUARD_DNS_FOUND,		/* exactly one record of the kind */
	DMARC_GUARD_DNS_FAIL,		/* bogus, no answer, SERVFAIL */
	DMARC_GUARD_DNS_SKIPPED,	/* not asked */
};

enum dmarc_guard_verdict {
	DMARC_GUARD_DIRECT = 0,		/* deliver to the MX */
	DMARC_GUARD_ROUTE,		/* through the route that lists the
					 * domain */
	DMARC_GUARD_REFUSE,		/* 550 */
	DMARC_GUARD_DEFER,		/* 451: the DNS could not tell */
};

/* The facts about one domain. */
struct dmarc_guard_facts {
	enum dmarc_guard_dns dmarc;	/* _dmarc.DOMAIN */
	struct dmarc_record rec;
	enum dmarc_guard_dns org_dmarc;	/* _dmarc.ORGDOMAIN (see above) */
	struct dmarc_record org_rec;
	enum dmarc_guard_dns spf_dns;	/* DOMAIN's SPF: FAIL for its
					 * temperror */
	enum spf_result spf;		/* its verdict on the relay's
					 * addresses (spf_lookup.h) */
};

#define DMARC_GUARD_TEXT_MAX 320

struct dmarc_guard_decision {
	enum dmarc_guard_verdict verdict;
	enum dmarc_policy policy;	/* the policy that applied */
	bool from_parent;		/* the organizational domain's sp= */
	int code;			/* REFUSE 550, DEFER 451; else 0 */
	char text[DMARC_GUARD_TEXT_MAX];	/* the reply after the code
						 * ("5.7.1 DMARC ..."), and
						 * for DIRECT/ROUTE why */
};

/*
 * Decides for domain (as the message names it) from f; route is the name
 * of the route whose domain: lists the domain, or NULL.
 */
void dmarc_guard_decide(const char *domain, const struct dmarc_guard_facts *f,
    const char *route, struct dmarc_guard_decision *out);

/*
 * Picks the DMARC record out of a TXT RRset's texts (n NUL-terminated
 * strings, each a record's joined character-strings): RFC 7489 §6.6.3,
 * records not starting with "v=DMARC1" are discarded, and anything but
 * exactly one left (or one that does not parse) is no record. Returns
 * DMARC_GUARD_DNS_FOUND and *rec, or DMARC_GUARD_DNS_NONE.
 */
enum dmarc_guard_dns dmarc_guard_dmarc_txt(const char *const *texts,
    size_t n, struct dmarc_record *rec);

#endif
