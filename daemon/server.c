/*
 * server.c - see server.h.
 *
 * One libevent loop carries everything: the listeners, the TCP
 * connections, and libunbound's own sockets and timers. A query's life:
 *
 *   receive → access-control → rate limit → parse → front cache
 *     hit:  render the cached template for this client, send
 *     miss: struct pending → resolver_resolve() → server_on_resolved()
 *           → template (cached when secure/insecure) → render, send
 *
 * SECURITY: see server.h. Every client-controlled length is checked before
 * use; a TCP client cannot hold more than TCP_MAX_PENDING queries or
 * unbounded output, nor a connection with a message that never completes
 * or answers it never reads (the deadlines of struct tcp_conn), nor more
 * than tcp-connections-per-client connections.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "acl.h"
#include "cache.h"
#include "conf.h"
#include "dname.h"
#include "log.h"
#include "msg.h"
#include "ratelimit.h"
#include "resolver.h"
#include "server.h"
#include "ubctx.h"
#include "wire.h"

#define UDP_BATCH 32			/* datagrams per recvmmsg/sendmmsg */
#define UDP_ROUNDS 4			/* batches per wake-up, then yield */
#define UDP_SLOT 4096			/* largest UDP query read and answer
					 * sent: edns-buffer-size <= 4096 */
#define TCP_MAX_PENDING 64		/* queries in flight per connection */
#define TCP_MAX_OUTPUT (256 * 1024)	/* unsent bytes before we stop reading */
#define PROBE_RETRY_FIRST_S 1		/* then doubled per failed round */
#define PROBE_RETRY_MAX_S 60
#define MAX_ANCHORS 16

struct listener {
	struct server *srv;
	int fd;
	bool tcp;
	struct event *ev;
	char name[80];
};

/*
 * A client's TCP connection. Its deadlines (RFC 7766 §6.2.3, and what a
 * slow or silent client must not be able to hold):
 *  - read: a message that has begun to arrive must be complete within
 *    tcp-read-timeout, however slowly its bytes trickle in;
 *  - write: unsent answers must make progress within tcp-write-timeout
 *    (libevent's write timeout), or the client is not reading;
 *  - idle: with nothing outstanding either way, the connection is closed
 *    after tcp-idle-timeout, and sooner (oldest first) when a new client
 *    needs its place.
 */
struct tcp_conn {
	struct server *srv;
	struct bufferevent *bev;	/* NULL once closed */
	struct event *timer;		/* the read or idle deadline */
	struct tcp_conn *prev, *next;
	struct sockaddr_storage peer;
	uint64_t client;		/* ratelimit_client_key() of peer */
	uint64_t last_active_ms;	/* last message in, or output drained */
	uint64_t msg_start_ms;		/* when the partial message began */
	unsigned pending;		/* queries waiting for libunbound */
	bool partial;			/* a message has begun, not complete */
	bool eof;			/* client finished sending */
};

/* Where an answer goes. */
struct reply_to {
	bool tcp;
	int udp_fd;
	struct tcp_conn *conn;
	struct sockaddr_storage peer;
	socklen_t peerlen;
};

/* A query waiting for libunbound. */
struct pending {
	struct resolver_req req;
	struct pending *prev, *next;	/* server's list, for shutdown */
	struct server *srv;
	struct dns_query q;
	struct reply_to to;
	struct timespec start;
	struct event *stale_timer;	/* serve-expired-client-timeout */
	bool answered;			/* with a stale answer already */
};

/*
 * Datagrams are read and answered in batches: one recvmmsg() for up to
 * UDP_BATCH queries, one sendmmsg() for the answers that are ready at once
 * (cache hits, errors). On a busy resolver this halves the system calls per
 * cached answer, and the kernel's work per system call is most of the cost.
 */
struct udp_batch {
	int fd;				/* the socket being served; -1 = none */
	unsigned n_out;
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH], out_iov[UDP_BATCH];
	struct sockaddr_storage in_peer[UDP_BATCH], out_peer[UDP_BATCH];
	uint8_t in_buf[UDP_BATCH][UDP_SLOT], out_buf[UDP_BATCH][UDP_SLOT];
};

struct server {
	struct event_base *base;
	struct udp_batch *batch;
	struct conf *conf;
	struct resolver *resolver;
	struct cache *cache;
	struct ratelimit *ratelimit;
	struct stats stats;
	struct listener *listeners;
	size_t n_listeners;
	struct tcp_conn *conns;
	unsigned n_conns;
	struct pending *pendings;
	unsigned inflight;
	struct timespec started;
	uint8_t buf[2 + DNS_MAX_TCP];	/* answer being sent */

	/* readiness probe */
	server_ready_fn *ready;
	server_status_fn *status;
	void *probe_arg;
	struct event *probe_timer;
	struct resolver *probe_resolver;	/* this round's; NULL between */
	unsigned probe_delay_s;			/* before the next round */
	unsigned probe_outstanding, probe_failed;
	char probe_names[MAX_ANCHORS][256];
	size_t n_probe_names;
	struct resolver_req probe_reqs[MAX_ANCHORS];
	bool is_ready;
};

static void tcp_conn_close(struct tcp_conn *c);
static void tcp_conn_arm(struct tcp_conn *c);
static void tcp_conn_resume(struct tcp_conn *c);
static void tcp_conn_abort(struct tcp_conn *c);

