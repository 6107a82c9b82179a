/*
 * fuzz_relay_conf.c - libFuzzer target for danegate-relay's configuration
 * (plugin/relay/relay_conf.c: the meaning of every relay: and route: key).
 *
 * The first byte picks command-line overrides (its low four bits:
 * --listen, --lmtp, --resolver, --ca-file and --trust-anchor; 0x40 a
 * --listen that is no address, which must fail the load); the rest is
 * a relay.conf, read through a memfd by relay_conf_load() (cfgfile.c's
 * syntax, fuzzed alone by fuzz_config.c; addresses into lib/addr.c and
 * lib/acl.c, fuzzed by fuzz_addr.c). The corpus files start with a digit
 * (or one of :;<=>? for 10-15) and a newline for that byte.
 *
 * A load that fails must return no conf; one that succeeds must hold what
 * relay_conf.h promises, checked here without relay_conf.c's helpers:
 * listeners, the overrides in force, certificate and key together, a
 * printable hostname, every route complete (name unique and found by
 * relay_conf_route(), an https token endpoint spelling out the whole
 * tenant, the files its grant needs, each domain found by
 * relay_conf_route_for_domain()), and every client-address: found by its
 * own address, its mailboxes on a route that is not a password grant.
 * Bugs show as aborts, sanitizer reports or leaks.
 *
 *     tests/fuzz/fuzz_relay_conf -max_len=4096 -close_fd_mask=2 \
 *         tests/fuzz/corpus/relay_conf
 *
 * SECURITY: includes and the files the configuration names (secrets,
 * keys, client-file:, sts-cache-dir:) are switched off before the first
 * input (fuzz input must not name files to open).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "cfgfile.h"
#include "conf_file.h"
#include "log.h"
#include "oauth2.h"
#include "relay_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OV_LISTEN	"127.0.0.1@2525"
#define OV_LMTP		"/run/danegate-relay/fuzz-lmtp"

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static bool
printable_word(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	return true;
}

static void
check_listens(const struct relay_conf *c,
    const struct relay_conf_overrides *ov)
{
	size_t smtp = 0, lmtp = 0;
	bool tls = false;

	check(c->n_listens > 0);
	for (size_t i = 0; i < c->n_listens; i++) {
		const struct relay_listen *l = &c->listens[i];

		check(l->spec != NULL);
		/* a unix socket (mode 0666, no access-control) only for
		 * LMTP, as danegate-relay(8) documents */
		if (l->path != NULL)
			check(l->path[0] == '/' && strcmp(l->path, l->spec) == 0 &&
			    strlen(l->path) < 108 && l->lmtp);
		else
			check((l->ss.ss_family == AF_INET &&
			    l->ss_len == sizeof(struct sockaddr_in)) ||
			    (l->ss.ss_family == AF_INET6 &&
			    l->ss_len == sizeof(struct sockaddr_in6)));
		check(!(l->lmtp && l->tls));
		tls |= l->tls;
		if (l->lmtp) {
			lmtp++;
			if (ov->lmtp != NULL)
				check(strcmp(l->spec, ov->lmtp) == 0);
		} else if (!l->tls) {
			smtp++;
			if (ov->listen != NULL)
				check(strcmp(l->spec, ov->listen) == 0);
		}
	}
	if (ov->listen != NULL)
		check(smtp == 1);
	if (ov->lmtp != NULL)
		check(lmtp == 1);
	/* TLS from the first byte needs a certificate */
	check(!tls || c->tls_cert_file != NULL);
}

