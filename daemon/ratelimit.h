/*
 * ratelimit.h - per-client query rate limit (ip-ratelimit:).
 *
 * Counts queries per client address (IPv4 /32, IPv6 /64: one host's block)
 * per second in a fixed table of slots; a client over its limit in the
 * current second is limited. A client hashing to a slot held by another takes
 * it over (with a fresh count): the table's size is fixed, so a flood of
 * spoofed sources costs no memory, at the price of some leniency under such
 * a flood.
 */
#ifndef DG_RATELIMIT_H
#define DG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct ratelimit;

/*
 * limit: queries per second per client; 0 disables (allow always: no table
 * is allocated). Returns NULL only when out of memory, never to mean "off":
 * a caller that gets NULL must keep the limit it had (or refuse to start),
 * so that memory pressure cannot switch the limit off. Free with
 * ratelimit_free().
 */
struct ratelimit *ratelimit_new(unsigned limit, uint64_t seed);
void ratelimit_free(struct ratelimit *rl);

/* The client's block as 64 bits, the unit of counting: an IPv4 address,
 * or an IPv6 /64 (one host's block). Also used for TCP's per-client
 * connection limit. */
uint64_t ratelimit_client_key(const struct sockaddr *sa);

/* The configured limit (0 = off). */
unsigned ratelimit_limit(const struct ratelimit *rl);

/* Counts one query from sa at second now; true if it must be refused. */
bool ratelimit_exceeded(struct ratelimit *rl, const struct sockaddr *sa,
    time_t now);

#endif
