/*
 * cache.h - the front answer cache.
 *
 * Keeps finished answer templates (msg.h) keyed by the lower-cased question
 * name, type, class and the DO bit, so that a repeated question is answered
 * without entering libunbound at all. Only secure and insecure NOERROR or
 * NXDOMAIN answers are stored (the caller decides); an entry lives for the
 * smallest TTL in it; least recently used entries go when the byte budget
 * is full. The hash is seeded at start-up so that clients cannot aim at one
 * bucket.
 *
 * Ownership: cache_insert() takes the answer; cache_lookup() returns a
 * borrowed pointer valid until the next cache_insert()/cache_clear().
 */
#ifndef DG_CACHE_H
#define DG_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "msg.h"

struct cache;

/* max_bytes 0 gives a cache that stores nothing. */
struct cache *cache_new(size_t max_bytes, uint64_t seed);
void cache_free(struct cache *c);

/* Returns the answer for q, and in *age the seconds since it was stored,
 * or NULL. now is a monotonic clock in seconds. */
const struct msg_answer *cache_lookup(struct cache *c,
    const struct dns_query *q, time_t now, uint32_t *age);

/* Stores a for q (replacing any older entry); frees a if it cannot be
 * stored (TTL 0, larger than the whole budget). */
void cache_insert(struct cache *c, const struct dns_query *q,
    struct msg_answer *a, time_t now);

void cache_clear(struct cache *c);
size_t cache_entries(const struct cache *c);
size_t cache_bytes(const struct cache *c);

#endif
