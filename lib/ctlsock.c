/*
 * ctlsock.c - see ctlsock.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ctlsock.h"
#include "log.h"

#define CLIENT_TIMEOUT_S 5

struct ctlsock {
	struct event_base *base;
	const struct ctlsock_cmd *tab;
	void *arg;
	int fd;
	struct event *ev;
	char path[108];
};

struct ctlsock_client {
	struct ctlsock *cs;
	struct bufferevent *bev;
	bool replied;
};

void
ctlsock_printf(struct ctlsock_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->cap == 0 || o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->len += (size_t)n;
	if (o->len >= o->cap)
		o->len = o->cap - 1;
}

/* "status, stats, reload, verbosity N": for the error replies. */
static void
ctlsock_list(const struct ctlsock_cmd *tab, struct ctlsock_out *out)
{
	for (size_t i = 0; tab[i].name != NULL; i++)
		ctlsock_printf(out, "%s%s%s%s", i ? ", " : "", tab[i].name,
		    tab[i].args ? " " : "", tab[i].args ? tab[i].args : "");
}

int
ctlsock_dispatch(const struct ctlsock_cmd *tab, void *arg, const char *line,
    struct ctlsock_out *out)
{
	const char *sp = strchr(line, ' ');
	size_t len = sp ? (size_t)(sp - line) : strlen(line);
	const char *cmdarg = sp ? sp + 1 : NULL;
	size_t i;

	for (i = 0; tab[i].name != NULL; i++)
		if (strlen(tab[i].name) == len &&
		    strncmp(tab[i].name, line, len) == 0)
			break;
	if (tab[i].name == NULL) {
		/* the command as typed, bounded: it is the client's text */
		ctlsock_printf(out, "error: unknown command '%.*s' (try: ",
		    (int)(len > 40 ? 40 : len), line);
		ctlsock_list(tab, out);
		ctlsock_printf(out, ")\n");
		return -1;
	}
	if ((tab[i].args == NULL) != (cmdarg == NULL || *cmdarg == '\0')) {
		if (tab[i].args == NULL)
			ctlsock_printf(out, "error: %s takes no argument\n",
			    tab[i].name);
		else
			ctlsock_printf(out, "error: usage: %s %s\n",
			    tab[i].name, tab[i].args);
		return -1;
	}
	tab[i].fn(arg, cmdarg, out);
	return 0;
}

static void
client_free(struct ctlsock_client *cc)
{
	bufferevent_free(cc->bev);
	free(cc);
}

static void
client_on_write(struct bufferevent *bev, void *arg)
{
	struct ctlsock_client *cc = arg;

	(void)bev;
	if (cc->replied)
		client_free(cc);
}

static void
client_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	client_free(arg);
}

static void
client_reply(struct ctlsock_client *cc, const char *text)
{
	cc->replied = true;
	bufferevent_disable(cc->bev, EV_READ);
	bufferevent_write(cc->bev, text, strlen(text));
}

static void
client_on_read(struct bufferevent *bev, void *arg)
{
	struct ctlsock_client *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct ctlsock_out out;
	char *line;
	size_t n;

	if (cc->replied)
		return;
	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL) {
		if (evbuffer_get_length(in) > CTLSOCK_LINE_MAX)
			client_reply(cc, "error: line too long\n");
		return;
	}
	if (n > CTLSOCK_LINE_MAX) {
		free(line);
		client_reply(cc, "error: line too long\n");
		return;
	}
	if ((out.buf = malloc(CTLSOCK_REPLY_MAX)) == NULL) {
		log_warnx("%s: out of memory for a reply", cc->cs->path);
		client_reply(cc, "error: out of memory\n");
		free(line);
		return;
	}
	out.cap = CTLSOCK_REPLY_MAX;
	out.len = 0;
	out.buf[0] = '\0';
	/* A command may block the loop for seconds (danegate-policy's
	 * explain): stop the timeouts first, so that they cannot fire for
	 * the time it ran, and refresh the loop's clock after it, so that
	 * the reply gets its full CLIENT_TIMEOUT_S. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	(void)ctlsock_dispatch(cc->cs->tab, cc->cs->arg, line, &out);
	(void)event_base_update_cache_time(cc->cs->base);
	bufferevent_enable(bev, EV_WRITE);
	free(line);
	client_reply(cc, out.buf);
	free(out.buf);
}

static void
ctlsock_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct ctlsock *cs = arg;
	struct ctlsock_client *cc;
	struct timeval tv = { CLIENT_TIMEOUT_S, 0 };
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		log_warnx("%s: out of memory: connection closed", cs->path);
		close(cfd);
		return;
	}
	cc->cs = cs;
	cc->bev = bufferevent_socket_new(cs->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		close(cfd);
		free(cc);
		return;
	}
	bufferevent_setcb(cc->bev, client_on_read, client_on_write,
	    client_on_event, cc);
	bufferevent_set_timeouts(cc->bev, &tv, &tv);
	bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
}

struct ctlsock *
ctlsock_new(struct event_base *base, const char *what, const char *path,
    mode_t mode, uid_t uid, gid_t gid, const struct ctlsock_cmd *tab,
    void *arg)
{
	struct sockaddr_un sun;
	struct ctlsock *cs;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("%s: path too long: %s", what, path);
		return NULL;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL) {
		log_warn("%s", what);
		return NULL;
	}
	cs->base = base;
	cs->tab = tab;
	cs->arg = arg;
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	(void)unlink(path);
	if ((cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    bind(cs->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, mode) != 0 || listen(cs->fd, 16) != 0) {
		log_warn("%s: cannot listen on %s", what, path);
		goto fail;
	}
	if (uid != 0 && chown(path, uid, gid) != 0)
		log_warn("%s: chown %s", what, path);
	cs->ev = event_new(base, cs->fd, EV_READ | EV_PERSIST,
	    ctlsock_on_accept, cs);
	if (cs->ev == NULL || event_add(cs->ev, NULL) != 0) {
		log_err("%s: cannot watch %s", what, path);
		goto fail;
	}
	return cs;
fail:
	ctlsock_free(cs);
	return NULL;
}

const char *
ctlsock_path(const struct ctlsock *c)
{
	return c->path;
}

void
ctlsock_free(struct ctlsock *c)
{
	if (c == NULL)
		return;
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
