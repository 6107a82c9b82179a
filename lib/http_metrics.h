/*
 * http_metrics.h - the Prometheus /metrics listener on libevent's HTTP
 * server, shared by danegated (daemon/control.c) and danegate-relay.
 *
 * The caller binds the listening socket (before dropping privileges); the
 * listener answers GET and HEAD of /metrics with what the render callback
 * writes (text/plain; version=0.0.4), 404 for any other path, 501 for any
 * other method, 403 to a client the access list does not allow (evhttp
 * offers no hook to refuse at accept). Headers are bounded, bodies refused,
 * idle clients dropped after a few seconds.
 *
 * SECURITY: talks to every client that reaches the socket; evhttp parses
 * the request; the body is only what the render callback writes.
 *
 * Ownership: the listener owns fd from a successful http_metrics_new() on
 * (closes it in http_metrics_free()); the event base and arg are borrowed
 * and must outlive it.
 */
#ifndef DANEGATE_HTTP_METRICS_H
#define DANEGATE_HTTP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct http_metrics;

struct http_metrics_ops {
	/* may peer have the counters? (the caller's access list, looked up
	 * at each request so that a reload takes effect) */
	bool (*allow)(void *arg, const struct sockaddr *peer);
	/* writes the exposition into buf (cap bytes, truncated if need be);
	 * returns the length written */
	size_t (*render)(void *arg, char *buf, size_t cap);
};

/* Returns the listener, or NULL (logged; fd is then still the caller's).
 * ops is copied. */
struct http_metrics *http_metrics_new(struct event_base *base, int fd,
    const struct http_metrics_ops *ops, void *arg);
/* Accepts NULL. */
void http_metrics_free(struct http_metrics *hm);

/*
 * Opens a listening TCP socket (non-blocking, close-on-exec, SO_REUSEADDR)
 * on ss. Returns the descriptor, or -1 with errno set.
 */
int http_metrics_listen(const struct sockaddr_storage *ss, unsigned len);

#endif
