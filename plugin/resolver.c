/*
 * resolver.c - libdanegate's validating resolver: one libunbound context
 * on a libevent base, and single lookups turned into struct lookup_answer
 * (lookup.h does the packet).
 *
 * Every lookup goes through ub_resolve_event(). A resolver created
 * without a base gets a private one, which the blocking calls run until
 * their answer is in: one code path for both forms, with the same
 * per-lookup timeout and the same concurrency (ub_ctx_create()'s blocking
 * ub_resolve() has no timeout at all).
 *
 * The context is set up by lib/ubctx.c, which lists the facts about
 * libunbound 1.17 this file is built around. Here they mean: a bogus
 * answer is reported as bogus and its data never looked at; a callback
 * may come inside ub_resolve_event(); ub_cancel() is never called, so a
 * lookup that times out is answered "indeterminate" at once and its query
 * kept, silent, until libunbound calls back or the context is deleted;
 * the anchor file is required and checked when the resolver is made.
 *
 * SECURITY: libunbound talks to the DNS (root servers and authoritative
 * servers, or the forwarder) with the caller's privileges. The answer
 * packets it hands over are parsed by lookup.c.
 *
 * Ownership: the resolver owns its queries, including timed-out ones;
 * danegate_resolver_free() deletes the libunbound context first (no
 * callback fires after that), then cancels attached owners (dest.c's
 * lookups in flight), then frees the queries and, if it made it, the
 * event base.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>

#include "internal.h"
#include "resolver.h"
#include "ubctx.h"

#define RESOLVER_DEFAULT_ANCHOR	"/usr/share/dns/root.key"
#define RESOLVER_DEFAULT_TIMEOUT_MS 5000

struct resolver_query {
	struct resolver_query *prev, *next;	/* r->queries */
	struct danegate_resolver *r;
	char name[DANEGATE_NAME_MAX];
	uint16_t type;
	resolver_answer_fn *cb;		/* NULL once answered/timed out */
	resolver_raw_fn *raw;		/* instead of cb: the bare result */
	void *arg;
	struct event *timer;
	bool starting;			/* inside ub_resolve_event() */
	bool ub_done;			/* libunbound has called back */
};

struct danegate_resolver {
	struct ub_ctx *ctx;
	struct event_base *base;
	bool own_base;			/* made for the blocking calls */
	unsigned timeout_ms;
	char anchor_zone[DNS_NAME_TEXT_MAX];	/* the trust anchor's */
	struct resolver_query *queries;
	struct resolver_owner *owners;
};

