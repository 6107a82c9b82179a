/*
 * relay_conf.c - the meaning of danegate-relay.conf (see relay_conf.h).
 *
 * cfgfile.c has checked the syntax; this file walks the entries and, per
 * key, fills a field or refuses the line with the reason. Each key's row in
 * relay_keys[] carries its bounds, and the refusal rows say why.
 *
 * SECURITY: runs at start-up and reload; reads what cfgfile.c opens and
 * the secret, key and client files the configuration names (none when
 * relay_conf_allow_files(false): fuzzing). Values end up in log lines, the
 * SMTP greeting and file names, never in a shell or a generated file.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "cfgfile.h"
#include "log.h"
#include "oauth2.h"
#include "plugin/danegate.h"
#include "clients.h"
#include "plugin/internal.h"
#include "relay_conf.h"
#include "sts_cache.h"

#define RELAY_DEFAULT_LISTEN	"127.0.0.1@10025"
#define RELAY_DEFAULT_PORT	10025

enum key_type {
	K_STR,		/* char * field */
	K_UINT,		/* unsigned field, min..max */
	K_SIZE,		/* uint64_t field: bytes, 100k, 50m, 1g */
	K_FUNC,
};

/* relay_conf_allow_files(): off only in fuzz targets */
static bool files_allowed = true;

struct ctx {
	struct relay_conf *conf;
	int errors;
	bool listen_seen;	/* the file's listen: lines replace the
				 * default */
	char listen_tls_at[300];	/* "file:line" of the first
					 * listen-tls:, or "" */
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	unsigned min, max;
	void (*fn)(struct ctx *, const struct cfg_entry *);
};

__attribute__((format(printf, 3, 4)))
static void
bad(struct ctx *ctx, const struct cfg_entry *e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e != NULL)
		log_err("%s:%u: %s: %s", e->file, e->line, e->key, msg);
	else
		log_err("command line: %s", msg);
	ctx->errors++;
}

/* relay_conf.h */
void
relay_conf_allow_files(bool allow)
{
	files_allowed = allow;
}

static char *
dup_or_count(struct ctx *ctx, const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		log_err("out of memory reading the configuration");
		ctx->errors++;
	}
	return p;
}

/* Whether e has one non-empty value; refuses the line otherwise. */
static bool
one_value(struct ctx *ctx, const struct cfg_entry *e)
{
	if (e->argc == 1 && e->argv[0][0] != '\0')
		return true;
	bad(ctx, e, "expects one value (quote a value with blanks)");
	return false;
}

