/*
 * smtp.c - the STARTTLS probe: connect to one address of an MX host, read
 * the banner, EHLO, STARTTLS, a GnuTLS handshake, the TLSA match, QUIT.
 *
 * One state machine on a libevent base does the work; the blocking
 * danegate_smtp_probe() runs it on a private base of its own. Every step
 * (connect, banner, EHLO, STARTTLS, handshake) has its own timer of
 * opts->timeout_ms; when it fires the probe is torn down from inside the
 * loop and the caller hears "timed out ..." through the one callback. The
 * goodbye (QUIT, its 221, TLS close_notify) has a short timer of its own
 * and its failures are not the server's verdict.
 *
 * The handshake accepts any certificate: for SMTP the DANE decision is
 * ours (RFC 7672), made after the handshake by danegate_tlsa_match() on the
 * chain the server presented, before anything but QUIT is sent.
 *
 * SECURITY: talks to remote SMTP servers on port 25, in plaintext until
 * STARTTLS, with the caller's privileges. Server replies go through the
 * bounded parser in smtp_reply.c. Bytes the server sends after its 220 to
 * STARTTLS (plaintext that could be mistaken for protected replies, the
 * STARTTLS injection class of bugs) fail the probe. Our own commands carry
 * only a checked HELO name. Writes never raise SIGPIPE (MSG_NOSIGNAL,
 * GNUTLS_NO_SIGNAL).
 *
 * Ownership: the probe copies what it needs from addr, host and opts, so
 * the caller may free them as soon as the call returns. The result belongs
 * to the callback (or to the blocking caller) and goes with
 * danegate_smtp_result_free().
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "smtp_reply.h"

#define SMTP_TIMEOUT_DEFAULT_MS 30000
/* QUIT, 221 and close_notify together: the verdict is already made, so a
 * slow goodbye must not hold up the caller */
#define SMTP_GOODBYE_MS 2000
/* far above any real chain; bounds what we copy from the server */
#define SMTP_CHAIN_MAX 32
#define SMTP_HELO_MAX 255

enum probe_state {
	P_START,		/* nothing yet: runs from the loop */
	P_CONNECT,
	P_BANNER,
	P_EHLO,
	P_STARTTLS,
	P_HANDSHAKE,
	P_QUIT,			/* the goodbye, in plaintext or over TLS */
	P_BYE,			/* TLS close_notify */
};

enum step {
	STEP_WAIT,		/* an event or the timer will call back */
	STEP_NEXT,		/* state changed: run the new one now */
	STEP_DONE,		/* finished: tear down and call back */
};

enum io {
	IO_OK,
	IO_WAIT,
	IO_FAIL,		/* error recorded (unless in the goodbye) */
};

struct probe {
	struct event_base *base;
	struct event *ev_read, *ev_write, *ev_timer;
	int fd;
	enum probe_state state;
	bool sending;		/* the state's command is still going out */
	bool closing;		/* in the goodbye: failures no longer count */
	bool tls_on;		/* I/O goes through the TLS session */
	int err;		/* DANEGATE_E_NOMEM if we ran out, else 0 */
	struct timeval step_tv, goodbye_tv;

	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;

	struct smtp_reply_parser reply;
	uint8_t in[4096];	/* read, not yet parsed: in[in_pos..in_len) */
	size_t in_pos, in_len;
	char out[SMTP_HELO_MAX + 16];	/* the command being written */
	size_t out_pos, out_len;

	/* copies of the caller's input */
	struct sockaddr_storage ss;
	socklen_t ss_len;
	char helo[SMTP_HELO_MAX + 1];
	char sni[DANEGATE_NAME_MAX];	/* "" for none */
	char tlsa_base[DANEGATE_NAME_MAX], host_name[DANEGATE_NAME_MAX];
	char nexthop[DANEGATE_NAME_MAX];
	struct danegate_tlsa *tlsa;	/* all of host's records, deep copy */
	size_t n_tlsa;
	bool has_usable_tlsa;
	bool trusted_only;

	struct danegate_smtp_result *res;
	danegate_smtp_fn *cb;
	void *cb_arg;
};

static void probe_run(struct probe *p);

/* ---- small helpers ------------------------------------------------------ */

static void
copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Control bytes (a hostile DN, say) must not reach a terminal or a log. */
static void
copy_printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[n] = '\0';
}

/* See internal.h. */
bool
smtp_helo_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SMTP_HELO_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '[' || c == ']' || c == ':'))
			return false;
	}
	return true;
}

static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

