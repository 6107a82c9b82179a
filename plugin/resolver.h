/*
 * resolver.h - libdanegate's validating resolver, inside the library: one
 * libunbound context (set up by lib/ubctx.c) on a libevent base, and
 * single lookups turned into struct lookup_answer (lookup.h). The public
 * half is danegate_resolver_* in danegate.h.
 *
 * SECURITY: see resolver.c.
 */
#ifndef DANEGATE_RESOLVER_H
#define DANEGATE_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lookup.h"

struct danegate_resolver;
struct event_base;

/* Called once per lookup with the answer, which it may keep (move the
 * struct) or clear. */
typedef void resolver_answer_fn(void *arg, struct lookup_answer *ans);

/*
 * Starts a validated lookup of name/type on the resolver's event base.
 * cb(arg, answer) is called exactly once, possibly before this returns;
 * a libunbound failure or a timeout (the resolver's timeout_ms) arrives
 * as an indeterminate answer. Returns 0, or DANEGATE_E_NOMEM (cb is then
 * not called).
 */
int resolver_lookup_async(struct danegate_resolver *r, const char *name,
    uint16_t type, resolver_answer_fn *cb, void *arg);

/*
 * The bare result, for the few callers that judge libunbound's result
 * themselves (the anchor check, with lib/ubctx.c's rule): the resolve
 * callback's err, packet (borrowed for the call), sec and why_bogus, or
 * with reason set (and the rest zero) when libunbound did not answer in
 * time.
 */
typedef void resolver_raw_fn(void *arg, int err, const uint8_t *pkt,
    size_t len, int sec, const char *why_bogus, const char *reason);

/* resolver_lookup_async(), answered with the bare result. */
int resolver_lookup_raw(struct danegate_resolver *r, const char *name,
    uint16_t type, resolver_raw_fn *raw, void *arg);

/* The same, blocking (resolvers created without an event base only). */
int resolver_lookup(struct danegate_resolver *r, const char *name,
    uint16_t type, struct lookup_answer *out);

/* True if r runs on the caller's event base (the *_async calls). */
bool resolver_is_async(const struct danegate_resolver *r);

struct event_base *resolver_base(const struct danegate_resolver *r);

/*
 * Blocking resolvers: runs the private event base until *done is true.
 * Returns 0, or DANEGATE_E_RESOLVER if the loop ran dry first.
 */
int resolver_run(struct danegate_resolver *r, const bool *done);

/*
 * Work that must end with the resolver: danegate_resolver_free() calls
 * cancel(owner) for each attached owner, after libunbound is gone and
 * before the lookups are freed. cancel must free the owner without
 * calling anyone back.
 */
struct resolver_owner {
	struct resolver_owner *prev, *next;
	void (*cancel)(struct resolver_owner *o);
};

void resolver_attach(struct danegate_resolver *r, struct resolver_owner *o);
void resolver_detach(struct danegate_resolver *r, struct resolver_owner *o);

#endif
