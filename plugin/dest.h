/*
 * dest.h - the RFC 7672 destination logic of libdanegate; internal to the
 * library.
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
 *  - dest.c's driver (danegate_destination_lookup*) runs it over the
 *    lookups of resolver.h, which answer with a struct lookup_answer
 *    (lookup.h): the DNSSEC state, the rcode, the CNAME target and the
 *    records of the queried type at the end of the chain.
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
#include "lookup.h"

#define DEST_PENDING	1	/* dest_evaluate(): answers still missing */
#define DEST_MAX_HOSTS	16	/* MX hosts looked at, lowest preference
				 * first; the rest are named in d->why */

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
 *    Addresses made insecure by a CNAME chain that leaves signed space:
 *    the original name's CNAME is looked up (type CNAME); if it is
 *    secure, TLSA at the original name only (RFC 7672 §2.2.2, Postfix's
 *    tls_dane_resolve()); if that lookup fails or finds no CNAME, defer.
 *    Bogus/indeterminate TLSA defers the host with DNSSEC_INVALID (RFC
 *    8460's "tlsa-invalid" is for records that cannot be used).
 *  - destination: the first host in MX order that is not deferred decides
 *    the policy and reason; if all are deferred the reason is
 *    DNSSEC_INVALID if any host was deferred for it, else the first
 *    host's.
 */
int dest_evaluate(const char *domain, uint16_t port, bool host_only,
    dest_get_fn *get, void *arg, struct danegate_destination **out);

#endif
