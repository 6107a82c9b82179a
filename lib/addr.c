/*
 * addr.c - the TCP address parser of every danegate program: see addr.h.
 *
 * The host part is copied to a buffer just large enough for the longest
 * IPv6 text in brackets, so that inet_pton() sees a terminated string;
 * anything longer is not an address. The port is read digit by digit, not
 * with strtoul(), which would let " 25", "+25" and "-0" through.
 *
 * SECURITY: operator-written input only; bounded copies, no allocation.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

/* Reads a decimal port, 1..65535, digits only; 0 or -1. */
static int
addr_parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		/* stop before a long run of digits can overflow */
		if (v > 65535)
			return -1;
	}
	if (i == 0 || v == 0)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int
addr_parse(const char *spec, unsigned dflt_port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	/* the longest IPv6 text, two brackets and the terminator */
	char host[INET6_ADDRSTRLEN + 2];
	const char *at = strrchr(spec, '@');
	size_t hlen = at != NULL ? (size_t)(at - spec) : strlen(spec);
	const char *h = host;
	unsigned port = dflt_port;
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (host[0] == '[') {
		/* "[", "[]" and "[::1" are not addresses */
		if (hlen < 3 || host[hlen - 1] != ']')
			return -1;
		host[hlen - 1] = '\0';
		h = host + 1;
	}
	if (at != NULL && addr_parse_port(at + 1, &port) != 0)
		return -1;
	if (port == 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof(*s6);
		return 0;
	}
	return -1;
}