static void probe_error(struct probe *p, enum danegate_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Records what went wrong. The first failure is the one that counts; in
 * the goodbye nothing counts any more.
 */
static void
probe_error(struct probe *p, enum danegate_reason reason, const char *fmt,
    ...)
{
	va_list ap;

	if (p->closing || p->res->error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(p->res->error, sizeof(p->res->error), fmt, ap);
	va_end(ap);
	p->res->reason = reason;
}

/* Starts a state: its own timer, except the close_notify, which shares
 * the QUIT's short one. */
static enum step
probe_enter(struct probe *p, enum probe_state state)
{
	p->state = state;
	p->sending = false;
	if (state == P_QUIT) {
		p->closing = true;
		evtimer_add(p->ev_timer, &p->goodbye_tv);
	} else if (state != P_BYE) {
		evtimer_add(p->ev_timer, &p->step_tv);
	}
	return STEP_NEXT;
}

static void probe_command(struct probe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queues a command line (CRLF added) for the current state and readies
 * the parser for its reply. */
static void
probe_command(struct probe *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->out, sizeof(p->out) - 2, fmt, ap);
	va_end(ap);
	/* fixed words or "EHLO <checked name>": always fits */
	p->out_len = n > 0 && (size_t)n < sizeof(p->out) - 2 ? (size_t)n : 0;
	p->out[p->out_len++] = '\r';
	p->out[p->out_len++] = '\n';
	p->out_pos = 0;
	p->sending = true;
	smtp_reply_init(&p->reply);
}

/* Waits until the socket is ready for what GnuTLS or we want next. */
static enum io
probe_wait(struct probe *p, bool want_write)
{
	event_add(want_write ? p->ev_write : p->ev_read, NULL);
	return IO_WAIT;
}

static enum io
probe_wait_tls(struct probe *p)
{
	return probe_wait(p, gnutls_record_get_direction(p->tls) == 1);
}

/* ---- I/O ---------------------------------------------------------------- */

/* Writes the queued command, in as many pieces as the socket takes. */
static enum io
io_write(struct probe *p, const char *what)
{
	while (p->out_pos < p->out_len) {
		const char *buf = p->out + p->out_pos;
		size_t len = p->out_len - p->out_pos;
		ssize_t n;

		if (p->tls_on) {
			/* after E_AGAIN GnuTLS wants the same buffer again:
			 * out_pos only moves on success */
			n = gnutls_record_send(p->tls, buf, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				return probe_wait_tls(p);
			if (n < 0) {
				probe_error(p, DANEGATE_R_VALIDATION_FAILURE,
				    "TLS write of %s failed: %s", what,
				    gnutls_strerror((int)n));
				return IO_FAIL;
			}
		} else {
			n = send(p->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return probe_wait(p, true);
			if (n < 0) {
				probe_error(p, DANEGATE_R_NONE,
				    "sending %s failed: %s", what,
				    strerror(errno));
				return IO_FAIL;
			}
		}
		p->out_pos += (size_t)n;
	}
	return IO_OK;
}

/*
 * Reads until one complete reply is in p->reply. Bytes after it stay in
 * p->in for the next reply (a server may pipeline, or misbehave: the
 * STARTTLS step checks). what names the reply: "banner", "EHLO reply".
 */
static enum io
io_read_reply(struct probe *p, const char *what)
{
	for (;;) {
		ssize_t n;

		if (p->in_pos < p->in_len) {
			size_t used = 0;
			int rc = smtp_reply_feed(&p->reply, p->in + p->in_pos,
			    p->in_len - p->in_pos, &used);

			p->in_pos += used;
			if (rc == SMTP_REPLY_DONE)
				return IO_OK;
			if (rc < 0) {
				probe_error(p, DANEGATE_R_NONE,
				    "malformed %s: %s", what,
				    smtp_reply_strerror(rc));
				return IO_FAIL;
			}
		}
		p->in_pos = p->in_len = 0;
		if (p->tls_on) {
			n = gnutls_record_recv(p->tls, p->in, sizeof(p->in));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				return probe_wait_tls(p);
			/* e.g. a TLS 1.2 renegotiation request: not for
			 * us, read on */
			if (n < 0 && gnutls_error_is_fatal((int)n) == 0)
				continue;
			if (n < 0) {
				probe_error(p, DANEGATE_R_VALIDATION_FAILURE,
				    "TLS read failed waiting for the %s: %s",
				    what, gnutls_strerror((int)n));
				return IO_FAIL;
			}
		} else {
			n = recv(p->fd, p->in, sizeof(p->in), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return probe_wait(p, false);
			if (n < 0) {
				probe_error(p, DANEGATE_R_NONE,
				    "read failed waiting for the %s: %s", what,
				    strerror(errno));
				return IO_FAIL;
			}
		}
		if (n == 0) {
			probe_error(p, DANEGATE_R_NONE,
			    "connection closed by the server while waiting for "
			    "the %s", what);
			return IO_FAIL;
		}
		p->in_len = (size_t)n;
	}
}

/* Sends the state's command (if any is still going out), then reads its
 * reply. */
static enum io
io_exchange(struct probe *p, const char *cmd, const char *reply)
{
	if (p->sending) {
		enum io r = io_write(p, cmd);

		if (r != IO_OK)
			return r;
		p->sending = false;
	}
	return io_read_reply(p, reply);
}

/* ---- certificates ------------------------------------------------------- */

static const char *
curve_label(gnutls_ecc_curve_t curve)
{
	switch (curve) {
	case GNUTLS_ECC_CURVE_SECP192R1:
		return "P-192";
	case GNUTLS_ECC_CURVE_SECP224R1:
		return "P-224";
	case GNUTLS_ECC_CURVE_SECP256R1:
		return "P-256";
	case GNUTLS_ECC_CURVE_SECP384R1:
		return "P-384";
	case GNUTLS_ECC_CURVE_SECP521R1:
		return "P-521";
	default: {
		const char *name = gnutls_ecc_curve_get_name(curve);

		return name != NULL ? name : "unknown curve";
	}
	}
}

/* "RSA 2048", "ECDSA P-256", "Ed25519", ... */
static void
cert_key_describe(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	unsigned bits = 0;
	int pk = gnutls_x509_crt_get_pk_algorithm(crt, &bits);

	switch (pk) {
	case GNUTLS_PK_RSA:
		snprintf(out, cap, "RSA %u", bits);
		break;
	case GNUTLS_PK_RSA_PSS:
		snprintf(out, cap, "RSA-PSS %u", bits);
		break;
	case GNUTLS_PK_DSA:
		snprintf(out, cap, "DSA %u", bits);
		break;
	case GNUTLS_PK_ECDSA: {
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };

		if (gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y) == 0)
			snprintf(out, cap, "ECDSA %s", curve_label(curve));
		else
			snprintf(out, cap, "ECDSA %u", bits);
		gnutls_free(x.data);
		gnutls_free(y.data);
		break;
	}
	case GNUTLS_PK_EDDSA_ED25519:
		snprintf(out, cap, "Ed25519");
		break;
	case GNUTLS_PK_EDDSA_ED448:
		snprintf(out, cap, "Ed448");
		break;
	default:
		if (pk < 0) {
			snprintf(out, cap, "unknown");
		} else {
			const char *name =
			    gnutls_pk_get_name((gnutls_pk_algorithm_t)pk);

			snprintf(out, cap, "%s %u", name ? name : "unknown",
			    bits);
		}
		break;
	}
}

/* Fills what a human wants to see of one DER certificate. */
static void
cert_describe(struct danegate_cert_info *ci)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t der = { ci->der, (unsigned)ci->der_len };
	gnutls_datum_t dn = { NULL, 0 };

	ci->not_before = ci->not_after = (time_t)-1;
	if (gnutls_x509_crt_init(&crt) < 0) {
		copy_str(ci->subject, sizeof(ci->subject), "(not parsed)");
		copy_str(ci->key, sizeof(ci->key), "unknown");
		return;
	}
	if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0) {
		copy_str(ci->subject, sizeof(ci->subject),
		    "(unparseable certificate)");
		copy_str(ci->key, sizeof(ci->key), "unknown");
		gnutls_x509_crt_deinit(crt);
		return;
	}
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0 && dn.data != NULL)
		copy_printable(ci->subject, sizeof(ci->subject),
		    (const char *)dn.data, dn.size);
	gnutls_free(dn.data);
	dn.data = NULL;
	dn.size = 0;
	if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) >= 0 &&
	    dn.data != NULL)
		copy_printable(ci->issuer, sizeof(ci->issuer),
		    (const char *)dn.data, dn.size);
	gnutls_free(dn.data);
	cert_key_describe(crt, ci->key, sizeof(ci->key));
	ci->not_before = gnutls_x509_crt_get_activation_time(crt);
	ci->not_after = gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
}

