/*
 * sts.h - MTA-STS (RFC 8461) for the engine's event-driven programs
 * (danegate-relay, danegate-policy), internal to the library: one call gives
 * the policy that applies to a mail domain now, from the cache
 * (sts_cache.h) or from a fetch that does not block the caller's libevent
 * loop: the _mta-sts TXT record through the engine's validated resolver,
 * the address of mta-sts.<domain> likewise, then HTTPS with libcurl's multi
 * interface driven by the same event base (PKIX against ca_file, no
 * redirects, 64 KiB and timeout_ms at most; mta_sts_curl_setup()'s rules).
 *
 * Ownership: struct sts owns its cache and libcurl multi handle and borrows
 * the resolver, which must outlive it and run on the same event base. A
 * query belongs to the module; the caller may drop interest with
 * sts_query_cancel() until its callback ran, after which the handle is gone.
 * The answer passed to the callback is valid during the call only.
 *
 * SECURITY: talks HTTPS to any host a mail domain names, under PKIX; what
 * arrives is parsed by mta_sts_parse() (bounded, fuzzed) before it is kept.
 */
#ifndef DANEGATE_STS_H
#define DANEGATE_STS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mta_sts.h"
#include "sts_cache.h"

struct sts;
struct sts_query;

struct sts_options {
	const char *ca_file;		/* NULL: the system's roots */
	unsigned timeout_ms;		/* the HTTPS fetch; 0: 15000 */
	bool ipv4, ipv6;		/* address families for the fetch */
	struct sts_cache_options cache;
};

enum sts_state {
	STS_NO_POLICY,			/* no MTA-STS (or mode none) */
	STS_POLICY,			/* policy applies */
	STS_FAILED,			/* published, but no policy to apply */
};

struct sts_answer {
	enum sts_state state;
	struct mta_sts_policy policy;	/* STS_POLICY */
	char id[STS_ID_MAX];
	bool cached;			/* answered from the cache */
	time_t expires;			/* STS_POLICY: when it ends (fetched
					 * + max_age) */
	/* the _mta-sts TXT lookup: its state and TTL (0 when it failed),
	 * for callers that keep what they decided from this answer */
	enum danegate_dnssec txt_state;
	uint32_t txt_ttl;
	/* STS_FAILED, or STS_POLICY from the cache after a failed refresh: */
	enum danegate_reason reason;	/* an sts-* result type */
	char error[256];
};

typedef void sts_fn(void *arg, const struct sts_answer *ans);

/* Returns 0 and *out, DANEGATE_E_INVALID (why says it: the cache
 * directory), or DANEGATE_E_NOMEM. r must be an asynchronous resolver. */
int sts_new(struct danegate_resolver *r, const struct sts_options *opts,
    struct sts **out, char *why, size_t whylen);
/* Cancels every query (no callback runs) and frees s. */
void sts_free(struct sts *s);

/*
 * The policy for domain: cb(arg, answer) exactly once unless cancelled,
 * possibly before this returns (a cached answer). *q (may be NULL) is set
 * to the handle while the query is under way, else to NULL. Returns 0 or
 * DANEGATE_E_NOMEM (cb is then not called).
 */
int sts_get_async(struct sts *s, const char *domain, sts_fn *cb, void *arg,
    struct sts_query **q);
void sts_query_cancel(struct sts_query *q);

struct sts_cache *sts_cache_of(struct sts *s);

#endif
