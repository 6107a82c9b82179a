/*
 * fuzz_tlsa.c - libFuzzer target for plugin/tlsa.c: TLSA records in
 * presentation and wire form, and certificates as TLSA sees them.
 *
 * The same bytes go three ways:
 * - NUL-terminated, to danegate_tlsa_parse(); what parses must format
 *   (only into a buffer large enough) and parse back to the same record;
 * - as rdata, to danegate_tlsa_from_wire(); what parses must format, and
 *   is matched against a one-certificate chain made of its own data, so
 *   "3 0 0 <DER>" reaches the whole matching code with any DER;
 * - as a DER certificate, to danegate_tlsa_for_cert() for every selector
 *   and matching type; a record computed from a certificate must match
 *   that certificate as DANE-EE.
 * A broken invariant aborts, so libFuzzer reports it like a crash.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danegate.h"

/* a fixed time keeps the target deterministic: 2023-11-14 */
#define FUZZ_NOW ((time_t)1700000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_names[] = { "mx.example", NULL, "example" };

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_tlsa: invariant broken: %s\n", what);
		abort();
	}
}

/* Formats t into an exact-size buffer and one byte too small; returns the
 * text (caller frees) or NULL. */
static char *
format_checked(const struct danegate_tlsa *t)
{
	size_t cap = 2 * t->len + 16;
	char *out = malloc(cap);
	size_t len;

	if (out == NULL)
		return NULL;
	check(danegate_tlsa_format(t, out, cap) == 0, "format");
	len = strlen(out);
	check(danegate_tlsa_format(t, out, len) != 0, "format too small");
	check(danegate_tlsa_format(t, out, len + 1) == 0, "format exact");
	return out;
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	struct danegate_tlsa t;
	char *text;

	if ((text = malloc(size + 1)) == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (danegate_tlsa_parse(text, &t) == 0) {
		struct danegate_tlsa back;
		char *out;

		check(t.len > 0 && t.data != NULL, "parsed data");
		if ((out = format_checked(&t)) != NULL) {
			check(danegate_tlsa_parse(out, &back) == 0, "reparse");
			check(back.usage == t.usage &&
			    back.selector == t.selector &&
			    back.mtype == t.mtype && back.len == t.len &&
			    memcmp(back.data, t.data, t.len) == 0 &&
			    back.usability == t.usability, "round trip");
			danegate_tlsa_clear(&back);
			free(out);
		}
	}
	danegate_tlsa_clear(&t);
	free(text);
}

static void
fuzz_wire(const uint8_t *data, size_t size)
{
	struct danegate_tlsa t;
	struct danegate_match m;
	const uint8_t *chain[1];
	size_t len[1];

	if (danegate_tlsa_from_wire(data, size, &t) != 0)
		return;
	free(format_checked(&t));
	chain[0] = t.data;
	len[0] = t.len;
	check(danegate_tlsa_match(&t, 1, chain, len, t.data ? 1 : 0,
	    fuzz_names, 3, FUZZ_NOW, &m) == 0, "match");
	check(memchr(m.why, '\0', sizeof(m.why)) != NULL, "why terminated");
	danegate_tlsa_clear(&t);
}

static void
fuzz_cert(const uint8_t *data, size_t size)
{
	const uint8_t *chain[1] = { data };
	size_t len[1] = { size };

	for (uint8_t s = 0; s <= 1; s++)
		for (uint8_t mt = 0; mt <= 2; mt++) {
			struct danegate_tlsa t;
			struct danegate_match m;

			if (danegate_tlsa_for_cert(data, size, 3, s, mt, &t) !=
			    0)
				return;	/* not a certificate: same for all */
			check(t.usability == DANEGATE_TLSA_USABLE, "usable");
			check(danegate_tlsa_match(&t, 1, chain, len, 1, NULL,
			    0, FUZZ_NOW, &m) == 0, "match");
			check(m.matched && m.record == 0 && m.depth == 0,
			    "DANE-EE of its own certificate");
			/* the same as DANE-TA: the leaf as its own anchor,
			 * then dates and names, whatever they say */
			t.usage = 2;
			check(danegate_tlsa_match(&t, 1, chain, len, 1,
			    fuzz_names, 3, FUZZ_NOW, &m) == 0, "match TA");
			danegate_tlsa_clear(&t);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_wire(data, size);
	fuzz_cert(data, size);
	return 0;
}