/* Adds a listener from spec; e NULL: from the command line. */
static void
add_listen(struct ctx *ctx, const struct cfg_entry *e, const char *spec,
    bool lmtp)
{
	struct relay_conf *c = ctx->conf;
	struct relay_listen *l, *n;

	n = realloc(c->listens, (c->n_listens + 1) * sizeof(*n));
	if (n == NULL) {
		bad(ctx, e, "out of memory");
		return;
	}
	c->listens = n;
	l = &n[c->n_listens];
	memset(l, 0, sizeof(*l));
	l->lmtp = lmtp;
	/* a unix socket is LMTP's only: it is created mode 0666 and no
	 * access-control: guards it, which an SMTP listener needs */
	if (spec[0] == '/' && lmtp) {
		if (strlen(spec) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			bad(ctx, e, "unix socket path longer than %zu bytes",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return;
		}
		l->path = dup_or_count(ctx, spec);
	} else if (addr_parse(spec, RELAY_DEFAULT_PORT, &l->ss,
	    &l->ss_len) != 0) {
		bad(ctx, e, "'%s' is not ADDR@PORT (an IPv4 or IPv6 address%s)",
		    spec, lmtp ? " or an absolute unix socket path" :
		    "; a unix socket is for lmtp: only");
		return;
	}
	if ((l->spec = dup_or_count(ctx, spec)) == NULL) {
		free(l->path);
		return;
	}
	c->n_listens++;
}

static void
key_listen(struct ctx *ctx, const struct cfg_entry *e)
{
	if (e->argc != 1) {
		bad(ctx, e, "expects one ADDR@PORT");
		return;
	}
	ctx->listen_seen = true;
	add_listen(ctx, e, e->argv[0], false);
}

/* The address part of "ADDR[/LEN]" as a sockaddr; false if none. */
static bool
prefix_addr(const char *prefix, struct sockaddr_storage *ss)
{
	char a[INET6_ADDRSTRLEN + 1];
	size_t n = strcspn(prefix, "/");

	memset(ss, 0, sizeof(*ss));
	if (n >= sizeof(a))
		return false;
	memcpy(a, prefix, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	return ss->ss_family != 0;
}

/* client-address: PREFIX MAILBOX[,MAILBOX...] */
static void
key_client_address(struct ctx *ctx, const struct cfg_entry *e)
{
	struct relay_conf *c = ctx->conf;
	struct relay_addr_client *n, *ac;
	struct sockaddr_storage ss;
	char err[200], where[300];
	const char *p;

	if (e->argc != 2) {
		bad(ctx, e, "expects NET/LEN and MAILBOX[,MAILBOX...]");
		return;
	}
	for (p = e->argv[1]; *p != '\0'; p += strcspn(p, ",") + (p[strcspn(p,
	    ",")] == ',')) {
		size_t len = strcspn(p, ",");
		const char *at = memchr(p, '@', len);

		if (at == NULL || at == p || at == p + len - 1 || len > 254) {
			bad(ctx, e, "'%.*s' is not a mailbox (local@domain, at "
			    "most 254 bytes)", (int)len, p);
			return;
		}
	}
	if (!prefix_addr(e->argv[0], &ss)) {
		bad(ctx, e, "'%s' is not an IPv4 or IPv6 NET/LEN", e->argv[0]);
		return;
	}
	n = realloc(c->addr_clients, (c->n_addr_clients + 1) * sizeof(*n));
	if (n == NULL) {
		bad(ctx, e, "out of memory");
		return;
	}
	c->addr_clients = n;
	ac = &n[c->n_addr_clients];
	memset(ac, 0, sizeof(*ac));
	if ((ac->acl = acl_new(ACL_DENY)) == NULL) {
		bad(ctx, e, "out of memory");
		return;
	}
	if (acl_add(ac->acl, e->argv[0], ACL_ALLOW, err, sizeof(err)) != 0) {
		bad(ctx, e, "%s", err);
		acl_free(ac->acl);
		return;
	}
	/* one client per address: an overlap would make the mailboxes a
	 * client may use depend on which line is longer (the prefixes as
	 * the lookup sees them, not their written addresses) */
	for (size_t i = 0; i < c->n_addr_clients; i++) {
		if (acl_overlaps(c->addr_clients[i].acl, ac->acl)) {
			bad(ctx, e, "%s overlaps %s of %s", e->argv[0],
			    c->addr_clients[i].prefix, c->addr_clients[i].where);
			acl_free(ac->acl);
			return;
		}
	}
	snprintf(where, sizeof(where), "%s:%u", e->file, e->line);
	if ((ac->prefix = dup_or_count(ctx, e->argv[0])) == NULL ||
	    (ac->mailboxes = dup_or_count(ctx, e->argv[1])) == NULL ||
	    (ac->where = dup_or_count(ctx, where)) == NULL) {
		free(ac->prefix);
		free(ac->mailboxes);
		acl_free(ac->acl);
		return;
	}
	c->n_addr_clients++;
}

/* Every client-address: mailbox belongs to a client-credentials route. */
static void
check_addr_clients(struct ctx *ctx)
{
	const struct relay_conf *c = ctx->conf;

	for (size_t i = 0; i < c->n_addr_clients; i++) {
		const char *p = c->addr_clients[i].mailboxes;

		while (*p != '\0') {
			size_t len = strcspn(p, ",");
			char mb[320];
			const struct relay_route *r;

			snprintf(mb, sizeof(mb), "%.*s", (int)len, p);
			p += len + (p[len] == ',');
			r = relay_conf_route_for(c, mb);
			if (r == NULL) {
				log_err("%s: client-address: %s: no route: "
				    "has its domain (a client known by its "
				    "address sends through a route)",
				    c->addr_clients[i].where, mb);
				ctx->errors++;
			} else if (r->grant == OAUTH2_GRANT_PASSWORD) {
				char route[320];

				/* a route without name: (refused too) by
				 * its clause header */
				if (r->name != NULL)
					snprintf(route, sizeof(route), "%s",
					    r->name);
				else
					snprintf(route, sizeof(route),
					    "at %s:%u", r->file ? r->file :
					    "?", r->line);
				log_err("%s: client-address: %s: route %s "
				    "trades the mailbox's own password "
				    "(grant: password); a client known by its "
				    "address has none", c->addr_clients[i].where,
				    mb, route);
				ctx->errors++;
			}
		}
	}
}

/* relay_conf.h */
const struct relay_addr_client *
relay_conf_client_by_addr(const struct relay_conf *conf,
    const struct sockaddr *sa)
{
	for (size_t i = 0; sa != NULL && i < conf->n_addr_clients; i++)
		if (acl_lookup(conf->addr_clients[i].acl, sa) == ACL_ALLOW)
			return &conf->addr_clients[i];
	return NULL;
}

/* relay_conf.h */
bool
relay_conf_mailbox_in(const char *list, const char *mailbox)
{
	size_t ml = strlen(mailbox);

	while (*list != '\0') {
		size_t len = strcspn(list, ",");

		if (len == ml && strncasecmp(list, mailbox, len) == 0)
			return true;
		list += len + (list[len] == ',');
	}
	return false;
}

/* RFC 8314: SMTP in TLS from the first byte (port 465, "submissions"). */
static void
key_listen_tls(struct ctx *ctx, const struct cfg_entry *e)
{
	size_t n = ctx->conf->n_listens;

	if (e->argc != 1 || e->argv[0][0] == '/') {
		bad(ctx, e, "expects one ADDR@PORT");
		return;
	}
	add_listen(ctx, e, e->argv[0], false);
	if (ctx->conf->n_listens == n + 1) {
		ctx->conf->listens[n].tls = true;
		if (ctx->listen_tls_at[0] == '\0')
			snprintf(ctx->listen_tls_at, sizeof(ctx->listen_tls_at),
			    "%s:%u", e->file, e->line);
	}
}

static void
key_lmtp(struct ctx *ctx, const struct cfg_entry *e)
{
	if (e->argc != 1) {
		bad(ctx, e, "expects one ADDR@PORT or /path");
		return;
	}
	add_listen(ctx, e, e->argv[0], true);
}

static void
key_access_control(struct ctx *ctx, const struct cfg_entry *e)
{
	enum acl_action action;
	char err[200];

	if (e->argc != 2) {
		bad(ctx, e, "expects NET/LEN and allow, refuse or deny");
		return;
	}
	if (acl_action_parse(e->argv[1], &action) != 0) {
		bad(ctx, e, "'%s' is not allow, refuse or deny", e->argv[1]);
		return;
	}
	if (acl_add(ctx->conf->acl, e->argv[0], action, err, sizeof(err)) != 0)
		bad(ctx, e, "%s", err);
}

/* Replaces *field with a copy of v (a key given twice: the last wins). */
static void
set_str(struct ctx *ctx, char **field, const char *v)
{
	free(*field);
	*field = dup_or_count(ctx, v);
}

static void
key_tlsrpt_submission(struct ctx *ctx, const struct cfg_entry *e)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!one_value(ctx, e))
		return;
	if (addr_parse(e->argv[0], 25, &ss, &len) != 0) {
		bad(ctx, e, "cannot parse '%s' (ADDR or ADDR@PORT)",
		    e->argv[0]);
		return;
	}
	set_str(ctx, &ctx->conf->tlsrpt_submission, e->argv[0]);
}

