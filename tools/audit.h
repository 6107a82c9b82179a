/*
 * audit.h - tlsa-check's audit of one mail domain (or one host).
 *
 * audit_run() does the whole job for one name: the RFC 7672 destination
 * (libdanegate), an SMTP STARTTLS probe of every address of every MX host,
 * the operational checks (rollover, expiry, usage 0/1, Exchange Online),
 * and the posture records (MTA-STS, TLS-RPT, SPF, DMARC); then it judges
 * the domain with one word of a fixed vocabulary, each the outcome a
 * DANE-enforcing sender (Postfix "dane") would get:
 *
 *   dane-valid    delivered, authenticated
 *   dane-partial  delivered authenticated, but some MX hosts fail
 *   dane-failing  deferred for a DANE reason (no match, no STARTTLS,
 *                 TLSA lookup failure)
 *   encrypt-only  TLS required, not authenticated
 *   no-dane       opportunistic TLS
 *   dns-failure   deferred: MX or address lookup bogus or failing
 *   no-mail       null MX
 *
 * Ownership: audit_free() frees everything audit_run() filled in.
 */
#ifndef TLSA_CHECK_AUDIT_H
#define TLSA_CHECK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "danegate.h"
#include "mta_sts.h"

struct probe_cache;

struct audit_options {
	bool connect;			/* false: --no-connect */
	bool ipv4, ipv6;
	uint16_t port;
	unsigned timeout_ms;
	unsigned expiry_days;		/* warn when a cert expires sooner */
	const char *next_cert;		/* --next-cert: PEM file, or NULL */
	const char *ca_file;		/* PKIX roots for MTA-STS */
	bool host_mode;			/* --host: names are hosts, not
					 * domains */
	struct probe_cache *probes;	/* shared by the run's audits, or
					 * NULL: every audit connects itself */
};

/*
 * A run's SMTP probes, shared between its threads: an address is
 * connected to once per SNI name, and every domain that uses it judges the
 * chain against its own TLSA records and names
 * (danegate_smtp_result_rejudge). Many domains hosted on one provider's
 * MX cost one TLS handshake, not one each.
 */
struct probe_cache *probe_cache_new(void);
void probe_cache_free(struct probe_cache *c);

/* The posture of a TXT-published policy: TLS-RPT, SPF, DMARC. */
struct audit_txt_check {
	enum danegate_dnssec state;
	bool present;
	bool valid;
	char record[512];		/* the record found */
	char detail[128];		/* DMARC: "p=reject"; errors */
};

struct audit_host {
	struct danegate_mx_host *mx;	/* borrowed from the destination */
	struct danegate_smtp_result **probes;	/* one per address probed */
	size_t n_probes;
	const char *verdict;		/* this host alone, same vocabulary */
	enum danegate_reason reason;	/* DNS's reason, or its connections'
					 * failure when they failed */
	bool delivers;			/* a sender would deliver here */
	bool authenticated;		/* ... with a DANE match */
};

struct audit {
	char name[DANEGATE_NAME_MAX];
	int error;			/* a DANEGATE_E_* if the lookup failed */
	struct danegate_destination *dest;
	struct audit_host *hosts;
	size_t n_hosts;
	const char *verdict;
	enum danegate_reason reason;
	char why[512];
	struct mta_sts_result sts;
	struct audit_txt_check tlsrpt, spf, dmarc;
	char **warnings;
	size_t n_warnings;
	double elapsed_ms;
};

/* Audits name with resolver r (blocking); fills a (caller frees with
 * audit_free()). */
void audit_run(struct danegate_resolver *r, const char *name,
    const struct audit_options *opts, struct audit *a);
void audit_free(struct audit *a);

/* 0: all good, 1: warnings only, 2: fails or would defer. */
int audit_exit_class(const struct audit *a);

#endif
