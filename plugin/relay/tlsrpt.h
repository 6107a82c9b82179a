/*
 * tlsrpt.h - danegate-relay's SMTP TLS Reporting (RFC 8460): the per
 * policy-domain session counts, their state file, the `_smtp._tls` TXT
 * record parser and the aggregate report (JSON, gzip).
 *
 * The outbound side calls tlsrpt_record() once per session attempt; the
 * counts live in memory and are written to the state file by
 * tlsrpt_save() (atomic: temporary file, fsync, rename), so they survive
 * a restart. tlsrpt_report_json() turns one domain's counts into the
 * RFC 8460 §4 report; tlsrpt_reset() starts the next period.
 *
 * Functions return 0 or a negative DANEGATE_E_* code (danegate_strerror).
 */
#ifndef DANEGATE_RELAY_TLSRPT_H
#define DANEGATE_RELAY_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "danegate.h"

/* RFC 8460 §4.3 policy-type */
enum tlsrpt_policy_type {
	TLSRPT_POLICY_TLSA,		/* "tlsa" */
	TLSRPT_POLICY_STS,		/* "sts" */
	TLSRPT_POLICY_NONE,		/* "no-policy-found" */
};

/* "tlsa", "sts", "no-policy-found" */
const char *tlsrpt_policy_type_name(enum tlsrpt_policy_type t);

/* One session attempt, as the outbound side saw it. Strings borrowed. */
struct tlsrpt_session {
	const char *domain;		/* policy domain (the recipient's) */
	enum tlsrpt_policy_type type;
	const char *const *policy_strings;	/* TLSA records in presentation
					 * form, or the STS policy lines;
					 * NULL/0 for no-policy-found */
	size_t n_policy_strings;
	const char *mx_host;		/* the MX host name, "" if none */
	const char *policy_mx;		/* the policy's "mx-host": NULL for
					 * mx_host; sts: the policy's mx
					 * patterns, space-separated */
	const char *sending_ip;		/* our address, NULL if unknown */
	const char *receiving_ip;	/* the MX address, NULL if none */
	bool success;			/* TLS negotiated under the policy */
	enum danegate_reason reason;	/* result type of a failure */
};

struct tlsrpt;

/*
 * Opens the store; state_path (NULL: memory only) is read if it exists.
 * A damaged file is refused with DANEGATE_E_INVALID and "FILE: field"
 * in err (size errlen), so counts are never silently dropped.
 */
int tlsrpt_open(const char *state_path, time_t now, struct tlsrpt **out,
    char *err, size_t errlen);

/* Counts one session attempt. 0, DANEGATE_E_INVALID or _NOMEM. */
int tlsrpt_record(struct tlsrpt *t, const struct tlsrpt_session *s);

/* Writes the state file atomically (no-op without one). */
int tlsrpt_save(const struct tlsrpt *t);

/* Start of the current period (UTC seconds). */
time_t tlsrpt_period_start(const struct tlsrpt *t);

/* The domains with counts: a malloc'd array of *n malloc'd names. */
int tlsrpt_domains(const struct tlsrpt *t, char ***domains, size_t *n);
void tlsrpt_domains_free(char **domains, size_t n);

/* Who the report is from (RFC 8460 §4.4). */
struct tlsrpt_org {
	const char *organization;	/* organization-name */
	const char *contact;		/* contact-info (an address or URI) */
	const char *report_id_suffix;	/* appended to the report-id, e.g.
					 * "@relay.example.org" */
};

/*
 * The RFC 8460 aggregate report for domain over [period start, end):
 * a malloc'd NUL-terminated JSON text in *json. DANEGATE_E_INVALID when
 * the domain has no counts.
 */
int tlsrpt_report_json(const struct tlsrpt *t, const char *domain,
    const struct tlsrpt_org *org, time_t end, char **json);

/*
 * The daily run: ends the period at end. Every domain's counts become an
 * owed report over [period start, end) (replacing an undelivered older
 * one of that domain: *replaced says how many were dropped so), and a
 * new, empty period starts at end. 0 or DANEGATE_E_NOMEM (nothing
 * changed).
 */
int tlsrpt_close_period(struct tlsrpt *t, time_t end, size_t *replaced);

/* The domains with an owed report, as tlsrpt_domains(). */
int tlsrpt_owed(const struct tlsrpt *t, char ***domains, size_t *n);

/*
 * Domain's owed report as tlsrpt_report_json() makes it, and its date
 * range; DANEGATE_E_INVALID when none is owed.
 */
int tlsrpt_owed_report(const struct tlsrpt *t, const char *domain,
    const struct tlsrpt_org *org, char **json, time_t *start, time_t *end);

/*
 * Domain's session counts, summed over its policies: of the current
 * period, or (owed) of its owed report. DANEGATE_E_INVALID when none.
 */
int tlsrpt_counts(const struct tlsrpt *t, const char *domain, bool owed,
    uint64_t *success, uint64_t *failure);

/* Domain's owed report was delivered (or is given up): drops it. */
void tlsrpt_owed_done(struct tlsrpt *t, const char *domain);

/* Forgets all counts and starts a new period at now (after reporting). */
void tlsrpt_reset(struct tlsrpt *t, time_t now);

void tlsrpt_free(struct tlsrpt *t);

/* gzip (RFC 1952) of len bytes: malloc'd *out of *outlen bytes. */
int tlsrpt_gzip(const void *in, size_t len, unsigned char **out,
    size_t *outlen);

/* ---- the `_smtp._tls` TXT record (RFC 8460 §3) ------------------------ */

#define TLSRPT_MAX_RUA 8

enum tlsrpt_rua_kind {
	TLSRPT_RUA_MAILTO,
	TLSRPT_RUA_HTTPS,
	TLSRPT_RUA_OTHER,		/* a scheme we do not send to */
};

struct tlsrpt_txt {
	size_t n_rua;
	struct {
		enum tlsrpt_rua_kind kind;
		char *uri;		/* as published, malloc'd */
	} rua[TLSRPT_MAX_RUA];
};

/*
 * Parses one TXT record's text (len bytes, strings already joined) by
 * RFC 8460 §3's grammar, strictly: "v=TLSRPTv1" first, a "rua=" with at
 * least one URI, extensions by their grammar, no field twice. On error
 * DANEGATE_E_INVALID and err says which field. Clear with
 * tlsrpt_txt_clear().
 */
int tlsrpt_txt_parse(const char *text, size_t len, struct tlsrpt_txt *out,
    char *err, size_t errlen);

/* True if the text starts a TLSRPT record ("v=TLSRPTv1" then ";", WSP or
 * end): §3's test for which TXT records to consider. */
bool tlsrpt_txt_is_tlsrpt(const char *text, size_t len);

void tlsrpt_txt_clear(struct tlsrpt_txt *t);

#endif