/* These go into mail headers and the SMTP envelope: one word each. */
static void
key_tlsrpt_mail_from(struct ctx *ctx, const struct cfg_entry *e)
{
	const char *v = e->argv[0], *at = strchr(v, '@');

	if (!one_value(ctx, e))
		return;
	if (strpbrk(v, " \t\r\n<>()[]\\\",;:") != NULL || at == NULL ||
	    at == v || at[1] == '\0' || strchr(at + 1, '@') != NULL) {
		bad(ctx, e, "'%s' is not a bare address (local@domain)", v);
		return;
	}
	/* RFC 5321 §4.1.2: ASCII without controls (the reports are sent
	 * without SMTPUTF8) */
	for (const char *c = v; *c != '\0'; c++)
		if (*c < '!' || *c > '~') {
			bad(ctx, e, "'%s' has a control or non-ASCII byte", v);
			return;
		}
	set_str(ctx, &ctx->conf->tlsrpt_mail_from, v);
}

static void
key_tlsrpt_submitter(struct ctx *ctx, const struct cfg_entry *e)
{
	const char *v = e->argv[0];

	if (!one_value(ctx, e))
		return;
	for (const char *c = v; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '.')) {
			bad(ctx, e, "'%s' is not a domain name", v);
			return;
		}
	set_str(ctx, &ctx->conf->tlsrpt_submitter, v);
}

/* "sts-cache-dir: PATH|none": where MTA-STS policies outlive a restart
 * (RFC 8461 §3.3 wants them kept until max_age); none keeps them in
 * memory only. */
static void
key_sts_cache_dir(struct ctx *ctx, const struct cfg_entry *e)
{
	struct stat st;
	const char *v = e->argc == 1 ? e->argv[0] : "";

	if (e->argc != 1 || v[0] == '\0') {
		bad(ctx, e, "expects one absolute directory path or none");
		return;
	}
	free(ctx->conf->sts_cache_dir);
	ctx->conf->sts_cache_dir = NULL;
	ctx->conf->sts_cache_dir_set = true;
	if (strcmp(v, "none") == 0)
		return;
	if (v[0] != '/') {
		bad(ctx, e, "'%s' is not an absolute path (or none)", v);
		return;
	}
	if (files_allowed && stat(v, &st) == 0 && !S_ISDIR(st.st_mode)) {
		bad(ctx, e, "'%s' exists and is not a directory", v);
		return;
	}
	ctx->conf->sts_cache_dir = dup_or_count(ctx, v);
}

static void
key_dmarc_guard(struct ctx *ctx, const struct cfg_entry *e)
{
	if (e->argc == 1 && strcmp(e->argv[0], "yes") == 0)
		ctx->conf->dmarc_guard = true;
	else if (e->argc == 1 && strcmp(e->argv[0], "no") == 0)
		ctx->conf->dmarc_guard = false;
	else
		bad(ctx, e, "expects yes or no");
}

/* An address the relay's mail leaves from (no port): repeatable. */
static void
key_spf_address(struct ctx *ctx, const struct cfg_entry *e)
{
	struct relay_conf *c = ctx->conf;
	struct sockaddr_storage ss, *na;
	socklen_t len;

	if (e->argc != 1 || strchr(e->argv[0], '@') != NULL ||
	    addr_parse(e->argv[0], 25, &ss, &len) != 0) {
		bad(ctx, e, "expects one IPv4 or IPv6 address");
		return;
	}
	if ((na = realloc(c->spf_addrs, (c->n_spf_addrs + 1) *
	    sizeof(*na))) == NULL) {
		log_err("out of memory reading the configuration");
		ctx->errors++;
		return;
	}
	c->spf_addrs = na;
	c->spf_addrs[c->n_spf_addrs++] = ss;
}

#define F(field) offsetof(struct relay_conf, field)

