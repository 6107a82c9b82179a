/*
 * conf.h - danegated's configuration: the meaning of danegated.conf.
 *
 * The file uses Unbound's syntax and option names (see danegated.conf(5)).
 * conf_load() reads it with cfgfile.h and sorts every option into one of:
 *  - front-end options danegated implements itself (interface, port,
 *    access-control, username, chroot, pidfile, rate limit, ...): fields of
 *    struct conf;
 *  - resolver options handed unchanged to libunbound with
 *    ub_ctx_set_option() (do-ip4, harden-*, val-*, cache sizes, local-zone,
 *    local-data, trust-anchor-file, root-hints, ...): conf->ub_options, in
 *    file order, each with its file:line so that a value libunbound rejects
 *    is reported where it was written;
 *  - stub-zone:/forward-zone: clauses: conf->zones;
 *  - options refused with a sentence saying why (forward-tls-upstream: yes
 *    cannot work with Debian's libunbound, num-threads, ...).
 *
 * Every error is logged as "FILE:LINE: message" and counted; conf_load()
 * keeps going after an error so that `danegated -t` lists them all.
 *
 * Ownership: conf_load()/conf_new_default() return a conf the caller frees
 * with conf_free(). All strings belong to it.
 */
#ifndef DG_CONF_H
#define DG_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "acl.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONF_DEFAULT_PATH SYSCONFDIR "/danegate/danegated.conf"

/* One address to listen on (interface:, or the defaults). */
struct conf_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[64];			/* "127.0.0.1@53", for logs */
};

/* One option passed to libunbound as ub_ctx_set_option("name:", value). */
struct conf_ub_option {
	char *name;			/* without colon: "harden-glue" */
	char *value;			/* as written, quotes removed */
	const char *file;		/* points into conf->files */
	unsigned line;
};

/* A stub-zone: or forward-zone: clause, passed to libunbound. */
struct conf_zone {
	bool forward;			/* forward-zone (else stub-zone) */
	char *name;			/* "example." */
	char **addrs;			/* forward-addr:/stub-addr: values */
	size_t n_addrs;
	char **hosts;			/* forward-host:/stub-host: values */
	size_t n_hosts;
	bool first;			/* forward-first:/stub-first: */
	bool prime;			/* stub-prime: */
	const char *file;
	unsigned line;
};

struct conf {
	char *path;			/* the main file, as given */

	/* listening */
	struct conf_listen *listen;	/* default: 127.0.0.1 and ::1 at port */
	size_t n_listen;
	unsigned port;			/* port:, default 53 */
	bool do_ip4, do_ip6, do_udp, do_tcp;	/* do-ip4: etc. (also given to
						 * libunbound) */

	/* who may ask */
	struct acl *acl;		/* access-control:, default: loopback
					 * allow, all else refuse */
	unsigned ip_ratelimit;		/* ip-ratelimit: queries/s per client
					 * address, 0 = off (default) */

	/* process */
	char *username;			/* username:, default "danegate";
					 * "" = no privilege drop */
	char *chroot;			/* chroot:, default ""; "" = none */
	char *directory;		/* directory:, default "/" */
	char *pidfile;			/* pidfile:, default "" (none) */
	int verbosity;			/* verbosity:, default 1 */

	/* serving */
	unsigned edns_buffer_size;	/* edns-buffer-size:, default 1232
					 * (also given to libunbound) */
	unsigned num_queries_per_thread; /* num-queries-per-thread:, max
					  * queries in flight, default 4096 */
	unsigned incoming_num_tcp;	/* incoming-num-tcp:, TCP connection
					 * cap, default 100 */
	unsigned tcp_idle_timeout_ms;	/* tcp-idle-timeout:, default 30000 */
	bool minimal_responses;		/* minimal-responses: leave out the
					 * authority and additional data
					 * Unbound leaves out (msg.c) */
	unsigned tcp_read_timeout_ms;	/* tcp-read-timeout: a started message
					 * must be complete within, default
					 * 5000 */
	unsigned tcp_write_timeout_ms;	/* tcp-write-timeout: unsent answers
					 * must make progress within, default
					 * 10000 */
	unsigned tcp_per_client;	/* tcp-connections-per-client: per
					 * address (IPv6 /64), 0 = no limit;
					 * default 32 */
	bool readiness_probe;		/* readiness-probe:, default yes: READY
					 * only once the anchors validate */
	size_t answer_cache_size;	/* answer-cache-size: front answer
					 * cache bytes, 0 = off; default half
					 * of msg-cache-size, out of which it
					 * is carved */
	bool serve_expired;		/* serve-expired:, default no: RFC 8767
					 * stale answers when the upstream
					 * fails (server.c, cache.c) */
	unsigned serve_expired_ttl;	/* serve-expired-ttl: seconds past
					 * expiry, 0 = no limit (default) */
	unsigned serve_expired_reply_ttl; /* serve-expired-reply-ttl:,
					   * default 30 */
	unsigned serve_expired_client_timeout; /* serve-expired-client-
						* timeout: ms, 0 = wait for
						* libunbound (default) */
	size_t unbound_msg_cache_size;	/* what libunbound's msg-cache-size
					 * gets: msg-cache-size less the front
					 * cache (a quarter of it if the front
					 * cache is not smaller) */

	/* trust anchors: also present in ub_options; kept here so that
	 * danegated can tell at start-up that one is configured */
	size_t n_trust_anchors;

	/* resolver */
	struct conf_ub_option *ub_options;
	size_t n_ub_options;
	struct conf_zone *zones;
	size_t n_zones;

	/* operations */
	char *control_interface;	/* remote-control: control-interface:
					 * unix socket path; "" = off.
					 * Default RUNSTATEDIR
					 * "/danegate/danegated.ctl" when
					 * control-enable: yes */
	bool control_enable;		/* remote-control: control-enable:,
					 * default no */
	char *prometheus_interface;	/* remote-control:
					 * prometheus-interface: addr@port
					 * of the HTTP /metrics listener;
					 * "" = off (default) */

	/* file names read (main + includes), for error messages */
	char **files;
	size_t n_files;
};

/*
 * Reads and checks path. Returns the number of errors (0 = usable conf, set
 * in *out); each error was logged as "FILE:LINE: message". On errors *out is
 * NULL.
 */
int conf_load(const char *path, struct conf **out);

/* Like conf_load(), but *out is set even when there were errors (unless
 * the file could not be read at all), so that `danegated -t` can go on to
 * check the libunbound options too. */
int conf_check(const char *path, struct conf **out);

/* Same for a config in memory (tests, fuzzing); name is used in messages.
 * text need not be NUL-terminated. */
int conf_parse(const char *name, const char *text, size_t len,
    struct conf **out);

/* The configuration of an empty file: every default, listening on
 * 127.0.0.1@53 and ::1@53. Returns NULL when out of memory. */
struct conf *conf_new_default(void);

void conf_free(struct conf *conf);

#endif
