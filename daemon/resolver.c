/*
 * resolver.c - see resolver.h.
 */
#include "config.h"

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>

#include "conf.h"
#include "dname.h"
#include "log.h"
#include "msg.h"
#include "resolver.h"
#include "ubctx.h"

struct resolver {
	struct ub_ctx *ctx;
	struct event_base *base;
	unsigned inflight;
	bool retired;
	bool freeing;		/* its deletion is scheduled */
};

const char *
resolver_strerror(int err)
{
	return ubctx_strerror(err);
}

/*
 * Options that ub_ctx_set_option() cannot carry (see ubctx.h) go through
 * a temporary unbound.conf read with ubctx_read_config().
 */
static bool
resolver_option_via_file(const struct conf_ub_option *o)
{
	return strcmp(o->name, "local-zone") == 0;
}

static int
resolver_apply_file(struct ub_ctx *ctx, const struct conf *conf)
{
	char path[] = "/tmp/danegated-zones.XXXXXX", why[512];
	const char *where_file = NULL;
	unsigned where_line = 0;
	size_t n_local = 0;
	FILE *f;
	int fd, rc;

	for (size_t i = 0; i < conf->n_ub_options; i++)
		if (resolver_option_via_file(&conf->ub_options[i]) &&
		    n_local++ == 0) {
			where_file = conf->ub_options[i].file;
			where_line = conf->ub_options[i].line;
		}
	if (conf->n_zones == 0 && n_local == 0)
		return 0;
	if (where_file == NULL) {
		where_file = conf->zones[0].file;
		where_line = conf->zones[0].line;
	}
	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("cannot write a temporary file for forward/stub zones");
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	fprintf(f, "server:\n");
	for (size_t i = 0; i < conf->n_ub_options; i++) {
		const struct conf_ub_option *o = &conf->ub_options[i];
		size_t name_len = strcspn(o->value, " \t");

		/* "NAME TYPE" as conf.c joined it: the name quoted again */
		if (resolver_option_via_file(o))
			fprintf(f, "\t%s: \"%.*s\"%s\n", o->name, (int)name_len,
			    o->value, o->value + name_len);
	}
	for (size_t i = 0; i < conf->n_zones; i++) {
		const struct conf_zone *z = &conf->zones[i];
		const char *kind = z->forward ? "forward" : "stub";

		fprintf(f, "%s-zone:\n\tname: \"%s\"\n", kind, z->name);
		for (size_t j = 0; j < z->n_addrs; j++)
			fprintf(f, "\t%s-addr: %s\n", kind, z->addrs[j]);
		for (size_t j = 0; j < z->n_hosts; j++)
			fprintf(f, "\t%s-host: %s\n", kind, z->hosts[j]);
		fprintf(f, "\t%s-first: %s\n", kind, z->first ? "yes" : "no");
		if (!z->forward)
			fprintf(f, "\tstub-prime: %s\n",
			    z->prime ? "yes" : "no");
	}
	if ((rc = fclose(f)) != 0)
		log_warn("cannot write a temporary file for forward/stub zones");
	else if ((rc = ubctx_read_config(ctx, path, why, sizeof(why))) != 0)
		log_err("%s:%u: libunbound refused the local-zone/forward-zone/"
		    "stub-zone settings (the first is here): %s", where_file,
		    where_line, why);
	unlink(path);
	return rc == 0 ? 0 : -1;
}

struct resolver *
resolver_new(struct event_base *base, const struct conf *conf)
{
	struct resolver *r;
	char num[32], why[512];
	int errors = 0;

	/* also called on reload: a failure returns NULL (the old resolver
	 * stays), never exits */
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("cannot allocate a resolver");
		return NULL;
	}
	r->base = base;
	if ((r->ctx = ubctx_new(base, why, sizeof(why))) == NULL) {
		log_err("%s", why);
		free(r);
		return NULL;
	}
	/* libunbound's mesh must hold as many queries as we let in */
	snprintf(num, sizeof(num), "%u", conf->num_queries_per_thread);
	if (ubctx_set_option(r->ctx, "num-queries-per-thread", num, why,
	    sizeof(why)) != 0)
		log_warnx("%s", why);
	snprintf(num, sizeof(num), "%u", conf->edns_buffer_size);
	if (ubctx_set_option(r->ctx, "edns-buffer-size", num, why,
	    sizeof(why)) != 0)
		log_warnx("%s", why);

	for (size_t i = 0; i < conf->n_ub_options; i++) {
		const struct conf_ub_option *o = &conf->ub_options[i];

		if (resolver_option_via_file(o))
			continue;
		if (ubctx_set_option(r->ctx, o->name, o->value, why,
		    sizeof(why)) != 0) {
			log_err("%s:%u: %s", o->file, o->line, why);
			errors++;
		}
	}
	/* the front answer cache's share of msg-cache-size (conf.h) */
	snprintf(num, sizeof(num), "%zu", conf->unbound_msg_cache_size);
	if (ubctx_set_option(r->ctx, "msg-cache-size", num, why,
	    sizeof(why)) != 0)
		log_warnx("%s", why);
	if (resolver_apply_file(r->ctx, conf) != 0)
		errors++;
	if (errors > 0) {
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	/* libunbound logs to stderr; keep it quiet below debugging */
	(void)ub_ctx_debugout(r->ctx, stderr);
	(void)ub_ctx_debuglevel(r->ctx, conf->verbosity > 2 ?
	    conf->verbosity - 2 : 0);
	return r;
}

