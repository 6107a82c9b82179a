/*
 * front.c - the SMTP/LMTP listeners and server sessions (see front.h).
 *
 * One session is one client connection: a socket read and written by
 * hand (plaintext, or GnuTLS after STARTTLS) through two bounded
 * evbuffers, and a state:
 *
 *   S_CMD        reading commands, one at a time, in order
 *   S_AUTH_WAIT  AUTH waits for the token endpoint to take a password-grant
 *                mailbox's password (outbound_token_check())
 *   S_MAIL_WAIT  MAIL waits for the DMARC guard's lookups (dmarc_guard.h)
 *   S_RCPT       a RCPT waits for its outbound (MAIL at the first RCPT of
 *                a domain, then RCPT): the client's later, pipelined
 *                commands wait in the input buffer
 *   S_DATA_BEGIN DATA waits for the remote(s) to say 354
 *   S_DATA       the message streams to the outbound side(s)
 *   S_DATA_END   the final dot was sent; the remote's reply(ies) awaited
 *   S_TLS_FLUSH  "220 Ready to start TLS" is being written
 *   S_HANDSHAKE  the TLS handshake
 *   S_CLOSE      the last reply is being written, then close
 *
 * The outbound side's callbacks only record the reply in the dest and
 * kick the session; everything else happens in session_step(), from the
 * loop, so no outbound is ever freed from inside its own callback.
 *
 * RFC 8689: a dest whose open failed on the relay's own TLS policy is
 * held (D_HELD): its recipients get 250, the data forwarded is also kept
 * in s->hold until header_scan.c finds the end of the header; then
 * front_headers_done() reopens it with TLS-Required: No (D_REOPEN ...,
 * the client not read meanwhile) or makes the policy's 4xx its reply.
 *
 * SECURITY: see front.h. Every client byte is either a command line (at
 * most SMTP_CMD_LINE_MAX + CRLF, parsed by smtp_cmd.c) or message data
 * (scanned by smtp_data.c and forwarded as it is); nothing the client sends
 * reaches a log line unless it passed the parser's printable-only rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "acl.h"
#include "dmarc_guard.h"
#include "front.h"
#include "header_scan.h"
#include "log.h"
#include "lookup.h"
#include "oauth2.h"
#include "outbound.h"
#include "resolver.h"
#include "relay_conf.h"
#include "clients.h"
#include "sasl.h"
#include "smtp_cmd.h"
#include "smtp_data.h"
#include "spf_lookup.h"
#include "txt.h"

/* Input read ahead of processing; past it the client is not read. */
#define FRONT_IN_MAX	(64u * 1024)
/* Replies not yet read by the client; past it no command is processed. */
#define FRONT_OUT_MAX	(64u * 1024)
/* One read or write. */
#define FRONT_IO_CHUNK	16384
/* After its own final-reply timeout, the outbound side answers 4xx; this
 * is the session's guard above it. */
#define FRONT_FINAL_GUARD_S 30

enum sstate {
	S_CMD,
	S_AUTH_WAIT,
	S_MAIL_WAIT,
	S_RCPT,
	S_DATA_BEGIN,
	S_DATA,
	S_DATA_END,
	S_TLS_FLUSH,
	S_HANDSHAKE,
	S_CLOSE,
};

enum dstate {
	D_OPENING,	/* outbound_open() sent, MAIL reply awaited */
	D_READY,
	D_RCPT,		/* a RCPT reply awaited */
	D_DEAD,		/* failed: fail is every later answer */
	D_DATA_BEGIN,
	D_DATA,
	D_DATA_END,
	D_DONE,		/* final holds the remote's final reply */
	/* RFC 8689: the destination's TLS policy failed at the open; its
	 * recipients got 250 and wait for the header to decide */
	D_HELD,		/* held holds the policy failure */
	D_REOPEN,	/* outbound_open() with TLS-Required: No sent */
	D_REOPEN_RCPT,	/* the RCPT of recipient ri sent */
	D_REOPEN_DATA,	/* DATA sent */
};

struct session;

/* One destination domain of a transaction: one outbound. */
struct dest {
	struct session *s;
	char domain[SMTP_CMD_DOMAIN_MAX + 1];
	struct outbound *ob;
	enum dstate state;
	bool busy;			/* a request is outstanding */
	bool full;			/* data_write said full */
	struct outbound_reply last;	/* the answer to the last request */
	struct outbound_reply fail;	/* D_DEAD */
	struct outbound_reply final;	/* D_DONE */
	unsigned n_ok;			/* accepted recipients */
	struct outbound_reply held;	/* D_HELD: the policy failure */
	size_t ri;			/* D_REOPEN_RCPT: the recipient */
	unsigned reopen_ok;		/* recipients the remote took */
};

struct rcpt {
	char *addr;
	size_t dest;
	bool asked, accepted;
	bool late_refused;		/* refused when its held dest was
					 * opened after the header */
	struct outbound_reply reply;	/* what RCPT got */
};

struct session {
	struct front *f;
	struct timespec dot_at;		/* the client's final dot */
	struct session *prev, *next;
	int fd;
	bool lmtp, allowed;
	char peer[INET6_ADDRSTRLEN + 8];	/* "[addr]" or "unix" */
	char id[13];
	struct event *ev_read, *ev_write, *ev_timer, *ev_kick;
	gnutls_session_t tls;
	bool tls_on, reading, eof;
	bool implicit_tls;		/* listen-tls: TLS before the 220 */
	struct evbuffer *in, *out;
	enum sstate state;
	bool skip_line;			/* discarding an overlong line */

	bool helo_done, esmtp;
	char helo[SMTP_CMD_HELO_MAX + 1];

	/* SMTP AUTH (RFC 4954): the step of an exchange in progress, the
	 * client once authenticated, failures so far */
	enum { A_NONE, A_PLAIN, A_LOGIN_USER, A_LOGIN_PASS } sasl_step;
	bool auth_ok;
	char auth_user[SASL_FIELD_MAX + 1];
	unsigned auth_fails;
	/* a password-grant route's mailbox (issue 9): its own password is
	 * traded for the token, the token endpoint checks it; wiped when
	 * the session ends */
	bool auth_ropc;
	char auth_pass[SASL_FIELD_MAX + 1];
	/* S_AUTH_WAIT: the endpoint's check, then its verdict */
	struct outbound_token_check *tcheck;
	struct outbound_reply tverdict;
	const char *auth_mech;
	/* a client known by its address (client-address:), copied: a
	 * reload may free the conf; auth_user then names the rule */
	bool addr_mapped;
	char addr_mailboxes[512];
	char addr_first[SMTP_CMD_PATH_MAX];
	/* the transaction's route, copied: a reload may free the conf */
	char route_name[64];
	char route_mailbox[SMTP_CMD_PATH_MAX];

	/* the transaction */
	bool in_mail;
	char sender[SMTP_CMD_PATH_MAX];
	char envid[SMTP_CMD_ENVID_MAX + 1];
	struct outbound_envelope env;
	struct rcpt *rcpts;
	size_t n_rcpts, cap_rcpts, cur;
	struct dest **dests;
	size_t n_dests, n_accepted;
	struct smtp_data scan;
	bool too_big;
	unsigned n_full;
	/* the header block (RFC 8689's TLS-Required; the end-of-headers
	 * hook); the data forwarded while held dests wait for it */
	struct header_scan *hs;
	bool hdr_done, end_seen;
	struct evbuffer *hold;
	unsigned n_held, n_reopen;
	/* the DMARC guard: its lookups (one domain each) in flight or
	 * answered; the client waits (S_MAIL_WAIT, or guard_wait in the
	 * data) until guard_pending is 0 */
	struct guard_job *guard[HEADER_SCAN_ADDRS_MAX];
	size_t n_guard;
	unsigned guard_pending;
	bool guard_wait;
};

struct listener {
	struct front *f;
	int fd;
	bool lmtp;
	bool tls;			/* implicit TLS (listen-tls:) */
	struct event *ev;
	char *path;			/* unix socket to unlink, or NULL */
};

struct front {
	struct event_base *base;
	struct outbound_env *oenv;
	const struct relay_conf *conf;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	struct listener *ls;
	size_t n_ls;
	struct session *sessions;
	struct front_stats st;
	bool draining;
	struct event *ev_drain;
	void (*drain_done)(void *);
	void *drain_arg;
	struct danegate_resolver *resolver;	/* the DMARC guard's; NULL:
						 * no guard */
};

const uint64_t front_latency_bounds_us[FRONT_LATENCY_BUCKETS - 1] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000, 30000000, 60000000,
};

static void
count_latency(struct front_stats *st, const struct timespec *since)
{
	struct timespec now;
	uint64_t us;
	size_t i = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (uint64_t)(now.tv_sec - since->tv_sec) * 1000000u +
	    (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000);
	while (i < FRONT_LATENCY_BUCKETS - 1 && us > front_latency_bounds_us[i])
		i++;
	st->latency[i]++;
	st->latency_sum_us += us;
}

static void session_step(struct session *s);
static void session_close(struct session *s);
static void session_want_io(struct session *s);

/* ---- replies and I/O ---------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static void
reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
	(void)evbuffer_add(s->out, "\r\n", 2);
}

/* "250 2.1.5 Ok": the outbound's reply, an enhanced code always first. */
static void
reply_mirror(struct session *s, const struct outbound_reply *r)
{
	const char *t = r->text;
	bool enhanced = t[0] >= '2' && t[0] <= '5' && t[1] == '.';

	if (enhanced)
		reply(s, "%03d %s", r->code, t);
	else
		reply(s, "%03d %c.0.0 %s", r->code, '0' + r->code / 100, t);
}

static void
set_reply(struct outbound_reply *r, int code, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->code = code;
	snprintf(r->text, sizeof(r->text), "%s", text);
}

static ssize_t
io_recv(struct session *s, void *buf, size_t n)
{
	ssize_t r;

	if (!s->tls_on) {
		r = recv(s->fd, buf, n, 0);
		return r;
	}
	r = gnutls_record_recv(s->tls, buf, n);
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		errno = EAGAIN;
	else
		errno = ECONNRESET;
	return -1;
}

static ssize_t
io_send(struct session *s, const void *buf, size_t n)
{
	ssize_t r;

	if (!s->tls_on)
		return send(s->fd, buf, n, MSG_NOSIGNAL);
	r = gnutls_record_send(s->tls, buf, n);
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		errno = EAGAIN;
	else
		errno = EPIPE;
	return -1;
}

/* Writes what it can; returns false when the client is gone. GnuTLS
 * wants the same bytes again after EAGAIN: they stay in s->out until
 * sent. */
static bool
flush(struct session *s)
{
	while (evbuffer_get_length(s->out) > 0) {
		size_t n = evbuffer_get_length(s->out);
		unsigned char *p;
		ssize_t w;

		if (n > FRONT_IO_CHUNK)
			n = FRONT_IO_CHUNK;
		p = evbuffer_pullup(s->out, (ssize_t)n);
		w = io_send(s, p, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				event_add(s->ev_write, NULL);
				return true;
			}
			return false;
		}
		evbuffer_drain(s->out, (size_t)w);
	}
	return true;
}

static void
arm_timer(struct session *s, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	event_add(s->ev_timer, &tv);
}