static uint64_t
random_u64(void)
{
	uint64_t v = 0;

	/* The kernel's generator, for hash seeds only (at start and on a
	 * reload): no crypto library needed for that, and danegated links
	 * none (GnuTLS alone cost 2 MB of resident libraries). */
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	return v;
}

static time_t
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
elapsed_us(const struct timespec *since)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	    (now.tv_nsec - since->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

static void
sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(out, cap, "%s@%u", host, port);
}

struct server *
server_new(struct event_base *base, struct conf *conf,
    struct resolver *resolver)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		fatal("calloc");
	s->base = base;
	s->conf = conf;
	s->resolver = resolver;
	/* start-up: without the configured cache or rate limit danegated
	 * does not start, rather than run without them */
	if ((s->cache = cache_new(conf->answer_cache_size,
	    random_u64())) == NULL)
		fatalx("cannot allocate the answer cache (answer-cache-size: "
		    "%zu)", conf->answer_cache_size);
	if ((s->ratelimit = ratelimit_new(conf->ip_ratelimit,
	    random_u64())) == NULL)
		fatalx("cannot allocate the rate limit table (ip-ratelimit: "
		    "%u)", conf->ip_ratelimit);
	cache_set_stale(s->cache, conf->serve_expired, conf->serve_expired_ttl);
	if ((s->batch = calloc(1, sizeof(*s->batch))) == NULL)
		fatal("calloc");
	s->batch->fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	return s;
}

/* ---- sending ---------------------------------------------------------- */

static void udp_batch_flush(struct udp_batch *b);

static void
server_send(struct server *s, struct reply_to *to, const uint8_t *pkt,
    size_t len)
{
	struct udp_batch *b = s->batch;

	if (len == 0)
		return;
	if (!to->tcp && to->udp_fd == b->fd && len <= UDP_SLOT) {
		/* answered while its batch is being read: send with it */
		if (b->n_out == UDP_BATCH)
			udp_batch_flush(b);
		memcpy(b->out_buf[b->n_out], pkt, len);
		b->out_iov[b->n_out].iov_len = len;
		b->out_peer[b->n_out] = to->peer;
		b->out[b->n_out].msg_hdr.msg_namelen = to->peerlen;
		b->n_out++;
		return;
	}
	if (!to->tcp) {
		/* A full socket buffer drops the answer: the client will
		 * retry, as it would after a lost datagram. */
		if (sendto(to->udp_fd, pkt, len, 0,
		    (const struct sockaddr *)&to->peer, to->peerlen) < 0 &&
		    errno != EAGAIN && errno != EWOULDBLOCK)
			log_debug("sendto: %s", strerror(errno));
		return;
	}
	if (to->conn->bev == NULL)
		return;
	{
		uint8_t lenbuf[2];

		be16_store(lenbuf, (uint16_t)len);
		/* An answer that cannot be queued (no memory) must not leave
		 * the client waiting for it: end the connection, and it will
		 * retry. */
		if (bufferevent_write(to->conn->bev, lenbuf, 2) != 0 ||
		    bufferevent_write(to->conn->bev, pkt, len) != 0) {
			log_warnx("cannot queue a TCP answer (out of memory): "
			    "closing the connection");
			tcp_conn_abort(to->conn);
		}
	}
	(void)s;
}

static void
server_send_error(struct server *s, struct reply_to *to,
    const struct dns_query *q, int rcode, int ede, const char *ede_text)
{
	size_t len = msg_error_render(q, rcode, ede, ede_text,
	    (uint16_t)s->conf->edns_buffer_size, s->buf, sizeof(s->buf));

	stats_count_answer(&s->stats, rcode);
	server_send(s, to, s->buf, len);
}

static size_t
reply_limit(const struct server *s, const struct reply_to *to,
    const struct dns_query *q)
{
	return to->tcp ? DNS_MAX_TCP :
	    msg_udp_limit(q, (uint16_t)s->conf->edns_buffer_size);
}

static void
server_send_answer(struct server *s, struct reply_to *to,
    const struct dns_query *q, const struct msg_answer *a, uint32_t age)
{
	size_t len = msg_answer_render(a, q, age, reply_limit(s, to, q),
	    (uint16_t)s->conf->edns_buffer_size, s->buf, sizeof(s->buf));

	if (len > 0 && (be16_load(s->buf + 2) & DNS_FLAG_TC))
		s->stats.truncated++;
	if (a->secure)
		s->stats.secure++;
	else
		s->stats.insecure++;
	stats_count_answer(&s->stats, a->rcode);
	server_send(s, to, s->buf, len);
}

/* ---- the query path --------------------------------------------------- */

static void
pending_free(struct pending *p)
{
	struct tcp_conn *c = p->to.tcp ? p->to.conn : NULL;
	struct server *s = p->srv;

	if (p->prev)
		p->prev->next = p->next;
	else
		s->pendings = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->stale_timer != NULL)
		event_free(p->stale_timer);
	free(p);
	if (c == NULL)
		return;
	c->pending--;
	if (c->bev == NULL) {
		if (c->pending == 0)
			free(c);
		return;
	}
	/* Resume a connection we stopped reading for too many queries. */
	tcp_conn_resume(c);
	if (c->eof && c->pending == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		tcp_conn_close(c);
		return;
	}
	tcp_conn_arm(c);
}

/*
 * Serve-stale (RFC 8767, serve-expired:): the upstream failed for p's
 * question, or did not answer within serve-expired-client-timeout. Sends
 * the expired answer the front cache kept, if any, with TTL
 * serve-expired-reply-ttl and EDE 3 (Stale Answer). Only validated
 * (secure or insecure) answers are ever stored, so never bogus data.
 * Returns whether it answered.
 */
