/*
 * verdict.h - danegate-policy's answer to Postfix: the engine's
 * destination (dest_evaluate(), via danegate_destination_lookup*) and the
 * engine's MTA-STS result turned into one socketmap reply for
 * smtp_tls_policy_maps. A pure function: no I/O, no clock.
 *
 * The rules (DANE always wins; MTA-STS only where there is no DANE):
 *
 *   key ".example.com", "[host]", "[host]:port", "host:port"
 *                                      NOTFOUND: parent-domain and next-hop
 *                                      keys are not mail domains
 *   key not a domain name (characters, empty or 64+ byte labels)
 *                                      NOTFOUND
 *   lookup failed (resolver down, ...) TEMP dnssec-invalid
 *   MX bogus or indeterminate          TEMP dnssec-invalid
 *   null MX, NXDOMAIN, no addresses    NOTFOUND: Postfix's own lookups
 *                                      bounce or defer it the same way
 *   every host deferred, one for DNSSEC
 *                                      TEMP dnssec-invalid
 *   MX secure (or implicit), every host usable TLSA
 *                                      OK dane-only
 *   some host with secure TLSA (usable or not), or a failed TLSA lookup
 *                                      OK dane: Postfix applies DANE per
 *                                      host (needs
 *                                      smtp_tls_dane_insecure_mx_policy =
 *                                      dane for an insecure MX RRset)
 *   no DANE, _mta-sts bogus/indeterminate
 *                                      TEMP dnssec-invalid
 *   no DANE, no MTA-STS                NOTFOUND
 *   MTA-STS published, no policy (fetch failed, none cached)
 *                                      NOTFOUND (RFC 8461 §5: deliver as if
 *                                      the domain had no MTA-STS), or TEMP
 *                                      <sts-*> with opts.sts_fail_temp
 *   MTA-STS testing or none            NOTFOUND
 *   MTA-STS enforce                    OK secure match=<MX hosts fitting
 *                                      the patterns> servername=hostname;
 *                                      TEMP validation-failure if none fits
 *
 * The second map name (VERDICT_MAP_TLSRPT) answers the same, with Postfix
 * 3.10's TLSRPT attributes added to MTA-STS answers (policy_type=sts,
 * policy_domain=, mx_host_pattern=, policy_string=) and, where the policy
 * could not be had, "may" with policy_failure=.
 *
 * SECURITY: reads a destination and a policy that came from the network
 * (validated DNS, a WebPKI-checked policy); every name written into a
 * reply was checked printable by the engine, and the reply is bounded.
 */
#ifndef DANEGATE_POLICY_VERDICT_H
#define DANEGATE_POLICY_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "danegate.h"
#include "mta_sts.h"

#define VERDICT_NEED_STS	1	/* verdict_decide(): call again with
					 * the domain's MTA-STS result */
#define VERDICT_TEXT_MAX	2048
#define VERDICT_WHY_MAX		512

enum verdict_status {
	VERDICT_OK = 0,
	VERDICT_NOTFOUND,
	VERDICT_TEMP,
};

enum verdict_map {
	VERDICT_MAP_POLICY = 0,		/* smtp_tls_policy_maps */
	VERDICT_MAP_TLSRPT,		/* the same with TLSRPT attributes */
};

struct verdict_options {
	bool sts_fail_temp;		/* MTA-STS published, no policy: TEMP
					 * instead of RFC 8461's NOTFOUND */
};

struct verdict {
	enum verdict_status status;
	enum danegate_reason reason;	/* for TEMP: the RFC 8460 type */
	char text[VERDICT_TEXT_MAX];	/* after the status word */
	char why[VERDICT_WHY_MAX];	/* the decisive step, for humans */
};

/* "OK", "NOTFOUND", "TEMP": the socketmap status word. */
const char *verdict_status_name(enum verdict_status s);

/*
 * Is key a mail domain to look up? Returns true and copies it (without a
 * final dot, lower case) into domain; false for parent-domain keys
 * (".example.com"), next-hop keys ("[host]:port", "host:port") and what
 * is not a host name.
 */
bool verdict_key_domain(const char *key, char *domain, size_t cap);

/*
 * Decides the reply for key. lookup_err and d: what
 * danegate_destination_lookup*() gave for the key's domain (d NULL when
 * lookup_err is not 0; both ignored for keys verdict_key_domain()
 * refuses). sts: the domain's MTA-STS state (a cached unexpired policy
 * passed as fetched), or NULL if not known yet. Returns 0 with *out set,
 * or VERDICT_NEED_STS when the answer depends on MTA-STS and sts is NULL.
 */
int verdict_decide(const char *key, int lookup_err,
    const struct danegate_destination *d, const struct mta_sts_result *sts,
    enum verdict_map map, const struct verdict_options *opts,
    struct verdict *out);

#endif