/* The established session's version and cipher suite, into res. */
static void
session_describe(gnutls_session_t tls, struct danegate_smtp_result *res)
{
	const char *version;
	char *desc;

	res->tls_established = true;
	version = gnutls_protocol_get_name(gnutls_protocol_get_version(tls));
	copy_str(res->tls_version, sizeof(res->tls_version),
	    version != NULL ? version : "unknown");
	desc = gnutls_session_get_desc(tls);
	if (desc != NULL) {
		copy_printable(res->cipher, sizeof(res->cipher), desc,
		    strlen(desc));
		gnutls_free(desc);
	}
}

/* Copies the peer's chain into the result. 0 or DANEGATE_E_NOMEM. */
static int
collect_chain(gnutls_session_t tls, struct danegate_smtp_result *res)
{
	const gnutls_datum_t *peers;
	unsigned n = 0;

	peers = gnutls_certificate_get_peers(tls, &n);
	if (peers == NULL || n == 0)
		return 0;
	if (n > SMTP_CHAIN_MAX)
		n = SMTP_CHAIN_MAX;
	res->chain = calloc(n, sizeof(*res->chain));
	if (res->chain == NULL)
		return DANEGATE_E_NOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct danegate_cert_info *ci = &res->chain[i];

		/* +1: never malloc(0) for an empty certificate */
		ci->der = malloc(peers[i].size + 1);
		if (ci->der == NULL)
			return DANEGATE_E_NOMEM;
		if (peers[i].size > 0)
			memcpy(ci->der, peers[i].data, peers[i].size);
		ci->der_len = peers[i].size;
		res->n_chain = i + 1;
		cert_describe(ci);
	}
	return 0;
}

/*
 * The DANE decision for a connection's chain (RFC 7672 §3), written into
 * res: match, reason, and error when it fails. names: the reference
 * identifiers for DANE-TA (RFC 7672 §3.2.2), NULL entries skipped. Only
 * for hosts with usable TLSA records. Returns 0 or DANEGATE_E_NOMEM.
 */
