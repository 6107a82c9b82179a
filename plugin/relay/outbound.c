/*
 * outbound.c - danegate-relay's outbound side: one SMTP transaction to one
 * destination domain (see outbound.h for the contract with the front).
 *
 * The decision is the engine's: danegate_destination_lookup_async() gives
 * the RFC 7672 verdict per MX host (dest_evaluate()), and after STARTTLS
 * smtp_session_judge() matches the peer's chain exactly as the probe and
 * tlsa-check do. This file only adds what a sender needs on top:
 *
 *   per host, what the session requires (policy table level x engine):
 *     level none             no STARTTLS at all
 *     level may              STARTTLS if offered, no authentication
 *     level encrypt          STARTTLS required, no authentication
 *     level dane (default)   engine dane: STARTTLS + TLSA match
 *                            engine encrypt: STARTTLS required
 *                            engine may: as level may
 *                            engine defer: host skipped (4.7.5, its reason)
 *     level dane-only        as dane, but a host without usable TLSA is
 *                            skipped (dane-required)
 *     level verify, secure   STARTTLS + PKIX chain (CA file) + match=
 *   MTA-STS (level dane, host without usable TLSA: DANE wins): the
 *   domain's policy from the engine's sts module (cached, refreshed);
 *     enforce                MX fits an mx pattern, else skipped
 *                            (validation-failure); STARTTLS + PKIX chain
 *                            for the MX name, SNI = MX name
 *     testing                the same checked and logged, never blocking
 *   an active exemption or "TLS-Required: No" (RFC 8689) turns every TLS
 *   failure of that message into opportunistic delivery, logged (and the
 *   exemption counted) each time it makes a difference.
 *
 *   order: MX hosts by preference, random among equals (RFC 5321 §5.1),
 *   every address of each until one accepts MAIL FROM; the error kept
 *   for the front is the last one. Null MX: 556 5.1.10 (RFC 7505).
 *
 *   where TLS may be left out (and only there): a handshake that fails
 *   retries the same address once in plaintext, and a refused EHLO falls
 *   back to HELO (RFC 5321 §3.2), as Postfix does.
 *
 * Nothing but EHLO, STARTTLS and QUIT is sent before the TLS verdict where
 * TLS is required: a host that does not offer STARTTLS, fails the
 * handshake or presents a chain that does not match is left with QUIT and
 * the next address is tried; when none is left the front gets 4xx.
 *
 * Events: one struct conn per remote session (socket, GnuTLS session,
 * reply parser, a bounded output buffer); its read/write/timer events run
 * the owning outbound's state machine. Callbacks to the front run only
 * from zero-delay events of their own (ev_reply, ev_drain) and nothing
 * touches the outbound after them, so the front may free it inside.
 *
 * Reuse: after a transaction a session whose TLS was authenticated goes
 * to the env's cache (at most reuse_max, each for reuse_idle_ms), keyed by
 * domain and policy; the next transaction to that domain under the same
 * policy starts with RSET on it instead of DNS + TCP + TLS. GnuTLS session
 * tickets of each address are kept for resumption.
 *
 * Concurrency: at most dest_limit connections per destination domain
 * (see "per-destination concurrency" below); a transaction beyond it
 * waits for a session that ends its transaction, which goes straight to
 * it, rather than opening connections the receiver refuses or queues.
 *
 * SECURITY: talks to remote SMTP servers on port 25 and, through
 * libdanegate, to the validating resolver; runs unprivileged. Remote
 * replies are parsed by smtp_reply.c (bounded, never allocating); their
 * text reaches the front and the log only as printable ASCII. Envelope
 * strings from the front are checked for CR, LF and controls before they
 * go into a command. Bytes a server sends after its 220 to STARTTLS
 * (STARTTLS injection) fail the session.
 *
 * Ownership: see outbound.h. A destination lookup in flight holds a
 * small ticket rather than the outbound, so freeing an outbound during
 * its lookup is safe: the late answer is dropped.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"
#include "plugin/dest.h"
#include "plugin/internal.h"
#include "plugin/smtp_reply.h"
#include "plugin/sts.h"
#include "plugin/lookup.h"
#include "plugin/resolver.h"
#include "plugin/relay/oauth2.h"
#include "plugin/relay/outbound.h"
#include "plugin/relay/policy_table.h"
#include "plugin/relay/relay_conf.h"
#include "plugin/relay/tlsrpt.h"
#include "plugin/relay/token_worker.h"

#define OB_DATA_BUFFER_DEFAULT	(64u * 1024)
#define OB_REUSE_MAX_DEFAULT	8
#define OB_REUSE_IDLE_DEFAULT	10000
#define OB_DEST_LIMIT_DEFAULT	20	/* Postfix's default_destination_
					 * concurrency_limit */
#define OB_DEST_WAIT_DEFAULT	60000
#define OB_DATA_END_CAP_MS	(8u * 60 * 1000)
#define OB_GOODBYE_MS		2000
#define OB_SENDER_MAX		512	/* RFC 5321 §4.5.3.1.3: path 256 */
#define OB_PARAMS_MAX		512
#define OB_CMD_MAX		(OB_SENDER_MAX + OB_PARAMS_MAX + 64)
#define OB_TICKETS_MAX		64	/* resumption data kept, by address */

/* What a session to one host must achieve. */
enum need_auth {
	AUTH_NONE,		/* TLS if offered (try) or required */
	AUTH_DANE,		/* the host's usable TLSA records */
	AUTH_PKIX,		/* CA file chain + match= names */
	AUTH_STS,		/* MTA-STS enforce: CA file chain + MX name */
	AUTH_ROUTE,		/* a route's smarthost: CA file chain + its
				 * name, never plaintext */
};

struct need {
	bool try_tls;		/* send STARTTLS when offered */
	bool tls_required;	/* no STARTTLS, no handshake: fail */
	enum need_auth auth;
	bool sts_testing;	/* MTA-STS testing: check PKIX, log only */
	/* MTA-STS testing, the host matches no mx pattern: reported
	 * (validation-failure), never blocking */
	enum danegate_reason sts_testing_fail;
};

enum ob_state {
	OB_LOOKUP,		/* waiting for the destination */
	OB_CONNECT,
	OB_BANNER,
	OB_EHLO,
	OB_STARTTLS,
	OB_HANDSHAKE,
	OB_EHLO_TLS,		/* EHLO again, inside TLS (RFC 3207 §4.2) */
	OB_HELO,		/* EHLO refused, TLS not required */
	OB_RSET,		/* a cached session, made ready again */
	OB_AUTH,		/* route: AUTH XOAUTH2 sent */
	OB_TOKEN,		/* route: a new token awaited after a 535 */
	OB_MAIL,
	OB_IDLE,		/* in a transaction, no request outstanding */
	OB_RCPT,
	OB_DATA,
	OB_BODY,		/* message bytes flowing */
	OB_DOT,			/* "." sent, waiting for the final reply */
	OB_DONE,		/* final reply relayed */
	OB_FAILED,		/* dead: every request gets fail_reply */
};

enum io {
	IO_OK,
	IO_WAIT,
	IO_FAIL,
};

struct outbound;

/* One remote SMTP session. */
struct conn {
	struct outbound_env *env;
	struct outbound *owner;		/* NULL while cached */
	struct conn *next;		/* in the env's cache */
	int fd;
	struct event *ev_read, *ev_write, *ev_timer;
	gnutls_session_t tls;
	bool tls_on;
	bool send_again;		/* GnuTLS said E_AGAIN: retry with NULL */
	struct smtp_reply_parser reply;
	uint8_t in[4096];
	size_t in_pos, in_len;
	char *out;			/* out[out_pos..out_len) goes out next */
	size_t out_pos, out_len, out_cap;
	unsigned ext;			/* SMTP_EXT_* of the last EHLO */
	bool verified;			/* TLS authenticated (DANE or PKIX) */
	char key[DANEGATE_NAME_MAX + 32];	/* reuse: domain + policy */
	unsigned long generation;	/* of the env's policies */
	char host[DANEGATE_NAME_MAX];
	char addr[64];
	char relay[DANEGATE_NAME_MAX + 80];	/* host[addr]:port */
	char tls_summary[96];
	unsigned uses;
	char domain[DANEGATE_NAME_MAX];	/* its destination's slot */
	bool holds_slot;		/* counted in that slot (cached) */
};

/* One destination domain's connections: open, being set up, or kept;
 * transactions wait in FIFO order when there are dest_limit of them. */
struct dest_slot {
	struct dest_slot *next;
	unsigned n;			/* connections counted */
	bool kicking;			/* slot_kick() runs on it */
	struct outbound *wait_head, *wait_tail;
	char domain[DANEGATE_NAME_MAX];
};

/* Resumption data per address and SNI (small, bounded, FIFO). */
struct ticket {
	char key[DANEGATE_NAME_MAX + 80];
	gnutls_datum_t data;
};

struct outbound_env {
	struct event_base *base;
	struct danegate_resolver *resolver;
	char helo[256];
	gnutls_certificate_credentials_t cred;
	const struct policy_table *policies;
	struct exemptions *exemptions;
	unsigned long generation;
	uint16_t port;
	struct outbound_timeouts t;
	size_t data_buffer;
	unsigned reuse_max, reuse_idle_ms;
	bool no_reuse;
	struct conn *cache;
	unsigned n_cache;
	unsigned dest_limit, dest_wait_ms;
	struct dest_slot *dests;	/* those with a connection or a
					 * waiting transaction */
	struct ticket tickets[OB_TICKETS_MAX];
	unsigned n_tickets, next_ticket;
	struct outbound_stats stats;
	struct sts *sts;		/* MTA-STS policies and their cache */
	struct tlsrpt *tlsrpt;
	/* submission routes (issue 9) */
	const struct relay_route *routes;	/* borrowed */
	size_t n_routes;
	struct token_worker *tokens;
};

/* A route's A and AAAA lookups (the smarthost's, or the token
 * endpoint's): done(owner, q) once both answered, unless the owner let
 * go first (owner NULL: the last answer frees it). */
struct addr_query {
	void *owner;
	struct addr_query **slot;	/* the owner's pointer to it,
					 * cleared before done() */
	void (*done)(void *owner, struct addr_query *q);
	int pending;
	char name[DANEGATE_NAME_MAX];
	uint16_t port;
	struct danegate_address addrs[16];
	size_t n;
	char why[256];
};

/* What the destination lookup (and the MTA-STS lookup) calls back with: the outbound, or NULL
 * once it was freed. */
struct lookup_ticket {
	struct outbound *o;
};

struct rcpt {
	char *addr;
	bool accepted;
};

struct outbound {
	struct outbound_env *env;
	char domain[DANEGATE_NAME_MAX];
	char sender[OB_SENDER_MAX + 1];
	long long size;
	char body[16];
	bool smtputf8;
	char ret[16], envid[128];
	bool tls_required_no;
	struct outbound_callbacks cb;
	void *arg;

	struct lookup_ticket *lookup;
	struct danegate_destination *dest;
	size_t order[DEST_MAX_HOSTS + 1];
	size_t n_order, host_i, addr_i;
	const struct danegate_mx_host *host;	/* being tried */
	const struct danegate_address *address;
	struct need need;
	bool plain_retry;		/* this address again, without TLS */
	struct danegate_smtp_result *judged;	/* of the current session */

	/* the policy, copied at open: reloads do not change it */
	enum policy_level level;
	struct policy_entry pol;
	bool has_pol;
	bool exempt;			/* an exemption applies */
	char exempt_reason[256];
	char exempt_until[11];
	bool soft;			/* exempt or TLS-Required: No */
	struct sts_answer *sts;		/* the domain's MTA-STS, NULL: none
					 * asked (DANE, or a policy table
					 * level other than dane) */
	enum danegate_reason sts_fail;	/* published, no policy fetched (and
					 * none cached): reported as sts */

	struct conn *c;
	bool holds_slot;		/* counted in its destination's slot */
	bool waiting;			/* queued for a slot (ev_wait runs) */
	struct outbound *wait_next;
	struct event *ev_wait;
	enum ob_state state;
	bool busy;			/* a request is outstanding */
	struct outbound_reply reply;	/* the one being delivered */
	struct outbound_reply fail;	/* the last failure, for the front */
	bool have_fail;
	struct event *ev_reply, *ev_drain;

	struct rcpt *rcpts;
	size_t n_rcpts;
	char *cur_rcpt;			/* RCPT being asked */
	struct timeval start;

	/* a submission route (issue 9): the smarthost instead of the MX */
	bool routed;
	uint16_t port;			/* where to connect */
	char route[64];			/* looked up again at each use: a
					 * reload may replace the conf */
	char mailbox[OB_SENDER_MAX + 1];	/* the SASL user */
	char *password;			/* ROPC only; wiped at free */
	char smarthost[DANEGATE_NAME_MAX];
	struct addr_query *aq[2];	/* smarthost, token endpoint */
	bool addrs_ready;
	struct token_wait *twait;
	char *token;			/* wiped at free */
	bool token_cached;		/* from the cache: a 535 may retry */
	bool auth_retried;

	bool data_full;
	bool data_failed;
	char tail[2];			/* last two bytes written */
	bool any_data;
};

static void ob_run(struct outbound *o);
static void ob_restart(struct outbound *o);
static void ob_next(struct outbound *o);
static void conn_free(struct conn *c);
static void cache_io_cb(evutil_socket_t fd, short what, void *arg);
static bool ob_auth(struct outbound *o);
static void ob_auth_reply(struct outbound *o, const struct smtp_reply *r);
static int ob_route_start(struct outbound *o);
static int ob_token_start(struct outbound *o);

static void ob_cache_key(const struct outbound *o, char *key, size_t cap);
static void slot_release(struct outbound_env *env, const char *domain);
static void ob_slot_release(struct outbound *o);

/* ---- small helpers ------------------------------------------------------ */

