/*
 * conf.h - danegate-policy's configuration: one "policy:" clause in the
 * Unbound-style syntax of lib/cfgfile.h, with command-line overrides.
 * An empty file (or none, with the overrides alone) is a usable
 * configuration.
 *
 *     policy:
 *         listen: /run/danegate-policy/socketmap    # unix socket
 *         listen: 127.0.0.1@10028                   # TCP, loopback only
 *         socket-mode: 0660
 *         socket-group: postfix
 *         resolver: 127.0.0.1@53                    # forward, still validate
 *         trust-anchor-file: /usr/share/dns/root.key
 *         ca-file: /etc/ssl/certs/ca-certificates.crt
 *         username: danegate-policy
 *         cache-ttl: 60
 *         sts-fetch-failure: deliver                # or temp
 *         sts-cache-dir: /var/lib/danegate/sts      # or none (memory)
 *         control-interface: /run/danegate-policy/control  # danegate-control
 *         prometheus-interface: 127.0.0.1@9167      # GET /metrics
 *         access-control: 10.0.0.0/8 allow          # /metrics; loopback allowed
 *
 * SECURITY: read as root at start-up and on SIGHUP, before and after the
 * privilege drop; the text is parsed by the fuzzed lib/cfgfile.c.
 *
 * Ownership: policy_conf_load() returns a conf freed with
 * policy_conf_free(); its strings belong to it.
 */
#ifndef DANEGATE_POLICY_CONF_H
#define DANEGATE_POLICY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct acl;

#define POLICY_CONF_DEFAULT	SYSCONFDIR "/danegate/policy.conf"
#define POLICY_LISTEN_MAX	8
#define POLICY_PROMETHEUS_PORT	9167	/* prometheus-interface: without @ */

/* What the command line sets; NULL/0: not given. */
struct policy_overrides {
	const char *listen[POLICY_LISTEN_MAX];
	size_t n_listen;
	const char *resolver;
	const char *trust_anchor_file;
	const char *unbound_conf;
	const char *ca_file;
	int verbosity;			/* added */
};

struct policy_conf {
	char *listen[POLICY_LISTEN_MAX];	/* "PATH" or "ADDR@PORT" */
	size_t n_listen;
	unsigned socket_mode;		/* unix sockets; default 0666 */
	char *socket_owner;		/* user name, "" = unchanged */
	char *socket_group;		/* group name, "" = unchanged */
	char *resolver;			/* "" = recurse from the root */
	char *trust_anchor_file;	/* "" = the system's root key */
	char *unbound_conf;		/* "" = none */
	char *ca_file;			/* "" = the system's roots */
	char *username;			/* "" = keep the starting user */
	char *chroot;			/* "" = none */
	char *pidfile;
	char *control_interface;	/* danegate-control's socket, "" = none */
	char *prometheus_interface;	/* "ADDR[@PORT]" of /metrics, "" = none */
	struct acl *acl;		/* who may GET /metrics (access-control:) */
	char *policy_map;		/* map name for smtp_tls_policy_maps */
	char *tlsrpt_map;		/* the same with TLSRPT attributes */
	unsigned cache_ttl;		/* seconds an answer is reused */
	unsigned cache_max;		/* answers kept */
	unsigned timeout_ms;		/* per DNS lookup */
	unsigned sts_timeout_ms;	/* per policy fetch */
	bool sts_fail_temp;		/* sts-fetch-failure: temp */
	char *sts_cache_dir;		/* MTA-STS policies on disk, the
					 * relay's default; "" = memory */
	bool sts_cache_dir_set;		/* given (else a missing default
					 * means memory only) */
	int verbosity;
};

/*
 * Reads path (NULL: no file, the defaults) and applies ov. Returns 0 and
 * sets *out, or the number of errors, each logged as "FILE:LINE: key:
 * reason", with *out NULL.
 */
int policy_conf_load(const char *path, const struct policy_overrides *ov,
    struct policy_conf **out);

void policy_conf_free(struct policy_conf *c);

#endif