static void
query_unlink(struct resolver_query *q)
{
	struct danegate_resolver *r = q->r;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Frees a query that is no longer on r->queries. */
static void
query_destroy(struct resolver_query *q)
{
	if (q->timer != NULL)
		event_free(q->timer);
	free(q);
}

static void
query_free(struct resolver_query *q)
{
	query_unlink(q);
	query_destroy(q);
}

DANEGATE_EXPORT struct danegate_resolver *
danegate_resolver_new(const struct danegate_resolver_options *opts,
    struct event_base *base, int *err)
{
	struct danegate_resolver_options none = { 0 };
	struct danegate_resolver *r;
	const char *anchor;
	char why[512];
	int dummy;

	if (err == NULL)
		err = &dummy;
	*err = DANEGATE_E_NOMEM;
	if (opts == NULL)
		opts = &none;
	anchor = opts->trust_anchor_file != NULL ? opts->trust_anchor_file :
	    RESOLVER_DEFAULT_ANCHOR;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms :
	    RESOLVER_DEFAULT_TIMEOUT_MS;
	if (base == NULL) {
		if ((r->base = event_base_new()) == NULL) {
			free(r);
			return NULL;
		}
		r->own_base = true;
	} else
		r->base = base;
	*err = DANEGATE_E_RESOLVER;
	if ((r->ctx = ubctx_new(r->base, why, sizeof(why))) == NULL)
		goto fail;
	if (ubctx_add_anchor_file(r->ctx, anchor, r->anchor_zone,
	    sizeof(r->anchor_zone), why, sizeof(why)) != 0)
		goto fail;
	if (opts->forwarder != NULL &&
	    ub_ctx_set_fwd(r->ctx, opts->forwarder) != 0) {
		*err = DANEGATE_E_INVALID;
		goto fail;
	}
	/* Last, so that it can override anything above (the tests' world:
	 * root hints, do-not-query-localhost: no). */
	if (opts->unbound_conf != NULL &&
	    ubctx_read_config(r->ctx, opts->unbound_conf, why,
	    sizeof(why)) != 0)
		goto fail;
	*err = DANEGATE_OK;
	return r;
fail:
	if (r->ctx != NULL)
		ub_ctx_delete(r->ctx);
	if (r->own_base)
		event_base_free(r->base);
	free(r);
	return NULL;
}

DANEGATE_EXPORT void
danegate_resolver_free(struct danegate_resolver *r)
{
	if (r == NULL)
		return;
	/* No libunbound callback can fire after this. */
	ub_ctx_delete(r->ctx);
	r->ctx = NULL;
	while (r->owners != NULL) {
		struct resolver_owner *o = r->owners;

		resolver_detach(r, o);
		o->cancel(o);
	}
	while (r->queries != NULL) {
		struct resolver_query *q = r->queries;

		r->queries = q->next;
		query_destroy(q);
	}
	if (r->own_base)
		event_base_free(r->base);
	free(r);
}

bool
resolver_is_async(const struct danegate_resolver *r)
{
	return !r->own_base;
}

struct event_base *
resolver_base(const struct danegate_resolver *r)
{
	return r->base;
}

void
resolver_attach(struct danegate_resolver *r, struct resolver_owner *o)
{
	o->prev = NULL;
	o->next = r->owners;
	if (r->owners != NULL)
		r->owners->prev = o;
	r->owners = o;
}

void
resolver_detach(struct danegate_resolver *r, struct resolver_owner *o)
{
	if (o->prev != NULL)
		o->prev->next = o->next;
	else if (r->owners == o)
		r->owners = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
}

/* ---- lookups ----------------------------------------------------------- */

static void
query_deliver(struct resolver_query *q, struct lookup_answer *a)
{
	resolver_answer_fn *cb = q->cb;

	q->cb = NULL;
	if (q->timer != NULL)
		evtimer_del(q->timer);
	cb(q->arg, a);
}

/* The bare result for a raw query; reason is set when there was no
 * callback (timeout, a refused query). */
static void
query_deliver_raw(struct resolver_query *q, int err, const uint8_t *pkt,
    size_t len, int sec, const char *why_bogus, const char *reason)
{
	resolver_raw_fn *raw = q->raw;

	q->raw = NULL;
	if (q->timer != NULL)
		evtimer_del(q->timer);
	raw(q->arg, err, pkt, len, sec, why_bogus, reason);
}

static void
query_on_answer(void *mydata, int err, void *pkt, int len, int sec,
    char *why_bogus, int was_ratelimited)
{
	struct resolver_query *q = mydata;
	struct lookup_answer a;

	(void)was_ratelimited;
	q->ub_done = true;
	if (q->raw != NULL) {
		query_deliver_raw(q, err, pkt, len > 0 ? (size_t)len : 0, sec,
		    why_bogus, NULL);
	} else if (q->cb != NULL) {
		lookup_answer_from_packet(&a, q->name, q->type, err, pkt,
		    len > 0 ? (size_t)len : 0, sec, why_bogus);
		query_deliver(q, &a);
	}
	/* Inside ub_resolve_event() the starter still holds q. */
	if (!q->starting)
		query_free(q);
}

static void
query_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query *q = arg;
	struct lookup_answer a;

	(void)fd;
	(void)what;
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", q->name);
	a.type = q->type;
	a.rcode = -1;
	a.state = DANEGATE_INDETERMINATE;
	snprintf(a.why, sizeof(a.why), "no answer within %u ms",
	    q->r->timeout_ms);
	/* q stays, silent, until libunbound answers (see the top). */
	if (q->raw != NULL)
		query_deliver_raw(q, 0, NULL, 0, 0, NULL, a.why);
	else
		query_deliver(q, &a);
}