static int
smtp_judge(struct danegate_smtp_result *res, const struct danegate_tlsa *tlsa,
    size_t n_tlsa, bool trusted_only, const char *const names[3])
{
	const uint8_t **ders;
	size_t *lens;
	int rc;

	if (res->n_chain == 0) {
		/* nothing to match: same as a chain that does not match */
		res->match.record = -1;
		res->match.reason = DANEGATE_R_CERT_NOT_TRUSTED;
		copy_str(res->match.why, sizeof(res->match.why),
		    "the server presented no certificate");
		res->reason = DANEGATE_R_CERT_NOT_TRUSTED;
		copy_str(res->error, sizeof(res->error),
		    "server presented no certificate for DANE to match");
		return 0;
	}
	ders = calloc(res->n_chain, sizeof(*ders));
	lens = calloc(res->n_chain, sizeof(*lens));
	if (ders == NULL || lens == NULL) {
		free(ders);
		free(lens);
		return DANEGATE_E_NOMEM;
	}
	for (size_t i = 0; i < res->n_chain; i++) {
		ders[i] = res->chain[i].der;
		lens[i] = res->chain[i].der_len;
	}
	rc = danegate_tlsa_match(tlsa, n_tlsa, ders, lens, res->n_chain, names,
	    3, time(NULL), &res->match);
	free(ders);
	free(lens);
	if (rc == DANEGATE_E_NOMEM)
		return rc;
	if (rc < 0) {
		/* fail closed: an engine error is no match */
		res->reason = DANEGATE_R_VALIDATION_FAILURE;
		snprintf(res->error, sizeof(res->error),
		    "TLSA matching failed: %s", danegate_strerror(rc));
	} else if (res->match.matched) {
		/* RFC 7672 §2.2.1: with an insecure MX RRset a match only
		 * makes the host "trusted", not "verified" */
		res->reason = trusted_only ? DANEGATE_R_DANE_TRUSTED :
		    DANEGATE_R_DANE_VERIFIED;
	} else {
		/* a non-match is a failure whatever the engine called it */
		res->reason = res->match.reason < DANEGATE_R_STARTTLS_NOT_SUPPORTED ?
		    DANEGATE_R_CERT_NOT_TRUSTED : res->match.reason;
		snprintf(res->error, sizeof(res->error),
		    "certificate does not match the TLSA records: %.200s",
		    res->match.why[0] != '\0' ? res->match.why : "no match");
	}
	return 0;
}

/* The names DANE-TA checks: TLSA base name, MX host name, next hop. */
static void
judge_names(const char *names[3], const char *tlsa_base, const char *host,
    const char *nexthop)
{
	names[0] = tlsa_base != NULL && tlsa_base[0] != '\0' ? tlsa_base : NULL;
	names[1] = host != NULL && host[0] != '\0' ? host : NULL;
	names[2] = nexthop != NULL && nexthop[0] != '\0' ? nexthop : NULL;
}

/*
 * The DANE decision for this connection: only when the host has usable
 * TLSA records; otherwise TLS alone is the outcome.
 */
static enum step
probe_match(struct probe *p)
{
	const char *names[3];

	if (!p->has_usable_tlsa || p->res->error[0] != '\0')
		return STEP_NEXT;
	judge_names(names, p->tlsa_base, p->host_name, p->nexthop);
	if (smtp_judge(p->res, p->tlsa, p->n_tlsa, p->trusted_only, names) !=
	    0) {
		p->err = DANEGATE_E_NOMEM;
		return STEP_DONE;
	}
	return STEP_NEXT;
}

/*
 * The probe's judgement for a session someone else drove (the relay's
 * SMTP client): see internal.h.
 */
int
smtp_session_judge(gnutls_session_t tls, const struct danegate_mx_host *host,
    const char *nexthop_domain, struct danegate_smtp_result *res)
{
	const char *names[3];
	bool usable = false;
	int rc;

	if (tls == NULL || host == NULL || res == NULL ||
	    (host->n_tlsa > 0 && host->tlsa == NULL))
		return DANEGATE_E_INVALID;
	res->match.record = res->match.depth = -1;
	session_describe(tls, res);
	if ((rc = collect_chain(tls, res)) != 0)
		return rc;
	for (size_t i = 0; i < host->n_tlsa; i++)
		if (host->tlsa[i].usability == DANEGATE_TLSA_USABLE)
			usable = true;
	if (!usable)
		return 0;
	judge_names(names, host->tlsa_base, host->name, nexthop_domain);
	return smtp_judge(res, host->tlsa, host->n_tlsa, host->trusted_only,
	    names);
}

/* ---- the steps ---------------------------------------------------------- */

static void
describe_connect_error(struct probe *p, int e)
{
	switch (e) {
	case ECONNREFUSED:
		probe_error(p, DANEGATE_R_NONE, "connection refused");
		break;
	case ENETUNREACH:
		probe_error(p, DANEGATE_R_NONE, "network unreachable");
		break;
	case EHOSTUNREACH:
		probe_error(p, DANEGATE_R_NONE, "host unreachable");
		break;
	default:
		probe_error(p, DANEGATE_R_NONE, "connect failed: %s",
		    strerror(e));
		break;
	}
}

static void probe_io_cb(evutil_socket_t fd, short what, void *arg);

/* Ready for the banner. */
static enum step
probe_connected(struct probe *p)
{
	p->res->connected = true;
	smtp_reply_init(&p->reply);
	return probe_enter(p, P_BANNER);
}

