/*
 * test_relay_route.c - unit tests for the XOAUTH2 submission route (issue
 * 9): relay_conf.c's route: clauses (the keys, the defaults, the
 * whole-clause checks, the secret files read at load: a file readable by
 * others is refused), domain: and relay_conf_route_for(), outbound_open()
 * refusing a transaction bound to an unknown route rather than delivering
 * it by MX and failing a route's transaction with 4xx when the smarthost
 * has no address, and the token worker (token_worker.h): waits for the
 * same mailbox share one request, an unusable endpoint is a 4xx cause.
 * Refusals first, then the good cases.
 *
 * SECURITY: test program; writes and reads only temporary files.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "plugin/danegate.h"
#include "plugin/relay/outbound.h"
#include "plugin/relay/oauth2.h"
#include "plugin/relay/relay_conf.h"
#include "plugin/relay/token_worker.h"

static char dir[] = "/tmp/test_relay_route.XXXXXX";
static char conf_path[256], secret_path[256], key_path[256], cert_path[256];

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void
setup(void)
{
	log_init("test_relay_route", 0);
	strcpy(dir, "/tmp/test_relay_route.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/relay.conf", dir);
	snprintf(secret_path, sizeof(secret_path), "%s/secret", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	write_file(secret_path, "s3cr3t-value\n", 0600);
	write_file(key_path, "-----BEGIN PRIVATE KEY-----\nx\n"
	    "-----END PRIVATE KEY-----\n", 0600);
	write_file(cert_path, "-----BEGIN CERTIFICATE-----\nx\n"
	    "-----END CERTIFICATE-----\n", 0644);
}

static void
teardown(void)
{
	unlink(conf_path);
	unlink(secret_path);
	unlink(key_path);
	unlink(cert_path);
	rmdir(dir);
}

/* Loads "relay:\n" + the route text; returns the error count. */
static int
load(const char *route, struct relay_conf **out)
{
	char text[2048];
	struct relay_conf_overrides ov = { .listen = "127.0.0.1@1" };

	snprintf(text, sizeof(text), "relay:\n    hostname: relay.test\n%s",
	    route);
	write_file(conf_path, text, 0600);
	return relay_conf_load(conf_path, &ov, out);
}

#define ROUTE_SECRET(extra) \
	"route:\n    name: exo\n    grant: secret\n" \
	"    client-id: 11111111-2222-3333-4444-555555555555\n" \
	"    tenant: contoso.onmicrosoft.com\n" \
	"    client-secret-file: %s\n" extra

/* Loads like load(); leaves what was logged in logged[]. */
static char logged[8192];

static int
load_logged(const char *route, struct relay_conf **out)
{
	FILE *capture = tmpfile();
	int saved, errors;
	size_t n;

	ck_assert_ptr_nonnull(capture);
	fflush(stderr);
	ck_assert_int_ne(saved = dup(STDERR_FILENO), -1);
	ck_assert_int_ne(dup2(fileno(capture), STDERR_FILENO), -1);
	errors = load(route, out);
	fflush(stderr);
	ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	rewind(capture);
	n = fread(logged, 1, sizeof(logged) - 1, capture);
	logged[n] = '\0';
	fclose(capture);
	return errors;
}

static int
load_secret(const char *extra, struct relay_conf **out)
{
	char route[1024];

	snprintf(route, sizeof(route), ROUTE_SECRET("%s"), secret_path, extra);
	return load(route, out);
}