static bool
server_send_stale(struct server *s, struct pending *p)
{
	const struct msg_answer *a;
	size_t len;

	if (!s->conf->serve_expired || p->answered ||
	    (a = cache_lookup_stale(s->cache, &p->q, cache_now())) == NULL)
		return false;
	len = cache_stale_render(a, &p->q, s->conf->serve_expired_reply_ttl,
	    reply_limit(s, &p->to, &p->q), (uint16_t)s->conf->edns_buffer_size,
	    s->buf, sizeof(s->buf));
	if (len == 0)
		return false;
	if (a->secure)
		s->stats.secure++;
	else
		s->stats.insecure++;
	stats_count_answer(&s->stats, a->rcode);
	server_send(s, &p->to, s->buf, len);
	p->answered = true;
	return true;
}

static void
server_on_stale_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	if (p->to.tcp && p->to.conn->bev == NULL)
		return;
	/* The fresh answer, when it comes, still refreshes the cache. */
	(void)server_send_stale(p->srv, p);
}

static void
server_on_resolved(void *arg, int err, const uint8_t *pkt, size_t len,
    enum resolver_sec sec, const char *why_bogus)
{
	struct pending *p = arg;
	struct server *s = p->srv;
	struct msg_answer *a;
	char name[DNS_NAME_TEXT_MAX];

	s->inflight--;
	if (p->to.tcp && p->to.conn->bev == NULL) {
		pending_free(p);		/* client went away */
		return;
	}
	if (err != 0 || pkt == NULL) {
		s->stats.indeterminate++;
		if (server_send_stale(s, p) || p->answered)
			goto done;
		server_send_error(s, &p->to, &p->q, DNS_RCODE_SERVFAIL,
		    DNS_EDE_NO_REACHABLE_AUTHORITY, resolver_strerror(err));
		goto done;
	}
	if (sec == RESOLVER_BOGUS) {
		/* libunbound hands bogus data over as a NOERROR answer:
		 * fail closed here. */
		s->stats.bogus++;
		if (log_get_verbosity() >= LOG_VERB_INFO &&
		    dname_to_text(p->q.qname, p->q.qname_len, false, name,
		    sizeof(name)) == 0)
			log_info("bogus answer for %s type %u: %s", name,
			    p->q.qtype, why_bogus ? why_bogus : "?");
		/* as Unbound: a bogus refresh is a failed one */
		if (server_send_stale(s, p) || p->answered)
			goto done;
		server_send_error(s, &p->to, &p->q, DNS_RCODE_SERVFAIL,
		    ubctx_ede_from_why(why_bogus), why_bogus);
		goto done;
	}
	if (len >= DNS_HEADER_LEN && (pkt[3] & 0xf) == DNS_RCODE_SERVFAIL) {
		/* resolution failed upstream (or a root-key-sentinel
		 * failure, which comes as insecure + why_bogus) */
		s->stats.indeterminate++;
		if (server_send_stale(s, p) || p->answered)
			goto done;
		server_send_error(s, &p->to, &p->q, DNS_RCODE_SERVFAIL,
		    why_bogus ? ubctx_ede_from_why(why_bogus) :
		    DNS_EDE_NO_REACHABLE_AUTHORITY, why_bogus);
		goto done;
	}
	if ((a = msg_answer_build(&p->q, pkt, len, sec == RESOLVER_SECURE,
	    s->conf->minimal_responses)) == NULL) {
		s->stats.indeterminate++;
		log_warnx("cannot use libunbound's answer (%zu bytes)", len);
		if (p->answered)
			goto done;
		server_send_error(s, &p->to, &p->q, DNS_RCODE_SERVFAIL,
		    DNS_EDE_OTHER, "malformed answer");
		goto done;
	}
	if (!p->answered)
		server_send_answer(s, &p->to, &p->q, a, 0);
	if (a->rcode == DNS_RCODE_NOERROR || a->rcode == DNS_RCODE_NXDOMAIN)
		cache_insert(s->cache, &p->q, a, cache_now());
	else
		msg_answer_free(a);
done:
	stats_count_latency(&s->stats, elapsed_us(&p->start));
	pending_free(p);
}

