/*
 * stats.h - danegated's counters, and their two renderings: "name=value"
 * lines for danegate-control, Prometheus text for the HTTP listener.
 *
 * The counters are plain integers updated from the single event loop.
 */
#ifndef DG_STATS_H
#define DG_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Answer latency buckets, upper bounds in microseconds (last: +Inf). */
#define STATS_LATENCY_BUCKETS 12
extern const uint64_t stats_latency_bounds_us[STATS_LATENCY_BUCKETS - 1];

#define STATS_RCODES 6		/* NOERROR..REFUSED; others are "other" */

struct stats {
	uint64_t queries, queries_udp, queries_tcp;
	uint64_t answers_rcode[STATS_RCODES];
	uint64_t answers_rcode_other;
	uint64_t secure, insecure, bogus, indeterminate;
	uint64_t cache_hits, cache_misses;
	uint64_t acl_refused, acl_dropped, ratelimited;
	uint64_t malformed_dropped, truncated, overload_dropped;
	uint64_t tcp_accepted, tcp_rejected;
	uint64_t tcp_evicted;		/* idle, closed to make room */
	uint64_t tcp_read_timeouts, tcp_write_timeouts;
	uint64_t latency[STATS_LATENCY_BUCKETS];
	uint64_t latency_sum_us, latency_count;
};

/* Values sampled when rendering, not counted. */
struct stats_gauges {
	uint64_t uptime_s;
	uint64_t inflight;
	uint64_t cache_entries, cache_bytes;
	uint64_t tcp_open;
};

void stats_count_answer(struct stats *s, int rcode);
void stats_count_latency(struct stats *s, uint64_t us);

/* Both return the length written (always NUL-terminated, truncated to
 * cap). */
size_t stats_render_text(const struct stats *s, const struct stats_gauges *g,
    char *out, size_t cap);
size_t stats_render_prometheus(const struct stats *s,
    const struct stats_gauges *g, char *out, size_t cap);

#endif