START_TEST(test_route_refusals)
{
	struct relay_conf *c = NULL;
	char route[1024];

	/* loose permissions on the secret: refused at load */
	ck_assert_int_eq(chmod(secret_path, 0644), 0);
	ck_assert_int_gt(load_secret((""), &c), 0);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(chmod(secret_path, 0600), 0);
	/* missing secret file */
	ck_assert_int_gt(load("route:\n    name: exo\n    grant: secret\n"
	    "    client-id: abc\n    tenant: t\n", &c), 0);
	/* no name, no grant, no client-id */
	ck_assert_int_gt(load("route:\n    grant: secret\n", &c), 0);
	ck_assert_int_gt(load("route:\n    name: exo\n    client-id: a\n"
	    "    tenant: t\n", &c), 0);
	ck_assert_int_gt(load("route:\n    name: exo\n    grant: password\n"
	    "    tenant: t\n", &c), 0);
	/* unknown grant, unknown key */
	ck_assert_int_gt(load_secret(("    grant: magic\n"), &c), 0);
	ck_assert_int_gt(load_secret(("    colour: blue\n"), &c),
	    0);
	/* both tenant and token-endpoint; a plain-http endpoint */
	ck_assert_int_gt(load_secret((
	    "    token-endpoint: https://127.65.0.1/token\n"), &c), 0);
	ck_assert_int_gt(load("route:\n    name: exo\n    grant: password\n"
	    "    client-id: a\n    token-endpoint: http://127.65.0.1/t\n",
	    &c), 0);
	/* bad smarthost values */
	ck_assert_int_gt(load_secret((
	    "    smarthost: smtp.example@0\n"), &c), 0);
	ck_assert_int_gt(load_secret((
	    "    smarthost: smtp.example@70000\n"), &c), 0);
	ck_assert_int_gt(load_secret(("    smarthost: @587\n"),
	    &c), 0);
	/* the same name twice */
	snprintf(route, sizeof(route), ROUTE_SECRET("") ROUTE_SECRET(""),
	    secret_path, secret_path);
	ck_assert_int_gt(load(route, &c), 0);
	/* certificate grant: needs both files, the key private */
	ck_assert_int_gt(load("route:\n    name: exo\n    grant: certificate\n"
	    "    client-id: a\n    tenant: t\n", &c), 0);
	ck_assert_int_eq(chmod(key_path, 0640), 0);
	snprintf(route, sizeof(route), "route:\n    name: exo\n"
	    "    grant: certificate\n    client-id: a\n    tenant: t\n"
	    "    certificate-file: %s\n    private-key-file: %s\n",
	    cert_path, key_path);
	ck_assert_int_gt(load(route, &c), 0);
	ck_assert_ptr_null(c);
	/* domain: a mail domain, nothing else */
	ck_assert_int_gt(load_secret(("    domain: a..b\n"), &c), 0);
	ck_assert_int_gt(load_secret(("    domain: a b\n"), &c), 0);
	ck_assert_int_gt(load_secret(("    domain: .example\n"), &c), 0);
	ck_assert_int_gt(load_secret(("    domain: x@example\n"), &c), 0);
}
END_TEST

/* A client-address: mailbox on a password route that has no name: the
 * message names the route by where it is (it said "(null)", printf's
 * undefined behaviour for a NULL %s). */
START_TEST(test_route_unnamed_in_message)
{
	struct relay_conf *c = NULL;

	ck_assert_int_gt(load_logged("    client-address: 10.5.0.1 "
	    "pw@pw.example\nroute:\n    domain: pw.example\n"
	    "    grant: password\n", &c), 0);
	ck_assert_ptr_null(c);
	ck_assert_ptr_null(strstr(logged, "(null)"));
	ck_assert_ptr_nonnull(strstr(logged, "pw@pw.example: route at "));
}
END_TEST

/* The tlsrpt- keys with a value of their own take one word, not empty. */
START_TEST(test_tlsrpt_one_value)
{
	struct relay_conf *c = NULL;

	ck_assert_int_gt(load("    tlsrpt-submission: 127.0.0.1 "
	    "127.0.0.2\n", &c), 0);
	ck_assert_int_gt(load("    tlsrpt-mail-from: a@example.org "
	    "b@example.org\n", &c), 0);
	ck_assert_int_gt(load("    tlsrpt-submitter: a.example "
	    "b.example\n", &c), 0);
	ck_assert_int_gt(load("    tlsrpt-submitter: \"\"\n", &c), 0);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(load("    tlsrpt-submission: 127.0.0.1@2525\n"
	    "    tlsrpt-mail-from: a@example.org\n"
	    "    tlsrpt-submitter: a.example\n", &c), 0);
	ck_assert_str_eq(c->tlsrpt_submission, "127.0.0.1@2525");
	ck_assert_str_eq(c->tlsrpt_mail_from, "a@example.org");
	ck_assert_str_eq(c->tlsrpt_submitter, "a.example");
	relay_conf_free(c);
}
END_TEST

/* Each of the lines (a NULL-terminated list) alone fails the load. */
static void
assert_all_refused(const char *const *lines)
{
	struct relay_conf *c = NULL;

	for (size_t i = 0; lines[i] != NULL; i++) {
		ck_assert_msg(load(lines[i], &c) > 0, "took %s", lines[i]);
		ck_assert_ptr_null(c);
	}
}

