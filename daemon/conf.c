/*
 * conf.c - danegated's configuration: the meaning of danegated.conf (see
 * conf.h for how options are sorted).
 *
 * cfgfile.c has already checked the syntax; this file walks its entries in
 * file order, one clause at a time, and for each key either fills a field of
 * struct conf, queues it for libunbound, or refuses it with the reason. It
 * keeps going after an error so that `danegated -t` shows every mistake at
 * once, and hands out a conf only if there was none: a failed reload keeps
 * the old configuration.
 *
 * Unknown server: keys are not errors here: libunbound knows its own options
 * better than a copy of its list would, and resolver.c reports a key it
 * rejects at the file:line kept in conf_ub_option.
 *
 * SECURITY: runs at start-up and reload, as root before the privilege drop;
 * reads only the files cfgfile.c opens. Values that resolver.c writes into a
 * generated unbound.conf (zone names, addresses, hosts) are checked to hold
 * no blanks, quotes or '#', so they cannot change that file's structure.
 *
 * Ownership: a struct conf owns every string and array in it; ub_options and
 * zones point into conf->files for their file names.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "cfgfile.h"
#include "conf.h"
#include "log.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define CONF_NO_TLS "Debian's libunbound is built without DNS-over-TLS " \
	"support (Nettle, no OpenSSL)"

enum conf_clause_kind {
	CONF_CL_UNKNOWN,	/* reported at its header; keys skipped */
	CONF_CL_SERVER,
	CONF_CL_REMOTE,
	CONF_CL_FORWARD,
	CONF_CL_STUB,
};

/* State of one conf_build() run. */
struct conf_ctx {
	struct conf *conf;
	const struct cfg_file *cf;
	int errors;
	size_t cap_ub, cap_zones, cap_listen;

	enum conf_clause_kind kind;	/* of the clause being read */
	const struct cfg_clause *clause;
	size_t zone;			/* index in conf->zones, for
					 * CONF_CL_FORWARD/STUB */
	size_t cap_addrs, cap_hosts;	/* of that zone */
	bool zone_named;		/* it had a name: line, maybe bad */
	bool zone_aimed;		/* it had an -addr:/-host: line */

	/* interface: lines, resolved at the end: port: may come after them */
	const struct cfg_entry **ifaces;
	size_t n_ifaces, cap_ifaces;
	/* the last line setting these, for errors about their combination */
	const struct cfg_entry *do_ip4, *do_ip6, *do_udp, *do_tcp;
	const struct cfg_entry *control_interface;
	const struct cfg_entry *serve_expired;

	size_t last_file;		/* cache for conf_file() */
};

/* How a key is handled; see conf_server_keys[] and conf_remote_keys[]. */
enum conf_key_type {
	CONF_UINT,		/* unsigned field, min..max */
	CONF_BOOL,		/* bool field, yes/no */
	CONF_STR,		/* char * field */
	CONF_SIZE,		/* size_t field, 4m, 512k, bytes */
	CONF_FUNC,		/* handled by fn */
	CONF_UNBOUND,		/* passed to libunbound */
	CONF_ANCHOR,		/* passed to libunbound, counted as an anchor */
	CONF_REFUSE,		/* refused unless the value is ok */
	CONF_REFUSE_YES,	/* yes/no, refused if yes */
};

struct conf_key {
	const char *name;
	enum conf_key_type type;
	size_t off;		/* CONF_UINT/BOOL/STR/SIZE: field offset */
	unsigned min, max;	/* CONF_UINT */
	bool unbound;		/* CONF_UINT/BOOL: also to libunbound */
	void (*fn)(struct conf_ctx *, const struct cfg_entry *);
	const char *ok;		/* CONF_REFUSE: the value that is harmless,
				 * NULL if none */
	const char *why;	/* CONF_REFUSE*: said after "key: " */
};

__attribute__((format(printf, 4, 5)))
static void
conf_err(struct conf_ctx *ctx, const char *file, unsigned line,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%u: %s", file, line, msg);
	ctx->errors++;
}

/* An error about entry e: "FILE:LINE: KEY: message". */
__attribute__((format(printf, 3, 4)))
static void
conf_bad(struct conf_ctx *ctx, const struct cfg_entry *e, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%u: %s: %s", e->file, e->line, e->key, msg);
	ctx->errors++;
}

static void
conf_oom(struct conf_ctx *ctx)
{
	log_err("out of memory while reading the configuration");
	ctx->errors++;
}

static char *
conf_strdup(struct conf_ctx *ctx, const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		conf_oom(ctx);
	return p;
}

/* Returns arr grown to hold more than n elements of elem bytes (*cap of
 * them now), arr itself when it has room, or NULL (arr untouched). */
static void *
conf_grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return NULL;
	if ((p = realloc(arr, ncap * elem)) == NULL)
		return NULL;
	*cap = ncap;
	return p;
}

/* conf's copy of a file name of the cfg_file (the same index). */
static const char *
conf_file(struct conf_ctx *ctx, const char *cfgname)
{
	size_t i;

	if (ctx->last_file < ctx->cf->n_files &&
	    ctx->cf->files[ctx->last_file] == cfgname)
		return ctx->conf->files[ctx->last_file];
	for (i = 0; i < ctx->cf->n_files; i++)
		if (ctx->cf->files[i] == cfgname) {
			ctx->last_file = i;
			return ctx->conf->files[i];
		}
	/* every name in a cfg_file is one of its files */
	return "?";
}

/* The single value of e, or NULL after an error. */
static const char *
conf_one(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	if (e->argc != 1) {
		conf_bad(ctx, e, "expects one value, found %d (quote a value "
		    "with blanks)", e->argc);
		return NULL;
	}
	return e->argv[0];
}

