/*
 * fuzz_query.c - libFuzzer target for the query parser and error answers.
 *
 * Whatever msg_parse_query() makes of the bytes, rendering an error answer
 * for it must stay inside the output buffer. The oracle: a question it
 * accepts is the name written out at offset 12, never one read through a
 * compression pointer (which could only point into the header or into the
 * name itself).
 */
#include "config.h"

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	uint8_t out[DNS_MAX_TCP];
	char text[DNS_NAME_TEXT_MAX];

	if (msg_parse_query(data, size, &q) == MSG_QUERY_DROP)
		return 0;
	if (q.has_question && (size < (size_t)DNS_HEADER_LEN + q.qname_len ||
	    memcmp(data + DNS_HEADER_LEN, q.qname, q.qname_len) != 0))
		abort();
	(void)msg_error_render(&q, DNS_RCODE_SERVFAIL, DNS_EDE_DNSSEC_BOGUS,
	    "fuzz", 1232, out, sizeof(out));
	(void)msg_error_render(&q, DNS_RCODE_BADVERS, DNS_EDE_NONE, NULL,
	    1232, out, 40);
	if (q.has_question)
		(void)dname_to_text(q.qname, q.qname_len, false, text,
		    sizeof(text));
	return 0;
}