/* Reads what the socket has, up to the input bound. */
static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	unsigned char buf[FRONT_IO_CHUNK];

	(void)fd;
	(void)what;
	if (s->state == S_HANDSHAKE) {
		session_step(s);
		return;
	}
	while (evbuffer_get_length(s->in) < FRONT_IN_MAX && !s->eof) {
		ssize_t r = io_recv(s, buf, sizeof(buf));

		if (r > 0) {
			evbuffer_add(s->in, buf, (size_t)r);
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		s->eof = true;	/* EOF or a reset: the client is gone */
	}
	if (s->state == S_CMD || s->state == S_DATA)
		arm_timer(s, s->f->conf->command_timeout);
	session_step(s);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == S_HANDSHAKE) {
		session_step(s);
		return;
	}
	if (!flush(s)) {
		s->eof = true;
		evbuffer_drain(s->out, evbuffer_get_length(s->out));
	}
	session_step(s);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_step(arg);
}

static void
kick(struct session *s)
{
	event_active(s->ev_kick, EV_TIMEOUT, 0);
}

/* ---- the transaction ----------------------------------------------------- */

static void
dest_on_reply(void *arg, const struct outbound_reply *r)
{
	struct dest *d = arg;

	d->last = *r;
	d->busy = false;
	kick(d->s);
}

static void
dest_on_drain(void *arg)
{
	struct dest *d = arg;

	if (d->full) {
		d->full = false;
		d->s->n_full--;
	}
	kick(d->s);
}

static const struct outbound_callbacks dest_cb = {
	dest_on_reply, dest_on_drain,
};

/* ---- the DMARC guard (dmarc_guard.h) ------------------------------------ */

enum { GQ_DMARC, GQ_ORG, GQ_SPF, GQ_N };

struct guard_job;

/* One TXT lookup of a job. */
struct guard_q {
	struct guard_job *j;
	int kind;
};

/*
 * The lookups for one domain. The resolver cannot cancel a lookup: a job
 * whose session went away (txn_reset) is orphaned (s NULL) and frees
 * itself at its last answer, or when the resolver is freed first.
 */
struct guard_job {
	struct resolver_owner owner;	/* first: the cancel hook's cast */
	struct danegate_resolver *r;
	struct session *s;
	unsigned pending;
	bool at_header;			/* a From: domain, after MAIL */
	char domain[SMTP_CMD_DOMAIN_MAX + 1];
	struct guard_q q[GQ_N];
	struct spf_lookup *spf;		/* GQ_SPF's evaluation, while out */
	struct dmarc_guard_facts facts;
};

static void
guard_job_free(struct guard_job *j)
{
	resolver_detach(j->r, &j->owner);
	free(j);
}

static void
guard_job_cancel(struct resolver_owner *o)
{
	struct guard_job *j = (struct guard_job *)(void *)o;

	/* the resolver is being freed (and has detached it); the SPF
	 * evaluation, an owner too, is freed by it */
	spf_lookup_abandon(j->spf);
	free(j);
}

/* Forgets the transaction's jobs: answered ones freed, others orphaned. */
static void
guard_reset(struct session *s)
{
	for (size_t i = 0; i < s->n_guard; i++) {
		struct guard_job *j = s->guard[i];

		/* the SPF evaluation would go on asking: stopped */
		if (j->spf != NULL) {
			spf_lookup_abandon(j->spf);
			j->pending--;
		}
		if (j->pending > 0)
			j->s = NULL;
		else
			guard_job_free(j);
	}
	s->n_guard = 0;
	s->guard_pending = 0;
	s->guard_wait = false;
}

/* What an answer says; the record's texts (joined) into texts[]. */
static enum dmarc_guard_dns
guard_answer(const struct lookup_answer *a, char **texts, size_t *n)
{
	*n = 0;
	if (a->state != DANEGATE_SECURE && a->state != DANEGATE_INSECURE)
		return DMARC_GUARD_DNS_FAIL;	/* bogus, indeterminate */
	if (a->nxdomain || a->nodata)
		return DMARC_GUARD_DNS_NONE;
	if (a->rcode != 0)
		return DMARC_GUARD_DNS_FAIL;
	for (size_t i = 0; i < a->n_rrs; i++) {
		char *t = txt_join(a->rrs[i].data, a->rrs[i].len);

		if (t != NULL)
			texts[(*n)++] = t;
	}
	return DMARC_GUARD_DNS_FOUND;
}

