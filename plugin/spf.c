/*
 * spf.c - the static subset of an RFC 7208 SPF check (see spf.h).
 *
 * SECURITY: untrusted text from DNS; every term is copied with its
 * length checked into a fixed buffer before inet_pton reads it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf.h"

/* Whether the first bits of a and b (n bytes each) agree. */
static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (a[full] & mask) == (b[full] & mask);
}

/* "ADDR[/LEN]" of family af (maxbits 32 or 128): 1 match, 0 no, -1 bad */
static int
ip_term(const char *t, size_t len, int af, const uint8_t *addr,
    unsigned maxbits)
{
	char buf[INET6_ADDRSTRLEN + 1];
	uint8_t net[16];
	const char *slash = memchr(t, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - t) : len;
	unsigned bits = maxbits;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, t, alen);
	buf[alen] = '\0';
	if (inet_pton(af, buf, net) != 1)
		return -1;
	if (slash != NULL) {
		size_t n = len - alen - 1;

		/* §5.6: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT) */
		if (n == 0 || n > 3 || (n > 1 && slash[1] == '0'))
			return -1;
		bits = 0;
		for (size_t i = 1; i <= n; i++) {
			if (slash[i] < '0' || slash[i] > '9')
				return -1;
			bits = bits * 10 + (unsigned)(slash[i] - '0');
		}
		if (bits > maxbits)
			return -1;
	}
	if (addr == NULL)
		return 0;	/* the other family: no match */
	return prefix_match(net, addr, bits) ? 1 : 0;
}

/* spf.h */
enum spf_result
spf_check_static(const char *rec, size_t len, const struct sockaddr *sa)
{
	uint8_t v4[4], v6[16];
	const uint8_t *a4 = NULL, *a6 = NULL;
	size_t pos;

	if (sa->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		a4 = v4;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		memcpy(v6, in6, 16);
		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			memcpy(v4, v6 + 12, 4);
			a4 = v4;
		} else
			a6 = v6;
	} else
		return SPF_R_PERMERROR;
	/* §4.5: "v=spf1" then a space or the end, in any case */
	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 ||
	    (len > 6 && rec[6] != ' '))
		return SPF_R_NONE;
	pos = 6;
	while (pos < len) {
		const char *t;
		size_t tl;
		enum spf_result q = SPF_R_PASS;
		int m;

		while (pos < len && rec[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		t = rec + pos;
		while (pos < len && rec[pos] != ' ')
			pos++;
		tl = (size_t)(rec + pos - t);
		switch (t[0]) {
		case '+': q = SPF_R_PASS; t++; tl--; break;
		case '-': q = SPF_R_FAIL; t++; tl--; break;
		case '~': q = SPF_R_SOFTFAIL; t++; tl--; break;
		case '?': q = SPF_R_NEUTRAL; t++; tl--; break;
		default: break;
		}
		if (tl == 0)
			return SPF_R_PERMERROR;
		if (tl == 3 && strncasecmp(t, "all", 3) == 0)
			return q;
		if (tl > 4 && strncasecmp(t, "ip4:", 4) == 0)
			m = ip_term(t + 4, tl - 4, AF_INET, a4, 32);
		else if (tl > 4 && strncasecmp(t, "ip6:", 4) == 0)
			m = ip_term(t + 4, tl - 4, AF_INET6, a6, 128);
		else {
			const char *eq = memchr(t, '=', tl);
			const char *colon = memchr(t, ':', tl);
			size_t nl = tl;

			if (eq != NULL && (colon == NULL || eq < colon)) {
				/* a modifier (§6): redirect needs a lookup,
				 * the others do not change the result */
				if ((size_t)(eq - t) == 8 &&
				    strncasecmp(t, "redirect", 8) == 0)
					return SPF_R_NEEDS_LOOKUP;
				continue;
			}
			if (colon != NULL)
				nl = (size_t)(colon - t);
			else if (memchr(t, '/', tl) != NULL)
				nl = (size_t)((const char *)memchr(t, '/', tl)
				    - t);
			static const char *const lookup[] = {
				"a", "mx", "ptr", "include", "exists",
			};
			for (size_t i = 0; i < 5; i++)
				if (strlen(lookup[i]) == nl &&
				    strncasecmp(t, lookup[i], nl) == 0)
					return SPF_R_NEEDS_LOOKUP;
			return SPF_R_PERMERROR;	/* §4.6: unknown */
		}
		if (m < 0)
			return SPF_R_PERMERROR;
		if (m == 1)
			return q;
	}
	return SPF_R_NEUTRAL;
}

/* spf.h */
const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = {
		"none", "neutral", "pass", "fail", "softfail", "permerror",
		"needs-lookup",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ?
	    names[r] : "?";
}
