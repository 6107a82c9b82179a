/*
 * fuzz_relay_cmd.c - libFuzzer target for danegate-relay's SMTP/LMTP
 * command parser (plugin/relay/smtp_cmd.c).
 *
 * The input is one command line as a client might send it. The parser must
 * either refuse it with a documented status (and a reply that names a 5xx
 * code) or accept it with every field inside its documented bounds:
 * NUL-terminated strings of printable ASCII or UTF-8 within their sizes, a
 * domain that is the lower-cased tail of the address, a SIZE that is -1 or
 * non-negative, NOTIFY=NEVER alone. Parsing the same bytes twice must give
 * the same result (no hidden state). Anything else aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t cap)
{
	size_t len = strnlen(s, cap);

	if (len >= cap)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd a, b;
	int ra, rb;
	const char *reply;

	ra = smtp_cmd_parse(data, size, &a);
	rb = smtp_cmd_parse(data, size, &b);
	if (ra != rb || a.verb != b.verb || a.size != b.size ||
	    a.notify != b.notify || a.body != b.body || a.ret != b.ret ||
	    a.smtputf8 != b.smtputf8 || a.utf8 != b.utf8 ||
	    a.n_params != b.n_params || a.postmaster != b.postmaster ||
	    a.domain_literal != b.domain_literal ||
	    strcmp(a.helo, b.helo) != 0 || strcmp(a.addr, b.addr) != 0 ||
	    strcmp(a.domain, b.domain) != 0 ||
	    strcmp(a.envid, b.envid) != 0 || strcmp(a.orcpt, b.orcpt) != 0)
		abort();
	if (ra != SMTP_CMD_OK) {
		if (ra < SMTP_CMD_E_PARAM_DUP)
			abort();
		reply = smtp_cmd_reply(ra, a.verb);
		if (reply[0] != '5' || strlen(reply) < 10)
			abort();
		return 0;
	}
	if (a.verb == SMTP_VERB_NONE)
		abort();
	check_str(a.helo, sizeof(a.helo));
	check_str(a.addr, sizeof(a.addr));
	check_str(a.domain, sizeof(a.domain));
	check_str(a.envid, sizeof(a.envid));
	check_str(a.orcpt, sizeof(a.orcpt));
	if (a.size < -1)
		abort();
	if ((a.notify & SMTP_NOTIFY_NEVER) && a.notify != SMTP_NOTIFY_NEVER)
		abort();
	if (a.verb == SMTP_VERB_MAIL && a.utf8 && !a.smtputf8)
		abort();
	if (a.domain[0] != '\0') {
		size_t al = strlen(a.addr), dl = strlen(a.domain);

		if (dl >= al || a.addr[al - dl - 1] != '@' ||
		    strncasecmp(a.addr + al - dl, a.domain, dl) != 0)
			abort();
	}
	return 0;
}
