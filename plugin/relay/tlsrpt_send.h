/*
 * tlsrpt_send.h - danegate-relay's daily delivery of the RFC 8460 SMTP
 * TLS reports, on the relay's event loop.
 *
 * Once per period (tlsrpt-interval:, a UTC day by default) at the next
 * period boundary plus a random delay, tlsrpt_close_period() turns the
 * counts into owed reports (tlsrpt.h); for each owed domain the module
 * looks up `_smtp._tls.DOMAIN` TXT through the relay's validating
 * resolver, parses it (tlsrpt_txt_parse), gzips the JSON report and sends
 * it to every rua: `https:` as a POST of application/tlsrpt+gzip (libcurl
 * multi on the loop, PKIX against ca-file, no redirects), `mailto:` as
 * the §5.3 multipart/report message through an SMTP submission server
 * (tlsrpt-submission:, e.g. the local MTA that DKIM-signs), with
 * TLS-Required: No (RFC 8689). Deliveries that fail are retried with
 * exponential backoff within the period (§5.4: up to 24 hours); once
 * every rua got it, or the retries are over and at least one got it, the
 * owed report is dropped. A report nobody got stays owed until the next
 * period's report of that domain replaces it; a domain without a (single,
 * valid) TLSRPT record gets none (§3) and its report is dropped.
 *
 * Each report and rua gives one log line starting "TLS-RPT DOMAIN: report
 * ID" then "sent to URI" or "not sent to URI: why".
 *
 * Ownership: borrows base, resolver and store (all must outlive the
 * module); copies the strings of its options.
 *
 * SECURITY: talks HTTPS to whatever host a domain's TXT record names
 * (under PKIX), and SMTP to the configured submission server; the TXT
 * record is parsed strictly and a mailto address that could inject a
 * header or an SMTP command is refused.
 */
#ifndef DANEGATE_RELAY_TLSRPT_SEND_H
#define DANEGATE_RELAY_TLSRPT_SEND_H

#include <stddef.h>

struct curl_thread;
struct event_base;
struct danegate_resolver;
struct tlsrpt;
struct tlsrpt_send;

struct tlsrpt_send_options {
	struct event_base *base;
	struct danegate_resolver *resolver;	/* asynchronous, on base */
	struct tlsrpt *store;
	const char *organization;	/* organization-name */
	const char *contact;		/* contact-info */
	const char *submitter;		/* our domain: TLS-Report-Submitter,
					 * report-id, Message-ID, file name */
	const char *mail_from;		/* envelope sender and From: */
	const char *submission;		/* "ADDR[@PORT]"; NULL: mailto: ruas
					 * are not served */
	const char *ca_file;		/* https: PKIX roots; NULL: system's */
	struct curl_thread *smtp_thread;	/* runs the mailto:
					 * submissions (curl_thread.h); the
					 * caller's, outlives the sender;
					 * NULL: mailto: ruas are not served */
	unsigned interval_s;		/* 0: 86400 */
	unsigned max_delay_s;		/* random delay after a boundary */
	unsigned timeout_s;		/* per delivery attempt; 0: 60 */
};

/*
 * Starts the schedule; reports still owed from before a restart are sent
 * at once. 0, DANEGATE_E_INVALID or DANEGATE_E_NOMEM.
 */
int tlsrpt_send_new(const struct tlsrpt_send_options *opts,
    struct tlsrpt_send **out);

/* Ends the period now and sends (danegate-relay's SIGUSR1). */
void tlsrpt_send_now(struct tlsrpt_send *ts);

/* Reports sent and failed since start (each rua counted once). */
void tlsrpt_send_stats(const struct tlsrpt_send *ts, unsigned long *sent,
    unsigned long *failed);

/* Stops: deliveries in flight are abandoned (their reports stay owed). */
void tlsrpt_send_free(struct tlsrpt_send *ts);

/*
 * The §5.3 message for one mailto: rua (exposed for the unit test):
 * CRLF lines, headers then a multipart/report with a text part and the
 * gzip report in base64. report_id from the JSON; start/end the date
 * range; now the Date:. Caller frees *msg.
 */
int tlsrpt_mail_compose(const char *from, const char *to,
    const char *submitter, const char *domain, const char *report_id,
    long long start, long long end, const unsigned char *gz, size_t gzlen,
    long long now, char **msg);

/*
 * The address of a mailto: URI (RFC 6068: percent-decoded, ?query
 * ignored) if it is one plain addr-spec; DANEGATE_E_INVALID otherwise
 * (several addresses, blanks, control bytes, <>, quotes). *addr malloc'd.
 */
int tlsrpt_mailto_addr(const char *uri, char **addr);

#endif