static const struct key relay_keys[] = {
	{ "listen", K_FUNC, 0, 0, 0, key_listen },
	{ "lmtp", K_FUNC, 0, 0, 0, key_lmtp },
	{ "listen-tls", K_FUNC, 0, 0, 0, key_listen_tls },
	{ "client-address", K_FUNC, 0, 0, 0, key_client_address },
	{ "access-control", K_FUNC, 0, 0, 0, key_access_control },
	{ "hostname", K_STR, F(hostname), 0, 0, NULL },
	{ "tls-cert-file", K_STR, F(tls_cert_file), 0, 0, NULL },
	{ "tls-key-file", K_STR, F(tls_key_file), 0, 0, NULL },
	{ "resolver", K_STR, F(resolver), 0, 0, NULL },
	{ "trust-anchor-file", K_STR, F(trust_anchor_file), 0, 0, NULL },
	{ "ca-file", K_STR, F(ca_file), 0, 0, NULL },
	{ "unbound-conf", K_STR, F(unbound_conf), 0, 0, NULL },
	{ "tls-policy-file", K_STR, F(policy_file), 0, 0, NULL },
	{ "client-file", K_STR, F(client_file), 0, 0, NULL },
	{ "dane-exemptions-file", K_STR, F(exemptions_file), 0, 0, NULL },
	{ "prometheus-interface", K_STR, F(prometheus_interface), 0, 0, NULL },
	{ "control-interface", K_STR, F(control_interface), 0, 0, NULL },
	{ "username", K_STR, F(username), 0, 0, NULL },
	{ "chroot", K_STR, F(chroot), 0, 0, NULL },
	{ "directory", K_STR, F(directory), 0, 0, NULL },
	{ "pidfile", K_STR, F(pidfile), 0, 0, NULL },
	{ "verbosity", K_UINT, F(verbosity), 0, 5, NULL },
	{ "message-size-limit", K_SIZE, F(message_size_limit), 0, 0, NULL },
	/* RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for a
	 * command; less only for an operator who means it */
	{ "command-timeout", K_UINT, F(command_timeout), 10, 3600, NULL },
	/* The client waits 10 minutes for the reply to the final dot
	 * (§4.5.3.2.6): ours must arrive before, so at most 9 */
	{ "final-reply-timeout", K_UINT, F(final_timeout), 10, 540, NULL },
	{ "drain-timeout", K_UINT, F(drain_timeout), 0, 3600, NULL },
	{ "max-sessions", K_UINT, F(max_sessions), 1, 100000, NULL },
	/* §4.5.3.1.8: at least 100 recipients must be buffered */
	{ "max-recipients", K_UINT, F(max_recipients), 100, 100000, NULL },
	{ "max-domains", K_UINT, F(max_domains), 1, 1000, NULL },
	{ "remote-port", K_UINT, F(remote_port), 1, 65535, NULL },
	/* Postfix's default_destination_concurrency_limit is 20; the wait
	 * ends well before the client's 5-minute RCPT timeout (RFC 5321
	 * §4.5.3.2.3) */
	{ "destination-concurrency-limit", K_UINT, F(dest_limit), 1, 1000,
	    NULL },
	{ "destination-concurrency-wait", K_UINT, F(dest_wait), 1, 240, NULL },
	/* TLS reporting (RFC 8460): counts and the daily reports */
	{ "tlsrpt-state-file", K_STR, F(tlsrpt_state_file), 0, 0, NULL },
	{ "tlsrpt-organization", K_STR, F(tlsrpt_organization), 0, 0, NULL },
	{ "tlsrpt-contact", K_STR, F(tlsrpt_contact), 0, 0, NULL },
	{ "tlsrpt-submitter", K_FUNC, 0, 0, 0, key_tlsrpt_submitter },
	{ "tlsrpt-mail-from", K_FUNC, 0, 0, 0, key_tlsrpt_mail_from },
	{ "tlsrpt-submission", K_FUNC, 0, 0, 0, key_tlsrpt_submission },
	/* §4.1: a day; shorter only for tests (at least a minute apart
	 * so that retries within the period make sense) */
	{ "tlsrpt-interval", K_UINT, F(tlsrpt_interval), 60, 86400, NULL },
	{ "tlsrpt-max-delay", K_UINT, F(tlsrpt_max_delay), 0, 14400, NULL },
	{ "tlsrpt-timeout", K_UINT, F(tlsrpt_timeout), 5, 600, NULL },
	{ "sts-cache-dir", K_FUNC, 0, 0, 0, key_sts_cache_dir },
	{ "dmarc-guard", K_FUNC, 0, 0, 0, key_dmarc_guard },
	{ "spf-address", K_FUNC, 0, 0, 0, key_spf_address },
};

/* Digits, then k, m or g; read digit by digit, as cfg_parse_uint()
 * does, because strtoull() takes blanks and signs (" -1" is 2^64 - 1)
 * and saturates on overflow. */