static void
guard_on_txt(void *arg, struct lookup_answer *a)
{
	struct guard_q *q = arg;
	struct guard_job *j = q->j;
	struct dmarc_guard_facts *f = &j->facts;
	char **texts = NULL;
	size_t n = 0;
	enum dmarc_guard_dns st;

	if (j->s == NULL) {
		/* orphaned: nobody reads the answer */
		lookup_answer_clear(a);
		if (--j->pending == 0)
			guard_job_free(j);
		return;
	}
	if (a->n_rrs > 0 &&
	    (texts = calloc(a->n_rrs, sizeof(*texts))) == NULL)
		st = DMARC_GUARD_DNS_FAIL;
	else
		st = guard_answer(a, texts, &n);
	if (st == DMARC_GUARD_DNS_FAIL)
		log_info("%s: DMARC guard: TXT %s: %s", j->s->id, a->name,
		    a->why[0] ? a->why : "lookup failed");
	if (st == DMARC_GUARD_DNS_FOUND) {
		const char *const *tx = (const char *const *)texts;

		switch (q->kind) {
		case GQ_DMARC:
			st = dmarc_guard_dmarc_txt(tx, n, &f->rec);
			break;
		default:
			st = dmarc_guard_dmarc_txt(tx, n, &f->org_rec);
			break;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	lookup_answer_clear(a);
	if (q->kind == GQ_DMARC)
		f->dmarc = st;
	else
		f->org_dmarc = st;
	if (--j->pending > 0)
		return;
	j->s->guard_pending--;
	kick(j->s);
}

/* The SPF verdict on the relay's addresses (spf_lookup.h). */
static void
guard_on_spf(void *arg, enum spf_result r)
{
	struct guard_job *j = arg;
	struct dmarc_guard_facts *f = &j->facts;

	/* spf_lookup has NULLed j->spf; an orphan abandoned it (no call) */
	f->spf = r;
	f->spf_dns = r == SPF_R_TEMPERROR ? DMARC_GUARD_DNS_FAIL :
	    DMARC_GUARD_DNS_FOUND;
	if (r == SPF_R_TEMPERROR)
		log_info("%s: DMARC guard: SPF of %s: temperror", j->s->id,
		    j->domain);
	if (--j->pending > 0)
		return;
	j->s->guard_pending--;
	kick(j->s);
}

/*
 * Starts the lookups for domain: _dmarc.DOMAIN, _dmarc.ORGDOMAIN (see
 * dmarc_guard.h) and, at MAIL, DOMAIN's SPF for the relay's addresses
 * (check_host() with its own lookups, spf_lookup.h). Returns false
 * (nothing started) out of memory.
 */
static bool
guard_start(struct session *s, const char *domain, bool at_header)
{
	struct guard_job *j;
	char name[DANEGATE_NAME_MAX + 8];
	const char *parent = NULL;

	if (s->n_guard >= HEADER_SCAN_ADDRS_MAX ||
	    (j = calloc(1, sizeof(*j))) == NULL)
		return false;
	j->r = s->f->resolver;
	j->s = s;
	j->at_header = at_header;
	j->owner.cancel = guard_job_cancel;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->facts.dmarc = j->facts.org_dmarc = j->facts.spf_dns =
	    DMARC_GUARD_DNS_SKIPPED;
	j->facts.spf = SPF_R_NONE;
	for (int k = 0; k < GQ_N; k++) {
		j->q[k].j = j;
		j->q[k].kind = k;
	}
	resolver_attach(j->r, &j->owner);
	s->guard[s->n_guard++] = j;
	s->guard_pending++;
	/* one for this function: an answer may come before a call returns */
	j->pending = 1;
	/* RFC 7489 §6.6.3: the organizational domain's record when the
	 * domain is not that domain itself */
	if ((parent = dmarc_org_domain(domain)) == domain)
		parent = NULL;
	for (int k = 0; k < GQ_N; k++) {
		if (k == GQ_ORG && parent == NULL)
			continue;
		if (k == GQ_SPF && at_header)
			continue;	/* SPF is the envelope domain's */
		j->pending++;
		if (k == GQ_SPF) {
			const struct relay_conf *c = s->f->conf;

			/* the sender for macros; the name the relay says
			 * in its EHLO when it goes direct for %{h} */
			if (spf_lookup_start(j->r, domain, s->sender,
			    c->hostname, c->spf_addrs, c->n_spf_addrs,
			    guard_on_spf, j, &j->spf) != 0) {
				j->pending--;
				j->facts.spf_dns = DMARC_GUARD_DNS_FAIL;
				j->facts.spf = SPF_R_TEMPERROR;
			}
			continue;
		}
		snprintf(name, sizeof(name), "_dmarc.%s",
		    k == GQ_ORG ? parent : domain);
		if (resolver_lookup_async(j->r, name, DNS_TYPE_TXT,
		    guard_on_txt, &j->q[k]) != 0) {
			j->pending--;
			if (k == GQ_DMARC)
				j->facts.dmarc = DMARC_GUARD_DNS_FAIL;
			else
				j->facts.org_dmarc = DMARC_GUARD_DNS_FAIL;
		}
	}
	if (--j->pending == 0) {
		s->guard_pending--;
		kick(s);
	}
	return true;
}

/* Whether the guard looks at domain: on, a resolver, an ASCII name. */
static bool
guard_applies(const struct session *s, const char *domain)
{
	if (s->f->resolver == NULL || !s->f->conf->dmarc_guard ||
	    domain == NULL || domain[0] == '\0' || domain[0] == '[')
		return false;
	/* U-labels are not looked up (no IDNA here): not guarded */
	for (const char *p = domain; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return false;
	return true;
}

/* Ends the transaction: every outbound freed (one that did not reach
 * its final dot never delivers: no dot, no message). */
static void
txn_reset(struct session *s)
{
	guard_reset(s);
	for (size_t i = 0; i < s->n_dests; i++) {
		outbound_free(s->dests[i]->ob);
		free(s->dests[i]);
	}
	free(s->dests);
	s->dests = NULL;
	s->n_dests = 0;
	for (size_t i = 0; i < s->n_rcpts; i++)
		free(s->rcpts[i].addr);
	free(s->rcpts);
	s->rcpts = NULL;
	s->n_rcpts = s->cap_rcpts = 0;
	s->n_accepted = 0;
	s->n_full = 0;
	s->too_big = false;
	s->in_mail = false;
	free(s->hs);
	s->hs = NULL;
	if (s->hold != NULL)
		evbuffer_free(s->hold);
	s->hold = NULL;
	s->hdr_done = s->end_seen = false;
	s->n_held = s->n_reopen = 0;
	memset(&s->env, 0, sizeof(s->env));
}

static bool
dests_busy(const struct session *s)
{
	for (size_t i = 0; i < s->n_dests; i++)
		if (s->dests[i]->busy)
			return true;
	return false;
}

/*
 * The client is gone (closed, timed out, shut down) before its final dot:
 * every outbound transaction still in its data is dropped without a dot
 * (outbound_free() closes such a connection, so the remote discards the
 * partial message), and each is logged with the destination.
 */
static void
txn_abort_data(struct session *s, const char *why)
{
	if (s->state != S_DATA)
		return;
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->state != D_DATA)
			continue;
		outbound_free(d->ob);
		d->ob = NULL;
		d->state = D_DEAD;
		s->f->st.aborted++;
		log_notice("%s: from=<%s>, to domain %s: client %s %s in the "
		    "middle of the data after %llu bytes: transaction "
		    "aborted before the final dot, nothing delivered", s->id,
		    s->sender, d->domain, s->peer, why,
		    (unsigned long long)s->scan.bytes);
	}
}

/* RFC 6531 §4.3 and RFC 3848 "with" protocol names: S for TLS, A for an
 * authenticated client (ESMTPSA, UTF8SMTPA, ...). */
static const char *
with_protocol(const struct session *s)
{
	static const char *names[2][2][2][2] = {
		{ { { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		  { { "UTF8SMTP", "UTF8SMTPA" },
		    { "UTF8SMTPS", "UTF8SMTPSA" } } },
		{ { { "LMTP", "LMTPA" }, { "LMTPS", "LMTPSA" } },
		  { { "UTF8LMTP", "UTF8LMTPA" },
		    { "UTF8LMTPS", "UTF8LMTPSA" } } },
	};

	if (!s->esmtp && !s->lmtp)
		return s->tls_on ? "SMTPS" : "SMTP";
	return names[s->lmtp][s->env.smtputf8][s->tls_on][s->auth_ok];
}

/* The Received: trace line (RFC 5321 §4.4), written first. */
static int
received_line(struct session *s, char *buf, size_t cap)
{
	char date[64], tls[160] = "", helo[sizeof(s->helo)];
	const char *host = s->f->conf->hostname;
	time_t now = time(NULL);
	struct tm tm;
	int n;

	/* the HELO name is printable ASCII; keep it out of the comment
	 * syntax */
	snprintf(helo, sizeof(helo), "%s", s->helo[0] ? s->helo : "unknown");
	for (char *c = helo; *c != '\0'; c++)
		if (*c == '(' || *c == ')' || *c == '\\')
			*c = '?';
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (s->tls_on)
		snprintf(tls, sizeof(tls), "\r\n\t(using %s with cipher %s)",
		    gnutls_protocol_get_name(gnutls_protocol_get_version(
		    s->tls)), gnutls_cipher_get_name(gnutls_cipher_get(s->tls)));
	n = snprintf(buf, cap, "Received: from %s (%s)%s\r\n"
	    "\tby %s (danegate-relay) with %s id %s", helo, s->peer, tls, host,
	    with_protocol(s), s->id);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (s->n_accepted == 1) {
		for (size_t i = 0; i < s->n_rcpts; i++)
			if (s->rcpts[i].accepted &&
			    strlen(s->rcpts[i].addr) < 300)
				n += snprintf(buf + n, cap - (size_t)n,
				    "\r\n\tfor <%s>", s->rcpts[i].addr);
	}
	if ((size_t)n >= cap)
		return -1;
	n += snprintf(buf + n, cap - (size_t)n, "; %s\r\n", date);
	return (size_t)n < cap ? n : -1;
}

/* Writes bytes to every dest in D_DATA; counts the full ones. Keeps
 * them too while held dests wait for the end of the header. */
static void
data_forward(struct session *s, const void *buf, size_t len)
{
	if (s->hold != NULL && evbuffer_add(s->hold, buf, len) != 0) {
		/* out of memory: the held dests cannot be opened later */
		evbuffer_free(s->hold);
		s->hold = NULL;
	}
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];
		int rc;

		if (d->state != D_DATA)
			continue;
		rc = outbound_data_write(d->ob, buf, len);
		if (rc == 1 && !d->full) {
			d->full = true;
			s->n_full++;
		}
		/* rc < 0: the transaction failed; data_end answers 4xx */
	}
}

/* ---- commands ------------------------------------------------------------ */

/* Whether this session takes SMTP AUTH: a client file is configured and
 * this is SMTP (LMTP comes from the local MTA, trusted by its socket). */
static bool
auth_offered(const struct session *s)
{
	const struct relay_conf *conf = s->f->conf;
	bool ropc = false;

	for (size_t i = 0; i < conf->n_routes; i++)
		ropc = ropc || conf->routes[i].grant == OAUTH2_GRANT_PASSWORD;
	return (conf->clients != NULL || ropc) && !s->lmtp;
}

/* A password-grant route's own mailbox (not a client of the file): the
 * route whose domain it is, or NULL. */
static const struct relay_route *
auth_ropc_route(const struct session *s, const char *user)
{
	const struct relay_route *r = relay_conf_route_for(s->f->conf, user);

	if (r == NULL || r->grant != OAUTH2_GRANT_PASSWORD ||
	    clients_mailbox(s->f->conf->clients, user) != NULL)
		return NULL;
	return r;
}

/* ---- SMTP AUTH (RFC 4954) ------------------------------------------------ */

/* Failed AUTH attempts before the session is closed (Postfix's
 * smtpd_hard_error_limit is coarser; guessing needs many tries). */
#define FRONT_AUTH_TRIES 3

/* A failed attempt: its reply, or 421 and the end after the last try. */
static void
auth_refused(struct session *s, const char *reply_line)
{
	s->auth_fails++;
	if (s->auth_fails >= FRONT_AUTH_TRIES) {
		reply(s, "421 4.7.0 %s Too many failed authentication "
		    "attempts", s->f->conf->hostname);
		s->state = S_CLOSE;
	} else
		reply(s, "%s", reply_line);
}

/* The token endpoint's verdict on a password-grant mailbox's password
 * (held in auth_user and auth_pass meanwhile): 235 keeps both. */
static void
auth_ropc_verdict(struct session *s, const struct outbound_reply *v)
{
	s->state = S_CMD;
	if (v->code == 235) {
		s->auth_ok = s->auth_ropc = true;
		log_info("%s: %s: AUTH %s: mailbox %s: password taken by "
		    "the token endpoint of route %s", s->id, s->peer,
		    s->auth_mech, s->auth_user, s->route_name);
		reply(s, "235 %s", v->text);
		return;
	}
	log_notice("%s: %s: AUTH %s: mailbox %s: %d %s (attempt %u)",
	    s->id, s->peer, s->auth_mech, s->auth_user, v->code, v->text,
	    s->auth_fails + (v->code == 535));
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	explicit_bzero(s->auth_pass, sizeof(s->auth_pass));
	if (v->code == 535) {
		char line[sizeof(v->text) + 8];

		snprintf(line, sizeof(line), "535 %s", v->text);
		auth_refused(s, line);
	} else
		reply(s, "%d %s", v->code, v->text);
}

static void
auth_ropc_answer(void *arg, const struct outbound_reply *v)
{
	struct session *s = arg;

	s->tcheck = NULL;
	s->tverdict = *v;
	kick(s);
}

/*
 * ROPC (issue 9): a password-grant route's mailbox authenticates with
 * its own password, which only the token endpoint can check: the client
 * waits (S_AUTH_WAIT) for the endpoint's verdict, a token cached for
 * that very password, or an outage (454). A wrong password is a 535
 * here and caches nothing; a right one leaves the token in the cache
 * for the transactions to come.
 */
static void
auth_ropc_start(struct session *s, const struct relay_route *r,
    const struct sasl_creds *cr, const char *mech)
{
	int rc;

	snprintf(s->auth_user, sizeof(s->auth_user), "%s", cr->user);
	memcpy(s->auth_pass, cr->pass, sizeof(s->auth_pass));
	/* the route's name for the log (a reload may free r) */
	snprintf(s->route_name, sizeof(s->route_name), "%s", r->name);
	s->auth_mech = mech;
	rc = outbound_token_check(s->f->oenv, r->name, s->auth_user,
	    s->auth_pass, auth_ropc_answer, s, &s->tverdict, &s->tcheck);
	if (rc == 1) {
		auth_ropc_verdict(s, &s->tverdict);
		return;
	}
	if (rc < 0) {
		log_warnx("%s: %s: AUTH %s: mailbox %s: cannot ask the token "
		    "endpoint: %s", s->id, s->peer, mech, s->auth_user,
		    danegate_strerror(rc));
		explicit_bzero(s->auth_user, sizeof(s->auth_user));
		explicit_bzero(s->auth_pass, sizeof(s->auth_pass));
		reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	log_info("%s: %s: AUTH %s: mailbox %s of route %s: asking the token "
	    "endpoint", s->id, s->peer, mech, s->auth_user, r->name);
	s->state = S_AUTH_WAIT;
}

/* S_AUTH_WAIT: the endpoint's verdict, once there. */
static bool
step_auth_wait(struct session *s)
{
	if (s->tcheck != NULL)
		return false;
	auth_ropc_verdict(s, &s->tverdict);
	return true;
}

/* The end of an exchange: checks creds, answers, wipes them. */
static void
auth_finish(struct session *s, struct sasl_creds *cr, const char *mech)
{
	const struct clients *cl = s->f->conf->clients;
	const struct relay_route *r;

	s->sasl_step = A_NONE;
	if ((r = auth_ropc_route(s, cr->user)) != NULL) {
		auth_ropc_start(s, r, cr, mech);
	} else if (clients_check(cl, cr->user, cr->pass)) {
		s->auth_ok = true;
		snprintf(s->auth_user, sizeof(s->auth_user), "%s", cr->user);
		log_info("%s: %s: AUTH %s: client %s authenticated", s->id,
		    s->peer, mech, s->auth_user);
		reply(s, "235 2.7.0 Authentication successful");
	} else {
		/* the name only, never what was sent as the password */
		log_notice("%s: %s: AUTH %s: authentication failed for "
		    "client %s (attempt %u)", s->id, s->peer, mech, cr->user,
		    s->auth_fails + 1);
		auth_refused(s, "535 5.7.8 Authentication credentials "
		    "invalid");
	}
	sasl_creds_wipe(cr);
}

/* An exchange that failed before any credentials were checked. */
static void
auth_abort(struct session *s, int rc)
{
	s->sasl_step = A_NONE;
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	log_info("%s: %s: AUTH: %s", s->id, s->peer, sasl_strerror(rc));
	if (rc == SASL_E_CANCEL)
		reply(s, "501 5.0.0 Authentication cancelled");
	else if (rc == SASL_E_BASE64)
		reply(s, "501 5.5.2 Cannot decode the response");
	else {
		/* a malformed message counts as a failed attempt: a
		 * guesser does not get more tries by sending junk */
		auth_refused(s, "535 5.7.8 Authentication credentials "
		    "invalid");
	}
}

/* One response of the exchange (b64 bytes, len, the line without CRLF),
 * or the initial response of the AUTH command. */
static void
auth_step(struct session *s, const uint8_t *b64, size_t len)
{
	uint8_t msg[SASL_B64_MAX];
	size_t n;
	struct sasl_creds cr;
	int rc;

	rc = sasl_b64_decode(b64, len, msg, sizeof(msg), &n);
	if (rc != SASL_OK) {
		explicit_bzero(msg, sizeof(msg));
		auth_abort(s, rc);
		return;
	}
	switch (s->sasl_step) {
	case A_PLAIN:
		rc = sasl_plain_decode(msg, n, &cr);
		explicit_bzero(msg, sizeof(msg));
		if (rc != SASL_OK)
			auth_abort(s, rc);
		else
			auth_finish(s, &cr, "PLAIN");
		return;
	case A_LOGIN_USER:
		/* the user name waits in auth_user until the password */
		rc = sasl_login_field(msg, n, s->auth_user, 1);
		explicit_bzero(msg, sizeof(msg));
		if (rc != SASL_OK) {
			auth_abort(s, rc);
			return;
		}
		s->sasl_step = A_LOGIN_PASS;
		reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		return;
	case A_LOGIN_PASS:
		memset(&cr, 0, sizeof(cr));
		rc = sasl_login_field(msg, n, cr.pass, 0);
		explicit_bzero(msg, sizeof(msg));
		if (rc != SASL_OK) {
			sasl_creds_wipe(&cr);
			auth_abort(s, rc);
			return;
		}
		memcpy(cr.user, s->auth_user, sizeof(cr.user));
		explicit_bzero(s->auth_user, sizeof(s->auth_user));
		auth_finish(s, &cr, "LOGIN");
		return;
	case A_NONE:
		break;
	}
}

static void
cmd_auth(struct session *s, const uint8_t *line, size_t len)
{
	struct sasl_auth a;
	int rc;

	if (!auth_offered(s)) {
		reply(s, "502 5.5.1 AUTH not offered");
		return;
	}
	if (!s->helo_done || !s->esmtp) {
		reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (!s->tls_on) {
		/* RFC 4954 §6: before STARTTLS, refused whatever the
		 * mechanism, and the password is not even read */
		reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (s->auth_ok) {
		reply(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 AUTH not permitted during a mail "
		    "transaction");
		return;
	}
	rc = sasl_auth_parse(line, len, &a);
	if (rc == SASL_E_MECH) {
		reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (rc != SASL_OK) {
		reply(s, "501 5.5.4 Syntax error in AUTH parameters");
		return;
	}
	s->sasl_step = a.mech == SASL_MECH_PLAIN ? A_PLAIN : A_LOGIN_USER;
	if (a.initial[0] != '\0')
		auth_step(s, (const uint8_t *)a.initial, strlen(a.initial));
	else if (a.mech == SASL_MECH_PLAIN)
		reply(s, "334 ");
	else
		reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
	explicit_bzero(&a, sizeof(a));
}

static void
cmd_ehlo(struct session *s, const struct smtp_cmd *c)
{
	const struct relay_conf *conf = s->f->conf;

	if (s->lmtp != (c->verb == SMTP_VERB_LHLO)) {
		/* RFC 2033 §4.1: an LMTP server must not accept HELO/EHLO,
		 * and an SMTP server knows no LHLO */
		reply(s, "500 5.5.1 %s", s->lmtp ? "Send LHLO (this is LMTP)" :
		    "LHLO is for LMTP");
		return;
	}
	txn_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", c->helo);
	s->helo_done = true;
	s->esmtp = c->verb != SMTP_VERB_HELO;
	if (!s->esmtp) {
		reply(s, "250 %s", conf->hostname);
		return;
	}
	reply(s, "250-%s", conf->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu", (unsigned long long)conf->message_size_limit);
	reply(s, "250-8BITMIME");
	reply(s, "250-SMTPUTF8");
	reply(s, "250-DSN");
	if (s->f->cred != NULL && !s->tls_on)
		reply(s, "250-STARTTLS");
	if (auth_offered(s) && s->tls_on)
		/* RFC 4954 §4: not before TLS, so that no password
		 * crosses the network in the clear */
		reply(s, "250-AUTH PLAIN LOGIN");
	if (!s->lmtp)
		/* RFC 9422: one destination domain per transaction */
		reply(s, "250-LIMITS RCPTDOMAINMAX=1");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static bool front_bind_route(struct session *s, const char *sender);

/* Whether the authenticated client may send as addr (envelope sender or
 * From:): a password-grant mailbox only as itself, another client as the
 * mailboxes its client-file line maps it to. */
static bool
may_send_as(const struct session *s, const char *addr)
{
	if (!s->auth_ok)
		return s->addr_mapped && relay_conf_mailbox_in(
		    s->addr_mailboxes, addr);
	if (s->auth_ropc)
		return strcasecmp(s->auth_user, addr) == 0;
	return clients_may_send_as(s->f->conf->clients, s->auth_user, addr);
}

static void
cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	const struct relay_conf *conf = s->f->conf;

	if (!s->helo_done) {
		reply(s, "503 5.5.1 Send %s first", s->lmtp ? "LHLO" :
		    "HELO/EHLO");
		return;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (!s->allowed) {
		log_notice("%s: client %s refused by the access list: from=<%s>",
		    s->id, s->peer, c->addr);
		reply(s, "550 5.7.1 Client host %s is not allowed to relay",
		    s->peer);
		return;
	}
	if (c->n_params > 0 && !s->esmtp) {
		reply(s, "555 5.5.4 Parameters need EHLO");
		return;
	}
	if (auth_offered(s) && !s->auth_ok && !s->addr_mapped) {
		/* with a client file, every SMTP client authenticates:
		 * the address alone lets no one send as a mailbox, unless
		 * a client-address: line says so */
		reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if ((auth_offered(s) || s->addr_mapped) && !may_send_as(s, c->addr)) {
		log_notice("%s: %s: client %s is not allowed to send as <%s>",
		    s->id, s->peer, s->auth_user, c->addr);
		reply(s, "550 5.7.1 <%s>: client %s is not allowed to send as "
		    "<%s>", c->addr, s->auth_user, c->addr);
		return;
	}
	if (c->size >= 0 && conf->message_size_limit != 0 &&
	    (uint64_t)c->size > conf->message_size_limit) {
		reply(s, "552 5.3.4 Message size exceeds fixed maximum message "
		    "size");
		return;
	}
	if (s->f->draining) {
		reply(s, "421 4.3.2 %s Service shutting down", conf->hostname);
		s->state = S_CLOSE;
		return;
	}
	snprintf(s->sender, sizeof(s->sender), "%s", c->addr);
	snprintf(s->envid, sizeof(s->envid), "%s", c->envid);
	s->env.sender = s->sender;
	s->env.size = c->size;
	s->env.body = c->body == SMTP_BODY_8BITMIME ? "8BITMIME" :
	    c->body == SMTP_BODY_7BIT ? "7BIT" : NULL;
	s->env.smtputf8 = c->smtputf8;
	s->env.ret = c->ret == SMTP_RET_FULL ? "FULL" :
	    c->ret == SMTP_RET_HDRS ? "HDRS" : NULL;
	s->env.envid = s->envid[0] ? s->envid : NULL;
	/* a sender of a route's domain goes through it; anyone else's mail
	 * meets the DMARC guard, which decides before any remote session
	 * opens: direct, through the domain's route, or refused */
	if (!front_bind_route(s, c->addr) && guard_applies(s, c->domain)) {
		if (!guard_start(s, c->domain, false)) {
			reply(s, "451 4.3.0 Out of memory");
			return;
		}
		s->state = S_MAIL_WAIT;
		return;
	}
	s->in_mail = true;
	reply(s, "250 2.1.0 Ok");
}

/* Binds the transaction to route r as mailbox mb (the SASL user at the
 * smarthost), copied: a reload may free the configuration. */
static void
front_set_route(struct session *s, const struct relay_route *r,
    const char *mb)
{
	snprintf(s->route_name, sizeof(s->route_name), "%s", r->name);
	snprintf(s->route_mailbox, sizeof(s->route_mailbox), "%s", mb);
	s->env.route = s->route_name;
	s->env.auth_mailbox = s->route_mailbox;
	s->env.auth_password = r->grant == OAUTH2_GRANT_PASSWORD &&
	    s->auth_ropc ? s->auth_pass : NULL;
}

/* An authenticated client's mailbox: the ROPC mailbox itself, or the
 * client's first mapped one; NULL when not authenticated. */
static const char *
front_auth_mailbox(const struct session *s)
{
	if (!s->auth_ok)
		return s->addr_mapped ? s->addr_first : NULL;
	return s->auth_ropc ? s->auth_user : clients_mailbox(s->f->conf->clients,
	    s->auth_user);
}

/*
 * Binds the transaction to the route of the sender's domain (issue 9):
 * only an authenticated client's, whose mailbox (the client's first, or
 * the ROPC mailbox itself) is the SASL user at the smarthost. True when
 * bound.
 */
static bool
front_bind_route(struct session *s, const char *sender)
{
	const struct relay_route *r = relay_conf_route_for(s->f->conf, sender);
	const char *mb;

	s->env.route = NULL;
	s->env.auth_mailbox = NULL;
	s->env.auth_password = NULL;
	if (r == NULL || (mb = front_auth_mailbox(s)) == NULL)
		return false;
	front_set_route(s, r, mb);
	log_info("%s: %s: from=<%s> goes through route %s as %s", s->id,
	    s->peer, sender, r->name, mb);
	return true;
}

/* S_MAIL_WAIT: the guard's answer about the envelope sender's domain. */
static bool
step_mail_guard(struct session *s)
{
	const struct relay_route *rt;
	const char *rname;
	struct dmarc_guard_decision dec;
	struct guard_job *j;

	if (s->guard_pending > 0)
		return false;
	j = s->guard[0];
	rt = relay_conf_route_for_domain(s->f->conf, j->domain);
	rname = rt != NULL ? rt->name : NULL;
	/* ROUTE only when given a route name */
	dmarc_guard_decide(j->domain, &j->facts, rname, &dec);
	s->state = S_CMD;
	switch (dec.verdict) {
	case DMARC_GUARD_DIRECT:
		log_info("%s: from=<%s>: DMARC guard: %s: direct", s->id,
		    s->sender, dec.text);
		break;
	case DMARC_GUARD_ROUTE: {
		const char *mb = front_auth_mailbox(s);

		/* dmarc_guard_decide() routes only to the route it was
		 * given (rname), so rt is set; never direct if not */
		if (rt == NULL) {
			guard_reset(s);
			reply(s, "451 4.3.0 DMARC guard: no route");
			return true;
		}
		front_set_route(s, rt, mb != NULL ? mb : s->sender);
		s->f->st.dmarc_routed++;
		log_notice("%s: from=<%s>: DMARC guard: %s (mailbox %s), "
		    "never direct", s->id, s->sender, dec.text,
		    s->route_mailbox);
		break;
	}
	default:
		if (dec.verdict == DMARC_GUARD_REFUSE)
			s->f->st.dmarc_refused++;
		log_notice("%s: from=<%s>: DMARC guard: %d %s (SPF %s)",
		    s->id, s->sender, dec.code, dec.text,
		    j->facts.spf_dns == DMARC_GUARD_DNS_SKIPPED ? "not asked" :
		    spf_result_name(j->facts.spf));
		guard_reset(s);
		reply(s, "%d %s", dec.code, dec.text);
		return true;
	}
	guard_reset(s);
	s->in_mail = true;
	reply(s, "250 2.1.0 Ok");
	return true;
}

static bool
domain_is_ascii(const char *d)
{
	for (; *d != '\0'; d++)
		if ((unsigned char)*d >= 0x80)
			return false;
	return true;
}

/* The dest for domain, opened if new; NULL after a reply was sent. */
static struct dest *
dest_get(struct session *s, const char *domain, size_t *index)
{
	const struct relay_conf *conf = s->f->conf;
	struct dest *d, **nd;
	int err = 0;

	for (size_t i = 0; i < s->n_dests; i++)
		if (strcmp(s->dests[i]->domain, domain) == 0) {
			*index = i;
			return s->dests[i];
		}
	if (!s->lmtp && s->n_dests >= 1) {
		/* RFC 9422 §4.2 / RFC 3463: 4.5.3 too many recipients */
		reply(s, "452 4.5.3 Too many recipient domains: one per "
		    "transaction (LIMITS RCPTDOMAINMAX=1)");
		return NULL;
	}
	if (s->n_dests >= conf->max_domains) {
		reply(s, "452 4.5.3 Too many recipient domains");
		return NULL;
	}
	if ((nd = realloc(s->dests, (s->n_dests + 1) *
	    sizeof(struct dest *))) == NULL ||
	    (d = calloc(1, sizeof(*d))) == NULL) {
		if (nd != NULL)
			s->dests = nd;
		reply(s, "451 4.3.0 Out of memory");
		return NULL;
	}
	s->dests = nd;
	d->s = s;
	snprintf(d->domain, sizeof(d->domain), "%s", domain);
	d->ob = outbound_open(s->f->oenv, domain, &s->env, &dest_cb, d, &err);
	if (d->ob == NULL) {
		free(d);
		if (s->env.route != NULL) {
			/* never by MX instead: the client tries again */
			log_warnx("%s: cannot start a transaction to %s "
			    "through route %s: %s", s->id, domain,
			    s->env.route, danegate_strerror(err));
			reply(s, "451 4.3.0 Cannot start the delivery through "
			    "route %s", s->env.route);
			return NULL;
		}
		log_warnx("%s: cannot start a transaction to %s: %s", s->id,
		    domain, danegate_strerror(err));
		reply(s, "451 4.3.0 Cannot start the delivery");
		return NULL;
	}
	d->state = D_OPENING;
	d->busy = true;
	s->dests[s->n_dests] = d;
	*index = s->n_dests++;
	return d;
}

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	struct rcpt *r;
	size_t di;

	if (!s->in_mail) {
		reply(s, s->allowed ? "503 5.5.1 Need MAIL command" :
		    "550 5.7.1 Client host %s is not allowed to relay",
		    s->peer);
		return;
	}
	if (c->n_params > 0 && !s->esmtp) {
		reply(s, "555 5.5.4 Parameters need EHLO");
		return;
	}
	if (s->n_rcpts >= s->f->conf->max_recipients) {
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (c->postmaster) {
		reply(s, "550 5.1.1 <%s>: this relay has no local mailboxes",
		    c->addr);
		return;
	}
	if (c->domain_literal) {
		reply(s, "550 5.1.2 <%s>: address literals are not relayed "
		    "(no DANE or MTA-STS for them)", c->addr);
		return;
	}
	if (c->utf8 && !s->env.smtputf8) {
		reply(s, "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 "
		    "address");
		return;
	}
	if (!domain_is_ascii(c->domain)) {
		reply(s, "553 5.6.7 <%s>: internationalized domain names are "
		    "not relayed yet (use the A-label)", c->addr);
		return;
	}
	if (s->n_rcpts == s->cap_rcpts) {
		size_t ncap = s->cap_rcpts ? s->cap_rcpts * 2 : 8;
		struct rcpt *nr = realloc(s->rcpts, ncap * sizeof(*nr));

		if (nr == NULL) {
			reply(s, "451 4.3.0 Out of memory");
			return;
		}
		s->rcpts = nr;
		s->cap_rcpts = ncap;
	}
	if (dest_get(s, c->domain, &di) == NULL)
		return;
	r = &s->rcpts[s->n_rcpts];
	memset(r, 0, sizeof(*r));
	/* addr and its DSN parameters, rebuilt from what was checked */
	{
		char dsn[SMTP_CMD_ORCPT_MAX + 64] = "";
		size_t alen = strlen(c->addr);
		int n = 0;

		if (c->notify != 0)
			n = snprintf(dsn, sizeof(dsn), "NOTIFY=%s%s%s%s",
			    c->notify & SMTP_NOTIFY_NEVER ? "NEVER" : "",
			    c->notify & SMTP_NOTIFY_SUCCESS ? "SUCCESS," : "",
			    c->notify & SMTP_NOTIFY_FAILURE ? "FAILURE," : "",
			    c->notify & SMTP_NOTIFY_DELAY ? "DELAY," : "");
		if (n > 0 && dsn[n - 1] == ',')
			dsn[--n] = '\0';
		if (c->orcpt[0] != '\0')
			snprintf(dsn + n, sizeof(dsn) - (size_t)n, "%sORCPT=%s",
			    n > 0 ? " " : "", c->orcpt);
		/* one allocation: "addr\0dsn\0" */
		if ((r->addr = malloc(alen + strlen(dsn) + 2)) == NULL) {
			reply(s, "451 4.3.0 Out of memory");
			return;
		}
		memcpy(r->addr, c->addr, alen + 1);
		memcpy(r->addr + alen + 1, dsn, strlen(dsn) + 1);
	}
	r->dest = di;
	s->cur = s->n_rcpts++;
	s->state = S_RCPT;
	kick(s);
}

static void
cmd_data(struct session *s)
{
	if (!s->in_mail) {
		reply(s, "503 5.5.1 Need MAIL command");
		return;
	}
	if (s->n_accepted == 0) {
		reply(s, "554 5.5.1 No valid recipients");
		return;
	}
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->state != D_READY || d->n_ok == 0)
			continue;
		if (outbound_data_begin(d->ob) != 0) {
			d->state = D_DEAD;
			set_reply(&d->fail, 451, "4.3.0 Delivery failed");
			continue;
		}
		d->state = D_DATA_BEGIN;
		d->busy = true;
	}
	s->state = S_DATA_BEGIN;
	kick(s);
}

static void
cmd_starttls(struct session *s)
{
	if (s->f->cred == NULL) {
		reply(s, "502 5.5.1 STARTTLS not offered");
		return;
	}
	if (s->tls_on) {
		reply(s, "503 5.5.1 TLS already active");
		return;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 STARTTLS not inside a transaction");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	/* Whatever the client pipelined after STARTTLS came in plaintext
	 * and must not be read as if it came through TLS (CVE-2011-0411) */
	evbuffer_drain(s->in, evbuffer_get_length(s->in));
	s->state = S_TLS_FLUSH;
}

static void
command(struct session *s, const uint8_t *line, size_t len)
{
	struct smtp_cmd c;
	int rc = smtp_cmd_parse(line, len, &c);

	if (rc != SMTP_CMD_OK) {
		log_info("%s: %s: %s", s->id, s->peer, smtp_cmd_strerror(rc));
		reply(s, "%s", smtp_cmd_reply(rc, c.verb));
		return;
	}
	switch (c.verb) {
	case SMTP_VERB_AUTH:
		cmd_auth(s, line, len);
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
	case SMTP_VERB_LHLO:
		cmd_ehlo(s, &c);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s);
		break;
	case SMTP_VERB_RSET:
		txn_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_QUIT:
		reply(s, "221 2.0.0 Bye");
		s->state = S_CLOSE;
		break;
	case SMTP_VERB_VRFY:
		reply(s, "252 2.5.2 Cannot VRFY: send the message");
		break;
	case SMTP_VERB_HELP:
		reply(s, "214 2.0.0 See RFC 5321 and danegate-relay(8)");
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s);
		break;
	default:	/* EXPN, BDAT, AUTH: not offered */
		reply(s, "502 5.5.1 Command not implemented");
		break;
	}
}

/* Takes one command line from s->in; false when none is complete. */
static bool
next_command(struct session *s)
{
	struct evbuffer_ptr lf;
	size_t len;
	unsigned char *p;

	lf = evbuffer_search(s->in, "\n", 1, NULL);
	if (lf.pos < 0) {
		if (evbuffer_get_length(s->in) > SMTP_CMD_LINE_MAX + 2) {
			/* answer once, then drop the line up to its LF */
			if (!s->skip_line)
				reply(s, "500 5.5.2 Line too long");
			s->skip_line = true;
			evbuffer_drain(s->in, evbuffer_get_length(s->in));
		}
		return false;
	}
	len = (size_t)lf.pos;
	if (s->skip_line) {
		s->skip_line = false;
		evbuffer_drain(s->in, len + 1);
		return true;
	}
	if (len > SMTP_CMD_LINE_MAX + 1) {
		reply(s, "500 5.5.2 Line too long");
		evbuffer_drain(s->in, len + 1);
		return true;
	}
	p = evbuffer_pullup(s->in, (ssize_t)len + 1);
	if (len == 0 || p[len - 1] != '\r') {
		/* RFC 5321 §2.3.8: a line ends with CRLF, nothing else */
		reply(s, "500 5.5.2 Bare <LF> received");
		evbuffer_drain(s->in, len + 1);
		return true;
	}
	if (s->sasl_step != A_NONE)
		auth_step(s, p, len - 1);
	else
		command(s, p, len - 1);
	evbuffer_drain(s->in, len + 1);
	return true;
}

/* ---- the steps ------------------------------------------------------------ */

/*
 * A refusal RFC 8689's "TLS-Required: No" may lift: the relay's own 4xx
 * for a TLS policy (DANE, MTA-STS, the policy table), which carries an
 * RFC 8460 failure type. DNS failures, the remote's replies and 5xx stay.
 */
static bool
reply_is_tls_policy(const struct outbound_reply *r)
{
	return !r->remote && r->code >= 400 && r->code < 500 &&
	    r->reason >= DANEGATE_R_STARTTLS_NOT_SUPPORTED &&
	    r->reason < DANEGATE_R_COUNT;
}

/* S_RCPT: drives the current recipient's dest until its reply is known. */
static bool
step_rcpt(struct session *s)
{
	struct rcpt *r = &s->rcpts[s->cur];
	struct dest *d = s->dests[r->dest];

	if (d->busy)
		return false;
	if (d->state == D_OPENING) {
		if (d->last.code >= 200 && d->last.code < 400)
			d->state = D_READY;
		else if (reply_is_tls_policy(&d->last)) {
			/* RFC 8689: the header may still say TLS-Required:
			 * No; the answer waits for the end of the data */
			d->held = d->last;
			d->state = D_HELD;
			outbound_free(d->ob);
			d->ob = NULL;
			log_info("%s: %s: held until the header is read "
			    "(RFC 8689 TLS-Required): %d %s", s->id,
			    d->domain, d->held.code, d->held.text);
		} else {
			d->fail = d->last;
			d->state = D_DEAD;
		}
	}
	if (d->state == D_READY && !r->asked) {
		r->asked = true;
		if (outbound_rcpt(d->ob, r->addr, r->addr[strlen(r->addr) + 1] ?
		    r->addr + strlen(r->addr) + 1 : NULL) == 0) {
			d->state = D_RCPT;
			d->busy = true;
			return false;
		}
		set_reply(&r->reply, 451, "4.3.0 Delivery failed");
	} else if (d->state == D_RCPT) {
		r->reply = d->last;
		d->state = D_READY;
	} else if (d->state == D_DEAD)
		r->reply = d->fail;
	else if (d->state == D_HELD)
		set_reply(&r->reply, 250, "2.1.5 Ok (delivered only if the "
		    "header says TLS-Required: No, RFC 8689)");
	r->accepted = r->reply.code >= 200 && r->reply.code < 300;
	if (r->accepted) {
		d->n_ok++;
		s->n_accepted++;
	}
	log_info("%s: to=<%s> rcpt reply %d %s", s->id, r->addr,
	    r->reply.code, r->reply.text);
	reply_mirror(s, &r->reply);
	s->state = S_CMD;
	return true;
}

static bool
step_data_begin(struct session *s)
{
	const struct outbound_reply *first_fail = NULL;
	char rec[1024];
	int n_data = 0, len;

	if (dests_busy(s))
		return false;
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->state == D_DATA_BEGIN) {
			if (d->last.code == 354) {
				d->state = D_DATA;
				n_data++;
				continue;
			}
			d->fail = d->last;
			d->state = D_DEAD;
		}
		if (d->state == D_DEAD && d->n_ok > 0 && first_fail == NULL)
			first_fail = &d->fail;
		if (d->state == D_HELD && d->n_ok > 0)
			s->n_held++;
	}
	if (n_data == 0 && s->n_held == 0) {
		/* nothing to send to: the first failure answers DATA */
		struct outbound_reply r;

		if (first_fail != NULL)
			r = *first_fail;
		else
			set_reply(&r, 451, "4.3.0 Delivery failed");
		txn_reset(s);
		reply_mirror(s, &r);
		s->state = S_CMD;
		return true;
	}
	if ((s->hs = malloc(sizeof(*s->hs))) == NULL ||
	    (s->n_held > 0 && (s->hold = evbuffer_new()) == NULL)) {
		txn_reset(s);
		reply(s, "451 4.3.0 Out of memory");
		s->state = S_CMD;
		return true;
	}
	header_scan_init(s->hs, 0);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	smtp_data_init(&s->scan);
	s->state = S_DATA;
	if ((len = received_line(s, rec, sizeof(rec))) > 0)
		data_forward(s, rec, (size_t)len);
	return true;
}

static void
count_final(struct session *s, int code)
{
	if (code < 300)
		s->f->st.delivered++;
	else if (code < 500)
		s->f->st.deferred++;
	else
		s->f->st.bounced++;
}

/* The data has ended (the client's CRLF.CRLF): send the dots. */
static void
data_end(struct session *s)
{
	struct timeval tv = { 0, 0 };

	s->f->st.messages++;
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->state != D_DATA)
			continue;
		if (s->scan.bare || s->too_big) {
			/* never sent the dot: the remote drops the message */
			outbound_free(d->ob);
			d->ob = NULL;
			d->state = D_DEAD;
			if (s->scan.bare)
				set_reply(&d->fail, 550, "5.5.2 Message "
				    "refused: bare <CR> or <LF> in the data "
				    "(RFC 5321 section 2.3.8)");
			else
				set_reply(&d->fail, 552, "5.3.4 Message size "
				    "exceeds fixed maximum message size");
			continue;
		}
		if (outbound_data_end(d->ob) != 0) {
			d->state = D_DEAD;
			set_reply(&d->fail, 451, "4.3.0 Delivery failed");
			continue;
		}
		d->state = D_DATA_END;
		d->busy = true;
	}
	s->state = S_DATA_END;
	clock_gettime(CLOCK_MONOTONIC, &s->dot_at);
	tv.tv_sec = s->f->conf->final_timeout + FRONT_FINAL_GUARD_S;
	event_add(s->ev_timer, &tv);
}

/* Every final reply is in (or the guard timer gave up on them). */
static bool
step_data_end(struct session *s, bool timed_out)
{
	struct outbound_reply r;
	bool any_ok = false;

	if (!timed_out && dests_busy(s))
		return false;
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->state != D_DATA_END)
			continue;
		if (d->busy) {
			set_reply(&d->fail, 451, "4.4.1 No final reply from "
			    "the remote in time: the message may have been "
			    "delivered");
			d->state = D_DEAD;
			log_warnx("%s: %s: no final reply in time: possible "
			    "duplicate if it was delivered", s->id, d->domain);
			continue;
		}
		d->final = d->last;
		d->state = D_DONE;
		if (d->final.code < 300)
			any_ok = true;
	}
	for (size_t i = 0; i < s->n_rcpts; i++) {
		struct rcpt *rc = &s->rcpts[i];
		struct dest *d = s->dests[rc->dest];

		if (!rc->accepted)
			continue;
		r = d->state == D_DONE ? d->final : d->fail;
		if (rc->late_refused)
			r = rc->reply;	/* LMTP: its own refusal */
		count_final(s, r.code);
		log_notice("%s: from=<%s>, to=<%s>, size=%llu, status=%d %s",
		    s->id, s->sender, rc->addr,
		    (unsigned long long)s->scan.bytes, r.code, r.text);
		if (s->lmtp)
			reply_mirror(s, &r);	/* RFC 2033 §4.2 */
	}
	if (!s->lmtp) {
		struct dest *d = s->dests[0];

		r = d->state == D_DONE ? d->final : d->fail;
		reply_mirror(s, &r);
	}
	count_latency(&s->f->st, &s->dot_at);
	if (s->eof && any_ok) {
		/* the remote has the message, the client never heard so:
		 * it will send it again */
		s->f->st.possible_duplicates++;
		for (size_t i = 0; i < s->n_dests; i++)
			if (s->dests[i]->state == D_DONE &&
			    s->dests[i]->final.code < 300)
				log_warnx("%s: client %s gone before the reply "
				    "to its data: possible duplicate: %s "
				    "accepted it: %d %s", s->id, s->peer,
				    s->dests[i]->domain,
				    s->dests[i]->final.code,
				    s->dests[i]->final.text);
	}
	txn_reset(s);
	event_del(s->ev_timer);
	s->state = S_CMD;
	return true;
}