static enum step
step_start(struct probe *p)
{
	p->fd = socket(p->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		probe_error(p, DANEGATE_R_NONE, "cannot create a socket: %s",
		    strerror(errno));
		return STEP_DONE;
	}
	/*
	 * SMTP is a dialogue of small writes, and GnuTLS sends the end of
	 * a handshake as separate records: with Nagle's algorithm each waits
	 * for the server's delayed ACK, some 40 ms per connection.
	 */
	{
		int one = 1;

		(void)setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	}
	p->ev_read = event_new(p->base, p->fd, EV_READ, probe_io_cb, p);
	p->ev_write = event_new(p->base, p->fd, EV_WRITE, probe_io_cb, p);
	if (p->ev_read == NULL || p->ev_write == NULL) {
		p->err = DANEGATE_E_NOMEM;
		return STEP_DONE;
	}
	if (connect(p->fd, (const struct sockaddr *)&p->ss, p->ss_len) == 0)
		return probe_connected(p);
	/* EINTR: a non-blocking connect goes on in the background */
	if (errno != EINPROGRESS && errno != EINTR) {
		describe_connect_error(p, errno);
		return STEP_DONE;
	}
	probe_enter(p, P_CONNECT);
	probe_wait(p, true);
	return STEP_WAIT;
}

/* The socket became writable: the connect finished, one way or another. */
static enum step
step_connect(struct probe *p)
{
	int e = 0;
	socklen_t elen = sizeof(e);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
		e = errno;
	if (e != 0) {
		describe_connect_error(p, e);
		return STEP_DONE;
	}
	return probe_connected(p);
}

/* Says goodbye politely: QUIT in whatever the session speaks now. */
static enum step
probe_goodbye(struct probe *p)
{
	probe_enter(p, P_QUIT);
	probe_command(p, "QUIT");
	return STEP_NEXT;
}

static enum step
step_banner(struct probe *p)
{
	struct smtp_reply *r = &p->reply.reply;

	switch (io_read_reply(p, "banner")) {
	case IO_WAIT:
		return STEP_WAIT;
	case IO_FAIL:
		return STEP_DONE;
	case IO_OK:
		break;
	}
	/* the reply text is already printable; a long one is cut */
	if (snprintf(p->res->banner, sizeof(p->res->banner), "%d %s", r->code,
	    r->text) < 0)
		p->res->banner[0] = '\0';
	if (r->code != 220) {
		probe_error(p, DANEGATE_R_NONE,
		    "server refused the session: %d %s", r->code, r->text);
		return probe_goodbye(p);
	}
	probe_enter(p, P_EHLO);
	probe_command(p, "EHLO %s", p->helo);
	return STEP_NEXT;
}

static enum step
step_ehlo(struct probe *p)
{
	struct smtp_reply *r = &p->reply.reply;

	switch (io_exchange(p, "EHLO", "EHLO reply")) {
	case IO_WAIT:
		return STEP_WAIT;
	case IO_FAIL:
		return STEP_DONE;
	case IO_OK:
		break;
	}
	if (r->code != 250) {
		/* without EHLO there is no way to STARTTLS (RFC 3207) */
		probe_error(p, DANEGATE_R_STARTTLS_NOT_SUPPORTED,
		    "server rejected EHLO: %d %s", r->code, r->text);
		return probe_goodbye(p);
	}
	p->res->starttls_offered = (r->ext & SMTP_EXT_STARTTLS) != 0;
	if (!p->res->starttls_offered) {
		probe_error(p, DANEGATE_R_STARTTLS_NOT_SUPPORTED,
		    "server offered no STARTTLS after EHLO");
		return probe_goodbye(p);
	}
	probe_enter(p, P_STARTTLS);
	probe_command(p, "STARTTLS");
	return STEP_NEXT;
}

/* Every certificate gets through the handshake; see the file comment. */
static int
accept_any_certificate(gnutls_session_t session)
{
	(void)session;
	return 0;
}

/* Sets up the GnuTLS session on our socket. */
static enum step
tls_setup(struct probe *p)
{
	int rc;

	rc = gnutls_certificate_allocate_credentials(&p->cred);
	if (rc >= 0)
		rc = gnutls_init(&p->tls, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
	if (rc >= 0)
		rc = gnutls_set_default_priority(p->tls);
	if (rc >= 0)
		rc = gnutls_credentials_set(p->tls, GNUTLS_CRD_CERTIFICATE,
		    p->cred);
	if (rc >= 0 && p->sni[0] != '\0')
		rc = gnutls_server_name_set(p->tls, GNUTLS_NAME_DNS, p->sni,
		    strlen(p->sni));
	if (rc == GNUTLS_E_MEMORY_ERROR) {
		p->err = DANEGATE_E_NOMEM;
		return STEP_DONE;
	}
	if (rc < 0) {
		probe_error(p, DANEGATE_R_VALIDATION_FAILURE,
		    "TLS set-up failed: %s", gnutls_strerror(rc));
		return STEP_DONE;
	}
	gnutls_session_set_verify_function(p->tls, accept_any_certificate);
	gnutls_transport_set_int(p->tls, p->fd);
	return probe_enter(p, P_HANDSHAKE);
}

static enum step
step_starttls(struct probe *p)
{
	struct smtp_reply *r = &p->reply.reply;

	switch (io_exchange(p, "STARTTLS", "STARTTLS reply")) {
	case IO_WAIT:
		return STEP_WAIT;
	case IO_FAIL:
		return STEP_DONE;
	case IO_OK:
		break;
	}
	if (r->code != 220) {
		probe_error(p, DANEGATE_R_STARTTLS_NOT_SUPPORTED,
		    "server answered STARTTLS with %d %s", r->code, r->text);
		return probe_goodbye(p);
	}
	/*
	 * Plaintext after the 220 was sent before TLS, by the server or by
	 * someone on the path; read later, it would pass for protected
	 * replies. Refuse rather than discard: an honest server never
	 * does this.
	 */
	if (p->in_pos < p->in_len) {
		probe_error(p, DANEGATE_R_VALIDATION_FAILURE,
		    "server sent data after its 220 to STARTTLS (possible "
		    "STARTTLS injection)");
		return STEP_DONE;
	}
	return tls_setup(p);
}

static enum step
step_handshake(struct probe *p)
{
	struct danegate_smtp_result *res = p->res;
	int rc;

	do {
		rc = gnutls_handshake(p->tls);
		/* warning alerts and the like: carry on */
	} while (rc < 0 && rc != GNUTLS_E_AGAIN &&
	    rc != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(rc) == 0);
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		probe_wait_tls(p);
		return STEP_WAIT;
	}
	if (rc < 0) {
		probe_error(p, DANEGATE_R_VALIDATION_FAILURE,
		    "TLS handshake failed: %s", gnutls_strerror(rc));
		return STEP_DONE;
	}
	p->tls_on = true;
	session_describe(p->tls, res);
	if (collect_chain(p->tls, res) != 0) {
		p->err = DANEGATE_E_NOMEM;
		return STEP_DONE;
	}
	if (probe_match(p) == STEP_DONE)
		return STEP_DONE;
	return probe_goodbye(p);
}