static bool
parse_size(const char *s, uint64_t *out)
{
	const char *end = s;
	uint64_t v = 0, mult = 1;

	for (; *end >= '0' && *end <= '9'; end++) {
		if (v > (UINT64_MAX - (uint64_t)(*end - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*end - '0');
	}
	if (end == s)
		return false;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024;
		end++;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		end++;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return false;
	}
	if (*end != '\0' || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

static void
set_key(struct ctx *ctx, const struct key *k, const struct cfg_entry *e)
{
	char *base = (char *)ctx->conf;

	if (k->type == K_FUNC) {
		k->fn(ctx, e);
		return;
	}
	if (!one_value(ctx, e))
		return;
	switch (k->type) {
	case K_STR: {
		char **field = (char **)(void *)(base + k->off);

		free(*field);
		*field = dup_or_count(ctx, e->argv[0]);
		break;
	}
	case K_UINT: {
		unsigned v;

		if (cfg_parse_uint(e->argv[0], k->min, k->max, &v) != 0) {
			bad(ctx, e, "'%s' is not a number from %u to %u",
			    e->argv[0], k->min, k->max);
			return;
		}
		if (k->off == F(verbosity))
			ctx->conf->verbosity = (int)v;
		else if (k->off == F(remote_port))
			ctx->conf->remote_port = (uint16_t)v;
		else
			*(unsigned *)(void *)(base + k->off) = v;
		break;
	}
	case K_SIZE:
		if (!parse_size(e->argv[0],
		    (uint64_t *)(void *)(base + k->off)))
			bad(ctx, e, "'%s' is not a size (bytes, or with k, m, "
			    "g)", e->argv[0]);
		break;
	default:
		break;
	}
}

/* ---- route: clauses (issue 9) ------------------------------------------ */

/* A route's domain: letters, digits, '-', '.', '_' (A-labels), no
 * empty label, at most 253 bytes. */
static bool
domain_name_ok(const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len > 253 || v[0] == '.' || v[len - 1] == '.' ||
	    strstr(v, "..") != NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' &&
		    v[i] != '.' && v[i] != '_')
			return false;
	return true;
}

/* "HOST[@PORT]" or "HOST:PORT" (HOST without a colon of its own). */
static bool
parse_smarthost(struct ctx *ctx, struct relay_route *r, const char *v)
{
	const char *sep = strchr(v, '@');
	size_t hlen;
	unsigned port = RELAY_ROUTE_DEFAULT_PORT;

	if (sep == NULL && (sep = strchr(v, ':')) != NULL &&
	    strchr(sep + 1, ':') != NULL)
		sep = NULL;	/* a bare IPv6 address: write [v6]@PORT */
	hlen = sep != NULL ? (size_t)(sep - v) : strlen(v);
	if (sep != NULL && cfg_parse_uint(sep + 1, 1, 65535, &port) != 0)
		return false;
	if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']') {
		v++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen > 253)
		return false;
	for (size_t i = 0; i < hlen; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == '/')
			return false;
	free(r->smarthost);
	if ((r->smarthost = strndup(v, hlen)) == NULL) {
		log_err("out of memory reading the configuration");
		ctx->errors++;
	}
	r->port = (uint16_t)port;
	return true;
}

static struct relay_route *
route_for(struct ctx *ctx, const struct cfg_file *cf, unsigned seq)
{
	struct relay_conf *c = ctx->conf;
	struct relay_route *nr;

	for (size_t i = 0; i < c->n_routes; i++)
		if (c->routes[i].seq == seq)
			return &c->routes[i];
	nr = realloc(c->routes, (c->n_routes + 1) * sizeof(*nr));
	if (nr == NULL) {
		log_err("out of memory reading the configuration");
		ctx->errors++;
		return NULL;
	}
	c->routes = nr;
	nr = &c->routes[c->n_routes++];
	memset(nr, 0, sizeof(*nr));
	nr->grant = -1;
	nr->seq = seq;
	/* the cfg_file is gone when the routes are finished */
	nr->file = dup_or_count(ctx, cf->clauses[seq].file);
	nr->line = cf->clauses[seq].line;
	nr->port = RELAY_ROUTE_DEFAULT_PORT;
	return nr;
}

/* domain: DOMAIN... (repeatable): the senders the route serves, and
 * where the DMARC guard sends their guarded mail. */
static void
route_domains(struct ctx *ctx, struct relay_route *r,
    const struct cfg_entry *e)
{
	if (e->argc == 0)
		bad(ctx, e, "expects one or more mail domains");
	for (int i = 0; i < e->argc; i++) {
		const char *d = e->argv[i];
		char **nd;

		if (!domain_name_ok(d) || strchr(d, '.') == NULL) {
			bad(ctx, e, "'%s' is not a mail domain (A-labels)", d);
			continue;
		}
		if (relay_conf_route_for_domain(ctx->conf, d) != NULL) {
			/* one route per domain, or the choice is arbitrary */
			bad(ctx, e, "'%s' is already a domain: of a route", d);
			continue;
		}
		if ((nd = realloc(r->domains, (r->n_domains + 1) *
		    sizeof(*nd))) == NULL) {
			log_err("out of memory reading the configuration");
			ctx->errors++;
			return;
		}
		r->domains = nd;
		if ((nd[r->n_domains] = dup_or_count(ctx, d)) != NULL)
			r->n_domains++;
	}
}

static void
route_key(struct ctx *ctx, const struct cfg_file *cf,
    const struct cfg_entry *e)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
#define R(field) offsetof(struct relay_route, field)
		{ "name", R(name) },
		{ "client-id", R(client_id) },
		{ "tenant", R(tenant) },
		{ "token-endpoint", R(token_endpoint) },
		{ "scope", R(scope) },
		{ "client-secret-file", R(client_secret_file) },
		{ "certificate-file", R(certificate_file) },
		{ "private-key-file", R(private_key_file) },
#undef R
	};
	struct relay_route *r = route_for(ctx, cf, e->clause_seq);
	const char *v = e->argv[0];

	if (r == NULL)
		return;
	if (strcmp(e->key, "domain") == 0) {
		route_domains(ctx, r, e);
		return;
	}
	if (!one_value(ctx, e))
		return;
	if (strcmp(e->key, "smarthost") == 0) {
		if (!parse_smarthost(ctx, r, v))
			bad(ctx, e, "cannot parse '%s' (HOST or HOST@PORT)", v);
		return;
	}
	if (strcmp(e->key, "grant") == 0) {
		if (strcmp(v, "password") == 0)
			r->grant = OAUTH2_GRANT_PASSWORD;
		else if (strcmp(v, "secret") == 0)
			r->grant = OAUTH2_GRANT_SECRET;
		else if (strcmp(v, "certificate") == 0)
			r->grant = OAUTH2_GRANT_CERT;
		else
			bad(ctx, e, "'%s' is not password, secret or "
			    "certificate", v);
		return;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strcmp(strs[i].name, e->key) == 0) {
			char **f = (char **)(void *)((char *)r + strs[i].off);

			free(*f);
			*f = dup_or_count(ctx, v);
			return;
		}
	bad(ctx, e, "unknown key in route: (see danegate-relay(8))");
}

