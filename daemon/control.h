/*
 * control.h - danegated's operator interfaces: the control socket that
 * danegate-control talks to, and the optional Prometheus HTTP listener.
 *
 * The control socket is lib/ctlsock.h with danegated's command table.
 * Control protocol (unix stream socket, one command per connection):
 * the client writes one line, "COMMAND [ARG]\n"; danegated answers with
 * text and closes. Commands: status, stats, reload, flush, verbosity N.
 * Replies to errors start with "error: ".
 *
 * SECURITY: the control socket is a unix socket created mode 0660 in a
 * root-owned directory (owned by the daemon's user): only root and the
 * daemon's group can connect. The HTTP listener (libevent's evhttp: GET
 * and HEAD of /metrics only, bounded headers, no body, 5 s timeout) serves
 * read-only counters, only to clients allowed by access-control:; the
 * others get 403.
 */
#ifndef DG_CONTROL_H
#define DG_CONTROL_H

struct event_base;
struct server;
struct control;

/* Callbacks into main.c for commands that change the daemon. */
struct control_ops {
	int (*reload)(void *arg);	/* 0, or -1: old config kept */
	void *arg;
};

/*
 * Opens the listeners named in the server's configuration (none if both
 * are off). Called before the privilege drop; uid/gid own the socket.
 * Returns NULL after logging on error.
 */
struct control *control_new(struct event_base *base, struct server *srv,
    const struct control_ops *ops, uid_t uid, gid_t gid);
void control_free(struct control *c);

#endif