static enum step
step_quit(struct probe *p)
{
	switch (io_exchange(p, "QUIT", "QUIT reply")) {
	case IO_WAIT:
		return STEP_WAIT;
	case IO_FAIL:
	case IO_OK:
		break;
	}
	if (!p->tls_on)
		return STEP_DONE;
	return probe_enter(p, P_BYE);
}

static enum step
step_bye(struct probe *p)
{
	/* SHUT_WR: send close_notify, do not wait for the server's */
	int rc = gnutls_bye(p->tls, GNUTLS_SHUT_WR);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		probe_wait_tls(p);
		return STEP_WAIT;
	}
	return STEP_DONE;
}

/* ---- the machine -------------------------------------------------------- */

/* Tears everything down and calls back, once. p is gone afterwards. */
static void
probe_finish(struct probe *p)
{
	danegate_smtp_fn *cb = p->cb;
	void *arg = p->cb_arg;
	struct danegate_smtp_result *res = p->res;
	int err = p->err;

	if (p->ev_read != NULL)
		event_free(p->ev_read);
	if (p->ev_write != NULL)
		event_free(p->ev_write);
	if (p->ev_timer != NULL)
		event_free(p->ev_timer);
	if (p->tls != NULL)
		gnutls_deinit(p->tls);
	if (p->cred != NULL)
		gnutls_certificate_free_credentials(p->cred);
	if (p->fd >= 0)
		close(p->fd);
	for (size_t i = 0; i < p->n_tlsa; i++)
		danegate_tlsa_clear(&p->tlsa[i]);
	free(p->tlsa);
	free(p);

	if (err != 0) {
		danegate_smtp_result_free(res);
		res = NULL;
	}
	cb(arg, err, res);
}

static void
probe_run(struct probe *p)
{
	enum step s;

	do {
		switch (p->state) {
		case P_START:
			s = step_start(p);
			break;
		case P_CONNECT:
			s = step_connect(p);
			break;
		case P_BANNER:
			s = step_banner(p);
			break;
		case P_EHLO:
			s = step_ehlo(p);
			break;
		case P_STARTTLS:
			s = step_starttls(p);
			break;
		case P_HANDSHAKE:
			s = step_handshake(p);
			break;
		case P_QUIT:
			s = step_quit(p);
			break;
		case P_BYE:
			s = step_bye(p);
			break;
		default:
			s = STEP_DONE;
			break;
		}
	} while (s == STEP_NEXT);
	if (s == STEP_DONE)
		probe_finish(p);
}

static void
probe_io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	probe_run(arg);
}

static const char *
state_timeout_text(const struct probe *p)
{
	switch (p->state) {
	case P_CONNECT:
		return "timed out connecting";
	case P_BANNER:
		return "timed out waiting for the banner";
	case P_EHLO:
		return p->sending ? "timed out sending EHLO" :
		    "timed out waiting for the EHLO reply";
	case P_STARTTLS:
		return p->sending ? "timed out sending STARTTLS" :
		    "timed out waiting for the STARTTLS reply";
	case P_HANDSHAKE:
		return "timed out in the TLS handshake";
	default:
		return "timed out";
	}
}

static void
probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	if (p->state == P_START) {
		probe_run(p);
		return;
	}
	/* The step took too long: cancel it. A slow goodbye is no failure
	 * (probe_error ignores it once closing). */
	probe_error(p, p->state == P_HANDSHAKE ?
	    DANEGATE_R_VALIDATION_FAILURE : DANEGATE_R_NONE, "%s",
	    state_timeout_text(p));
	probe_finish(p);
}

/* ---- set-up ------------------------------------------------------------- */

