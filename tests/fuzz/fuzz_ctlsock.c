/*
 * fuzz_ctlsock.c - libFuzzer target for the control socket's request
 * dispatcher (lib/ctlsock.c): the input is one request line as a client
 * of any daemon's control socket sends it (newline removed, NUL ends it,
 * as evbuffer_readln hands it over).
 *
 * The oracle: the reply fits its buffer and is NUL terminated at len; a
 * refused line got an "error: " reply and called no command; a command
 * ran exactly when its name is the line's first word.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ran;

static void
cmd(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	(void)arg;
	ran++;
	ctlsock_printf(out, "ran %s\n", cmdarg ? cmdarg : "");
}

static const struct ctlsock_cmd tab[] = {
	{ "status", NULL, cmd },
	{ "explain", "DOMAIN", cmd },
	{ NULL, NULL, NULL },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[CTLSOCK_LINE_MAX + 1], reply[128];
	struct ctlsock_out out = { reply, sizeof(reply), 0 };
	size_t n = size < CTLSOCK_LINE_MAX ? size : CTLSOCK_LINE_MAX;
	int rc;

	memcpy(line, data, n);
	line[n] = '\0';
	reply[0] = '\0';
	ran = 0;
	rc = ctlsock_dispatch(tab, NULL, line, &out);
	if (out.len >= sizeof(reply) || reply[out.len] != '\0' ||
	    strlen(reply) != out.len)
		abort();
	if (rc != 0 && (ran != 0 || strncmp(reply, "error: ", 7) != 0))
		abort();
	if (rc == 0 && (ran != 1 || (strncmp(line, "status", 6) != 0 &&
	    strncmp(line, "explain ", 8) != 0)))
		abort();
	return 0;
}
