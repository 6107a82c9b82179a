/*
 * cache.c - see cache.h.
 *
 * A chained hash table with a power-of-two bucket count and SIEVE
 * eviction (Zhang et al., NSDI '24): entries sit on a list in insertion
 * order, a hit only sets the entry's visited bit, and a hand that walks
 * from the oldest entry to the newest evicts the first entry not visited
 * since the hand last passed it (clearing the bits it passes). Unlike
 * LRU, a hit writes nothing but one byte of its own entry (LRU relinks
 * it at the head: writes to two neighbours and the list head, cache
 * lines that a table of thousands of answers no longer keeps close), and
 * one-time names (misses under a wildcard, NXDOMAINs) leave sooner than
 * answers that are asked again. The table
 * never rehashes: its size is fixed from the byte budget at creation
 * (one bucket per 256 bytes of budget).
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "wire.h"

#define EDE_OPTION_LEN 6	/* option code, length, INFO-CODE */
#define EDNS_OPT_EDE 15		/* RFC 8914 */

#define CACHE_KEY_MAX (DNS_MAX_NAME + 5)

/*
 * One allocation per entry: the header, the key, the answer's TTL offsets
 * and its wire, in that order (answer.ttl_offs and answer.wire point into
 * the tail). A hit reads one block, and a cached answer costs one
 * allocator header rather than three.
 */
struct cache_entry {
	struct cache_entry *hnext;		/* bucket chain */
	struct cache_entry *prev, *next;	/* head is newest */
	uint64_t hash;
	time_t stored, expires;
	struct msg_answer answer;
	uint16_t key_len;
	bool visited;				/* hit since the hand passed */
	uint8_t key[];
};

/* Where an entry with a key of key_len bytes keeps the TTL offsets
 * (uint16_t: aligned) */
static size_t
entry_ttl_offs_at(size_t key_len)
{
	return (offsetof(struct cache_entry, key) + key_len + 1) &
	    ~(size_t)1;
}

/* The bytes of an entry with a key of key_len bytes for answer a. */
static size_t
entry_size(size_t key_len, const struct msg_answer *a)
{
	return entry_ttl_offs_at(key_len) +
	    (size_t)a->n_ttls * sizeof(*a->ttl_offs) + a->len;
}

struct cache {
	struct cache_entry **buckets;
	size_t mask;
	struct cache_entry *head, *tail;
	struct cache_entry *hand;	/* next eviction candidate; NULL:
					 * start again at the tail */
	size_t bytes, max_bytes, entries;
	uint64_t seed;
	time_t clock;		/* the latest now seen: ages never run back */
	bool stale;		/* keep expired entries (serve-stale) */
	uint32_t max_stale;	/* for this long past expiry, 0 = no limit */
};

static size_t
cache_key(const struct dns_query *q, uint8_t key[CACHE_KEY_MAX])
{
	size_t n = q->qname_len;

	for (size_t i = 0; i < n; i++)
		key[i] = (uint8_t)tolower(q->qname[i]);
	key[n++] = (uint8_t)(q->qtype >> 8);
	key[n++] = (uint8_t)q->qtype;
	key[n++] = (uint8_t)(q->qclass >> 8);
	key[n++] = (uint8_t)q->qclass;
	key[n++] = q->edns_do ? 1 : 0;
	return n;
}

