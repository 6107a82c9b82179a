/*
 * fuzz_cache.c - libFuzzer target for the front answer cache.
 *
 * The input is a run of operations (tests/unit/cache_oracle.h): answers
 * with arbitrary records and TTLs in every section built by the real
 * msg_answer_build() and inserted, arbitrary clock steps (jumps backwards
 * and forwards included), lookups rendered by the real msg_answer_render().
 * The oracle: the cache's TTL rules hold after every operation (no entry
 * outlives the smallest TTL of its packet, TTL 0 is never stored, a
 * served TTL is never 0, never above the stored one, never goes up).
 */
#include "config.h"

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/cache_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err = cache_oracle_run(data, size);

	if (err != NULL) {
		fprintf(stderr, "fuzz_cache: %s\n", err);
		abort();
	}
	return 0;
}