/*
 * The message is refused after its header (the From: check, the DMARC
 * guard): every remote transaction still in its data is abandoned
 * without its dot, as for a client gone (outbound_free() closes the
 * connection: the remote discards the partial message); the rest of the
 * data is read and dropped, and r answers the final dot (LMTP: every
 * recipient).
 */
static void
txn_refuse(struct session *s, int code, const char *text)
{
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->state == D_DATA) {
			outbound_free(d->ob);
			d->ob = NULL;
			if (d->full) {
				d->full = false;
				s->n_full--;
			}
			s->f->st.aborted++;
			log_notice("%s: from=<%s>, to domain %s: transaction "
			    "aborted before the final dot, nothing delivered: "
			    "%d %s", s->id, s->sender, d->domain, code, text);
		}
		d->state = D_DEAD;
		set_reply(&d->fail, code, text);
	}
	if (s->hold != NULL) {
		evbuffer_free(s->hold);
		s->hold = NULL;
	}
}

/* RFC 5322 §3.6.2: a mapped client's From: must be its own mailbox(es).
 * Returns false after refusing the message. */
static bool
from_check(struct session *s)
{
	const struct header_scan *h = s->hs;
	char text[1024];

	if (!(auth_offered(s) && s->auth_ok) && !s->addr_mapped)
		return true;
	if (!h->from_addrs_ok) {
		snprintf(text, sizeof(text), "5.7.1 Message refused: no single "
		    "From: header field that parses as a mailbox list; client "
		    "%s must send as its own mailbox", s->auth_user);
		log_notice("%s: from=<%s>: client %s: From: %s", s->id,
		    s->sender, s->auth_user, h->from.count == 0 ? "missing" :
		    h->from.count > 1 ? "repeated" : "unparseable");
		txn_refuse(s, 550, text);
		return false;
	}
	for (unsigned i = 0; i < h->from_naddrs; i++) {
		if (may_send_as(s, h->from_addrs[i]))
			continue;
		/* the address passed the header parser: no CR, LF, NUL;
		 * still only its printable ASCII part is logged */
		snprintf(text, sizeof(text), "5.7.1 <%.*s>: client %s is not "
		    "allowed to send as From: <%.*s>", 200, h->from_addrs[i],
		    s->auth_user, 200, h->from_addrs[i]);
		for (char *p = text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		log_notice("%s: from=<%s>: %s", s->id, s->sender, text + 6);
		txn_refuse(s, 550, text);
		return false;
	}
	return true;
}

/* The domain of an addr-spec from header_scan: after its last '@'. */
static const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : NULL;
}