/* Starts a lookup answered through cb, or raw if that is not NULL. */
static int
query_start(struct danegate_resolver *r, const char *name, uint16_t type,
    resolver_answer_fn *cb, resolver_raw_fn *raw, void *arg)
{
	struct resolver_query *q;
	struct lookup_answer a;
	struct timeval tv;
	int id, rc;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return DANEGATE_E_NOMEM;
	if ((q->timer = evtimer_new(r->base, query_on_timeout, q)) == NULL) {
		free(q);
		return DANEGATE_E_NOMEM;
	}
	q->r = r;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->type = type;
	q->cb = raw == NULL ? cb : NULL;
	q->raw = raw;
	q->arg = arg;
	q->next = r->queries;
	if (r->queries != NULL)
		r->queries->prev = q;
	r->queries = q;

	q->starting = true;
	rc = ub_resolve_event(r->ctx, name, type, 1, q, query_on_answer, &id);
	q->starting = false;
	if (rc != 0) {
		/* e.g. a name libunbound cannot parse: an answer like any
		 * other failure, so that callers have one path */
		if (q->raw != NULL) {
			query_deliver_raw(q, rc, NULL, 0, 0, NULL, NULL);
		} else if (q->cb != NULL) {
			lookup_answer_from_packet(&a, name, type, rc, NULL, 0,
			    0, NULL);
			query_deliver(q, &a);
		}
		query_free(q);
		return 0;
	}
	if (q->ub_done) {		/* answered inside the call */
		query_free(q);
		return 0;
	}
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	evtimer_add(q->timer, &tv);
	return 0;
}

int
resolver_lookup_async(struct danegate_resolver *r, const char *name,
    uint16_t type, resolver_answer_fn *cb, void *arg)
{
	return query_start(r, name, type, cb, NULL, arg);
}

int
resolver_lookup_raw(struct danegate_resolver *r, const char *name,
    uint16_t type, resolver_raw_fn *raw, void *arg)
{
	return query_start(r, name, type, NULL, raw, arg);
}

int
resolver_run(struct danegate_resolver *r, const bool *done)
{
	while (!*done) {
		/* EVLOOP_ONCE: wait for something, run it, look again */
		int rc = event_base_loop(r->base, EVLOOP_ONCE);

		if (rc != 0 && !*done)
			return DANEGATE_E_RESOLVER;
	}
	return 0;
}

struct lookup_wait {
	bool done;
	struct lookup_answer *out;
};

static void
lookup_on_answer(void *arg, struct lookup_answer *ans)
{
	struct lookup_wait *lw = arg;

	*lw->out = *ans;		/* moved */
	lw->done = true;
}

int
resolver_lookup(struct danegate_resolver *r, const char *name,
    uint16_t type, struct lookup_answer *out)
{
	struct lookup_wait lw = { false, out };
	int rc;

	if (resolver_is_async(r))
		return DANEGATE_E_INVALID;
	if ((rc = resolver_lookup_async(r, name, type, lookup_on_answer,
	    &lw)) != 0)
		return rc;
	return resolver_run(r, &lw.done);
}

/* ---- the trust anchor --------------------------------------------------- */

struct check_wait {
	bool done;
	int rc;
	const char *zone;
	char *why;
	size_t cap;
};

static void
check_on_result(void *arg, int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus, const char *reason)
{
	struct check_wait *cw = arg;

	cw->rc = ubctx_probe_verdict(cw->zone, err, pkt, len, sec, why_bogus,
	    reason, cw->why, cw->cap) == 0 ? 0 : DANEGATE_E_RESOLVER;
	cw->done = true;
}

DANEGATE_EXPORT int
danegate_resolver_check(struct danegate_resolver *r, char *why, size_t cap)
{
	struct check_wait cw = { false, 0, NULL, why, cap };
	int rc;

	if (r == NULL || why == NULL || cap == 0 || resolver_is_async(r))
		return DANEGATE_E_INVALID;
	why[0] = '\0';
	cw.zone = r->anchor_zone;
	if ((rc = resolver_lookup_raw(r, r->anchor_zone, UBCTX_PROBE_TYPE,
	    check_on_result, &cw)) != 0)
		return rc;
	if ((rc = resolver_run(r, &cw.done)) != 0)
		return rc;
	return cw.rc;
}