static void
copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void textf(char *dst, size_t cap, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf for texts that may be cut: replies, log fragments. */
static void
textf(char *dst, size_t cap, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(dst, cap, f, ap);
	va_end(ap);
}

static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* A HELO name: a domain or an address literal, nothing else. */
/* Text that goes into a command: printable ASCII or UTF-8, no blanks
 * where blanks_ok is false, never CR, LF or other controls. */
static bool
arg_ok(const char *s, size_t max, bool blanks_ok)
{
	size_t len = strnlen(s, max + 1);

	if (len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (!blanks_ok && c == ' '))
			return false;
		if (c == '<' || c == '>')
			return false;
	}
	return true;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* True if text starts with an RFC 3463 code of class cls: "4.7.5 ". */
static bool
has_enhanced(const char *text, int cls)
{
	size_t i = 0;

	if (text[0] != (char)('0' + cls) || text[1] != '.')
		return false;
	i = 2;
	if (!is_digit(text[i]))
		return false;
	while (i < 5 && is_digit(text[i]))
		i++;
	if (text[i] != '.' || !is_digit(text[i + 1]))
		return false;
	i++;
	for (size_t n = 0; is_digit(text[i]) && n < 3; n++)
		i++;
	return text[i] == ' ' || text[i] == '\0';
}

/* The enhanced code at the start of text, or "C.0.0" for class C. */
static void
dsn_of(const struct outbound_reply *r, char *out, size_t cap)
{
	int cls = r->code / 100;
	size_t n = 0;

	if (has_enhanced(r->text, cls)) {
		while (r->text[n] != ' ' && r->text[n] != '\0' && n + 1 < cap) {
			out[n] = r->text[n];
			n++;
		}
		out[n] = '\0';
		return;
	}
	snprintf(out, cap, "%d.0.0", cls);
}

static void
elapsed(const struct timeval *start, char *out, size_t cap)
{
	struct timeval now, d;

	gettimeofday(&now, NULL);
	timersub(&now, start, &d);
	snprintf(out, cap, "%.2f", (double)d.tv_sec + (double)d.tv_usec / 1e6);
}

/* ---- replies and the log ------------------------------------------------ */

static void ob_set_fail(struct outbound *o, int code, const char *enh,
    enum danegate_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Records our own failure for the front: "ENH [result-type: ]WHERE: WHAT",
 * WHERE the host and address being tried, or the domain.
 */
/*
 * The policy lines of an MTA-STS policy, as RFC 8460 §4.3 wants them in
 * "policy-string" (the policy as served, one element per line: rebuilt
 * from the parsed policy in §3.2's order), and its mx patterns,
 * space-separated, for "mx-host". Returns the number of lines.
 */
static size_t
ob_sts_lines(const struct mta_sts_policy *p, char lines[][DANEGATE_NAME_MAX +
    8], size_t max, char *mx, size_t mxlen)
{
	size_t n = 0, i, off = 0;

	snprintf(lines[n++], sizeof(lines[0]), "version: STSv1");
	snprintf(lines[n++], sizeof(lines[0]), "mode: %s",
	    mta_sts_mode_name(p->mode));
	mx[0] = '\0';
	for (i = 0; i < p->n_mx && n + 1 < max; i++) {
		snprintf(lines[n++], sizeof(lines[0]), "mx: %s", p->mx[i]);
		if (off < mxlen)
			off += (size_t)snprintf(mx + off, mxlen - off, "%s%s",
			    i > 0 ? " " : "", p->mx[i]);
	}
	snprintf(lines[n++], sizeof(lines[0]), "max_age: %ld", p->max_age);
	return n;
}

/*
 * One session attempt's outcome for TLS reporting (RFC 8460 §4.3): the
 * host's TLSA records are the policy when DANE applied; else the
 * MTA-STS policy's lines and mx patterns when one applied (enforce or
 * testing); a policy published but not fetched counts as a failed sts
 * session with the fetch's result type.
 */
static void
ob_tlsrpt(struct outbound *o, bool success, enum danegate_reason reason)
{
	char buf[MTA_STS_MAX_MX + 3][DANEGATE_NAME_MAX + 8], local[64] = "";
	char mx[MTA_STS_MAX_MX * DANEGATE_NAME_MAX];
	const char *strs[MTA_STS_MAX_MX + 3];
	struct tlsrpt_session s = { .domain = o->domain, .success = success,
	    .reason = reason, .type = TLSRPT_POLICY_NONE };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t i, n;

	/* a route's smarthost is no recipient domain's MX */
	if (o->env->tlsrpt == NULL || o->host == NULL || o->routed)
		return;
	s.mx_host = o->host->name;
	s.receiving_ip = o->address != NULL ? o->address->text : NULL;
	if (o->c != NULL && o->c->fd >= 0 && getsockname(o->c->fd,
	    (struct sockaddr *)&ss, &sl) == 0 && getnameinfo(
	    (struct sockaddr *)&ss, sl, local, sizeof(local), NULL, 0,
	    NI_NUMERICHOST) == 0)
		s.sending_ip = local;
	if (o->need.auth == AUTH_DANE) {
		s.type = TLSRPT_POLICY_TLSA;
		for (i = 0; i < o->host->n_tlsa && i < 8; i++)
			if (danegate_tlsa_format(&o->host->tlsa[i], buf[i],
			    sizeof(buf[i])) == 0)
				strs[s.n_policy_strings++] = buf[i];
		s.policy_strings = strs;
	} else if (o->sts != NULL) {
		s.type = TLSRPT_POLICY_STS;
		n = ob_sts_lines(&o->sts->policy, buf, MTA_STS_MAX_MX + 3, mx,
		    sizeof(mx));
		for (i = 0; i < n; i++)
			strs[i] = buf[i];
		s.policy_strings = strs;
		s.n_policy_strings = n;
		s.policy_mx = mx;
	} else if (o->sts_fail != DANEGATE_R_NONE) {
		/* RFC 8460 §4.3.2.2: the policy could not be had */
		s.type = TLSRPT_POLICY_STS;
		s.success = false;
		s.reason = o->sts_fail;
	}
	if (tlsrpt_record(o->env->tlsrpt, &s) != 0)
		log_warnx("%s: TLS-RPT: cannot count the session", o->domain);
}

static void
ob_set_fail(struct outbound *o, int code, const char *enh,
    enum danegate_reason reason, const char *fmt, ...)
{
	char what[300], where[DANEGATE_NAME_MAX + 80];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (o->host != NULL && o->address != NULL)
		snprintf(where, sizeof(where), "%s[%s]", o->host->name,
		    o->address->text);
	else if (o->host != NULL)
		snprintf(where, sizeof(where), "%s", o->host->name);
	else
		snprintf(where, sizeof(where), "%s", o->domain);
	memset(&o->fail, 0, sizeof(o->fail));
	o->fail.code = code;
	o->fail.remote = false;
	o->fail.reason = reason;
	if (reason >= DANEGATE_R_STARTTLS_NOT_SUPPORTED)
		ob_tlsrpt(o, false, reason);
	if (reason >= DANEGATE_R_STARTTLS_NOT_SUPPORTED)
		textf(o->fail.text, sizeof(o->fail.text), "%s %s: %s: %s",
		    enh, danegate_reason_name(reason), where, what);
	else
		textf(o->fail.text, sizeof(o->fail.text), "%s %s: %s", enh,
		    where, what);
	o->have_fail = true;
}

/* The remote's reply, as the front should pass it on. */
static void
reply_from_remote(struct outbound_reply *out, const struct smtp_reply *r)
{
	int cls = r->code / 100;

	memset(out, 0, sizeof(*out));
	out->code = r->code;
	out->remote = true;
	/* a server without ENHANCEDSTATUSCODES: give its class's default
	 * (RFC 3463 §3.1), so that the front's reply always carries one */
	if (r->code != 354 && !has_enhanced(r->text, cls))
		textf(out->text, sizeof(out->text), "%d.0.0 %s", cls,
		    r->text);
	else
		snprintf(out->text, sizeof(out->text), "%s", r->text);
}

static const char *
conn_tls(const struct conn *c)
{
	return c != NULL && c->tls_summary[0] != '\0' ? c->tls_summary : "none";
}

_Static_assert(OB_POLICY_COUNT == OB_POLICY_TABLE + POLICY_LEVEL_SECURE + 1,
    "one table-<level> per policy level");

/* The policy this attempt ran under (see outbound.h). */
static enum outbound_policy
ob_policy_class(const struct outbound *o)
{
	const struct danegate_mx_host *h = o->host;

	if (o->tls_required_no)
		return OB_POLICY_TLS_REQUIRED_NO;
	if (o->exempt)
		return OB_POLICY_EXEMPTION;
	if (o->has_pol && o->level != POLICY_LEVEL_DANE)
		return OB_POLICY_TABLE + o->level;
	if (h == NULL && o->dest != NULL && o->dest->n_hosts > 0)
		h = &o->dest->hosts[0];
	if (h != NULL && (h->policy == DANEGATE_POLICY_DANE ||
	    h->policy == DANEGATE_POLICY_ENCRYPT))
		return OB_POLICY_DANE;
	if (o->sts != NULL)
		return OB_POLICY_STS;
	if (h != NULL && h->policy == DANEGATE_POLICY_MAY)
		return OB_POLICY_OPPORTUNISTIC;
	return o->has_pol ? OB_POLICY_TABLE + o->level : OB_POLICY_UNKNOWN;
}

/* Counts one attempt by policy, outcome and result type; a delivery
 * over a DANE-authenticated session counts as dane-verified/-trusted. */
static void
ob_count(struct outbound *o, const struct outbound_reply *r)
{
	enum outbound_policy p = ob_policy_class(o);
	unsigned outcome = r->code < 400 ? 0 : r->code < 500 ? 1 : 2;
	enum danegate_reason why = r->reason;

	if (r->code < 400 && why == DANEGATE_R_NONE && p == OB_POLICY_DANE &&
	    o->c != NULL && o->c->verified)
		why = o->host != NULL && o->host->trusted_only ?
		    DANEGATE_R_DANE_TRUSTED : DANEGATE_R_DANE_VERIFIED;
	if ((unsigned)why < DANEGATE_R_COUNT)
		o->env->stats.attempts[p][outcome][why]++;
}

/* One Postfix-style line per recipient and attempt. */
static void
ob_log(struct outbound *o, const char *rcpt, const struct outbound_reply *r)
{
	char dsn[32], delay[32];
	const char *status;

	ob_count(o, r);

	dsn_of(r, dsn, sizeof(dsn));
	elapsed(&o->start, delay, sizeof(delay));
	status = r->code < 400 ? "sent" : r->code < 500 ? "deferred" :
	    "bounced";
	if (r->code < 400)
		o->env->stats.sent++;
	else if (r->code < 500)
		o->env->stats.deferred++;
	else
		o->env->stats.bounced++;
	log_notice("to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%d %s), "
	    "tls=%s", rcpt != NULL ? rcpt : "", o->c != NULL ?
	    o->c->relay : "none", delay, dsn, status, r->code, r->text,
	    conn_tls(o->c));
}

static void
ob_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;
	struct outbound_reply r = o->reply;

	(void)fd;
	(void)what;
	o->busy = false;
	/* last thing: the front may free o in there */
	o->cb.on_reply(o->arg, &r);
}

/* Answers the outstanding request from the loop. */
static void
ob_reply(struct outbound *o, const struct outbound_reply *r)
{
	static const struct timeval now = { 0, 0 };

	o->reply = *r;
	evtimer_add(o->ev_reply, &now);
}

static void
ob_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;

	(void)fd;
	(void)what;
	if (o->cb.on_drain != NULL)
		o->cb.on_drain(o->arg);
}

static void
ob_drain(struct outbound *o)
{
	static const struct timeval now = { 0, 0 };

	o->data_full = false;
	evtimer_add(o->ev_drain, &now);
}

/*
 * The transaction is dead: answers the outstanding request with the last
 * failure, logs every accepted recipient as deferred with it.
 */
static void
ob_die(struct outbound *o)
{
	struct outbound_reply r;

	if (!o->have_fail)
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE,
		    "delivery failed");
	r = o->fail;
	if (!r.remote && (unsigned)r.reason < DANEGATE_R_COUNT)
		o->env->stats.failures[r.reason]++;
	if (o->state < OB_IDLE) {
		char dsn[32], delay[32];

		/* no recipient yet: the line names the domain, and the
		 * attempt counts once */
		ob_count(o, &r);
		dsn_of(&r, dsn, sizeof(dsn));
		elapsed(&o->start, delay, sizeof(delay));
		log_notice("to=<@%s>, relay=none, delay=%s, dsn=%s, status=%s "
		    "(%d %s), tls=none", o->domain, delay, dsn, r.code >= 500 ?
		    "bounced" : "deferred", r.code, r.text);
	} else {
		for (size_t i = 0; i < o->n_rcpts; i++)
			if (o->rcpts[i].accepted)
				ob_log(o, o->rcpts[i].addr, &r);
		if (o->state == OB_RCPT && o->cur_rcpt != NULL)
			ob_log(o, o->cur_rcpt, &r);
	}
	if (o->c != NULL) {
		conn_free(o->c);
		o->c = NULL;
	}
	o->state = OB_FAILED;
	ob_slot_release(o);
	if (o->busy)
		ob_reply(o, &r);
	if (o->data_full)
		ob_drain(o);
}

/* ---- the connection ------------------------------------------------------ */

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);

static void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->tls != NULL) {
		/* a best-effort close_notify: the socket is non-blocking */
		if (c->tls_on)
			(void)gnutls_bye(c->tls, GNUTLS_SHUT_WR);
		gnutls_deinit(c->tls);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c);
}

static int
conn_new(struct outbound *o, struct conn **out)
{
	struct conn *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return DANEGATE_E_NOMEM;
	c->env = o->env;
	c->owner = o;
	c->fd = -1;
	c->generation = o->env->generation;
	c->ev_timer = evtimer_new(o->env->base, conn_io_cb, c);
	if (c->ev_timer == NULL) {
		free(c);
		return DANEGATE_E_NOMEM;
	}
	*out = c;
	return 0;
}

/* Room for len more bytes in the output buffer (compacting first). */
static int
conn_reserve(struct conn *c, size_t len)
{
	size_t pending = c->out_len - c->out_pos;
	char *nb;
	size_t cap;

	/* GnuTLS holds the bytes of an interrupted send itself (it is
	 * retried with NULL), so moving ours is safe */
	if (c->out_pos > 0) {
		memmove(c->out, c->out + c->out_pos, pending);
		c->out_len = pending;
		c->out_pos = 0;
	}
	if (c->out_len + len <= c->out_cap)
		return 0;
	cap = c->out_cap == 0 ? 2048 : c->out_cap;
	while (cap < c->out_len + len)
		cap *= 2;
	if ((nb = realloc(c->out, cap)) == NULL)
		return DANEGATE_E_NOMEM;
	c->out = nb;
	c->out_cap = cap;
	return 0;
}

static int
conn_append(struct conn *c, const void *buf, size_t len)
{
	int rc = conn_reserve(c, len);

	if (rc != 0)
		return rc;
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return 0;
}

