/*
 * spf_lookup.c - SPF on the resolver (see spf_lookup.h).
 *
 * SECURITY: the answers come from any zone, validated by libunbound;
 * TXT records are joined by txt.c and MX names decoded by dname.c, both
 * bounded; spf.c reads the rest. The number of queries is bounded by
 * spf.c's limits and the cache's size.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "dns.h"
#include "internal.h"
#include "lookup.h"
#include "spf_lookup.h"
#include "txt.h"
#include "wire.h"

struct spf_lookup {
	struct resolver_owner owner;	/* first: the cancel hook's cast */
	struct danegate_resolver *r;
	struct spf_dns cache;
	char domain[SPF_NAME_MAX];
	char sender[512];
	char helo[SPF_NAME_MAX];
	struct sockaddr_storage *addrs;
	size_t n, i;			/* the address being evaluated */
	enum spf_result first_bad;	/* SPF_R_PASS while none */
	bool temperror;
	spf_lookup_fn *cb;		/* NULL once abandoned */
	void *arg;
	bool waiting, in_step;
	struct sl_q *pending;		/* the lookup out, while waiting */
	struct spf_lookup **handle;	/* the caller's, NULLed at the end */
};

struct sl_q {
	struct spf_lookup *sl;
	struct spf_query q;
};

static void
sl_free(struct spf_lookup *sl)
{
	resolver_detach(sl->r, &sl->owner);
	spf_dns_clear(&sl->cache);
	free(sl->addrs);
	free(sl);
}

static void
sl_cancel(struct resolver_owner *o)
{
	struct spf_lookup *sl = (struct spf_lookup *)(void *)o;

	/* the resolver is being freed and has detached it; no answer
	 * comes for the lookup out */
	free(sl->pending);
	if (sl->handle != NULL)
		*sl->handle = NULL;
	spf_dns_clear(&sl->cache);
	free(sl->addrs);
	free(sl);
}

/* Caches an answer's records (a failure as SPF_DNS_FAIL): 0 or a
 * DANEGATE_E_* code. */
static int
sl_store(struct spf_lookup *sl, const struct spf_query *q,
    const struct lookup_answer *a)
{
	uint8_t **items = NULL;
	size_t *lens = NULL, n = 0;
	enum spf_dns_status st = SPF_DNS_OK;
	int rc;

	/* bogus, indeterminate, SERVFAIL and the like: a failure */
	if ((a->state != DANEGATE_SECURE && a->state != DANEGATE_INSECURE) ||
	    (!a->nxdomain && a->rcode != 0 && !a->nodata))
		st = SPF_DNS_FAIL;
	else if (a->nxdomain)
		st = SPF_DNS_NXDOMAIN;
	if (st == SPF_DNS_OK && a->n_rrs > 0 &&
	    ((items = calloc(a->n_rrs, sizeof(*items))) == NULL ||
	    (lens = calloc(a->n_rrs, sizeof(*lens))) == NULL)) {
		free(items);
		return DANEGATE_E_NOMEM;
	}
	for (size_t i = 0; st == SPF_DNS_OK && i < a->n_rrs; i++) {
		const struct lookup_rr *rr = &a->rrs[i];
		char *t = NULL;

		if (q->type == DNS_TYPE_TXT) {
			/* a record that cannot be joined is not SPF's */
			if ((t = txt_join(rr->data, rr->len)) == NULL)
				continue;
		} else if (q->type == DNS_TYPE_MX) {
			char name[DNS_NAME_TEXT_MAX];

			if (rr->len < 3 || dname_to_text(rr->data + 2,
			    rr->len - 2U, true, name, sizeof(name)) != 0)
				continue;
			if (strcmp(name, ".") == 0)
				name[0] = '\0';	/* RFC 7505 null MX */
			if ((t = strdup(name)) == NULL)
				break;
		} else {
			if ((t = malloc(rr->len > 0 ? rr->len : 1)) == NULL)
				break;
			memcpy(t, rr->data, rr->len);
			lens[n] = rr->len;
			items[n++] = (uint8_t *)t;
			continue;
		}
		lens[n] = strlen(t);
		items[n++] = (uint8_t *)t;
	}
	rc = spf_dns_add(&sl->cache, q->name, q->type, st,
	    (const uint8_t *const *)items, lens, n);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	free(lens);
	return rc;
}

static void sl_step(struct spf_lookup *sl);

static void
sl_on_answer(void *arg, struct lookup_answer *a)
{
	struct sl_q *sq = arg;
	struct spf_lookup *sl = sq->sl;

	sl->waiting = false;
	sl->pending = NULL;
	if (sl->cb == NULL) {
		lookup_answer_clear(a);
		free(sq);
		sl_free(sl);
		return;
	}
	if (sl_store(sl, &sq->q, a) != 0)
		/* no room for it: as a failure of that query */
		(void)spf_dns_add(&sl->cache, sq->q.name, sq->q.type,
		    SPF_DNS_FAIL, NULL, NULL, 0);
	lookup_answer_clear(a);
	free(sq);
	sl_step(sl);
}