static void
sni_from_host(char *out, size_t cap, const struct danegate_mx_host *host)
{
	const char *name;
	size_t len;

	out[0] = '\0';
	if (host == NULL)
		return;
	if (host->tlsa_base[0] != '\0')
		name = host->tlsa_base;
	else if (host->expanded[0] != '\0')
		name = host->expanded;
	else
		name = host->name;
	len = strnlen(name, DANEGATE_NAME_MAX - 1);
	/* SNI carries no trailing dot (RFC 6066 §3) */
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, name, len);
	out[len] = '\0';
}

static int
copy_tlsa(struct probe *p, const struct danegate_mx_host *host)
{
	if (host == NULL || host->n_tlsa == 0)
		return 0;
	if (host->tlsa == NULL)
		return DANEGATE_E_INVALID;
	p->tlsa = calloc(host->n_tlsa, sizeof(*p->tlsa));
	if (p->tlsa == NULL)
		return DANEGATE_E_NOMEM;
	for (size_t i = 0; i < host->n_tlsa; i++) {
		const struct danegate_tlsa *t = &host->tlsa[i];

		p->tlsa[i] = *t;
		p->tlsa[i].data = NULL;
		p->n_tlsa = i + 1;
		if (t->len > 0) {
			if (t->data == NULL)
				return DANEGATE_E_INVALID;
			p->tlsa[i].data = malloc(t->len);
			if (p->tlsa[i].data == NULL)
				return DANEGATE_E_NOMEM;
			memcpy(p->tlsa[i].data, t->data, t->len);
		}
		if (t->usability == DANEGATE_TLSA_USABLE)
			p->has_usable_tlsa = true;
	}
	return 0;
}

/* Frees a probe that never ran (set-up failed). */
static void
probe_discard(struct probe *p)
{
	if (p->ev_timer != NULL)
		event_free(p->ev_timer);
	for (size_t i = 0; i < p->n_tlsa; i++)
		danegate_tlsa_clear(&p->tlsa[i]);
	free(p->tlsa);
	danegate_smtp_result_free(p->res);
	free(p);
}

static int
probe_new(struct event_base *base, const struct danegate_address *addr,
    const struct danegate_mx_host *host,
    const struct danegate_smtp_options *opts, struct probe **out)
{
	struct probe *p;
	unsigned timeout_ms, goodbye_ms;
	int rc;

	*out = NULL;
	if (addr == NULL || addr->len == 0 || addr->len > sizeof(addr->ss))
		return DANEGATE_E_INVALID;
	if (addr->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&addr->ss;

		if (addr->len < sizeof(*sin) || sin->sin_port == 0)
			return DANEGATE_E_INVALID;
	} else if (addr->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;

		if (addr->len < sizeof(*sin6) || sin6->sin6_port == 0)
			return DANEGATE_E_INVALID;
	} else {
		return DANEGATE_E_INVALID;
	}
	if (opts != NULL && opts->helo_name != NULL &&
	    !smtp_helo_name_ok(opts->helo_name))
		return DANEGATE_E_INVALID;
	if (opts != NULL && opts->nexthop_domain != NULL &&
	    strlen(opts->nexthop_domain) >= DANEGATE_NAME_MAX)
		return DANEGATE_E_INVALID;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return DANEGATE_E_NOMEM;
	p->fd = -1;
	p->base = base;
	p->res = calloc(1, sizeof(*p->res));
	p->ev_timer = evtimer_new(base, probe_timer_cb, p);
	if (p->res == NULL || p->ev_timer == NULL) {
		probe_discard(p);
		return DANEGATE_E_NOMEM;
	}
	p->res->match.record = -1;
	p->res->match.depth = -1;
	if ((rc = copy_tlsa(p, host)) != 0) {
		probe_discard(p);
		return rc;
	}

	memcpy(&p->ss, &addr->ss, addr->len);
	p->ss_len = addr->len;
	if (addr->text[0] != '\0')
		copy_printable(p->res->address, sizeof(p->res->address),
		    addr->text, strnlen(addr->text, sizeof(addr->text)));
	else if (getnameinfo((const struct sockaddr *)&p->ss, p->ss_len,
	    p->res->address, sizeof(p->res->address), NULL, 0,
	    NI_NUMERICHOST) != 0)
		p->res->address[0] = '\0';

	if (opts != NULL && opts->helo_name != NULL) {
		copy_str(p->helo, sizeof(p->helo), opts->helo_name);
	} else if (gethostname(p->helo, sizeof(p->helo)) != 0) {
		p->helo[0] = '\0';
	}
	p->helo[sizeof(p->helo) - 1] = '\0';
	if (!smtp_helo_name_ok(p->helo))
		copy_str(p->helo, sizeof(p->helo), "localhost");

	sni_from_host(p->sni, sizeof(p->sni), host);
	if (host != NULL) {
		copy_str(p->tlsa_base, sizeof(p->tlsa_base), host->tlsa_base);
		copy_str(p->host_name, sizeof(p->host_name), host->name);
		p->trusted_only = host->trusted_only;
	}
	if (opts != NULL)
		copy_str(p->nexthop, sizeof(p->nexthop), opts->nexthop_domain);

	timeout_ms = opts != NULL && opts->timeout_ms != 0 ? opts->timeout_ms :
	    SMTP_TIMEOUT_DEFAULT_MS;
	goodbye_ms = timeout_ms < SMTP_GOODBYE_MS ? timeout_ms :
	    SMTP_GOODBYE_MS;
	ms_to_tv(timeout_ms, &p->step_tv);
	ms_to_tv(goodbye_ms, &p->goodbye_tv);
	*out = p;
	return 0;
}

