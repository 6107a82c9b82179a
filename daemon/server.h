/*
 * server.h - danegated's DNS front end: UDP and TCP listeners, the query
 * path (ACL, rate limit, parse, front cache, libunbound), and the answers.
 *
 * SECURITY: reads queries from any client that can reach a listener; only
 * clients allowed by access-control: get answers, the others REFUSED or
 * nothing. Runs in the unprivileged, sandboxed daemon after start-up.
 *
 * Ownership: server_new() takes conf and resolver; server_reload() takes
 * the new ones and retires the old.
 */
#ifndef DG_SERVER_H
#define DG_SERVER_H

#include <stdbool.h>

#include "stats.h"

struct event_base;
struct conf;
struct resolver;
struct server;

struct server *server_new(struct event_base *base, struct conf *conf,
    struct resolver *resolver);
void server_free(struct server *s);

/*
 * Opens the listeners: the sockets systemd passed (socket activation) if
 * any, else one UDP and one TCP socket per configured interface. Returns 0,
 * or -1 after logging which address failed.
 */
int server_listen(struct server *s);

/* Starts serving on the event loop. */
void server_start(struct server *s);

/* Closes the listeners (stop accepting) before shutdown. */
void server_stop_listening(struct server *s);

/*
 * Swaps in a new configuration and resolver (SIGHUP). Queries in flight
 * finish on the old resolver. The listeners are kept: a changed interface
 * list needs a restart, which is logged. Returns 0 (conf and resolver now
 * belong to s), or -1 after logging why (out of memory): s keeps its old
 * configuration, cache, rate limit and resolver, and conf and resolver
 * stay the caller's to free.
 */
int server_reload(struct server *s, struct conf *conf,
    struct resolver *resolver);

void server_flush_cache(struct server *s);
const struct conf *server_conf(const struct server *s);
const struct stats *server_stats(const struct server *s);
void server_gauges(const struct server *s, struct stats_gauges *g);

/*
 * Checks that every configured trust anchor's zone validates as secure
 * (its DNSKEY RRset), retrying every few seconds until it does; then calls
 * ready(arg) once. Until then status(arg, text) reports why not.
 */
typedef void server_ready_fn(void *arg);
typedef void server_status_fn(void *arg, const char *text);
void server_probe_anchors(struct server *s, server_ready_fn *ready,
    server_status_fn *status, void *arg);

#endif