static void
check_route(const struct relay_conf *c, const struct relay_route *r)
{
	char url[8192];

	check(r->name != NULL && *r->name != '\0');
	check(strspn(r->name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == strlen(r->name));
	check(relay_conf_route(c, r->name) == r);
	check(printable_word(r->smarthost) && strlen(r->smarthost) <= 253);
	check(r->port != 0);
	check(printable_word(r->client_id));
	check(r->token_endpoint != NULL &&
	    strncmp(r->token_endpoint, "https://", 8) == 0 &&
	    printable_word(r->token_endpoint));
	if (r->tenant != NULL) {
		/* the whole tenant, not a truncated URL */
		snprintf(url, sizeof(url), OAUTH2_ENDPOINT_FMT, r->tenant);
		check(strcmp(url, r->token_endpoint) == 0);
	}
	switch (r->grant) {
	case OAUTH2_GRANT_PASSWORD:
		check(r->certificate_file == NULL && r->private_key_file == NULL);
		break;
	case OAUTH2_GRANT_SECRET:
		check(r->client_secret_file != NULL &&
		    r->certificate_file == NULL && r->private_key_file == NULL);
		break;
	case OAUTH2_GRANT_CERT:
		check(r->client_secret_file == NULL &&
		    r->certificate_file != NULL && r->private_key_file != NULL);
		break;
	default:
		abort();
	}
	/* relay_conf_allow_files(false): nothing was read */
	check(r->client_secret == NULL && r->private_key == NULL);
	for (size_t j = 0; j < r->n_domains; j++) {
		const char *d = r->domains[j];
		size_t len = strlen(d);

		check(len > 0 && len <= 253 && d[0] != '.' &&
		    d[len - 1] != '.' && strchr(d, '.') != NULL &&
		    strstr(d, "..") == NULL);
		check(relay_conf_route_for_domain(c, d) == r);
		/* a trailing dot does not make another domain */
		snprintf(url, sizeof(url), "%s.", d);
		check(relay_conf_route_for_domain(c, url) == r);
	}
}

/* The network address of "ADDR[/LEN]" (host bits cleared, as lib/acl.c
 * stores it), port 0. Its own written address is not always inside the
 * prefix as the acl sees it: ::ffff:10.1.2.0/2 is ::/2, an IPv6 prefix,
 * and ::ffff:10.1.2.0 is looked up as the IPv4 client 10.1.2.0. */
static bool
prefix_sockaddr(const char *prefix, struct sockaddr_storage *ss)
{
	char a[64];
	size_t n = strcspn(prefix, "/");
	uint8_t *bytes;
	unsigned plen, max;

	memset(ss, 0, sizeof(*ss));
	if (n >= sizeof(a))
		return false;
	memcpy(a, prefix, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		bytes = (uint8_t *)&((struct sockaddr_in *)ss)->sin_addr;
		max = 32;
	} else if (inet_pton(AF_INET6, a,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		bytes = (uint8_t *)&((struct sockaddr_in6 *)ss)->sin6_addr;
		max = 128;
	} else
		return false;
	plen = prefix[n] == '/' ? (unsigned)atoi(prefix + n + 1) : max;
	for (unsigned bit = plen; bit < max; bit++)
		bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return true;
}

static void
check_addr_client(const struct relay_conf *c,
    const struct relay_addr_client *ac)
{
	struct sockaddr_storage ss;
	const char *p;

	check(ac->prefix != NULL && ac->acl != NULL && ac->mailboxes != NULL &&
	    ac->where != NULL);
	check(prefix_sockaddr(ac->prefix, &ss));
	/* prefixes never overlap: its network address finds this client
	 * and is in no other's prefix */
	check(relay_conf_client_by_addr(c, (struct sockaddr *)&ss) == ac);
	for (size_t i = 0; i < c->n_addr_clients; i++)
		check(&c->addr_clients[i] == ac ||
		    acl_lookup(c->addr_clients[i].acl,
		    (struct sockaddr *)&ss) != ACL_ALLOW);
	for (p = ac->mailboxes; *p != '\0';) {
		size_t len = strcspn(p, ",");
		char mb[512];
		const struct relay_route *r;

		check(len > 0 && len < sizeof(mb));
		memcpy(mb, p, len);
		mb[len] = '\0';
		p += len + (p[len] == ',');
		check(relay_conf_mailbox_in(ac->mailboxes, mb));
		r = relay_conf_route_for(c, mb);
		check(r != NULL && r->grant != OAUTH2_GRANT_PASSWORD);
	}
}

static void
check_conf(const struct relay_conf *c, const struct relay_conf_overrides *ov)
{
	struct sockaddr_storage ss;
	socklen_t len;

	check_listens(c, ov);
	check(c->acl != NULL);
	check((c->tls_cert_file == NULL) == (c->tls_key_file == NULL));
	check(c->client_file == NULL || c->tls_cert_file != NULL);
	check(c->clients == NULL);
	check(printable_word(c->hostname));
	if (ov->resolver != NULL)
		check(strcmp(c->resolver, ov->resolver) == 0);
	if (ov->ca_file != NULL)
		check(strcmp(c->ca_file, ov->ca_file) == 0);
	if (ov->trust_anchor_file != NULL)
		check(strcmp(c->trust_anchor_file, ov->trust_anchor_file) == 0);
	check(c->verbosity >= 0 && c->verbosity <= 5);
	check(c->command_timeout >= 10 && c->command_timeout <= 3600);
	check(c->final_timeout >= 10 && c->final_timeout <= 540);
	check(c->max_sessions >= 1 && c->max_recipients >= 100 &&
	    c->max_domains >= 1 && c->dest_limit >= 1 && c->dest_wait >= 1);
	check(c->tlsrpt_interval >= 60 && c->tlsrpt_interval <= 86400);
	if (c->prometheus_interface != NULL)
		check(addr_parse(c->prometheus_interface, 9167, &ss, &len) == 0);
	if (c->tlsrpt_submission != NULL)
		check(addr_parse(c->tlsrpt_submission, 25, &ss, &len) == 0);
	if (c->tlsrpt_mail_from != NULL) {
		const char *at = strchr(c->tlsrpt_mail_from, '@');

		check(printable_word(c->tlsrpt_mail_from) && at != NULL &&
		    at != c->tlsrpt_mail_from && at[1] != '\0' &&
		    strchr(at + 1, '@') == NULL);
	}
	if (c->tlsrpt_submitter != NULL)
		check(printable_word(c->tlsrpt_submitter));
	check(c->sts_cache_dir == NULL || c->sts_cache_dir[0] == '/');
	for (size_t i = 0; i < c->n_routes; i++)
		check_route(c, &c->routes[i]);
	for (size_t i = 0; i < c->n_addr_clients; i++)
		check_addr_client(c, &c->addr_clients[i]);
	for (size_t i = 0; i < c->n_spf_addrs; i++)
		check(c->spf_addrs[i].ss_family == AF_INET ||
		    c->spf_addrs[i].ss_family == AF_INET6);
}

static void
load(uint8_t pick, const uint8_t *data, size_t size)
{
	struct relay_conf_overrides ov = { 0 };
	struct relay_conf *conf = NULL;
	char path[64];
	int fd = fuzz_conf_file("relay.conf", data, size, path, sizeof(path));
	int errors;

	if (fd < 0)
		return;
	if (pick & 1)
		ov.listen = OV_LISTEN;
	if (pick & 2)
		ov.lmtp = OV_LMTP;
	if (pick & 4)
		ov.resolver = "127.0.0.1@53";
	if (pick & 8) {
		ov.ca_file = "/etc/ssl/certs/ca-certificates.crt";
		ov.trust_anchor_file = "/usr/share/dns/root.key";
	}
	if (pick & 0x40)	/* a bad --listen fails any file */
		ov.listen = "not-an-address";
	errors = relay_conf_load(path, &ov, &conf);
	check(errors >= 0 && (errors == 0) == (conf != NULL));
	check(!(pick & 0x40) || errors > 0);
	if (conf != NULL)
		check_conf(conf, &ov);
	relay_conf_free(conf);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialized;

	if (!initialized) {
		cfg_file_allow_includes(false);
		relay_conf_allow_files(false);
		log_init("fuzz_relay_conf", LOG_VERB_OPS);
		initialized = 1;
	}
	if (size == 0)
		return 0;
	load(data[0], data + 1, size - 1);
	return 0;
}
