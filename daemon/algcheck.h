/*
 * algcheck.h - which DNSSEC algorithms and DS digest types the linked
 * libunbound really validates.
 *
 * A validator that does not support a zone's DNSKEY algorithm or the digest
 * type of its DS records treats the zone as insecure (RFC 4035 §5.2,
 * RFC 6840 §5.2): its answers come without AD, and for DANE (RFC 7672)
 * insecure means no TLSA, a downgrade. Which algorithms libunbound supports
 * depends on the crypto library it was built with (Debian's libunbound8 is
 * built on Nettle, the Unbound daemon on OpenSSL), not on its version, and
 * the library cannot be asked. So algcheck validates one tiny pre-signed
 * zone per algorithm and per digest type (algcheck_zones.h) with a private
 * libunbound context and reports what came out secure.
 *
 * The check reads no file and sends no packet: the zones are auth-zones
 * (for-upstream) read from memfds, each with its DS as trust anchor, and
 * the validation date is fixed inside the signatures' window
 * (val-override-date:), so the result does not depend on the clock.
 * It takes 0.1-0.2 s (measured on 2 busy cores) and runs once at start-up.
 *
 * SECURITY: runs as root before the privilege drop (it needs /proc/self/fd
 * to hand the memfds to libunbound); the data is compiled in.
 */
#ifndef DG_ALGCHECK_H
#define DG_ALGCHECK_H

#include <stddef.h>

enum algcheck_kind {
	ALGCHECK_ALGORITHM,	/* a DNSKEY algorithm, DS digest SHA-256 */
	ALGCHECK_DIGEST,	/* a DS digest type, algorithm 13 */
};

/* One pre-signed test zone. */
struct algcheck_zone {
	enum algcheck_kind kind;
	int number;		/* algorithm or digest type number */
	const char *name;	/* "RSASHA1", "SHA-384" */
	const char *rfc8624;	/* what RFC 8624 asks of a validator:
				 * "MUST" or "RECOMMENDED" */
	const char *zone;	/* "alg5.selftest.danegated." */
	const char *ds;		/* the trust anchor: the zone's DS RR */
	const char *data;	/* the signed zone, zone-file text */
};

enum algcheck_verdict {
	ALGCHECK_SECURE,	/* validated */
	ALGCHECK_INSECURE,	/* unsupported: the anchor was ignored */
	ALGCHECK_BOGUS,		/* claimed, but the signatures failed */
	ALGCHECK_FAILED,	/* no answer at all */
};

struct algcheck_result {
	const struct algcheck_zone *zone;	/* borrowed */
	enum algcheck_verdict verdict;
	char why[160];		/* libunbound's reason, if any */
};

/* The built-in test zones: *n gets their number. */
const struct algcheck_zone *algcheck_zones_builtin(size_t *n);

/*
 * Validates zones[0..n) with one private libunbound context and fills
 * res[0..n). Returns 0, or -1 if the check could not run at all (no
 * memfd, libunbound refused the set-up): then err says why.
 */
int algcheck_run(const struct algcheck_zone *zones, size_t n,
    struct algcheck_result *res, char *err, size_t errlen);

/* "secure", "insecure", "bogus", "failed". */
const char *algcheck_verdict_name(enum algcheck_verdict v);

/*
 * Runs the built-in check and logs, for each algorithm or digest type that
 * does not validate, one line "cannot validate DNSSEC algorithm N (NAME)"
 * or "cannot validate DS digest type N (NAME)" (an error for those RFC 8624
 * says MUST be validated, else a warning), then one notice listing what
 * validates. Returns the number of MUST algorithms and digest types that
 * do not validate, or -1 if the check could not run (logged).
 */
int algcheck_log(void);

#endif
