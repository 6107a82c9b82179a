/*
 * control.c - see control.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "acl.h"
#include "addr.h"
#include "conf.h"
#include "control.h"
#include "ctlsock.h"
#include "http_metrics.h"
#include "log.h"
#include "server.h"
#include "stats.h"

struct control {
	struct server *srv;
	struct control_ops ops;
	int http_fd;			/* until evhttp owns it */
	struct ctlsock *unix_cs;	/* the control socket, or NULL */
	struct http_metrics *http;	/* the /metrics listener, or NULL */
};

static void
control_stats(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct control *ctl = arg;
	struct stats_gauges g;

	(void)cmdarg;
	server_gauges(ctl->srv, &g);
	out->len = stats_render_text(server_stats(ctl->srv), &g, out->buf,
	    out->cap);
	if (out->len >= out->cap)
		out->len = out->cap - 1;
}

static void
control_status(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct control *ctl = arg;
	struct stats_gauges g;

	(void)cmdarg;
	server_gauges(ctl->srv, &g);
	ctlsock_printf(out, "version: %s\nuptime: %llu seconds\n"
	    "inflight: %llu\ncache entries: %llu\nverbosity: %d\n",
	    PACKAGE_VERSION, (unsigned long long)g.uptime_s,
	    (unsigned long long)g.inflight,
	    (unsigned long long)g.cache_entries, log_get_verbosity());
}

static void
control_reload(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct control *ctl = arg;

	(void)cmdarg;
	if (ctl->ops.reload(ctl->ops.arg) == 0)
		ctlsock_printf(out, "ok\n");
	else
		ctlsock_printf(out, "error: reload failed, the old "
		    "configuration stays in force (see the log)\n");
}

static void
control_flush(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	struct control *ctl = arg;

	(void)cmdarg;
	server_flush_cache(ctl->srv);
	ctlsock_printf(out, "ok\n");
}

static void
control_verbosity(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	(void)arg;
	if (cmdarg[0] < '0' || cmdarg[0] > '5' || cmdarg[1] != '\0') {
		ctlsock_printf(out, "error: verbosity: '%.40s' is not a "
		    "level from 0 to 5\n", cmdarg);
		return;
	}
	log_set_verbosity(cmdarg[0] - '0');
	ctlsock_printf(out, "ok\n");
}

/* The commands, in the order the error replies list them. */
static const struct ctlsock_cmd control_cmds[] = {
	{ "status", NULL, control_status },
	{ "stats", NULL, control_stats },
	{ "reload", NULL, control_reload },
	{ "flush", NULL, control_flush },
	{ "verbosity", "N", control_verbosity },
	{ NULL, NULL, NULL },
};

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

static int
control_open_http(struct control *ctl, const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (addr_parse(spec, 9167, &ss, &len) != 0) {
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
	ctl->srv = srv;
	ctl->ops = *ops;
	ctl->http_fd = -1;
	if (conf->control_enable && conf->control_interface[0] != '\0') {
		if ((ctl->unix_cs = ctlsock_new(base, "control-interface",
		    conf->control_interface, 0660, uid, gid, control_cmds,
		    ctl)) == NULL)
			goto fail;
		log_notice("control socket on %s",
		    ctlsock_path(ctl->unix_cs));
	}
	if (conf->prometheus_interface[0] != '\0' &&
	    control_open_http(ctl, conf->prometheus_interface) != 0)
		goto fail;
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
	ctlsock_free(ctl->unix_cs);
	if (ctl->http)
		http_metrics_free(ctl->http);	/* closes its socket */
	if (ctl->http_fd >= 0)
		close(ctl->http_fd);
	free(ctl);
}
