/*
 * fuzz_tlsrpt.c - the `_smtp._tls` TXT record parser of danegate-relay's
 * TLS-RPT (plugin/relay/tlsrpt.c): what parses holds 1..TLSRPT_MAX_RUA
 * URIs, each non-empty, printable, without ',', '!', ';' or blanks; a
 * refusal always says why. Each mailto: URI then goes through
 * tlsrpt_mailto_addr() (plugin/relay/tlsrpt_send.c): an address it gives
 * holds one '@' and nothing that could end a header or an SMTP command.
 */
#include "config.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/relay/tlsrpt.h"
#include "plugin/relay/tlsrpt_send.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_txt t;
	char err[256];
	size_t i, j;

	if (tlsrpt_txt_parse((const char *)data, size, &t, err,
	    sizeof(err)) != 0) {
		assert(err[0] != '\0');
		return 0;
	}
	assert(tlsrpt_txt_is_tlsrpt((const char *)data, size));
	assert(t.n_rua >= 1 && t.n_rua <= TLSRPT_MAX_RUA);
	for (i = 0; i < t.n_rua; i++) {
		const char *u = t.rua[i].uri;
		char *addr;

		assert(u[0] != '\0' && strchr(u, ':') != NULL);
		for (j = 0; u[j] != '\0'; j++)
			assert(u[j] > 0x20 && u[j] < 0x7f && u[j] != ',' &&
			    u[j] != '!' && u[j] != ';');
		if (t.rua[i].kind != TLSRPT_RUA_MAILTO ||
		    tlsrpt_mailto_addr(u, &addr) != 0)
			continue;
		assert(strchr(addr, '@') != NULL && strchr(addr, '@') ==
		    strrchr(addr, '@') && strpbrk(addr, "<>\r\n ,") == NULL);
		free(addr);
	}
	tlsrpt_txt_clear(&t);
	return 0;
}