static void
server_handle_query(struct server *s, struct reply_to *to,
    const uint8_t *pkt, size_t len)
{
	struct dns_query q;
	enum msg_query_status st;
	enum acl_action action;
	const struct msg_answer *cached;
	struct pending *p;
	uint32_t age;
	time_t now = now_seconds();

	s->stats.queries++;
	if (to->tcp)
		s->stats.queries_tcp++;
	else
		s->stats.queries_udp++;

	action = acl_lookup(s->conf->acl, (const struct sockaddr *)&to->peer);
	if (action == ACL_DENY) {
		s->stats.acl_dropped++;
		return;
	}
	if (ratelimit_exceeded(s->ratelimit,
	    (const struct sockaddr *)&to->peer, now)) {
		s->stats.ratelimited++;
		return;
	}
	st = msg_parse_query(pkt, len, &q);
	if (st == MSG_QUERY_DROP) {
		s->stats.malformed_dropped++;
		return;
	}
	if (action == ACL_REFUSE) {
		s->stats.acl_refused++;
		server_send_error(s, to, &q, DNS_RCODE_REFUSED,
		    DNS_EDE_PROHIBITED, NULL);
		return;
	}
	switch (st) {
	case MSG_QUERY_OK:
		break;
	case MSG_QUERY_FORMERR:
		server_send_error(s, to, &q, DNS_RCODE_FORMERR, DNS_EDE_NONE,
		    NULL);
		return;
	case MSG_QUERY_NOTIMP:
		server_send_error(s, to, &q, DNS_RCODE_NOTIMP, DNS_EDE_NONE,
		    NULL);
		return;
	case MSG_QUERY_REFUSED:
		server_send_error(s, to, &q, DNS_RCODE_REFUSED, DNS_EDE_NONE,
		    NULL);
		return;
	case MSG_QUERY_BADVERS:
		server_send_error(s, to, &q, DNS_RCODE_BADVERS, DNS_EDE_NONE,
		    NULL);
		return;
	case MSG_QUERY_DROP:
		return;
	}

	if ((cached = cache_lookup(s->cache, &q, cache_now(), &age)) != NULL) {
		s->stats.cache_hits++;
		server_send_answer(s, to, &q, cached, age);
		stats_count_latency(&s->stats, 0);
		return;
	}
	s->stats.cache_misses++;
	if (s->inflight >= s->conf->num_queries_per_thread) {
		s->stats.overload_dropped++;
		if (to->tcp)
			server_send_error(s, to, &q, DNS_RCODE_SERVFAIL,
			    DNS_EDE_OTHER, "overloaded");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		server_send_error(s, to, &q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
		    "out of memory");
		return;
	}
	p->srv = s;
	p->q = q;
	p->to = *to;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	if (to->tcp)
		to->conn->pending++;
	p->next = s->pendings;
	if (s->pendings)
		s->pendings->prev = p;
	s->pendings = p;
	s->inflight++;
	/* serve-expired-client-timeout: a stale answer after that long */
	if (s->conf->serve_expired && s->conf->serve_expired_client_timeout >
	    0 && cache_lookup_stale(s->cache, &q, cache_now()) != NULL) {
		struct timeval tv = {
			.tv_sec = s->conf->serve_expired_client_timeout / 1000,
			.tv_usec = (suseconds_t)(s->conf->
			    serve_expired_client_timeout % 1000) * 1000,
		};

		p->stale_timer = evtimer_new(s->base, server_on_stale_timer,
		    p);
		if (p->stale_timer != NULL)
			evtimer_add(p->stale_timer, &tv);
	}
	/* The callback may run inside this call (local data): nothing may
	 * touch p after it. */
	if (resolver_resolve(s->resolver, &p->req, q.qname, q.qname_len,
	    q.qtype, q.qclass, server_on_resolved, p) != 0) {
		s->inflight--;
		if (!server_send_stale(s, p))
			server_send_error(s, to, &q, DNS_RCODE_SERVFAIL,
			    DNS_EDE_OTHER, "resolver refused the query");
		pending_free(p);
	}
}

/* ---- UDP -------------------------------------------------------------- */

static void
udp_batch_init(struct udp_batch *b)
{
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		b->in_iov[i].iov_base = b->in_buf[i];
		b->in_iov[i].iov_len = UDP_SLOT;
		b->in[i].msg_hdr.msg_iov = &b->in_iov[i];
		b->in[i].msg_hdr.msg_iovlen = 1;
		b->in[i].msg_hdr.msg_name = &b->in_peer[i];
		b->out_iov[i].iov_base = b->out_buf[i];
		b->out[i].msg_hdr.msg_iov = &b->out_iov[i];
		b->out[i].msg_hdr.msg_iovlen = 1;
		b->out[i].msg_hdr.msg_name = &b->out_peer[i];
	}
}

static void
udp_batch_flush(struct udp_batch *b)
{
	unsigned sent = 0;

	while (sent < b->n_out) {
		int n = sendmmsg(b->fd, b->out + sent, b->n_out - sent, 0);

		if (n <= 0) {
			/* a full socket buffer drops the rest: clients retry
			 * as after a lost datagram */
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_debug("sendmmsg: %s", strerror(errno));
			break;
		}
		sent += (unsigned)n;
	}
	b->n_out = 0;
}

static void
udp_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct server *s = l->srv;
	struct udp_batch *b = s->batch;

	(void)what;
	if (b->in[0].msg_hdr.msg_iov == NULL)
		udp_batch_init(b);
	b->fd = fd;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n;

		for (unsigned i = 0; i < UDP_BATCH; i++)
			b->in[i].msg_hdr.msg_namelen = sizeof(b->in_peer[i]);
		n = recvmmsg(fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("recvmmsg on %s", l->name);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct reply_to to = { .tcp = false, .udp_fd = fd };

			/* longer than any sane query: cut, so not a query */
			if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC) {
				s->stats.malformed_dropped++;
				continue;
			}
			to.peer = b->in_peer[i];
			to.peerlen = b->in[i].msg_hdr.msg_namelen;
			server_handle_query(s, &to, b->in_buf[i], b->in[i].msg_len);
		}
		udp_batch_flush(b);
		/* fewer than asked for: the socket is drained */
		if (n < UDP_BATCH)
			break;
	}
	b->fd = -1;
}

/* ---- TCP (RFC 7766) ----------------------------------------------------- */

static void
tcp_conn_close(struct tcp_conn *c)
{
	struct server *s = c->srv;

	if (c->bev == NULL)
		return;
	bufferevent_free(c->bev);	/* closes the socket */
	c->bev = NULL;
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	/* answers still on their way are dropped when they arrive */
	if (c->pending == 0)
		free(c);
}

