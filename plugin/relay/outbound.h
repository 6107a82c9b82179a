/*
 * outbound.h - danegate-relay's outbound side: one SMTP transaction to one
 * destination domain, delivered under DANE (RFC 7672), the policy table
 * and the exemption list, never downgraded.
 *
 * The front (SMTP/LMTP server sessions) opens one struct outbound per
 * destination domain of a transaction and drives it with one request at a
 * time: outbound_open() (MAIL FROM), outbound_rcpt() for each recipient,
 * outbound_data_begin(), outbound_data_write()* and outbound_data_end().
 * Each request is answered by exactly one on_reply() call, always from
 * the event loop (never from inside the call that made the request). The
 * next request may be made from inside on_reply() or later, never before:
 * a request made while another is outstanding returns DANEGATE_E_INVALID.
 * outbound_data_write() is the exception: it is answered by its return
 * value (and on_drain when the buffer has room again), not by on_reply.
 *
 * Replies are what the front should send to its own client:
 *  - the remote's own reply, code and text, when there was one (RCPT 5xx
 *    stays 5xx, 4xx stays 4xx; the final reply to the dot is the
 *    remote's);
 *  - otherwise ours: 4xx for every temporary failure (DNS, connect, TLS,
 *    DANE mismatch, policy table, timeouts), 5xx only for the permanent
 *    ones (null MX: 556 5.1.10; SMTPUTF8 needed but not offered: 550
 *    5.6.7). The text starts with the enhanced status code and, for TLS
 *    policy failures, carries the RFC 8460 result type and the host:
 *    "4.7.5 starttls-not-supported: mx1.example.net[192.0.2.1]: STARTTLS
 *    not offered" (RFC 8460 §4.3: dane-required is for a host without
 *    usable TLSA under the dane-only policy)
 *
 * After a failed outbound_open() (code >= 400) the transaction is dead:
 * every further request fails with 4xx/5xx alike; free it. A failed RCPT
 * does not end it. outbound_data_begin() needs at least one accepted RCPT.
 *
 * Every attempt (per recipient, Postfix style) is logged once through
 * lib/log.h at notice level:
 *   to=<rcpt>, relay=mx1.example.net[192.0.2.1]:25, delay=0.31,
 *   dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Xz), tls=Verified TLS
 *   (DANE-EE 3 1 1)
 *
 * SECURITY: talks to remote SMTP servers on port 25 (plaintext until
 * STARTTLS) and to the validating resolver, with the relay's unprivileged
 * identity. Remote replies go through plugin/smtp_reply.c's bounded
 * parser; text passed back to the front is printable ASCII only. Nothing
 * the remote says is sent before the TLS verdict where TLS is required.
 *
 * Ownership: the env borrows its event base, resolver, policy table and
 * exemption list (they must outlive it) and owns its MTA-STS cache
 * (plugin/sts.h); an outbound copies what it needs
 * from its arguments, so callers may free them when the call returns.
 */
#ifndef DANEGATE_RELAY_OUTBOUND_H
#define DANEGATE_RELAY_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin/danegate.h"

struct event_base;
struct policy_table;		/* policy_table.h */
struct exemptions;		/* policy_table.h */
struct tlsrpt;			/* tlsrpt.h */
struct sts;			/* plugin/sts.h */

/* ---- the process-wide environment --------------------------------------- */

/*
 * Timeouts in milliseconds, per RFC 5321 §4.5.3.2 (the defaults, used
 * where a field is 0): connect 30 s (not in the RFC: Postfix's
 * smtp_connect_timeout), greeting 5 min, EHLO/HELO 5 min, STARTTLS and
 * handshake 5 min, MAIL 5 min, RCPT 5 min, DATA 2 min, each data block 3
 * min, after the dot 10 min. The front's own client has a 10-minute
 * DATA timeout (RFC 5321 §4.5.3.2.6), so the relay caps data_end_ms at
 * 8 minutes: its 4xx must reach the client before that client gives up.
 */
struct outbound_timeouts {
	unsigned connect_ms, greeting_ms, ehlo_ms, starttls_ms, mail_ms,
	    rcpt_ms, data_ms, block_ms, data_end_ms;
};