__attribute__((format(printf, 3, 4)))
static void
route_bad(struct ctx *ctx, const struct relay_route *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%u: route: %s%s%s", r->file ? r->file : "?", r->line,
	    r->name ? r->name : "", r->name ? ": " : "", msg);
	ctx->errors++;
}

/* A value that goes into a URL path or form: no blanks, no controls. */
static bool
token_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
			return false;
	return true;
}

static void
route_secret(struct ctx *ctx, const struct relay_route *r, const char *key,
    const char *path, char **out, size_t *outlen)
{
	char err[OAUTH2_ERR_MAX + 64];
	size_t len;

	if (!files_allowed)
		return;
	if (oauth2_secret_file_read(path, out, &len, err, sizeof(err)) != 0)
		route_bad(ctx, r, "%s: %s", key, err);
	else if (outlen != NULL)
		*outlen = len;
}

/* The checks of one route that need the whole clause. */
static void
route_finish(struct ctx *ctx, struct relay_route *r)
{
	const struct relay_conf *c = ctx->conf;

	if (r->name == NULL) {
		route_bad(ctx, r, "name: missing");
		return;
	}
	if (!token_ok(r->name, "-_.")) {
		route_bad(ctx, r, "name: only letters, digits, '-', '_', '.'");
		return;
	}
	for (const struct relay_route *o = c->routes; o < r; o++)
		if (o->name != NULL && strcmp(o->name, r->name) == 0)
			route_bad(ctx, r, "name: already used at %s:%u",
			    o->file ? o->file : "?", o->line);
	if (r->smarthost == NULL &&
	    (r->smarthost = dup_or_count(ctx, RELAY_ROUTE_DEFAULT_HOST)) ==
	    NULL)
		return;
	if (r->grant < 0)
		route_bad(ctx, r, "grant: missing (password, secret or "
		    "certificate)");
	if (r->client_id == NULL)
		route_bad(ctx, r, "client-id: missing (the application's id "
		    "from its Entra ID registration)");
	else if (!token_ok(r->client_id, "-._~"))
		route_bad(ctx, r, "client-id: '%s' has characters an "
		    "application id does not have", r->client_id);
	if ((r->tenant == NULL) == (r->token_endpoint == NULL))
		route_bad(ctx, r, "needs exactly one of tenant: and "
		    "token-endpoint:");
	else if (r->tenant != NULL) {
		char url[512];

		/* a GUID or a domain name (at most 253 bytes, which also
		 * keeps the URL within url[]) */
		if (!token_ok(r->tenant, "-._") || strlen(r->tenant) > 253)
			route_bad(ctx, r, "tenant: '%s' is not a tenant id or "
			    "domain", r->tenant);
		else {
			snprintf(url, sizeof(url), OAUTH2_ENDPOINT_FMT,
			    r->tenant);
			r->token_endpoint = dup_or_count(ctx, url);
		}
	} else if (strncmp(r->token_endpoint, "https://", 8) != 0 ||
	    !token_ok(r->token_endpoint + 8, "-._~:/?#[]@!$&'()*+,;=%"))
		route_bad(ctx, r, "token-endpoint: '%s' is not an https:// "
		    "URL (RFC 6749 3.2: TLS is required)", r->token_endpoint);
	if (r->scope != NULL && !token_ok(r->scope, "-._~:/?#[]@!$&'()*+,;=% "))
		route_bad(ctx, r, "scope: '%s' has control bytes", r->scope);
	switch (r->grant) {
	case OAUTH2_GRANT_PASSWORD:
		if (r->certificate_file != NULL || r->private_key_file != NULL)
			route_bad(ctx, r, "grant password takes no "
			    "certificate-file: or private-key-file:");
		/* a confidential client may add its secret to ROPC */
		if (r->client_secret_file != NULL)
			route_secret(ctx, r, "client-secret-file",
			    r->client_secret_file, &r->client_secret, NULL);
		break;
	case OAUTH2_GRANT_SECRET:
		if (r->client_secret_file == NULL)
			route_bad(ctx, r, "grant secret needs "
			    "client-secret-file:");
		else
			route_secret(ctx, r, "client-secret-file",
			    r->client_secret_file, &r->client_secret, NULL);
		if (r->certificate_file != NULL || r->private_key_file != NULL)
			route_bad(ctx, r, "grant secret takes no "
			    "certificate-file: or private-key-file:");
		break;
	case OAUTH2_GRANT_CERT:
		if (r->certificate_file == NULL || r->private_key_file == NULL)
			route_bad(ctx, r, "grant certificate needs "
			    "certificate-file: and private-key-file:");
		else {
			if (files_allowed &&
			    access(r->certificate_file, R_OK) != 0)
				route_bad(ctx, r, "certificate-file: %s: "
				    "cannot read it", r->certificate_file);
			route_secret(ctx, r, "private-key-file",
			    r->private_key_file, &r->private_key,
			    &r->private_key_len);
		}
		if (r->client_secret_file != NULL)
			route_bad(ctx, r, "grant certificate takes no "
			    "client-secret-file:");
		break;
	default:
		break;
	}
}

