/*
 * curl_thread.h - libcurl transfers that block, run in a worker thread
 * and reported back on the event loop.
 *
 * Why: libcurl's SMTP (and FTP) "done" phase waits for the server's reply
 * to the end of the data in a blocking poll() loop, even under the multi
 * interface (curl_ev.h). On the relay's loop that froze every session
 * until the reply came, and when the submission server was the relay's
 * own front, that reply could never come: the front, on the same loop,
 * never read the message (a deadlock until libcurl's timeout). The
 * relay's TLS-RPT mailto: submissions run here instead.
 *
 * One thread, one transfer at a time, in the order added. The thread is
 * started by curl_thread_new(), which must run before the seccomp filter
 * (it allows no clone()); it returns once the thread runs (see
 * token_worker.h for the TSYNC race that avoids).
 *
 * Ownership: as curl_ev.h: done(arg, easy, rc) is called on the loop and
 * owns easy; curl_thread_remove() takes a transfer back without a call
 * (it waits, at most about a second, if the thread is running it).
 * While a transfer runs, its easy handle and everything its callbacks
 * touch belong to the thread: the caller must not change them.
 */
#ifndef DANEGATE_CURL_THREAD_H
#define DANEGATE_CURL_THREAD_H

#include <curl/curl.h>

#include "plugin/curl_ev.h"

struct event_base;
struct curl_thread;

/* 0, or DANEGATE_E_NOMEM / DANEGATE_E_SYSTEM (no thread, no pipe). */
int curl_thread_new(struct event_base *base, struct curl_thread **out);

/* Who hears of finished transfers (before the first curl_thread_add). */
void curl_thread_set_done(struct curl_thread *ct, curl_ev_done_fn *done,
    void *arg);

/* Queues a transfer: 0, or DANEGATE_E_NOMEM (easy stays the caller's). */
int curl_thread_add(struct curl_thread *ct, CURL *easy);

/* Takes a queued or running transfer back without calling done. */
void curl_thread_remove(struct curl_thread *ct, CURL *easy);

/* Stops the thread (aborting a running transfer) and frees everything;
 * transfers not yet reported are dropped without a call. */
void curl_thread_free(struct curl_thread *ct);

#endif