static void conn_command(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queues a command line and readies the parser for its reply. The
 * arguments were checked (arg_ok), so the line always fits. */
static void
conn_command(struct conn *c, const char *fmt, ...)
{
	char line[OB_CMD_MAX + 3];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = 0;
	line[n++] = '\r';
	line[n++] = '\n';
	if (conn_append(c, line, (size_t)n) != 0)
		c->out_pos = c->out_len;	/* the read then fails */
	smtp_reply_init(&c->reply);
}

static void
conn_timer(struct conn *c, unsigned ms)
{
	struct timeval tv;

	ms_to_tv(ms, &tv);
	evtimer_add(c->ev_timer, &tv);
}

static enum io
conn_wait(struct conn *c, bool want_write)
{
	event_add(want_write ? c->ev_write : c->ev_read, NULL);
	return IO_WAIT;
}

static enum io
conn_wait_tls(struct conn *c)
{
	return conn_wait(c, gnutls_record_get_direction(c->tls) == 1);
}

/* Sends what is queued. err gets a sentence on failure. */
static enum io
conn_flush(struct conn *c, char *err, size_t cap)
{
	while (c->out_pos < c->out_len || c->send_again) {
		size_t len = c->out_len - c->out_pos;
		ssize_t n;

		if (c->tls_on) {
			if (c->send_again)
				n = gnutls_record_send(c->tls, NULL, 0);
			else
				n = gnutls_record_send(c->tls,
				    c->out + c->out_pos,
				    len > 16384 ? 16384 : len);
			if (n == GNUTLS_E_AGAIN ||
			    n == GNUTLS_E_INTERRUPTED) {
				c->send_again = true;
				return conn_wait_tls(c);
			}
			c->send_again = false;
			if (n < 0) {
				snprintf(err, cap, "TLS write failed: %s",
				    gnutls_strerror((int)n));
				return IO_FAIL;
			}
		} else {
			n = send(c->fd, c->out + c->out_pos, len,
			    MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				return conn_wait(c, true);
			if (n < 0) {
				snprintf(err, cap, "write failed: %s",
				    strerror(errno));
				return IO_FAIL;
			}
		}
		c->out_pos += (size_t)n;
	}
	c->out_pos = c->out_len = 0;
	return IO_OK;
}

/* Reads until one complete reply is in c->reply. */
static enum io
conn_read_reply(struct conn *c, char *err, size_t cap)
{
	for (;;) {
		ssize_t n;

		if (c->in_pos < c->in_len) {
			size_t used = 0;
			int rc = smtp_reply_feed(&c->reply, c->in + c->in_pos,
			    c->in_len - c->in_pos, &used);

			c->in_pos += used;
			if (rc == SMTP_REPLY_DONE)
				return IO_OK;
			if (rc < 0) {
				snprintf(err, cap, "malformed reply: %s",
				    smtp_reply_strerror(rc));
				return IO_FAIL;
			}
		}
		c->in_pos = c->in_len = 0;
		if (c->tls_on) {
			n = gnutls_record_recv(c->tls, c->in, sizeof(c->in));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				return conn_wait_tls(c);
			if (n < 0 && gnutls_error_is_fatal((int)n) == 0)
				continue;
			if (n < 0) {
				snprintf(err, cap, "TLS read failed: %s",
				    gnutls_strerror((int)n));
				return IO_FAIL;
			}
		} else {
			n = recv(c->fd, c->in, sizeof(c->in), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return conn_wait(c, false);
			if (n < 0) {
				snprintf(err, cap, "read failed: %s",
				    strerror(errno));
				return IO_FAIL;
			}
		}
		if (n == 0) {
			snprintf(err, cap, "lost connection");
			return IO_FAIL;
		}
		c->in_len = (size_t)n;
	}
}

static enum io
conn_exchange(struct conn *c, char *err, size_t cap)
{
	enum io r = conn_flush(c, err, cap);

	if (r != IO_OK)
		return r;
	return conn_read_reply(c, err, cap);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (c->owner == NULL) {
		cache_io_cb(fd, what, c);
		return;
	}
	if (what & EV_TIMEOUT) {
		struct outbound *o = c->owner;

		/* the step's timer: whatever we waited for did not come */
		event_del(c->ev_read);
		event_del(c->ev_write);
		ob_set_fail(o, 451, "4.4.2", o->state == OB_HANDSHAKE ?
		    DANEGATE_R_VALIDATION_FAILURE : DANEGATE_R_NONE,
		    "timed out %s", o->state == OB_CONNECT ? "connecting" :
		    o->state == OB_BANNER ? "waiting for the greeting" :
		    o->state == OB_HANDSHAKE ? "in the TLS handshake" :
		    o->state == OB_DOT ? "waiting for the reply to the end "
		    "of DATA (the message may have been delivered)" :
		    "waiting for a reply");
		if (o->state == OB_DOT)
			log_warnx("%s: no reply to the end of DATA from %s: "
			    "possible duplicate if the client retries",
			    o->domain, c->relay);
		if (o->state == OB_RSET) {
			/* a cached session gone quiet: start afresh */
			conn_free(c);
			o->c = NULL;
			o->state = OB_LOOKUP;
			ob_restart(o);
		} else if (o->state < OB_IDLE) {
			/* one address failing: the next one */
			ob_next(o);
			ob_run(o);
		} else {
			ob_die(o);
		}
		return;
	}
	ob_run(c->owner);
}

/* ---- the connection cache ------------------------------------------------ */

static void
cache_remove(struct outbound_env *env, struct conn *c)
{
	for (struct conn **p = &env->cache; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			c->next = NULL;
			env->n_cache--;
			return;
		}
	}
}

/* Closes a session nobody owns (QUIT without waiting for the 221 if
 * quit) and frees its destination slot. */
static void
conn_close(struct outbound_env *env, struct conn *c, bool quit)
{
	char domain[DANEGATE_NAME_MAX];
	bool held = c->holds_slot;

	if (quit) {
		char err[64];

		conn_command(c, "QUIT");
		(void)conn_flush(c, err, sizeof(err));
	}
	copy_str(domain, sizeof(domain), c->domain);
	conn_free(c);
	if (held)
		slot_release(env, domain);
}

/* Closes a kept session. */
static void
cache_close(struct outbound_env *env, struct conn *c, bool quit)
{
	cache_remove(env, c);
	conn_close(env, c, quit);
}

/* A cached session woke up: the idle time is over, or the server said
 * something (421, or it closed): either way it goes. */
static void
cache_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	cache_close(c->env, c, (what & EV_TIMEOUT) != 0);
}

static void slot_kick_domain(struct outbound_env *env, const char *domain);

/* Keeps c for the next transaction under the same key (a transaction
 * waiting for its destination gets it at once), or closes it. */
static void
cache_put(struct outbound_env *env, struct conn *c)
{
	char domain[DANEGATE_NAME_MAX];

	if (env->no_reuse || !c->verified || c->generation != env->generation) {
		conn_close(env, c, true);
		return;
	}
	c->owner = NULL;
	event_del(c->ev_write);
	event_del(c->ev_timer);
	c->next = env->cache;
	env->cache = c;
	env->n_cache++;
	event_add(c->ev_read, NULL);
	conn_timer(c, env->reuse_idle_ms);
	copy_str(domain, sizeof(domain), c->domain);
	slot_kick_domain(env, domain);
	while (env->n_cache > env->reuse_max && env->cache != NULL) {
		/* the oldest goes: the list's tail */
		struct conn *old = env->cache;

		while (old->next != NULL)
			old = old->next;
		cache_close(env, old, true);
	}
}

static struct conn *
cache_take(struct outbound_env *env, const char *key)
{
	for (struct conn *c = env->cache; c != NULL; c = c->next) {
		if (strcmp(c->key, key) == 0 &&
		    c->generation == env->generation) {
			cache_remove(env, c);
			event_del(c->ev_read);
			event_del(c->ev_timer);
			return c;
		}
	}
	return NULL;
}

/* ---- per-destination concurrency ------------------------------------------ */

/*
 * At most dest_limit connections per destination domain (Postfix's
 * default_destination_concurrency_limit): a receiver allows one client
 * address only so many (Postfix: smtpd_client_connection_count_limit 50,
 * its smtpd process limit 100; others answer 421). A connection counts
 * from the transaction's lookup until it is closed, also while it is
 * kept for reuse. A transaction beyond the limit waits (FIFO, at most
 * dest_wait_ms) for a kept session under its own policy, or for room; a
 * session that ends a transaction goes straight to the first waiter.
 */

static struct dest_slot *
slot_find(struct outbound_env *env, const char *domain, bool create)
{
	struct dest_slot *ds;

	for (ds = env->dests; ds != NULL; ds = ds->next)
		if (strcasecmp(ds->domain, domain) == 0)
			return ds;
	if (!create || (ds = calloc(1, sizeof(*ds))) == NULL)
		return NULL;
	copy_str(ds->domain, sizeof(ds->domain), domain);
	ds->next = env->dests;
	env->dests = ds;
	return ds;
}

/* Frees a slot nobody uses. */
static void
slot_gc(struct outbound_env *env, struct dest_slot *ds)
{
	if (ds->n != 0 || ds->wait_head != NULL || ds->kicking)
		return;
	for (struct dest_slot **p = &env->dests; *p != NULL; p = &(*p)->next) {
		if (*p == ds) {
			*p = ds->next;
			free(ds);
			return;
		}
	}
}

static void
slot_unwait(struct dest_slot *ds, struct outbound *o)
{
	struct outbound *prev = NULL;

	for (struct outbound *w = ds->wait_head; w != NULL; w = w->wait_next) {
		if (w == o) {
			if (prev == NULL)
				ds->wait_head = w->wait_next;
			else
				prev->wait_next = w->wait_next;
			if (ds->wait_tail == o)
				ds->wait_tail = prev;
			break;
		}
		prev = w;
	}
	o->wait_next = NULL;
	o->waiting = false;
	if (o->ev_wait != NULL)
		event_del(o->ev_wait);
}

/* A kept session to o's destination, under o's policy: RSET, then MAIL
 * FROM (ob_run, from the loop). */
static void
ob_resume(struct outbound *o, struct conn *c)
{
	o->env->stats.reused++;
	c->owner = o;
	o->c = c;
	conn_command(c, "RSET");
	conn_timer(c, o->env->t.mail_ms);
	o->state = OB_RSET;
	/* run from the loop: the reply must not come inside */
	event_active(c->ev_write, EV_WRITE, 0);
}

static int ob_start_lookup(struct outbound *o);

/* Gives the waiting transactions what is free: a kept session under
 * their policy, or room for a connection (closing a kept session under
 * another policy to make it). */
static void
slot_kick(struct outbound_env *env, struct dest_slot *ds)
{
	if (ds->kicking)
		return;		/* the loop below goes on */
	ds->kicking = true;
	while (ds->wait_head != NULL) {
		struct outbound *w = ds->wait_head;
		char key[DANEGATE_NAME_MAX + 32];
		struct conn *c;

		ob_cache_key(w, key, sizeof(key));
		if (!env->no_reuse && (c = cache_take(env, key)) != NULL) {
			slot_unwait(ds, w);
			w->holds_slot = c->holds_slot;
			c->holds_slot = false;
			ob_resume(w, c);
			continue;
		}
		if (ds->n < env->dest_limit) {
			slot_unwait(ds, w);
			ds->n++;
			w->holds_slot = true;
			if (ob_start_lookup(w) != 0) {
				ob_set_fail(w, 451, "4.3.0", DANEGATE_R_NONE,
				    "out of memory");
				ob_die(w);
			}
			continue;
		}
		c = NULL;
		for (struct conn *k = env->cache; k != NULL; k = k->next)
			if (k->holds_slot &&
			    strcasecmp(k->domain, ds->domain) == 0)
				c = k;	/* the oldest */
		if (c == NULL)
			break;
		/* ds->kicking: cache_close()'s release only counts down */
		cache_close(env, c, true);
	}
	ds->kicking = false;
	slot_gc(env, ds);
}

static void
slot_kick_domain(struct outbound_env *env, const char *domain)
{
	struct dest_slot *ds = slot_find(env, domain, false);

	if (ds != NULL && ds->wait_head != NULL)
		slot_kick(env, ds);
}

/* A connection to domain is gone. */
static void
slot_release(struct outbound_env *env, const char *domain)
{
	struct dest_slot *ds = slot_find(env, domain, false);

	if (ds == NULL)
		return;
	if (ds->n > 0)
		ds->n--;
	slot_kick(env, ds);
}

static void
ob_slot_release(struct outbound *o)
{
	if (!o->holds_slot)
		return;
	o->holds_slot = false;
	slot_release(o->env, o->domain);
}

/* Waited dest_wait_ms for a connection: 4xx, the client tries later. */
static void
ob_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;
	struct dest_slot *ds = slot_find(o->env, o->domain, false);

	(void)fd;
	(void)what;
	if (ds != NULL) {
		slot_unwait(ds, o);
		slot_gc(o->env, ds);
	}
	o->env->stats.wait_timeouts++;
	ob_set_fail(o, 451, "4.4.5", DANEGATE_R_NONE, "%u connections to %s "
	    "in use (destination-concurrency-limit), none free within %u s",
	    o->env->dest_limit, o->domain, o->env->dest_wait_ms / 1000);
	ob_die(o);
}

/*
 * Counts a connection for o's destination, or queues o until there is
 * room. Returns 1 (counted), 0 (queued: slot_kick() starts it, or
 * ob_wait_cb() fails it) or DANEGATE_E_NOMEM.
 */
static int
slot_acquire(struct outbound *o)
{
	struct outbound_env *env = o->env;
	struct dest_slot *ds = slot_find(env, o->domain, true);
	struct timeval tv;

	if (ds == NULL)
		return DANEGATE_E_NOMEM;
	if (ds->n < env->dest_limit && ds->wait_head == NULL) {
		ds->n++;
		o->holds_slot = true;
		return 1;
	}
	if (o->ev_wait == NULL &&
	    (o->ev_wait = evtimer_new(env->base, ob_wait_cb, o)) == NULL) {
		slot_gc(env, ds);
		return DANEGATE_E_NOMEM;
	}
	o->waiting = true;
	o->wait_next = NULL;
	if (ds->wait_tail != NULL)
		ds->wait_tail->wait_next = o;
	else
		ds->wait_head = o;
	ds->wait_tail = o;
	ms_to_tv(env->dest_wait_ms, &tv);
	event_add(o->ev_wait, &tv);
	env->stats.waited++;
	/* a kept session under another policy may make room */
	slot_kick(env, ds);
	return 0;
}

/* ---- TLS session resumption ---------------------------------------------- */

static struct ticket *
ticket_find(struct outbound_env *env, const char *key)
{
	for (unsigned i = 0; i < env->n_tickets; i++)
		if (strcmp(env->tickets[i].key, key) == 0)
			return &env->tickets[i];
	return NULL;
}

static void
ticket_key(const struct conn *c, const char *sni, char *out, size_t cap)
{
	snprintf(out, cap, "%s|%s", c->addr, sni);
}

static void
ticket_save(struct outbound_env *env, const struct conn *c, const char *sni)
{
	char key[DANEGATE_NAME_MAX + 80];
	struct ticket *t;
	gnutls_datum_t d = { NULL, 0 };

	if (gnutls_session_get_data2(c->tls, &d) < 0 || d.size == 0)
		return;
	ticket_key(c, sni, key, sizeof(key));
	if ((t = ticket_find(env, key)) == NULL) {
		if (env->n_tickets < OB_TICKETS_MAX) {
			t = &env->tickets[env->n_tickets++];
		} else {
			t = &env->tickets[env->next_ticket];
			env->next_ticket = (env->next_ticket + 1) %
			    OB_TICKETS_MAX;
		}
	}
	gnutls_free(t->data.data);
	copy_str(t->key, sizeof(t->key), key);
	t->data = d;
}

/* ---- the policy ---------------------------------------------------------- */

/*
 * MTA-STS (RFC 8461 §4) for a host without usable TLSA (DANE wins, §2):
 * enforce: the MX name must fit one of the policy's mx patterns (§4.1),
 * else the host is skipped, and the session needs STARTTLS and a PKIX
 * chain for the MX name (§4.2); testing: the same is checked and logged,
 * the message goes anyway (§5).
 */
static bool
ob_sts_need(struct outbound *o, const struct danegate_mx_host *h,
    struct need *n)
{
	const struct sts_answer *a = o->sts;

	if (a == NULL || a->state != STS_POLICY)
		return true;
	if (!mta_sts_mx_matches(&a->policy, h->name)) {
		if (a->policy.mode == MTA_STS_TESTING) {
			log_warnx("%s: MTA-STS testing: %s matches none of the "
			    "policy's mx patterns (validation-failure), "
			    "delivering", o->domain, h->name);
			n->sts_testing_fail = DANEGATE_R_VALIDATION_FAILURE;
			return true;
		}
		ob_set_fail(o, 451, "4.7.5", DANEGATE_R_VALIDATION_FAILURE,
		    "%s matches none of the MTA-STS policy's mx patterns",
		    h->name);
		return false;
	}
	if (a->policy.mode == MTA_STS_TESTING) {
		n->sts_testing = true;
		return true;
	}
	n->try_tls = n->tls_required = true;
	n->auth = AUTH_STS;
	return true;
}