/*
 * The DMARC guard after the header: a From: domain other than the
 * envelope sender's (which was decided at MAIL) gets its lookups; the
 * client waits (guard_wait). Returns true if any was started.
 */
static bool
guard_header_start(struct session *s)
{
	const struct header_scan *h = s->hs;
	const char *env_dom = addr_domain(s->sender);

	if (s->env.route != NULL || !h->from_addrs_ok)
		return false;
	for (unsigned i = 0; i < h->from_naddrs; i++) {
		const char *d = addr_domain(h->from_addrs[i]);
		bool seen = false;

		if (!guard_applies(s, d) ||
		    (env_dom != NULL && strcasecmp(d, env_dom) == 0))
			continue;
		for (size_t k = 0; k < s->n_guard; k++)
			if (strcasecmp(s->guard[k]->domain, d) == 0)
				seen = true;
		if (seen)
			continue;
		if (!guard_start(s, d, true)) {
			txn_refuse(s, 451, "4.3.0 Out of memory");
			return false;
		}
	}
	s->guard_wait = s->n_guard > 0;
	return s->guard_wait;
}

/*
 * The end of the header block (or of the data, if it came first). This
 * is the front's end-of-headers hook: s->hs holds the fields (see
 * header_scan.h). The From: check and the DMARC guard may refuse the
 * message (txn_refuse); the guard's lookups make the client wait, and
 * headers_finish() runs when they are answered.
 */
