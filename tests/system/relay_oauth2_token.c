/*
 * relay_oauth2_token.c - test driver for plugin/relay/oauth2.c, used by
 * tests/system/test_relay_oauth2.py until the relay's front is merged:
 * obtains a token for a mailbox N times through the module's cache
 * (oauth2_token_get), sleeping between the attempts, and prints one line
 * per attempt:
 *   ok fetched=cached|refreshed|requested xoauth2=<len>
 *   fail smtp=535 <cause; fix>
 * and with -L then the cache's states as danegate-control shows them:
 *   state <mailbox> state=valid expires-in=3599s ...
 * Exit status: 0 all ok, 1 a failure, 2 refused at start (bad secret or
 * key file, with the reason on stderr). Tokens are never printed.
 *
 * usage: relay_oauth2_token -g password|secret|cert -e URL -i CLIENT_ID
 *        [-c CAFILE] [-s SECRET_FILE] [-k KEY_FILE -x CERT_FILE]
 *        [-u MAILBOX] [-p PASSWORD_FILE] [-n N] [-w SECONDS] [-L]
 *
 * SECURITY: test program; talks HTTPS to the given endpoint only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "plugin/danegate.h"
#include "plugin/relay/oauth2.h"

static int
print_state(void *arg, const struct oauth2_token_state *st)
{
	char line[512];

	(void)arg;
	if (oauth2_token_state_format(st, line, sizeof(line)) == 0)
		printf("state %s\n", line);
	return 0;
}

static int
load_file(const char *path, char **buf, size_t *len)
{
	char err[OAUTH2_ERR_MAX];

	if (oauth2_secret_file_read(path, buf, len, err, sizeof(err)) < 0) {
		fprintf(stderr, "refused: %s\n", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct oauth2_route r = { .grant = OAUTH2_GRANT_SECRET };
	const char *secret_file = NULL, *key_file = NULL, *cert_file = NULL;
	const char *mailbox = "app@example", *pw_file = NULL;
	char *secret = NULL, *password = NULL, *keypem = NULL, *tok, *x;
	char err[OAUTH2_ERR_MAX];
	gnutls_datum_t cert_der = { NULL, 0 }, d;
	gnutls_privkey_t key = NULL;
	struct oauth2_cache *c;
	unsigned smtp;
	int opt, n = 1, wait_s = 0, i, fetched, rc = 0, list = 0;
	size_t len;
	static const char *how[] = { "cached", "refreshed", "requested" };

	while ((opt = getopt(argc, argv, "g:e:i:c:s:k:x:u:p:n:w:L")) != -1) {
		switch (opt) {
		case 'g':
			r.grant = strcmp(optarg, "password") == 0 ?
			    OAUTH2_GRANT_PASSWORD : strcmp(optarg, "cert") ==
			    0 ? OAUTH2_GRANT_CERT : OAUTH2_GRANT_SECRET;
			break;
		case 'e': r.endpoint = optarg; break;
		case 'i': r.client_id = optarg; break;
		case 'c': r.cafile = optarg; break;
		case 's': secret_file = optarg; break;
		case 'k': key_file = optarg; break;
		case 'x': cert_file = optarg; break;
		case 'u': mailbox = optarg; break;
		case 'p': pw_file = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'w': wait_s = atoi(optarg); break;
		case 'L': list = 1; break;
		default:
			return 2;
		}
	}
	if (r.endpoint == NULL || r.client_id == NULL)
		return 2;
	r.timeout_s = 5;
	/* the secret and key files are checked first, as the relay will */
	if (secret_file != NULL && load_file(secret_file, &secret, &len) < 0)
		return 2;
	r.client_secret = secret;
	if (r.grant == OAUTH2_GRANT_CERT) {
		if (key_file == NULL || cert_file == NULL ||
		    load_file(key_file, &keypem, &len) < 0)
			return 2;
		d.data = (unsigned char *)keypem;
		d.size = (unsigned)len;
		if (gnutls_privkey_init(&key) < 0 ||
		    gnutls_privkey_import_x509_raw(key, &d,
		    GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
		    gnutls_load_file(cert_file, &d) < 0 ||
		    gnutls_pem_base64_decode2("CERTIFICATE", &d,
		    &cert_der) < 0) {
			fprintf(stderr, "refused: %s or %s unusable\n",
			    key_file, cert_file);
			return 2;
		}
		gnutls_free(d.data);
		r.key = key;
		r.cert_der = &cert_der;
	}
	/* the mailbox password is what the client would send in AUTH */
	if (pw_file != NULL && load_file(pw_file, &password, &len) < 0)
		return 2;
	if ((c = oauth2_cache_new()) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		if (i > 0 && wait_s > 0)
			sleep((unsigned)wait_s);
		if (oauth2_token_get(c, &r, mailbox, password, time(NULL), &tok,
		    &fetched, &smtp, err, sizeof(err)) < 0) {
			printf("fail smtp=%u %s\n", smtp, err);
			rc = 1;
			continue;
		}
		if (oauth2_xoauth2_encode(mailbox, tok, &x) < 0)
			return 2;
		printf("ok fetched=%s xoauth2=%zu\n", how[fetched],
		    strlen(x));
		oauth2_secret_free(x);
		oauth2_secret_free(tok);
	}
	if (list)
		oauth2_cache_foreach(c, time(NULL), print_state, NULL);
	fflush(stdout);
	oauth2_cache_free(c);
	oauth2_secret_free(secret);
	oauth2_secret_free(password);
	oauth2_secret_free(keypem);
	gnutls_free(cert_der.data);
	gnutls_privkey_deinit(key);
	return rc;
}
