/*
 * server.c - danegate-policy's listeners, connections, answer cache and
 * lookups (see server.h).
 *
 * A request's path: socketmap.c reads it; verdict_key_domain() says
 * whether it is a domain to look up; the answer cache may hold the reply;
 * else the domain's lookup in flight is joined or started:
 * danegate_destination_lookup_async() on the loop, then verdict_decide(),
 * and where it needs MTA-STS, the engine's sts module (plugin/sts.h: its
 * on-disk cache shared with the relay, RFC 8461 §3.3's rules, refresh
 * ahead of expiry), on the same loop. The reply of every waiting
 * connection is then written and the answer cached for cache-ttl seconds
 * at most, and never longer than the smallest TTL of the DNS answers it
 * came from nor the MTA-STS policy's max_age (TEMP answers are not
 * cached).
 *
 * SECURITY: local clients' bytes go only into the bounded reader of each
 * connection; a connection holds one request at a time, at most
 * POLICY_CLIENTS_MAX connections are served. Lookups use the engine's
 * validating resolver; MTA-STS fetches are HTTPS with WebPKI (the
 * engine's).
 *
 * Ownership: a struct lookup lives from its start until its last waiter
 * got the reply (a connection that goes away leaves the waiters' list);
 * its MTA-STS query is cancelled when it goes away first.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "addr.h"
#include "danegate.h"
#include "log.h"
#include "mta_sts.h"
#include "sandbox.h"
#include "sts.h"
#include "socketmap.h"
#include "verdict.h"
#include "server.h"

#define ANSWER_BUCKETS	65536u		/* power of two */

/* A cached answer: both maps' replies for one domain. */
struct answer {
	struct answer *next;
	char domain[DANEGATE_NAME_MAX];
	time_t expires;
	enum verdict_status status[2];
	char *text[2];
};

struct conn;

/* One domain's lookup in flight. */
struct lookup {
	struct policy_server *s;
	struct lookup *prev, *next;	/* s->lookups */
	char domain[DANEGATE_NAME_MAX];
	struct conn *waiters;
	int err;
	struct danegate_destination *dest;
	struct mta_sts_result sts;
	bool sts_done;
	struct sts_query *sts_q;	/* MTA-STS under way */
	uint32_t sts_ttl;		/* the _mta-sts TXT's TTL */
	time_t sts_expires;		/* the policy's end, 0: none */
	unsigned generation;		/* resolver it was started on */
	struct lookup *next_doomed;	/* lookups_abort() */
};

struct conn {
	struct policy_server *s;
	struct conn *prev, *next;	/* s->conns */
	struct bufferevent *bev;
	struct socketmap_reader reader;
	char peer[80];
	enum verdict_map map;
	struct lookup *waiting;
	struct conn *next_waiter;
	struct timespec start;
	bool busy, closing;
};

struct listener {
	struct evconnlistener *ev;
	char name[128];
	char unix_path[108];		/* removed at exit ("" for TCP) */
};

struct policy_server {
	struct event_base *base;
	struct policy_conf *conf;
	struct danegate_resolver *resolver;
	unsigned generation;
	struct listener listeners[POLICY_LISTEN_MAX];
	size_t n_listeners;
	struct conn *conns;
	struct lookup *lookups;
	struct answer **answers;
	size_t n_answers;
	struct sts *sts;		/* the engine's MTA-STS, on resolver */
	struct policy_stats stats;
};

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s != NULL ? s : "");

	if (d == NULL)
		fatal("strdup");
	return d;
}

/* ---- the answer cache ---------------------------------------------------- */

static void
answer_free(struct answer *a)
{
	free(a->text[0]);
	free(a->text[1]);
	free(a);
}

static void
cache_flush(struct policy_server *s)
{
	for (size_t i = 0; i < ANSWER_BUCKETS; i++) {
		struct answer *a = s->answers[i], *next;

		for (; a != NULL; a = next) {
			next = a->next;
			answer_free(a);
		}
		s->answers[i] = NULL;
	}
	s->n_answers = 0;
}

static const struct answer *
cache_get(struct policy_server *s, const char *domain, time_t now)
{
	struct answer **pp = &s->answers[name_hash(domain) &
	    (ANSWER_BUCKETS - 1)];

	while (*pp != NULL) {
		struct answer *a = *pp;

		if (a->expires <= now) {	/* drop expired on the way */
			*pp = a->next;
			answer_free(a);
			s->n_answers--;
			continue;
		}
		if (strcmp(a->domain, domain) == 0)
			return a;
		pp = &a->next;
	}
	return NULL;
}