static void headers_finish(struct session *s);

static void
front_headers_done(struct session *s)
{
	s->hdr_done = true;
	if (!from_check(s)) {
		headers_finish(s);
		return;
	}
	if (guard_header_start(s))
		return;
	headers_finish(s);
}

/* The guard's answers about the From: domains are in. */
static void
guard_header_done(struct session *s)
{
	struct dmarc_guard_decision dec, worst = { 0 };

	for (size_t i = 0; i < s->n_guard; i++) {
		const struct guard_job *j = s->guard[i];

		/* the transaction is open to the MX already: a guarded
		 * From: domain cannot be routed any more (no route) */
		dmarc_guard_decide(j->domain, &j->facts, NULL, &dec);
		log_info("%s: from=<%s>: DMARC guard, From: domain %s: %d %s",
		    s->id, s->sender, j->domain, dec.code, dec.text);
		if (dec.verdict == DMARC_GUARD_REFUSE ||
		    (dec.verdict == DMARC_GUARD_DEFER &&
		    worst.verdict != DMARC_GUARD_REFUSE))
			worst = dec;
	}
	guard_reset(s);
	if (worst.verdict == DMARC_GUARD_REFUSE ||
	    worst.verdict == DMARC_GUARD_DEFER) {
		if (worst.verdict == DMARC_GUARD_REFUSE)
			s->f->st.dmarc_refused++;
		log_notice("%s: from=<%s>: DMARC guard on the From: domain: "
		    "%d %s", s->id, s->sender, worst.code, worst.text);
		txn_refuse(s, worst.code, worst.text);
	}
	headers_finish(s);
}

/*
 * RFC 8689: held dests are opened with "TLS-Required: No" if the header
 * says so, or keep their policy failure as their final reply.
 */
static void
headers_finish(struct session *s)
{
	bool no = header_scan_tls_required_no(s->hs);
	struct outbound_envelope env = s->env;

	env.tls_required_no = true;
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];
		int err = 0;

		if (d->state != D_HELD || d->n_ok == 0)
			continue;
		if (!no || s->scan.bare || s->too_big) {
			/* the policy stands: its 4xx answers the data */
			d->fail = d->held;
			d->state = D_DEAD;
			log_info("%s: %s: no TLS-Required: No in the header: "
			    "%d %s", s->id, d->domain, d->held.code,
			    d->held.text);
			continue;
		}
		if (s->hold == NULL || (d->ob = outbound_open(s->f->oenv,
		    d->domain, &env, &dest_cb, d, &err)) == NULL) {
			set_reply(&d->fail, 451, "4.3.0 Cannot start the "
			    "delivery");
			d->state = D_DEAD;
			continue;
		}
		log_notice("%s: from=<%s>, to domain %s: tls_required=no "
		    "(RFC 8689 TLS-Required: No in the header): delivering "
		    "without enforcing the policy that said: %d %s", s->id,
		    s->sender, d->domain, d->held.code, d->held.text);
		s->f->st.tls_required_no++;
		d->state = D_REOPEN;
		d->busy = true;
		d->ri = 0;
		d->reopen_ok = 0;
		s->n_reopen++;
	}
	if (s->n_reopen == 0 && s->hold != NULL) {
		evbuffer_free(s->hold);
		s->hold = NULL;
	}
}

/* A reopened dest is done (D_DATA or D_DEAD). */
static void
reopen_done(struct session *s, struct dest *d)
{
	if (d->state == D_DEAD && d->ob != NULL) {
		outbound_free(d->ob);	/* never sent a dot */
		d->ob = NULL;
	}
	if (--s->n_reopen == 0 && s->hold != NULL) {
		evbuffer_free(s->hold);
		s->hold = NULL;
	}
}