/*
 * The readiness probe's context: the same options (anchors, hints, forward
 * and stub zones), but small, so that a probe never costs the serving
 * context's memory. Each probe round gets a new one and throws it away: a
 * failure that libunbound remembers (a server marked down in the infra
 * cache, a key entry marked bad) must not outlive the round, nor ever
 * reach the context that answers clients.
 */
struct resolver *
resolver_new_probe(struct event_base *base, const struct conf *conf)
{
	static const char *const small[][2] = {
		{ "msg-cache-size", "256k" },
		{ "rrset-cache-size", "256k" },
		{ "key-cache-size", "256k" },
		{ "neg-cache-size", "64k" },
		{ "infra-cache-numhosts", "64" },
		{ "outgoing-range", "64" },
		{ "num-queries-per-thread", "32" },
	};
	struct resolver *r = resolver_new(base, conf);
	char why[256];

	if (r == NULL)
		return NULL;
	/* a failure here only costs the probe memory: it still runs */
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++)
		if (ubctx_set_option(r->ctx, small[i][0], small[i][1], why,
		    sizeof(why)) != 0)
			log_warnx("readiness probe: %s", why);
	return r;
}

static void
resolver_on_start_answer(void *mydata, int err, void *pkt, int len, int sec,
    char *why_bogus, int was_ratelimited)
{
	(void)mydata;
	(void)err;
	(void)pkt;
	(void)len;
	(void)sec;
	(void)why_bogus;
	(void)was_ratelimited;
}

int
resolver_finalize(struct resolver *r)
{
	int rc, id;

	/* The first resolve finalizes the context (reads the anchors and
	 * hints) and sets up its worker, which a process that has dropped
	 * its privileges may no longer be able to do ("initialization
	 * failure" as nobody). localhost. is libunbound's own local zone,
	 * answered inside the call: nothing is asked upstream, nothing can
	 * fail into the caches. */
	if ((rc = ub_resolve_event(r->ctx, "localhost.", 1, 1, NULL,
	    resolver_on_start_answer, &id)) != 0) {
		log_err("libunbound cannot start (trust anchors, root hints): "
		    "%s", ub_strerror(rc));
		return -1;
	}
	return 0;
}

static void
resolver_free(struct resolver *r)
{
	ub_ctx_delete(r->ctx);
	free(r);
}

static void
resolver_free_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	resolver_free(arg);
#ifdef HAVE_MALLOC_TRIM
	/* A retired context (after a reload, or a readiness probe round)
	 * frees its caches at once: megabytes in many small blocks, mostly
	 * below the heap's top, which free() alone keeps. Give the free
	 * pages back to the system. */
	(void)malloc_trim(0);
#endif
}

static void
resolver_maybe_free(struct resolver *r)
{
	struct timeval now = { 0, 0 };

	/* retired from inside its own last callback, it comes here twice:
	 * schedule the deletion once */
	if (!r->retired || r->inflight > 0 || r->freeing)
		return;
	r->freeing = true;
	/* Deleting a context from inside its own callback is not allowed:
	 * leave it to the next turn of the loop. */
	if (r->base == NULL ||
	    event_base_once(r->base, -1, EV_TIMEOUT, resolver_free_later, r,
	    &now) != 0)
		resolver_free(r);
}

static void
resolver_on_answer(void *mydata, int err, void *pkt, int len, int sec,
    char *why_bogus, int was_ratelimited)
{
	struct resolver_req *req = mydata;
	struct resolver *r = req->resolver;

	(void)was_ratelimited;
	r->inflight--;
	req->done(req->arg, err, pkt, len > 0 ? (size_t)len : 0,
	    (enum resolver_sec)sec, why_bogus);
	resolver_maybe_free(r);
}

int
resolver_resolve(struct resolver *r, struct resolver_req *req,
    const uint8_t *qname, size_t qname_len, uint16_t qtype, uint16_t qclass,
    resolver_done_fn *done, void *arg)
{
	char name[DNS_NAME_TEXT_MAX];
	int rc, id;

	if (dname_to_text(qname, qname_len, false, name, sizeof(name)) != 0)
		return -1;
	req->resolver = r;
	req->done = done;
	req->arg = arg;
	/* Counted before the call: the callback may run inside it. */
	r->inflight++;
	rc = ub_resolve_event(r->ctx, name, qtype, qclass, req,
	    resolver_on_answer, &id);
	if (rc != 0) {
		r->inflight--;
		log_debug("ub_resolve_event(%s): %s", name, ub_strerror(rc));
		return -1;
	}
	return 0;
}

unsigned
resolver_inflight(const struct resolver *r)
{
	return r->inflight;
}

void
resolver_retire(struct resolver *r)
{
	if (r == NULL)
		return;
	r->retired = true;
	resolver_maybe_free(r);
}

void
resolver_shutdown(struct resolver *r)
{
	if (r != NULL)
		resolver_free(r);
}

size_t
resolver_anchor_names(const struct conf *conf, char names[][256], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < conf->n_ub_options && n < max; i++) {
		const struct conf_ub_option *o = &conf->ub_options[i];
		char owner[256], why[512];

		if (strcmp(o->name, "trust-anchor-file") == 0 ||
		    strcmp(o->name, "auto-trust-anchor-file") == 0) {
			if (ubctx_anchor_file_zone(o->value, owner,
			    sizeof(owner), why, sizeof(why)) != 0) {
				log_warnx("%s:%u: %s", o->file, o->line, why);
				continue;
			}
		} else if (strcmp(o->name, "trust-anchor") == 0) {
			if (ubctx_anchor_zone(o->value, owner,
			    sizeof(owner)) != 0)
				continue;
		} else {
			continue;
		}
		snprintf(names[n++], 256, "%s", owner);
	}
	return n;
}