/* Keeps the answer for ttl seconds (already bounded by the caller). */
static void
cache_put(struct policy_server *s, const char *domain,
    const struct verdict v[2], time_t now, uint32_t ttl)
{
	uint32_t b = name_hash(domain) & (ANSWER_BUCKETS - 1);
	struct answer *a;

	if (ttl == 0 || s->conf->cache_max == 0)
		return;
	/* bounded: a full cache starts again rather than growing */
	if (s->n_answers >= s->conf->cache_max) {
		log_info("answer cache full (%zu): flushed", s->n_answers);
		cache_flush(s);
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return;
	snprintf(a->domain, sizeof(a->domain), "%s", domain);
	a->expires = now + (time_t)ttl;
	for (int m = 0; m < 2; m++) {
		a->status[m] = v[m].status;
		a->text[m] = xstrdup(v[m].text);
	}
	a->next = s->answers[b];
	s->answers[b] = a;
	s->n_answers++;
}

/* ---- replies ------------------------------------------------------------ */

static void conn_free(struct conn *c);
static void conn_process(struct conn *c);

const uint64_t policy_latency_bounds_us[POLICY_LATENCY_BUCKETS - 1] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 1000000, 5000000,
};

const char *const policy_level_names[POLICY_LEVELS] = {
	"none", "may", "encrypt", "dane", "dane-only", "fingerprint",
	"verify", "secure", "other",
};

