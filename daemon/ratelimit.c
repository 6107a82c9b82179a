/*
 * ratelimit.c - see ratelimit.h.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define RATELIMIT_SLOTS 8192	/* power of two */

struct rl_slot {
	uint64_t key;
	time_t second;
	unsigned count;
};

struct ratelimit {
	unsigned limit;
	uint64_t seed;
	struct rl_slot *slots;		/* RATELIMIT_SLOTS; NULL when off */
};

struct ratelimit *
ratelimit_new(unsigned limit, uint64_t seed)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->limit = limit;
	rl->seed = seed;
	if (limit > 0 &&
	    (rl->slots = calloc(RATELIMIT_SLOTS, sizeof(*rl->slots))) == NULL) {
		free(rl);
		return NULL;
	}
	return rl;
}

unsigned
ratelimit_limit(const struct ratelimit *rl)
{
	return rl->limit;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

uint64_t
ratelimit_client_key(const struct sockaddr *sa)
{
	uint64_t key = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)
		    (const void *)sa;

		memcpy(&key, &sin->sin_addr, 4);
		key |= 1ULL << 63;	/* never equal to an IPv6 key */
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		memcpy(&key, &sin6->sin6_addr, 8);
		key &= ~(1ULL << 63);
	}
	return key;
}

bool
ratelimit_exceeded(struct ratelimit *rl, const struct sockaddr *sa,
    time_t now)
{
	uint64_t key, h;
	struct rl_slot *slot;

	if (rl->limit == 0)
		return false;
	key = ratelimit_client_key(sa);
	h = (key ^ rl->seed) * 0x9e3779b97f4a7c15ULL;
	slot = &rl->slots[(h >> 32) & (RATELIMIT_SLOTS - 1)];
	if (slot->key != key || slot->second != now) {
		slot->key = key;
		slot->second = now;
		slot->count = 0;
	}
	return ++slot->count > rl->limit;
}
