/*
 * explain.h - `danegate-policy --explain DOMAIN`: the decision path, as
 * text or JSON: the MX RRset and its security, per host the addresses and
 * TLSA lookups with their security and the usable records, the MTA-STS
 * state, and the one reply Postfix gets for each map name.
 *
 * SECURITY: runs with the caller's privileges; looks up DNS through the
 * engine's validating resolver and fetches MTA-STS over HTTPS.
 */
#ifndef DANEGATE_POLICY_EXPLAIN_H
#define DANEGATE_POLICY_EXPLAIN_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"

/* Looks up key (blocking) with conf's resolver settings and prints the
 * path to f. Returns 0 (whatever the verdict), 1 if the resolver cannot
 * be set up. */
int explain_run(const struct policy_conf *conf, const char *key, bool json,
    FILE *f);

#endif