struct outbound_env_options {
	struct event_base *base;		/* borrowed */
	struct danegate_resolver *resolver;	/* borrowed, async on base */
	const char *helo_name;		/* our EHLO name; NULL: host name */
	const char *ca_file;		/* PKIX trust (verify/secure, MTA-STS);
					 * NULL: the system's */
	const struct policy_table *policies;	/* borrowed, NULL: none */
	struct exemptions *exemptions;	/* borrowed, NULL: none (use counts
					 * are written into it) */
	uint16_t port;			/* connect there instead of 25; the
					 * TLSA records are still port 25's
					 * (tests: a stand-in server beside
					 * the real one); 0: 25 */
	struct outbound_timeouts timeouts;
	size_t data_buffer;		/* bytes buffered towards the remote
					 * before on_drain; 0: 64 KiB */
	unsigned reuse_max;		/* idle verified sessions kept; 0: 8,
					 * and reuse can be turned off with
					 * no_reuse */
	unsigned reuse_idle_ms;		/* kept that long; 0: 10 s */
	bool no_reuse;
	unsigned dest_limit;		/* connections per destination domain
					 * (open, being set up or kept); a
					 * transaction beyond it waits for a
					 * session to free up; 0: 20 */
	unsigned dest_wait_ms;		/* ... at most that long, then 451
					 * 4.4.5; 0: 60 s */
	const char *sts_cache_dir;	/* MTA-STS policies kept there across
					 * restarts; NULL: in memory only */
	struct tlsrpt *tlsrpt;		/* RFC 8460 counts, borrowed; NULL:
					 * no TLS reporting */
};

struct outbound_env;

/*
 * Creates the shared state of the outbound side: options copied, the
 * connection cache empty. Returns 0 and sets *out, or a negative
 * DANEGATE_E_* code (DANEGATE_E_INVALID: no base/resolver, a bad HELO
 * name or CA file).
 */
int outbound_env_new(const struct outbound_env_options *opts,
    struct outbound_env **out);

/*
 * Swaps the policy table and exemption list (SIGHUP reload); transactions
 * already open keep the decision they made, cached sessions made under
 * another policy are closed. Both borrowed, NULL: none.
 */
void outbound_env_set_policies(struct outbound_env *env,
    const struct policy_table *policies, struct exemptions *exemptions);

/* Starts (or stops, NULL) counting sessions for TLS reporting; borrowed:
 * main.c opens the counts only after the privilege drop. */
void outbound_env_set_tlsrpt(struct outbound_env *env, struct tlsrpt *t);

/*
 * The submission routes (relay_conf.h) transactions may be bound to;
 * borrowed until the next call (main.c: at start and after a reload).
 * An outbound looks its route up by name at each use, so a reload that
 * drops a route fails the transactions still waiting for it (4xx).
 */
struct relay_route;
void outbound_env_set_routes(struct outbound_env *env,
    const struct relay_route *routes, size_t n);
/*
 * The policy a delivery attempt ran under, for metrics: a policy table
 * entry (by its level) wins, then an exemption or RFC 8689's
 * TLS-Required: No that softened it, then the DNS verdict (DANE where the
 * MX host has secure TLSA records), MTA-STS, else opportunistic TLS;
 * unknown when the attempt failed before a policy was known (DNS).
 */
enum outbound_policy {
	OB_POLICY_UNKNOWN = 0,
	OB_POLICY_DANE,
	OB_POLICY_STS,
	OB_POLICY_OPPORTUNISTIC,
	OB_POLICY_EXEMPTION,
	OB_POLICY_TLS_REQUIRED_NO,
	OB_POLICY_TABLE,		/* + enum policy_level */
	OB_POLICY_COUNT = OB_POLICY_TABLE + 7,
};

/* Submission routes (issue 9): tokens and the smarthost's AUTH. */
enum outbound_oauth2 {
	OB_OAUTH2_CACHED,		/* token from the cache */
	OB_OAUTH2_REFRESHED,		/* renewed with the refresh token */
	OB_OAUTH2_REQUESTED,		/* a new token */
	OB_OAUTH2_REFUSED,		/* the endpoint refused: 535 */
	OB_OAUTH2_UNAVAILABLE,		/* outage, throttling...: 4xx */
	OB_OAUTH2_AUTH_OK,		/* smarthost: 235 */
	OB_OAUTH2_AUTH_RETRY,		/* 535 to a cached token: new one */
	OB_OAUTH2_AUTH_DISABLED,	/* 5.7.139: SMTP AUTH disabled */
	OB_OAUTH2_AUTH_REFUSED,		/* any other refusal */
	OB_OAUTH2_COUNT,
};
#define OB_AADSTS_MAX 16

/* Outcomes of a recipient's attempt: sent, deferred, bounced. */
#define OB_OUTCOMES 3

