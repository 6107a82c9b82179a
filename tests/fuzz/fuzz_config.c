/*
 * fuzz_config.c - libFuzzer target for danegated.conf: the bytes go through
 * conf_parse(), so through cfgfile.c's syntax and conf.c's meaning, and the
 * result is freed. Bugs show up as sanitizer reports or leaks.
 *
 * Built with --enable-fuzzing it is a libFuzzer binary:
 *     tests/fuzz/fuzz_config -max_len=8192 tests/fuzz/corpus/config
 * otherwise replay.c replays the corpus once (make check).
 *
 * SECURITY: include: in fuzz input would make the reader open files named
 * by the input (/dev/zero, /proc, the fuzzer's own corpus). Includes are
 * switched off before the first input, so they are a plain error here.
 * Errors are logged to stderr as in danegated; run libFuzzer with
 * -close_fd_mask=2 to silence them (sanitizer reports still show).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "cfgfile.h"
#include "conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialized;
	struct conf *conf = NULL;

	if (!initialized) {
		cfg_file_allow_includes(false);
		log_init("fuzz_config", LOG_VERB_OPS);
		initialized = 1;
	}
	/* conf is NULL after errors; conf_free() accepts that */
	(void)conf_parse("fuzz.conf", (const char *)data, size, &conf);
	conf_free(conf);
	return 0;
}
