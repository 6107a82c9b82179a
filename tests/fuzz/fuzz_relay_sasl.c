/*
 * fuzz_relay_sasl.c - libFuzzer target for the relay's SMTP AUTH decoding
 * (plugin/relay/sasl.c).
 *
 * The input is one client line, taken three ways: as an AUTH command, as
 * a base64 SASL response, and (decoded or raw) as a PLAIN message and a
 * LOGIN answer. Each must give a documented status; on success every
 * string must be NUL-terminated inside its field, the PLAIN user UTF-8
 * without controls and neither field holding a NUL; base64 must decode to
 * at most three bytes per four; decoding twice gives the same. Anything
 * else aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_plain(const uint8_t *msg, size_t len)
{
	struct sasl_creds cr;
	int rc = sasl_plain_decode(msg, len, &cr);

	if (rc > SASL_OK || rc < SASL_E_UTF8)
		abort();
	if (rc != SASL_OK) {
		if (cr.user[0] != '\0' || cr.pass[0] != '\0')
			abort();	/* not wiped */
		return;
	}
	size_t ul = strnlen(cr.user, sizeof(cr.user));
	size_t pl = strnlen(cr.pass, sizeof(cr.pass));

	if (ul == 0 || pl == 0 || ul >= sizeof(cr.user) ||
	    pl >= sizeof(cr.pass) || ul + pl + 2 > len)
		abort();
	for (size_t i = 0; i < ul; i++)
		if ((unsigned char)cr.user[i] < 0x20 || cr.user[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_auth a;
	uint8_t out[SASL_B64_MAX], out2[SASL_B64_MAX];
	size_t n = 0, n2 = 0;
	char field[SASL_FIELD_MAX + 1];
	int rc, rc2;

	rc = sasl_auth_parse(data, size, &a);
	if (rc > SASL_OK || rc < SASL_E_UTF8)
		abort();
	if (rc == SASL_OK && (a.mech == SASL_MECH_NONE ||
	    strnlen(a.initial, sizeof(a.initial)) >= sizeof(a.initial)))
		abort();

	rc = sasl_b64_decode(data, size, out, sizeof(out), &n);
	rc2 = sasl_b64_decode(data, size, out2, sizeof(out2), &n2);
	if (rc != rc2 || n != n2 || (rc == SASL_OK && memcmp(out, out2, n)))
		abort();
	if (rc == SASL_OK && (n > size / 4 * 3 || n > sizeof(out)))
		abort();
	if (rc != SASL_OK && n != 0)
		abort();
	if (rc == SASL_OK)
		check_plain(out, n);
	check_plain(data, size);

	rc = sasl_login_field(data, size, field, 1);
	if (rc == SASL_OK && strlen(field) != size)
		abort();
	if (sasl_strerror(rc)[0] == '\0')
		abort();
	return 0;
}