/* What a session to host must achieve under the outbound's policy; false
 * (and the failure recorded) if the host must be skipped. */
static bool ob_sts_need(struct outbound *o, const struct danegate_mx_host *h,
    struct need *n);

static bool
need_for_host(struct outbound *o, const struct danegate_mx_host *h,
    struct need *n)
{
	memset(n, 0, sizeof(*n));
	if (o->routed) {
		/* the token must never cross the network in the clear:
		 * STARTTLS and a PKIX chain for the smarthost's name */
		n->try_tls = n->tls_required = true;
		n->auth = AUTH_ROUTE;
		return true;
	}
	switch (o->level) {
	case POLICY_LEVEL_NONE:
		return true;
	case POLICY_LEVEL_MAY:
		n->try_tls = true;
		return true;
	case POLICY_LEVEL_ENCRYPT:
		n->try_tls = n->tls_required = true;
		return true;
	case POLICY_LEVEL_VERIFY:
	case POLICY_LEVEL_SECURE:
		n->try_tls = n->tls_required = true;
		n->auth = AUTH_PKIX;
		return true;
	case POLICY_LEVEL_DANE:
	case POLICY_LEVEL_DANE_ONLY:
		break;
	}
	switch (h->policy) {
	case DANEGATE_POLICY_DANE:
		n->try_tls = n->tls_required = true;
		n->auth = AUTH_DANE;
		return true;
	case DANEGATE_POLICY_ENCRYPT:
		if (o->level == POLICY_LEVEL_DANE_ONLY)
			break;
		n->try_tls = n->tls_required = true;
		return ob_sts_need(o, h, n);
	case DANEGATE_POLICY_MAY:
		if (o->level == POLICY_LEVEL_DANE_ONLY)
			break;
		n->try_tls = true;
		return ob_sts_need(o, h, n);
	case DANEGATE_POLICY_DEFER:
		/* RFC 7672 §2.2: a TLSA (or address) lookup that failed
		 * cannot be told from an attack: this host is skipped */
		if (o->soft && h->n_addresses > 0) {
			n->try_tls = true;
			return true;
		}
		ob_set_fail(o, 451, "4.7.5", h->reason, "%s", h->why[0] != '\0' ?
		    h->why : danegate_reason_name(h->reason));
		return false;
	case DANEGATE_POLICY_NO_MAIL:
		return false;
	}
	/* dane-only and no usable TLSA */
	if (o->soft) {
		n->try_tls = true;
		return true;
	}
	ob_set_fail(o, 451, "4.7.5", DANEGATE_R_DANE_REQUIRED,
	    "no usable TLSA records (policy dane-only): %s",
	    h->why[0] != '\0' ? h->why : danegate_reason_name(h->reason));
	return false;
}

/*
 * A TLS failure where the message may still go: counts and logs the
 * exemption (or the RFC 8689 request) that lets it. Returns true if the
 * session may go on, false if the failure stands.
 */
static bool
ob_soften(struct outbound *o, const char *what)
{
	if (!o->soft)
		return false;
	if (o->exempt) {
		struct exemption *e = exemptions_find(o->env->exemptions,
		    o->domain);

		if (e != NULL)
			e->uses++;
		o->env->stats.exemptions_used++;
		log_warnx("%s: exemption used (until %s, %s): delivering "
		    "despite: %s", o->domain, o->exempt_until,
		    o->exempt_reason, what);
	} else {
		o->env->stats.tls_required_no++;
		log_warnx("%s: TLS-Required: No (RFC 8689): delivering "
		    "despite: %s", o->domain, what);
	}
	return true;
}

/* A name under pattern ".suffix": one or more labels, then suffix. */
static bool
name_below(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s + 1 && name[n - s - 1] == '.' &&
	    strcasecmp(name + n - s, suffix) == 0;
}

/* Does the leaf carry a name below suffix (DNS SANs; the CN without
 * any)? */
static bool
cert_name_below(gnutls_x509_crt_t crt, const char *suffix)
{
	char name[DANEGATE_NAME_MAX];
	bool any_san = false;

	for (unsigned i = 0;; i++) {
		size_t len = sizeof(name) - 1;
		unsigned critical = 0;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len,
		    &critical);

		if (t < 0)
			break;
		if (t != GNUTLS_SAN_DNSNAME)
			continue;
		any_san = true;
		name[len < sizeof(name) ? len : sizeof(name) - 1] = '\0';
		if (name_below(name, suffix))
			return true;
	}
	if (!any_san) {
		size_t len = sizeof(name) - 1;

		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
		    0, 0, name, &len) == 0) {
			name[len < sizeof(name) ? len : sizeof(name) - 1] =
			    '\0';
			return name_below(name, suffix);
		}
	}
	return false;
}

/*
 * PKIX for verify/secure: the chain up to the CA file, then one of the
 * match= patterns. Returns true if it holds; why says what failed.
 */
static bool
ob_pkix(struct outbound *o, bool sts, enum danegate_reason *reason,
    char *why, size_t cap)
{
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	unsigned status = 0, n = 0;
	bool ok = false;

	peers = gnutls_certificate_get_peers(o->c->tls, &n);
	if (peers == NULL || n == 0) {
		*reason = DANEGATE_R_CERT_NOT_TRUSTED;
		snprintf(why, cap, "no certificate");
		return false;
	}
	if (gnutls_certificate_verify_peers2(o->c->tls, &status) < 0 ||
	    status != 0) {
		gnutls_datum_t out = { NULL, 0 };

		*reason = (status & GNUTLS_CERT_EXPIRED) ?
		    DANEGATE_R_CERT_EXPIRED : DANEGATE_R_CERT_NOT_TRUSTED;
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0) == 0 && out.data != NULL)
			snprintf(why, cap, "%s", (const char *)out.data);
		else
			snprintf(why, cap, "certificate not trusted");
		gnutls_free(out.data);
		return false;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		*reason = DANEGATE_R_CERT_NOT_TRUSTED;
		snprintf(why, cap, "unparseable certificate");
		return false;
	}
	/* MTA-STS (RFC 8461 §4.2): the certificate is for the MX name */
	if (sts)
		ok = gnutls_x509_crt_check_hostname(crt, o->host->name) != 0;
	for (size_t i = 0; !sts && i < o->pol.n_match && !ok; i++) {
		const char *m = o->pol.match[i];

		if (strcmp(m, "hostname") == 0)
			ok = gnutls_x509_crt_check_hostname(crt,
			    o->host->name) != 0;
		else if (strcmp(m, "nexthop") == 0)
			ok = gnutls_x509_crt_check_hostname(crt,
			    o->domain) != 0;
		else if (strcmp(m, "dot-nexthop") == 0)
			ok = cert_name_below(crt, o->domain);
		else if (m[0] == '.')
			ok = cert_name_below(crt, m + 1);
		else
			ok = gnutls_x509_crt_check_hostname(crt, m) != 0;
	}
	gnutls_x509_crt_deinit(crt);
	if (!ok) {
		*reason = DANEGATE_R_CERT_HOST_MISMATCH;
		snprintf(why, cap, o->routed ? "certificate is not for the "
		    "smarthost's name" : sts ? "certificate is not for the MX "
		    "name (MTA-STS)" : "certificate names match none of the "
		    "policy's match= patterns");
	}
	return ok;
}

/* "Verified TLS (DANE-EE 3 1 1)" and its kin, into the conn. */
static void
ob_tls_summary(struct outbound *o, const char *level)
{
	const struct danegate_smtp_result *res = o->judged;
	char *s = o->c->tls_summary;
	size_t cap = sizeof(o->c->tls_summary);

	if (res != NULL && res->match.matched && res->match.record >= 0 &&
	    (size_t)res->match.record < o->host->n_tlsa) {
		const struct danegate_tlsa *t =
		    &o->host->tlsa[res->match.record];

		snprintf(s, cap, "%s TLS (%s %u %u %u)", level,
		    t->usage == 3 ? "DANE-EE" : "DANE-TA", t->usage,
		    t->selector, t->mtype);
	} else if (strcmp(level, "Verified") == 0) {
		snprintf(s, cap, "Verified TLS (PKIX)");
	} else {
		snprintf(s, cap, "%s TLS", level);
	}
}

/*
 * The verdict on the fresh TLS session. Returns true if the session may
 * carry the message (the summary set), false with the failure recorded.
 */
static bool
ob_judge(struct outbound *o)
{
	struct conn *c = o->c;
	enum danegate_reason reason = DANEGATE_R_NONE;
	char why[300] = "";

	danegate_smtp_result_free(o->judged);
	o->judged = calloc(1, sizeof(*o->judged));
	if (o->judged == NULL ||
	    smtp_session_judge(c->tls, o->host, o->domain, o->judged) != 0) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory "
		    "judging the TLS session");
		return false;
	}
	switch (o->need.auth) {
	case AUTH_DANE:
		if (o->judged->reason == DANEGATE_R_DANE_VERIFIED ||
		    o->judged->reason == DANEGATE_R_DANE_TRUSTED) {
			c->verified = true;
			ob_tls_summary(o, o->judged->reason ==
			    DANEGATE_R_DANE_VERIFIED ? "Verified" : "Trusted");
			ob_tlsrpt(o, true, o->judged->reason);
			return true;
		}
		reason = o->judged->reason;
		copy_str(why, sizeof(why), o->judged->error);
		break;
	case AUTH_PKIX:
	case AUTH_STS:
	case AUTH_ROUTE:
		/* STS and a route: the chain and the host's own name */
		if (ob_pkix(o, o->need.auth != AUTH_PKIX, &reason, why,
		    sizeof(why))) {
			c->verified = true;
			ob_tls_summary(o, "Verified");
			ob_tlsrpt(o, true, DANEGATE_R_NONE);
			return true;
		}
		break;
	case AUTH_NONE:
		if (o->need.sts_testing) {
			/* RFC 8461 §5: testing reports, never blocks */
			if (ob_pkix(o, true, &reason, why, sizeof(why))) {
				c->verified = true;
				ob_tls_summary(o, "Verified");
				ob_tlsrpt(o, true, DANEGATE_R_NONE);
				return true;
			}
			log_warnx("%s: MTA-STS testing: %s[%s]: %s: %s, "
			    "delivering", o->domain, o->host->name,
			    o->address->text, danegate_reason_name(reason),
			    why);
		} else {
			reason = o->need.sts_testing_fail;
		}
		ob_tls_summary(o, o->judged->n_chain > 0 ? "Untrusted" :
		    "Anonymous");
		/* RFC 8461 §5: a testing policy's failures are reported */
		ob_tlsrpt(o, reason == DANEGATE_R_NONE, reason);
		return true;
	}
	{
		char what[400];

		textf(what, sizeof(what), "%s[%s]: %s: %s", o->host->name,
		    o->address->text, danegate_reason_name(reason), why);
		if (ob_soften(o, what)) {
			ob_tlsrpt(o, false, reason);
			ob_tls_summary(o, o->judged->n_chain > 0 ?
			    "Untrusted" : "Anonymous");
			return true;
		}
	}
	ob_set_fail(o, 451, "4.7.5", reason, "%s", why);
	return false;
}

/* ---- the state machine ---------------------------------------------------- */

/* Picks the next address (of this host, then of the next hosts in
 * order) and connects; false when none is left. */
static bool
ob_next_address(struct outbound *o)
{
	while (o->host_i < o->n_order) {
		const struct danegate_mx_host *h =
		    &o->dest->hosts[o->order[o->host_i]];

		if (o->addr_i == 0 && o->host != h) {
			o->host = h;
			o->address = NULL;
			if (!need_for_host(o, h, &o->need)) {
				o->host_i++;
				continue;
			}
			if (h->n_addresses == 0) {
				ob_set_fail(o, 451, "4.4.4", h->reason, "%s",
				    h->why[0] != '\0' ? h->why :
				    "no address");
				o->host_i++;
				continue;
			}
		}
		if (o->addr_i < h->n_addresses) {
			o->address = &h->addresses[o->addr_i];
			return true;
		}
		o->host_i++;
		o->addr_i = 0;
	}
	return false;
}

/* Orders the hosts: by preference, shuffled among equals. */
static void
ob_order_hosts(struct outbound *o)
{
	size_t n = o->dest->n_hosts < DEST_MAX_HOSTS ? o->dest->n_hosts :
	    DEST_MAX_HOSTS;

	for (size_t i = 0; i < n; i++)
		o->order[i] = i;
	o->n_order = n;
	/* the engine gives them by preference: shuffle each run */
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && o->dest->hosts[o->order[j]].preference ==
		    o->dest->hosts[o->order[i]].preference)
			j++;
		for (size_t k = j - 1; k > i; k--) {
			size_t r = i + arc4random_uniform((uint32_t)(k - i + 1));
			size_t tmp = o->order[k];

			o->order[k] = o->order[r];
			o->order[r] = tmp;
		}
		i = j;
	}
}

/* A failure of this address before MAIL FROM: next address, or die. */
static void
ob_next(struct outbound *o)
{
	if (o->c != NULL) {
		conn_free(o->c);
		o->c = NULL;
	}
	danegate_smtp_result_free(o->judged);
	o->judged = NULL;
	o->state = OB_CONNECT;
	if (o->plain_retry) {
		/* the plaintext retry is over: the host's own needs again */
		o->plain_retry = false;
		if (o->host != NULL)
			(void)need_for_host(o, o->host, &o->need);
	}
	o->addr_i++;
}

/* Starts the TCP connection to o->address. Returns false with the
 * failure recorded (the caller moves on). */
static bool
ob_connect(struct outbound *o)
{
	struct conn *c;
	struct sockaddr_storage ss;
	int one = 1;

	if (conn_new(o, &c) != 0) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		return false;
	}
	o->c = c;
	copy_str(c->host, sizeof(c->host), o->host->name);
	copy_str(c->addr, sizeof(c->addr), o->address->text);
	snprintf(c->relay, sizeof(c->relay), "%s[%s]:%u", c->host, c->addr,
	    (unsigned)o->port);
	ob_cache_key(o, c->key, sizeof(c->key));
	copy_str(c->domain, sizeof(c->domain), o->domain);
	c->fd = socket(o->address->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ob_set_fail(o, 451, "4.4.1", DANEGATE_R_NONE, "socket: %s",
		    strerror(errno));
		return false;
	}
	o->env->stats.sessions++;
	/* small writes of a dialogue: no Nagle delay (see smtp.c) */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ev_read = event_new(o->env->base, c->fd, EV_READ, conn_io_cb, c);
	c->ev_write = event_new(o->env->base, c->fd, EV_WRITE, conn_io_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		return false;
	}
	/* the engine's addresses carry port 25 (whose TLSA records
	 * apply); env->port only moves the connection */
	memcpy(&ss, &o->address->ss, sizeof(ss));
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&ss)->sin6_port =
		    htons(o->port);
	else
		((struct sockaddr_in *)(void *)&ss)->sin_port =
		    htons(o->port);
	if (connect(c->fd, (const struct sockaddr *)&ss, o->address->len) !=
	    0 && errno != EINPROGRESS && errno != EINTR) {
		ob_set_fail(o, 451, "4.4.1", DANEGATE_R_NONE, "connect: %s",
		    strerror(errno));
		return false;
	}
	conn_timer(c, o->env->t.connect_ms);
	conn_wait(c, true);
	return true;
}

