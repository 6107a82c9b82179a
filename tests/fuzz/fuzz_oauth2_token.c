/*
 * fuzz_oauth2_token.c - libFuzzer target for the token endpoint's answer
 * parser (oauth2_token_parse() in plugin/relay/oauth2.c).
 *
 * A success must hold a non-empty access token and an expiry after now;
 * a failure must leave no token, give 535 or 454 and a one-line error
 * ("cause; fix"). Any breach aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/relay/oauth2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oauth2_token t;
	char err[OAUTH2_ERR_MAX] = "";
	unsigned smtp = 0;
	char *body = malloc(size + 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	if (oauth2_token_parse(body, size, 1000, &t, &smtp, err,
	    sizeof(err)) == 0) {
		if (t.access == NULL || t.access[0] == '\0' ||
		    t.expires_at <= 1000)
			abort();
		oauth2_token_clear(&t);
	} else {
		if (t.access != NULL || t.refresh != NULL ||
		    (smtp != 535 && smtp != 454) || strchr(err, '\n') != NULL ||
		    strstr(err, "; ") == NULL)
			abort();
	}
	free(body);
	return 0;
}