/* Numbers are digits only: strtoul() and strtoull() took a blank and a
 * sign (" -1" as the largest size), and saturated on overflow. */
START_TEST(test_numbers_digits_only)
{
	static const char *bad[] = {
		"    message-size-limit: \" -1\"\n",
		"    message-size-limit: \"+1\"\n",
		"    message-size-limit: 99999999999999999999999\n",
		"    message-size-limit: 18446744073709551616\n",
		"    message-size-limit: 18014398509481984k\n",
		"    message-size-limit: 10x\n",
		"    verbosity: \" 2\"\n",
		"    drain-timeout: \"+5\"\n",
		"    drain-timeout: \" -0\"\n",
		"    remote-port: 0x19\n",
		NULL
	};
	struct relay_conf *c = NULL;

	assert_all_refused(bad);
	ck_assert_int_gt(load_secret("    smarthost: smtp.example@+25\n", &c),
	    0);
	ck_assert_int_gt(load_secret("    smarthost: \"smtp.example@ 25\"\n",
	    &c), 0);
	ck_assert_int_eq(load("    message-size-limit: 18446744073709551615\n"
	    "    verbosity: 2\n    remote-port: 2525\n", &c), 0);
	ck_assert_uint_eq(c->message_size_limit, UINT64_MAX);
	ck_assert_int_eq(c->verbosity, 2);
	ck_assert_uint_eq(c->remote_port, 2525);
	relay_conf_free(c);
	ck_assert_int_eq(load("    message-size-limit: 50m\n", &c), 0);
	ck_assert_uint_eq(c->message_size_limit, 50u << 20);
	relay_conf_free(c);
}
END_TEST

/* hostname: is the relay's EHLO name too: a domain name or an address
 * literal; -t took "a@b", which the outbound side then refused at start. */
START_TEST(test_hostname_is_a_helo_name)
{
	static const char *bad[] = {
		"    hostname: a@b.example\n",
		"    hostname: relay/1\n",
		"    hostname: \"relay example\"\n",
		NULL
	};
	struct relay_conf *c = NULL;

	assert_all_refused(bad);
	ck_assert_int_eq(load("    hostname: relay.example\n", &c), 0);
	ck_assert_str_eq(c->hostname, "relay.example");
	relay_conf_free(c);
	ck_assert_int_eq(load("    hostname: [192.0.2.25]\n", &c), 0);
	relay_conf_free(c);
}
END_TEST

/* Only lmtp: takes a unix socket: an SMTP one would be mode 0666 with
 * no access-control: in front of it. */
START_TEST(test_listen_unix_lmtp_only)
{
	struct relay_conf_overrides ov = { .listen = "/run/x/smtp" };
	struct relay_conf *c = NULL;

	ck_assert_int_gt(load("    listen: /run/x/smtp\n", &c), 0);
	ck_assert_ptr_null(c);
	write_file(conf_path, "relay:\n", 0600);
	ck_assert_int_gt(relay_conf_load(conf_path, &ov, &c), 0);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(load("    lmtp: /run/x/lmtp\n", &c), 0);
	ck_assert_uint_eq(c->n_listens, 2);	/* and load()'s --listen */
	ck_assert_str_eq(c->listens[0].path, "/run/x/lmtp");
	ck_assert(c->listens[0].lmtp);
	relay_conf_free(c);
}
END_TEST

/* client-address: prefixes overlap as the lookup sees them: ::/64
 * holds ::ffff:10.0.0.0/90 (an IPv6 prefix, being shorter than /96),
 * and ::ffff:10.1.2.0/2 (::/2) holds no IPv4 client. The check compared
 * written addresses and got both wrong. */
START_TEST(test_client_address_overlap)
{
	char route[512], text[1024];
	struct relay_conf *c = NULL;

	snprintf(route, sizeof(route), "route:\n    name: r\n"
	    "    domain: x.example\n    grant: secret\n    client-id: x\n"
	    "    tenant: t\n    client-secret-file: %s\n", secret_path);
	snprintf(text, sizeof(text), "    client-address: ::/64 a@x.example\n"
	    "    client-address: ::ffff:10.0.0.0/90 b@x.example\n%s", route);
	ck_assert_int_gt(load(text, &c), 0);
	ck_assert_ptr_null(c);
	snprintf(text, sizeof(text), "    client-address: ::ffff:10.1.2.0/2 "
	    "a@x.example\n    client-address: 10.1.2.0/24 b@x.example\n%s",
	    route);
	ck_assert_int_eq(load(text, &c), 0);
	ck_assert_uint_eq(c->n_addr_clients, 2);
	relay_conf_free(c);
}
END_TEST