static bool
ob_tls_setup(struct outbound *o)
{
	struct conn *c = o->c;
	const char *sni;
	char key[DANEGATE_NAME_MAX + 80];
	struct ticket *t;
	int rc;

	/* SNI: the TLSA base name (RFC 7672 §8.1), else the MX name (also
	 * MTA-STS's, RFC 8461 §4.2) */
	sni = o->need.auth != AUTH_STS && !o->need.sts_testing &&
	    o->host->tlsa_base[0] != '\0' ? o->host->tlsa_base :
	    o->host->name;
	rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
	if (rc >= 0)
		rc = gnutls_set_default_priority(c->tls);
	if (rc >= 0)
		rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
		    o->env->cred);
	if (rc >= 0)
		rc = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, sni,
		    strnlen(sni, DANEGATE_NAME_MAX));
	if (rc < 0) {
		ob_set_fail(o, 451, "4.7.5", DANEGATE_R_VALIDATION_FAILURE,
		    "TLS set-up failed: %s", gnutls_strerror(rc));
		return false;
	}
	ticket_key(c, sni, key, sizeof(key));
	if ((t = ticket_find(o->env, key)) != NULL)
		(void)gnutls_session_set_data(c->tls, t->data.data,
		    t->data.size);
	gnutls_transport_set_int(c->tls, c->fd);
	conn_timer(c, o->env->t.starttls_ms);
	return true;
}

/* Builds MAIL FROM with the parameters the remote offers. */
static bool
ob_mail(struct outbound *o)
{
	struct conn *c = o->c;
	char params[OB_PARAMS_MAX] = "";
	size_t n = 0;

	if (o->smtputf8 && !(c->ext & SMTP_EXT_SMTPUTF8)) {
		/* RFC 6531 §3.2: no downgrade; permanent */
		ob_set_fail(o, 550, "5.6.7", DANEGATE_R_NONE, "SMTPUTF8 is "
		    "required, but was not offered by the host");
		return false;
	}
#define ADD(...) do { \
		int k_ = snprintf(params + n, sizeof(params) - n, __VA_ARGS__); \
		if (k_ > 0 && (size_t)k_ < sizeof(params) - n) \
			n += (size_t)k_; \
	} while (0)
	if (o->size >= 0 && (c->ext & SMTP_EXT_SIZE))
		ADD(" SIZE=%lld", o->size);
	if (o->body[0] != '\0' && (c->ext & SMTP_EXT_8BITMIME))
		ADD(" BODY=%s", o->body);
	if (o->smtputf8)
		ADD(" SMTPUTF8");
	if (c->ext & SMTP_EXT_DSN) {
		if (o->ret[0] != '\0')
			ADD(" RET=%s", o->ret);
		if (o->envid[0] != '\0')
			ADD(" ENVID=%s", o->envid);
	}
#undef ADD
	conn_command(c, "MAIL FROM:<%s>%s", o->sender, params);
	conn_timer(c, o->env->t.mail_ms);
	o->state = OB_MAIL;
	return true;
}

static void
ob_set_remote_fail(struct outbound *o, const char *what, const char *err)
{
	ob_set_fail(o, 451, "4.4.2", DANEGATE_R_NONE, "%s: %s", what, err);
}

/*
 * Runs the machine until it waits. Never calls the front: replies go
 * through ob_reply() (an event).
 */
static void
ob_run(struct outbound *o)
{
	struct smtp_reply *r;
	char err[256] = "";

	for (;;) {
		struct conn *c = o->c;

		if (c == NULL && o->state != OB_CONNECT) {
			if (o->state == OB_LOOKUP || o->state == OB_IDLE ||
			    o->state == OB_DONE || o->state == OB_FAILED)
				return;
			/* a broken invariant: fail closed */
			ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE,
			    "internal error: no session in state %d",
			    (int)o->state);
			ob_die(o);
			return;
		}
		r = c != NULL ? &c->reply.reply : NULL;
		switch (o->state) {
		case OB_LOOKUP:
		case OB_IDLE:
		case OB_DONE:
		case OB_FAILED:
			return;
		case OB_CONNECT:
			if (c == NULL) {
				if (!ob_next_address(o)) {
					ob_die(o);
					return;
				}
				if (!ob_connect(o)) {
					ob_next(o);
					continue;
				}
				return;
			}
			{
				int e = 0;
				socklen_t elen = sizeof(e);

				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e,
				    &elen) != 0)
					e = errno;
				if (e != 0) {
					ob_set_fail(o, 451, "4.4.1",
					    DANEGATE_R_NONE, "connect: %s",
					    strerror(e));
					ob_next(o);
					continue;
				}
			}
			smtp_reply_init(&c->reply);
			conn_timer(c, o->env->t.greeting_ms);
			o->state = OB_BANNER;
			continue;
		case OB_BANNER:
			switch (conn_read_reply(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, "greeting", err);
				ob_next(o);
				continue;
			case IO_OK:
				break;
			}
			if (r->code != 220) {
				ob_set_fail(o, 451, "4.4.2", DANEGATE_R_NONE,
				    "refused to talk to me: %d %s", r->code,
				    r->text);
				ob_next(o);
				continue;
			}
			conn_command(c, "EHLO %s", o->env->helo);
			conn_timer(c, o->env->t.ehlo_ms);
			o->state = OB_EHLO;
			continue;
		case OB_EHLO:
		case OB_EHLO_TLS:
			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, "EHLO", err);
				ob_next(o);
				continue;
			case IO_OK:
				break;
			}
			if (r->code >= 500 && o->state == OB_EHLO &&
			    !o->need.tls_required) {
				/* an old server: HELO, no extensions, no TLS
				 * (RFC 5321 §3.2); only where TLS may be
				 * left out */
				conn_command(c, "HELO %s", o->env->helo);
				conn_timer(c, o->env->t.ehlo_ms);
				o->state = OB_HELO;
				continue;
			}
			if (r->code != 250) {
				ob_set_fail(o, 451, o->need.tls_required ?
				    "4.7.5" : "4.4.2", o->need.tls_required ?
				    DANEGATE_R_STARTTLS_NOT_SUPPORTED :
				    DANEGATE_R_NONE, "EHLO rejected: %d %s",
				    r->code, r->text);
				ob_next(o);
				continue;
			}
			c->ext = r->ext;
			if (o->state == OB_EHLO_TLS && o->routed) {
				if (!ob_auth(o)) {
					ob_die(o);
					return;
				}
				continue;
			}
			if (o->state == OB_EHLO_TLS || !o->need.try_tls ||
			    o->plain_retry) {
				if (!ob_mail(o)) {
					ob_die(o);
					return;
				}
				continue;
			}
			if (!(c->ext & SMTP_EXT_STARTTLS)) {
				char what[300];

				textf(what, sizeof(what), "%s[%s]: "
				    "STARTTLS not offered", o->host->name,
				    o->address->text);
				if (!o->need.tls_required ||
				    ob_soften(o, what)) {
					/* let through despite the policy (an
					 * exemption, TLS-Required: No, MTA-STS
					 * testing): reported as failed */
					if (o->need.tls_required ||
					    o->need.sts_testing ||
					    o->need.sts_testing_fail !=
					    DANEGATE_R_NONE)
						ob_tlsrpt(o, false,
						    DANEGATE_R_STARTTLS_NOT_SUPPORTED);
					if (!ob_mail(o)) {
						ob_die(o);
						return;
					}
					continue;
				}
				ob_set_fail(o, 451, "4.7.5",
				    DANEGATE_R_STARTTLS_NOT_SUPPORTED,
				    "STARTTLS not offered");
				ob_next(o);
				continue;
			}
			conn_command(c, "STARTTLS");
			conn_timer(c, o->env->t.starttls_ms);
			o->state = OB_STARTTLS;
			continue;
		case OB_HELO:
			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, "HELO", err);
				ob_next(o);
				continue;
			case IO_OK:
				break;
			}
			if (r->code != 250) {
				ob_set_fail(o, 451, "4.4.2", DANEGATE_R_NONE,
				    "EHLO and HELO rejected: %d %s", r->code,
				    r->text);
				ob_next(o);
				continue;
			}
			c->ext = 0;
			if (!ob_mail(o)) {
				ob_die(o);
				return;
			}
			continue;
		case OB_STARTTLS:
			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, "STARTTLS", err);
				ob_next(o);
				continue;
			case IO_OK:
				break;
			}
			if (r->code != 220) {
				ob_set_fail(o, 451, "4.7.5",
				    DANEGATE_R_STARTTLS_NOT_SUPPORTED,
				    "STARTTLS refused: %d %s", r->code,
				    r->text);
				ob_next(o);
				continue;
			}
			/* plaintext sent after the 220 would pass for
			 * protected replies (CVE-2011-0411 class) */
			if (c->in_pos < c->in_len) {
				ob_set_fail(o, 451, "4.7.5",
				    DANEGATE_R_VALIDATION_FAILURE, "data "
				    "after the 220 to STARTTLS (possible "
				    "STARTTLS injection)");
				ob_next(o);
				continue;
			}
			if (!ob_tls_setup(o)) {
				ob_next(o);
				continue;
			}
			o->state = OB_HANDSHAKE;
			continue;
		case OB_HANDSHAKE: {
			int rc;

			do {
				rc = gnutls_handshake(c->tls);
			} while (rc < 0 && rc != GNUTLS_E_AGAIN &&
			    rc != GNUTLS_E_INTERRUPTED &&
			    gnutls_error_is_fatal(rc) == 0);
			if (rc == GNUTLS_E_AGAIN ||
			    rc == GNUTLS_E_INTERRUPTED) {
				conn_wait_tls(c);
				return;
			}
			if (rc < 0) {
				ob_set_fail(o, 451, "4.7.5",
				    DANEGATE_R_VALIDATION_FAILURE,
				    "TLS handshake failed: %s",
				    gnutls_strerror(rc));
				if (!o->need.tls_required && !o->plain_retry) {
					/* opportunistic TLS that fails: this
					 * address again in plaintext, as
					 * Postfix does at level may */
					log_info("%s: TLS with %s failed (%s): "
					    "retrying in plaintext", o->domain,
					    c->relay, gnutls_strerror(rc));
					conn_free(c);
					o->c = NULL;
					o->plain_retry = true;
					o->state = OB_CONNECT;
					continue;
				}
				ob_next(o);
				continue;
			}
			c->tls_on = true;
			if (gnutls_session_is_resumed(c->tls) != 0)
				o->env->stats.resumed++;
			if (gnutls_session_is_resumed(c->tls) != 0)
				log_info("%s: TLS session resumed with %s",
				    o->domain, c->relay);
			if (!ob_judge(o)) {
				/* QUIT inside TLS, best effort: nothing
				 * but QUIT after a failed verdict */
				char e2[64];

				conn_command(c, "QUIT");
				(void)conn_flush(c, e2, sizeof(e2));
				ob_next(o);
				continue;
			}
			conn_command(c, "EHLO %s", o->env->helo);
			conn_timer(c, o->env->t.ehlo_ms);
			o->state = OB_EHLO_TLS;
			continue;
		}
		case OB_RSET:
			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				break;
			case IO_OK:
				if (r->code == 250) {
					c->uses++;
					if (!ob_mail(o)) {
						ob_die(o);
						return;
					}
					continue;
				}
				break;
			}
			/* the cached session went stale: start afresh */
			conn_free(c);
			o->c = NULL;
			o->state = OB_LOOKUP;
			ob_restart(o);
			return;
		case OB_TOKEN:
			/* the worker's answer goes on (ob_token_cb) */
			return;
		case OB_AUTH:
			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, "AUTH", err);
				ob_die(o);
				return;
			case IO_OK:
				break;
			}
			ob_auth_reply(o, r);
			if (o->state == OB_FAILED || o->state == OB_TOKEN)
				return;
			continue;
		case OB_MAIL:
			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, "MAIL FROM", err);
				ob_next(o);
				continue;
			case IO_OK:
				break;
			}
			event_del(c->ev_timer);
			if (r->code == 250) {
				struct outbound_reply rep;

				/* TLS 1.3 tickets come after the handshake:
				 * by now the server has sent them */
				if (c->tls_on && c->verified && o->host != NULL)
					ticket_save(o->env, c,
					    o->host->tlsa_base[0] != '\0' ?
					    o->host->tlsa_base :
					    o->host->name);
				reply_from_remote(&rep, r);
				rep.reason = o->judged != NULL ?
				    o->judged->reason : DANEGATE_R_NONE;
				o->state = OB_IDLE;
				ob_reply(o, &rep);
				return;
			}
			/* the remote refused the sender: its word is final */
			reply_from_remote(&o->fail, r);
			o->have_fail = true;
			ob_die(o);
			return;
		case OB_RCPT:
		case OB_DATA: {
			struct outbound_reply rep;

			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_remote_fail(o, o->state == OB_RCPT ?
				    "RCPT TO" : "DATA", err);
				ob_die(o);
				return;
			case IO_OK:
				break;
			}
			event_del(c->ev_timer);
			reply_from_remote(&rep, r);
			if (o->state == OB_RCPT) {
				if (r->code >= 200 && r->code < 300) {
					o->rcpts[o->n_rcpts - 1].accepted = true;
				} else {
					ob_log(o, o->cur_rcpt, &rep);
				}
				o->state = OB_IDLE;
			} else if (r->code == 354) {
				o->state = OB_BODY;
				o->tail[0] = '\r';
				o->tail[1] = '\n';
				o->any_data = false;
			} else {
				o->state = OB_IDLE;
			}
			ob_reply(o, &rep);
			return;
		}
		case OB_BODY:
			switch (conn_flush(c, err, sizeof(err))) {
			case IO_WAIT:
				/* the remote's window is full: the block
				 * timer runs */
				conn_timer(c, o->env->t.block_ms);
				return;
			case IO_FAIL:
				o->data_failed = true;
				ob_set_remote_fail(o, "DATA", err);
				ob_die(o);
				return;
			case IO_OK:
				break;
			}
			event_del(c->ev_timer);
			if (o->data_full)
				ob_drain(o);
			return;
		case OB_DOT: {
			struct outbound_reply rep;

			switch (conn_exchange(c, err, sizeof(err))) {
			case IO_WAIT:
				return;
			case IO_FAIL:
				ob_set_fail(o, 451, "4.4.2", DANEGATE_R_NONE,
				    "end of DATA: %s (the message may have "
				    "been delivered)", err);
				log_warnx("%s: lost %s after the end of DATA: "
				    "possible duplicate if the client "
				    "retries", o->domain, c->relay);
				ob_die(o);
				return;
			case IO_OK:
				break;
			}
			event_del(c->ev_timer);
			reply_from_remote(&rep, r);
			for (size_t i = 0; i < o->n_rcpts; i++)
				if (o->rcpts[i].accepted)
					ob_log(o, o->rcpts[i].addr, &rep);
			o->state = OB_DONE;
			ob_reply(o, &rep);
			return;
		}
		}
	}
}

/* ---- the destination lookup ---------------------------------------------- */

/* The hosts are known (and the MTA-STS policy, if asked): connect. */
static void
ob_go(struct outbound *o)
{
	ob_order_hosts(o);
	o->host_i = o->addr_i = 0;
	o->host = NULL;
	o->state = OB_CONNECT;
	ob_run(o);
}

