/*
 * fuzz_addr.c - libFuzzer target for lib/addr.c, the ADDR[@PORT] parser
 * of every danegate program (listen:, interface:, forward-addr:,
 * prometheus-interface:, relay-host, the relay's submission address).
 *
 * Bit 1 of the first byte picks the default port (9167, or 0: port
 * required); the rest is the spec. The oracle: an accepted spec is AF_INET
 * or AF_INET6 with the matching length and a port from 1 to 65535, the
 * default exactly when the spec has no '@', and it prints back
 * (inet_ntop, "@PORT") to a spec that parses to the same address. Bugs
 * show as aborts or sanitizer reports.
 *
 *     tests/fuzz/fuzz_addr -max_len=128 tests/fuzz/corpus/addr
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss, again;
	socklen_t len, len2;
	char spec[256], host[INET6_ADDRSTRLEN], back[300];
	const void *a;
	unsigned dflt, port;

	if (size == 0)
		return 0;
	dflt = (data[0] & 2) ? 9167 : 0;
	data++;
	size--;
	if (size >= sizeof(spec))
		size = sizeof(spec) - 1;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (addr_parse(spec, dflt, &ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		if (len != sizeof(*s4))
			abort();
		a = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)&ss;

		if (len != sizeof(*s6))
			abort();
		a = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else {
		abort();
	}
	if (port == 0 || (strchr(spec, '@') == NULL && port != dflt))
		abort();
	if (inet_ntop(ss.ss_family, a, host, sizeof(host)) == NULL)
		abort();
	snprintf(back, sizeof(back), "%s@%u", host, port);
	if (addr_parse(back, 0, &again, &len2) != 0 || len2 != len ||
	    memcmp(&again, &ss, len) != 0)
		abort();
	return 0;
}
