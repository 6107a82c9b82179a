/*
 * sts_cache.h - the engine's MTA-STS policy cache (RFC 8461 §3.3), internal
 * to the library, shared by danegate-relay and danegate-policy (both link
 * libdanegate-internal), so that both apply one set of rules:
 *
 * - a policy is kept for its max_age from the moment it was fetched;
 * - a TXT id different from the cached policy's asks for a new fetch;
 * - a failed refresh keeps the unexpired policy (the TXT record and the
 *   policy host vanishing is a refresh that fails: the cached policy goes
 *   on being applied until it expires);
 * - at least STS_CACHE_RETRY seconds pass between failed fetches of one
 *   domain;
 * - a policy is refreshed ahead of expiry, in the background, while the
 *   cached copy answers;
 * - the cache is bounded by entries and by policy bytes (the least recently
 *   used entry goes first) and persisted in a directory, one file per
 *   domain, written atomically (temporary file, fsync, rename), read back
 *   at start; a corrupt or expired file is ignored with a log line.
 *
 * The cache is pure: every call takes the time, so the unit tests run it on
 * a simulated clock. The fetch itself is sts_fetch.h's.
 *
 * Ownership: the cache owns its entries; pointers it hands out are valid
 * until the next call that changes the cache (put, fail, or a lookup that
 * evicts). Not thread-safe: one cache per event loop.
 *
 * SECURITY: the directory holds what remote web servers sent; its files
 * are parsed by sts_cache_parse_file(), bounded and fuzzed
 * (tests/fuzz/fuzz_sts_cache.c). File names are the domain, checked to be a
 * host name (letters, digits, '-', '_', '.') so no name leaves the
 * directory.
 */
#ifndef DANEGATE_STS_CACHE_H
#define DANEGATE_STS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "mta_sts.h"

#define STS_CACHE_RETRY 300		/* seconds between failed fetches */
#define STS_CACHE_REFRESH_AHEAD 86400	/* at most: refresh this early */
#define STS_ID_MAX 64
#define STS_CACHE_DIR_DEFAULT "/var/lib/danegate/sts" /* sts-cache-dir: */			/* RFC 8461 §3.1: 1*32 alnum */

struct sts_cache;

/* Called for each thing worth a log line (a corrupt file, a failed write). */
typedef void sts_cache_log_fn(void *arg, const char *msg);

struct sts_cache_options {
	const char *dir;		/* NULL: memory only */
	size_t max_entries;		/* 0: 10000 */
	size_t max_bytes;		/* policy bytes; 0: 16 MiB */
	sts_cache_log_fn *log;		/* NULL: silent */
	void *log_arg;
};

/* One domain's cached state. */
struct sts_cache_entry {
	char domain[DANEGATE_NAME_MAX];
	bool have_policy;		/* policy, id, body, fetched are set */
	char id[STS_ID_MAX];
	struct mta_sts_policy policy;
	char *body;			/* the policy as fetched, for the disk */
	size_t body_len;
	time_t fetched;
	time_t expires;			/* fetched + max_age */
	time_t last_failure;		/* 0: none since the last success */
	enum danegate_reason failure;	/* sts-* result type of that failure */
	char error[256];
	bool refreshing;		/* a fetch for this domain is under way */
	/* private: */
	struct sts_cache_entry *hnext, *lru_prev, *lru_next;
};

/* What the caller does after sts_cache_lookup(). */
enum sts_cache_action {
	STS_CACHE_NONE,		/* no TXT, nothing cached: no MTA-STS */
	STS_CACHE_USE,		/* apply entry->policy */
	STS_CACHE_USE_REFRESH,	/* apply it and refetch in the background */
	STS_CACHE_FETCH,	/* nothing usable: fetch, then decide */
	STS_CACHE_FAILED,	/* nothing usable, last fetch failed less than
				 * STS_CACHE_RETRY ago: entry->failure stands */
};

/*
 * Opens the cache and loads opts->dir (created if missing, mode 0700).
 * Returns 0 and *out, DANEGATE_E_NOMEM, or DANEGATE_E_INVALID with a
 * sentence in why when the directory cannot be made or read.
 */
int sts_cache_open(const struct sts_cache_options *opts, time_t now,
    struct sts_cache **out, char *why, size_t whylen);
void sts_cache_free(struct sts_cache *c);

/*
 * The decision for domain given the live _mta-sts TXT: txt_id is its id,
 * or NULL when no valid TXT record was found (absent or lookup failed).
 * *entry is the domain's entry or NULL. A USE_REFRESH or FETCH answer marks
 * the entry refreshing, so one fetch runs per domain; sts_cache_put() or
 * sts_cache_fail() ends it.
 */
enum sts_cache_action sts_cache_lookup(struct sts_cache *c,
    const char *domain, const char *txt_id, time_t now,
    const struct sts_cache_entry **entry);

/*
 * A fetched policy: body (len bytes, as served) under TXT id. Parses it;
 * returns 0, DANEGATE_E_INVALID (the body is no policy: an error, counted
 * as a failure by the caller with sts_cache_fail()) or DANEGATE_E_NOMEM.
 * A policy with max_age 0 removes the entry's policy; mode none is kept
 * (the caller applies no MTA-STS while it lasts).
 * Writes the domain's file when the cache has a directory.
 */
int sts_cache_put(struct sts_cache *c, const char *domain, const char *id,
    const char *body, size_t len, time_t now);

/* A failed fetch (reason: an sts-* result type, error: why). */
void sts_cache_fail(struct sts_cache *c, const char *domain,
    enum danegate_reason reason, const char *error, time_t now);

/* The unexpired policy cached for domain, or NULL. */
const struct sts_cache_entry *sts_cache_get(struct sts_cache *c,
    const char *domain, time_t now);

size_t sts_cache_count(const struct sts_cache *c);
size_t sts_cache_bytes(const struct sts_cache *c);

/*
 * Calls fn(arg, entry) for every entry, the most recently used first
 * (for danegate-control's listing), until fn returns non-zero. fn must
 * not change the cache.
 */
typedef int sts_cache_visit_fn(void *arg, const struct sts_cache_entry *e);
void sts_cache_foreach(const struct sts_cache *c, sts_cache_visit_fn *fn,
    void *arg);

/*
 * The on-disk format, one file per domain:
 *     danegate-sts-cache 1\n
 *     domain: <domain>\n
 *     id: <id>\n
 *     fetched: <unix seconds>\n
 *     \n
 *     <the policy body as served>
 * Parses a file's text into e (domain, id, fetched, policy, expires; body
 * points into data, not copied). Returns 0 or DANEGATE_E_INVALID with
 * "line N: ..." in why.
 */
int sts_cache_parse_file(const char *data, size_t len,
    struct sts_cache_entry *e, char *why, size_t whylen);

/* Is s usable as a file name in the cache directory (a host name)? */
bool sts_cache_name_ok(const char *s);

#endif
