/*
 * relay_conf.c - the meaning of danegate-relay.conf (see relay_conf.h).
 *
 * cfgfile.c has checked the syntax; this file walks the entries and, per
 * key, fills a field or refuses the line with the reason. Each key's row in
 * relay_keys[] carries its bounds, and the refusal rows say why.
 *
 * SECURITY: runs at start-up and reload; reads only what cfgfile.c opens.
 * Values end up in log lines, the SMTP greeting and file names, never in
 * a shell or a generated file.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "acl.h"
#include "cfgfile.h"
#include "log.h"
#include "plugin/danegate.h"
#include "relay_conf.h"

#define RELAY_DEFAULT_LISTEN	"127.0.0.1@10025"
#define RELAY_DEFAULT_PORT	10025

enum key_type {
	K_STR,		/* char * field */
	K_UINT,		/* unsigned field, min..max */
	K_SIZE,		/* uint64_t field: bytes, 100k, 50m, 1g */
	K_FUNC,
};

struct ctx {
	struct relay_conf *conf;
	int errors;
	bool listen_seen;	/* the file's listen: lines replace the
				 * default */
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

int
relay_conf_parse_addr(const char *spec, uint16_t dflt_port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *at = strrchr(spec, '@');
	size_t hlen = at ? (size_t)(at - spec) : strlen(spec);
	unsigned long port = dflt_port;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (hlen == 0 || hlen >= sizeof(host))
		return DANEGATE_E_INVALID;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	if (at != NULL) {
		char *end;

		port = strtoul(at + 1, &end, 10);
		if (at[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
			return DANEGATE_E_INVALID;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return DANEGATE_E_INVALID;
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
	if (spec[0] == '/') {
		if (strlen(spec) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			bad(ctx, e, "unix socket path longer than %zu bytes",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return;
		}
		l->path = dup_or_count(ctx, spec);
	} else if (relay_conf_parse_addr(spec, RELAY_DEFAULT_PORT, &l->ss,
	    &l->ss_len) != 0) {
		bad(ctx, e, "'%s' is not ADDR@PORT (an IPv4 or IPv6 address%s)",
		    spec, lmtp ? " or an absolute unix socket path" : "");
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

#define F(field) offsetof(struct relay_conf, field)

static const struct key relay_keys[] = {
	{ "listen", K_FUNC, 0, 0, 0, key_listen },
	{ "lmtp", K_FUNC, 0, 0, 0, key_lmtp },
	{ "access-control", K_FUNC, 0, 0, 0, key_access_control },
	{ "hostname", K_STR, F(hostname), 0, 0, NULL },
	{ "tls-cert-file", K_STR, F(tls_cert_file), 0, 0, NULL },
	{ "tls-key-file", K_STR, F(tls_key_file), 0, 0, NULL },
	{ "resolver", K_STR, F(resolver), 0, 0, NULL },
	{ "trust-anchor-file", K_STR, F(trust_anchor_file), 0, 0, NULL },
	{ "ca-file", K_STR, F(ca_file), 0, 0, NULL },
	{ "unbound-conf", K_STR, F(unbound_conf), 0, 0, NULL },
	{ "tls-policy-file", K_STR, F(policy_file), 0, 0, NULL },
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
};

static bool
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;

	if (end == s || s[0] == '-')
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
	*out = (uint64_t)v * mult;
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
	if (e->argc != 1 || e->argv[0][0] == '\0') {
		bad(ctx, e, "expects one value (quote a value with blanks)");
		return;
	}
	switch (k->type) {
	case K_STR: {
		char **field = (char **)(void *)(base + k->off);

		free(*field);
		*field = dup_or_count(ctx, e->argv[0]);
		break;
	}
	case K_UINT: {
		char *end;
		unsigned long v = strtoul(e->argv[0], &end, 10);

		if (*end != '\0' || e->argv[0][0] == '-' || v < k->min ||
		    v > k->max) {
			bad(ctx, e, "'%s' is not a number from %u to %u",
			    e->argv[0], k->min, k->max);
			return;
		}
		if (k->off == F(verbosity))
			ctx->conf->verbosity = (int)v;
		else if (k->off == F(remote_port))
			ctx->conf->remote_port = (uint16_t)v;
		else
			*(unsigned *)(void *)(base + k->off) = (unsigned)v;
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

static void
walk(struct ctx *ctx, const struct cfg_file *cf)
{
	for (size_t i = 0; i < cf->n_clauses; i++)
		if (strcmp(cf->clauses[i].name, "relay") != 0) {
			log_err("%s:%u: %s: unknown clause (danegate-relay "
			    "reads relay:)", cf->clauses[i].file,
			    cf->clauses[i].line, cf->clauses[i].name);
			ctx->errors++;
		}
	for (size_t i = 0; i < cf->n_entries; i++) {
		const struct cfg_entry *e = &cf->entries[i];
		const struct key *k = NULL;

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

		if (relay_conf_parse_addr(c->prometheus_interface, 9167, &ss,
		    &len) != 0) {
			log_err("%s: prometheus-interface: cannot parse '%s' "
			    "(ADDR or ADDR@PORT)", p, c->prometheus_interface);
			ctx->errors++;
		}
	}
	for (const char *s = c->hostname; s && *s; s++)
		if (*s <= ' ' || *s >= 0x7f) {
			log_err("%s: hostname: '%s' has blanks or control "
			    "bytes", p, c->hostname);
			ctx->errors++;
			break;
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

			if (l->lmtp)
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
	free(c->exemptions_file);
	free(c->prometheus_interface);
	free(c->control_interface);
	free(c->username);
	free(c->chroot);
	free(c->directory);
	free(c->pidfile);
	free(c);
}
