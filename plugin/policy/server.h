/*
 * server.h - danegate-policy's service: socketmap listeners (unix and TCP
 * on loopback, or sockets systemd passed), one connection per Postfix
 * process, the answer cache, and the lookups behind it: the engine's
 * asynchronous destination lookup and its MTA-STS module (plugin/sts.h,
 * the on-disk cache shared with the relay), both on the event loop.
 *
 * A connection carries one request at a time (Postfix waits for each
 * reply); bytes pipelined after a request wait in the input buffer.
 * Lookups of one domain in flight at the same time are done once.
 *
 * SECURITY: talks to local socketmap clients (untrusted bytes, read by
 * socketmap.c), to DNS through libunbound (validated), and to MTA-STS web
 * servers (HTTPS, libcurl). Runs unprivileged after start-up.
 *
 * Ownership: the server owns its conf (policy_server_reload() takes the
 * new one and frees the old).
 */
#ifndef DANEGATE_POLICY_SERVER_H
#define DANEGATE_POLICY_SERVER_H

#include <stdint.h>

#include "conf.h"

struct event_base;
struct policy_server;

#define POLICY_CLIENTS_MAX	4096	/* connections at a time */
#define POLICY_IDLE_SECONDS	300	/* an idle connection is closed */

/* Reply latency buckets, upper bounds in microseconds; the last bucket
 * (POLICY_LATENCY_BUCKETS - 1) counts the rest (+Inf). */
#define POLICY_LATENCY_BUCKETS	15
extern const uint64_t policy_latency_bounds_us[POLICY_LATENCY_BUCKETS - 1];

/* Postfix's TLS security levels, the first word of an OK reply
 * (smtp_tls_policy_maps); an unknown word counts as the last. */
#define POLICY_LEVELS		9
extern const char *const policy_level_names[POLICY_LEVELS];

/* Counters for metrics and the log. */
struct policy_stats {
	uint64_t replies[4];		/* OK, NOTFOUND, TEMP, PERM */
	uint64_t ok_level[POLICY_LEVELS];	/* OK replies by level */
	uint64_t cache_hits, cache_misses, coalesced;
	uint64_t sts_fetches;		/* MTA-STS checks started */
	uint64_t sts_fetched, sts_fetch_failed;	/* policies published:
					 * fetched, or not */
	uint64_t refused;		/* protocol errors */
	uint64_t latency[POLICY_LATENCY_BUCKETS];	/* per bucket */
	uint64_t latency_us_sum;
	uint64_t clients, clients_max;
};

/*
 * Creates the service on base with conf (taken over). The resolver is
 * created here, and the MTA-STS cache opened (sts-cache-dir:, made if
 * missing and given to username). Returns NULL (logged) on failure.
 */
struct policy_server *policy_server_new(struct event_base *base,
    struct policy_conf *conf);

/* Binds the listeners (as root): systemd's sockets if any, else conf's.
 * Returns 0 or -1 (logged). */
int policy_server_listen(struct policy_server *s);

/* Runs the loop until a first lookup finished (or timed out): libunbound
 * reads its files then, which must happen before the privilege drop. */
void policy_server_prime(struct policy_server *s);

/* Swaps in conf (taken over), a new resolver and MTA-STS (its cache
 * read back from disk); lookups in flight answer TEMP, the answer cache
 * is dropped. Returns 0, or -1 (logged) with the old
 * configuration kept and conf freed. */
int policy_server_reload(struct policy_server *s, struct policy_conf *conf);

const struct policy_stats *policy_server_stats(const struct policy_server *s);

/* Prometheus text for the counters into buf; returns its length. */
size_t policy_server_metrics(const struct policy_server *s, char *buf,
    size_t cap);

/* The configuration in force (borrowed until the next reload). */
const struct policy_conf *policy_server_conf(const struct policy_server *s);

void policy_server_free(struct policy_server *s);

#endif
