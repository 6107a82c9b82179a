/*
 * control.c - see control.h.
 */
#include "config.h"

#include <errno.h>
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

#include "acl.h"
#include "conf.h"
#include "control.h"
#include "http_metrics.h"
#include "log.h"
#include "server.h"
#include "stats.h"

#define CONTROL_LINE_MAX 256
#define REPLY_MAX 32768
#define CLIENT_TIMEOUT_S 5

struct control {
	struct event_base *base;
	struct server *srv;
	struct control_ops ops;
	int unix_fd, http_fd;		/* http_fd: until evhttp owns it */
	struct event *unix_ev;
	struct http_metrics *http;	/* the /metrics listener, or NULL */
	char unix_path[108];
};

struct control_client {
	struct control *ctl;
	struct bufferevent *bev;
	bool replied;
};

static void
client_free(struct control_client *cc)
{
	bufferevent_free(cc->bev);
	free(cc);
}

static void
client_on_write(struct bufferevent *bev, void *arg)
{
	struct control_client *cc = arg;

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
client_reply(struct control_client *cc, const char *text)
{
	cc->replied = true;
	bufferevent_disable(cc->bev, EV_READ);
	bufferevent_write(cc->bev, text, strlen(text));
}

/* Runs one control command; writes the reply into out. */
static void
control_run(struct control *ctl, char *line, char *out, size_t cap)
{
	struct stats_gauges g;
	char *arg = strchr(line, ' ');

	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "stats") == 0) {
		server_gauges(ctl->srv, &g);
		stats_render_text(server_stats(ctl->srv), &g, out, cap);
	} else if (strcmp(line, "status") == 0) {
		server_gauges(ctl->srv, &g);
		snprintf(out, cap, "version: %s\nuptime: %llu seconds\n"
		    "inflight: %llu\ncache entries: %llu\nverbosity: %d\n",
		    PACKAGE_VERSION, (unsigned long long)g.uptime_s,
		    (unsigned long long)g.inflight,
		    (unsigned long long)g.cache_entries, log_get_verbosity());
	} else if (strcmp(line, "reload") == 0) {
		if (ctl->ops.reload(ctl->ops.arg) == 0)
			snprintf(out, cap, "ok\n");
		else
			snprintf(out, cap, "error: reload failed, the old "
			    "configuration stays in force (see the log)\n");
	} else if (strcmp(line, "flush") == 0) {
		server_flush_cache(ctl->srv);
		snprintf(out, cap, "ok\n");
	} else if (strcmp(line, "verbosity") == 0 && arg != NULL &&
	    arg[0] >= '0' && arg[0] <= '5' && arg[1] == '\0') {
		log_set_verbosity(arg[0] - '0');
		snprintf(out, cap, "ok\n");
	} else {
		snprintf(out, cap, "error: unknown command '%.40s' (try: "
		    "status, stats, reload, flush, verbosity N)\n", line);
	}
}

static void
client_on_read(struct bufferevent *bev, void *arg)
{
	struct control_client *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *reply, *line;
	size_t n;

	if (cc->replied)
		return;
	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			client_reply(cc, "error: line too long\n");
		return;
	}
	if ((reply = malloc(REPLY_MAX)) == NULL) {
		log_warnx("control: out of memory for a reply");
		client_reply(cc, "error: out of memory\n");
		free(line);
		return;
	}
	reply[0] = '\0';
	control_run(cc->ctl, line, reply, REPLY_MAX);
	free(line);
	client_reply(cc, reply);
	free(reply);
}

/* /metrics (lib/http_metrics.h): only clients that access-control:
 * allows get the counters. */
static bool
control_http_allow(void *arg, const struct sockaddr *peer)
{
	struct control *ctl = arg;

	return acl_lookup(server_conf(ctl->srv)->acl, peer) == ACL_ALLOW;
}

