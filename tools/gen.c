/*
 * gen.c - tlsa-check gen: TLSA records for a certificate chain (the leaf
 * as DANE-EE, the CAs above it as DANE-TA, unless --usage says) or for a
 * public or private key (selector 1), printed in zone-file form.
 *
 * SECURITY: reads a PEM file the admin names; no network.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "danegate.h"
#include "tlsacheck.h"

static void
print_record(const char *owner, const struct danegate_tlsa *t,
    const char *comment)
{
	char text[2 * 1024 + 16];

	if (danegate_tlsa_format(t, text, sizeof(text)) != 0)
		return;
	printf("; %s\n%s IN TLSA %s\n", comment, owner, text);
}

/* The certificate's first DNS name, for the record's owner. */
static void
cert_host_name(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	for (unsigned i = 0; i < 16; i++) {
		size_t len = cap;
		unsigned type;

		if (gnutls_x509_crt_get_subject_alt_name2(crt, i, out, &len,
		    &type, NULL) < 0)
			break;
		if (type == GNUTLS_SAN_DNSNAME)
			return;
	}
	out[0] = '\0';
}

int
gen_main(int argc, char **argv)
{
	unsigned long usage_v = 256, selector = 1, mtype = 1, port = 25;
	const char *host = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	gnutls_x509_crt_t *certs = NULL;
	unsigned n = 0;
	char owner[DANEGATE_NAME_MAX + 32], name[DANEGATE_NAME_MAX];
	int ch, rc = 0;
	static const struct option longopts[] = {
		{ "usage", required_argument, NULL, 'u' },
		{ "selector", required_argument, NULL, 's' },
		{ "mtype", required_argument, NULL, 'm' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (cli_parse_uint("--usage", optarg, 0, 255, &usage_v) != 0)
				return TLSA_CHECK_EXIT_USAGE;
			break;
		case 's':
			if (cli_parse_uint("--selector", optarg, 0, 255, &selector))
				return TLSA_CHECK_EXIT_USAGE;
			break;
		case 'm':
			if (cli_parse_uint("--mtype", optarg, 0, 255, &mtype) != 0)
				return TLSA_CHECK_EXIT_USAGE;
			break;
		case 'H':
			host = optarg;
			break;
		case 'p':
			if (cli_parse_uint("--port", optarg, 1, 65535, &port) != 0)
				return TLSA_CHECK_EXIT_USAGE;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		default:
			cli_usage(stderr);
			return TLSA_CHECK_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "tlsa-check gen: name one PEM file\n");
		return TLSA_CHECK_EXIT_USAGE;
	}
	if (gnutls_load_file(argv[optind], &pem) < 0) {
		fprintf(stderr, "tlsa-check gen: %s: cannot read\n",
		    argv[optind]);
		return TLSA_CHECK_EXIT_USAGE;
	}
	if (gnutls_x509_crt_list_import2(&certs, &n, &pem, GNUTLS_X509_FMT_PEM,
	    0) < 0 || n == 0) {
		/* not certificates: a public or private key, selector 1 */
		gnutls_pubkey_t pub;
		gnutls_privkey_t priv;
		gnutls_datum_t spki = { NULL, 0 };
		uint8_t digest[64];
		struct danegate_tlsa t = { 0 };
		int ok;

		gnutls_pubkey_init(&pub);
		ok = gnutls_pubkey_import(pub, &pem, GNUTLS_X509_FMT_PEM) >= 0;
		if (!ok) {
			gnutls_privkey_init(&priv);
			ok = gnutls_privkey_import_x509_raw(priv, &pem,
			    GNUTLS_X509_FMT_PEM, NULL, 0) >= 0 &&
			    gnutls_pubkey_import_privkey(pub, priv, 0, 0) >= 0;
			gnutls_privkey_deinit(priv);
		}
		if (!ok || gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER,
		    &spki) < 0 || mtype > 2) {
			fprintf(stderr, "tlsa-check gen: %s: no certificate or "
			    "key in PEM form (or --mtype above 2)\n",
			    argv[optind]);
			gnutls_pubkey_deinit(pub);
			gnutls_free(pem.data);
			return TLSA_CHECK_EXIT_USAGE;
		}
		t.usage = usage_v > 255 ? 3 : (uint8_t)usage_v;
		t.selector = 1;
		t.mtype = (uint8_t)mtype;
		if (mtype == 0) {
			t.data = spki.data;
			t.len = spki.size;
		} else {
			gnutls_hash_fast(mtype == 1 ? GNUTLS_DIG_SHA256 :
			    GNUTLS_DIG_SHA512, spki.data, spki.size, digest);
			t.data = digest;
			t.len = mtype == 1 ? 32 : 64;
		}
		/* no host: a name relative to the host's own $ORIGIN */
		snprintf(owner, sizeof(owner), "_%lu._tcp%s%s%s", port,
		    host ? "." : "", host ? host : "",
		    host && host[strlen(host) - 1] != '.' ? "." : "");
		print_record(owner, &t, "public key (selector 1: the key "
		    "alone)");
		gnutls_free(spki.data);
		gnutls_pubkey_deinit(pub);
		gnutls_free(pem.data);
		return 0;
	}
	name[0] = '\0';
	if (host != NULL)
		snprintf(name, sizeof(name), "%s", host);
	else
		cert_host_name(certs[0], name, sizeof(name));
	snprintf(owner, sizeof(owner), "_%lu._tcp%s%s%s", port,
	    name[0] ? "." : "", name,
	    name[0] && name[strlen(name) - 1] != '.' ? "." : "");
	for (unsigned i = 0; i < n; i++) {
		gnutls_datum_t der = { NULL, 0 };
		struct danegate_tlsa t = { 0 };
		char dn[512] = "?", comment[600];
		size_t dnlen = sizeof(dn);
		/* the leaf as DANE-EE, the CAs above it as DANE-TA, unless
		 * the usage was given */
		uint8_t u = usage_v <= 255 ? (uint8_t)usage_v : i == 0 ? 3 : 2;

		(void)gnutls_x509_crt_get_dn(certs[i], dn, &dnlen);
		if (gnutls_x509_crt_export2(certs[i], GNUTLS_X509_FMT_DER,
		    &der) < 0 || danegate_tlsa_for_cert(der.data, der.size, u,
		    (uint8_t)selector, (uint8_t)mtype, &t) != 0) {
			fprintf(stderr, "tlsa-check gen: cannot make a record "
			    "for certificate %u (%s)\n", i, dn);
			rc = TLSA_CHECK_EXIT_USAGE;
		} else {
			snprintf(comment, sizeof(comment), "[%u] %s", i, dn);
			print_record(owner, &t, comment);
		}
		danegate_tlsa_clear(&t);
		gnutls_free(der.data);
		gnutls_x509_crt_deinit(certs[i]);
	}
	gnutls_free(certs);
	gnutls_free(pem.data);
	return rc;
}