/* D_REOPEN_RCPT: asks for the next accepted recipient of dest di, or
 * goes on to DATA once every one was asked. */
static void
reopen_next_rcpt(struct session *s, struct dest *d, size_t di)
{
	for (; d->ri < s->n_rcpts; d->ri++) {
		struct rcpt *r = &s->rcpts[d->ri];
		const char *dsn = r->addr + strlen(r->addr) + 1;

		if (r->dest != di || !r->accepted)
			continue;
		if (outbound_rcpt(d->ob, r->addr, *dsn ? dsn : NULL) != 0)
			break;
		d->busy = true;
		return;
	}
	if (d->ri < s->n_rcpts || d->reopen_ok == 0) {
		if (d->ri < s->n_rcpts || d->fail.code == 0)
			set_reply(&d->fail, 451, "4.3.0 Delivery failed");
		d->state = D_DEAD;
		reopen_done(s, d);
		return;
	}
	if (!s->lmtp && d->reopen_ok < d->n_ok) {
		/* SMTP has one reply for the message: a recipient told 250
		 * that the remote refused would be lost; the client tries
		 * them all again later */
		set_reply(&d->fail, 451, "4.3.0 A recipient was refused when "
		    "the destination was opened after the header "
		    "(TLS-Required: No); try again");
		d->state = D_DEAD;
		reopen_done(s, d);
		return;
	}
	if (outbound_data_begin(d->ob) != 0) {
		set_reply(&d->fail, 451, "4.3.0 Delivery failed");
		d->state = D_DEAD;
		reopen_done(s, d);
		return;
	}
	d->state = D_REOPEN_DATA;
	d->busy = true;
}

/*
 * Drives the dests opened after the header (MAIL, every RCPT, DATA), then
 * gives each what was forwarded so far. Returns true once none is left,
 * false while the client must wait.
 */
static bool
step_reopen(struct session *s)
{
	for (size_t i = 0; i < s->n_dests; i++) {
		struct dest *d = s->dests[i];

		if (d->busy)
			continue;
		switch (d->state) {
		case D_REOPEN:
			if (d->last.code >= 200 && d->last.code < 300) {
				d->state = D_REOPEN_RCPT;
				reopen_next_rcpt(s, d, i);
			} else {
				d->fail = d->last;
				d->state = D_DEAD;
				reopen_done(s, d);
			}
			break;
		case D_REOPEN_RCPT: {
			struct rcpt *r = &s->rcpts[d->ri];

			log_info("%s: to=<%s> rcpt reply %d %s (after the "
			    "header)", s->id, r->addr, d->last.code,
			    d->last.text);
			if (d->last.code >= 200 && d->last.code < 300)
				d->reopen_ok++;
			else {
				r->late_refused = true;
				r->reply = d->last;
				if (d->fail.code == 0)
					d->fail = d->last;
			}
			d->ri++;
			reopen_next_rcpt(s, d, i);
			break;
		}
		case D_REOPEN_DATA:
			if (d->last.code != 354) {
				d->fail = d->last;
				d->state = D_DEAD;
				reopen_done(s, d);
				break;
			}
			d->state = D_DATA;
			{
				size_t n = evbuffer_get_length(s->hold);
				int rc = outbound_data_write(d->ob,
				    evbuffer_pullup(s->hold, (ssize_t)n), n);

				if (rc == 1 && !d->full) {
					d->full = true;
					s->n_full++;
				}
			}
			reopen_done(s, d);
			break;
		default:
			break;
		}
	}
	return s->n_reopen == 0;
}

/* S_DATA: forwards what the client sent, up to the end or back-pressure. */
static bool
step_data(struct session *s)
{
	const struct relay_conf *conf = s->f->conf;

	if (s->guard_wait) {
		if (s->guard_pending > 0)
			return false;	/* the client waits for the DNS */
		guard_header_done(s);
	}
	if (s->n_reopen > 0 && !step_reopen(s))
		return false;	/* the client waits for the remote(s) */
	if (s->end_seen) {
		data_end(s);
		return true;
	}
	while (s->n_full == 0 && evbuffer_get_length(s->in) > 0) {
		size_t n = evbuffer_get_length(s->in), fwd, used;
		unsigned char *p;
		int rc;

		if (n > FRONT_IO_CHUNK)
			n = FRONT_IO_CHUNK;
		p = evbuffer_pullup(s->in, (ssize_t)n);
		rc = smtp_data_scan(&s->scan, p, n, &fwd, &used);
		/* 0: no limit (RFC 1870 "SIZE 0") */
		if (conf->message_size_limit != 0 &&
		    s->scan.bytes > conf->message_size_limit)
			s->too_big = true;
		if (fwd > 0 && !s->scan.bare && !s->too_big)
			data_forward(s, p, fwd);
		if (!s->hdr_done) {
			if (header_scan_feed(s->hs, p, fwd) ==
			    HEADER_SCAN_DONE)
				front_headers_done(s);
			else if (rc == SMTP_DATA_END) {
				header_scan_finish(s->hs);
				front_headers_done(s);
			}
		}
		evbuffer_drain(s->in, used);
		if (rc == SMTP_DATA_END) {
			if (s->n_reopen > 0 || s->guard_wait) {
				/* the dot waits for the held dests, or
				 * for the DMARC guard */
				s->end_seen = true;
				return true;
			}
			data_end(s);
			return true;
		}
		if (s->n_reopen > 0 || s->guard_wait)
			return true;
		if (used == 0 && n == evbuffer_get_length(s->in))
			break;	/* a "." or ".\r" held back: more needed */
	}
	return false;
}

static void
tls_done(struct session *s)
{
	char *desc = gnutls_session_get_desc(s->tls);

	log_info("%s: %s: %s: %s", s->id, s->peer, s->implicit_tls ? "TLS" :
	    "STARTTLS", desc ? desc : "?");
	gnutls_free(desc);
	s->tls_on = true;
	/* RFC 3207 §4.2: forget everything learnt before TLS */
	s->helo_done = s->esmtp = false;
	s->helo[0] = '\0';
	txn_reset(s);
	s->state = S_CMD;
	if (s->implicit_tls)
		reply(s, "220 %s ESMTP danegate-relay", s->f->conf->hostname);
	arm_timer(s, s->f->conf->command_timeout);
}

static bool
step_handshake(struct session *s)
{
	int rc = gnutls_handshake(s->tls);

	if (rc == GNUTLS_E_SUCCESS) {
		tls_done(s);
		return true;
	}
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		if (gnutls_record_get_direction(s->tls) == 1)
			event_add(s->ev_write, NULL);
		return false;
	}
	log_info("%s: %s: TLS handshake failed: %s", s->id, s->peer,
	    gnutls_strerror(rc));
	s->eof = true;
	return false;
}

static bool
start_tls(struct session *s)
{
	int rc;

	if ((rc = gnutls_init(&s->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK |
	    GNUTLS_NO_SIGNAL)) != GNUTLS_E_SUCCESS ||
	    (rc = gnutls_priority_set(s->tls, s->f->prio)) !=
	    GNUTLS_E_SUCCESS ||
	    (rc = gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE,
	    s->f->cred)) != GNUTLS_E_SUCCESS) {
		log_warnx("%s: cannot set up TLS: %s", s->id,
		    gnutls_strerror(rc));
		s->eof = true;
		return false;
	}
	gnutls_transport_set_int(s->tls, s->fd);
	gnutls_handshake_set_timeout(s->tls, 0);
	s->state = S_HANDSHAKE;
	arm_timer(s, s->f->conf->command_timeout);
	return true;
}

/* Runs the session as far as it can go now. */
static void
session_step(struct session *s)
{
	bool progress = true;

	while (progress) {
		progress = false;
		switch (s->state) {
		case S_CMD:
			if (evbuffer_get_length(s->out) >= FRONT_OUT_MAX)
				break;	/* the client does not read */
			progress = next_command(s);
			break;
		case S_AUTH_WAIT:
			progress = step_auth_wait(s);
			break;
		case S_MAIL_WAIT:
			progress = step_mail_guard(s);
			break;
		case S_RCPT:
			progress = step_rcpt(s);
			break;
		case S_DATA_BEGIN:
			progress = step_data_begin(s);
			break;
		case S_DATA:
			progress = step_data(s);
			break;
		case S_DATA_END:
			progress = step_data_end(s, false);
			break;
		case S_TLS_FLUSH:
			/* the 220 goes out in plaintext, then the handshake */
			if (!flush(s))
				s->eof = true;
			else if (evbuffer_get_length(s->out) == 0)
				progress = start_tls(s);
			break;
		case S_HANDSHAKE:
			progress = step_handshake(s);
			break;
		case S_CLOSE:
			break;
		}
	}
	if (!flush(s)) {
		s->eof = true;
		evbuffer_drain(s->out, evbuffer_get_length(s->out));
	}
	if (s->state == S_CLOSE && evbuffer_get_length(s->out) == 0) {
		session_close(s);
		return;
	}
	if (s->eof) {
		/* the client is gone: wait for what is already asked of
		 * the remote (the final reply tells whether it was a
		 * duplicate), drop everything else */
		if (s->state == S_DATA_END || s->state == S_RCPT ||
		    s->state == S_DATA_BEGIN) {
			session_want_io(s);
			return;
		}
		txn_abort_data(s, "gone");
		session_close(s);
		return;
	}
	if (s->f->draining && s->state == S_CMD && !s->in_mail) {
		reply(s, "421 4.3.2 %s Service shutting down",
		    s->f->conf->hostname);
		(void)flush(s);
		session_close(s);
		return;
	}
	session_want_io(s);
}

/* Reads from the client only when there is room and a use for it. */
static void
session_want_io(struct session *s)
{
	bool want = !s->eof && s->state != S_TLS_FLUSH &&
	    s->state != S_CLOSE &&
	    evbuffer_get_length(s->in) < FRONT_IN_MAX &&
	    !(s->state == S_DATA && s->n_full > 0);

	if (s->state == S_HANDSHAKE)
		want = true;
	if (want && !s->reading) {
		event_add(s->ev_read, NULL);
		s->reading = true;
		if (s->tls_on && gnutls_record_check_pending(s->tls) > 0)
			event_active(s->ev_read, EV_READ, 0);
	} else if (!want && s->reading) {
		event_del(s->ev_read);
		s->reading = false;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == S_DATA_END) {
		(void)step_data_end(s, true);
		session_step(s);
		return;
	}
	if (s->state == S_RCPT || s->state == S_DATA_BEGIN ||
	    s->state == S_MAIL_WAIT || s->guard_wait)
		return;		/* the outbound side and the resolver have
				 * their own timers */
	log_info("%s: %s: timeout", s->id, s->peer);
	txn_abort_data(s, "timed out");
	if (s->state != S_HANDSHAKE)
		reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->f->conf->hostname);
	(void)flush(s);
	session_close(s);
}

static void
session_close(struct session *s)
{
	struct front *f = s->f;

	log_info("%s: disconnect from %s", s->id, s->peer);
	txn_reset(s);
	if (f->sessions == s)
		f->sessions = s->next;
	if (s->prev)
		s->prev->next = s->next;
	if (s->next)
		s->next->prev = s->prev;
	f->st.active--;
	event_free(s->ev_read);
	event_free(s->ev_write);
	event_free(s->ev_timer);
	event_free(s->ev_kick);
	if (s->tls != NULL)
		gnutls_deinit(s->tls);
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	close(s->fd);
	outbound_token_check_cancel(s->tcheck);
	explicit_bzero(s->auth_pass, sizeof(s->auth_pass));
	free(s);
	if (f->draining && f->sessions == NULL && f->drain_done != NULL) {
		void (*done)(void *) = f->drain_done;

		f->drain_done = NULL;
		done(f->drain_arg);
	}
}

