/*
 * fuzz_spf.c - libFuzzer target for the static SPF check (plugin/spf.c).
 * The input is one record's text, checked for an IPv4, an IPv6 and a
 * v4-mapped address: each result must be in the enum and name a word;
 * the IPv4 and v4-mapped results must agree (§5). Anything else aborts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in6 m6 = { .sin6_family = AF_INET6 };
	enum spf_result r4, r6, rm;

	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &m6.sin6_addr);
	r4 = spf_check_static((const char *)data, size,
	    (struct sockaddr *)&s4);
	r6 = spf_check_static((const char *)data, size,
	    (struct sockaddr *)&s6);
	rm = spf_check_static((const char *)data, size,
	    (struct sockaddr *)&m6);
	if (r4 > SPF_R_NEEDS_LOOKUP || r6 > SPF_R_NEEDS_LOOKUP || r4 != rm)
		abort();
	if (spf_result_name(r4)[0] == '?' || spf_result_name(r6)[0] == '?')
		abort();
	return 0;
}
