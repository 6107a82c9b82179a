/*
 * cache.h - the front answer cache.
 *
 * Keeps finished answer templates (msg.h) keyed by the lower-cased question
 * name, type, class and the DO bit, so that a repeated question is answered
 * without entering libunbound at all. Only secure and insecure NOERROR or
 * NXDOMAIN answers are stored (the caller decides). The rules are those of
 * Unbound's message cache:
 *
 *   - an entry lives for the smallest TTL of every record libunbound
 *     returned, authority and additional included (OPT excluded), also
 *     those a DO=0 client never sees (msg_answer_build() computes it);
 *   - an answer with a TTL of 0 anywhere is never stored;
 *   - a served TTL is the stored one less the entry's age: never above the
 *     stored one, and it only decreases. The clock is libunbound's
 *     (the wall clock's seconds, cache_now()), so that a jump of the wall
 *     clock ages the front cache and libunbound's caches alike; a jump
 *     backwards empties the front cache rather than let an age run
 *     backwards.
 *
 * With serve-stale on (cache_set_stale(), RFC 8767), an expired entry is
 * kept for serve-expired-ttl seconds past its expiry (0: until evicted)
 * and only cache_lookup_stale() hands it out, for the caller to send when
 * the upstream failed (cache_stale_render()). Only what was stored can go
 * stale, so only answers that validated (secure or insecure), never bogus
 * ones. When the byte budget is full, SIEVE eviction (cache.c) makes room:
 * entries not asked for since they were last looked at go first. The hash
 * is seeded at start-up so that clients cannot aim at one bucket.
 *
 * Ownership: cache_insert() takes the answer (it keeps a copy in the
 * entry's own block and frees it); cache_lookup() and
 * cache_lookup_stale() return a borrowed pointer valid until the next call
 * of any other cache function.
 */
#ifndef DG_CACHE_H
#define DG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "msg.h"

struct cache;

/* max_bytes 0 gives a cache that stores nothing. */
struct cache *cache_new(size_t max_bytes, uint64_t seed);
void cache_free(struct cache *c);

/* The cache's clock, in seconds: the wall clock libunbound keeps its
 * cache by (its event base reads gettimeofday()). */
time_t cache_now(void);

/* Keeps expired entries for max_stale seconds past their expiry (0: until
 * evicted) when keep is true, for cache_lookup_stale(). Off by default. */
void cache_set_stale(struct cache *c, bool keep, uint32_t max_stale);

/* Returns the answer for q, and in *age the seconds since it was stored,
 * or NULL if there is none or it has expired. now is cache_now(). */
const struct msg_answer *cache_lookup(struct cache *c,
    const struct dns_query *q, time_t now, uint32_t *age);

/* Returns the expired answer for q that serve-stale may still hand out,
 * or NULL (none, not yet expired, or expired too long ago). */
const struct msg_answer *cache_lookup_stale(struct cache *c,
    const struct dns_query *q, time_t now);

/*
 * Renders stale answer a for q as msg_answer_render() does, but with every
 * TTL set to reply_ttl (serve-expired-reply-ttl) and, if q had EDNS, the
 * RFC 8914 Extended DNS Error 3 (Stale Answer) in the OPT record. Returns
 * the length, or 0 if out is too small.
 */
size_t cache_stale_render(const struct msg_answer *a,
    const struct dns_query *q, uint32_t reply_ttl, size_t limit,
    uint16_t edns_size, uint8_t *out, size_t cap);

/* Stores a for q (replacing any older entry); frees a if it cannot be
 * stored (TTL 0, larger than the whole budget). */
void cache_insert(struct cache *c, const struct dns_query *q,
    struct msg_answer *a, time_t now);

void cache_clear(struct cache *c);
size_t cache_entries(const struct cache *c);
size_t cache_bytes(const struct cache *c);

#endif
