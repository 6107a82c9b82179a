/*
 * fuzz_policy_conf.c - libFuzzer target for danegate-policy's
 * configuration (plugin/policy/conf.c).
 *
 * The first byte is skipped (the corpus keeps it); the rest is a
 * policy.conf, read through a memfd by policy_conf_load() (cfgfile.c's
 * syntax, conf.c's meaning, access-control: into lib/acl.c, addresses
 * into lib/addr.c, fuzzed alone by fuzz_addr.c), the result freed. Bugs
 * show as aborts, sanitizer reports or leaks.
 *
 *     tests/fuzz/fuzz_policy_conf -max_len=4096 tests/fuzz/corpus/policy_conf
 *
 * SECURITY: includes are switched off before the first input (fuzz input
 * must not name files to open).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgfile.h"
#include "conf_file.h"
#include "conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_conf(const uint8_t *data, size_t size)
{
	struct policy_conf *conf = NULL;
	char path[64];
	int fd = fuzz_conf_file("policy.conf", data, size, path, sizeof(path));

	if (fd < 0)
		return;
	if (policy_conf_load(path, NULL, &conf) == 0 && conf == NULL)
		abort();
	policy_conf_free(conf);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialized;

	if (!initialized) {
		cfg_file_allow_includes(false);
		log_init("fuzz_policy_conf", LOG_VERB_OPS);
		initialized = 1;
	}
	if (size == 0)
		return 0;
	/* the first byte is left over from when odd ones picked the
	 * address parser, now tests/fuzz/fuzz_addr.c's */
	check_conf(data + 1, size - 1);
	return 0;
}