/* ---- sessions and listeners ---------------------------------------------- */

/* A new client; tls: implicit TLS, the handshake comes before the 220. */
static int
session_add(struct front *f, int fd, const struct sockaddr *sa,
    socklen_t salen, bool lmtp, bool tls)
{
	const struct relay_conf *conf = f->conf;
	struct session *s;
	unsigned char rnd[6];
	char addr[INET6_ADDRSTRLEN] = "?";

	(void)salen;
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, addr, sizeof(addr));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, addr, sizeof(addr));
	if (sa != NULL && acl_lookup(conf->acl, sa) == ACL_DENY) {
		log_info("connection from [%s] dropped by the access list",
		    addr);
		f->st.refused++;
		close(fd);
		return 0;
	}
	if (f->st.active >= conf->max_sessions) {
		static const char busy[] = "421 4.3.2 Too many sessions, try "
		    "again later\r\n";

		log_warnx("max-sessions (%u) reached: [%s] turned away",
		    conf->max_sessions, addr);
		f->st.refused++;
		(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		close(fd);
		return DANEGATE_E_NETWORK;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return DANEGATE_E_NOMEM;
	}
	s->f = f;
	s->fd = fd;
	s->lmtp = lmtp;
	s->allowed = sa == NULL || acl_lookup(conf->acl, sa) == ACL_ALLOW;
	if (sa == NULL)
		snprintf(s->peer, sizeof(s->peer), "unix");
	else
		snprintf(s->peer, sizeof(s->peer), "[%s]", addr);
	gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02X", rnd[i]);
	evutil_make_socket_nonblocking(fd);
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->ev_read = event_new(f->base, fd, EV_READ | EV_PERSIST, on_read, s);
	s->ev_write = event_new(f->base, fd, EV_WRITE, on_write, s);
	s->ev_timer = evtimer_new(f->base, on_timer, s);
	s->ev_kick = event_new(f->base, -1, 0, on_kick, s);
	if (s->in == NULL || s->out == NULL || s->ev_read == NULL ||
	    s->ev_write == NULL || s->ev_timer == NULL || s->ev_kick == NULL) {
		if (s->in)
			evbuffer_free(s->in);
		if (s->out)
			evbuffer_free(s->out);
		if (s->ev_read)
			event_free(s->ev_read);
		if (s->ev_write)
			event_free(s->ev_write);
		if (s->ev_timer)
			event_free(s->ev_timer);
		if (s->ev_kick)
			event_free(s->ev_kick);
		free(s);
		close(fd);
		return DANEGATE_E_NOMEM;
	}
	s->next = f->sessions;
	if (f->sessions)
		f->sessions->prev = s;
	f->sessions = s;
	f->st.active++;
	f->st.sessions++;
	log_info("%s: connect from %s%s%s", s->id, s->peer, lmtp ? " (LMTP)" :
	    tls ? " (TLS)" : "", s->allowed ? "" : ", not allowed to relay");
	if (!lmtp && s->allowed) {
		const struct relay_addr_client *ac =
		    relay_conf_client_by_addr(conf, sa);

		if (ac != NULL) {
			s->addr_mapped = true;
			snprintf(s->addr_mailboxes, sizeof(s->addr_mailboxes),
			    "%s", ac->mailboxes);
			snprintf(s->addr_first, sizeof(s->addr_first), "%.*s",
			    (int)strcspn(ac->mailboxes, ","), ac->mailboxes);
			snprintf(s->auth_user, sizeof(s->auth_user),
			    "client-address:%s", ac->prefix);
			log_info("%s: client=%s mapped to %s by %s", s->id,
			    s->peer, ac->mailboxes, ac->where);
		}
	}
	if (tls) {
		/* RFC 8314 §3.3: the greeting comes after the handshake */
		s->implicit_tls = true;
		if (!start_tls(s)) {
			session_step(s);
			return 0;
		}
	} else {
		reply(s, "220 %s %s danegate-relay", conf->hostname,
		    lmtp ? "LMTP" : "ESMTP");
		s->state = S_CMD;
		arm_timer(s, conf->command_timeout);
	}
	session_step(s);
	return 0;
}

int
front_session_add(struct front *f, int fd, const struct sockaddr *sa,
    socklen_t salen, bool lmtp)
{
	return session_add(f, fd, sa, salen, lmtp, false);
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int c;

	(void)what;
	memset(&ss, 0, sizeof(ss));
	while ((c = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		(void)session_add(l->f, c, l->path ? NULL :
		    (struct sockaddr *)&ss, len, l->lmtp, l->tls);
		len = sizeof(ss);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED)
		log_warn("accept");
}

static int
listen_one(struct front *f, const struct relay_listen *rl, struct listener *l)
{
	int fd, on = 1;

	memset(l, 0, sizeof(*l));
	l->f = f;
	l->lmtp = rl->lmtp;
	l->tls = rl->tls;
	l->fd = -1;
	if (rl->tls && f->cred == NULL) {
		log_warnx("cannot listen for SMTP over TLS on %s: no "
		    "certificate (tls-cert-file:)", rl->spec);
		return DANEGATE_E_INVALID;
	}
	if (rl->path != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", rl->path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0)
			goto fail;
		(void)unlink(rl->path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			goto fail;
		}
		/* like the TCP listener on loopback, open to local users:
		 * the directory it lives in says who may reach it */
		(void)chmod(rl->path, 0666);
		l->path = strdup(rl->path);
	} else {
		if ((fd = socket(rl->ss.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
			goto fail;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on));
		if (rl->ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (bind(fd, (const struct sockaddr *)&rl->ss, rl->ss_len) !=
		    0) {
			close(fd);
			goto fail;
		}
	}
	if (listen(fd, 1024) != 0) {
		close(fd);
		goto fail;
	}
	l->fd = fd;
	l->ev = event_new(f->base, fd, EV_READ | EV_PERSIST, on_accept, l);
	if (l->ev == NULL || event_add(l->ev, NULL) != 0)
		return DANEGATE_E_NOMEM;
	log_notice("listening for %s on %s", rl->lmtp ? "LMTP" : rl->tls ?
	    "SMTP over TLS (RFC 8314)" : "SMTP", rl->spec);
	return 0;
fail:
	log_warn("cannot listen for %s on %s", rl->lmtp ? "LMTP" : "SMTP",
	    rl->spec);
	return DANEGATE_E_NETWORK;
}

int
front_listen(struct front *f)
{
	const struct relay_conf *c = f->conf;

	if ((f->ls = calloc(c->n_listens, sizeof(*f->ls))) == NULL)
		return DANEGATE_E_NOMEM;
	for (size_t i = 0; i < c->n_listens; i++) {
		int rc = listen_one(f, &c->listens[i], &f->ls[i]);

		f->n_ls = i + 1;
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
listeners_close(struct front *f)
{
	for (size_t i = 0; i < f->n_ls; i++) {
		if (f->ls[i].ev)
			event_free(f->ls[i].ev);
		if (f->ls[i].fd >= 0)
			close(f->ls[i].fd);
		if (f->ls[i].path) {
			(void)unlink(f->ls[i].path);
			free(f->ls[i].path);
		}
	}
	free(f->ls);
	f->ls = NULL;
	f->n_ls = 0;
}

/* Loads the STARTTLS certificate of conf (none: *cred NULL). */
static int
tls_load(const struct relay_conf *conf, gnutls_certificate_credentials_t *cred)
{
	int rc;

	*cred = NULL;
	if (conf->tls_cert_file == NULL)
		return 0;
	if (gnutls_certificate_allocate_credentials(cred) != GNUTLS_E_SUCCESS)
		return DANEGATE_E_NOMEM;
	rc = gnutls_certificate_set_x509_key_file(*cred, conf->tls_cert_file,
	    conf->tls_key_file, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		log_err("tls-cert-file %s, tls-key-file %s: %s",
		    conf->tls_cert_file, conf->tls_key_file,
		    gnutls_strerror(rc));
		gnutls_certificate_free_credentials(*cred);
		*cred = NULL;
		return DANEGATE_E_TLS;
	}
	return 0;
}

int
front_new(struct event_base *base, struct outbound_env *oenv,
    const struct relay_conf *conf, struct front **out)
{
	struct front *f;
	int rc;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return DANEGATE_E_NOMEM;
	f->base = base;
	f->oenv = oenv;
	f->conf = conf;
	if (gnutls_priority_init(&f->prio, NULL, NULL) != GNUTLS_E_SUCCESS) {
		free(f);
		return DANEGATE_E_TLS;
	}
	if ((rc = tls_load(conf, &f->cred)) != 0) {
		gnutls_priority_deinit(f->prio);
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int
front_set_conf(struct front *f, const struct relay_conf *conf)
{
	gnutls_certificate_credentials_t cred;
	int rc;

	if ((rc = tls_load(conf, &cred)) != 0)
		return rc;
	/* sessions in TLS keep a reference to the old credentials: they
	 * are freed with the front, not here, when sessions use them */
	if (f->cred != NULL) {
		bool in_use = false;

		for (struct session *s = f->sessions; s; s = s->next)
			if (s->tls != NULL)
				in_use = true;
		if (!in_use)
			gnutls_certificate_free_credentials(f->cred);
		else
			log_notice("the old STARTTLS certificate stays in "
			    "memory until the sessions using it end");
	}
	f->cred = cred;
	if (conf->n_listens != f->conf->n_listens)
		log_warnx("listener changes take effect at the next start");
	f->conf = conf;
	return 0;
}

/* Unlinks the first session (the caller closes it). */
static struct session *
sessions_pop(struct front *f)
{
	struct session *s = f->sessions;

	f->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = NULL;
	s->next = s->prev = NULL;
	return s;
}

static void
on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;

	(void)fd;
	(void)what;
	log_notice("drain deadline: closing %u session(s)", f->st.active);
	while (f->sessions != NULL) {
		struct session *s = sessions_pop(f);

		txn_abort_data(s, "cut off by the drain deadline");
		reply(s, "421 4.3.2 %s Service shutting down",
		    f->conf->hostname);
		(void)flush(s);
		session_close(s);
	}
}

void
front_drain(struct front *f, void (*done)(void *), void *arg)
{
	struct timeval tv = { (time_t)f->conf->drain_timeout, 0 };
	struct session *s, *next;

	f->draining = true;
	f->drain_done = done;
	f->drain_arg = arg;
	listeners_close(f);
	if (f->sessions == NULL) {
		f->drain_done = NULL;
		done(arg);
		return;
	}
	f->ev_drain = evtimer_new(f->base, on_drain_deadline, f);
	if (f->ev_drain != NULL)
		event_add(f->ev_drain, &tv);
	for (s = f->sessions; s != NULL; s = next) {
		next = s->next;
		kick(s);	/* idle ones say 421 and close */
	}
}

void
front_stats_get(const struct front *f, struct front_stats *st)
{
	*st = f->st;
}

void
front_set_resolver(struct front *f, struct danegate_resolver *r)
{
	f->resolver = r;
}

void
front_free(struct front *f)
{
	if (f == NULL)
		return;
	f->drain_done = NULL;
	while (f->sessions != NULL)
		session_close(sessions_pop(f));
	listeners_close(f);
	if (f->ev_drain)
		event_free(f->ev_drain);
	if (f->cred)
		gnutls_certificate_free_credentials(f->cred);
	gnutls_priority_deinit(f->prio);
	free(f);
}