/* Nothing outstanding in either direction. */
static bool
tcp_conn_idle(const struct tcp_conn *c)
{
	return c->bev != NULL && c->pending == 0 && !c->partial &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

/* (Re)sets c's timer to its read deadline if a message has begun, to its
 * idle deadline if it is idle, and stops it otherwise (waiting for
 * libunbound, or for the client to read: the write timeout's business). */
static void
tcp_conn_arm(struct tcp_conn *c)
{
	const struct conf *conf = c->srv->conf;
	uint64_t now = now_ms(), deadline;
	struct timeval tv;

	if (c->bev == NULL || c->timer == NULL)
		return;
	if (c->partial)
		deadline = c->msg_start_ms + conf->tcp_read_timeout_ms;
	else if (tcp_conn_idle(c))
		deadline = c->last_active_ms + conf->tcp_idle_timeout_ms;
	else {
		evtimer_del(c->timer);
		return;
	}
	deadline = deadline > now ? deadline - now : 0;
	tv.tv_sec = (time_t)(deadline / 1000);
	tv.tv_usec = (suseconds_t)(deadline % 1000) * 1000;
	if (evtimer_add(c->timer, &tv) != 0) {
		/* a connection without its deadline could be held forever */
		log_warnx("cannot arm a TCP deadline: closing the connection");
		tcp_conn_abort(c);
	}
}

/*
 * Ends c from a place where c must stay valid for the caller (inside the
 * query path): the socket is shut down now, and libevent's EOF or error
 * event closes and frees c on the next turn of the loop.
 */
static void
tcp_conn_abort(struct tcp_conn *c)
{
	if (c->bev == NULL)
		return;
	bufferevent_disable(c->bev, EV_READ);
	(void)shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
	bufferevent_enable(c->bev, EV_READ);
}

static void
tcp_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	struct server *s = c->srv;
	const struct conf *conf = s->conf;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	if (c->partial && now >= c->msg_start_ms + conf->tcp_read_timeout_ms) {
		s->stats.tcp_read_timeouts++;
		tcp_conn_close(c);
		return;
	}
	if (tcp_conn_idle(c) &&
	    now >= c->last_active_ms + conf->tcp_idle_timeout_ms) {
		tcp_conn_close(c);
		return;
	}
	tcp_conn_arm(c);
}

static void
tcp_on_read(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct server *s = c->srv;
	uint8_t lenbuf[2];
	size_t avail;

	while (c->bev != NULL && c->pending < TCP_MAX_PENDING) {
		size_t msglen;
		const uint8_t *msg;
		struct reply_to to = { .tcp = true, .conn = c };

		avail = evbuffer_get_length(in);
		if (avail < 2)
			break;
		evbuffer_copyout(in, lenbuf, 2);
		msglen = be16_load(lenbuf);
		if (avail < 2 + msglen)
			break;
		if ((msg = evbuffer_pullup(in, (ssize_t)(2 + msglen))) == NULL)
			break;
		c->partial = false;
		c->last_active_ms = now_ms();
		to.peer = c->peer;
		to.peerlen = sizeof(c->peer);
		server_handle_query(s, &to, msg + 2, msglen);
		if (c->bev == NULL)
			return;
		evbuffer_drain(in, 2 + msglen);
	}
	if (c->bev == NULL)
		return;
	avail = evbuffer_get_length(in);
	if (c->pending >= TCP_MAX_PENDING ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > TCP_MAX_OUTPUT) {
		/* Back-pressure: a client that does not read its answers,
		 * or has too many queries in flight, is not read from until
		 * that changes (tcp_conn_resume()); its read deadline does
		 * not run meanwhile, the write timeout does. */
		bufferevent_disable(bev, EV_READ);
		c->partial = false;
	} else if (avail > 0 && (avail < 2 ||
	    (evbuffer_copyout(in, lenbuf, 2) == 2 &&
	    avail < 2 + (size_t)be16_load(lenbuf)))) {
		/* a message has begun: it has until its read deadline to
		 * arrive whole, however slowly it trickles in */
		if (!c->partial) {
			c->partial = true;
			c->msg_start_ms = now_ms();
		}
	} else {
		c->partial = false;
	}
	tcp_conn_arm(c);
}

/*
 * Reads again from a connection that back-pressure stopped, once it may.
 * Messages already in the input buffer would wait for the client's next
 * bytes (libevent calls back only for new data): process them from the
 * loop, not from here, which may be inside an answer's callback.
 */
static void
tcp_conn_resume(struct tcp_conn *c)
{
	if (c->bev == NULL || c->eof || c->pending >= TCP_MAX_PENDING ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    TCP_MAX_OUTPUT)
		return;
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void
tcp_on_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	/* output drained */
	c->last_active_ms = now_ms();
	(void)bev;
	if (c->eof && c->pending == 0) {
		tcp_conn_close(c);
		return;
	}
	tcp_conn_resume(c);
	tcp_conn_arm(c);
}