/* ---- the API ------------------------------------------------------------ */

/*
 * Starts a STARTTLS probe of addr on base and returns at once; cb(arg, 0,
 * res) follows exactly once from the loop (never from inside this call),
 * with res owned by cb, or cb(arg, DANEGATE_E_NOMEM, NULL) if memory ran
 * out on the way. host may be NULL (no SNI, no TLSA match); opts may be
 * NULL (defaults). Returns DANEGATE_E_INVALID for bad arguments (no
 * address family/port, a HELO name that is not a domain or address
 * literal) and DANEGATE_E_NOMEM; then cb is never called.
 */
DANEGATE_EXPORT int
danegate_smtp_probe_async(struct event_base *base,
    const struct danegate_address *addr, const struct danegate_mx_host *host,
    const struct danegate_smtp_options *opts, danegate_smtp_fn *cb,
    void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct probe *p;
	int rc;

	if (base == NULL || cb == NULL)
		return DANEGATE_E_INVALID;
	if ((rc = probe_new(base, addr, host, opts, &p)) != 0)
		return rc;
	p->cb = cb;
	p->cb_arg = arg;
	p->state = P_START;
	/* start from the loop, so that cb never runs inside this call */
	if (evtimer_add(p->ev_timer, &now) != 0) {
		probe_discard(p);
		return DANEGATE_E_NOMEM;
	}
	return 0;
}

struct probe_sync {
	bool done;
	int err;
	struct danegate_smtp_result *res;
};

static void
probe_sync_cb(void *arg, int err, struct danegate_smtp_result *res)
{
	struct probe_sync *w = arg;

	w->done = true;
	w->err = err;
	w->res = res;
}

/*
 * The blocking probe: the same machine on a private event base, run until
 * it calls back. See danegate.h for what the result holds.
 */
DANEGATE_EXPORT int
danegate_smtp_probe(const struct danegate_address *addr,
    const struct danegate_mx_host *host,
    const struct danegate_smtp_options *opts,
    struct danegate_smtp_result **out)
{
	struct probe_sync w = { false, 0, NULL };
	struct event_base *base;
	int rc;

	if (out == NULL)
		return DANEGATE_E_INVALID;
	*out = NULL;
	base = event_base_new();
	if (base == NULL)
		return DANEGATE_E_NOMEM;
	rc = danegate_smtp_probe_async(base, addr, host, opts, probe_sync_cb,
	    &w);
	if (rc != 0) {
		event_base_free(base);
		return rc;
	}
	/* every step holds a timer, so the loop only runs dry when done */
	while (!w.done)
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			break;
	event_base_free(base);
	if (!w.done)
		return DANEGATE_E_NETWORK;	/* the loop broke: no probe */
	if (w.err != 0)
		return w.err;
	*out = w.res;
	return 0;
}

/* Frees a probe result and its chain; accepts NULL. */
DANEGATE_EXPORT int
danegate_smtp_result_rejudge(const struct danegate_smtp_result *res,
    const struct danegate_mx_host *host, const char *nexthop_domain,
    struct danegate_smtp_result **out)
{
	struct danegate_smtp_result *c;
	const char *names[3];
	bool usable = false;

	*out = NULL;
	if (res == NULL || host == NULL || (host->n_tlsa > 0 &&
	    host->tlsa == NULL))
		return DANEGATE_E_INVALID;
	if ((c = malloc(sizeof(*c))) == NULL)
		return DANEGATE_E_NOMEM;
	*c = *res;
	c->chain = NULL;
	c->n_chain = 0;
	if (res->n_chain > 0) {
		if ((c->chain = calloc(res->n_chain, sizeof(*c->chain))) ==
		    NULL) {
			free(c);
			return DANEGATE_E_NOMEM;
		}
		for (size_t i = 0; i < res->n_chain; i++) {
			c->chain[i] = res->chain[i];
			c->chain[i].der = malloc(res->chain[i].der_len + 1);
			if (c->chain[i].der == NULL) {
				danegate_smtp_result_free(c);
				return DANEGATE_E_NOMEM;
			}
			memcpy(c->chain[i].der, res->chain[i].der,
			    res->chain[i].der_len);
			c->n_chain = i + 1;
		}
	}
	/* what failed before TLS belongs to the address, not to the host's
	 * records: it stays as it was */
	if (!res->tls_established) {
		*out = c;
		return 0;
	}
	memset(&c->match, 0, sizeof(c->match));
	c->match.record = c->match.depth = -1;
	c->reason = DANEGATE_R_NONE;
	c->error[0] = '\0';
	for (size_t i = 0; i < host->n_tlsa; i++)
		if (host->tlsa[i].usability == DANEGATE_TLSA_USABLE)
			usable = true;
	if (usable) {
		judge_names(names, host->tlsa_base, host->name, nexthop_domain);
		if (smtp_judge(c, host->tlsa, host->n_tlsa, host->trusted_only,
		    names) != 0) {
			danegate_smtp_result_free(c);
			return DANEGATE_E_NOMEM;
		}
	}
	*out = c;
	return 0;
}

DANEGATE_EXPORT void
danegate_smtp_result_free(struct danegate_smtp_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_chain; i++)
		free(res->chain[i].der);
	free(res->chain);
	free(res);
}