static void
ob_sts_cb(void *arg, const struct sts_answer *a)
{
	struct lookup_ticket *t = arg;
	struct outbound *o = t->o;

	free(t);
	if (o == NULL)
		return;			/* freed while we looked */
	o->lookup = NULL;
	if (a->state == STS_FAILED)
		/* RFC 8461 §3.3: no policy fetched and none cached:
		 * delivery goes on as without MTA-STS */
		log_warnx("%s: MTA-STS: %s: %s: no policy applies",
		    o->domain, danegate_reason_name(a->reason), a->error);
	else if (a->state == STS_POLICY && a->reason != DANEGATE_R_NONE)
		log_warnx("%s: MTA-STS: refresh failed (%s: %s): the cached "
		    "policy (id %s) applies", o->domain,
		    danegate_reason_name(a->reason), a->error, a->id);
	free(o->sts);
	o->sts = NULL;
	o->sts_fail = a->state == STS_FAILED ? a->reason : DANEGATE_R_NONE;
	if (a->state == STS_POLICY && (o->sts = malloc(sizeof(*a))) != NULL)
		*o->sts = *a;
	ob_go(o);
}

/*
 * Starts the MTA-STS lookup when it can matter: the policy table leaves
 * the domain to the engine (level dane) and not every MX host has DANE
 * (RFC 8461 §2: DANE wins where it exists). True if started: ob_sts_cb()
 * goes on.
 */
static bool
ob_start_sts(struct outbound *o)
{
	struct lookup_ticket *t;
	bool all_dane = true;

	if (o->env->sts == NULL || o->level != POLICY_LEVEL_DANE)
		return false;
	for (size_t i = 0; i < o->dest->n_hosts; i++)
		if (o->dest->hosts[i].policy != DANEGATE_POLICY_DANE)
			all_dane = false;
	if (all_dane || (t = calloc(1, sizeof(*t))) == NULL)
		return false;
	t->o = o;
	o->lookup = t;
	if (sts_get_async(o->env->sts, o->domain, ob_sts_cb, t, NULL) != 0) {
		o->lookup = NULL;
		free(t);
		return false;
	}
	return true;
}

static void
ob_lookup_cb(void *arg, int err, struct danegate_destination *dest)
{
	struct lookup_ticket *t = arg;
	struct outbound *o = t->o;

	free(t);
	if (o == NULL) {
		/* the outbound was freed while we looked */
		danegate_destination_free(dest);
		return;
	}
	o->lookup = NULL;
	if (err != 0 || dest == NULL) {
		danegate_destination_free(dest);
		ob_set_fail(o, 451, "4.4.3", DANEGATE_R_NONE, "destination "
		    "lookup failed: %s", danegate_strerror(err));
		ob_die(o);
		return;
	}
	o->dest = dest;
	if (dest->null_mx || dest->policy == DANEGATE_POLICY_NO_MAIL) {
		/* RFC 7505 §4.1 */
		ob_set_fail(o, 556, "5.1.10", DANEGATE_R_NULL_MX, "the domain "
		    "accepts no mail (null MX)");
		ob_die(o);
		return;
	}
	if (dest->n_hosts == 0) {
		ob_set_fail(o, 451, dest->reason ==
		    DANEGATE_R_DNSSEC_INVALID ? "4.7.5" : "4.4.3",
		    dest->reason, "%s", dest->why[0] != '\0' ? dest->why :
		    "no MX host");
		ob_die(o);
		return;
	}
	if (ob_start_sts(o))
		return;
	ob_go(o);
}

static int
ob_start_lookup(struct outbound *o)
{
	struct lookup_ticket *t;
	int rc;

	if (o->routed)
		return ob_route_start(o);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return DANEGATE_E_NOMEM;
	t->o = o;
	o->lookup = t;
	o->state = OB_LOOKUP;
	rc = danegate_destination_lookup_async(o->env->resolver, o->domain,
	    25, ob_lookup_cb, t);
	if (rc != 0) {
		o->lookup = NULL;
		free(t);
	}
	return rc;
}

/* A cached session whose RSET failed: look up afresh (from the loop). */
static void
ob_restart(struct outbound *o)
{
	if (o->state == OB_LOOKUP && o->lookup == NULL && o->c == NULL &&
	    o->aq[0] == NULL && ob_start_lookup(o) != 0) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		ob_die(o);
	}
}

/* ---- submission routes (issue 9) ----------------------------------------- */

/* The key of a reusable session: the domain and its policy, or the
 * route and the mailbox the session authenticated as. */
static void
ob_cache_key(const struct outbound *o, char *key, size_t cap)
{
	if (o->routed)
		textf(key, cap, "route:%s|%s", o->route, o->mailbox);
	else
		textf(key, cap, "%s|%s|%d", o->domain,
		    policy_level_name(o->level), o->soft ? 1 : 0);
}

/*
 * A transaction bound to a route goes to the route's smarthost instead
 * of the recipients' MX hosts: its A and AAAA records through the relay's
 * validating resolver (no DANE or MTA-STS: the route names its host),
 * and the token (the cache, else the worker thread) in parallel; then
 * the same session machine as for an MX host, with STARTTLS and a PKIX
 * chain for the smarthost's name required (AUTH_ROUTE), and AUTH XOAUTH2
 * between the EHLO inside TLS and MAIL FROM.
 */

static const struct relay_route *
route_find(const struct outbound_env *env, const char *name)
{
	for (size_t i = 0; i < env->n_routes; i++)
		if (env->routes[i].name != NULL &&
		    strcmp(env->routes[i].name, name) == 0)
			return &env->routes[i];
	return NULL;
}

static const struct relay_route *
ob_route_find(const struct outbound *o)
{
	return route_find(o->env, o->route);
}

/* Counts a token endpoint's refusal by its AADSTS code. */
static void
count_aadsts(struct outbound_stats *st, const char *err)
{
	unsigned code;
	size_t i;

	if (err == NULL || sscanf(err, "AADSTS%u:", &code) != 1)
		code = 0;
	for (i = 0; i < OB_AADSTS_MAX && st->aadsts[i].n > 0; i++)
		if (st->aadsts[i].code == code)
			break;
	if (i == OB_AADSTS_MAX)
		i = OB_AADSTS_MAX - 1;	/* full: the last slot takes all */
	st->aadsts[i].code = code;
	st->aadsts[i].n++;
}

/* All is there (addresses and token): the session machine starts. */
static void
ob_route_go(struct outbound *o)
{
	if (o->state == OB_LOOKUP && o->addrs_ready && o->token != NULL)
		ob_go(o);
}

/* Counts the token worker's answer for metrics and logs it: the cause
 * and the fix of a failure, never a secret (oauth2.c). where: the
 * transaction's domain, or "" (the check at AUTH). */
static void
token_result_note(struct outbound_stats *st, const char *where,
    const char *route, const char *mailbox, const struct token_result *res)
{
	const char *sep = where[0] != '\0' ? ": " : "";

	if (res->rc != 0) {
		st->oauth2[res->smtp == 535 ? OB_OAUTH2_REFUSED :
		    OB_OAUTH2_UNAVAILABLE]++;
		count_aadsts(st, res->err);
		log_warnx("%s%sroute %s: no token for %s: %s", where, sep,
		    route, mailbox, res->err);
		return;
	}
	st->oauth2[res->fetched == 2 ? OB_OAUTH2_REQUESTED :
	    res->fetched == 1 ? OB_OAUTH2_REFRESHED : OB_OAUTH2_CACHED]++;
	if (res->fetched != 0)
		log_info("%s%sroute %s: token for %s %s", where, sep, route,
		    mailbox, res->fetched == 1 ? "refreshed" : "obtained");
}

static void
ob_token_cb(void *arg, const struct token_result *res)
{
	struct outbound *o = arg;

	o->twait = NULL;
	token_result_note(&o->env->stats, o->domain, o->route, o->mailbox,
	    res);
	if (res->rc != 0) {
		bool refused = res->smtp == 535;

		/* wrong credentials: 535 (RFC 4954 §6); the rest, an
		 * outage above all, is temporary: never 5xx */
		ob_set_fail(o, refused ? 535 : 451, refused ? "5.7.8" :
		    "4.7.0", DANEGATE_R_NONE, "route %s: no token for %s: %s",
		    o->route, o->mailbox, res->err);
		ob_die(o);
		return;
	}
	if ((o->token = strdup(res->token)) == NULL) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		ob_die(o);
		return;
	}
	o->token_cached = false;
	if (o->state == OB_TOKEN) {
		if (!ob_auth(o)) {
			ob_die(o);
			return;
		}
		event_active(o->c->ev_write, EV_WRITE, 0);
		return;
	}
	ob_route_go(o);
}

/* Asks the worker (the endpoint's address, if any, is in resolve). */
static void
ob_token_ask(struct outbound *o, const char *resolve)
{
	const struct relay_route *r = ob_route_find(o);

	if (r == NULL) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "route %s is "
		    "no longer configured", o->route);
		ob_die(o);
		return;
	}
	if (token_worker_get(o->env->tokens, r, o->mailbox, o->password,
	    resolve, ob_token_cb, o, &o->twait) != 0) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		ob_die(o);
	}
}

/* Takes an answer's addresses into q (the answer stays the caller's). */
static void
aq_take(struct addr_query *q, const struct lookup_answer *ans)
{
	bool v6 = ans->type == DNS_TYPE_AAAA;

	if (q->owner != NULL && (ans->state == DANEGATE_SECURE ||
	    ans->state == DANEGATE_INSECURE)) {
		for (size_t i = 0; i < ans->n_rrs && q->n < 16; i++) {
			struct danegate_address *a = &q->addrs[q->n];

			if (ans->rrs[i].len != (v6 ? 16 : 4))
				continue;
			memset(a, 0, sizeof(*a));
			if (v6) {
				struct sockaddr_in6 *s6 =
				    (struct sockaddr_in6 *)(void *)&a->ss;

				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons(q->port);
				memcpy(&s6->sin6_addr, ans->rrs[i].data, 16);
				a->len = sizeof(*s6);
			} else {
				struct sockaddr_in *s4 =
				    (struct sockaddr_in *)(void *)&a->ss;

				s4->sin_family = AF_INET;
				s4->sin_port = htons(q->port);
				memcpy(&s4->sin_addr, ans->rrs[i].data, 4);
				a->len = sizeof(*s4);
			}
			if (inet_ntop(v6 ? AF_INET6 : AF_INET,
			    ans->rrs[i].data, a->text, sizeof(a->text)) != NULL)
				q->n++;
		}
	} else if (q->owner != NULL && ans->state == DANEGATE_BOGUS)
		textf(q->why, sizeof(q->why), "%s: DNSSEC bogus: %s",
		    v6 ? "AAAA" : "A", ans->why);
	else if (q->owner != NULL && ans->why[0] != '\0' && q->why[0] == '\0')
		snprintf(q->why, sizeof(q->why), "%s", ans->why);
}

/* One answer less to wait for; the last one ends the query. */
static void
aq_count(struct addr_query *q)
{
	if (--q->pending > 0)
		return;
	if (q->owner != NULL) {
		*q->slot = NULL;
		q->done(q->owner, q);
	}
	free(q);
}

static void
aq_answer(void *arg, struct lookup_answer *ans)
{
	struct addr_query *q = arg;

	aq_take(q, ans);
	lookup_answer_clear(ans);
	aq_count(q);
}

/*
 * Starts the A and AAAA lookups of name (an address literal is taken as
 * it is) for owner, which keeps the query in *slot until done(owner, q)
 * (possibly before this returns) or until it lets go (owner = NULL).
 * Returns 0 or DANEGATE_E_NOMEM.
 */
static int
aq_start(struct danegate_resolver *resolver, const char *name, uint16_t port,
    void *owner, struct addr_query **slot,
    void (*done)(void *owner, struct addr_query *q))
{
	struct addr_query *q = calloc(1, sizeof(*q));
	unsigned char bin[16];
	char lit[DANEGATE_NAME_MAX];
	size_t len = strlen(name);

	if (q == NULL)
		return DANEGATE_E_NOMEM;
	q->owner = owner;
	q->slot = slot;
	q->done = done;
	q->port = port;
	copy_str(q->name, sizeof(q->name), name);
	/* "[2001:db8::1]" as a URL writes it */
	if (len > 2 && name[0] == '[' && name[len - 1] == ']')
		snprintf(lit, sizeof(lit), "%.*s", (int)(len - 2), name + 1);
	else
		copy_str(lit, sizeof(lit), name);
	if (inet_pton(AF_INET, lit, bin) == 1 ||
	    inet_pton(AF_INET6, lit, bin) == 1) {
		struct lookup_answer a;
		bool v6 = strchr(lit, ':') != NULL;
		struct lookup_rr rr = { bin, (uint16_t)(v6 ? 16 : 4) };

		memset(&a, 0, sizeof(a));
		a.type = v6 ? DNS_TYPE_AAAA : DNS_TYPE_A;
		a.state = DANEGATE_INSECURE;
		a.rrs = &rr;
		a.n_rrs = 1;
		q->pending = 1;
		*slot = q;
		aq_take(q, &a);		/* a is ours: nothing to clear */
		aq_count(q);
		return 0;
	}
	q->pending = 2;
	*slot = q;
	if (resolver_lookup_async(resolver, name, DNS_TYPE_A, aq_answer,
	    q) != 0) {
		*slot = NULL;
		free(q);
		return DANEGATE_E_NOMEM;
	}
	if (resolver_lookup_async(resolver, name, DNS_TYPE_AAAA, aq_answer,
	    q) != 0) {
		struct lookup_answer none;

		memset(&none, 0, sizeof(none));
		none.type = DNS_TYPE_AAAA;
		none.state = DANEGATE_INDETERMINATE;
		aq_answer(q, &none);
	}
	return 0;
}

/* The token endpoint's first address as libcurl's CURLOPT_RESOLVE takes
 * it ("HOST:PORT:ADDR"): libcurl connects where the relay validated. */
static void
aq_resolve_entry(const struct addr_query *q, char *buf, size_t cap)
{
	snprintf(buf, cap, q->addrs[0].ss.ss_family == AF_INET6 ?
	    "%s:%u:[%s]" : "%s:%u:%s", q->name, (unsigned)q->port,
	    q->addrs[0].text);
}

/* A route's lookup without an address: the transaction fails (4xx). */
static bool
ob_aq_failed(struct outbound *o, const struct addr_query *q,
    const char *what)
{
	if (o->state == OB_FAILED)
		return true;
	if (q->n > 0)
		return false;
	ob_set_fail(o, 451, "4.4.3", DANEGATE_R_NONE, "route %s: %s %s: no "
	    "address%s%s", o->route, what, q->name, q->why[0] != '\0' ?
	    ": " : "", q->why);
	ob_die(o);
	return true;
}

/* The token endpoint's addresses: the worker is asked. */
static void
ob_endpoint_done(void *owner, struct addr_query *q)
{
	struct outbound *o = owner;
	char resolve[DANEGATE_NAME_MAX + 96];

	if (ob_aq_failed(o, q, "token endpoint"))
		return;
	aq_resolve_entry(q, resolve, sizeof(resolve));
	ob_token_ask(o, resolve);
}