static void
tcp_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		/* only the write timeout is set: answers made no progress
		 * for tcp-write-timeout, the client is not reading */
		c->srv->stats.tcp_write_timeouts++;
		tcp_conn_close(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		if (c->pending == 0 &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			tcp_conn_close(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		tcp_conn_close(c);
}

/* The idle connection that has been idle longest, among all (client NULL)
 * or one client's; NULL if none is idle. */
static struct tcp_conn *
tcp_oldest_idle(struct server *s, const uint64_t *client)
{
	struct tcp_conn *oldest = NULL;

	/* tcp_conn_close() unlinks before it frees: the list holds no
	 * closed connection (the analyzer does not see the unlinking) */
	// NOLINTBEGIN(clang-analyzer-unix.Malloc)
	for (struct tcp_conn *c = s->conns; c != NULL; c = c->next)
		if ((client == NULL || c->client == *client) &&
		    tcp_conn_idle(c) && (oldest == NULL ||
		    c->last_active_ms < oldest->last_active_ms))
			oldest = c;
	// NOLINTEND(clang-analyzer-unix.Malloc)
	return oldest;
}

static unsigned
tcp_client_conns(const struct server *s, uint64_t client)
{
	unsigned n = 0;

	for (const struct tcp_conn *c = s->conns; c != NULL; c = c->next)
		n += c->client == client;
	return n;
}

/*
 * Makes room for one more connection from client: within its own limit
 * (tcp-connections-per-client) and the overall one (incoming-num-tcp),
 * closing the oldest idle connection (the client's own first) where a
 * limit is reached, as RFC 7766 §6.2.3 advises under pressure. Returns
 * false if no room can be made: every connection in the way is busy.
 */
static bool
tcp_make_room(struct server *s, uint64_t client)
{
	const struct conf *conf = s->conf;
	struct tcp_conn *victim;

	if (conf->tcp_per_client > 0 &&
	    tcp_client_conns(s, client) >= conf->tcp_per_client) {
		if ((victim = tcp_oldest_idle(s, &client)) == NULL)
			return false;
		s->stats.tcp_evicted++;
		tcp_conn_close(victim);
	}
	if (s->n_conns >= conf->incoming_num_tcp) {
		/* incoming-num-tcp: 0 turns TCP off: nothing to evict */
		if (conf->incoming_num_tcp == 0 ||
		    (victim = tcp_oldest_idle(s, NULL)) == NULL)
			return false;
		s->stats.tcp_evicted++;
		tcp_conn_close(victim);
	}
	return true;
}

static void
tcp_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct server *s = l->srv;
	const struct timeval write_tv = {
		.tv_sec = s->conf->tcp_write_timeout_ms / 1000,
		.tv_usec = (suseconds_t)(s->conf->tcp_write_timeout_ms % 1000) *
		    1000,
	};

	(void)what;
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		struct tcp_conn *c;
		uint64_t client;
		int cfd;

		cfd = accept4(fd, (struct sockaddr *)&peer, &peerlen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s", l->name);
			return;
		}
		if (acl_lookup(s->conf->acl, (struct sockaddr *)&peer) ==
		    ACL_DENY) {
			s->stats.acl_dropped++;
			close(cfd);
			continue;
		}
		client = ratelimit_client_key((struct sockaddr *)&peer);
		if (!tcp_make_room(s, client) ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			s->stats.tcp_rejected++;
			close(cfd);
			continue;
		}
		c->srv = s;
		c->peer = peer;
		c->client = client;
		c->last_active_ms = now_ms();
		c->bev = bufferevent_socket_new(s->base, cfd,
		    BEV_OPT_CLOSE_ON_FREE);
		c->timer = evtimer_new(s->base, tcp_on_deadline, c);
		if (c->bev == NULL || c->timer == NULL) {
			log_warnx("cannot set up a TCP connection (out of "
			    "memory): closed");
			if (c->bev != NULL)
				bufferevent_free(c->bev);
			else
				close(cfd);
			if (c->timer != NULL)
				event_free(c->timer);
			free(c);
			s->stats.tcp_rejected++;
			continue;
		}
		bufferevent_setcb(c->bev, tcp_on_read, tcp_on_write,
		    tcp_on_event, c);
		bufferevent_set_timeouts(c->bev, NULL, &write_tv);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		s->stats.tcp_accepted++;
		tcp_conn_arm(c);
	}
}

/* ---- listeners -------------------------------------------------------- */

static int
listener_add(struct server *s, int fd, bool tcp, const char *name)
{
	struct listener *l;
	struct listener *grown = realloc(s->listeners,
	    (s->n_listeners + 1) * sizeof(*s->listeners));

	if (grown == NULL)
		fatal("realloc");
	s->listeners = grown;
	l = &s->listeners[s->n_listeners++];
	memset(l, 0, sizeof(*l));
	l->srv = s;
	l->fd = fd;
	l->tcp = tcp;
	snprintf(l->name, sizeof(l->name), "%s/%s", name, tcp ? "tcp" : "udp");
	return 0;
}

static int
socket_open(const struct conf_listen *cl, bool tcp)
{
	int fd, one = 1;
	int type = (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
	    SOCK_CLOEXEC;

	if ((fd = socket(cl->addr.ss_family, type, 0)) < 0) {
		log_warn("socket for %s", cl->text);
		return -1;
	}
	if (cl->addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (tcp) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	} else {
		int rcvbuf = 4 * 1024 * 1024;

		/* Bursts of queries should queue, not drop. */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	}
	if (bind(fd, (const struct sockaddr *)&cl->addr, cl->addrlen) != 0) {
		log_warn("cannot bind %s/%s", cl->text, tcp ? "tcp" : "udp");
		close(fd);
		return -1;
	}
	if (tcp && listen(fd, 256) != 0) {
		log_warn("listen on %s", cl->text);
		close(fd);
		return -1;
	}
	return fd;
}

#ifdef HAVE_SYSTEMD
/* Takes the sockets systemd passed; returns how many, or -1. */
static int
server_listen_activated(struct server *s)
{
	int n = sd_listen_fds(1);

	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct sockaddr_storage ss = { 0 };
		socklen_t sl = sizeof(ss);
		char name[64] = "?";
		bool tcp;

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0) {
			tcp = false;
		} else if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
			tcp = true;
		} else {
			log_err("socket-activated fd %d is neither a UDP nor "
			    "a listening TCP socket", fd);
			return -1;
		}
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			sockaddr_text(&ss, name, sizeof(name));
		listener_add(s, fd, tcp, name);
	}
	return n;
}
#endif

