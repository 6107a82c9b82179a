/*
 * sts.c - see sts.h.
 *
 * A query: TXT lookup -> cache decision -> (fetch: A/AAAA of mta-sts.<domain>
 * -> HTTPS on the multi handle) -> cache update -> answer. libcurl's
 * sockets and timer are events on the resolver's base (curl_ev.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "curl_ev.h"
#include "lookup.h"
#include "resolver.h"
#include "sts.h"
#include "txt.h"

struct sts {
	struct danegate_resolver *r;
	struct event_base *base;
	struct sts_cache *cache;
	struct curl_ev *ce;		/* the fetches, on base */
	char *ca_file;
	unsigned timeout_ms;
	bool ipv4, ipv6;
	struct sts_query *queries;	/* under way, doubly linked */
};

struct sts_query {
	struct sts *s;
	struct sts_query *prev, *next;
	sts_fn *cb;			/* NULL: cancelled or answered */
	void *arg;
	bool starting, finished;
	bool orphan;			/* s was freed during a DNS lookup */
	char domain[DANEGATE_NAME_MAX];
	char id[STS_ID_MAX];
	enum danegate_dnssec txt_state;	/* the TXT lookup's, for answers */
	uint32_t txt_ttl;
	int dns_pending;
	char address[INET6_ADDRSTRLEN];
	bool address_v6;
	char url[DANEGATE_NAME_MAX + 64];
	CURL *easy;
	struct curl_slist *resolve;
	struct mta_sts_body body;
	char curl_err[CURL_ERROR_SIZE];
};

static void
query_free(struct sts_query *q)
{
	struct sts *s = q->s;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else if (s->queries == q)
		s->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (q->easy != NULL) {
		curl_ev_remove(s->ce, q->easy);
		curl_easy_cleanup(q->easy);
	}
	curl_slist_free_all(q->resolve);
	free(q->body.data);
	free(q);
}

/* The query is over: answer if someone still listens, then free it
 * (unless sts_get_async() is still on the stack: it frees it). */
static void
query_finish(struct sts_query *q, const struct sts_answer *ans)
{
	sts_fn *cb = q->cb;

	q->cb = NULL;
	if (cb != NULL && ans != NULL) {
		struct sts_answer a = *ans;

		a.txt_state = q->txt_state;
		a.txt_ttl = q->txt_ttl;
		cb(q->arg, &a);
	}
	q->finished = true;
	if (!q->starting)
		query_free(q);
}

static void
answer_from_entry(struct sts_answer *a, const struct sts_cache_entry *e)
{
	memset(a, 0, sizeof(*a));
	if (e == NULL || !e->have_policy || e->policy.mode == MTA_STS_NONE) {
		a->state = STS_NO_POLICY;
		return;
	}
	a->state = STS_POLICY;
	a->policy = e->policy;
	a->cached = true;
	a->expires = e->expires;
	snprintf(a->id, sizeof(a->id), "%s", e->id);
}

/* ---- the fetch's end ------------------------------------------------- */

/* A fetch ended: the cache learns the outcome, the caller gets the
 * policy that applies now. */
static void
fetch_done(struct sts_query *q, CURLcode rc)
{
	struct sts *s = q->s;
	struct mta_sts_policy p;
	struct sts_answer a;
	char error[256];
	enum danegate_reason reason;
	time_t now = time(NULL);
	const struct sts_cache_entry *e;

	reason = mta_sts_curl_judge(q->easy, rc, q->url, &q->body, q->curl_err,
	    &p, error, sizeof(error));
	if (reason == DANEGATE_R_NONE && sts_cache_put(s->cache, q->domain,
	    q->id, q->body.data ? q->body.data : "", q->body.len, now) != 0) {
		reason = DANEGATE_R_STS_POLICY_INVALID;
		snprintf(error, sizeof(error), "policy not cached");
	}
	if (reason != DANEGATE_R_NONE)
		sts_cache_fail(s->cache, q->domain, reason, error, now);
	e = sts_cache_get(s->cache, q->domain, now);
	answer_from_entry(&a, e);
	if (reason != DANEGATE_R_NONE) {
		a.reason = reason;
		snprintf(a.error, sizeof(a.error), "%s", error);
		if (e == NULL)
			a.state = STS_FAILED;
	} else {
		a.cached = false;
	}
	query_finish(q, &a);
}

/* curl_ev's callback: the transfer of the query in CURLOPT_PRIVATE. */
static void
on_fetch_done(void *arg, CURL *easy, CURLcode rc)
{
	struct sts_query *q = NULL;

	(void)arg;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &q);
	if (q != NULL)
		fetch_done(q, rc);
}

/* ---- the query's steps ------------------------------------------------- */