const struct relay_route *
relay_conf_route_for(const struct relay_conf *conf, const char *address)
{
	const char *at = address != NULL ? strrchr(address, '@') : NULL;

	return at != NULL ? relay_conf_route_for_domain(conf, at + 1) : NULL;
}

const struct relay_route *
relay_conf_route(const struct relay_conf *conf, const char *name)
{
	if (conf == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < conf->n_routes; i++)
		if (conf->routes[i].name != NULL &&
		    strcmp(conf->routes[i].name, name) == 0)
			return &conf->routes[i];
	return NULL;
}

const struct relay_route *
relay_conf_route_for_domain(const struct relay_conf *conf, const char *domain)
{
	size_t len;

	if (conf == NULL || domain == NULL)
		return NULL;
	/* a trailing dot does not make another domain */
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	for (size_t i = 0; i < conf->n_routes; i++)
		for (size_t j = 0; j < conf->routes[i].n_domains; j++) {
			const char *d = conf->routes[i].domains[j];

			if (strlen(d) == len && strncasecmp(d, domain, len) == 0)
				return &conf->routes[i];
		}
	return NULL;
}

static void
walk(struct ctx *ctx, const struct cfg_file *cf)
{
	for (size_t i = 0; i < cf->n_clauses; i++)
		if (strcmp(cf->clauses[i].name, "route") == 0)
			(void)route_for(ctx, cf, (unsigned)i);
		else if (strcmp(cf->clauses[i].name, "relay") != 0) {
			log_err("%s:%u: %s: unknown clause (danegate-relay "
			    "reads relay: and route:)", cf->clauses[i].file,
			    cf->clauses[i].line, cf->clauses[i].name);
			ctx->errors++;
		}
	for (size_t i = 0; i < cf->n_entries; i++) {
		const struct cfg_entry *e = &cf->entries[i];
		const struct key *k = NULL;

		if (strcmp(e->clause, "route") == 0) {
			route_key(ctx, cf, e);
			continue;
		}
		if (strcmp(e->clause, "relay") != 0)
			continue;	/* reported at its header */
		for (size_t j = 0; j < sizeof(relay_keys) /
		    sizeof(relay_keys[0]); j++)
			if (strcmp(relay_keys[j].name, e->key) == 0)
				k = &relay_keys[j];
		if (k == NULL) {
			bad(ctx, e, "unknown key (see danegate-relay(8))");
			continue;
		}
		set_key(ctx, k, e);
	}
}

static void
override(struct ctx *ctx, char **field, const char *value)
{
	if (value == NULL)
		return;
	free(*field);
	*field = dup_or_count(ctx, value);
}

/* Checks that need the whole file. */
static void
finish(struct ctx *ctx, const char *path)
{
	struct relay_conf *c = ctx->conf;
	const char *p = path ? path : "configuration";

	if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL)) {
		log_err("%s: tls-cert-file: and tls-key-file: go together", p);
		ctx->errors++;
	}
	if (c->n_listens == 0) {
		log_err("%s: no listen: or lmtp: listener", p);
		ctx->errors++;
	}
	if (c->hostname == NULL) {
		char host[256];

		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		c->hostname = dup_or_count(ctx, host);
	}
	if (c->prometheus_interface != NULL) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (addr_parse(c->prometheus_interface, 9167, &ss,
		    &len) != 0) {
			log_err("%s: prometheus-interface: cannot parse '%s' "
			    "(ADDR or ADDR@PORT)", p, c->prometheus_interface);
			ctx->errors++;
		}
	}
	for (size_t i = 0; i < c->n_routes; i++)
		route_finish(ctx, &c->routes[i]);
	/* the name of the greeting and of the relay's own EHLO: a domain
	 * or an address literal (RFC 5321 §4.1.1.1), what the outbound
	 * side would refuse at start */
	if (c->hostname != NULL && !smtp_helo_name_ok(c->hostname)) {
		char shown[80];
		size_t i;

		/* no terminal escapes from a binary file into the log */
		for (i = 0; i < sizeof(shown) - 1 && c->hostname[i] != '\0';
		    i++)
			shown[i] = c->hostname[i] > ' ' &&
			    c->hostname[i] < 0x7f ? c->hostname[i] : '?';
		shown[i] = '\0';
		log_err("%s: hostname: '%s' is not a domain name or an "
		    "address literal", p, shown);
		ctx->errors++;
	}
}

int
relay_conf_load(const char *path, const struct relay_conf_overrides *ov,
    struct relay_conf **out)
{
	struct relay_conf_overrides none = { 0 };
	struct cfg_file *cf = NULL;
	struct ctx ctx = { 0 };
	char err[1024];

	*out = NULL;
	if (ov == NULL)
		ov = &none;
	if ((ctx.conf = calloc(1, sizeof(*ctx.conf))) == NULL ||
	    (ctx.conf->acl = acl_new(ACL_REFUSE)) == NULL) {
		log_err("out of memory reading the configuration");
		relay_conf_free(ctx.conf);
		return 1;
	}
	ctx.conf->dmarc_guard = true;
	/* Loopback may send, everyone else is refused (never an open
	 * relay); access-control: lines add to or override this. */
	(void)acl_add(ctx.conf->acl, "127.0.0.0/8", ACL_ALLOW, err,
	    sizeof(err));
	(void)acl_add(ctx.conf->acl, "::1", ACL_ALLOW, err, sizeof(err));
	ctx.conf->verbosity = 1;
	ctx.conf->message_size_limit = 100u << 20;
	ctx.conf->command_timeout = 300;
	ctx.conf->final_timeout = 480;
	ctx.conf->drain_timeout = 60;
	ctx.conf->max_sessions = 1000;
	ctx.conf->max_recipients = 1000;
	ctx.conf->max_domains = 50;
	ctx.conf->dest_limit = 20;
	ctx.conf->dest_wait = 60;
	ctx.conf->tlsrpt_interval = 86400;
	ctx.conf->tlsrpt_max_delay = 3600;
	ctx.conf->tlsrpt_timeout = 60;
	ctx.conf->sts_cache_dir = strdup(STS_CACHE_DIR_DEFAULT);
	if (ctx.conf->sts_cache_dir == NULL) {
		log_err("out of memory reading the configuration");
		relay_conf_free(ctx.conf);
		return 1;
	}

