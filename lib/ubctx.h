/*
 * ubctx.h - the one libunbound layer: context set-up with danegate's
 * defaults, trust-anchor files, the anchor readiness rule, and libunbound's
 * results in words. danegated (daemon/resolver.c) and libdanegate
 * (plugin/resolver.c), and through the engine tlsa-check, the relay and the
 * policy service, all build their contexts here.
 *
 * Why lib/ and not plugin/: the engine is the main user, but danegated and
 * libdanegate are peers above lib/, and a layer both use must sit below
 * both (trust layers depend only downward). In plugin/ the daemon would
 * link the DANE engine (GnuTLS, the public API's visibility rules) to get
 * a context; here it costs each of them libunbound only, which both link
 * anyway. Built as lib/libdgunbound.la for the daemon and compiled into
 * libdanegate (like lib/dname.c), so that programs without DNS
 * (danegate-control) do not link libunbound.
 *
 * Facts about libunbound 1.17 everything here is built around (the only
 * place they are written down):
 *  - the library's defaults suit a stub (16 outgoing ports, 1 MB caches):
 *    ubctx_new() raises them to the Unbound daemon's before any
 *    configuration, which may change them again;
 *  - every option must be set before the first resolve, which finalizes
 *    the context (UB_AFTERFINAL afterwards);
 *  - ub_ctx_config() reads files with a flex scanner that has global
 *    state: two threads reading at once corrupt it ("fatal flex scanner
 *    internal error"); ubctx_read_config() serializes the calls;
 *  - local-zone: through ub_ctx_set_option() is accepted, but
 *    "nodefault" has no effect (RFC 6761 names such as test. stay
 *    answered locally); through a file read with ub_ctx_config() it works;
 *    forward-zone:/stub-zone: clauses have no set_option form at all;
 *  - trust anchors are read only at the first resolve, and without one
 *    everything is "insecure": ubctx_add_anchor_file() checks the file
 *    first, and a program reports ready only after ubctx_probe_verdict()
 *    accepted the answer to ubctx_probe's query for every anchored zone;
 *  - a resolve callback's err is 0, a negative UB_* code, or, for
 *    ub_resolve_event() contexts, the DNS rcode (2 = SERVFAIL) when
 *    resolution failed: ub_strerror() calls that "unknown error", so use
 *    ubctx_strerror(). The packet then is not an answer;
 *  - a bogus answer arrives as err 0, sec 1 and a NOERROR packet with the
 *    data: the caller must never use it;
 *  - callbacks may fire inside ub_resolve_event() itself (local data);
 *  - ub_cancel() on an event context writes to a pipe nobody reads and
 *    frees the query while the mesh still refers to it: never call it;
 *    deleting the context drops every query without a callback, and must
 *    not happen inside one of its own callbacks.
 *
 * Errors: like the rest of lib/, 0 or -1 with one line in the caller's
 * buffer ("why"), which names the option, file or libunbound's reason.
 *
 * SECURITY: libunbound talks to the DNS with its caller's privileges;
 * anchor files are root-owned configuration, read with bounded lines.
 */
#ifndef DG_UBCTX_H
#define DG_UBCTX_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

struct event_base;
struct ub_ctx;

/* libunbound's sec values in a resolve callback */
enum ubctx_sec {
	UBCTX_INSECURE = 0,
	UBCTX_BOGUS = 1,
	UBCTX_SECURE = 2,
};

/* What the readiness probe asks for an anchored zone. */
#define UBCTX_PROBE_TYPE DNS_TYPE_DNSKEY

/*
 * A new context driven by base (ub_ctx_create_event), or with base NULL a
 * plain one (ub_ctx_create: danegated -t checks options with it), with
 * the Unbound daemon's defaults applied. Returns NULL with why set. The
 * caller deletes it with ub_ctx_delete().
 */
struct ub_ctx *ubctx_new(struct event_base *base, char *why, size_t cap);

/* ub_ctx_set_option() for "name" (without the colon) and value. */
int ubctx_set_option(struct ub_ctx *ctx, const char *name, const char *value,
    char *why, size_t cap);

/* ub_ctx_config(): reads an unbound.conf, one thread at a time. */
int ubctx_read_config(struct ub_ctx *ctx, const char *path, char *why,
    size_t cap);

/*
 * Adds the DS/DNSKEY records of a zone-format file as trust anchors,
 * after checking that it can be read and names a zone (libunbound would
 * only find out at the first resolve); the zone goes to zone if that is
 * not NULL (see ubctx_anchor_file_zone).
 */
int ubctx_add_anchor_file(struct ub_ctx *ctx, const char *path, char *zone,
    size_t zone_cap, char *why, size_t cap);

/*
 * The zone a trust-anchor file is for: the owner of its first record, as
 * written ("." for the root). Comments (';', '#'), $-directives and
 * lines starting with a blank are skipped. Returns -1 with why if the
 * file cannot be read or holds no record.
 */
int ubctx_anchor_file_zone(const char *path, char *zone, size_t zone_cap,
    char *why, size_t cap);

/* The zone of a trust-anchor: value ("example. DS 1 13 2 ..."): its
 * first word. Returns -1 if there is none or it does not fit. */
int ubctx_anchor_zone(const char *rr, char *zone, size_t zone_cap);

/*
 * The readiness rule, for the answer to UBCTX_PROBE_TYPE at an anchored
 * zone (the callback's err, packet, sec and why_bogus; reason: what the
 * caller knows instead when there was no callback, e.g. its own timeout,
 * else NULL): ready (0) only for a secure NOERROR answer, i.e. the anchor
 * matches the zone's keys and libunbound validates with it. Otherwise -1
 * and why says "the trust anchor for ZONE does not validate: DNSKEY
 * <what happened>" ("a trust anchor does not validate: ..." if zone is
 * NULL).
 */
int ubctx_probe_verdict(const char *zone, int err, const uint8_t *pkt,
    size_t len, int sec, const char *why_bogus, const char *reason,
    char *why, size_t cap);

/*
 * A libunbound result that is not a usable answer, in words: "SERVFAIL
 * (EDE 22 No Reachable Authority)", "bogus (EDE 7 Signature Expired):
 * <libunbound's reason>", "lookup failed: <libunbound's error>"... For
 * usable answers: "secure", "insecure", with the rcode if not NOERROR.
 */
void ubctx_describe(int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus, char *out, size_t cap);

/*
 * The RFC 8914 code danegate gives a failed or bogus result: Other Error
 * when libunbound itself failed (err < 0), No Reachable Authority when the
 * resolution failed (err > 0, the rcode); derived from libunbound's
 * why_bogus text (ubctx_ede_from_why) for bogus data and for a SERVFAIL
 * that has a reason; else No Reachable Authority for a failure (libunbound 1.17 puts no EDE
 * option in the packets it hands over). DNS_EDE_NONE for a usable
 * answer.
 */
int ubctx_ede(int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus);

/* Maps libunbound's why_bogus text (its validator's phrases, 1.17) onto
 * an RFC 8914 code; DNS_EDE_DNSSEC_BOGUS when no phrase matches. */
int ubctx_ede_from_why(const char *why_bogus);

/* Text for a resolve callback's err (see above): "SERVFAIL" for rcode 2,
 * libunbound's own text for UB_* codes. */
const char *ubctx_strerror(int err);

#endif