static void
fetch_failed(struct sts_query *q, const char *what, const char *host)
{
	struct sts_answer a;
	time_t now = time(NULL);
	char error[256];

	snprintf(error, sizeof(error), "%.200s: %s", host, what);
	sts_cache_fail(q->s->cache, q->domain,
	    DANEGATE_R_STS_POLICY_FETCH_ERROR, error, now);
	answer_from_entry(&a, sts_cache_get(q->s->cache, q->domain, now));
	if (a.state != STS_POLICY)
		a.state = STS_FAILED;
	a.reason = DANEGATE_R_STS_POLICY_FETCH_ERROR;
	snprintf(a.error, sizeof(a.error), "%s", error);
	query_finish(q, &a);
}

static void
start_https(struct sts_query *q)
{
	char host[DANEGATE_NAME_MAX + 16], entry[DANEGATE_NAME_MAX + 96];

	snprintf(host, sizeof(host), "mta-sts.%s", q->domain);
	if (q->address[0] == '\0') {
		fetch_failed(q, "no address", host);
		return;
	}
	snprintf(entry, sizeof(entry), "%s:443:%s%s%s", host,
	    q->address_v6 ? "[" : "", q->address, q->address_v6 ? "]" : "");
	snprintf(q->url, sizeof(q->url), "https://%s/.well-known/mta-sts.txt",
	    host);
	if ((q->resolve = curl_slist_append(NULL, entry)) == NULL ||
	    (q->easy = curl_easy_init()) == NULL) {
		fetch_failed(q, "out of memory", host);
		return;
	}
	mta_sts_curl_setup(q->easy, q->url, q->resolve, q->s->ca_file,
	    q->s->timeout_ms, &q->body, q->curl_err);
	curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
	if (curl_ev_add(q->s->ce, q->easy) != 0) {
		curl_easy_cleanup(q->easy);
		q->easy = NULL;
		fetch_failed(q, "libcurl refused the transfer", host);
	}
}

/* An A or AAAA answer for mta-sts.<domain>: the first address wins. */
static void
on_address(void *arg, struct lookup_answer *ans)
{
	struct sts_query *q = arg;

	if (q->orphan) {
		lookup_answer_clear(ans);
		if (--q->dns_pending == 0)
			free(q);
		return;
	}
	if ((ans->state == DANEGATE_SECURE || ans->state == DANEGATE_INSECURE)
	    && q->address[0] == '\0') {
		for (size_t i = 0; i < ans->n_rrs; i++) {
			int af = ans->type == DNS_TYPE_AAAA ? AF_INET6 : AF_INET;

			if (ans->rrs[i].len != (af == AF_INET6 ? 16 : 4))
				continue;
			inet_ntop(af, ans->rrs[i].data, q->address,
			    sizeof(q->address));
			q->address_v6 = af == AF_INET6;
			break;
		}
	}
	lookup_answer_clear(ans);
	if (--q->dns_pending == 0)
		start_https(q);
}

static void
start_fetch(struct sts_query *q)
{
	char host[DANEGATE_NAME_MAX + 16];
	bool v4 = q->s->ipv4, v6 = q->s->ipv6;

	snprintf(host, sizeof(host), "mta-sts.%s", q->domain);
	q->dns_pending = (v4 ? 1 : 0) + (v6 ? 1 : 0);
	if (q->dns_pending == 0) {
		start_https(q);
		return;
	}
	/* IPv4 first: its answer is taken when both have one */
	if (v4 && resolver_lookup_async(q->s->r, host, DNS_TYPE_A, on_address,
	    q) != 0) {
		fetch_failed(q, "out of memory", host);
		return;
	}
	if (v6 && resolver_lookup_async(q->s->r, host, DNS_TYPE_AAAA,
	    on_address, q) != 0 && --q->dns_pending == 0)
		start_https(q);
}