/* The smarthost's addresses: its destination for the session machine. */
static void
ob_smarthost_done(void *owner, struct addr_query *q)
{
	struct outbound *o = owner;
	struct danegate_destination *d;
	struct danegate_mx_host *h;

	if (ob_aq_failed(o, q, "smarthost"))
		return;
	d = calloc(1, sizeof(*d));
	h = calloc(1, sizeof(*h));
	if (d == NULL || h == NULL || (h->addresses = calloc(q->n,
	    sizeof(*h->addresses))) == NULL) {
		free(d);
		free(h);
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		ob_die(o);
		return;
	}
	copy_str(d->domain, sizeof(d->domain), o->domain);
	d->port = o->port;
	d->hosts = h;
	d->n_hosts = 1;
	d->policy = DANEGATE_POLICY_ENCRYPT;
	copy_str(h->name, sizeof(h->name), o->smarthost);
	memcpy(h->addresses, q->addrs, q->n * sizeof(*h->addresses));
	h->n_addresses = q->n;
	h->policy = DANEGATE_POLICY_ENCRYPT;
	danegate_destination_free(o->dest);
	o->dest = d;
	o->addrs_ready = true;
	ob_route_go(o);
}

/* The token from the cache, else from the worker (after the endpoint's
 * address lookup). Returns 0 or DANEGATE_E_NOMEM. */
static int
ob_token_start(struct outbound *o)
{
	const struct relay_route *r = ob_route_find(o);
	char host[DANEGATE_NAME_MAX];
	unsigned port = 443;

	if (r == NULL) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "route %s is "
		    "no longer configured", o->route);
		ob_die(o);
		return 0;
	}
	o->token = oauth2_cache_get(token_worker_cache(o->env->tokens),
	    o->mailbox, r->grant == OAUTH2_GRANT_PASSWORD ? o->password :
	    NULL, time(NULL), NULL);
	if (o->token != NULL) {
		o->token_cached = true;
		o->env->stats.oauth2[OB_OAUTH2_CACHED]++;
		return 0;
	}
	if (token_endpoint_host(r->token_endpoint, host, sizeof(host),
	    &port) != 0 || port == 0 || port > 65535) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "route %s: "
		    "token endpoint URL without a usable host", o->route);
		ob_die(o);
		return 0;
	}
	return aq_start(o->env->resolver, host, (uint16_t)port, o, &o->aq[1],
	    ob_endpoint_done);
}

/* ---- the password grant's check at AUTH (issue 9) ----------------------- */

struct outbound_token_check {
	struct outbound_env *env;
	char route[64];
	char mailbox[OB_SENDER_MAX + 1];
	char *password;			/* oauth2_secret_free() */
	struct addr_query *aq;		/* the endpoint's addresses */
	struct token_wait *twait;	/* the worker's request */
	outbound_token_check_fn *cb;
	void *arg;
	bool starting;			/* inside outbound_token_check() */
	bool answered;			/* ... which answers in early */
	struct outbound_reply early;
};

static void
tc_free(struct outbound_token_check *tc)
{
	if (tc->aq != NULL)
		tc->aq->owner = NULL;	/* freed by its last answer */
	token_wait_cancel(tc->twait);
	oauth2_secret_free(tc->password);
	free(tc);
}

/* The verdict: to the caller of outbound_token_check() if it has not
 * returned yet, else through the callback; the check ends. */
static void
tc_finish(struct outbound_token_check *tc, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tc_finish(struct outbound_token_check *tc, int code, const char *fmt, ...)
{
	struct outbound_reply r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.code = code;
	va_start(ap, fmt);
	vsnprintf(r.text, sizeof(r.text), fmt, ap);
	va_end(ap);
	for (char *p = r.text; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)	/* a reply line: ASCII */
			*p = '?';
	if (tc->starting) {
		tc->early = r;
		tc->answered = true;
		return;
	}
	tc->cb(tc->arg, &r);
	tc_free(tc);
}

static void
tc_token_cb(void *arg, const struct token_result *res)
{
	struct outbound_token_check *tc = arg;

	tc->twait = NULL;
	token_result_note(&tc->env->stats, "", tc->route, tc->mailbox, res);
	if (res->rc != 0) {
		/* RFC 4954 §6: 535 for credentials the endpoint refused,
		 * 454 for a failure that may pass (an outage above all) */
		if (res->smtp == 535)
			tc_finish(tc, 535, "5.7.8 Authentication credentials "
			    "invalid: %s", res->err);
		else
			tc_finish(tc, 454, "4.7.0 Temporary authentication "
			    "failure: %s", res->err);
		return;
	}
	/* the worker cached it for the transactions to come */
	tc_finish(tc, 235, "2.7.0 Authentication successful");
}

static void
tc_endpoint_done(void *owner, struct addr_query *q)
{
	struct outbound_token_check *tc = owner;
	const struct relay_route *r = route_find(tc->env, tc->route);
	char resolve[DANEGATE_NAME_MAX + 96];

	if (q->n == 0) {
		tc_finish(tc, 454, "4.7.0 Temporary authentication failure: "
		    "route %s: token endpoint %s: no address%s%s", tc->route,
		    q->name, q->why[0] != '\0' ? ": " : "", q->why);
		return;
	}
	if (r == NULL) {
		tc_finish(tc, 454, "4.7.0 Temporary authentication failure: "
		    "route %s is no longer configured", tc->route);
		return;
	}
	aq_resolve_entry(q, resolve, sizeof(resolve));
	if (token_worker_get(tc->env->tokens, r, tc->mailbox, tc->password,
	    resolve, tc_token_cb, tc, &tc->twait) != 0)
		tc_finish(tc, 454, "4.3.0 Temporary authentication failure: "
		    "out of memory");
}

int
outbound_token_check(struct outbound_env *env, const char *route,
    const char *mailbox, const char *password, outbound_token_check_fn *cb,
    void *arg, struct outbound_reply *now, struct outbound_token_check **out)
{
	const struct relay_route *r = route_find(env, route);
	struct outbound_token_check *tc;
	char host[DANEGATE_NAME_MAX], *tok;
	unsigned port = 443;
	int rc;

	*out = NULL;
	memset(now, 0, sizeof(*now));
	if (env->tokens == NULL || r == NULL ||
	    r->grant != OAUTH2_GRANT_PASSWORD || password == NULL)
		return DANEGATE_E_INVALID;
	tok = oauth2_cache_get(token_worker_cache(env->tokens), mailbox,
	    password, time(NULL), NULL);
	if (tok != NULL) {
		/* the password that obtained this token: no request */
		oauth2_secret_free(tok);
		env->stats.oauth2[OB_OAUTH2_CACHED]++;
		now->code = 235;
		copy_str(now->text, sizeof(now->text),
		    "2.7.0 Authentication successful");
		return 1;
	}
	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->password = strdup(password)) == NULL) {
		free(tc);
		return DANEGATE_E_NOMEM;
	}
	tc->env = env;
	copy_str(tc->route, sizeof(tc->route), route);
	copy_str(tc->mailbox, sizeof(tc->mailbox), mailbox);
	tc->cb = cb;
	tc->arg = arg;
	tc->starting = true;
	if (token_endpoint_host(r->token_endpoint, host, sizeof(host),
	    &port) != 0 || port == 0 || port > 65535)
		tc_finish(tc, 454, "4.7.0 Temporary authentication failure: "
		    "route %s: token endpoint URL without a usable host",
		    route);
	else if ((rc = aq_start(env->resolver, host, (uint16_t)port, tc,
	    &tc->aq, tc_endpoint_done)) != 0) {
		tc_free(tc);
		return rc;
	}
	tc->starting = false;
	if (tc->answered) {
		*now = tc->early;
		tc_free(tc);
		return 1;
	}
	*out = tc;
	return 0;
}

void
outbound_token_check_cancel(struct outbound_token_check *tc)
{
	if (tc != NULL)
		tc_free(tc);
}

/* Starts a routed transaction (or restarts it after a stale cached
 * session). Returns 0 or DANEGATE_E_NOMEM. */
static int
ob_route_start(struct outbound *o)
{
	int rc;

	o->state = OB_LOOKUP;
	if (o->token == NULL && o->twait == NULL && o->aq[1] == NULL &&
	    (rc = ob_token_start(o)) != 0)
		return rc;
	if (o->state == OB_FAILED || o->addrs_ready)
		return 0;
	if ((rc = aq_start(o->env->resolver, o->smarthost, o->port, o,
	    &o->aq[0], ob_smarthost_done)) != 0)
		return rc;
	if (o->addrs_ready)
		ob_route_go(o);
	return 0;
}

/* AUTH XOAUTH2 with the initial response (RFC 4954 §4; Microsoft's
 * "Authenticate an IMAP, POP or SMTP connection using OAuth"). */
static bool
ob_auth(struct outbound *o)
{
	struct conn *c = o->c;
	char *ir = NULL;
	int rc;

	if ((rc = oauth2_xoauth2_encode(o->mailbox, o->token, &ir)) != 0) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "route %s: "
		    "cannot encode XOAUTH2 for %s: %s", o->route, o->mailbox,
		    danegate_strerror(rc));
		return false;
	}
	/* RFC 4954 §4: the line may be up to 12288 octets; a token
	 * does not fit conn_command()'s bound */
	if (conn_append(c, "AUTH XOAUTH2 ", 13) != 0 ||
	    conn_append(c, ir, strlen(ir)) != 0 ||
	    conn_append(c, "\r\n", 2) != 0) {
		oauth2_secret_free(ir);
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		return false;
	}
	oauth2_secret_free(ir);
	smtp_reply_init(&c->reply);
	conn_timer(c, o->env->t.ehlo_ms);
	o->state = OB_AUTH;
	return true;
}

/* The smarthost's answer to AUTH XOAUTH2. */
static void
ob_auth_reply(struct outbound *o, const struct smtp_reply *r)
{
	struct conn *c = o->c;
	struct outbound_stats *st = &o->env->stats;
	struct oauth2_cache *cache = token_worker_cache(o->env->tokens);

	if (r->code == 235) {
		st->oauth2[OB_OAUTH2_AUTH_OK]++;
		log_info("%s: route %s: %s accepted AUTH XOAUTH2 as %s",
		    o->domain, o->route, c->relay, o->mailbox);
		if (!ob_mail(o))
			ob_die(o);
		return;
	}
	if (r->code == 334) {
		/* an error challenge (base64 JSON): the empty answer asks
		 * for the final reply */
		if (conn_append(c, "\r\n", 2) != 0) {
			ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE,
			    "out of memory");
			ob_die(o);
			return;
		}
		smtp_reply_init(&c->reply);
		return;
	}
	if (strstr(r->text, "5.7.139") != NULL) {
		st->oauth2[OB_OAUTH2_AUTH_DISABLED]++;
		log_warnx("%s: route %s: %s refuses SMTP AUTH for %s (%d %s): "
		    "SMTP AUTH is disabled for the mailbox or the tenant; "
		    "fix: Set-CASMailbox -Identity %s "
		    "-SmtpClientAuthenticationDisabled $false (and "
		    "Set-TransportConfig -SmtpClientAuthenticationDisabled "
		    "$false tenant-wide)", o->domain, o->route, c->relay,
		    o->mailbox, r->code, r->text, o->mailbox);
		ob_set_fail(o, 451, "4.7.0", DANEGATE_R_NONE, "route %s: SMTP "
		    "AUTH is disabled for %s at the smarthost (5.7.139); "
		    "the administrator must enable it", o->route,
		    o->mailbox);
		ob_die(o);
		return;
	}
	/* a refused token: it is dropped, whatever happens next */
	oauth2_cache_drop(cache, o->mailbox);
	if (r->code == 535 && o->token_cached && !o->auth_retried) {
		/* revoked or expired early: one new token, once */
		st->oauth2[OB_OAUTH2_AUTH_RETRY]++;
		log_notice("%s: route %s: %s refused the cached token for %s "
		    "(%d %s): getting a new one", o->domain, o->route,
		    c->relay, o->mailbox, r->code, r->text);
		o->auth_retried = true;
		oauth2_secret_free(o->token);
		o->token = NULL;
		event_del(c->ev_timer);
		o->state = OB_TOKEN;
		if (ob_token_start(o) != 0) {
			ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE,
			    "out of memory");
			ob_die(o);
			return;
		}
		if (o->state == OB_TOKEN && o->token != NULL && !ob_auth(o))
			ob_die(o);
		return;
	}
	st->oauth2[OB_OAUTH2_AUTH_REFUSED]++;
	log_warnx("%s: route %s: %s refused AUTH XOAUTH2 for %s: %d %s",
	    o->domain, o->route, c->relay, o->mailbox, r->code, r->text);
	ob_set_fail(o, 451, "4.7.0", DANEGATE_R_NONE, "route %s: the "
	    "smarthost refused the token for %s: %d %s", o->route, o->mailbox,
	    r->code, r->text);
	ob_die(o);
}

void
outbound_env_set_routes(struct outbound_env *env,
    const struct relay_route *routes, size_t n)
{
	env->routes = routes;
	env->n_routes = n;
}

/* ---- the API --------------------------------------------------------------- */

static void
ob_sts_log(void *arg, const char *msg)
{
	(void)arg;
	log_warnx("%s", msg);
}

int
outbound_env_new(const struct outbound_env_options *opts,
    struct outbound_env **out)
{
	struct outbound_env *env;
	int rc;

	*out = NULL;
	if (opts == NULL || opts->base == NULL || opts->resolver == NULL)
		return DANEGATE_E_INVALID;
	if (opts->helo_name != NULL && !smtp_helo_name_ok(opts->helo_name))
		return DANEGATE_E_INVALID;
	if ((env = calloc(1, sizeof(*env))) == NULL)
		return DANEGATE_E_NOMEM;
	env->base = opts->base;
	env->resolver = opts->resolver;
	if (opts->helo_name != NULL)
		copy_str(env->helo, sizeof(env->helo), opts->helo_name);
	else if (gethostname(env->helo, sizeof(env->helo) - 1) != 0 ||
	    !smtp_helo_name_ok(env->helo))
		copy_str(env->helo, sizeof(env->helo), "localhost");
	env->policies = opts->policies;
	env->exemptions = opts->exemptions;
	env->tlsrpt = opts->tlsrpt;
	env->port = opts->port != 0 ? opts->port : 25;
	env->t = opts->timeouts;
	/* RFC 5321 §4.5.3.2 */
#define DEF(f, ms) do { if (env->t.f == 0) env->t.f = (ms); } while (0)
	DEF(connect_ms, 30000);
	DEF(greeting_ms, 300000);
	DEF(ehlo_ms, 300000);
	DEF(starttls_ms, 300000);
	DEF(mail_ms, 300000);
	DEF(rcpt_ms, 300000);
	DEF(data_ms, 120000);
	DEF(block_ms, 180000);
	DEF(data_end_ms, 600000);
#undef DEF
	if (env->t.data_end_ms > OB_DATA_END_CAP_MS)
		env->t.data_end_ms = OB_DATA_END_CAP_MS;
	env->data_buffer = opts->data_buffer != 0 ? opts->data_buffer :
	    OB_DATA_BUFFER_DEFAULT;
	env->reuse_max = opts->reuse_max != 0 ? opts->reuse_max :
	    OB_REUSE_MAX_DEFAULT;
	env->reuse_idle_ms = opts->reuse_idle_ms != 0 ? opts->reuse_idle_ms :
	    OB_REUSE_IDLE_DEFAULT;
	env->no_reuse = opts->no_reuse;
	env->dest_limit = opts->dest_limit != 0 ? opts->dest_limit :
	    OB_DEST_LIMIT_DEFAULT;
	env->dest_wait_ms = opts->dest_wait_ms != 0 ? opts->dest_wait_ms :
	    OB_DEST_WAIT_DEFAULT;
	rc = gnutls_certificate_allocate_credentials(&env->cred);
	if (rc >= 0) {
		if (opts->ca_file != NULL)
			rc = gnutls_certificate_set_x509_trust_file(env->cred,
			    opts->ca_file, GNUTLS_X509_FMT_PEM);
		else
			rc = gnutls_certificate_set_x509_system_trust(
			    env->cred);
		/* the system may have no trust store: only verify and
		 * secure need one, and they then fail closed */
		if (opts->ca_file == NULL && rc < 0)
			rc = 0;
		else if (opts->ca_file != NULL && rc <= 0)
			rc = -1;
	}
	if (rc < 0) {
		outbound_env_free(env);
		return DANEGATE_E_INVALID;
	}
	/* the token worker's thread starts now, before the sandbox */
	if ((rc = token_worker_new(env->base, opts->ca_file,
	    &env->tokens)) != 0) {
		outbound_env_free(env);
		return rc;
	}
	{
		struct sts_options so = { .ca_file = opts->ca_file,
		    .ipv4 = true, .ipv6 = true };
		char why[256];

		so.cache.dir = opts->sts_cache_dir;
		so.cache.log = ob_sts_log;
		if ((rc = sts_new(env->resolver, &so, &env->sts, why,
		    sizeof(why))) != 0) {
			log_warnx("MTA-STS: %s", why);
			outbound_env_free(env);
			return rc;
		}
	}
	*out = env;
	return 0;
}

