/*
 * relay_stub.c - the in-memory outbound stand-in (see relay_stub.h).
 *
 * By destination domain:
 *   defer.example    MAIL: 451 4.7.5 dane-required: ... STARTTLS not offered
 *   policy.example   the same as the relay's own TLS policy verdict
 *                    (not remote, with its RFC 8460 type), unless the
 *                    envelope has tls_required_no: then as "ok.example"
 *   reject.example   RCPT: 550 5.1.1 no such user
 *   dataerr.example  DATA: 554 5.5.0 no thanks
 *   final5.example   the final dot: 554 5.7.1 rejected
 *   slow.example     the final reply comes after 300 ms
 *   full.example     every data_write fills the buffer; room after 1 ms
 *   anything else    250 / 354 / "250 2.0.0 Ok: queued as STUBn"
 * Replies always come from the loop, as outbound.h promises.
 *
 * SECURITY: test code only; no network.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "outbound.h"
#include "relay_stub.h"

struct stub_msg stub_msgs[STUB_MSG_MAX];
size_t stub_n_msgs;

struct outbound_env {
	struct event_base *base;
};

struct outbound {
	struct outbound_env *env;
	struct outbound_callbacks cb;
	void *arg;
	struct stub_msg *msg;
	struct event *ev_reply, *ev_drain;
	struct outbound_reply pending;
	bool in_data;
};

void
stub_reset(void)
{
	for (size_t i = 0; i < stub_n_msgs; i++)
		free(stub_msgs[i].data);
	memset(stub_msgs, 0, sizeof(stub_msgs));
	stub_n_msgs = 0;
}

int
outbound_env_new(const struct outbound_env_options *opts,
    struct outbound_env **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return DANEGATE_E_NOMEM;
	(*out)->base = opts->base;
	return 0;
}

void
outbound_env_set_policies(struct outbound_env *env,
    const struct policy_table *policies, struct exemptions *exemptions)
{
	(void)env;
	(void)policies;
	(void)exemptions;
}

void
outbound_env_free(struct outbound_env *env)
{
	free(env);
}

static void
on_reply_ev(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;
	struct outbound_reply r = o->pending;

	(void)fd;
	(void)what;
	o->cb.on_reply(o->arg, &r);
}

static void
on_drain_ev(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *o = arg;

	(void)fd;
	(void)what;
	o->cb.on_drain(o->arg);
}

static void
answer(struct outbound *o, int code, const char *text, unsigned ms)
{
	struct timeval tv = { 0, (suseconds_t)ms * 1000 };

	o->pending.code = code;
	snprintf(o->pending.text, sizeof(o->pending.text), "%s", text);
	o->pending.remote = true;
	event_add(o->ev_reply, &tv);
}

static bool
is(const struct outbound *o, const char *d)
{
	return strcmp(o->msg->domain, d) == 0;
}

struct outbound *
outbound_open(struct outbound_env *env, const char *domain,
    const struct outbound_envelope *from, const struct outbound_callbacks *cb,
    void *arg, int *err)
{
	struct outbound *o;

	if (stub_n_msgs == STUB_MSG_MAX || (o = calloc(1, sizeof(*o))) ==
	    NULL) {
		*err = DANEGATE_E_NOMEM;
		return NULL;
	}
	o->env = env;
	o->cb = *cb;
	o->arg = arg;
	o->msg = &stub_msgs[stub_n_msgs++];
	snprintf(o->msg->domain, sizeof(o->msg->domain), "%s", domain);
	o->ev_reply = evtimer_new(env->base, on_reply_ev, o);
	o->ev_drain = evtimer_new(env->base, on_drain_ev, o);
	o->msg->tls_required_no = from->tls_required_no;
	if (is(o, "policy.example") && !from->tls_required_no) {
		answer(o, 451, "4.7.5 dane-required: mx1.policy.example"
		    "[192.0.2.2]: STARTTLS not offered", 0);
		o->pending.remote = false;
		o->pending.reason = DANEGATE_R_DANE_REQUIRED;
	} else if (is(o, "defer.example"))
		answer(o, 451, "4.7.5 dane-required: mx1.defer.example"
		    "[192.0.2.1]: STARTTLS not offered", 0);
	else
		answer(o, 250, "2.1.0 Ok", 0);
	return o;
}

int
outbound_rcpt(struct outbound *o, const char *rcpt, const char *dsn)
{
	(void)rcpt;
	(void)dsn;
	if (is(o, "reject.example"))
		answer(o, 550, "5.1.1 no such user", 0);
	else {
		o->msg->rcpts++;
		answer(o, 250, "2.1.5 Ok", 0);
	}
	return 0;
}

int
outbound_data_begin(struct outbound *o)
{
	if (is(o, "dataerr.example"))
		answer(o, 554, "5.5.0 no thanks", 0);
	else {
		o->in_data = true;
		answer(o, 354, "End data with <CR><LF>.<CR><LF>", 0);
	}
	return 0;
}

int
outbound_data_write(struct outbound *o, const void *buf, size_t len)
{
	struct stub_msg *m = o->msg;
	char *n;

	if (!o->in_data)
		return DANEGATE_E_INVALID;
	if ((n = realloc(m->data, m->len + len + 1)) == NULL)
		return DANEGATE_E_NOMEM;
	memcpy(n + m->len, buf, len);
	m->len += len;
	n[m->len] = '\0';
	m->data = n;
	if (is(o, "full.example")) {
		struct timeval tv = { 0, 1000 };

		event_add(o->ev_drain, &tv);
		return 1;
	}
	return 0;
}

int
outbound_data_end(struct outbound *o)
{
	static unsigned queued;
	char text[64];

	o->msg->ended = true;
	if (is(o, "final5.example"))
		answer(o, 554, "5.7.1 rejected", 0);
	else {
		snprintf(text, sizeof(text), "2.0.0 Ok: queued as STUB%u",
		    ++queued);
		answer(o, 250, text, is(o, "slow.example") ? 300 : 0);
	}
	return 0;
}

void
outbound_free(struct outbound *o)
{
	if (o == NULL)
		return;
	o->msg->freed = true;
	event_free(o->ev_reply);
	event_free(o->ev_drain);
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
	return "stub[127.0.0.1]:25";
}

/* The stub has no routes: no password-grant mailbox to check. */
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
