/*
 * fuzz_sts_cache.c - libFuzzer target for the MTA-STS cache's file format
 * (plugin/sts_cache.c): the files hold what remote web servers sent, and a
 * corrupt one must be refused, never trusted.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "sts_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_cache_entry e;
	char why[256];

	if (sts_cache_parse_file((const char *)data, size, &e, why,
	    sizeof(why)) == 0)
		(void)mta_sts_mx_matches(&e.policy, "mx.example.com");
	return 0;
}