/* Counters since outbound_env_new(), for metrics. */
struct outbound_stats {
	unsigned long transactions;	/* outbound_open() calls */
	unsigned long sessions;		/* TCP connections made */
	unsigned long reused;		/* transactions on a cached session */
	unsigned long resumed;		/* TLS sessions resumed */
	unsigned long waited;		/* transactions that waited for a
					 * connection (dest_limit) */
	unsigned long wait_timeouts;	/* ... and got 451 4.4.5 */
	unsigned long sent, deferred, bounced;	/* per recipient, logged */
	/* the relay's own failures (not the remote's replies), by the
	 * reason in their text: RFC 8460 result types and the rest */
	unsigned long failures[DANEGATE_R_COUNT];
	unsigned long exemptions_used, exemptions_refused;
	unsigned long tls_required_no;	/* RFC 8689 requests that mattered */
	unsigned in_flight;		/* transactions open now (gauge) */
	unsigned kept;			/* idle sessions kept for reuse now */
	/* per recipient attempt: policy, outcome (sent, deferred,
	 * bounced), RFC 8460 result type (the reply's reason) */
	unsigned long attempts[OB_POLICY_COUNT][OB_OUTCOMES]
	    [DANEGATE_R_COUNT];
	unsigned long oauth2[OB_OAUTH2_COUNT];
	struct {
		unsigned code;		/* AADSTS code, 0: none or unknown */
		unsigned long n;
	} aadsts[OB_AADSTS_MAX];	/* token refusals by code */
};

void outbound_env_stats(const struct outbound_env *env,
    struct outbound_stats *out);

/* The env's MTA-STS (its cache, for danegate-control), or NULL. */
struct sts *outbound_env_sts(const struct outbound_env *env);

/* The routes' token cache (one for all routes, keyed by mailbox), or
 * NULL. */
struct oauth2_cache *outbound_env_token_cache(const struct outbound_env *env);

/*
 * The password grant's check at AUTH (issue 9): whether the token
 * endpoint takes mailbox's own password on route (a password-grant
 * route), before the client is told 235. A token cached for that very
 * password answers at once; otherwise the endpoint's address is looked up
 * through the resolver and the token worker asks the endpoint, and the
 * token it gets is cached for the transactions that follow. The verdict,
 * an AUTH reply: 235 2.7.0; 535 5.7.8 with the endpoint's cause (a wrong
 * password: nothing cached); 454 4.7.0 for an outage or anything else
 * that may pass (RFC 4954 §6), never 5xx for those.
 * Returns 1 with the verdict in *now (no callback); 0 with *out, and
 * cb(arg, verdict) is called once from the loop, never before this
 * returns, unless outbound_token_check_cancel(*out) comes first; or a
 * negative DANEGATE_E_* code (DANEGATE_E_INVALID: no such password-grant
 * route). The password is copied and wiped when the check ends.
 */
struct outbound_token_check;
struct outbound_reply;
typedef void outbound_token_check_fn(void *arg,
    const struct outbound_reply *verdict);
int outbound_token_check(struct outbound_env *env, const char *route,
    const char *mailbox, const char *password, outbound_token_check_fn *cb,
    void *arg, struct outbound_reply *now, struct outbound_token_check **out);

/* Drops a check still waiting: its callback will not be called. Accepts
 * NULL. */
void outbound_token_check_cancel(struct outbound_token_check *tc);

/* Closes the cached sessions (QUIT), frees the env; outbounds still open
 * must be freed before. Accepts NULL. */
void outbound_env_free(struct outbound_env *env);

/* ---- one transaction ---------------------------------------------------- */

/* One complete SMTP reply to relay on. */
struct outbound_reply {
	int code;			/* 250, 354, 451, 550 ... */
	char text[512];			/* "2.1.5 Ok" or "4.7.5 dane-required:
					 * mx1.example.net[192.0.2.1]:
					 * STARTTLS not offered"; enhanced
					 * code first, printable ASCII */
	bool remote;			/* the remote server said it (false: the
					 * relay's own verdict) */
	enum danegate_reason reason;	/* RFC 8460 result type of a TLS policy
					 * failure, or the outcome:
					 * DANE_VERIFIED, NONE, ... */
};

struct outbound_callbacks {
	/* the answer to the last request (open/rcpt/data_begin/data_end);
	 * r is borrowed for the call */
	void (*on_reply)(void *arg, const struct outbound_reply *r);
	/* the DATA buffer has room again after outbound_data_write() said
	 * it was full; may be NULL if the front never writes past full */
	void (*on_drain)(void *arg);
};

