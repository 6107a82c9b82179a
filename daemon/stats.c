/*
 * stats.c - see stats.h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "stats.h"

const uint64_t stats_latency_bounds_us[STATS_LATENCY_BUCKETS - 1] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250000, 1000000,
};

static const char *const rcode_names[STATS_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
};

void
stats_count_answer(struct stats *s, int rcode)
{
	if (rcode >= 0 && rcode < STATS_RCODES)
		s->answers_rcode[rcode]++;
	else
		s->answers_rcode_other++;
}

void
stats_count_latency(struct stats *s, uint64_t us)
{
	unsigned i = 0;

	while (i < STATS_LATENCY_BUCKETS - 1 && us > stats_latency_bounds_us[i])
		i++;
	s->latency[i]++;
	s->latency_sum_us += us;
	s->latency_count++;
}

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3)))
static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n :
		    o->cap - o->len - 1;
}

size_t
stats_render_text(const struct stats *s, const struct stats_gauges *g,
    char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };
	uint64_t cumulative = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	out_printf(&o, "time.up=%" PRIu64 "\n", g->uptime_s);
	out_printf(&o, "num.queries=%" PRIu64 "\n", s->queries);
	out_printf(&o, "num.queries.udp=%" PRIu64 "\n", s->queries_udp);
	out_printf(&o, "num.queries.tcp=%" PRIu64 "\n", s->queries_tcp);
	for (int i = 0; i < STATS_RCODES; i++)
		out_printf(&o, "num.answer.rcode.%s=%" PRIu64 "\n",
		    rcode_names[i], s->answers_rcode[i]);
	out_printf(&o, "num.answer.rcode.other=%" PRIu64 "\n",
	    s->answers_rcode_other);
	out_printf(&o, "num.answer.secure=%" PRIu64 "\n", s->secure);
	out_printf(&o, "num.answer.insecure=%" PRIu64 "\n", s->insecure);
	out_printf(&o, "num.answer.bogus=%" PRIu64 "\n", s->bogus);
	out_printf(&o, "num.answer.indeterminate=%" PRIu64 "\n",
	    s->indeterminate);
	out_printf(&o, "num.cachehits=%" PRIu64 "\n", s->cache_hits);
	out_printf(&o, "num.cachemiss=%" PRIu64 "\n", s->cache_misses);
	out_printf(&o, "num.acl.refused=%" PRIu64 "\n", s->acl_refused);
	out_printf(&o, "num.acl.dropped=%" PRIu64 "\n", s->acl_dropped);
	out_printf(&o, "num.ratelimited=%" PRIu64 "\n", s->ratelimited);
	out_printf(&o, "num.malformed.dropped=%" PRIu64 "\n",
	    s->malformed_dropped);
	out_printf(&o, "num.answer.truncated=%" PRIu64 "\n", s->truncated);
	out_printf(&o, "num.overload.dropped=%" PRIu64 "\n",
	    s->overload_dropped);
	out_printf(&o, "tcp.accepted=%" PRIu64 "\n", s->tcp_accepted);
	out_printf(&o, "tcp.rejected=%" PRIu64 "\n", s->tcp_rejected);
	out_printf(&o, "tcp.evicted=%" PRIu64 "\n", s->tcp_evicted);
	out_printf(&o, "tcp.timeout.read=%" PRIu64 "\n", s->tcp_read_timeouts);
	out_printf(&o, "tcp.timeout.write=%" PRIu64 "\n",
	    s->tcp_write_timeouts);
	out_printf(&o, "tcp.open=%" PRIu64 "\n", g->tcp_open);
	out_printf(&o, "requestlist.current=%" PRIu64 "\n", g->inflight);
	out_printf(&o, "cache.entries=%" PRIu64 "\n", g->cache_entries);
	out_printf(&o, "cache.bytes=%" PRIu64 "\n", g->cache_bytes);
	for (int i = 0; i < STATS_LATENCY_BUCKETS; i++) {
		cumulative += s->latency[i];
		if (i < STATS_LATENCY_BUCKETS - 1)
			out_printf(&o, "latency.le_%" PRIu64 "us=%" PRIu64
			    "\n", stats_latency_bounds_us[i], cumulative);
		else
			out_printf(&o, "latency.le_inf=%" PRIu64 "\n",
			    cumulative);
	}
	out_printf(&o, "latency.sum_us=%" PRIu64 "\n", s->latency_sum_us);
	out_printf(&o, "latency.count=%" PRIu64 "\n", s->latency_count);
	return o.len;
}

size_t
stats_render_prometheus(const struct stats *s, const struct stats_gauges *g,
    char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };
	uint64_t cumulative = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	out_printf(&o, "# HELP danegated_uptime_seconds Seconds since start.\n"
	    "# TYPE danegated_uptime_seconds gauge\n"
	    "danegated_uptime_seconds %" PRIu64 "\n", g->uptime_s);
	out_printf(&o, "# HELP danegated_queries_total Queries received.\n"
	    "# TYPE danegated_queries_total counter\n"
	    "danegated_queries_total{transport=\"udp\"} %" PRIu64 "\n"
	    "danegated_queries_total{transport=\"tcp\"} %" PRIu64 "\n",
	    s->queries_udp, s->queries_tcp);
	out_printf(&o, "# HELP danegated_answers_total Answers sent, by "
	    "rcode.\n# TYPE danegated_answers_total counter\n");
	for (int i = 0; i < STATS_RCODES; i++)
		out_printf(&o, "danegated_answers_total{rcode=\"%s\"} %" PRIu64
		    "\n", rcode_names[i], s->answers_rcode[i]);
	out_printf(&o, "danegated_answers_total{rcode=\"other\"} %" PRIu64
	    "\n", s->answers_rcode_other);
	out_printf(&o, "# HELP danegated_validation_total Resolved answers by "
	    "DNSSEC state.\n# TYPE danegated_validation_total counter\n"
	    "danegated_validation_total{state=\"secure\"} %" PRIu64 "\n"
	    "danegated_validation_total{state=\"insecure\"} %" PRIu64 "\n"
	    "danegated_validation_total{state=\"bogus\"} %" PRIu64 "\n"
	    "danegated_validation_total{state=\"indeterminate\"} %" PRIu64
	    "\n", s->secure, s->insecure, s->bogus, s->indeterminate);
	out_printf(&o, "# HELP danegated_cache_lookups_total Front answer "
	    "cache lookups.\n# TYPE danegated_cache_lookups_total counter\n"
	    "danegated_cache_lookups_total{result=\"hit\"} %" PRIu64 "\n"
	    "danegated_cache_lookups_total{result=\"miss\"} %" PRIu64 "\n",
	    s->cache_hits, s->cache_misses);
	out_printf(&o, "# HELP danegated_dropped_total Queries not served.\n"
	    "# TYPE danegated_dropped_total counter\n"
	    "danegated_dropped_total{reason=\"acl_refused\"} %" PRIu64 "\n"
	    "danegated_dropped_total{reason=\"acl_dropped\"} %" PRIu64 "\n"
	    "danegated_dropped_total{reason=\"ratelimited\"} %" PRIu64 "\n"
	    "danegated_dropped_total{reason=\"malformed\"} %" PRIu64 "\n"
	    "danegated_dropped_total{reason=\"overload\"} %" PRIu64 "\n",
	    s->acl_refused, s->acl_dropped, s->ratelimited,
	    s->malformed_dropped, s->overload_dropped);
	out_printf(&o, "# HELP danegated_tcp_connections_total Client TCP "
	    "connections, by how they were accepted or ended early.\n"
	    "# TYPE danegated_tcp_connections_total counter\n"
	    "danegated_tcp_connections_total{event=\"accepted\"} %" PRIu64
	    "\n"
	    "danegated_tcp_connections_total{event=\"rejected\"} %" PRIu64
	    "\n"
	    "danegated_tcp_connections_total{event=\"evicted\"} %" PRIu64
	    "\n"
	    "danegated_tcp_connections_total{event=\"read_timeout\"} %"
	    PRIu64 "\n"
	    "danegated_tcp_connections_total{event=\"write_timeout\"} %"
	    PRIu64 "\n", s->tcp_accepted, s->tcp_rejected, s->tcp_evicted,
	    s->tcp_read_timeouts, s->tcp_write_timeouts);
	out_printf(&o, "# HELP danegated_tcp_open Client TCP connections open."
	    "\n# TYPE danegated_tcp_open gauge\n"
	    "danegated_tcp_open %" PRIu64 "\n", g->tcp_open);
	out_printf(&o, "# HELP danegated_inflight Queries waiting for "
	    "libunbound.\n# TYPE danegated_inflight gauge\n"
	    "danegated_inflight %" PRIu64 "\n", g->inflight);
	out_printf(&o, "# HELP danegated_cache_entries Front cache entries.\n"
	    "# TYPE danegated_cache_entries gauge\n"
	    "danegated_cache_entries %" PRIu64 "\n", g->cache_entries);
	out_printf(&o, "# HELP danegated_answer_latency_seconds Time from "
	    "query to answer.\n"
	    "# TYPE danegated_answer_latency_seconds histogram\n");
	for (int i = 0; i < STATS_LATENCY_BUCKETS; i++) {
		cumulative += s->latency[i];
		if (i < STATS_LATENCY_BUCKETS - 1)
			out_printf(&o, "danegated_answer_latency_seconds_bucket"
			    "{le=\"%g\"} %" PRIu64 "\n",
			    (double)stats_latency_bounds_us[i] / 1e6,
			    cumulative);
		else
			out_printf(&o, "danegated_answer_latency_seconds_bucket"
			    "{le=\"+Inf\"} %" PRIu64 "\n", cumulative);
	}
	out_printf(&o, "danegated_answer_latency_seconds_sum %g\n"
	    "danegated_answer_latency_seconds_count %" PRIu64 "\n",
	    (double)s->latency_sum_us / 1e6, s->latency_count);
	return o.len;
}
