/*
 * relay_conf.h - danegate-relay's configuration: the meaning of its file.
 *
 * The file has danegated's syntax (lib/cfgfile.h: "key: value" lines under
 * clause headers, quotes, include:), with one clause, "relay:":
 *
 *     relay:
 *         listen: 127.0.0.1@10025          # SMTP, repeatable
 *         lmtp: /run/danegate-relay/lmtp   # LMTP: ADDR@PORT or a path
 *         access-control: 10.0.0.0/8 allow # lib/acl.h; loopback allowed
 *         tls-cert-file: /etc/danegate/relay.pem   # STARTTLS on the front
 *         tls-key-file: /etc/danegate/relay.key
 *         hostname: relay.example.org
 *         resolver: 127.0.0.1@53           # forward, still validating
 *         trust-anchor-file: /usr/share/dns/root.key
 *         ca-file: /etc/ssl/certs/ca-certificates.crt
 *         message-size-limit: 100m
 *         client-file: /etc/danegate/relay-clients   # clients.h
 *         dmarc-guard: yes                 # dmarc_guard.h
 *         spf-address: 198.51.100.7        # repeatable: sending addrs
 *         ...                              # see danegate-relay(8)
 *
 * and any number of submission routes (issue 9: XOAUTH2 to Exchange
 * Online), one "route:" clause each:
 *
 *     route:
 *         name: exo                        # bound by the front
 *         smarthost: smtp.office365.com@587    # HOST[@PORT] (the default)
 *         domain: school.example           # senders bound to the route
 *         grant: secret                    # password, secret, certificate
 *         client-id: 00000000-0000-0000-0000-000000000000
 *         tenant: contoso.onmicrosoft.com  # or token-endpoint: https://...
 *         scope: https://outlook.office365.com/.default    # grant default
 *         client-secret-file: /etc/danegate/exo.secret # mode 0600
 *         certificate-file: /etc/danegate/exo.pem      # certificate grant
 *         private-key-file: /etc/danegate/exo.key      # mode 0600
 *         domains: school.example      # the DMARC guard's routed domains
 *
 * Secret and key files are read at load (-t too) with
 * oauth2_secret_file_read(): a file readable by others is refused with the
 * reason. Their contents are never logged or printed.
 *
 * Command-line overrides (--listen, --lmtp, --resolver, --trust-anchor,
 * --ca-file) replace what the file says, so that an empty file plus those
 * runs. Every error names FILE:LINE and the key; the loader keeps going so
 * that -t shows every mistake at once, and returns a conf only if there was
 * none: a failed reload keeps the old configuration.
 *
 * SECURITY: read at start-up and reload (as root before the privilege drop,
 * or as the relay's user under systemd); reads what cfgfile.c opens and
 * the secret, key and client files the configuration names.
 *
 * Ownership: relay_conf_load() returns a conf the caller frees with
 * relay_conf_free(); it owns every string and the acl in it.
 */
#ifndef DANEGATE_RELAY_CONF_H
#define DANEGATE_RELAY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define RELAY_CONF_DEFAULT_PATH SYSCONFDIR "/danegate/danegate-relay.conf"

/* One listener: TCP (ss) or a unix socket (path). */
struct clients;

struct relay_listen {
	bool lmtp;
	bool tls;			/* listen-tls: implicit TLS from the
					 * first byte (RFC 8314 submissions) */
	char *spec;			/* as written: "127.0.0.1@10025" */
	char *path;			/* unix socket, or NULL */
	struct sockaddr_storage ss;	/* TCP, when path is NULL */
	socklen_t ss_len;
};

/*
 * A client known by its source address (client-address: PREFIX MAILBOXES,
 * issue 9): a program that cannot authenticate at all may send as these
 * mailboxes, through their route (client credentials), the first being
 * the SASL user at the smarthost. Prefixes never overlap (-t refuses it).
 */
struct relay_addr_client {
	char *prefix;			/* as written: "10.1.2.3/32" */
	struct acl *acl;		/* the prefix alone, ACL_ALLOW */
	char *mailboxes;		/* "a@x,b@y" as written */
	char *where;			/* "FILE:LINE" */
};

/* A submission route: a "route:" clause. */
struct relay_route {
	char *name;
	char *smarthost;		/* host name or address */
	uint16_t port;			/* 587 unless smarthost: says */
	int grant;			/* enum oauth2_grant; -1: unset */
	char *client_id;
	char *tenant;			/* NULL when token-endpoint: is set */
	char *token_endpoint;		/* the full URL (from tenant: too) */
	char *scope;			/* NULL: the grant's default */
	char *client_secret_file, *certificate_file, *private_key_file;
	char *client_secret;		/* file contents; oauth2_secret_free */
	char *private_key;		/* PEM; oauth2_secret_free */
	size_t private_key_len;
	char **domains;			/* domain: the mail domains whose
					 * mailboxes send through the route,
					 * and whose DMARC-guarded mail the
					 * guard sends this way */
	size_t n_domains;
	unsigned seq;			/* private: the clause's cfg seq */
	char *file;			/* private: the clause header, for */
	unsigned line;			/* messages during the load */
};

#define RELAY_ROUTE_DEFAULT_HOST "smtp.office365.com"
#define RELAY_ROUTE_DEFAULT_PORT 587