	if (path != NULL && path[0] != '\0') {
		if (cfg_file_read(path, &cf, err, sizeof(err)) != 0) {
			log_err("%s", err);
			relay_conf_free(ctx.conf);
			return 1;
		}
		walk(&ctx, cf);
		cfg_file_free(cf);
	}
	if (ov->listen != NULL) {
		/* --listen replaces the file's SMTP listeners */
		size_t k = 0;

		for (size_t i = 0; i < ctx.conf->n_listens; i++) {
			struct relay_listen *l = &ctx.conf->listens[i];

			if (l->lmtp || l->tls)
				ctx.conf->listens[k++] = *l;
			else {
				free(l->spec);
				free(l->path);
			}
		}
		ctx.conf->n_listens = k;
		add_listen(&ctx, NULL, ov->listen, false);
	} else if (!ctx.listen_seen)
		add_listen(&ctx, NULL, RELAY_DEFAULT_LISTEN, false);
	if (ov->lmtp != NULL) {
		size_t k = 0;

		for (size_t i = 0; i < ctx.conf->n_listens; i++) {
			struct relay_listen *l = &ctx.conf->listens[i];

			if (!l->lmtp)
				ctx.conf->listens[k++] = *l;
			else {
				free(l->spec);
				free(l->path);
			}
		}
		ctx.conf->n_listens = k;
		add_listen(&ctx, NULL, ov->lmtp, true);
	}
	override(&ctx, &ctx.conf->resolver, ov->resolver);
	override(&ctx, &ctx.conf->trust_anchor_file, ov->trust_anchor_file);
	override(&ctx, &ctx.conf->ca_file, ov->ca_file);
	override(&ctx, &ctx.conf->unbound_conf, ov->unbound_conf);
	finish(&ctx, path);
	check_addr_clients(&ctx);
	if (ctx.listen_tls_at[0] != '\0' && ctx.conf->tls_cert_file == NULL) {
		log_err("%s: listen-tls: needs tls-cert-file and tls-key-file "
		    "(TLS from the first byte)", ctx.listen_tls_at);
		ctx.errors++;
	}
	if (ctx.conf->client_file != NULL) {
		/* SMTP AUTH is offered only under TLS (RFC 4954 §4 and the
		 * clients' passwords): without a certificate no client
		 * could ever authenticate */
		if (ctx.conf->tls_cert_file == NULL) {
			log_warnx("%s: client-file: needs tls-cert-file and "
			    "tls-key-file (AUTH is offered only after "
			    "STARTTLS)", path != NULL ? path : "-");
			ctx.errors++;
		}
		if (files_allowed)
			ctx.errors += clients_load(ctx.conf->client_file,
			    &ctx.conf->clients);
	}
	if (ctx.errors > 0) {
		relay_conf_free(ctx.conf);
		return ctx.errors;
	}
	*out = ctx.conf;
	return 0;
}

void
relay_conf_free(struct relay_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_listens; i++) {
		free(c->listens[i].spec);
		free(c->listens[i].path);
	}
	free(c->listens);
	acl_free(c->acl);
	free(c->hostname);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c->resolver);
	free(c->trust_anchor_file);
	free(c->ca_file);
	free(c->unbound_conf);
	free(c->policy_file);
	free(c->client_file);
	clients_free(c->clients);
	free(c->exemptions_file);
	free(c->prometheus_interface);
	free(c->control_interface);
	free(c->username);
	free(c->chroot);
	free(c->directory);
	free(c->pidfile);
	free(c->tlsrpt_state_file);
	free(c->tlsrpt_organization);
	free(c->tlsrpt_contact);
	free(c->tlsrpt_submitter);
	free(c->tlsrpt_mail_from);
	free(c->tlsrpt_submission);
	free(c->sts_cache_dir);
	for (size_t i = 0; i < c->n_addr_clients; i++) {
		free(c->addr_clients[i].prefix);
		free(c->addr_clients[i].mailboxes);
		free(c->addr_clients[i].where);
		acl_free(c->addr_clients[i].acl);
	}
	free(c->addr_clients);
	for (size_t i = 0; i < c->n_routes; i++) {
		struct relay_route *r = &c->routes[i];

		free(r->name);
		free(r->file);
		free(r->smarthost);
		free(r->client_id);
		free(r->tenant);
		free(r->token_endpoint);
		free(r->scope);
		free(r->client_secret_file);
		free(r->certificate_file);
		free(r->private_key_file);
		oauth2_secret_free(r->client_secret);
		oauth2_secret_free(r->private_key);
		for (size_t j = 0; j < r->n_domains; j++)
			free(r->domains[j]);
		free(r->domains);
	}
	free(c->routes);
	free(c->spf_addrs);
	free(c);
}