int
server_listen(struct server *s)
{
	const struct conf *conf = s->conf;

#ifdef HAVE_SYSTEMD
	{
		int n = server_listen_activated(s);

		if (n < 0)
			return -1;
		if (n > 0) {
			log_notice("using %d socket(s) from systemd", n);
			return 0;
		}
	}
#endif
	for (size_t i = 0; i < conf->n_listen; i++) {
		const struct conf_listen *cl = &conf->listen[i];
		int fd;

		if ((cl->addr.ss_family == AF_INET && !conf->do_ip4) ||
		    (cl->addr.ss_family == AF_INET6 && !conf->do_ip6))
			continue;
		if (conf->do_udp) {
			if ((fd = socket_open(cl, false)) < 0)
				return -1;
			listener_add(s, fd, false, cl->text);
		}
		if (conf->do_tcp) {
			if ((fd = socket_open(cl, true)) < 0)
				return -1;
			listener_add(s, fd, true, cl->text);
		}
	}
	if (s->n_listeners == 0) {
		log_err("no interface to listen on");
		return -1;
	}
	return 0;
}

void
server_start(struct server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct listener *l = &s->listeners[i];

		l->ev = event_new(s->base, l->fd, EV_READ | EV_PERSIST,
		    l->tcp ? tcp_on_accept : udp_on_readable, l);
		if (l->ev == NULL || event_add(l->ev, NULL) != 0)
			fatalx("cannot watch %s", l->name);
		log_notice("listening on %s", l->name);
	}
}

void
server_stop_listening(struct server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct listener *l = &s->listeners[i];

		if (l->ev != NULL) {
			event_free(l->ev);
			l->ev = NULL;
		}
		if (l->fd >= 0) {
			close(l->fd);
			l->fd = -1;
		}
	}
}

/* ---- reload, stats ------------------------------------------------------ */

static bool
listen_sets_equal(const struct conf *a, const struct conf *b)
{
	if (a->n_listen != b->n_listen)
		return false;
	for (size_t i = 0; i < a->n_listen; i++)
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return false;
	return true;
}

int
server_reload(struct server *s, struct conf *conf, struct resolver *resolver)
{
	struct conf *old = s->conf;
	struct cache *cache;
	struct ratelimit *rl;

	/* Everything the new configuration needs is allocated before
	 * anything of the old one is let go: a failure leaves the server
	 * exactly as it was (old cache, old rate limit, old resolver). */
	if ((cache = cache_new(conf->answer_cache_size, random_u64())) ==
	    NULL) {
		log_warnx("reload: cannot allocate the answer cache "
		    "(answer-cache-size: %zu)", conf->answer_cache_size);
		return -1;
	}
	if ((rl = ratelimit_new(conf->ip_ratelimit, random_u64())) == NULL) {
		log_warnx("reload: cannot allocate the rate limit table "
		    "(ip-ratelimit: %u)", conf->ip_ratelimit);
		cache_free(cache);
		return -1;
	}
	cache_set_stale(cache, conf->serve_expired, conf->serve_expired_ttl);
	if (!listen_sets_equal(old, conf))
		log_warnx("reload: interface changes take effect only after "
		    "a restart; still listening on the old addresses");
	resolver_retire(s->resolver);
	s->resolver = resolver;
	s->conf = conf;
	ratelimit_free(s->ratelimit);
	s->ratelimit = rl;
	cache_free(s->cache);
	s->cache = cache;
	log_set_verbosity(conf->verbosity);
	conf_free(old);
	return 0;
}

void
server_flush_cache(struct server *s)
{
	cache_clear(s->cache);
}

const struct conf *
server_conf(const struct server *s)
{
	return s->conf;
}

const struct stats *
server_stats(const struct server *s)
{
	return &s->stats;
}

void
server_gauges(const struct server *s, struct stats_gauges *g)
{
	memset(g, 0, sizeof(*g));
	g->uptime_s = elapsed_us(&s->started) / 1000000;
	g->inflight = s->inflight;
	g->cache_entries = cache_entries(s->cache);
	g->cache_bytes = cache_bytes(s->cache);
	g->tcp_open = s->n_conns;
}

/* ---- readiness probe ---------------------------------------------------- */

/*
 * Each round runs on a context of its own (resolver_new_probe()), retired
 * when the round ends: libunbound remembers failures (an upstream marked
 * down, a DNSKEY lookup that failed), and a probe that ran while the
 * network was not up yet must leave nothing behind that clients would then
 * get as SERVFAIL. Failed rounds are retried after 1 s, then 2, 4, ... up
 * to PROBE_RETRY_MAX_S, so that a resolver waiting for its network does
 * not query it every few seconds forever.
 */

static void server_probe_round(struct server *s);

static void
probe_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_probe_round(arg);
}

