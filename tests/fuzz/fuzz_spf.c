/*
 * fuzz_spf.c - libFuzzer target for the SPF term parser and check_host()
 * (plugin/spf.c). The input is one record's text: the static check runs
 * it for an IPv4, an IPv6 and a v4-mapped address (the IPv4 and
 * v4-mapped results must agree, §5); then check_host() runs it as the
 * record of every TXT query (so include and redirect recurse into it),
 * with every A/AAAA query answered by the address and every MX query by
 * one name, replayed as spf_lookup.c does. Each result must be in the
 * enum and name a word, and the number of queries stay within what the
 * limits allow (§4.6.4). Anything else aborts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 10 terms, each an include's TXT or an mx's MX and 10 address lookups,
 * and the first record */
#define QUERIES_MAX (1 + SPF_TERMS_MAX * (2 + SPF_MX_NAMES_MAX))

static enum spf_result
eval(const uint8_t *data, size_t size, const struct sockaddr *sa)
{
	struct spf_request req = { sa, "fuzz.example", "user@fuzz.example",
	    "helo.example" };
	struct spf_dns c = { 0 };
	struct spf_query q;
	enum spf_result r;
	unsigned n = 0;

	while ((r = spf_eval(&c, &req, &q)) == SPF_R_NEEDS_LOOKUP) {
		const uint8_t *item = data;
		size_t len = size;
		static const uint8_t a4[4] = { 192, 0, 2, 1 };
		static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0,
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

		if (++n > QUERIES_MAX)
			abort();
		if (q.type == DNS_TYPE_A) {
			item = a4;
			len = 4;
		} else if (q.type == DNS_TYPE_AAAA) {
			item = a6;
			len = 16;
		} else if (q.type == DNS_TYPE_MX) {
			item = (const uint8_t *)"mx.fuzz.example";
			len = 15;
		} else if (q.type != DNS_TYPE_TXT)
			abort();
		if (spf_dns_add(&c, q.name, q.type, SPF_DNS_OK, &item, &len,
		    1) != 0)
			break;
	}
	spf_dns_clear(&c);
	return r;
}

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
	if (r4 > SPF_R_TEMPERROR || r6 > SPF_R_TEMPERROR || r4 != rm)
		abort();
	if (spf_result_name(r4)[0] == '?' || spf_result_name(r6)[0] == '?')
		abort();
	r4 = eval(data, size, (struct sockaddr *)&s4);
	r6 = eval(data, size, (struct sockaddr *)&s6);
	if (r4 >= SPF_R_NEEDS_LOOKUP || r6 >= SPF_R_NEEDS_LOOKUP)
		abort();
	return 0;
}
