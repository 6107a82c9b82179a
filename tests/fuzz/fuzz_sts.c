/*
 * fuzz_sts.c - libFuzzer target for the MTA-STS policy parser: the body
 * comes from any web server a domain names.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mta_sts_policy p;
	char err[200];

	if (mta_sts_parse((const char *)data, size, &p, err, sizeof(err)) == 0)
		(void)mta_sts_mx_matches(&p, "mx.example.com");
	return 0;
}