static void
stats_reply(struct policy_server *s, int idx, const char *text,
    const struct timespec *start)
{
	struct timespec now;
	uint64_t us;
	size_t i, wlen = strcspn(text, " ");

	s->stats.replies[idx]++;
	if (idx == 0) {
		for (i = 0; i + 1 < POLICY_LEVELS; i++)
			if (strlen(policy_level_names[i]) == wlen &&
			    strncmp(text, policy_level_names[i], wlen) == 0)
				break;
		s->stats.ok_level[i]++;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (uint64_t)(now.tv_sec - start->tv_sec) * 1000000u +
	    (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000);
	for (i = 0; i + 1 < POLICY_LATENCY_BUCKETS &&
	    us > policy_latency_bounds_us[i]; i++)
		;
	s->stats.latency[i]++;
	s->stats.latency_us_sum += us;
}

static void
conn_reply(struct conn *c, const char *status, const char *text)
{
	uint8_t out[SOCKETMAP_REPLY_MAX];
	int n = socketmap_reply_format(out, sizeof(out), status, text);
	int idx = strcmp(status, "OK") == 0 ? 0 :
	    strcmp(status, "NOTFOUND") == 0 ? 1 :
	    strcmp(status, "TEMP") == 0 ? 2 : 3;

	if (n < 0) {
		/* cannot happen with verdict's bounded texts; say so */
		n = socketmap_reply_format(out, sizeof(out), "TEMP",
		    "reply too long");
		idx = 2;
	}
	stats_reply(c->s, idx, text, &c->start);
	bufferevent_write(c->bev, out, (size_t)n);
	c->busy = false;
}

static void
conn_reply_verdict(struct conn *c, enum verdict_status st, const char *text)
{
	conn_reply(c, verdict_status_name(st), text);
}

/* ---- lookups -------------------------------------------------------------- */

static void
lookup_free(struct lookup *l)
{
	sts_query_cancel(l->sts_q);
	danegate_destination_free(l->dest);
	free(l);
}

static void
lookup_unlink(struct lookup *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else if (l->s->lookups == l)
		l->s->lookups = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

/*
 * How long the answer may be reused: cache-ttl, and never past the DNS
 * data it came from (the destination's TTL, the _mta-sts TXT's) nor the
 * MTA-STS policy's max_age.
 */
static uint32_t
lookup_ttl(const struct lookup *l, time_t now)
{
	uint32_t ttl = l->s->conf->cache_ttl;

	if (l->dest == NULL)
		return 0;
	if (l->dest->ttl < ttl)
		ttl = l->dest->ttl;
	if (l->sts_done) {
		if (l->sts_ttl < ttl)
			ttl = l->sts_ttl;
		if (l->sts_expires != 0 && l->sts_expires - now <
		    (time_t)ttl)
			ttl = l->sts_expires > now ?
			    (uint32_t)(l->sts_expires - now) : 0;
	}
	return ttl;
}

/* Answers every waiter and caches the answer. */
static void
lookup_finish(struct lookup *l, const struct verdict v[2])
{
	struct policy_server *s = l->s;
	struct conn *c, *next;
	time_t now = time(NULL);

	/* out of the list first: a waiter's next request for the same
	 * domain must not join a lookup that is going away */
	lookup_unlink(l);
	if (v[0].status != VERDICT_TEMP && v[1].status != VERDICT_TEMP)
		cache_put(s, l->domain, v, now, lookup_ttl(l, now));
	log_info("%s: %s %s (%s)", l->domain, verdict_status_name(v[0].status),
	    v[0].text, v[0].why);
	for (c = l->waiters; c != NULL; c = next) {
		next = c->next_waiter;
		c->waiting = NULL;
		c->next_waiter = NULL;
		conn_reply_verdict(c, v[c->map].status, v[c->map].text);
		conn_process(c);
	}
	l->waiters = NULL;
	lookup_free(l);
}

static void lookup_decide(struct lookup *l);

/*
 * The engine's MTA-STS answer as the verdict's input. A policy in force
 * (fresh or cached) applies even when the TXT lookup failed now (RFC 8461
 * §3.3 and §5: a vanished record does not end a cached policy); without
 * one, a bogus or indeterminate TXT lookup stays visible, and TEMPs.
 */
static void
sts_result_from_answer(struct mta_sts_result *r, const struct sts_answer *a)
{
	memset(r, 0, sizeof(*r));
	r->txt_state = a->txt_state;
	r->reason = a->reason;
	snprintf(r->id, sizeof(r->id), "%s", a->id);
	snprintf(r->error, sizeof(r->error), "%s", a->error);
	switch (a->state) {
	case STS_POLICY:
		r->published = r->fetched = true;
		r->policy = a->policy;
		r->txt_state = DANEGATE_SECURE;
		break;
	case STS_FAILED:
		r->published = true;
		break;
	case STS_NO_POLICY:
		break;
	}
}

static void
lookup_on_sts(void *arg, const struct sts_answer *a)
{
	struct lookup *l = arg;

	l->sts_q = NULL;
	sts_result_from_answer(&l->sts, a);
	l->sts_ttl = a->txt_ttl;
	l->sts_expires = a->state == STS_POLICY ? a->expires : 0;
	l->sts_done = true;
	if (a->state == STS_POLICY && !a->cached)
		l->s->stats.sts_fetched++;
	if (a->state == STS_FAILED || (a->state == STS_POLICY &&
	    a->reason != DANEGATE_R_NONE)) {
		/* published, and no policy came (a cached one may apply) */
		l->s->stats.sts_fetch_failed++;
		log_info("%s: MTA-STS policy not fetched: %s", l->domain,
		    a->error);
	}
	lookup_decide(l);
}

static void
lookup_decide(struct lookup *l)
{
	struct verdict_options o = { .sts_fail_temp = l->s->conf->sts_fail_temp };
	const struct mta_sts_result *sts = l->sts_done ? &l->sts : NULL;
	struct verdict *v = calloc(2, sizeof(*v));

	if (v == NULL)
		fatal("calloc");
	for (int m = 0; m < 2; m++) {
		if (verdict_decide(l->domain, l->err, l->dest, sts,
		    (enum verdict_map)m, &o, &v[m]) == VERDICT_NEED_STS) {
			/* the engine's sts answers, perhaps before
			 * sts_get_async() returns: l is not touched after */
			struct policy_server *s = l->s;

			free(v);
			s->stats.sts_fetches++;
			if (sts_get_async(s->sts, l->domain, lookup_on_sts, l,
			    &l->sts_q) != 0) {
				struct sts_answer a;

				memset(&a, 0, sizeof(a));
				a.state = STS_FAILED;
				a.txt_state = DANEGATE_INDETERMINATE;
				a.reason = DANEGATE_R_STS_POLICY_FETCH_ERROR;
				snprintf(a.error, sizeof(a.error),
				    "out of memory");
				lookup_on_sts(l, &a);
			}
			return;
		}
	}
	lookup_finish(l, v);
	free(v);
}

static void
lookup_on_dest(void *arg, int err, struct danegate_destination *dest)
{
	struct lookup *l = arg;

	l->err = err;
	l->dest = dest;
	lookup_decide(l);
}

static void
lookup_start(struct policy_server *s, struct conn *c, const char *domain)
{
	struct lookup *l;
	int rc;

	for (l = s->lookups; l != NULL; l = l->next)
		if (strcmp(l->domain, domain) == 0) {
			s->stats.coalesced++;
			break;
		}
	if (l == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("calloc");
		l->s = s;
		snprintf(l->domain, sizeof(l->domain), "%s", domain);
		l->generation = s->generation;
		l->next = s->lookups;
		if (s->lookups != NULL)
			s->lookups->prev = l;
		s->lookups = l;
		c->waiting = l;
		c->next_waiter = NULL;
		l->waiters = c;
		rc = danegate_destination_lookup_async(s->resolver, domain, 25,
		    lookup_on_dest, l);
		if (rc != 0)
			lookup_on_dest(l, rc, NULL);
		return;
	}
	c->waiting = l;
	c->next_waiter = l->waiters;
	l->waiters = c;
}

/* ---- connections ------------------------------------------------------------ */

static void
conn_request(struct conn *c)
{
	struct policy_server *s = c->s;
	struct socketmap_request req;
	char domain[DANEGATE_NAME_MAX], name[SOCKETMAP_NAME_MAX + 1];
	const struct answer *a;
	bool is_domain = false;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->busy = true;
	rc = socketmap_request_parse(&c->reader, &req);
	/* the reader is ready for the next request before anything can
	 * answer this one: an answer reads on (conn_process()) */
	if (rc == 0 && (strcmp(req.name, s->conf->policy_map) == 0 ||
	    strcmp(req.name, s->conf->tlsrpt_map) == 0)) {
		c->map = strcmp(req.name, s->conf->policy_map) == 0 ?
		    VERDICT_MAP_POLICY : VERDICT_MAP_TLSRPT;
		is_domain = verdict_key_domain(req.key, domain, sizeof(domain));
	}
	snprintf(name, sizeof(name), "%s", rc == 0 ? req.name : "");
	socketmap_reader_init(&c->reader);
	if (rc != 0) {
		log_warnx("client %s: %s: refused", c->peer,
		    socketmap_strerror(rc));
		s->stats.refused++;
		conn_reply(c, "PERM", socketmap_strerror(rc));
		return;
	}
	if (strcmp(name, s->conf->policy_map) != 0 &&
	    strcmp(name, s->conf->tlsrpt_map) != 0) {
		char why[128];

		snprintf(why, sizeof(why), "unknown map name '%.64s'", name);
		conn_reply(c, "PERM", why);
		return;
	}
	if (!is_domain) {
		/* parent-domain or next-hop key: no lookup at all */
		conn_reply(c, "NOTFOUND", "");
		return;
	}
	if ((a = cache_get(s, domain, time(NULL))) != NULL) {
		s->stats.cache_hits++;
		conn_reply_verdict(c, a->status[c->map], a->text[c->map]);
		return;
	}
	s->stats.cache_misses++;
	lookup_start(s, c, domain);
}

/* Reads requests while the connection is not waiting for a lookup. */
static void
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t chunk[2048];

	while (!c->busy && !c->closing && evbuffer_get_length(in) > 0) {
		ev_ssize_t n = evbuffer_copyout(in, chunk, sizeof(chunk));
		size_t used = 0;
		int rc;

		if (n <= 0)
			break;
		rc = socketmap_reader_feed(&c->reader, chunk, (size_t)n,
		    &used);
		evbuffer_drain(in, used);
		if (rc == SOCKETMAP_DONE) {
			conn_request(c);
		} else if (rc < 0) {
			/* the stream cannot be resynchronised: say why and
			 * close once the reply is out */
			log_warnx("client %s: %s: closing", c->peer,
			    socketmap_strerror(rc));
			c->s->stats.refused++;
			clock_gettime(CLOCK_MONOTONIC, &c->start);
			conn_reply(c, "PERM", socketmap_strerror(rc));
			c->closing = true;
		}
	}
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_info("client %s: idle, closing", c->peer);
	else if (what & BEV_EVENT_ERROR)
		log_info("client %s: %s", c->peer, strerror(errno));
	conn_free(c);
}

static void
conn_free(struct conn *c)
{
	struct policy_server *s = c->s;

	if (c->waiting != NULL) {
		for (struct conn **pp = &c->waiting->waiters; *pp != NULL;
		    pp = &(*pp)->next_waiter)
			if (*pp == c) {
				*pp = c->next_waiter;
				break;
			}
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	s->stats.clients--;
	free(c);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct policy_server *s = arg;
	struct timeval idle = { POLICY_IDLE_SECONDS, 0 }, wr = { 30, 0 };
	struct conn *c;

	(void)lev;
	if (s->stats.clients >= POLICY_CLIENTS_MAX) {
		log_warnx("%d clients: refusing one more", POLICY_CLIENTS_MAX);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->s = s;
	socketmap_reader_init(&c->reader);
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		char host[64] = "?";
		const void *addr = sa->sa_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)sa)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr;

		inet_ntop(sa->sa_family, addr, host, sizeof(host));
		snprintf(c->peer, sizeof(c->peer), "%s", host);
	} else {
		snprintf(c->peer, sizeof(c->peer), "unix socket fd %d",
		    (int)fd);
	}
	(void)salen;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event,
	    c);
	bufferevent_set_timeouts(c->bev, &idle, &wr);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	if (++s->stats.clients > s->stats.clients_max)
		s->stats.clients_max = s->stats.clients;
}