static int
conf_get_uint(struct conf_ctx *ctx, const struct cfg_entry *e, unsigned min,
    unsigned max, unsigned *out)
{
	const char *v;

	if ((v = conf_one(ctx, e)) == NULL)
		return -1;
	if (cfg_parse_uint(v, min, max, out) != 0) {
		conf_bad(ctx, e, "'%s' is not a number from %u to %u", v, min,
		    max);
		return -1;
	}
	return 0;
}

static int
conf_get_bool(struct conf_ctx *ctx, const struct cfg_entry *e, bool *out)
{
	const char *v;

	if ((v = conf_one(ctx, e)) == NULL)
		return -1;
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else {
		conf_bad(ctx, e, "'%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

/* Unbound's memory sizes: digits, then optionally k, m or g (any case,
 * optionally followed by b), powers of 1024. */
static int
conf_parse_size(const char *s, size_t *out)
{
	unsigned long long v = 0, mult = 1;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i >= 15)
			return -1;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	switch (s[i]) {
	case 'k': case 'K':
		mult = 1ull << 10;
		i++;
		break;
	case 'm': case 'M':
		mult = 1ull << 20;
		i++;
		break;
	case 'g': case 'G':
		mult = 1ull << 30;
		i++;
		break;
	default:
		break;
	}
	if (mult > 1 && (s[i] == 'b' || s[i] == 'B'))
		i++;
	if (s[i] != '\0')
		return -1;
	/* v < 10^15 and mult <= 2^30: the product fits in 64 bits */
	v *= mult;
	if (v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Words of e joined with single blanks: the value libunbound gets. */
static char *
conf_join(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	size_t len = 0, off = 0;
	char *s;
	int i;

	for (i = 0; i < e->argc; i++)
		len += strlen(e->argv[i]) + 1;
	if ((s = malloc(len + 1)) == NULL) {
		conf_oom(ctx);
		return NULL;
	}
	s[0] = '\0';
	for (i = 0; i < e->argc; i++) {
		size_t n = strlen(e->argv[i]);

		if (i > 0)
			s[off++] = ' ';
		memcpy(s + off, e->argv[i], n);
		off += n;
	}
	s[off] = '\0';
	return s;
}

static void
conf_add_unbound(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	struct conf *conf = ctx->conf;
	struct conf_ub_option *o;
	char *name, *value;

	if ((o = conf_grow(conf->ub_options, &ctx->cap_ub, conf->n_ub_options,
	    sizeof(*o))) == NULL) {
		conf_oom(ctx);
		return;
	}
	conf->ub_options = o;
	name = conf_strdup(ctx, e->key);
	value = conf_join(ctx, e);
	if (name == NULL || value == NULL) {
		free(name);
		free(value);
		return;
	}
	o = &conf->ub_options[conf->n_ub_options++];
	o->name = name;
	o->value = value;
	o->file = conf_file(ctx, e->file);
	o->line = e->line;
}

/* Formats ss as "ADDR@PORT", Unbound's way of writing it. */
static void
conf_format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s@%u", host, ntohs(sin->sin_port));
	} else {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "%s@%u", host, ntohs(sin6->sin6_port));
	}
}

static int
conf_add_listen(struct conf_ctx *ctx, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct conf *conf = ctx->conf;
	struct conf_listen *l;

	if ((l = conf_grow(conf->listen, &ctx->cap_listen, conf->n_listen,
	    sizeof(*l))) == NULL) {
		conf_oom(ctx);
		return -1;
	}
	conf->listen = l;
	l = &conf->listen[conf->n_listen++];
	memset(l, 0, sizeof(*l));
	memcpy(&l->addr, ss, len);
	l->addrlen = len;
	conf_format_addr(ss, l->text, sizeof(l->text));
	return 0;
}

/* --- server: ------------------------------------------------------------- */

static void
conf_set_interface(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	struct sockaddr_storage ss;
	const struct cfg_entry **v;
	socklen_t len;
	const char *s;

	if ((s = conf_one(ctx, e)) == NULL)
		return;
	/* checked now so that the error comes in file order; the port is
	 * filled in at the end, when port: is known */
	if (addr_parse(s, 53, &ss, &len) != 0) {
		conf_bad(ctx, e, "'%s' is not an IP address with an optional "
		    "@port (interface names are not supported)", s);
		return;
	}
	if ((v = conf_grow(ctx->ifaces, &ctx->cap_ifaces, ctx->n_ifaces,
	    sizeof(const struct cfg_entry *))) == NULL) {
		conf_oom(ctx);
		return;
	}
	ctx->ifaces = v;
	ctx->ifaces[ctx->n_ifaces++] = e;
}

static void
conf_set_access_control(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	enum acl_action action;
	char err[256];

	if (e->argc != 2) {
		conf_bad(ctx, e, "expects a netblock and an action, e.g. "
		    "'10.0.0.0/8 allow'");
		return;
	}
	if (acl_action_parse(e->argv[1], &action) != 0) {
		conf_bad(ctx, e, "'%s' is not an action danegated supports "
		    "(allow, refuse, deny)", e->argv[1]);
		return;
	}
	if (acl_add(ctx->conf->acl, e->argv[0], action, err,
	    sizeof(err)) != 0)
		conf_bad(ctx, e, "%s", err);
}

static void
conf_set_verbosity(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	unsigned v;

	if (conf_get_uint(ctx, e, 0, 5, &v) == 0)
		ctx->conf->verbosity = (int)v;
}

static void
conf_set_string(struct conf_ctx *ctx, char **field, const char *value)
{
	char *s;

	if ((s = conf_strdup(ctx, value)) == NULL)
		return;
	free(*field);
	*field = s;
}

static void
conf_set_chroot(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	const char *s;

	if ((s = conf_one(ctx, e)) == NULL)
		return;
	/* the daemon chroots after chdir("/"): a relative path would depend
	 * on where it was started */
	if (s[0] != '\0' && s[0] != '/') {
		conf_bad(ctx, e, "'%s' is not an absolute path (or \"\" for "
		    "none)", s);
		return;
	}
	conf_set_string(ctx, &ctx->conf->chroot, s);
}

static void
conf_set_directory(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	const char *s;

	if ((s = conf_one(ctx, e)) == NULL)
		return;
	if (s[0] == '\0') {
		conf_bad(ctx, e, "must not be empty");
		return;
	}
	conf_set_string(ctx, &ctx->conf->directory, s);
}

static void
conf_set_serve_expired(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	if (conf_get_bool(ctx, e, &ctx->conf->serve_expired) == 0)
		ctx->serve_expired = e;
}

static void
conf_set_do(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	struct conf *conf = ctx->conf;
	bool v;

	if (conf_get_bool(ctx, e, &v) != 0)
		return;
	if (strcmp(e->key, "do-ip4") == 0) {
		conf->do_ip4 = v;
		ctx->do_ip4 = e;
	} else if (strcmp(e->key, "do-ip6") == 0) {
		conf->do_ip6 = v;
		ctx->do_ip6 = e;
	} else if (strcmp(e->key, "do-udp") == 0) {
		conf->do_udp = v;
		ctx->do_udp = e;
	} else {
		conf->do_tcp = v;
		ctx->do_tcp = e;
	}
	/* libunbound takes the same switches for its upstream queries */
	conf_add_unbound(ctx, e);
}

/* module-config: without the validator would turn DNSSEC off altogether. */
static void
conf_set_module_config(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	const char *s;

	if ((s = conf_one(ctx, e)) == NULL)
		return;
	if (strstr(s, "validator") == NULL) {
		conf_bad(ctx, e, "'%s' has no validator module: danegated "
		    "never resolves without DNSSEC validation", s);
		return;
	}
	conf_add_unbound(ctx, e);
}

static void
conf_clause_as_key(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	conf_err(ctx, e->file, e->line, "'%s:' opens a clause and must be "
	    "alone on its line", e->key);
}

#define CONF_FIELD(f)	offsetof(struct conf, f)

static const struct conf_key conf_server_keys[] = {
	/* front end: danegated's own */
	{ .name = "interface", .type = CONF_FUNC, .fn = conf_set_interface },
	{ .name = "port", .type = CONF_UINT, .off = CONF_FIELD(port),
	  .min = 1, .max = 65535 },
	{ .name = "access-control", .type = CONF_FUNC,
	  .fn = conf_set_access_control },
	{ .name = "ip-ratelimit", .type = CONF_UINT,
	  .off = CONF_FIELD(ip_ratelimit), .min = 0, .max = 1000000 },
	{ .name = "username", .type = CONF_STR, .off = CONF_FIELD(username) },
	{ .name = "chroot", .type = CONF_FUNC, .fn = conf_set_chroot },
	{ .name = "directory", .type = CONF_FUNC, .fn = conf_set_directory },
	{ .name = "pidfile", .type = CONF_STR, .off = CONF_FIELD(pidfile) },
	{ .name = "verbosity", .type = CONF_FUNC, .fn = conf_set_verbosity },
	{ .name = "num-queries-per-thread", .type = CONF_UINT,
	  .off = CONF_FIELD(num_queries_per_thread), .min = 1,
	  .max = 1048576 },
	{ .name = "incoming-num-tcp", .type = CONF_UINT,
	  .off = CONF_FIELD(incoming_num_tcp), .min = 0, .max = 65535 },
	{ .name = "tcp-idle-timeout", .type = CONF_UINT,
	  .off = CONF_FIELD(tcp_idle_timeout_ms), .min = 1, .max = 3600000 },
	{ .name = "answer-cache-size", .type = CONF_SIZE,
	  .off = CONF_FIELD(answer_cache_size) },
	/* Serve-stale is the front cache's: libunbound 1.17 serves expired
	 * data only with serve-expired-client-timeout:, without the EDE, and
	 * could not tell danegated that an answer is stale. */
	{ .name = "serve-expired", .type = CONF_FUNC,
	  .fn = conf_set_serve_expired },
	{ .name = "serve-expired-ttl", .type = CONF_UINT,
	  .off = CONF_FIELD(serve_expired_ttl), .min = 0, .max = 0x7fffffff },
	{ .name = "serve-expired-reply-ttl", .type = CONF_UINT,
	  .off = CONF_FIELD(serve_expired_reply_ttl), .min = 0,
	  .max = 0x7fffffff },
	{ .name = "serve-expired-client-timeout", .type = CONF_UINT,
	  .off = CONF_FIELD(serve_expired_client_timeout), .min = 0,
	  .max = 3600000 },
	{ .name = "serve-expired-ttl-reset", .type = CONF_REFUSE_YES,
	  .why = "danegated never extends how long stale data may be served: "
	  "serve-expired-ttl: counts from the answer's expiry" },
	{ .name = "prefetch", .type = CONF_REFUSE_YES,
	  .why = "libunbound has no prefetch (only the Unbound daemon's worker "
	  "has), and danegated cannot do it through libunbound either: "
	  "until an answer expires, libunbound answers a refresh from its "
	  "own cache with the same record and the same expiry time" },
	/* Unbound's option, done by danegated's own answer writer: handed to
	 * libunbound as well, it would trim the packet danegated reads */
	{ .name = "minimal-responses", .type = CONF_BOOL,
	  .off = CONF_FIELD(minimal_responses) },
	{ .name = "readiness-probe", .type = CONF_BOOL,
	  .off = CONF_FIELD(readiness_probe) },
	{ .name = "tcp-connections-per-client", .type = CONF_UINT,
	  .off = CONF_FIELD(tcp_per_client), .min = 0, .max = 65535 },
	{ .name = "tcp-read-timeout", .type = CONF_UINT,
	  .off = CONF_FIELD(tcp_read_timeout_ms), .min = 1, .max = 3600000 },
	{ .name = "tcp-write-timeout", .type = CONF_UINT,
	  .off = CONF_FIELD(tcp_write_timeout_ms), .min = 1,
	  .max = 3600000 },

	/* both: the front end's field, and libunbound's same option */
	{ .name = "do-ip4", .type = CONF_FUNC, .fn = conf_set_do },
	{ .name = "do-ip6", .type = CONF_FUNC, .fn = conf_set_do },
	{ .name = "do-udp", .type = CONF_FUNC, .fn = conf_set_do },
	{ .name = "do-tcp", .type = CONF_FUNC, .fn = conf_set_do },
	{ .name = "edns-buffer-size", .type = CONF_UINT,
	  .off = CONF_FIELD(edns_buffer_size), .min = 512, .max = 4096,
	  .unbound = true },

	/* libunbound's, counted so that start-up can tell none is set */
	{ .name = "trust-anchor-file", .type = CONF_ANCHOR },
	{ .name = "auto-trust-anchor-file", .type = CONF_ANCHOR },
	{ .name = "trust-anchor", .type = CONF_ANCHOR },
	{ .name = "trusted-keys-file", .type = CONF_REFUSE,
	  .why = "BIND's trusted-keys format is not read by danegated's "
	  "start-up check: give the keys as DS or DNSKEY records in "
	  "trust-anchor-file:" },
	{ .name = "root-hints", .type = CONF_UNBOUND },

	/* Unbound server options that cannot mean anything here */
	{ .name = "num-threads", .type = CONF_REFUSE, .ok = "1",
	  .why = "danegated serves all queries from one event loop; only 1 "
	  "is accepted (run more instances for more cores)" },
	{ .name = "so-reuseport", .type = CONF_REFUSE_YES,
	  .why = "danegated binds each interface once and shares no port "
	  "between threads" },
	{ .name = "interface-automatic", .type = CONF_REFUSE_YES,
	  .why = "not supported: list the addresses to serve with "
	  "interface:" },
	{ .name = "do-daemonize", .type = CONF_REFUSE_YES,
	  .why = "whether danegated detaches is chosen on its command line "
	  "(-d stays in the foreground), not in the file" },
	/* fail closed, always */
	{ .name = "val-permissive-mode", .type = CONF_REFUSE_YES,
	  .why = "yes would hand out bogus data as if it were insecure; "
	  "danegated fails closed" },
	{ .name = "module-config", .type = CONF_FUNC,
	  .fn = conf_set_module_config },
	{ .name = "use-syslog", .type = CONF_REFUSE_YES,
	  .why = "danegated logs to stderr/journald" },
	{ .name = "logfile", .type = CONF_REFUSE, .ok = "",
	  .why = "danegated logs to stderr/journald" },
	{ .name = "tls-upstream", .type = CONF_REFUSE_YES,
	  .why = "yes cannot work: " CONF_NO_TLS },
	{ .name = "ssl-upstream", .type = CONF_REFUSE_YES,
	  .why = "yes cannot work: " CONF_NO_TLS },
	{ .name = "tls-service-key", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "ssl-service-key", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "tls-service-pem", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "ssl-service-pem", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "tls-port", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "ssl-port", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "https-port", .type = CONF_REFUSE,
	  .why = "danegated does not serve DNS over TLS or HTTPS" },
	{ .name = "statistics-interval", .type = CONF_REFUSE, .ok = "0",
	  .why = "danegated logs no periodic statistics; scrape "
	  "prometheus-interface: instead" },
	{ .name = "extended-statistics", .type = CONF_REFUSE_YES,
	  .why = "danegated's statistics are served on "
	  "prometheus-interface:" },
	{ .name = "access-control-view", .type = CONF_REFUSE,
	  .why = "danegated applies access-control: itself and has no views "
	  "or tags" },
	{ .name = "access-control-tag", .type = CONF_REFUSE,
	  .why = "danegated applies access-control: itself and has no views "
	  "or tags" },
	{ .name = "access-control-tag-action", .type = CONF_REFUSE,
	  .why = "danegated applies access-control: itself and has no views "
	  "or tags" },
	{ .name = "access-control-tag-data", .type = CONF_REFUSE,
	  .why = "danegated applies access-control: itself and has no views "
	  "or tags" },
	{ .name = "interface-action", .type = CONF_REFUSE,
	  .why = "danegated applies access-control: to every interface alike" },

	/* a clause name with a value: "server: verbosity: 1" */
	{ .name = "server", .type = CONF_FUNC, .fn = conf_clause_as_key },
	{ .name = "remote-control", .type = CONF_FUNC,
	  .fn = conf_clause_as_key },
	{ .name = "forward-zone", .type = CONF_FUNC, .fn = conf_clause_as_key },
	{ .name = "stub-zone", .type = CONF_FUNC, .fn = conf_clause_as_key },
};

/* --- remote-control: ----------------------------------------------------- */

static void
conf_set_control_interface(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	const char *s;

	if ((s = conf_one(ctx, e)) == NULL)
		return;
	if (s[0] != '/') {
		conf_bad(ctx, e, "'%s' is not an absolute path: danegated's "
		    "control channel is a unix socket only", s);
		return;
	}
	if (ctx->control_interface != NULL) {
		conf_bad(ctx, e, "given twice (first at %s:%u): danegated has "
		    "one control socket", ctx->control_interface->file,
		    ctx->control_interface->line);
		return;
	}
	ctx->control_interface = e;
	conf_set_string(ctx, &ctx->conf->control_interface, s);
}

static void
conf_set_prometheus_interface(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *s;

	if ((s = conf_one(ctx, e)) == NULL)
		return;
	/* "" turns it off; anything else needs an explicit port: there is
	 * no port every Prometheus exporter agrees on */
	if (s[0] != '\0' && (strchr(s, '@') == NULL ||
	    addr_parse(s, 0, &ss, &len) != 0)) {
		conf_bad(ctx, e, "'%s' is not ADDR@PORT (e.g. 127.0.0.1@9167)",
		    s);
		return;
	}
	conf_set_string(ctx, &ctx->conf->prometheus_interface, s);
}

static const struct conf_key conf_remote_keys[] = {
	{ .name = "control-enable", .type = CONF_BOOL,
	  .off = CONF_FIELD(control_enable) },
	{ .name = "control-interface", .type = CONF_FUNC,
	  .fn = conf_set_control_interface },
	{ .name = "prometheus-interface", .type = CONF_FUNC,
	  .fn = conf_set_prometheus_interface },
	{ .name = "control-port", .type = CONF_REFUSE,
	  .why = "danegated's control channel is a unix socket: give its "
	  "path in control-interface:" },
	{ .name = "control-use-cert", .type = CONF_REFUSE_YES,
	  .why = "danegated's control channel is a unix socket guarded by "
	  "file permissions; it uses no certificates" },
	{ .name = "control-key-file", .type = CONF_REFUSE,
	  .why = "danegated's control channel is a unix socket guarded by "
	  "file permissions; it uses no certificates" },
	{ .name = "control-cert-file", .type = CONF_REFUSE,
	  .why = "danegated's control channel is a unix socket guarded by "
	  "file permissions; it uses no certificates" },
	{ .name = "server-key-file", .type = CONF_REFUSE,
	  .why = "danegated's control channel is a unix socket guarded by "
	  "file permissions; it uses no certificates" },
	{ .name = "server-cert-file", .type = CONF_REFUSE,
	  .why = "danegated's control channel is a unix socket guarded by "
	  "file permissions; it uses no certificates" },
};

/* Applies e as described by k. */
static void
conf_apply_key(struct conf_ctx *ctx, const struct conf_key *k,
    const struct cfg_entry *e)
{
	/* the field at k->off has the type k->type says */
	void *field = (char *)ctx->conf + k->off;
	const char *s;
	bool b;

	switch (k->type) {
	case CONF_UINT:
		if (conf_get_uint(ctx, e, k->min, k->max, field) != 0)
			return;
		if (k->unbound)
			conf_add_unbound(ctx, e);
		break;
	case CONF_BOOL:
		if (conf_get_bool(ctx, e, field) != 0)
			return;
		if (k->unbound)
			conf_add_unbound(ctx, e);
		break;
	case CONF_STR:
		if ((s = conf_one(ctx, e)) != NULL)
			conf_set_string(ctx, field, s);
		break;
	case CONF_SIZE:
		if ((s = conf_one(ctx, e)) == NULL)
			return;
		if (conf_parse_size(s, field) != 0)
			conf_bad(ctx, e, "'%s' is not a size (bytes, or a "
			    "number with k, m or g)", s);
		break;
	case CONF_FUNC:
		k->fn(ctx, e);
		break;
	case CONF_ANCHOR:
		ctx->conf->n_trust_anchors++;
		conf_add_unbound(ctx, e);
		break;
	case CONF_UNBOUND:
		conf_add_unbound(ctx, e);
		break;
	case CONF_REFUSE:
		if (k->ok != NULL && e->argc == 1 &&
		    strcmp(e->argv[0], k->ok) == 0)
			return;
		conf_bad(ctx, e, "%s", k->why);
		break;
	case CONF_REFUSE_YES:
		if (conf_get_bool(ctx, e, &b) == 0 && b)
			conf_bad(ctx, e, "%s", k->why);
		break;
	}
}

static const struct conf_key *
conf_find_key(const struct conf_key *keys, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static void
conf_server_entry(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	const struct conf_key *k;

	k = conf_find_key(conf_server_keys,
	    sizeof(conf_server_keys) / sizeof(conf_server_keys[0]), e->key);
	if (k != NULL)
		conf_apply_key(ctx, k, e);
	else
		conf_add_unbound(ctx, e);
}

static void
conf_remote_entry(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	const struct conf_key *k;

	k = conf_find_key(conf_remote_keys,
	    sizeof(conf_remote_keys) / sizeof(conf_remote_keys[0]), e->key);
	if (k != NULL)
		conf_apply_key(ctx, k, e);
	else
		conf_err(ctx, e->file, e->line, "'%s' is not a remote-control: "
		    "option danegated knows (control-enable, "
		    "control-interface, prometheus-interface)", e->key);
}

/* --- forward-zone: and stub-zone: ---------------------------------------- */

/* Zone names, addresses and host names end up in a generated unbound.conf
 * (resolver.c), unquoted or in double quotes: nothing in them may end a
 * word or a quoted string, or start a comment ('#' does only at the start
 * of a word). A name may still be wrong; libunbound says so. */
static bool
conf_is_token(const char *s)
{
	return s[0] != '\0' && s[0] != '#' &&
	    strpbrk(s, " \t\r\n\f\v\"'\\") == NULL;
}

/* example.com and EXAMPLE.COM. are the same zone. */
static bool
conf_zone_name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static void
conf_zone_add_string(struct conf_ctx *ctx, char ***arr, size_t *n,
    size_t *cap, const char *s)
{
	char **v, *copy;

	if ((v = conf_grow(*arr, cap, *n, sizeof(*v))) == NULL) {
		conf_oom(ctx);
		return;
	}
	*arr = v;
	if ((copy = conf_strdup(ctx, s)) == NULL)
		return;
	v[(*n)++] = copy;
}

static void
conf_zone_entry(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	struct conf_zone *z = &ctx->conf->zones[ctx->zone];
	const char *own = z->forward ? "forward-" : "stub-";
	const char *other = z->forward ? "stub-" : "forward-";
	const char *clause = z->forward ? "forward-zone" : "stub-zone";
	const char *what, *s;
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[INET6_ADDRSTRLEN + 8];
	size_t n;
	bool b;

	if (strcmp(e->key, "name") == 0) {
		ctx->zone_named = true;
		if ((s = conf_one(ctx, e)) == NULL)
			return;
		if (z->name != NULL) {
			conf_bad(ctx, e, "given twice in one %s:", clause);
			return;
		}
		if (!conf_is_token(s)) {
			conf_bad(ctx, e, "'%s' is not a domain name", s);
			return;
		}
		z->name = conf_strdup(ctx, s);
		return;
	}
	if (strncmp(e->key, other, strlen(other)) == 0) {
		conf_bad(ctx, e, "belongs in a %szone:, not in a %s:", other,
		    clause);
		return;
	}
	if (strncmp(e->key, own, strlen(own)) != 0)
		goto unknown;
	what = e->key + strlen(own);
	if (strcmp(what, "addr") == 0) {
		ctx->zone_aimed = true;
		if ((s = conf_one(ctx, e)) == NULL)
			return;
		/* ADDR[@PORT][#TLS-NAME]: the name only matters with TLS,
		 * which is refused below, but Unbound allows it */
		n = strcspn(s, "#");
		snprintf(addr, sizeof(addr), "%.*s", (int)n, s);
		if (n >= sizeof(addr) || !conf_is_token(s) ||
		    addr_parse(addr, 53, &ss, &len) != 0) {
			conf_bad(ctx, e, "'%s' is not an IP address with an "
			    "optional @port", s);
			return;
		}
		conf_zone_add_string(ctx, &z->addrs, &z->n_addrs,
		    &ctx->cap_addrs, s);
	} else if (strcmp(what, "host") == 0) {
		ctx->zone_aimed = true;
		if ((s = conf_one(ctx, e)) == NULL)
			return;
		if (!conf_is_token(s)) {
			conf_bad(ctx, e, "'%s' is not a host name", s);
			return;
		}
		conf_zone_add_string(ctx, &z->hosts, &z->n_hosts,
		    &ctx->cap_hosts, s);
	} else if (strcmp(what, "first") == 0) {
		if (conf_get_bool(ctx, e, &b) == 0)
			z->first = b;
	} else if (!z->forward && strcmp(what, "prime") == 0) {
		if (conf_get_bool(ctx, e, &b) == 0)
			z->prime = b;
	} else if (strcmp(what, "tls-upstream") == 0 ||
	    strcmp(what, "ssl-upstream") == 0) {
		if (conf_get_bool(ctx, e, &b) == 0 && b)
			conf_bad(ctx, e, "yes cannot work: " CONF_NO_TLS);
	} else
		goto unknown;
	return;

unknown:
	if (z->forward)
		conf_bad(ctx, e, "not a forward-zone: option danegated supports "
		    "(name, forward-addr, forward-host, forward-first)");
	else
		conf_bad(ctx, e, "not a stub-zone: option danegated supports "
		    "(name, stub-addr, stub-host, stub-first, stub-prime)");
}

static void
conf_zone_begin(struct conf_ctx *ctx, const struct cfg_clause *c,
    bool forward)
{
	struct conf *conf = ctx->conf;
	struct conf_zone *z;

	if ((z = conf_grow(conf->zones, &ctx->cap_zones, conf->n_zones,
	    sizeof(*z))) == NULL) {
		conf_oom(ctx);
		ctx->kind = CONF_CL_UNKNOWN;
		return;
	}
	conf->zones = z;
	ctx->zone = conf->n_zones++;
	z = &conf->zones[ctx->zone];
	memset(z, 0, sizeof(*z));
	z->forward = forward;
	z->file = conf_file(ctx, c->file);
	z->line = c->line;
	ctx->cap_addrs = ctx->cap_hosts = 0;
	ctx->zone_named = ctx->zone_aimed = false;
}

static void
conf_zone_end(struct conf_ctx *ctx)
{
	const struct conf_zone *z = &ctx->conf->zones[ctx->zone];
	const char *clause = z->forward ? "forward-zone" : "stub-zone";
	size_t i;

	/* a bad name: or -addr: line was reported; don't add a second,
	 * misleading error for the same mistake */
	if (z->name == NULL) {
		if (!ctx->zone_named)
			conf_err(ctx, z->file, z->line, "%s: needs a name:",
			    clause);
		return;
	}
	if (!ctx->zone_aimed)
		conf_err(ctx, z->file, z->line, "%s '%s': needs a %s-addr: or "
		    "%s-host:", clause, z->name, z->forward ? "forward" : "stub",
		    z->forward ? "forward" : "stub");
	for (i = 0; i < ctx->zone; i++) {
		const struct conf_zone *o = &ctx->conf->zones[i];

		if (o->name != NULL && conf_zone_name_eq(o->name, z->name)) {
			conf_err(ctx, z->file, z->line, "%s '%s': the zone "
			    "already has a %s: at %s:%u", clause, z->name,
			    o->forward ? "forward-zone" : "stub-zone",
			    o->file, o->line);
			break;
		}
	}
}

/* --- putting it together ------------------------------------------------- */

static void
conf_clause_begin(struct conf_ctx *ctx, const struct cfg_clause *c)
{
	ctx->clause = c;
	if (strcmp(c->name, "server") == 0)
		ctx->kind = CONF_CL_SERVER;
	else if (strcmp(c->name, "remote-control") == 0)
		ctx->kind = CONF_CL_REMOTE;
	else if (strcmp(c->name, "forward-zone") == 0) {
		ctx->kind = CONF_CL_FORWARD;
		conf_zone_begin(ctx, c, true);
	} else if (strcmp(c->name, "stub-zone") == 0) {
		ctx->kind = CONF_CL_STUB;
		conf_zone_begin(ctx, c, false);
	} else {
		ctx->kind = CONF_CL_UNKNOWN;
		/* "port:" with nothing after it is a clause header to the
		 * syntax; say what was more likely meant */
		if (conf_find_key(conf_server_keys, sizeof(conf_server_keys) /
		    sizeof(conf_server_keys[0]), c->name) != NULL ||
		    conf_find_key(conf_remote_keys, sizeof(conf_remote_keys) /
		    sizeof(conf_remote_keys[0]), c->name) != NULL)
			conf_err(ctx, c->file, c->line, "%s: has no value (write "
			    "an empty value as \"\")", c->name);
		/* auth-zone:, view:, dnstap:, python:, ... configure parts
		 * of Unbound that libunbound does not run here, or that
		 * danegated does itself; silently ignoring them would leave
		 * the admin believing they work */
		else
			conf_err(ctx, c->file, c->line, "'%s:' is not a clause "
			    "danegated supports (server:, forward-zone:, "
			    "stub-zone:, remote-control:)", c->name);
	}
}

static void
conf_clause_end(struct conf_ctx *ctx)
{
	if (ctx->kind == CONF_CL_FORWARD || ctx->kind == CONF_CL_STUB)
		conf_zone_end(ctx);
}

static void
conf_entry(struct conf_ctx *ctx, const struct cfg_entry *e)
{
	switch (ctx->kind) {
	case CONF_CL_SERVER:
		conf_server_entry(ctx, e);
		break;
	case CONF_CL_REMOTE:
		conf_remote_entry(ctx, e);
		break;
	case CONF_CL_FORWARD:
	case CONF_CL_STUB:
		conf_zone_entry(ctx, e);
		break;
	case CONF_CL_UNKNOWN:
		/* its header was reported */
		break;
	}
}

/* Checks that need the whole file: interfaces (port: may come later), the
 * do-* combination, the defaults that depend on other options. */
static void
conf_finish(struct conf_ctx *ctx)
{
	struct conf *conf = ctx->conf;
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i, j;

	/*
	 * The front answer cache is sized by msg-cache-size: by default it
	 * gets as much as Unbound would give its message cache, so that it
	 * holds at least as many answers (its entries carry the records
	 * themselves, about 300 bytes for a signed A/AAAA/MX/TLSA/TXT answer;
	 * with half, 3,000 mail domains' answers no longer fitted and the
	 * hit rate collapsed: issue 6 §6), and libunbound's own message
	 * cache, asked only on a front miss for answers that mostly expire
	 * in both at once, keeps a quarter. What that costs in memory is
	 * measured against Unbound by tests/bench/resolver-bench.sh (peak
	 * RSS). An answer cache smaller than msg-cache-size leaves
	 * libunbound the rest.
	 */
	{
		size_t msg = 4u << 20;

		for (i = 0; i < conf->n_ub_options; i++)
			if (strcmp(conf->ub_options[i].name,
			    "msg-cache-size") == 0 &&
			    conf_parse_size(conf->ub_options[i].value, &msg) != 0)
				msg = 4u << 20;	/* libunbound will say why */
		if (conf->answer_cache_size == SIZE_MAX)
			conf->answer_cache_size = msg;
		conf->unbound_msg_cache_size = conf->answer_cache_size < msg ?
		    msg - conf->answer_cache_size : msg / 4;
	}

	if (conf->serve_expired && conf->answer_cache_size == 0)
		conf_err(ctx, ctx->serve_expired->file,
		    ctx->serve_expired->line, "serve-expired: yes needs the "
		    "answer cache, which keeps the stale answers: "
		    "answer-cache-size: is 0");

	/* Both are no only if both were set: report the later line (the
	 * entries are one array in file order). */
	if (!conf->do_ip4 && !conf->do_ip6) {
		const struct cfg_entry *e = ctx->do_ip4 > ctx->do_ip6 ?
		    ctx->do_ip4 : ctx->do_ip6;

		conf_err(ctx, e->file, e->line, "do-ip4 and do-ip6 are both "
		    "no: danegated could neither serve nor resolve");
	}
	if (!conf->do_udp && !conf->do_tcp) {
		const struct cfg_entry *e = ctx->do_udp > ctx->do_tcp ?
		    ctx->do_udp : ctx->do_tcp;

		conf_err(ctx, e->file, e->line, "do-udp and do-tcp are both "
		    "no: danegated could neither serve nor resolve");
	}

	for (i = 0; i < ctx->n_ifaces; i++) {
		const struct cfg_entry *e = ctx->ifaces[i];
		bool dup = false;

		/* checked when read: cannot fail */
		if (addr_parse(e->argv[0], conf->port, &ss, &len) != 0)
			continue;
		if ((ss.ss_family == AF_INET && !conf->do_ip4) ||
		    (ss.ss_family == AF_INET6 && !conf->do_ip6)) {
			conf_bad(ctx, e, "'%s' is an IPv%c address, but do-ip%c "
			    "is no", e->argv[0], ss.ss_family == AF_INET ? '4' :
			    '6', ss.ss_family == AF_INET ? '4' : '6');
			continue;
		}
		for (j = 0; j < conf->n_listen && !dup; j++)
			dup = conf->listen[j].addrlen == len &&
			    memcmp(&conf->listen[j].addr, &ss, len) == 0;
		if (dup) {
			conf_bad(ctx, e, "'%s' is listed twice", e->argv[0]);
			continue;
		}
		conf_add_listen(ctx, &ss, len);
	}
	if (ctx->n_ifaces == 0) {
		if (conf->do_ip4 &&
		    addr_parse("127.0.0.1", conf->port, &ss, &len) == 0)
			conf_add_listen(ctx, &ss, len);
		if (conf->do_ip6 &&
		    addr_parse("::1", conf->port, &ss, &len) == 0)
			conf_add_listen(ctx, &ss, len);
	}

	/* one switch for consumers: control_interface is "" when off */
	if (!conf->control_enable)
		conf_set_string(ctx, &conf->control_interface, "");
	else if (ctx->control_interface == NULL)
		conf_set_string(ctx, &conf->control_interface,
		    RUNSTATEDIR "/danegate/danegated.ctl");
}

static struct conf *
conf_alloc(struct conf_ctx *ctx, const char *path)
{
	struct conf *conf;
	char err[128];

	memset(ctx, 0, sizeof(*ctx));
	if ((conf = calloc(1, sizeof(*conf))) == NULL) {
		conf_oom(ctx);
		return NULL;
	}
	ctx->conf = conf;
	conf->path = conf_strdup(ctx, path);
	conf->port = 53;
	conf->do_ip4 = conf->do_ip6 = conf->do_udp = conf->do_tcp = true;
	/* Unbound's default: the host itself may ask, nobody else */
	if ((conf->acl = acl_new(ACL_REFUSE)) == NULL ||
	    acl_add(conf->acl, "127.0.0.0/8", ACL_ALLOW, err,
	    sizeof(err)) != 0 ||
	    acl_add(conf->acl, "::1", ACL_ALLOW, err, sizeof(err)) != 0)
		conf_oom(ctx);
	conf->username = conf_strdup(ctx, "danegate");
	conf->chroot = conf_strdup(ctx, "");
	conf->directory = conf_strdup(ctx, "/");
	conf->pidfile = conf_strdup(ctx, "");
	conf->verbosity = 1;
	conf->edns_buffer_size = 1232;
	conf->num_queries_per_thread = 4096;
	conf->incoming_num_tcp = 100;
	conf->tcp_idle_timeout_ms = 30000;
	conf->minimal_responses = true;		/* Unbound's default */
	conf->tcp_read_timeout_ms = 5000;
	conf->tcp_write_timeout_ms = 10000;
	conf->tcp_per_client = 32;
	conf->readiness_probe = true;
	conf->answer_cache_size = SIZE_MAX;	/* auto: see conf_finish() */
	conf->serve_expired_reply_ttl = 30;	/* RFC 8767 §4 */
	conf->control_interface = conf_strdup(ctx, "");
	conf->control_enable = false;
	conf->prometheus_interface = conf_strdup(ctx, "");
	return conf;
}

struct conf *
conf_new_default(void)
{
	struct conf_ctx ctx;
	struct conf *conf;

	if ((conf = conf_alloc(&ctx, "(default)")) == NULL)
		return NULL;
	conf_finish(&ctx);
	free(ctx.ifaces);
	if (ctx.errors > 0) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/* Builds *out from cf (which it frees); returns the error count. With
 * keep, *out is set even when there were errors. */
static int
conf_build(struct cfg_file *cf, const char *path, struct conf **out,
    bool keep)
{
	struct conf_ctx ctx;
	struct conf *conf;
	size_t i;

	if ((conf = conf_alloc(&ctx, path)) == NULL) {
		cfg_file_free(cf);
		return ctx.errors;
	}
	ctx.cf = cf;
	if ((conf->files = calloc(cf->n_files + 1, sizeof(char *))) == NULL)
		conf_oom(&ctx);
	else
		for (i = 0; i < cf->n_files; i++)
			if ((conf->files[i] = conf_strdup(&ctx,
			    cf->files[i])) != NULL)
				conf->n_files = i + 1;
	/* without all file names the entries cannot point at theirs */
	if (ctx.errors == 0) {
		/* entries are in clause_seq order: walk the clauses, each
		 * with its entries, so that errors come in file order */
		i = 0;
		for (size_t c = 0; c < cf->n_clauses; c++) {
			conf_clause_begin(&ctx, &cf->clauses[c]);
			for (; i < cf->n_entries &&
			    cf->entries[i].clause_seq == c; i++)
				conf_entry(&ctx, &cf->entries[i]);
			conf_clause_end(&ctx);
		}
		conf_finish(&ctx);
	}
	free(ctx.ifaces);
	cfg_file_free(cf);
	if (ctx.errors > 0 && !keep) {
		conf_free(conf);
		return ctx.errors;
	}
	*out = conf;
	return ctx.errors;
}

int
conf_load(const char *path, struct conf **out)
{
	struct cfg_file *cf;
	char err[1024];

	*out = NULL;
	if (cfg_file_read(path, &cf, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return 1;
	}
	return conf_build(cf, path, out, false);
}

int
conf_check(const char *path, struct conf **out)
{
	struct cfg_file *cf;
	char err[1024];

	*out = NULL;
	if (cfg_file_read(path, &cf, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return 1;
	}
	return conf_build(cf, path, out, true);
}

int
conf_parse(const char *name, const char *text, size_t len,
    struct conf **out)
{
	struct cfg_file *cf;
	char err[1024];

	*out = NULL;
	if (cfg_file_parse(name, text, len, &cf, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return 1;
	}
	return conf_build(cf, name, out, false);
}

void
conf_free(struct conf *conf)
{
	size_t i, j;

	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->listen);
	acl_free(conf->acl);
	free(conf->username);
	free(conf->chroot);
	free(conf->directory);
	free(conf->pidfile);
	for (i = 0; i < conf->n_ub_options; i++) {
		free(conf->ub_options[i].name);
		free(conf->ub_options[i].value);
	}
	free(conf->ub_options);
	for (i = 0; i < conf->n_zones; i++) {
		struct conf_zone *z = &conf->zones[i];

		free(z->name);
		for (j = 0; j < z->n_addrs; j++)
			free(z->addrs[j]);
		free(z->addrs);
		for (j = 0; j < z->n_hosts; j++)
			free(z->hosts[j]);
		free(z->hosts);
	}
	free(conf->zones);
	free(conf->control_interface);
	free(conf->prometheus_interface);
	for (i = 0; i < conf->n_files; i++)
		free(conf->files[i]);
	free(conf->files);
	free(conf);
}
