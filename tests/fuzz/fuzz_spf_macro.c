/*
 * fuzz_spf_macro.c - libFuzzer target for SPF's macro expander
 * (spf_macro_expand(), RFC 7208 §7). The input is a macro-string,
 * expanded for an IPv4 and an IPv6 address, as a domain and as plain
 * text: a success must give a NUL-terminated result that fits the
 * buffer, and as a domain at most 253 bytes (§7.3); the syntax verdict
 * must not depend on the address. Anything else aborts.
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
	struct spf_request r4 = { (struct sockaddr *)&s4, "d.example",
	    "l-p.x@o.example", "h.example" };
	struct spf_request r6 = r4;
	char out[SPF_NAME_MAX + 2];
	int rc4, rc6, rcd;

	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	r6.addr = (struct sockaddr *)&s6;
	rcd = spf_macro_expand((const char *)data, size, &r4, r4.domain, true,
	    out, SPF_NAME_MAX);
	if (rcd == 0 && (memchr(out, '\0', SPF_NAME_MAX) == NULL ||
	    strlen(out) > 253))
		abort();
	rc4 = spf_macro_expand((const char *)data, size, &r4, r4.domain,
	    false, out, sizeof(out));
	if (rc4 == 0 && memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	rc6 = spf_macro_expand((const char *)data, size, &r6, r6.domain,
	    false, out, sizeof(out));
	if (rc6 == 0 && memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	/* a syntax error does not depend on the address: 48 bytes hold
	 * at most 12 macros, 63 bytes each, too few to fill the expander's
	 * buffer, so both agree */
	{
		static char big[8192];
		int b4 = spf_macro_expand((const char *)data,
		    size < 48 ? size : 48, &r4, r4.domain, false, big,
		    sizeof(big));
		int b6 = spf_macro_expand((const char *)data,
		    size < 48 ? size : 48, &r6, r6.domain, false, big,
		    sizeof(big));

		if (b4 != b6)
			abort();
	}
	(void)rc4;
	return 0;
}