/* ---- listeners ---------------------------------------------------------------- */

static bool
sockaddr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static int
listener_add(struct policy_server *s, evutil_socket_t fd, const char *name,
    const char *unix_path)
{
	struct listener *l = &s->listeners[s->n_listeners];

	if (s->n_listeners == POLICY_LISTEN_MAX) {
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	l->ev = evconnlistener_new(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE
	    | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->ev == NULL) {
		log_err("%s: cannot listen", name);
		close(fd);
		return -1;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->unix_path, sizeof(l->unix_path), "%s", unix_path);
	s->n_listeners++;
	log_notice("listening on %s", name);
	return 0;
}

static int
listen_unix(struct policy_server *s, const char *path)
{
	const struct policy_conf *conf = s->conf;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("listen: %s: path longer than %zu bytes", path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (conf->socket_owner[0] != '\0') {
		struct passwd *pw = getpwnam(conf->socket_owner);

		if (pw == NULL) {
			log_err("socket-owner: no such user '%s'",
			    conf->socket_owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (conf->socket_group[0] != '\0') {
		struct group *gr = getgrnam(conf->socket_group);

		if (gr == NULL) {
			log_err("socket-group: no such group '%s'",
			    conf->socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* a stale socket of an earlier run, never any other file */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, conf->socket_mode) != 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) != 0) || listen(fd, 512) != 0) {
		log_warn("listen: %s", path);
		close(fd);
		return -1;
	}
	return listener_add(s, fd, path, path);
}

static int
listen_tcp(struct policy_server *s, const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	/* ADDR@PORT (danegated's syntax) */
	if (strchr(spec, '@') == NULL) {
		log_err("listen: '%s' is neither a path nor ADDR@PORT", spec);
		return -1;
	}
	if (addr_parse(spec, 0, &ss, &sl) != 0) {
		log_err("listen: '%s' is not ADDR@PORT", spec);
		return -1;
	}
	/* the policy of every domain, and lookups on demand, for anyone
	 * who can connect: only on loopback */
	if (!sockaddr_is_loopback(&ss)) {
		log_err("listen: %s is not a loopback address; use a unix "
		    "socket to reach other hosts' Postfix through a proxy",
		    spec);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("socket");
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    listen(fd, 512) != 0) {
		log_warn("listen: %s", spec);
		close(fd);
		return -1;
	}
	return listener_add(s, fd, spec, "");
}

int
policy_server_listen(struct policy_server *s)
{
	const struct policy_conf *conf = s->conf;

#ifdef HAVE_SYSTEMD
	{
		int n = sd_listen_fds(1);

		for (int i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;
			char name[64];

			if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
				log_err("socket-activated fd %d is not a "
				    "listening stream socket", fd);
				return -1;
			}
			snprintf(name, sizeof(name), "systemd socket fd %d",
			    fd);
			if (listener_add(s, fd, name, "") != 0)
				return -1;
		}
		if (n > 0)
			return 0;
	}
#endif
	if (conf->n_listen == 0) {
		log_err("nothing to listen on: listen: in the configuration "
		    "or --listen");
		return -1;
	}
	for (size_t i = 0; i < conf->n_listen; i++) {
		const char *l = conf->listen[i];
		int rc = l[0] == '/' ? listen_unix(s, l) : listen_tcp(s, l);

		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ---- life cycle ------------------------------------------------------------------ */

static struct danegate_resolver *
resolver_for(struct event_base *base, const struct policy_conf *conf)
{
	struct danegate_resolver_options ro = { 0 };
	struct danegate_resolver *r;
	int err = 0;

	ro.forwarder = conf->resolver[0] ? conf->resolver : NULL;
	ro.trust_anchor_file = conf->trust_anchor_file[0] ?
	    conf->trust_anchor_file : NULL;
	ro.unbound_conf = conf->unbound_conf[0] ? conf->unbound_conf : NULL;
	ro.timeout_ms = conf->timeout_ms;
	if ((r = danegate_resolver_new(&ro, base, &err)) == NULL)
		log_err("cannot set up the validating resolver: %s",
		    danegate_strerror(err));
	return r;
}

static void
sts_log(void *arg, const char *msg)
{
	(void)arg;
	log_warnx("MTA-STS cache: %s", msg);
}

/*
 * The engine's MTA-STS on r, its cache in sts-cache-dir (made here, as
 * root at start-up, and handed to the service's user, which writes it
 * later). The default directory missing (not installed) means memory
 * only, said once; a configured one must work. NULL (logged) on failure.
 */
static struct sts *
sts_for(struct danegate_resolver *r, const struct policy_conf *conf,
    bool reload)
{
	struct sts_options so = { 0 };
	struct sts *sts = NULL;
	struct stat st;
	char why[512];
	int rc;

	so.ca_file = conf->ca_file[0] ? conf->ca_file : NULL;
	so.timeout_ms = conf->sts_timeout_ms;
	so.ipv4 = so.ipv6 = true;
	so.cache.dir = conf->sts_cache_dir[0] ? conf->sts_cache_dir : NULL;
	so.cache.log = sts_log;
	/* after the privilege drop (seccomp allows no mkdir(2)) only a
	 * directory that exists can be used */
	if (reload && so.cache.dir != NULL && stat(so.cache.dir, &st) != 0) {
		if (conf->sts_cache_dir_set) {
			log_err("sts-cache-dir: %s does not exist (made only "
			    "at start-up)", so.cache.dir);
			return NULL;
		}
		log_warnx("MTA-STS policies kept in memory only: %s does not "
		    "exist (set sts-cache-dir:)", so.cache.dir);
		so.cache.dir = NULL;
	}
	rc = sts_new(r, &so, &sts, why, sizeof(why));
	if (rc == DANEGATE_E_INVALID && so.cache.dir != NULL &&
	    !conf->sts_cache_dir_set) {
		log_warnx("MTA-STS policies kept in memory only: %s (set "
		    "sts-cache-dir:)", why);
		so.cache.dir = NULL;
		rc = sts_new(r, &so, &sts, why, sizeof(why));
	}
	if (rc != 0) {
		log_err("sts-cache-dir: %s", rc == DANEGATE_E_INVALID ? why :
		    danegate_strerror(rc));
		return NULL;
	}
	/* made as root, written by the unprivileged service */
	if (so.cache.dir != NULL &&
	    sandbox_give_to_user(so.cache.dir, conf->username) != 0)
		log_warn("MTA-STS cache %s: chown to %s", so.cache.dir,
		    conf->username);
	return sts;
}

struct policy_server *
policy_server_new(struct event_base *base, struct policy_conf *conf)
{
	struct policy_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		fatal("calloc");
	s->base = base;
	s->conf = conf;
	s->answers = calloc(ANSWER_BUCKETS, sizeof(struct answer *));
	if (s->answers == NULL)
		fatal("calloc");
	if ((s->resolver = resolver_for(base, conf)) == NULL ||
	    (s->sts = sts_for(s->resolver, conf, false)) == NULL) {
		policy_server_free(s);
		return NULL;
	}
	return s;
}

static void
prime_done(void *arg, int err, struct danegate_destination *d)
{
	int *done = arg;

	(void)err;
	danegate_destination_free(d);
	*done = 1;
}

static void
prime_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

void
policy_server_prime(struct policy_server *s)
{
	struct timeval tick = { 0, 50000 };
	struct timespec t0, t;
	struct event *wake;
	int done = 0;

	/* "invalid." (RFC 6761) cannot exist: a denial, or a failure that
	 * still finalized the context */
	if (danegate_destination_lookup_async(s->resolver, "invalid", 25,
	    prime_done, &done) != 0)
		return;
	/* a timer of its own to wake the loop: event_base_loopexit() would
	 * stay armed and stop the service's loop later */
	if ((wake = evtimer_new(s->base, prime_tick, NULL)) == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done) {
		evtimer_add(wake, &tick);
		event_base_loop(s->base, EVLOOP_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 >
		    (long)s->conf->timeout_ms * 2 + 1000) {
			log_warnx("the first DNS lookup did not finish in "
			    "time; the resolver may not be set up");
			break;
		}
	}
	event_free(wake);
}

/*
 * Answers every lookup started on an older resolver with TEMP before that
 * resolver and its sts go (freeing them cancels their queries without a
 * callback).
 */
static void
lookups_abort(struct policy_server *s, const char *why)
{
	struct lookup *doomed = NULL, *l, *next;

	/* taken out of the list first: answering may start new lookups
	 * (pipelined requests), which are on the new resolver */
	for (l = s->lookups; l != NULL; l = next) {
		next = l->next;
		if (l->generation != s->generation) {
			lookup_unlink(l);
			l->next_doomed = doomed;
			doomed = l;
		}
	}
	for (l = doomed; l != NULL; l = next) {
		struct verdict v[2];

		next = l->next_doomed;
		memset(v, 0, sizeof(v));
		for (int m = 0; m < 2; m++) {
			v[m].status = VERDICT_TEMP;
			snprintf(v[m].text, sizeof(v[m].text),
			    "dnssec-invalid %s", why);
			snprintf(v[m].why, sizeof(v[m].why), "%s", why);
		}
		lookup_finish(l, v);
	}
}

int
policy_server_reload(struct policy_server *s, struct policy_conf *conf)
{
	struct danegate_resolver *r, *old;
	struct sts *sts, *old_sts;

	/* libunbound reads them only at the first lookup: unreadable after
	 * the privilege drop, they would fail every lookup */
	if ((conf->trust_anchor_file[0] != '\0' &&
	    access(conf->trust_anchor_file, R_OK) != 0) ||
	    (conf->unbound_conf[0] != '\0' &&
	    access(conf->unbound_conf, R_OK) != 0)) {
		log_err("trust-anchor-file or unbound-conf not readable by "
		    "the service's user");
		policy_conf_free(conf);
		return -1;
	}
	r = resolver_for(s->base, conf);
	if (r == NULL || (sts = sts_for(r, conf, true)) == NULL) {
		danegate_resolver_free(r);
		policy_conf_free(conf);
		return -1;
	}
	old = s->resolver;
	old_sts = s->sts;
	s->resolver = r;
	s->sts = sts;
	s->generation++;
	lookups_abort(s, "configuration reloaded during the lookup");
	sts_free(old_sts);		/* borrows old */
	danegate_resolver_free(old);
	cache_flush(s);
	/* listeners stay: they were bound as root */
	policy_conf_free(s->conf);
	s->conf = conf;
	return 0;
}

const struct policy_stats *
policy_server_stats(const struct policy_server *s)
{
	return &s->stats;
}

const struct policy_conf *
policy_server_conf(const struct policy_server *s)
{
	return s->conf;
}

size_t
policy_server_metrics(const struct policy_server *s, char *buf, size_t cap)
{
	static const char *const st[4] = { "OK", "NOTFOUND", "TEMP", "PERM" };
	const struct policy_stats *x = &s->stats;
	uint64_t cum = 0;
	size_t n = 0;

#define OUT(...) do {							\
	int k_ = snprintf(buf + n, cap > n ? cap - n : 0, __VA_ARGS__);	\
	if (k_ > 0)							\
		n += (size_t)k_;					\
} while (0)
#define HEAD(name, type, help)						\
	OUT("# HELP danegate_policy_" name " " help "\n"		\
	    "# TYPE danegate_policy_" name " " type "\n")
	if (cap > 0)
		buf[0] = '\0';
	HEAD("lookups_total", "counter", "Socketmap replies by status, OK "
	    "ones by their TLS security level.");
	for (int i = 0; i < POLICY_LEVELS; i++)
		/* the levels the service answers, and any other seen */
		if (i == 3 || i == 4 || i == 7 || x->ok_level[i] != 0)
			OUT("danegate_policy_lookups_total{reply=\"OK\","
			    "level=\"%s\"} %llu\n", policy_level_names[i],
			    (unsigned long long)x->ok_level[i]);
	for (int i = 1; i < 4; i++)
		OUT("danegate_policy_lookups_total{reply=\"%s\"} %llu\n",
		    st[i], (unsigned long long)x->replies[i]);
	HEAD("lookup_seconds", "histogram", "From a complete request to its "
	    "reply.");
	for (int i = 0; i < POLICY_LATENCY_BUCKETS; i++) {
		cum += x->latency[i];
		if (i + 1 < POLICY_LATENCY_BUCKETS)
			OUT("danegate_policy_lookup_seconds_bucket{le=\"%g\"} "
			    "%llu\n", (double)policy_latency_bounds_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			OUT("danegate_policy_lookup_seconds_bucket{le="
			    "\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	OUT("danegate_policy_lookup_seconds_sum %.6f\n"
	    "danegate_policy_lookup_seconds_count %llu\n",
	    (double)x->latency_us_sum / 1e6, (unsigned long long)cum);
	HEAD("cache_hits_total", "counter", "Domain lookups answered from "
	    "the answer cache.");
	OUT("danegate_policy_cache_hits_total %llu\n",
	    (unsigned long long)x->cache_hits);
	HEAD("cache_misses_total", "counter", "Domain lookups not in the "
	    "answer cache.");
	OUT("danegate_policy_cache_misses_total %llu\n",
	    (unsigned long long)x->cache_misses);
	HEAD("cache_entries", "gauge", "Answers in the answer cache.");
	OUT("danegate_policy_cache_entries %llu\n",
	    (unsigned long long)s->n_answers);
	HEAD("coalesced_total", "counter", "Cache misses that joined a "
	    "lookup of the same domain in flight.");
	OUT("danegate_policy_coalesced_total %llu\n",
	    (unsigned long long)x->coalesced);
	HEAD("sts_checks_total", "counter", "MTA-STS checks started "
	    "(_mta-sts TXT lookup, then the policy fetch if published).");
	OUT("danegate_policy_sts_checks_total %llu\n",
	    (unsigned long long)x->sts_fetches);
	HEAD("sts_fetches_total", "counter", "MTA-STS policies of domains "
	    "that publish one, by result.");
	OUT("danegate_policy_sts_fetches_total{result=\"fetched\"} %llu\n"
	    "danegate_policy_sts_fetches_total{result=\"failed\"} %llu\n",
	    (unsigned long long)x->sts_fetched,
	    (unsigned long long)x->sts_fetch_failed);
	HEAD("refused_total", "counter", "Requests refused as malformed "
	    "(answered PERM).");
	OUT("danegate_policy_refused_total %llu\n",
	    (unsigned long long)x->refused);
	HEAD("clients", "gauge", "Socketmap connections open.");
	OUT("danegate_policy_clients %llu\n",
	    (unsigned long long)x->clients);
	HEAD("clients_max", "gauge", "Most socketmap connections open at a "
	    "time since start.");
	OUT("danegate_policy_clients_max %llu\n",
	    (unsigned long long)x->clients_max);
#undef HEAD
#undef OUT
	return n < cap ? n : (cap > 0 ? cap - 1 : 0);
}

void
policy_server_free(struct policy_server *s)
{
	if (s == NULL)
		return;
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	for (struct lookup *l = s->lookups, *next; l != NULL; l = next) {
		next = l->next;
		lookup_free(l);
	}
	s->lookups = NULL;
	/* queries and lookups in flight are cancelled without a callback;
	 * sts borrows the resolver */
	sts_free(s->sts);
	danegate_resolver_free(s->resolver);
	for (size_t i = 0; i < s->n_listeners; i++) {
		evconnlistener_free(s->listeners[i].ev);
		if (s->listeners[i].unix_path[0] != '\0')
			(void)unlink(s->listeners[i].unix_path);
	}
	if (s->answers != NULL)
		cache_flush(s);
	free(s->answers);
	policy_conf_free(s->conf);
	free(s);
}