void
outbound_env_set_tlsrpt(struct outbound_env *env, struct tlsrpt *t)
{
	env->tlsrpt = t;
}

void
outbound_env_set_policies(struct outbound_env *env,
    const struct policy_table *policies, struct exemptions *exemptions)
{
	env->policies = policies;
	env->exemptions = exemptions;
	env->generation++;
	while (env->cache != NULL)
		cache_close(env, env->cache, false);
}

void
outbound_env_stats(const struct outbound_env *env, struct outbound_stats *out)
{
	if (env == NULL) {
		memset(out, 0, sizeof(*out));
	} else {
		*out = env->stats;
		out->kept = env->n_cache;
	}
}

struct sts *
outbound_env_sts(const struct outbound_env *env)
{
	return env != NULL ? env->sts : NULL;
}

struct oauth2_cache *
outbound_env_token_cache(const struct outbound_env *env)
{
	return env != NULL && env->tokens != NULL ?
	    token_worker_cache(env->tokens) : NULL;
}

void
outbound_env_free(struct outbound_env *env)
{
	if (env == NULL)
		return;
	while (env->cache != NULL)
		cache_close(env, env->cache, true);
	while (env->dests != NULL) {
		struct dest_slot *ds = env->dests;

		env->dests = ds->next;
		free(ds);
	}
	for (unsigned i = 0; i < env->n_tickets; i++)
		gnutls_free(env->tickets[i].data.data);
	if (env->cred != NULL)
		gnutls_certificate_free_credentials(env->cred);
	sts_free(env->sts);
	token_worker_free(env->tokens);
	free(env);
}

static bool
domain_ok(const char *d)
{
	size_t len = strnlen(d, DANEGATE_NAME_MAX);

	if (len == 0 || len >= DANEGATE_NAME_MAX - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = d[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

/* The policy for the domain, copied: table entry, exemption, RFC 8689. */
static void
ob_policy(struct outbound *o)
{
	const struct policy_entry *e = policy_table_find(o->env->policies,
	    o->domain);
	struct exemption *x = exemptions_find(o->env->exemptions, o->domain);

	o->level = POLICY_LEVEL_DANE;
	if (e != NULL) {
		o->pol = *e;
		o->has_pol = true;
		o->level = e->level;
	}
	if (x != NULL) {
		if (exemption_active(x, time(NULL))) {
			o->exempt = true;
			copy_str(o->exempt_reason, sizeof(o->exempt_reason),
			    x->reason);
			copy_str(o->exempt_until, sizeof(o->exempt_until),
			    x->until);
		} else {
			x->refused++;
			o->env->stats.exemptions_refused++;
			log_warnx("%s: exemption expired on %s (%s): not "
			    "applied", o->domain, x->until, x->reason);
		}
	}
	o->soft = o->exempt || o->tls_required_no;
}

struct outbound *
outbound_open(struct outbound_env *env, const char *domain,
    const struct outbound_envelope *from, const struct outbound_callbacks *cb,
    void *arg, int *err)
{
	struct outbound *o;
	struct conn *c;
	char key[DANEGATE_NAME_MAX + 32];
	const struct relay_route *route = NULL;	/* from->route's clause */
	int rc = DANEGATE_E_INVALID;

	if (err != NULL)
		*err = 0;
	if (env == NULL || domain == NULL || from == NULL || cb == NULL ||
	    cb->on_reply == NULL || !domain_ok(domain) ||
	    from->sender == NULL || !arg_ok(from->sender, OB_SENDER_MAX, false) ||
	    (from->body != NULL && !arg_ok(from->body, 15, false)) ||
	    (from->ret != NULL && !arg_ok(from->ret, 15, false)) ||
	    (from->envid != NULL && !arg_ok(from->envid, 127, false)))
		goto fail;
	/*
	 * A transaction bound to a submission route never falls back to MX
	 * delivery: an unknown route or a missing mailbox is refused.
	 */
	if (from->route != NULL) {
		const struct relay_route *r = NULL;

		for (size_t i = 0; i < env->n_routes; i++)
			if (env->routes[i].name != NULL &&
			    strcmp(env->routes[i].name, from->route) == 0)
				r = &env->routes[i];
		route = r;
		if (r == NULL || r->smarthost == NULL ||
		    strlen(from->route) >= sizeof(o->route) ||
		    from->auth_mailbox == NULL ||
		    !arg_ok(from->auth_mailbox, OB_SENDER_MAX, false) ||
		    strchr(from->auth_mailbox, '@') == NULL ||
		    (r->grant == OAUTH2_GRANT_PASSWORD &&
		    from->auth_password == NULL))
			goto fail;
	}
	rc = DANEGATE_E_NOMEM;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		goto fail;
	o->env = env;
	copy_str(o->domain, sizeof(o->domain), domain);
	copy_str(o->sender, sizeof(o->sender), from->sender);
	o->size = from->size;
	copy_str(o->body, sizeof(o->body), from->body);
	o->smtputf8 = from->smtputf8;
	copy_str(o->ret, sizeof(o->ret), from->ret);
	copy_str(o->envid, sizeof(o->envid), from->envid);
	o->tls_required_no = from->tls_required_no;
	o->port = env->port;
	if (route != NULL) {		/* checked above */
		const struct relay_route *r = route;

		o->routed = true;
		/* never plaintext, whatever the header says */
		o->tls_required_no = false;
		copy_str(o->route, sizeof(o->route), from->route);
		copy_str(o->mailbox, sizeof(o->mailbox), from->auth_mailbox);
		copy_str(o->smarthost, sizeof(o->smarthost), r->smarthost);
		o->port = r->port;
		if (r->grant == OAUTH2_GRANT_PASSWORD &&
		    (o->password = strdup(from->auth_password)) == NULL) {
			free(o);
			goto fail;
		}
	}
	o->cb = *cb;
	o->arg = arg;
	o->busy = true;
	gettimeofday(&o->start, NULL);
	env->stats.transactions++;
	env->stats.in_flight++;
	o->ev_reply = evtimer_new(env->base, ob_reply_cb, o);
	o->ev_drain = evtimer_new(env->base, ob_drain_cb, o);
	if (o->ev_reply == NULL || o->ev_drain == NULL) {
		outbound_free(o);
		goto fail;
	}
	if (!o->routed)
		ob_policy(o);

	ob_cache_key(o, key, sizeof(key));
	if (!env->no_reuse && !o->routed &&
	    (c = cache_take(env, key)) != NULL) {
		/* a verified session to this destination, same policy: its
		 * connection is now the transaction's */
		o->holds_slot = c->holds_slot;
		c->holds_slot = false;
		ob_resume(o, c);
		return o;
	}
	o->state = OB_LOOKUP;
	/* a route's smarthost is not a destination domain: no slot */
	if ((rc = o->routed ? 1 : slot_acquire(o)) == 0)
		return o;	/* waits for its destination */
	if (rc < 0 || (rc = ob_start_lookup(o)) != 0) {
		outbound_free(o);
		goto fail;
	}
	return o;
fail:
	if (err != NULL)
		*err = rc;
	return NULL;
}

/* A request made on a dead transaction: the failure again. */
static int
ob_dead(struct outbound *o)
{
	o->busy = true;
	ob_reply(o, &o->fail);
	return 0;
}

int
outbound_rcpt(struct outbound *o, const char *rcpt, const char *dsn_params)
{
	struct rcpt *nr;
	char *copy;

	if (o == NULL || o->busy || rcpt == NULL ||
	    !arg_ok(rcpt, OB_SENDER_MAX, false) || rcpt[0] == '\0' ||
	    (dsn_params != NULL && !arg_ok(dsn_params, OB_PARAMS_MAX, true)))
		return DANEGATE_E_INVALID;
	if (o->state == OB_FAILED) {
		ob_log(o, rcpt, &o->fail);
		return ob_dead(o);
	}
	if (o->state != OB_IDLE)
		return DANEGATE_E_INVALID;
	if ((copy = strdup(rcpt)) == NULL)
		return DANEGATE_E_NOMEM;
	nr = realloc(o->rcpts, (o->n_rcpts + 1) * sizeof(*nr));
	if (nr == NULL) {
		free(copy);
		return DANEGATE_E_NOMEM;
	}
	o->rcpts = nr;
	o->rcpts[o->n_rcpts].addr = copy;
	o->rcpts[o->n_rcpts].accepted = false;
	o->n_rcpts++;
	o->cur_rcpt = copy;
	o->busy = true;
	if (dsn_params != NULL && dsn_params[0] != '\0' &&
	    (o->c->ext & SMTP_EXT_DSN))
		conn_command(o->c, "RCPT TO:<%s> %s", rcpt, dsn_params);
	else
		conn_command(o->c, "RCPT TO:<%s>", rcpt);
	conn_timer(o->c, o->env->t.rcpt_ms);
	o->state = OB_RCPT;
	event_active(o->c->ev_write, EV_WRITE, 0);
	return 0;
}

int
outbound_data_begin(struct outbound *o)
{
	bool any = false;

	if (o == NULL || o->busy)
		return DANEGATE_E_INVALID;
	if (o->state == OB_FAILED)
		return ob_dead(o);
	for (size_t i = 0; i < o->n_rcpts; i++)
		any = any || o->rcpts[i].accepted;
	if (o->state != OB_IDLE || !any)
		return DANEGATE_E_INVALID;
	o->busy = true;
	conn_command(o->c, "DATA");
	conn_timer(o->c, o->env->t.data_ms);
	o->state = OB_DATA;
	event_active(o->c->ev_write, EV_WRITE, 0);
	return 0;
}

int
outbound_data_write(struct outbound *o, const void *buf, size_t len)
{
	const char *b = buf;

	if (o == NULL || (len > 0 && buf == NULL))
		return DANEGATE_E_INVALID;
	if (o->state == OB_FAILED)
		return DANEGATE_E_NETWORK;
	if (o->state != OB_BODY || o->busy || o->data_full)
		return DANEGATE_E_INVALID;
	if (len == 0)
		return 0;
	if (conn_append(o->c, buf, len) != 0)
		return DANEGATE_E_NOMEM;
	o->any_data = true;
	if (len >= 2) {
		o->tail[0] = b[len - 2];
		o->tail[1] = b[len - 1];
	} else {
		o->tail[0] = o->tail[1];
		o->tail[1] = b[0];
	}
	if (o->c->out_len - o->c->out_pos >= o->env->data_buffer)
		o->data_full = true;
	/* send what the socket takes now, the rest from the loop */
	event_active(o->c->ev_write, EV_WRITE, 0);
	return o->data_full ? 1 : 0;
}

int
outbound_data_end(struct outbound *o)
{
	if (o == NULL || o->busy)
		return DANEGATE_E_INVALID;
	if (o->state == OB_FAILED)
		return ob_dead(o);
	if (o->state != OB_BODY)
		return DANEGATE_E_INVALID;
	o->busy = true;
	o->data_full = false;
	/* the message must end with CRLF before the dot (RFC 5321 §4.1.1.4) */
	if (o->any_data && (o->tail[0] != '\r' || o->tail[1] != '\n') &&
	    conn_append(o->c, "\r\n", 2) != 0) {
		ob_set_fail(o, 451, "4.3.0", DANEGATE_R_NONE, "out of memory");
		ob_die(o);
		return 0;
	}
	conn_command(o->c, ".");
	conn_timer(o->c, o->env->t.data_end_ms);
	o->state = OB_DOT;
	event_active(o->c->ev_write, EV_WRITE, 0);
	return 0;
}

void
outbound_free(struct outbound *o)
{
	if (o == NULL)
		return;
	o->env->stats.in_flight--;
	if (o->lookup != NULL)
		o->lookup->o = NULL;	/* the callback frees the ticket */
	for (size_t i = 0; i < 2; i++)
		if (o->aq[i] != NULL)
			o->aq[i]->owner = NULL;	/* freed by its last answer */
	token_wait_cancel(o->twait);
	oauth2_secret_free(o->token);
	oauth2_secret_free(o->password);
	if (o->waiting) {
		struct dest_slot *ds = slot_find(o->env, o->domain, false);

		if (ds != NULL) {
			slot_unwait(ds, o);
			slot_gc(o->env, ds);
		}
	}
	if (o->c != NULL) {
		struct conn *c = o->c;

		o->c = NULL;
		event_del(c->ev_read);
		event_del(c->ev_write);
		/* only a session at a clean end of a transaction is kept;
		 * never a route's: its AUTH was for a token that may have
		 * expired or been revoked since */
		if (!o->routed && (o->state == OB_DONE ||
		    (o->state == OB_IDLE && c->out_len == c->out_pos))) {
			/* its connection's count goes with it */
			c->holds_slot = o->holds_slot;
			o->holds_slot = false;
			cache_put(o->env, c);
		} else {
			conn_free(c);
		}
	}
	ob_slot_release(o);
	if (o->ev_wait != NULL)
		event_free(o->ev_wait);
	if (o->ev_reply != NULL)
		event_free(o->ev_reply);
	if (o->ev_drain != NULL)
		event_free(o->ev_drain);
	danegate_destination_free(o->dest);
	free(o->sts);
	danegate_smtp_result_free(o->judged);
	for (size_t i = 0; i < o->n_rcpts; i++)
		free(o->rcpts[i].addr);
	free(o->rcpts);
	free(o);
}

const char *
outbound_tls_summary(const struct outbound *o)
{
	return o != NULL ? conn_tls(o->c) : "none";
}

const char *
outbound_relay_name(const struct outbound *o)
{
	return o != NULL && o->c != NULL ? o->c->relay : "";
}
