/*
 * fuzz_lookup.c - libFuzzer target for the packet parser behind every
 * libdanegate lookup (lookup_answer_from_packet, plugin/lookup.c): the
 * input stands for libunbound's answer packet, which carries data from
 * any authoritative server.
 *
 * The lookup's type is the packet's own question type (so that the
 * parser gets past the question check), tried as secure, insecure and
 * bogus. The oracle: bogus and failed answers keep no records; kept
 * records are never more than the answer section holds; an MX record
 * comes out as a preference and an uncompressed name that the one name
 * printer accepts; a CNAME target is never empty when the name changed.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "dns.h"
#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The question's type, or A if there is no readable question. */
static uint16_t
question_type(const uint8_t *data, size_t size)
{
	uint8_t name[DNS_MAX_NAME];
	struct wire w;

	wire_init(&w, data, size);
	wire_skip(&w, DNS_HEADER_LEN);
	if (dname_read(&w, name) < 0)
		return DNS_TYPE_A;
	return wire_ok(&w) && wire_left(&w) >= 2 ? wire_u16(&w) : DNS_TYPE_A;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t type = question_type(data, size);
	size_t ancount = size >= 8 ? (size_t)data[6] << 8 | data[7] : 0;

	for (int sec = 0; sec <= 2; sec++) {
		struct lookup_answer a;
		char text[DNS_NAME_TEXT_MAX];

		lookup_answer_from_packet(&a, "fuzz.example", type, 0, data,
		    size, sec, sec == 1 ? "fuzzed" : NULL);
		if ((a.state == DANEGATE_BOGUS ||
		    a.state == DANEGATE_INDETERMINATE) && a.n_rrs != 0)
			abort();
		if (a.state == DANEGATE_BOGUS && sec != 1)
			abort();
		if (a.n_rrs > ancount)
			abort();
		for (size_t i = 0; i < a.n_rrs; i++) {
			if (a.rrs[i].data == NULL)
				abort();
			if (type == DNS_TYPE_MX && (a.rrs[i].len < 3 ||
			    dname_to_text(a.rrs[i].data + 2,
			    a.rrs[i].len - 2u, true, text,
			    sizeof(text)) != 0))
				abort();
		}
		if (a.why[sizeof(a.why) - 1] != '\0' ||
		    a.canonname[sizeof(a.canonname) - 1] != '\0')
			abort();
		lookup_answer_clear(&a);
	}
	/* a libunbound failure: never any data */
	{
		struct lookup_answer a;

		lookup_answer_from_packet(&a, "fuzz.example", type,
		    size > 0 && (data[0] & 1) ? -2 : DNS_RCODE_SERVFAIL, data,
		    size, 0, NULL);
		if (a.n_rrs != 0 || a.state != DANEGATE_INDETERMINATE)
			abort();
		lookup_answer_clear(&a);
	}
	return 0;
}
