/*
 * fuzz_answer.c - libFuzzer target for answer rewriting.
 *
 * The input stands for libunbound's answer packet (which carries data from
 * any authoritative server). Its own question is taken as the client's, so
 * the builder gets past the question check and exercises the record
 * parsing, decompression, recompression and rendering, with DO on and off
 * and minimal-responses on and off.
 * The oracles: every rendering (whole, and truncated to 512 bytes) must
 * read back with the independent reader of answer_check.h, with the
 * query's question, no pointer forward or into its own name, nothing
 * outside its record; and a template built from our own output must come
 * out byte-identical.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "answer_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_MAX_TCP];
	uint8_t query[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11];
	size_t qlen, name_end = DNS_HEADER_LEN;
	struct dns_query q;

	/* Copy the packet's question into a query of its own. */
	while (name_end < size && data[name_end] != 0 &&
	    (data[name_end] & 0xc0) == 0)
		name_end += (size_t)data[name_end] + 1;
	if (name_end + 5 > size || name_end - DNS_HEADER_LEN + 1 > DNS_MAX_NAME)
		return 0;
	qlen = name_end + 5;
	memcpy(query, data, qlen);
	memset(query + 2, 0, 10);
	query[5] = 1;				/* QDCOUNT */
	/* DO off and on, minimal-responses off and on */
	for (int run = 0; run < 4; run++) {
		struct msg_answer *a;
		static const uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0,
			0x80, 0, 0, 0 };
		size_t len = qlen;
		int do_bit = run & 1;
		bool minimal = run >= 2;

		query[11] = (uint8_t)do_bit;	/* ARCOUNT */
		if (do_bit) {
			memcpy(query + qlen, opt, sizeof(opt));
			len += sizeof(opt);
		}
		if (msg_parse_query(query, len, &q) != MSG_QUERY_OK)
			return 0;
		if ((a = msg_answer_build(&q, data, size, do_bit,
		    minimal)) == NULL)
			continue;
		for (int whole = 0; whole < 2; whole++) {
			size_t n = msg_answer_render(a, &q, 5,
			    whole ? DNS_MAX_TCP : 512, 1232, out, sizeof(out));

			if (n == 0 && !whole)
				abort();	/* a TC answer always fits */
			if (n > 0 && answer_check(out, n, &q) != NULL)
				abort();
		}
		/* Our own encoding must read back, and encode to the same
		 * bytes: the encoder and decoder agree. (Without minimal:
		 * its rules look at records a DO=0 answer no longer has.) */
		{
			struct msg_answer *again = msg_answer_build(&q,
			    a->wire, a->len, do_bit, false);

			if (again == NULL || again->len != a->len ||
			    memcmp(again->wire, a->wire, a->len) != 0)
				abort();
			msg_answer_free(again);
		}
		msg_answer_free(a);
	}
	return 0;
}
