/*
 * spf.h - RFC 7208 SPF evaluation, internal to libdanegate: check_host()
 * (§4) for one address, pure: the DNS answers it needs come from a cache
 * the caller fills (struct spf_dns). An evaluation that reaches a query
 * the cache does not hold stops with SPF_R_NEEDS_LOOKUP and names the
 * query; the caller looks it up, adds the answer and evaluates again from
 * the start (a replay: the cache makes the earlier steps free, and the
 * limits below keep the number of queries small). The resolver side is
 * spf_lookup.h (asynchronous on the engine's resolver, or blocking). For
 * the relay's DMARC guard (issue 9) and tlsa-check's audit.
 *
 * Supported: the whole record grammar of §4.5-§6 and §12; all, ip4, ip6,
 * a, mx (both with dual-cidr), include (§5.2's result mapping), exists,
 * the redirect= modifier (§6.1), macros (§7: s l o d i p h v, the digit
 * and r transformers, delimiters, %% %_ %-, upper case URL-escaped; p is
 * always "unknown", which §7.3 allows). Limits (§4.6.4): 10 DNS-querying
 * terms (include a mx ptr exists redirect) per evaluation, 10 MX names
 * per mx, 2 void lookups (NXDOMAIN or NODATA), each a permerror when
 * exceeded. The ptr mechanism (§5.5, "SHOULD NOT be used") counts as a
 * DNS term but never matches: no PTR lookups are made. exp= is accepted
 * and ignored (no explanation is fetched). A DNS failure (SERVFAIL,
 * bogus, timeout) of any query gives temperror.
 *
 * SECURITY: records and names come from any zone; every term and macro
 * expansion is bounded by fixed buffers; the recursion depth is bounded
 * by the 10-term limit. Fuzzed (tests/fuzz/fuzz_spf.c, the term parser
 * and evaluator, and fuzz_spf_macro.c, the macro expander).
 */
#ifndef DANEGATE_SPF_H
#define DANEGATE_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SPF_TERMS_MAX		10	/* §4.6.4 DNS-querying terms */
#define SPF_MX_NAMES_MAX	10	/* §4.6.4 per mx */
#define SPF_VOID_MAX		2	/* §4.6.4 void lookups */
#define SPF_NAME_MAX		254	/* a domain name's text and its NUL */
#define SPF_DNS_ENTRIES_MAX	256	/* far above what the limits allow */

enum spf_result {
	SPF_R_NONE = 0,		/* no SPF record (or a malformed domain) */
	SPF_R_NEUTRAL,
	SPF_R_PASS,
	SPF_R_FAIL,
	SPF_R_SOFTFAIL,
	SPF_R_PERMERROR,	/* the record or a limit (§4.6, §4.6.4) */
	SPF_R_NEEDS_LOOKUP,	/* a query the cache does not hold */
	SPF_R_TEMPERROR,	/* a DNS failure */
};

/* What one query gave. */
enum spf_dns_status {
	SPF_DNS_OK = 0,		/* records (n may still be 0: NODATA) */
	SPF_DNS_NXDOMAIN,
	SPF_DNS_FAIL,		/* SERVFAIL, bogus, timeout */
};

/* One cached answer: TXT records' joined texts, A/AAAA addresses (4 or
 * 16 bytes), MX exchanges' names as text (no final dot). */
struct spf_dns_entry {
	char name[SPF_NAME_MAX];	/* lower case, no final dot */
	uint16_t type;
	enum spf_dns_status status;
	size_t n;
	uint8_t **items;
	size_t *lens;
};

struct spf_dns {
	struct spf_dns_entry *e;
	size_t n, cap;
};

/* The query an evaluation needs next. */
struct spf_query {
	char name[SPF_NAME_MAX];
	uint16_t type;			/* DNS_TYPE_TXT, _A, _AAAA, _MX */
};

/* What check_host() is asked: the address, the domain, and for macros
 * the sender (MAIL FROM; "" or NULL: postmaster@domain) and HELO name. */
struct spf_request {
	const struct sockaddr *addr;	/* AF_INET or AF_INET6 */
	const char *domain;
	const char *sender;
	const char *helo;
};

/*
 * Adds an answer for (name, type) to c: status and n items (copied).
 * Returns 0, DANEGATE_E_INVALID (a name too long, the cache full) or
 * DANEGATE_E_NOMEM. An entry already there is replaced.
 */
int spf_dns_add(struct spf_dns *c, const char *name, uint16_t type,
    enum spf_dns_status status, const uint8_t *const *items,
    const size_t *lens, size_t n);

/* Frees what c holds; c may be reused after. */
void spf_dns_clear(struct spf_dns *c);

/*
 * check_host() for req over the answers in c. Returns the result, or
 * SPF_R_NEEDS_LOOKUP and *need (need may be NULL only if c holds all).
 */
enum spf_result spf_eval(const struct spf_dns *c,
    const struct spf_request *req, struct spf_query *need);

/*
 * The record's text alone, without DNS (any lookup it needs first is
 * SPF_R_NEEDS_LOOKUP): addr against "v=spf1 ..." of len bytes.
 */
enum spf_result spf_check_static(const char *record, size_t len,
    const struct sockaddr *addr);

/*
 * Expands a macro-string (§7) of len bytes into out (cap bytes, NUL-
 * terminated) for req with d the current domain; is_domain truncates
 * the result to 253 bytes from the left (§7.3, a domain-spec). Returns
 * 0, or -1 for a syntax error or a result that does not fit.
 */
int spf_macro_expand(const char *spec, size_t len,
    const struct spf_request *req, const char *d, bool is_domain,
    char *out, size_t cap);

/* "pass", "fail", ... */
const char *spf_result_name(enum spf_result r);

#endif