/* Evaluates until a lookup is out or every address has its result. */
static void
sl_step(struct spf_lookup *sl)
{
	if (sl->in_step)
		return;		/* an answer inside resolver_lookup_async() */
	sl->in_step = true;
	while (sl->i < sl->n) {
		struct sockaddr_storage *ss = &sl->addrs[sl->i];
		struct spf_request req = { (const struct sockaddr *)ss,
		    sl->domain, sl->sender, sl->helo };
		struct sl_q *sq;
		enum spf_result r;

		if ((sq = calloc(1, sizeof(*sq))) == NULL)
			r = SPF_R_TEMPERROR;
		else if ((r = spf_eval(&sl->cache, &req, &sq->q)) ==
		    SPF_R_NEEDS_LOOKUP) {
			sq->sl = sl;
			sl->waiting = true;
			sl->pending = sq;
			if (resolver_lookup_async(sl->r, sq->q.name,
			    sq->q.type, sl_on_answer, sq) != 0) {
				sl->waiting = false;
				sl->pending = NULL;
				if (spf_dns_add(&sl->cache, sq->q.name,
				    sq->q.type, SPF_DNS_FAIL, NULL, NULL,
				    0) != 0)
				{
					sl->temperror = true;
					sl->i++;
				}
				free(sq);
				continue;
			}
			if (sl->waiting) {
				sl->in_step = false;
				return;
			}
			continue;	/* answered already */
		}
		free(sq);
		if (r == SPF_R_TEMPERROR)
			sl->temperror = true;
		else if (r != SPF_R_PASS && sl->first_bad == SPF_R_PASS)
			sl->first_bad = r;
		sl->i++;
	}
	sl->in_step = false;
	{
		spf_lookup_fn *cb = sl->cb;
		void *arg = sl->arg;
		enum spf_result r = sl->n == 0 ? SPF_R_NEUTRAL :
		    sl->first_bad != SPF_R_PASS ? sl->first_bad :
		    sl->temperror ? SPF_R_TEMPERROR : SPF_R_PASS;

		if (sl->handle != NULL)
			*sl->handle = NULL;
		sl_free(sl);
		if (cb != NULL)
			cb(arg, r);
	}
}

/* spf_lookup.h */
int
spf_lookup_start(struct danegate_resolver *r, const char *domain,
    const char *sender, const char *helo,
    const struct sockaddr_storage *addrs, size_t n, spf_lookup_fn *cb,
    void *arg, struct spf_lookup **out)
{
	struct spf_lookup *sl;

	*out = NULL;
	if (strlen(domain) >= sizeof(sl->domain) ||
	    (sender != NULL && strlen(sender) >= sizeof(sl->sender)) ||
	    (helo != NULL && strlen(helo) >= sizeof(sl->helo)))
		return DANEGATE_E_INVALID;
	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return DANEGATE_E_NOMEM;
	if (n > 0 && (sl->addrs = calloc(n, sizeof(*addrs))) == NULL) {
		free(sl);
		return DANEGATE_E_NOMEM;
	}
	if (n > 0)
		memcpy(sl->addrs, addrs, n * sizeof(*addrs));
	sl->n = n;
	sl->r = r;
	snprintf(sl->domain, sizeof(sl->domain), "%s", domain);
	snprintf(sl->sender, sizeof(sl->sender), "%s",
	    sender != NULL ? sender : "");
	snprintf(sl->helo, sizeof(sl->helo), "%s", helo != NULL ? helo : "");
	sl->first_bad = SPF_R_PASS;
	sl->cb = cb;
	sl->arg = arg;
	sl->owner.cancel = sl_cancel;
	resolver_attach(r, &sl->owner);
	/* *out is NULLed when sl ends, maybe before this returns */
	*out = sl;
	sl->handle = out;
	sl_step(sl);
	return 0;
}

/* spf_lookup.h */
void
spf_lookup_abandon(struct spf_lookup *sl)
{
	if (sl == NULL)
		return;
	sl->cb = NULL;
	if (sl->handle != NULL)
		*sl->handle = NULL;
	sl->handle = NULL;
	if (!sl->waiting)
		sl_free(sl);
}

struct run_wait {
	bool done;
	enum spf_result r;
};

static void
run_on_result(void *arg, enum spf_result r)
{
	struct run_wait *w = arg;

	w->r = r;
	w->done = true;
}

/* spf_lookup.h */
int
spf_lookup_run(struct danegate_resolver *r, const char *domain,
    const char *sender, const char *helo,
    const struct sockaddr_storage *addrs, size_t n,
    enum spf_result *result)
{
	struct run_wait w = { false, SPF_R_NONE };
	struct spf_lookup *sl;
	int rc;

	if (resolver_is_async(r))
		return DANEGATE_E_INVALID;
	if ((rc = spf_lookup_start(r, domain, sender, helo, addrs, n,
	    run_on_result, &w, &sl)) != 0)
		return rc;
	if ((rc = resolver_run(r, &w.done)) != 0)
		return rc;
	*result = w.r;
	return 0;
}
