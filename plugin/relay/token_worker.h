/*
 * token_worker.h - danegate-relay's OAuth2 token requests off the event
 * loop (issue 9): oauth2_token_get() is blocking (libcurl easy), so it
 * runs in one worker thread; the answer comes back to the libevent loop
 * through a pipe the loop watches, and the waiting callers are called
 * from there. Transactions that wait for the same token (the same route,
 * mailbox and password) share one request.
 *
 * The thread is started by token_worker_new(), i.e. before the relay
 * installs its seccomp filter (which allows no clone(2)): it lives as
 * long as the process and sleeps on a condition variable between jobs.
 * The token endpoint's address is looked up by the caller through the
 * relay's validating resolver and handed to libcurl (CURLOPT_RESOLVE), so
 * libcurl never starts its own resolver thread.
 *
 * SECURITY: a job holds copies of the route's secret or key and of the
 * client's password (ROPC); all are wiped when the job ends. Error texts
 * come from oauth2.c ("cause; fix") and never hold a secret or a token.
 *
 * Ownership: token_worker_new() returns a worker the caller frees with
 * token_worker_free() (after every wait was cancelled or answered); it
 * owns the token cache (token_worker_cache()).
 */
#ifndef DANEGATE_RELAY_TOKEN_WORKER_H
#define DANEGATE_RELAY_TOKEN_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct oauth2_cache;
struct relay_route;
struct token_worker;
struct token_wait;

/* What a wait ends with. token is borrowed for the call (NULL unless rc
 * is 0); smtp and err as oauth2_token_request() says; fetched as
 * oauth2_token_get(). */
struct token_result {
	int rc;
	const char *token;
	int fetched;
	unsigned smtp;
	const char *err;
};

typedef void token_worker_cb(void *arg, const struct token_result *res);

/*
 * Starts the worker thread on base. ca_file: the PKIX trust for the token
 * endpoint (NULL: the system's), copied. Returns 0 or a negative
 * DANEGATE_E_* code.
 */
int token_worker_new(struct event_base *base, const char *ca_file,
    struct token_worker **out);

/* Stops the thread (after the job it runs), frees. Accepts NULL. */
void token_worker_free(struct token_worker *w);

/* How many jobs (token requests) were started: waits that shared one
 * count once. */
unsigned long token_worker_jobs(const struct token_worker *w);

/* The token cache (memory only), for lookups on the loop. */
struct oauth2_cache *token_worker_cache(struct token_worker *w);

/*
 * Asks for mailbox's token on route r (copied), password only for the
 * password grant. resolve: "HOST:PORT:ADDR" for the token endpoint, or
 * NULL. cb(arg, result) is called once from the loop, never before this
 * returns, unless the wait is cancelled. Returns 0 and *out, or a
 * negative DANEGATE_E_* code (cb will not be called).
 */
int token_worker_get(struct token_worker *w, const struct relay_route *r,
    const char *mailbox, const char *password, const char *resolve,
    token_worker_cb *cb, void *arg, struct token_wait **out);

/* Drops a wait: its callback will not be called. */
void token_wait_cancel(struct token_wait *wt);

/* The token endpoint's host and port from its https URL, for the
 * caller's address lookup. Returns 0 or DANEGATE_E_INVALID. */
int token_endpoint_host(const char *url, char *host, size_t cap,
    unsigned *port);

#endif