static size_t
control_http_render(void *arg, char *buf, size_t cap)
{
	struct control *ctl = arg;
	struct stats_gauges g;

	server_gauges(ctl->srv, &g);
	return stats_render_prometheus(server_stats(ctl->srv), &g, buf, cap);
}

static void
control_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof(peer);
	struct control_client *cc;
	struct timeval tv = { CLIENT_TIMEOUT_S, 0 };
	int cfd;

	(void)what;
	cfd = accept4(fd, (struct sockaddr *)&peer, &peerlen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		log_warnx("control: out of memory: connection closed");
		close(cfd);
		return;
	}
	cc->ctl = ctl;
	cc->bev = bufferevent_socket_new(ctl->base, cfd, BEV_OPT_CLOSE_ON_FREE);
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

static int
control_open_unix(struct control *ctl, const char *path, uid_t uid,
    gid_t gid)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("control-interface: path too long: %s", path);
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 16) != 0) {
		log_warn("control-interface: cannot listen on %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (uid != 0 && chown(path, uid, gid) != 0)
		log_warn("control-interface: chown %s", path);
	snprintf(ctl->unix_path, sizeof(ctl->unix_path), "%s", path);
	ctl->unix_fd = fd;
	return 0;
}

static int
control_open_http(struct control *ctl, const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (conf_parse_addr_port(spec, 9167, &ss, &len) != 0) {
		log_err("prometheus-interface: cannot parse '%s'", spec);
		return -1;
	}
	if ((fd = http_metrics_listen(&ss, len)) < 0) {
		log_warn("prometheus-interface: cannot listen on %s", spec);
		return -1;
	}
	ctl->http_fd = fd;
	return 0;
}

struct control *
control_new(struct event_base *base, struct server *srv,
    const struct control_ops *ops, uid_t uid, gid_t gid)
{
	const struct conf *conf = server_conf(srv);
	struct control *ctl = calloc(1, sizeof(*ctl));

	if (ctl == NULL) {
		log_warn("control");
		return NULL;
	}
	ctl->base = base;
	ctl->srv = srv;
	ctl->ops = *ops;
	ctl->unix_fd = ctl->http_fd = -1;
	if (conf->control_enable && conf->control_interface[0] != '\0' &&
	    control_open_unix(ctl, conf->control_interface, uid, gid) != 0)
		goto fail;
	if (conf->prometheus_interface[0] != '\0' &&
	    control_open_http(ctl, conf->prometheus_interface) != 0)
		goto fail;
	if (ctl->unix_fd >= 0) {
		ctl->unix_ev = event_new(base, ctl->unix_fd,
		    EV_READ | EV_PERSIST, control_on_accept, ctl);
		if (ctl->unix_ev == NULL || event_add(ctl->unix_ev, NULL) != 0) {
			log_err("control-interface: cannot watch %s",
			    ctl->unix_path);
			goto fail;
		}
		log_notice("control socket on %s", ctl->unix_path);
	}
	if (ctl->http_fd >= 0) {
		static const struct http_metrics_ops hm_ops = {
			control_http_allow, control_http_render,
		};

		if ((ctl->http = http_metrics_new(base, ctl->http_fd, &hm_ops,
		    ctl)) == NULL) {
			log_err("prometheus-interface: cannot serve HTTP on %s",
			    conf->prometheus_interface);
			goto fail;
		}
		ctl->http_fd = -1;	/* the listener's now */
		log_notice("Prometheus metrics on http://%s/metrics",
		    conf->prometheus_interface);
	}
	return ctl;
fail:
	control_free(ctl);
	return NULL;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	if (ctl->unix_ev)
		event_free(ctl->unix_ev);
	if (ctl->http)
		http_metrics_free(ctl->http);	/* closes its socket */
	if (ctl->unix_fd >= 0)
		close(ctl->unix_fd);
	if (ctl->http_fd >= 0)
		close(ctl->http_fd);
	free(ctl);
}
