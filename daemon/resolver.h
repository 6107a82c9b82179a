/*
 * resolver.h - danegated's back end: one libunbound context driven by the
 * daemon's libevent loop (ub_ctx_create_event + ub_resolve_event).
 *
 * The context is set up by lib/ubctx.c, whose header lists the facts
 * about libunbound 1.17 this module is built around. Here they mean: a
 * bogus answer (err 0, sec 1, NOERROR with the data) must be turned into
 * SERVFAIL by the caller; a callback for local data fires inside
 * ub_resolve_event(), so the caller's request must be complete before
 * resolver_resolve() is called and not touched after it returns 0; every
 * option is set in resolver_new(); a conf without a trust anchor is
 * refused, and the readiness probe (server.c, with ubctx_probe_verdict())
 * checks that each anchored zone validates before danegated reports
 * ready.
 *
 * A reload builds a new resolver; the old one is retired with
 * resolver_retire() and deletes itself once its last query has answered, so
 * no answer is lost.
 *
 * SECURITY: libunbound talks to the authoritative servers (or forwarders)
 * of the configuration; it runs in danegated's process after the privilege
 * drop, inside its seccomp filter.
 */
#ifndef DG_RESOLVER_H
#define DG_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct conf;
struct resolver;

enum resolver_sec {
	RESOLVER_INSECURE = 0,
	RESOLVER_BOGUS = 1,
	RESOLVER_SECURE = 2,
};

/*
 * err: 0, or a libunbound error (the lookup failed: indeterminate).
 * pkt/len: libunbound's answer packet (may be NULL on error); borrowed for
 * the duration of the call. why_bogus: libunbound's reason, or NULL.
 */
typedef void resolver_done_fn(void *arg, int err, const uint8_t *pkt,
    size_t len, enum resolver_sec sec, const char *why_bogus);

/* Embedded in the caller's query state; filled by resolver_resolve(). */
struct resolver_req {
	struct resolver *resolver;
	resolver_done_fn *done;
	void *arg;
};

/*
 * Creates a context on base with conf's resolver options. Logs every
 * option libunbound refuses as "FILE:LINE: ..." and returns NULL if there
 * was any. With base NULL, creates a plain context only to check the
 * options (danegated -t).
 */
struct resolver *resolver_new(struct event_base *base, const struct conf *conf);

/*
 * Like resolver_new(), with the same options but small caches: for the
 * readiness probe, which uses one such context per round and retires it,
 * so that what a failed probe leaves in libunbound's caches never reaches
 * the context that serves clients.
 */
struct resolver *resolver_new_probe(struct event_base *base,
    const struct conf *conf);

/*
 * Makes libunbound read its files (trust anchors, root hints) and set up
 * its worker now, without sending a query upstream (it resolves
 * localhost. from its own local zone): at start-up, before the chroot and
 * privilege drop. Returns 0, or -1 after logging libunbound's reason.
 */
int resolver_finalize(struct resolver *r);

/*
 * Starts resolving qname (wire format)/qtype/qclass. done(arg, ...) is
 * called exactly once, possibly before this function returns. Returns 0,
 * or -1 (done is then not called) when libunbound refuses the query.
 */
int resolver_resolve(struct resolver *r, struct resolver_req *req,
    const uint8_t *qname, size_t qname_len, uint16_t qtype, uint16_t qclass,
    resolver_done_fn *done, void *arg);

/* Queries still waiting for an answer. */
unsigned resolver_inflight(const struct resolver *r);

/*
 * Frees r once its in-flight queries have answered (at once if none).
 * r must not be used for new queries afterwards.
 */
void resolver_retire(struct resolver *r);

/* Deletes r at once, cancelling its queries without calling back (exit). */
void resolver_shutdown(struct resolver *r);

/*
 * Names of the zones the configured trust anchors are for (". " for the
 * root), read from trust-anchor-file:, auto-trust-anchor-file: and
 * trust-anchor:. Fills up to max names; returns how many were found.
 */
size_t resolver_anchor_names(const struct conf *conf, char names[][256],
    size_t max);

/* Text for a resolve callback's err: the rcode's name for a failed
 * resolution, libunbound's text for its own codes (ubctx_strerror). */
const char *resolver_strerror(int err);

#endif