/* What the command line says instead of the file (NULL: the file's). */
struct relay_conf_overrides {
	const char *listen;
	const char *lmtp;
	const char *resolver;
	const char *trust_anchor_file;
	const char *ca_file;
	const char *unbound_conf;
};

struct relay_conf {
	struct relay_listen *listens;
	size_t n_listens;
	struct acl *acl;		/* TCP clients; unix sockets are
					 * guarded by their file mode */
	char *hostname;			/* greeting, Received:, EHLO out */
	char *tls_cert_file, *tls_key_file;	/* both or neither */
	char *resolver;			/* "ADDR[@PORT]" or NULL */
	char *trust_anchor_file;	/* NULL: the system's root key */
	char *ca_file;			/* NULL: the system's roots */
	char *unbound_conf;		/* tests: the world's root hints */
	char *policy_file;		/* tls-policy-file: (outbound side) */
	char *client_file;		/* client-file: SMTP AUTH clients */
	struct clients *clients;	/* its table, NULL: no AUTH */
	char *exemptions_file;		/* dane-exemptions-file: */
	char *prometheus_interface;	/* "ADDR[@PORT]" (9167) or NULL */
	char *control_interface;	/* danegate-control's socket, or NULL */
	char *username, *chroot, *directory, *pidfile;
	int verbosity;
	uint64_t message_size_limit;	/* bytes, advertised with SIZE */
	unsigned command_timeout;	/* s, waiting for a command or data */
	unsigned final_timeout;		/* s, for the remote's final reply */
	unsigned drain_timeout;		/* s, SIGTERM: in-flight may finish */
	unsigned max_sessions;
	unsigned max_recipients;	/* per transaction */
	unsigned max_domains;		/* LMTP: destinations per transaction */
	uint16_t remote_port;		/* tests: the MX port; 0: 25 */
	unsigned dest_limit;		/* connections per destination */
	unsigned dest_wait;		/* s a transaction waits for one */
	/* TLS reporting (RFC 8460; tlsrpt_send.h): off without a state file */
	char *tlsrpt_state_file;
	char *tlsrpt_organization;	/* organization-name; NULL: hostname */
	char *tlsrpt_contact;		/* contact-info; NULL: mail-from */
	char *tlsrpt_submitter;		/* TLS-Report-Submitter; NULL: hostname */
	char *tlsrpt_mail_from;		/* NULL: noreply-smtp-tls-reporting@
					 * hostname */
	char *tlsrpt_submission;	/* mailto: reports, "ADDR[@PORT]" */
	unsigned tlsrpt_interval;	/* s, 86400: each UTC day */
	unsigned tlsrpt_max_delay;	/* s, random delay after the period */
	unsigned tlsrpt_timeout;	/* s, per delivery attempt */
	char *sts_cache_dir;		/* MTA-STS policies on disk; NULL:
					 * in memory only (sts-cache-dir:
					 * none) */
	bool sts_cache_dir_set;		/* given in the file (else the
					 * default, which may be missing) */
	struct relay_route *routes;	/* route: clauses, in file order */
	size_t n_routes;
	struct relay_addr_client *addr_clients;	/* client-address: */
	size_t n_addr_clients;
	/* DMARC guard (dmarc_guard.h) */
	bool dmarc_guard;		/* dmarc-guard: yes (the default) */
	struct sockaddr_storage *spf_addrs;	/* spf-address: the relay's
					 * sending addresses */
	size_t n_spf_addrs;
};

/*
 * Reads path (NULL or "": no file, defaults and overrides only) and
 * applies ov (may be NULL). Logs every error as "FILE:LINE: key: reason";
 * returns the number of errors, and *out (set only when there were none,
 * NULL otherwise).
 */
int relay_conf_load(const char *path, const struct relay_conf_overrides *ov,
    struct relay_conf **out);

void relay_conf_free(struct relay_conf *conf);

/*
 * Process-wide switch, on by default. Off (fuzz targets only), the loader
 * opens and stats no file the configuration names: client-secret-file:,
 * private-key-file:, certificate-file:, client-file: and sts-cache-dir:
 * are checked as values but not read, so a conf loaded that way holds no
 * secret, key or client table and must not be run. Includes are
 * cfgfile.c's to switch off (cfg_file_allow_includes()).
 */
void relay_conf_allow_files(bool allow);

/*
 * The route serving address's domain (a route's domain: list, compared
 * without regard to case), or NULL: the front binds an authenticated
 * client's transaction from such an address to that route.
 */
const struct relay_route *relay_conf_route_for(const struct relay_conf *conf,
    const char *address);

/* The client-address: whose prefix holds sa, or NULL. */
const struct relay_addr_client *relay_conf_client_by_addr(
    const struct relay_conf *conf, const struct sockaddr *sa);

/* Whether mailbox is one of list's comma-separated mailboxes (any case). */
bool relay_conf_mailbox_in(const char *list, const char *mailbox);

/* The route called name, or NULL. */
const struct relay_route *relay_conf_route(const struct relay_conf *conf,
    const char *name);

/* The route whose domains: lists domain (case-insensitive), or NULL. */
const struct relay_route *relay_conf_route_for_domain(
    const struct relay_conf *conf, const char *domain);

#endif