START_TEST(test_route_domains)
{
	struct relay_conf *c = NULL;

	ck_assert_int_eq(load_secret(("    domain: school.example\n"
	    "    domain: Office.Example\n"), &c), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->routes[0].n_domains, 2);
	ck_assert_ptr_eq(relay_conf_route_for(c, "head@school.example"),
	    &c->routes[0]);
	ck_assert_ptr_eq(relay_conf_route_for(c, "a@OFFICE.example"),
	    &c->routes[0]);
	/* another domain, a subdomain, no domain at all */
	ck_assert_ptr_null(relay_conf_route_for(c, "a@other.example"));
	ck_assert_ptr_null(relay_conf_route_for(c, "a@x.school.example"));
	ck_assert_ptr_null(relay_conf_route_for(c, "school.example"));
	ck_assert_ptr_null(relay_conf_route_for(c, ""));
	ck_assert_ptr_null(relay_conf_route_for(c, NULL));
	relay_conf_free(c);
}
END_TEST

START_TEST(test_route_good)
{
	struct relay_conf *c = NULL;
	const struct relay_route *r;
	char route[1024];

	ck_assert_int_eq(load_secret((""), &c), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->n_routes, 1);
	ck_assert_ptr_null(relay_conf_route(c, "other"));
	ck_assert_ptr_nonnull(r = relay_conf_route(c, "exo"));
	ck_assert_str_eq(r->smarthost, "smtp.office365.com");
	ck_assert_uint_eq(r->port, 587);
	ck_assert_int_eq(r->grant, OAUTH2_GRANT_SECRET);
	ck_assert_str_eq(r->token_endpoint, "https://login.microsoftonline.com"
	    "/contoso.onmicrosoft.com/oauth2/v2.0/token");
	ck_assert_str_eq(r->client_secret, "s3cr3t-value");
	ck_assert_ptr_null(r->scope);
	relay_conf_free(c);

	snprintf(route, sizeof(route), "route:\n    name: ropc\n"
	    "    grant: password\n    client-id: a\n"
	    "    token-endpoint: https://127.65.0.1:8443/t/token\n"
	    "    smarthost: smtp.test:2587\n"
	    "route:\n    name: cert\n    grant: certificate\n"
	    "    client-id: b\n    tenant: t\n    smarthost: [::1]@25\n"
	    "    certificate-file: %s\n    private-key-file: %s\n",
	    cert_path, key_path);
	ck_assert_int_eq(load(route, &c), 0);
	ck_assert_uint_eq(c->n_routes, 2);
	ck_assert_ptr_nonnull(r = relay_conf_route(c, "ropc"));
	ck_assert_int_eq(r->grant, OAUTH2_GRANT_PASSWORD);
	ck_assert_str_eq(r->smarthost, "smtp.test");
	ck_assert_uint_eq(r->port, 2587);
	ck_assert_str_eq(r->token_endpoint, "https://127.65.0.1:8443/t/token");
	ck_assert_ptr_null(r->client_secret);
	ck_assert_ptr_nonnull(r = relay_conf_route(c, "cert"));
	ck_assert_int_eq(r->grant, OAUTH2_GRANT_CERT);
	ck_assert_str_eq(r->smarthost, "::1");
	ck_assert_uint_eq(r->port, 25);
	ck_assert_ptr_nonnull(r->private_key);
	ck_assert_uint_gt(r->private_key_len, 0);
	relay_conf_free(c);
}
END_TEST

static void
count_reply(void *arg, const struct outbound_reply *r)
{
	(void)r;
	(*(int *)arg)++;
}