/* FNV-1a over the key from a random seed, with a final avalanche. */
static uint64_t
cache_hash(const struct cache *c, const uint8_t *key, size_t len)
{
	uint64_t h = c->seed ^ 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

time_t
cache_now(void)
{
	/* libunbound's event base reads the wall clock (gettimeofday() in
	 * ub_comm_base_now(), 1.17) before it answers from its cache: the
	 * same clock here, so that its TTLs and ours age alike, also across
	 * a jump. time() reads it too, from the kernel's last tick: at most
	 * a tick behind, and an order of magnitude cheaper per query than
	 * gettimeofday() under kvm-clock (about 20 ns against 200). */
	return time(NULL);
}

/*
 * Moves the cache's clock to now. A clock that went backwards would make
 * ages shrink and served TTLs grow again: everything stored is dropped
 * instead, and the next queries go to libunbound (which re-reads the same
 * clock).
 */
static void
cache_tick(struct cache *c, time_t now)
{
	if (now < c->clock)
		cache_clear(c);
	c->clock = now;
}

/* May expired entry e still be served stale at now? */
static bool
cache_stale_ok(const struct cache *c, const struct cache_entry *e,
    time_t now)
{
	return c->stale && (c->max_stale == 0 ||
	    now - e->expires < (time_t)c->max_stale);
}

struct cache *
cache_new(size_t max_bytes, uint64_t seed)
{
	struct cache *c = calloc(1, sizeof(*c));
	size_t n = 64;

	if (c == NULL)
		return NULL;
	while (n < max_bytes / 256 && n < ((size_t)1 << 24))
		n <<= 1;
	if ((c->buckets = calloc(n, sizeof(struct cache_entry *))) == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max_bytes = max_bytes;
	c->seed = seed;
	return c;
}

static void
list_unlink(struct cache *c, struct cache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
list_push_front(struct cache *c, struct cache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

static void
cache_remove(struct cache *c, struct cache_entry *e)
{
	struct cache_entry **pp = &c->buckets[e->hash & c->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (c->hand == e)
		c->hand = e->prev;
	list_unlink(c, e);
	c->bytes -= entry_size(e->key_len, &e->answer);
	c->entries--;
	free(e);
}

static struct cache_entry *
cache_find(const struct cache *c, const uint8_t *key, size_t len,
    uint64_t hash)
{
	struct cache_entry *e;

	for (e = c->buckets[hash & c->mask]; e != NULL; e = e->hnext)
		if (e->hash == hash && e->key_len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

const struct msg_answer *
cache_lookup(struct cache *c, const struct dns_query *q, time_t now,
    uint32_t *age)
{
	uint8_t key[CACHE_KEY_MAX];
	size_t len;
	uint64_t hash;
	struct cache_entry *e;

	cache_tick(c, now);
	if (c->entries == 0)
		return NULL;
	len = cache_key(q, key);
	hash = cache_hash(c, key, len);
	if ((e = cache_find(c, key, len, hash)) == NULL)
		return NULL;
	if (now >= e->expires) {
		if (!cache_stale_ok(c, e, now))
			cache_remove(c, e);
		return NULL;
	}
	e->visited = true;
	*age = (uint32_t)(now - e->stored);
	return &e->answer;
}

void
cache_set_stale(struct cache *c, bool keep, uint32_t max_stale)
{
	c->stale = keep;
	c->max_stale = max_stale;
}

const struct msg_answer *
cache_lookup_stale(struct cache *c, const struct dns_query *q, time_t now)
{
	uint8_t key[CACHE_KEY_MAX];
	size_t len;
	uint64_t hash;
	struct cache_entry *e;

	cache_tick(c, now);
	if (!c->stale || c->entries == 0)
		return NULL;
	len = cache_key(q, key);
	hash = cache_hash(c, key, len);
	if ((e = cache_find(c, key, len, hash)) == NULL || now < e->expires)
		return NULL;
	if (!cache_stale_ok(c, e, now)) {
		cache_remove(c, e);
		return NULL;
	}
	e->visited = true;
	return &e->answer;
}

size_t
cache_stale_render(const struct msg_answer *a, const struct dns_query *q,
    uint32_t reply_ttl, size_t limit, uint16_t edns_size, uint8_t *out,
    size_t cap)
{
	size_t room = q->edns ? EDE_OPTION_LEN : 0, len, opt;

	if (limit < room || cap < room)
		return 0;
	/* leave room for the EDE option, which goes on the OPT record */
	len = msg_answer_render(a, q, 0, limit - room, edns_size, out,
	    cap - room);
	if (len == 0)
		return 0;
	/* RFC 8767 §4: a stale answer carries serve-expired-reply-ttl (a
	 * truncated one has no records: its flags say TC) */
	if ((be16_load(out + 2) & DNS_FLAG_TC) == 0)
		for (unsigned i = 0; i < a->n_ttls; i++)
			be32_store(out + a->ttl_offs[i], reply_ttl);
	if (!q->edns)
		return len;
	/* The OPT record msg_answer_render() ends with: root name, type,
	 * class, TTL, RDLENGTH 0. Anything else is left as it is. */
	opt = len - 11;
	if (len < DNS_HEADER_LEN + 11 || out[opt] != 0 ||
	    be16_load(out + opt + 1) != DNS_TYPE_OPT ||
	    be16_load(out + len - 2) != 0)
		return len;
	be16_store(out + len - 2, EDE_OPTION_LEN);
	be16_store(out + len, EDNS_OPT_EDE);
	be16_store(out + len + 2, 2);
	be16_store(out + len + 4, DNS_EDE_STALE_ANSWER);
	return len + EDE_OPTION_LEN;
}

/*
 * SIEVE's eviction: from the hand towards the newest entry (wrapping to the
 * oldest), the first entry that was not visited since the hand last passed
 * it, or that has expired beyond any use, goes; the visited bits passed on
 * the way are cleared. Ends: each pass clears what it passes.
 */
static void
cache_evict_one(struct cache *c, time_t now)
{
	struct cache_entry *e = c->hand != NULL ? c->hand : c->tail;

	while (e->visited &&
	    !(now >= e->expires && !cache_stale_ok(c, e, now))) {
		e->visited = false;
		e = e->prev != NULL ? e->prev : c->tail;
	}
	c->hand = e->prev;
	cache_remove(c, e);
}

void
cache_insert(struct cache *c, const struct dns_query *q,
    struct msg_answer *a, time_t now)
{
	uint8_t key[CACHE_KEY_MAX];
	size_t len, bytes;
	uint64_t hash;
	struct cache_entry *e, *old;

	cache_tick(c, now);
	len = cache_key(q, key);
	bytes = entry_size(len, a);
	hash = cache_hash(c, key, len);
	/* An older entry goes in any case: this answer is newer, and if it
	 * cannot be kept (TTL 0) neither can what it replaces. */
	if ((old = cache_find(c, key, len, hash)) != NULL)
		cache_remove(c, old);
	if (a->min_ttl == 0 || bytes > c->max_bytes ||
	    (e = malloc(bytes)) == NULL) {
		msg_answer_free(a);
		return;
	}
	while (c->bytes + bytes > c->max_bytes && c->tail != NULL)
		cache_evict_one(c, now);

	e->hash = hash;
	e->stored = now;
	e->expires = now + (time_t)a->min_ttl;
	e->key_len = (uint16_t)len;
	e->visited = false;
	memcpy(e->key, key, len);
	e->answer = *a;
	e->answer.ttl_offs = (uint16_t *)(void *)((uint8_t *)e +
	    entry_ttl_offs_at(len));
	e->answer.wire = (uint8_t *)(e->answer.ttl_offs + a->n_ttls);
	memcpy(e->answer.ttl_offs, a->ttl_offs,
	    (size_t)a->n_ttls * sizeof(*a->ttl_offs));
	memcpy(e->answer.wire, a->wire, a->len);
	msg_answer_free(a);
	e->hnext = c->buckets[hash & c->mask];
	c->buckets[hash & c->mask] = e;
	list_push_front(c, e);
	c->bytes += bytes;
	c->entries++;
}

void
cache_clear(struct cache *c)
{
	/* cache_remove() moves the tail forward; the analyzer cannot see
	 * that the tail never has a next entry */
	while (c->tail != NULL)
		cache_remove(c, c->tail); // NOLINT(clang-analyzer-unix.Malloc)
}

size_t
cache_entries(const struct cache *c)
{
	return c->entries;
}

size_t
cache_bytes(const struct cache *c)
{
	return c->bytes;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	cache_clear(c);
	free(c->buckets);
	free(c);
}
