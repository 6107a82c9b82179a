/*
 * fuzz_dmarc.c - libFuzzer target for the DMARC record parser
 * (plugin/dmarc.c). The input is one record's text. The parser must
 * return a documented status, and on success policies in their enum, a
 * pct of at most 100, and the same result twice. Anything else aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record a, b;
	int ra = dmarc_record_parse((const char *)data, size, &a);
	int rb = dmarc_record_parse((const char *)data, size, &b);

	if (ra != rb || ra > DMARC_OK || ra < DMARC_E_DUP)
		abort();
	if (ra != DMARC_OK)
		return 0;
	if (memcmp(&a, &b, sizeof(a)) != 0 || a.pct > 100 ||
	    a.p > DMARC_P_REJECT || a.sp > DMARC_P_REJECT)
		abort();
	if (size < 8 || memcmp(data, "v", 1) != 0)
		abort();
	return 0;
}