START_TEST(test_outbound_route_refused)
{
	struct danegate_resolver_options ro = { 0 };
	struct outbound_env_options eo = { 0 };
	struct outbound_callbacks cb = { 0 };
	struct outbound_envelope from = { 0 };
	struct danegate_resolver *res;
	struct outbound_env *env;
	struct outbound *o;
	struct event_base *base;
	int err = 0, dummy = 0;

	ck_assert_ptr_nonnull(base = event_base_new());
	ro.forwarder = "127.65.0.1@1";	/* nobody: the control fails fast */
	ro.timeout_ms = 300;
	ck_assert_ptr_nonnull(res = danegate_resolver_new(&ro, base, &err));
	eo.base = base;
	eo.resolver = res;
	ck_assert_int_eq(outbound_env_new(&eo, &env), 0);
	cb.on_reply = count_reply;
	from.sender = "a@relay.test";
	from.size = -1;
	from.route = "exo";
	from.auth_mailbox = "a@contoso.test";
	ck_assert_ptr_null(outbound_open(env, "example.test", &from, &cb,
	    &dummy, &err));
	ck_assert_int_eq(err, DANEGATE_E_INVALID);
	ck_assert_int_eq(dummy, 0);
	/* the same envelope without a route is taken (MX delivery) */
	from.route = NULL;
	from.auth_mailbox = NULL;
	ck_assert_ptr_nonnull(o = outbound_open(env, "example.test", &from,
	    &cb, &dummy, &err));
	while (dummy == 0)	/* its DNS failure is a reply: not refused */
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	outbound_free(o);
	outbound_env_free(env);
	danegate_resolver_free(res);
	event_base_free(base);
}
END_TEST

/* a route made by hand (struct relay_route holds char *) */
static char n_exo[] = "exo", n_smarthost[] = "smtp.office.test", n_a[] = "a",
    n_s[] = "s", n_https[] = "https://login.office.test/t/token",
    n_http[] = "http://login.office.test/t/token",
    n_literal[] = "http://127.0.0.1/t/token";

static void
keep_reply(void *arg, const struct outbound_reply *r)
{
	struct outbound_reply *out = arg;

	out[out[0].code != 0 ? 1 : 0] = *r;
}

/* A route's transaction whose smarthost has no address: 4xx from the
 * route (never MX delivery), one reply; a password-grant route without
 * the password is refused. */
START_TEST(test_route_no_address)
{
	struct danegate_resolver_options ro = { 0 };
	struct outbound_env_options eo = { 0 };
	struct outbound_callbacks cb = { 0 };
	struct outbound_envelope from = { 0 };
	struct outbound_reply got[2];
	struct relay_route route = { 0 };
	struct danegate_resolver *res;
	struct outbound_env *env;
	struct outbound *o;
	struct event_base *base;
	struct timeval tv = { 1, 0 };
	int err = 0;

	ck_assert_ptr_nonnull(base = event_base_new());
	ro.forwarder = "127.65.0.1@1";	/* nobody: lookups fail fast */
	ro.timeout_ms = 300;
	ck_assert_ptr_nonnull(res = danegate_resolver_new(&ro, base, &err));
	eo.base = base;
	eo.resolver = res;
	ck_assert_int_eq(outbound_env_new(&eo, &env), 0);
	route.name = n_exo;
	route.smarthost = n_smarthost;
	route.port = 587;
	route.grant = OAUTH2_GRANT_SECRET;
	route.client_id = n_a;
	route.client_secret = n_s;
	route.token_endpoint = n_https;
	outbound_env_set_routes(env, &route, 1);
	cb.on_reply = keep_reply;
	from.sender = "a@office.test";
	from.size = -1;
	from.route = "exo";
	/* no mailbox: refused */
	ck_assert_ptr_null(outbound_open(env, "example.test", &from, &cb,
	    got, &err));
	ck_assert_int_eq(err, DANEGATE_E_INVALID);
	from.auth_mailbox = "a@office.test";
	memset(got, 0, sizeof(got));
	ck_assert_ptr_nonnull(o = outbound_open(env, "example.test", &from,
	    &cb, got, &err));
	while (got[0].code == 0)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	/* the rest of the lookups end; no second reply comes */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(got[1].code, 0);
	ck_assert_int_eq(got[0].code, 451);
	ck_assert(!got[0].remote);
	ck_assert_ptr_nonnull(strstr(got[0].text, "route exo"));
	ck_assert_ptr_nonnull(strstr(got[0].text, "no address"));
	outbound_free(o);
	/* a token endpoint given by address (no lookup): its refusal (http:
	 * is not https) or the smarthost's lookup, one 451 */
	route.token_endpoint = n_literal;
	memset(got, 0, sizeof(got));
	ck_assert_ptr_nonnull(o = outbound_open(env, "example.test", &from,
	    &cb, got, &err));
	while (got[0].code == 0)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(got[1].code, 0);
	ck_assert_int_eq(got[0].code, 451);
	ck_assert_ptr_nonnull(strstr(got[0].text, "route exo"));
	outbound_free(o);
	/* a password grant needs the client's password */
	route.grant = OAUTH2_GRANT_PASSWORD;
	ck_assert_ptr_null(outbound_open(env, "example.test", &from, &cb,
	    got, &err));
	ck_assert_int_eq(err, DANEGATE_E_INVALID);
	outbound_env_free(env);
	danegate_resolver_free(res);
	event_base_free(base);
}
END_TEST