/* MAIL FROM and its parameters, passed on when the remote offers them. */
struct outbound_envelope {
	const char *sender;		/* "" for the null sender, no <> */
	long long size;			/* SIZE=, -1 if none */
	const char *body;		/* "8BITMIME", "7BIT" or NULL */
	bool smtputf8;			/* SMTPUTF8: 5.6.7 if not offered */
	const char *ret, *envid;	/* DSN RET=, ENVID= (xtext) or NULL */
	bool tls_required_no;		/* RFC 8689 "TLS-Required: No": the
					 * DANE/policy verdict is not enforced
					 * (TLS is still tried); logged */
	/* Submission route (issue 9); owned by the route, set by the front. */
	const char *route;		/* route name (relay.conf "route NAME
					 * { ... }"), or NULL: normal MX
					 * delivery to domain */
	const char *auth_mailbox;	/* the SASL user sent with AUTH
					 * XOAUTH2 (the Exchange mailbox);
					 * required when route is set */
	const char *auth_password;	/* ROPC grant only (else NULL); the
					 * front wipes it after the
					 * transaction, outbound keeps no
					 * copy beyond the token request */
};

struct outbound;

/*
 * Starts a transaction to domain (an ASCII or A-label mail domain) and
 * returns at once: looks up the destination (danegate_destination_lookup
 * _async), applies the policy, connects to the MX addresses in order (or
 * takes a cached session), EHLO, STARTTLS, the TLS verdict, then MAIL
 * FROM. With dest_limit connections to domain already counted it first
 * waits (FIFO) for one to be handed over or closed, at most
 * dest_wait_ms, then answers 451 4.4.5. cb->on_reply follows once with the remote's reply to MAIL FROM or
 * the relay's 4xx/5xx. Returns NULL (nothing will call back) only when
 * memory runs out or an argument is invalid; *err says which if err is not
 * NULL. The outbound is the caller's until outbound_free().
 *
 * With from->route (a route of outbound_env_set_routes()), the
 * transaction goes to the route's smarthost instead (issue 9): its
 * address through the resolver, the token from the cache or the token
 * worker (token_worker.h), STARTTLS with a PKIX chain for the smarthost's
 * name (never plaintext), AUTH XOAUTH2 as from->auth_mailbox, then MAIL
 * FROM as above. A smarthost's 535 to a cached token drops it and
 * retries once with a new one. Token refusals answer 535 5.7.8, an
 * endpoint outage and the smarthost's refusals (5.7.139 included) 451
 * 4.7.0, each with the cause; an unknown route or a missing mailbox (or
 * password, for the password grant) is DANEGATE_E_INVALID: such a
 * transaction never falls back to MX delivery.
 */
struct outbound *outbound_open(struct outbound_env *env, const char *domain,
    const struct outbound_envelope *from, const struct outbound_callbacks *cb,
    void *arg, int *err);

/*
 * RCPT TO:<rcpt> (no angle brackets) with the DSN parameters dsn_params
 * ("NOTIFY=... ORCPT=...", passed on only if the remote offers DSN; NULL:
 * none). on_reply: the remote's reply, or ours. Returns 0 or
 * DANEGATE_E_INVALID (request outstanding, bad address, after DATA).
 */
int outbound_rcpt(struct outbound *o, const char *rcpt,
    const char *dsn_params);

/* DATA; on_reply: 354 or an error. 0 or DANEGATE_E_INVALID. */
int outbound_data_begin(struct outbound *o);

/*
 * Bytes of the message as the front received them (dot-stuffed, CRLF
 * lines, without the final ".\r\n"), in any pieces. Returns 0 if accepted
 * with room for more, 1 if accepted and the buffer is now full (wait for
 * on_drain before writing more), or a negative code (DANEGATE_E_INVALID:
 * not in DATA or written while full; the transaction already failed:
 * DANEGATE_E_NETWORK — outbound_data_end() will then answer 4xx). Bounded
 * buffers only: no copy of the whole message is ever kept.
 */
int outbound_data_write(struct outbound *o, const void *buf, size_t len);

/*
 * Ends the message: sends ".", on_reply: the remote's own final reply,
 * sent only after it arrived (or 4xx on timeout / failure). 0 or
 * DANEGATE_E_INVALID.
 */
int outbound_data_end(struct outbound *o);

/*
 * Ends the transaction: after a completed delivery the verified session
 * goes back to the env's cache (RSET) if reuse is allowed, otherwise QUIT.
 * Never calls back after it; accepts NULL.
 */
void outbound_free(struct outbound *o);

/* "Verified TLS (DANE-EE 3 1 1)", "Trusted TLS", "Untrusted TLS",
 * "Anonymous TLS" or "none": the session's TLS as the log line names it,
 * valid after a successful open (for the front's Received: comment). */
const char *outbound_tls_summary(const struct outbound *o);

/* "mx1.example.net[192.0.2.1]:25" after a successful open, "" before. */
const char *outbound_relay_name(const struct outbound *o);

#endif
