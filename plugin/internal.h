/*
 * internal.h - what libdanegate's files share and do not export.
 *
 * Public symbols carry DANEGATE_EXPORT; the library is built with
 * -fvisibility=hidden and a danegate_* export list, so anything else stays
 * private.
 */
#ifndef DANEGATE_INTERNAL_H
#define DANEGATE_INTERNAL_H

#include <gnutls/gnutls.h>

#include "danegate.h"

#define DANEGATE_EXPORT __attribute__((visibility("default")))

/*
 * smtp.c's judgement of an established TLS session, for an SMTP client
 * that drives its own session (danegate-relay): fills res with the
 * version, cipher and peer chain and, when host has usable TLSA records, the RFC 7672 match against host's records with the
 * names DANE-TA checks (TLSA base name, host name, nexthop_domain):
 * res->reason is DANE_VERIFIED, DANE_TRUSTED or the failure, res->error
 * says why. Without usable records only the session is described
 * (reason NONE). res comes from calloc() and goes with
 * danegate_smtp_result_free(). Returns 0, DANEGATE_E_INVALID or
 * DANEGATE_E_NOMEM.
 */
/*
 * A HELO name goes into an EHLO command verbatim, so it may hold only what
 * a domain or an address literal holds (1-255 bytes, no blanks, no CR/LF):
 * for the probe and every other SMTP client of the engine.
 */
bool smtp_helo_name_ok(const char *name);

int smtp_session_judge(gnutls_session_t tls,
    const struct danegate_mx_host *host, const char *nexthop_domain,
    struct danegate_smtp_result *res);

#endif
