/*
 * curl_ev.c - libcurl's multi interface on libevent (see curl_ev.h):
 * libcurl says which sockets to watch (socket_cb) and when to wake it
 * (timer_cb); each becomes an event on the base, whose callbacks hand
 * the activity back with curl_multi_socket_action().
 */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "curl_ev.h"
#include "danegate.h"

struct curl_ev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	curl_ev_done_fn *done;
	void *arg;
};

/* Hands every finished transfer to its owner. */
static void
check_done(struct curl_ev *ce)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(ce->multi, &left)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is invalid once the handle is removed */
		curl_multi_remove_handle(ce->multi, easy);
		ce->done(ce->arg, easy, rc);
	}
}

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct curl_ev *ce = arg;
	int running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ce->multi, fd, flags, &running);
	check_done(ce);
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_ev *ce = userp;
	struct event *ev = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(ce->multi, fd, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, ce->base, fd, kind, on_socket_event, ce);
	} else if ((ev = event_new(ce->base, fd, kind, on_socket_event, ce)) ==
	    NULL) {
		return -1;
	} else {
		curl_multi_assign(ce->multi, fd, ev);
	}
	event_add(ev, NULL);
	return 0;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct curl_ev *ce = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(ce);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_ev *ce = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(ce->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ce->timer, &tv);
	return 0;
}

struct curl_ev *
curl_ev_new(struct event_base *base, curl_ev_done_fn *done, void *arg)
{
	struct curl_ev *ce = calloc(1, sizeof(*ce));

	if (ce == NULL)
		return NULL;
	ce->base = base;
	ce->done = done;
	ce->arg = arg;
	if ((ce->multi = curl_multi_init()) == NULL ||
	    (ce->timer = evtimer_new(base, on_timer, ce)) == NULL) {
		curl_ev_free(ce);
		return NULL;
	}
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce);
	return ce;
}

int
curl_ev_add(struct curl_ev *ce, CURL *easy)
{
	return curl_multi_add_handle(ce->multi, easy) == CURLM_OK ? 0 :
	    DANEGATE_E_NOMEM;
}

void
curl_ev_remove(struct curl_ev *ce, CURL *easy)
{
	curl_multi_remove_handle(ce->multi, easy);
}

void
curl_ev_free(struct curl_ev *ce)
{
	if (ce == NULL)
		return;
	if (ce->multi != NULL)
		curl_multi_cleanup(ce->multi);
	if (ce->timer != NULL)
		event_free(ce->timer);
	free(ce);
}
