/*
 * fuzz_relay_data.c - libFuzzer target for danegate-relay's end-of-data
 * scanner (plugin/relay/smtp_data.c).
 *
 * The input is what a client sends after DATA. It is scanned twice, as the
 * session does (bytes held back are passed again with what follows): once
 * in pieces whose size the first byte picks, once a byte at a time. Both
 * runs must find the end at the same offset, forward the same bytes, and
 * agree on bare CR/LF; the end must be a CRLF "." CRLF (or "." CRLF at the
 * very start), the forwarded bytes must be exactly the input before the
 * final ".", and without bare CR/LF the message must hold no line that is
 * a lone "." (so a remote cannot end it earlier). Anything else aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	size_t end;		/* offset after the terminator, 0: none */
	size_t forwarded;
	bool bare;
};

static void
run(const uint8_t *data, size_t size, size_t piece, uint8_t *fwd,
    struct outcome *o)
{
	struct smtp_data d;
	size_t start = 0, avail = 0;

	memset(o, 0, sizeof(*o));
	smtp_data_init(&d);
	while (avail < size) {
		size_t f, used;
		int rc;

		avail = avail + piece > size ? size : avail + piece;
		rc = smtp_data_scan(&d, data + start, avail - start, &f, &used);
		if (f > used || used > avail - start)
			abort();
		memcpy(fwd + o->forwarded, data + start, f);
		o->forwarded += f;
		start += used;
		if (rc == SMTP_DATA_END) {
			o->end = start;
			break;
		}
	}
	o->bare = d.bare;
	if (d.bytes != o->forwarded)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	uint8_t *fa, *fb;

	if (size == 0)
		return 0;
	fa = malloc(size);
	fb = malloc(size);
	if (fa == NULL || fb == NULL)
		abort();
	run(data + 1, size - 1, (size_t)data[0] + 1, fa, &a);
	run(data + 1, size - 1, 1, fb, &b);
	if (a.end != b.end || a.forwarded != b.forwarded || a.bare != b.bare ||
	    memcmp(fa, fb, a.forwarded) != 0)
		abort();
	if (a.end != 0) {
		const uint8_t *in = data + 1;

		/* forwarded = everything before the final ".\r\n" */
		if (a.forwarded + 3 != a.end || memcmp(fa, in, a.forwarded) ||
		    memcmp(in + a.forwarded, ".\r\n", 3) != 0)
			abort();
		if (a.forwarded != 0 && (a.forwarded < 2 ||
		    in[a.forwarded - 2] != '\r' || in[a.forwarded - 1] != '\n'))
			abort();
		/* a clean message has no earlier "\r\n.\r\n" */
		if (!a.bare)
			for (size_t i = 0; i + 5 <= a.forwarded + 2; i++)
				if (memcmp(in + i, "\r\n.\r\n", 5) == 0 &&
				    i + 5 != a.end)
					abort();
	}
	free(fa);
	free(fb);
	return 0;
}
