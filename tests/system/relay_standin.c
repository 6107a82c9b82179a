/*
 * relay_standin.c - a stand-in for danegate-relay's outbound side
 * (plugin/relay/outbound.h) for the front's system tests, until the real
 * one is linked: every transaction goes, in plaintext and without any
 * DNS, to the one SMTP server named by $DANEGATE_RELAY_STANDIN
 * ("ADDR@PORT", e.g. a receiving Postfix of the test world). It keeps the
 * interface's promises the front relies on: one request at a time, every
 * answer from the loop, the remote's own replies, the final reply only
 * after it arrived, bounded buffers with on_drain.
 *
 * SECURITY: test code only, never installed: no TLS, no DANE.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "addr.h"
#include "outbound.h"
#include "relay_conf.h"
#include "smtp_reply.h"

#define STANDIN_BUF (64u * 1024)

struct outbound_env {
	struct event_base *base;
	char helo[256];
	struct sockaddr_storage ss;
	socklen_t ss_len;
	bool have_target;
};

enum st { T_GREET, T_EHLO, T_MAIL, T_IDLE, T_CMD, T_DATA, T_END, T_DEAD };

struct outbound {
	struct outbound_env *env;
	struct outbound_callbacks cb;
	void *arg;
	int fd;
	enum st st;
	struct event *ev_read, *ev_write, *ev_fail;
	struct evbuffer *out;
	struct smtp_reply_parser rp;
	char mail[700];
	bool full, dsn;
	struct outbound_reply fail;
};

int
outbound_env_new(const struct outbound_env_options *opts,
    struct outbound_env **out)
{
	const char *t = getenv("DANEGATE_RELAY_STANDIN");

	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return DANEGATE_E_NOMEM;
	(*out)->base = opts->base;
	snprintf((*out)->helo, sizeof((*out)->helo), "%s",
	    opts->helo_name ? opts->helo_name : "localhost");
	if (t != NULL && addr_parse(t, 25, &(*out)->ss,
	    &(*out)->ss_len) == 0)
		(*out)->have_target = true;
	return 0;
}

void
outbound_env_set_policies(struct outbound_env *env,
    const struct policy_table *p, struct exemptions *x)
{
	(void)env;
	(void)p;
	(void)x;
}

/* No outbound counters here: the metrics show the front's. */
void
outbound_env_stats(const struct outbound_env *env, struct outbound_stats *out)
{
	(void)env;
	memset(out, 0, sizeof(*out));
}

/* No MTA-STS here. */
struct sts *
outbound_env_sts(const struct outbound_env *env)
{
	(void)env;
	return NULL;
}

/* No routes' tokens either. */
struct oauth2_cache *
outbound_env_token_cache(const struct outbound_env *env)
{
	(void)env;
	return NULL;
}

void
outbound_env_free(struct outbound_env *env)
{
	free(env);
}

static void
deliver(struct outbound *o, const struct outbound_reply *r)
{
	struct outbound_reply copy = *r;

	o->cb.on_reply(o->arg, &copy);
}

static void
on_fail_ev(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;

	(void)fd;
	(void)what;
	deliver(o, &o->fail);
}

/* Answers the outstanding request with ours, from the loop. */
static void
fail(struct outbound *o, int code, const char *text)
{
	o->st = T_DEAD;
	o->fail.code = code;
	snprintf(o->fail.text, sizeof(o->fail.text), "%s", text);
	event_del(o->ev_read);
	event_active(o->ev_fail, EV_TIMEOUT, 0);
}

static void
send_cmd(struct outbound *o, enum st next, const char *line)
{
	evbuffer_add(o->out, line, strlen(line));
	evbuffer_add(o->out, "\r\n", 2);
	o->st = next;
	smtp_reply_init(&o->rp);
	event_add(o->ev_write, NULL);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;

	(void)what;
	while (evbuffer_get_length(o->out) > 0) {
		int n = evbuffer_write(o->out, fd);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			event_add(o->ev_write, NULL);
			return;
		}
		if (n <= 0) {
			fail(o, 451, "4.4.2 stand-in: connection lost");
			return;
		}
	}
	if (o->full) {
		o->full = false;
		if (o->cb.on_drain)
			o->cb.on_drain(o->arg);
	}
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;
	uint8_t buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	size_t used = 0;
	struct outbound_reply r = { 0 };
	int rc;

	(void)what;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (o->st != T_IDLE && o->st != T_DATA && o->st != T_DEAD)
			fail(o, 451, "4.4.2 stand-in: connection lost");
		return;
	}
	rc = smtp_reply_feed(&o->rp, buf, (size_t)n, &used);
	if (rc == SMTP_REPLY_MORE)
		return;
	if (rc != SMTP_REPLY_DONE) {
		fail(o, 451, "4.5.0 stand-in: bad reply");
		return;
	}
	r.code = o->rp.reply.code;
	r.remote = true;
	snprintf(r.text, sizeof(r.text), "%s", o->rp.reply.text);
	switch (o->st) {
	case T_GREET:
		if (r.code != 220)
			break;
		{
			char ehlo[300];

			snprintf(ehlo, sizeof(ehlo), "EHLO %s", o->env->helo);
			send_cmd(o, T_EHLO, ehlo);
		}
		return;
	case T_EHLO:
		if (r.code != 250)
			break;
		o->dsn = (o->rp.reply.ext & SMTP_EXT_DSN) != 0;
		send_cmd(o, T_MAIL, o->mail);
		return;
	case T_MAIL:
	case T_CMD:
	case T_END:
		o->st = r.code == 354 ? T_DATA : T_IDLE;
		deliver(o, &r);
		return;
	default:
		return;
	}
	deliver(o, &r);		/* greeting or EHLO refused: mirrored */
	o->st = T_DEAD;
}

