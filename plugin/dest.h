/*
 * dest.h - the RFC 7672 destination logic of libdanegate, and the lookups
 * it runs on; internal to the library.
 *
 * Two halves:
 *
 *  - dest_evaluate() is a pure function from recorded DNS answers to a
 *    struct danegate_destination: MX, then per host A and AAAA, then TLSA
 *    at _PORT._tcp.<expanded name>, then at the original name. It asks for
 *    each answer through a callback and never does I/O, so the unit tests
 *    feed it by hand. When the callback has no answer yet it returns
 *    DEST_PENDING after asking for everything it can already know it
 *    needs (the A and AAAA of every MX host at once, ...); the driver looks
 *    those up and calls it again. Answers never change, so every run asks
 *    for a superset of what the previous one asked for, and the last run
 *    sees all of them.
 *
 *  - resolver_lookup_async()/resolver_lookup() (resolver.c) run one
 *    validated lookup through libunbound and turn its answer into a
 *    struct lookup_answer: the DNSSEC state, the rcode, the CNAME target
 *    and the records of the queried type at the end of the chain.
 *
 * The decision rules are DESIGN.md's "SMTP DANE rules"; the choices it
 * left open are documented at dest_evaluate() and in dest.c.
 *
 * SECURITY: lookup_answer holds data from the network, validated by
 * libunbound but otherwise untrusted: dest.c reads every record through
 * a bounded cursor.
 */
#ifndef DANEGATE_DEST_H
#define DANEGATE_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "danegate.h"
#include "dns.h"

#define DEST_PENDING	1	/* dest_evaluate(): answers still missing */
#define DEST_MAX_HOSTS	16	/* MX hosts looked at, lowest preference
				 * first; the rest are named in d->why */

/* One record's rdata, names inside it uncompressed (MX: preference and
 * exchange in wire format). */
struct lookup_rr {
	uint8_t *data;
	uint16_t len;
};

/*
 * The result of one lookup. Owned by whoever holds it; lookup_answer_clear()
 * frees rrs. Tests may build one over static storage and never clear it.
 */
struct lookup_answer {
	char name[DANEGATE_NAME_MAX];	/* as asked */
	uint16_t type;
	enum danegate_dnssec state;
	int rcode;			/* DNS rcode; -1: no answer at all */
	bool nxdomain;			/* rcode NXDOMAIN */
	bool nodata;			/* NOERROR without records */
	char canonname[DANEGATE_NAME_MAX]; /* CNAME target ("" if none) */
	char why[256];			/* why bogus/indeterminate ("" if
					 * neither) */
	struct lookup_rr *rrs;		/* of the queried type, owner =
					 * the end of the CNAME chain */
	size_t n_rrs;
};

void lookup_answer_clear(struct lookup_answer *a);

/*
 * Turns libunbound's answer into *out (which the caller clears): err is
 * libunbound's error code (0: none), sec 0 insecure / 1 bogus / 2 secure,
 * why_bogus may be NULL. Never fails: what cannot be read becomes an
 * indeterminate answer that says why.
 */
void lookup_answer_from_packet(struct lookup_answer *out, const char *name,
    uint16_t type, int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus);

/* ---- the decision ------------------------------------------------------ */

/*
 * The recorded answer for (name, type), or NULL if it is not known yet
 * (the driver then looks it up). name is in presentation form without the
 * trailing dot; compare it without regard to ASCII case. The answer is
 * borrowed until dest_evaluate() returns.
 */
typedef const struct lookup_answer *dest_get_fn(void *arg, const char *name,
    uint16_t type);

/*
 * Applies RFC 7672 to domain's recorded answers. host_only: domain is one
 * host, not a mail domain (no MX lookup: danegate_host_lookup()). Returns
 * 0 and sets *out (free with danegate_destination_free()), DEST_PENDING
 * if get() returned NULL for something, DANEGATE_E_INVALID for a bad
 * domain or port, or DANEGATE_E_NOMEM.
 *
 * Choices made where DESIGN.md leaves room:
 *  - MX NXDOMAIN: policy DEFER, reason NO_ADDRESS, why "domain ... does
 *    not exist" (Postfix bounces it; the API has no permanent failure
 *    besides NO_MAIL, which is for RFC 7505).
 *  - implicit MX (no MX records): the host is the domain itself, which the
 *    caller named, so its DANE is verified, not merely trusted, even when
 *    the denial of the MX RRset was insecure (as in Postfix).
 *  - addresses: both A and AAAA must be answered; the worst state wins
 *    (bogus, indeterminate, insecure, secure); a bogus AAAA defers a host
 *    with secure A records.
 *  - TLSA: looked up only for secure addresses; the expanded name first,
 *    then the original name if the expanded one had nothing usable there:
 *    a secure denial or an insecure answer (as Postfix does); a failed
 *    lookup at the expanded name defers without trying the original.
 *    Bogus/indeterminate TLSA defers the host with DNSSEC_INVALID (RFC
 *    8460's "tlsa-invalid" is for records that cannot be used).
 *  - destination: the first host in MX order that is not deferred decides
 *    the policy and reason; if all are deferred the reason is
 *    DNSSEC_INVALID if any host was deferred for it, else the first
 *    host's.
 */
int dest_evaluate(const char *domain, uint16_t port, bool host_only,
    dest_get_fn *get, void *arg, struct danegate_destination **out);

/* ---- the lookups (resolver.c) ------------------------------------------- */

struct danegate_resolver;

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
