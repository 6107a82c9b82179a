/*
 * spf.h - a minimal RFC 7208 SPF check, internal to libdanegate: whether
 * an address is authorised by a domain's SPF record as far as the record
 * itself says, without further DNS lookups. For the relay's DMARC guard
 * (issue 9): is the relay's own outbound address in the From: domain's
 * SPF?
 *
 * Supported: the "v=spf1" version, qualifiers + - ~ ?, the mechanisms
 * all, ip4:ADDR[/LEN], ip6:ADDR[/LEN] (§5.1, §5.6), evaluated left to
 * right, first match wins, no match is neutral (§4.7); unknown modifiers
 * ignored (§6). NOT supported (they need lookups): a, mx, ptr, include,
 * exists and the redirect= modifier, and macros (§7). Reaching one of
 * those before a match stops the check with SPF_R_NEEDS_LOOKUP: the
 * caller must not take the address as authorised (the guard then routes
 * or refuses, the safe side). The RFC's limit of 10 lookups (§4.6.4)
 * does not arise here.
 *
 * SECURITY: the record comes from any zone; parsed with bounds into
 * fixed buffers, nothing allocated; fuzzed (tests/fuzz/fuzz_spf.c).
 */
#ifndef DANEGATE_SPF_H
#define DANEGATE_SPF_H

#include <stddef.h>
#include <sys/socket.h>

enum spf_result {
	SPF_R_NONE = 0,		/* not an SPF record */
	SPF_R_NEUTRAL,
	SPF_R_PASS,
	SPF_R_FAIL,
	SPF_R_SOFTFAIL,
	SPF_R_PERMERROR,	/* a term outside the grammar (§4.6) */
	SPF_R_NEEDS_LOOKUP,	/* an unsupported term came first */
};

/*
 * Checks addr (AF_INET or AF_INET6; a v4-mapped IPv6 address counts as
 * IPv4, §5) against the record's text (len bytes). Returns the result.
 */
enum spf_result spf_check_static(const char *record, size_t len,
    const struct sockaddr *addr);

/* "pass", "fail", ... */
const char *spf_result_name(enum spf_result r);

#endif