struct outbound *
outbound_open(struct outbound_env *env, const char *domain,
    const struct outbound_envelope *from, const struct outbound_callbacks *cb,
    void *arg, int *err)
{
	struct outbound *o = calloc(1, sizeof(*o));

	(void)domain;
	if (o == NULL) {
		*err = DANEGATE_E_NOMEM;
		return NULL;
	}
	o->env = env;
	o->cb = *cb;
	o->arg = arg;
	o->out = evbuffer_new();
	snprintf(o->mail, sizeof(o->mail), "MAIL FROM:<%s>%s%s%s",
	    from->sender, from->body ? " BODY=" : "",
	    from->body ? from->body : "", from->smtputf8 ? " SMTPUTF8" : "");
	o->fd = socket(env->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	o->ev_read = event_new(env->base, o->fd, EV_READ | EV_PERSIST,
	    on_read, o);
	o->ev_write = event_new(env->base, o->fd, EV_WRITE, on_write, o);
	o->ev_fail = event_new(env->base, -1, 0, on_fail_ev, o);
	smtp_reply_init(&o->rp);
	o->st = T_GREET;
	if (!env->have_target || o->fd < 0 ||
	    (connect(o->fd, (struct sockaddr *)&env->ss, env->ss_len) != 0 &&
	    errno != EINPROGRESS)) {
		fail(o, 451, "4.4.1 stand-in: cannot connect");
		return o;
	}
	event_add(o->ev_read, NULL);
	return o;
}

int
outbound_rcpt(struct outbound *o, const char *rcpt, const char *dsn)
{
	char buf[1200];

	if (o->st == T_DEAD) {
		event_active(o->ev_fail, EV_TIMEOUT, 0);
		return 0;
	}
	snprintf(buf, sizeof(buf), "RCPT TO:<%s>%s%s", rcpt,
	    dsn && o->dsn ? " " : "", dsn && o->dsn ? dsn : "");
	send_cmd(o, T_CMD, buf);
	return 0;
}

int
outbound_data_begin(struct outbound *o)
{
	if (o->st == T_DEAD) {
		event_active(o->ev_fail, EV_TIMEOUT, 0);
		return 0;
	}
	send_cmd(o, T_CMD, "DATA");
	return 0;
}

int
outbound_data_write(struct outbound *o, const void *buf, size_t len)
{
	if (o->st == T_DEAD)
		return DANEGATE_E_NETWORK;
	if (o->st != T_DATA || o->full)
		return DANEGATE_E_INVALID;
	evbuffer_add(o->out, buf, len);
	event_add(o->ev_write, NULL);
	if (evbuffer_get_length(o->out) >= STANDIN_BUF) {
		o->full = true;
		return 1;
	}
	return 0;
}

int
outbound_data_end(struct outbound *o)
{
	if (o->st == T_DEAD) {
		event_active(o->ev_fail, EV_TIMEOUT, 0);
		return 0;
	}
	evbuffer_add(o->out, ".\r\n", 3);
	o->st = T_END;
	smtp_reply_init(&o->rp);
	event_add(o->ev_write, NULL);
	return 0;
}

void
outbound_free(struct outbound *o)
{
	if (o == NULL)
		return;
	if (o->fd >= 0) {
		if (o->st == T_IDLE)
			(void)send(o->fd, "QUIT\r\n", 6, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
		close(o->fd);
	}
	event_free(o->ev_read);
	event_free(o->ev_write);
	event_free(o->ev_fail);
	evbuffer_free(o->out);
	free(o);
}

const char *
outbound_tls_summary(const struct outbound *o)
{
	(void)o;
	return "none";
}

const char *
outbound_relay_name(const struct outbound *o)
{
	(void)o;
	return "stand-in";
}

/* The stand-in makes no TLS sessions: nothing to count. */
void
outbound_env_set_tlsrpt(struct outbound_env *env, struct tlsrpt *t)
{
	(void)env;
	(void)t;
}

void
outbound_env_set_routes(struct outbound_env *env,
    const struct relay_route *routes, size_t n)
{
	(void)env;
	(void)routes;
	(void)n;
}

/* No routes, so no password-grant mailbox to check. */
int
outbound_token_check(struct outbound_env *env, const char *route,
    const char *mailbox, const char *password, outbound_token_check_fn *cb,
    void *arg, struct outbound_reply *now, struct outbound_token_check **out)
{
	(void)env;
	(void)route;
	(void)mailbox;
	(void)password;
	(void)cb;
	(void)arg;
	(void)now;
	*out = NULL;
	return DANEGATE_E_INVALID;
}

void
outbound_token_check_cancel(struct outbound_token_check *tc)
{
	(void)tc;
}
