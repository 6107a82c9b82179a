/*
 * fuzz_relay_clients.c - libFuzzer target for the relay's client file
 * parser (plugin/relay/clients.c).
 *
 * The input is a whole file. The parser must return an error count and a
 * table only when it is zero; every client in it must have a mailbox
 * (clients_mailbox() non-NULL for a name the table holds is checked for
 * the first line's name) and never accept a password for a name it does
 * not hold. Hashing is not exercised here (crypt is slow by design).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clients *c = NULL;
	char name[CLIENTS_NAME_MAX + 1];
	size_t n = 0;
	int errors;
	static int quiet;

	if (!quiet) {
		log_init("fuzz_relay_clients", LOG_VERB_OPS);
		quiet = 1;
	}
	errors = clients_parse("fuzz", (const char *)data, size, &c);
	if (errors < 0 || (errors > 0) != (c == NULL))
		abort();
	if (c == NULL)
		return 0;
	while (n < size && n < CLIENTS_NAME_MAX && data[n] != ':' &&
	    data[n] != '\n')
		n++;
	memcpy(name, data, n);
	name[n] = '\0';
	/* the first line names a client unless it is a comment (blanks,
	 * then '#': the parser skips it) */
	if (n < size && data[n] == ':' && name[strspn(name, " \t")] != '#' &&
	    name[0] != '\0' && clients_count(c) > 0 &&
	    clients_mailbox(c, name) == NULL)
		abort();
	if (clients_may_send_as(c, "\x01no such client", "a@b") ||
	    clients_mailbox(c, "\x01no such client") != NULL)
		abort();
	clients_free(c);
	return 0;
}
