/*
 * front.h - danegate-relay's front: the SMTP (RFC 5321) and LMTP (RFC 2033)
 * listeners and server sessions that hand each transaction to the outbound
 * side (outbound.h), queue-less.
 *
 * SMTP: one destination domain per transaction (a recipient of another
 * domain gets 452 4.5.3; LIMITS RCPTDOMAINMAX=1 is advertised, RFC 9422).
 * LMTP: recipients of several domains fan out to one outbound transaction
 * per domain, run in parallel, and each recipient gets its own reply after
 * the data (RFC 2033 §4.2). In both, the remote's replies are mirrored: the
 * first RCPT of a domain opens its outbound transaction and gets the
 * remote's MAIL or RCPT verdict; the reply to the end of the data is the
 * remote's own, sent only once it has arrived.
 * Except for RFC 8689: a destination whose TLS policy fails at the open
 * gets its message only if the header says "TLS-Required: No" (the RCPT
 * gets 250, the data's reply says which).
 *
 * SECURITY: talks to every client that reaches a listener. Before the
 * access list has allowed a client it can only get 5xx to MAIL and RCPT;
 * commands go through the bounded parser in smtp_cmd.c; the data through
 * smtp_data.c, which only ends it at CRLF.CRLF and makes the session refuse
 * messages with bare CR or LF (no SMTP smuggling downstream); input and
 * output are bounded buffers (the client is not read while the outbound
 * side is full, nor while its replies are not read). STARTTLS throws away
 * whatever the client pipelined after the command (CVE-2011-0411 class).
 * Runs unprivileged after start-up, except that listeners are bound first.
 *
 * Ownership: the front borrows its event base, outbound env and conf (the
 * conf must live until front_set_conf() or front_free()).
 */
#ifndef DANEGATE_RELAY_FRONT_H
#define DANEGATE_RELAY_FRONT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct outbound_env;
struct relay_conf;
struct front;

/*
 * Latency buckets (upper bounds, microseconds; the last bucket is +Inf) of
 * the time from the client's final dot to our reply to it: what the
 * relay adds to a delivery (the remote's own time for the data included).
 */
#define FRONT_LATENCY_BUCKETS 15
extern const uint64_t front_latency_bounds_us[FRONT_LATENCY_BUCKETS - 1];

/* Counters for logs and metrics. */
struct front_stats {
	uint64_t sessions;		/* accepted */
	uint64_t refused;		/* denied by the access list or limits */
	uint64_t messages;		/* end of data reached */
	uint64_t delivered;		/* final 2xx per recipient */
	uint64_t deferred;		/* final 4xx per recipient */
	uint64_t bounced;		/* final 5xx per recipient */
	uint64_t possible_duplicates;	/* client gone after a 2xx */
	uint64_t tls_required_no;	/* held destinations opened because
					 * the header said TLS-Required: No
					 * (RFC 8689) */
	uint64_t aborted;		/* outbound transactions dropped
					 * before their final dot: the client
					 * gone or timed out mid-data */
	uint64_t dmarc_routed;		/* DMARC guard: transactions bound
					 * to a route at MAIL */
	uint64_t dmarc_refused;		/* DMARC guard: refused (5xx) */
	unsigned active;		/* sessions now */
	uint64_t latency[FRONT_LATENCY_BUCKETS];	/* per message */
	uint64_t latency_sum_us;
};

/*
 * Creates the front: loads the STARTTLS certificate if conf has one.
 * Returns 0 and *out, or DANEGATE_E_NOMEM / DANEGATE_E_TLS (logged with
 * the file names).
 */
int front_new(struct event_base *base, struct outbound_env *oenv,
    const struct relay_conf *conf, struct front **out);

/* Binds and listens on every listener of the conf (before the privilege
 * drop). Returns 0 or DANEGATE_E_NETWORK, logged with the address. */
int front_listen(struct front *f);

/*
 * Swaps in a new conf (SIGHUP): access list, limits, timeouts, STARTTLS
 * certificate (reloaded). Listeners stay as they are (binding needs the
 * privileges dropped at start; a change is logged). Returns 0, or
 * DANEGATE_E_TLS and the old conf stays in force.
 */
int front_set_conf(struct front *f, const struct relay_conf *conf);

/*
 * Takes over a connected socket as a new session (what the listeners do
 * on accept; tests use it with a socketpair). sa is the client's address
 * (NULL: a unix socket, allowed). Returns 0 or a DANEGATE_E_* code; the fd
 * is closed in every case.
 */
int front_session_add(struct front *f, int fd, const struct sockaddr *sa,
    socklen_t salen, bool lmtp);

/*
 * Starts draining (SIGTERM): listeners closed, idle sessions get 421
 * and are closed, sessions in a transaction finish it; at the conf's
 * drain-timeout the rest get 421 (their outbound transactions are dropped
 * before the final dot). done(arg) is called from the loop once no session
 * is left.
 */
void front_drain(struct front *f, void (*done)(void *), void *arg);

void front_stats_get(const struct front *f, struct front_stats *st);

/*
 * Gives the front the validating resolver (on its event base) for the
 * DMARC guard (dmarc_guard.h; relay: dmarc-guard:). Without one (the
 * unit tests) there is no guard. Borrowed: freed after front_free().
 */
struct danegate_resolver;
void front_set_resolver(struct front *f, struct danegate_resolver *r);

/* Closes every session and listener (no reply), frees. Accepts NULL. */
void front_free(struct front *f);

#endif
