/*
 * spf_lookup.h - SPF check_host() (spf.h) on libdanegate's validating
 * resolver, internal to the library: the queries the evaluation names
 * are made one after the other through resolver_lookup_async(), their
 * answers cached and the evaluation replayed until it has a result. For
 * the relay's DMARC guard (asynchronous, on the relay's event base) and
 * tlsa-check's audit (blocking, spf_lookup_run()).
 *
 * An answer that is bogus, indeterminate (timeout) or another rcode than
 * NOERROR/NXDOMAIN is a DNS failure: the evaluation's temperror.
 *
 * Ownership: the caller owns the handle until the callback, which comes
 * once, after which the handle is freed; spf_lookup_abandon() gives it
 * up before (no callback). If the resolver is freed first, the handle is
 * freed with it, without a callback.
 */
#ifndef DANEGATE_SPF_LOOKUP_H
#define DANEGATE_SPF_LOOKUP_H

#include <stddef.h>
#include <sys/socket.h>

#include "resolver.h"
#include "spf.h"

struct spf_lookup;

/* The verdict on every address: spf_lookup_start() says which. */
typedef void spf_lookup_fn(void *arg, enum spf_result r);

/*
 * Evaluates domain's SPF (sender and helo for macros, may be NULL) for
 * each of the n addresses, sharing one cache. The verdict is SPF_R_PASS
 * if every address passes, else the first address's result that is
 * neither a pass nor a temperror, else SPF_R_TEMPERROR; no address is
 * SPF_R_NEUTRAL. cb may be called before this returns. Returns 0 and
 * *out (the handle, NULL once cb has been called), or DANEGATE_E_NOMEM
 * or DANEGATE_E_INVALID (a name too long; cb not called).
 */
int spf_lookup_start(struct danegate_resolver *r, const char *domain,
    const char *sender, const char *helo,
    const struct sockaddr_storage *addrs, size_t n, spf_lookup_fn *cb,
    void *arg, struct spf_lookup **out);

/* Gives up sl: no callback; freed now or at its lookup's answer. */
void spf_lookup_abandon(struct spf_lookup *sl);

/*
 * The same, blocking, on a resolver made without an event base. Returns
 * 0 and *result, or a negative DANEGATE_E_* code.
 */
int spf_lookup_run(struct danegate_resolver *r, const char *domain,
    const char *sender, const char *helo,
    const struct sockaddr_storage *addrs, size_t n,
    enum spf_result *result);

#endif
