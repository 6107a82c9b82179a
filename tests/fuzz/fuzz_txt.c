/*
 * fuzz_txt.c - libFuzzer target for the TXT joiner (plugin/txt.c): the
 * input is one TXT record's rdata, from any zone.
 *
 * The oracle: a joined record is exactly the strings' bytes in order,
 * and a refused one really has a string running past the end or a NUL.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = txt_join(data, size);
	size_t pos = 0, o = 0;
	bool bad = false;

	while (pos < size && !bad) {
		size_t n = data[pos++];

		if (n > size - pos || memchr(data + pos, 0, n) != NULL)
			bad = true;
		else if (s != NULL && memcmp(s + o, data + pos, n) != 0)
			abort();
		o += n;
		pos += n;
	}
	if (s == NULL) {
		if (!bad)
			abort();	/* a valid record refused */
		return 0;
	}
	if (bad || strlen(s) != o)
		abort();
	free(s);
	return 0;
}