static void
probe_not_ready(struct server *s, const char *text)
{
	log_err("%s; not ready, retrying in %u s", text, s->probe_delay_s);
	if (s->status)
		s->status(s->probe_arg, text);
}

static void
probe_round_done(struct server *s)
{
	struct timeval tv = { 0, 0 };

	resolver_retire(s->probe_resolver);
	s->probe_resolver = NULL;
	if (s->probe_failed == 0) {
		if (!s->is_ready) {
			s->is_ready = true;
			if (s->ready)
				s->ready(s->probe_arg);
		}
		return;
	}
	tv.tv_sec = s->probe_delay_s;
	if (event_add(s->probe_timer, &tv) != 0)
		log_err("cannot schedule the next trust anchor check: "
		    "not ready");
	s->probe_delay_s = s->probe_delay_s * 2 > PROBE_RETRY_MAX_S ?
	    PROBE_RETRY_MAX_S : s->probe_delay_s * 2;
}

static void
probe_on_answer(void *arg, int err, const uint8_t *pkt, size_t len,
    enum resolver_sec sec, const char *why_bogus)
{
	struct server *s = arg;
	char status[512], why[480];

	if (s->probe_resolver == NULL)
		return;		/* cancelled by server_free() */
	s->probe_outstanding--;
	if (ubctx_probe_verdict(NULL, err, pkt, len, (int)sec, why_bogus, NULL,
	    why, sizeof(why)) != 0) {
		s->probe_failed++;
		snprintf(status, sizeof(status), "trust anchor check failed: %s",
		    why);
		probe_not_ready(s, status);
	}
	if (s->probe_outstanding == 0)
		probe_round_done(s);
}

static void
server_probe_round(struct server *s)
{
	s->probe_failed = 0;
	if ((s->probe_resolver = resolver_new_probe(s->base, s->conf)) ==
	    NULL) {
		s->probe_failed = 1;
		probe_not_ready(s, "trust anchor check failed: cannot create "
		    "a libunbound context");
		probe_round_done(s);
		return;
	}
	/* counted first: an answer may come inside resolver_resolve() */
	s->probe_outstanding = (unsigned)s->n_probe_names + 1;
	for (size_t i = 0; i < s->n_probe_names; i++) {
		uint8_t wire[DNS_MAX_NAME];
		size_t wlen = 0;
		const char *p = s->probe_names[i];

		/* presentation → wire for plain names (anchors are) */
		while (*p != '\0' && !(p[0] == '.' && p[1] == '\0')) {
			size_t lab = strcspn(p, ".");

			if (lab == 0 || lab > 63 || wlen + lab + 2 >
			    sizeof(wire))
				break;
			wire[wlen++] = (uint8_t)lab;
			memcpy(wire + wlen, p, lab);
			wlen += lab;
			p += lab;
			if (*p == '.')
				p++;
		}
		wire[wlen++] = 0;
		if (resolver_resolve(s->probe_resolver, &s->probe_reqs[i], wire,
		    wlen, DNS_TYPE_DNSKEY, DNS_CLASS_IN, probe_on_answer,
		    s) != 0)
			probe_on_answer(s, -1, NULL, 0, RESOLVER_INSECURE,
			    "resolver refused the probe");
	}
	if (--s->probe_outstanding == 0)
		probe_round_done(s);
}

void
server_probe_anchors(struct server *s, server_ready_fn *ready,
    server_status_fn *status, void *arg)
{
	s->ready = ready;
	s->status = status;
	s->probe_arg = arg;
	if (!s->conf->readiness_probe) {
		log_notice("readiness-probe: no: reporting ready without "
		    "checking the trust anchors");
		s->is_ready = true;
		if (ready)
			ready(arg);
		return;
	}
	s->n_probe_names = resolver_anchor_names(s->conf, s->probe_names,
	    MAX_ANCHORS);
	if (s->n_probe_names == 0) {
		log_err("no trust anchor could be read: danegated does not "
		    "report ready without DNSSEC validation");
		if (status)
			status(arg, "no readable trust anchor");
		return;
	}
	if ((s->probe_timer = evtimer_new(s->base, probe_on_timer, s)) ==
	    NULL) {
		log_err("cannot create the trust anchor check's timer: "
		    "not ready");
		if (status)
			status(arg, "cannot start the trust anchor check");
		return;
	}
	s->probe_delay_s = PROBE_RETRY_FIRST_S;
	server_probe_round(s);
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	server_stop_listening(s);
	/* each call unlinks the head (which has no prev): not a reuse */
	while (s->conns != NULL)
		tcp_conn_close(s->conns); // NOLINT(clang-analyzer-unix.Malloc)
	if (s->probe_timer)
		event_free(s->probe_timer);
	/* a round still running: deleting its context may still call back
	 * (with an error), which probe_on_answer() then ignores */
	if (s->probe_resolver != NULL) {
		struct resolver *probe = s->probe_resolver;

		s->probe_resolver = NULL;
		resolver_shutdown(probe);
	}
	free(s->listeners);
	free(s->batch);
	cache_free(s->cache);
	ratelimit_free(s->ratelimit);
	/* Deleting the context cancels its queries without callbacks: free
	 * what they would have answered. Retired contexts of earlier reloads
	 * are still waiting for theirs and go with the loop. */
	resolver_shutdown(s->resolver);
	while (s->pendings != NULL)
		pending_free(s->pendings); // NOLINT(clang-analyzer-unix.Malloc)
	conf_free(s->conf);
	free(s);
}