static void
on_txt(void *arg, struct lookup_answer *ans)
{
	struct sts_query *q = arg;
	const struct sts_cache_entry *e;
	const char *txt_id = NULL;
	struct sts_answer a;
	enum sts_cache_action act;

	if (q->orphan) {
		lookup_answer_clear(ans);
		free(q);
		return;
	}
	q->txt_state = ans->state;
	q->txt_ttl = ans->ttl;
	if (ans->state == DANEGATE_SECURE || ans->state == DANEGATE_INSECURE) {
		char *recs[64] = { NULL };
		size_t n = 0;

		for (size_t i = 0; i < ans->n_rrs && n < 64; i++)
			if ((recs[n] = txt_join(ans->rrs[i].data,
			    ans->rrs[i].len)) != NULL)
				n++;
		if (mta_sts_txt_id(recs, n, q->id, sizeof(q->id)))
			txt_id = q->id;
		for (size_t i = 0; i < n; i++)
			free(recs[i]);
	}
	lookup_answer_clear(ans);
	q->dns_pending = 0;

	act = sts_cache_lookup(q->s->cache, q->domain, txt_id, time(NULL), &e);
	switch (act) {
	case STS_CACHE_NONE:
	case STS_CACHE_USE:
		answer_from_entry(&a, e);
		query_finish(q, &a);
		return;
	case STS_CACHE_USE_REFRESH: {
		sts_fn *cb = q->cb;

		/* the caller goes on with the cached policy; the refresh
		 * carries on without it */
		answer_from_entry(&a, e);
		a.txt_state = q->txt_state;
		a.txt_ttl = q->txt_ttl;
		q->cb = NULL;
		if (cb != NULL)
			cb(q->arg, &a);
		start_fetch(q);
		return;
	}
	case STS_CACHE_FAILED:
		memset(&a, 0, sizeof(a));
		a.state = STS_FAILED;
		a.reason = e != NULL ? e->failure :
		    DANEGATE_R_STS_POLICY_FETCH_ERROR;
		snprintf(a.error, sizeof(a.error), "%.230s (cached failure)",
		    e != NULL ? e->error : "");
		query_finish(q, &a);
		return;
	case STS_CACHE_FETCH:
		start_fetch(q);
		return;
	}
}

int
sts_get_async(struct sts *s, const char *domain, sts_fn *cb, void *arg,
    struct sts_query **qp)
{
	char name[DANEGATE_NAME_MAX + 16];
	struct sts_query *q;
	size_t n;

	if (qp != NULL)
		*qp = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return DANEGATE_E_NOMEM;
	q->s = s;
	q->cb = cb;
	q->arg = arg;
	snprintf(q->domain, sizeof(q->domain), "%s", domain);
	n = strlen(q->domain);
	if (n > 0 && q->domain[n - 1] == '.')
		q->domain[n - 1] = '\0';
	q->next = s->queries;
	if (s->queries != NULL)
		s->queries->prev = q;
	s->queries = q;
	q->starting = true;
	q->dns_pending = 1;		/* the TXT lookup */
	snprintf(name, sizeof(name), "_mta-sts.%s", q->domain);
	if (resolver_lookup_async(s->r, name, DNS_TYPE_TXT, on_txt, q) != 0) {
		q->cb = NULL;
		query_free(q);
		return DANEGATE_E_NOMEM;
	}
	q->starting = false;
	if (q->finished)
		query_free(q);
	else if (qp != NULL && q->cb != NULL)
		*qp = q;
	return 0;
}

void
sts_query_cancel(struct sts_query *q)
{
	/* the lookups and the fetch run on, so the cache learns the policy */
	if (q != NULL)
		q->cb = NULL;
}

static void
cache_log_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

int
sts_new(struct danegate_resolver *r, const struct sts_options *opts,
    struct sts **out, char *why, size_t whylen)
{
	struct sts_cache_options co = opts->cache;
	struct sts *s;
	int rc;

	*out = NULL;
	if (!resolver_is_async(r)) {
		snprintf(why, whylen, "the resolver has no event base");
		return DANEGATE_E_INVALID;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return DANEGATE_E_NOMEM;
	s->r = r;
	s->base = resolver_base(r);
	s->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 15000;
	s->ipv4 = opts->ipv4;
	s->ipv6 = opts->ipv6;
	if (co.log == NULL)
		co.log = cache_log_stderr;
	if ((opts->ca_file != NULL && (s->ca_file = strdup(opts->ca_file)) ==
	    NULL) || (s->ce = curl_ev_new(s->base, on_fetch_done, s)) ==
	    NULL) {
		sts_free(s);
		return DANEGATE_E_NOMEM;
	}
	if ((rc = sts_cache_open(&co, time(NULL), &s->cache, why, whylen)) !=
	    0) {
		sts_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
sts_free(struct sts *s)
{
	if (s == NULL)
		return;
	/* a query waiting for DNS is orphaned: the resolver's answer frees
	 * it (the resolver outlives s); the others end now */
	while (s->queries != NULL) {
		struct sts_query *q = s->queries;

		s->queries = q->next;
		q->cb = NULL;
		q->prev = q->next = NULL;
		if (q->dns_pending > 0) {
			q->orphan = true;
			continue;
		}
		if (q->easy != NULL) {
			curl_ev_remove(s->ce, q->easy);
			curl_easy_cleanup(q->easy);
		}
		curl_slist_free_all(q->resolve);
		free(q->body.data);
		free(q);
	}
	curl_ev_free(s->ce);
	sts_cache_free(s->cache);
	free(s->ca_file);
	free(s);
}

struct sts_cache *
sts_cache_of(struct sts *s)
{
	return s->cache;
}