struct tw_got {
	int calls, rc;
	unsigned smtp;
	char err[OAUTH2_ERR_MAX];
};

static void
tw_cb(void *arg, const struct token_result *r)
{
	struct tw_got *g = arg;

	g->calls++;
	g->rc = r->rc;
	g->smtp = r->smtp;
	ck_assert_ptr_null(r->token);
	snprintf(g->err, sizeof(g->err), "%s", r->err);
}

/* Two waits for one mailbox share a request; another mailbox gets its
 * own; a cancelled wait is not called. The endpoint is http:, which
 * libcurl refuses (https only) without touching the network. */
START_TEST(test_token_worker_shared)
{
	struct relay_route route = { 0 };
	struct token_worker *w;
	struct token_wait *w1, *w2, *w3, *w4;
	struct tw_got g1 = { 0 }, g2 = { 0 }, g3 = { 0 }, g4 = { 0 };
	struct event_base *base;

	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(token_worker_new(base, NULL, &w), 0);
	route.name = n_exo;
	route.grant = OAUTH2_GRANT_SECRET;
	route.client_id = n_a;
	route.client_secret = n_s;
	route.token_endpoint = n_http;
	ck_assert_int_eq(token_worker_get(w, &route, "a@office.test", NULL,
	    NULL, tw_cb, &g1, &w1), 0);
	ck_assert_int_eq(token_worker_get(w, &route, "A@office.test", NULL,
	    NULL, tw_cb, &g2, &w2), 0);
	ck_assert_int_eq(token_worker_get(w, &route, "b@office.test", NULL,
	    NULL, tw_cb, &g3, &w3), 0);
	ck_assert_int_eq(token_worker_get(w, &route, "b@office.test", NULL,
	    NULL, tw_cb, &g4, &w4), 0);
	token_wait_cancel(w4);
	ck_assert_uint_eq(token_worker_jobs(w), 2);
	/* never before the loop runs */
	ck_assert_int_eq(g1.calls + g2.calls + g3.calls, 0);
	while (g1.calls == 0 || g3.calls == 0)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(g1.calls, 1);
	ck_assert_int_eq(g2.calls, 1);
	ck_assert_int_eq(g3.calls, 1);
	ck_assert_int_eq(g4.calls, 0);
	ck_assert_int_eq(g1.rc, DANEGATE_E_NETWORK);
	ck_assert_uint_eq(g1.smtp / 100, 4);	/* an outage: never 5xx */
	ck_assert_ptr_nonnull(strstr(g1.err, "token endpoint unreachable"));
	ck_assert_ptr_null(strstr(g1.err, "s"  "ecret"));
	/* nothing cached by a failure */
	ck_assert_ptr_null(oauth2_cache_get(token_worker_cache(w),
	    "a@office.test", NULL, time(NULL), NULL));
	token_worker_free(w);
	event_base_free(base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("relay_conf");
	TCase *tc = tcase_create("route");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_route_refusals);
	tcase_add_test(tc, test_route_good);
	tcase_add_test(tc, test_route_domains);
	tcase_add_test(tc, test_route_unnamed_in_message);
	tcase_add_test(tc, test_tlsrpt_one_value);
	tcase_add_test(tc, test_numbers_digits_only);
	tcase_add_test(tc, test_listen_unix_lmtp_only);
	tcase_add_test(tc, test_hostname_is_a_helo_name);
	tcase_add_test(tc, test_client_address_overlap);
	tcase_add_test(tc, test_route_no_address);
	tcase_add_test(tc, test_token_worker_shared);
	tcase_add_test(tc, test_outbound_route_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
