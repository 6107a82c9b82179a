/*
 * curl_ev.h - libcurl's multi interface driven by a libevent base,
 * internal to the library: the one glue that the MTA-STS fetch (sts.c)
 * and the relay's TLS-RPT delivery (plugin/relay/tlsrpt_send.c) share, so
 * that no transfer blocks the caller's event loop. Not for SMTP: libcurl
 * waits for the reply to the end of the data and to QUIT in a blocking
 * poll() even here; the relay runs those in a thread
 * (plugin/relay/curl_thread.h).
 *
 * The caller sets up each easy handle (URL, limits, CURLOPT_PRIVATE) and
 * hands it to curl_ev_add(); when the transfer ends, done(arg, easy, rc)
 * is called from the loop, after the handle was removed from the multi
 * handle: the callback owns the easy handle and cleans it up.
 *
 * Ownership: curl_ev_new() borrows base (it must outlive the glue). The
 * easy handles stay their callers': before curl_ev_free(), remove the
 * transfers still running (curl_ev_remove()) and clean them up.
 *
 * SECURITY: none of its own; what a transfer may do is its easy handle's
 * settings.
 */
#ifndef DANEGATE_CURL_EV_H
#define DANEGATE_CURL_EV_H

#include <curl/curl.h>

struct event_base;
struct curl_ev;

/* A transfer ended with rc; the callee owns easy. */
typedef void curl_ev_done_fn(void *arg, CURL *easy, CURLcode rc);

/* NULL when out of memory. */
struct curl_ev *curl_ev_new(struct event_base *base, curl_ev_done_fn *done,
    void *arg);

/* Starts a transfer: 0, or DANEGATE_E_NOMEM (easy stays the caller's). */
int curl_ev_add(struct curl_ev *ce, CURL *easy);

/* Stops a running transfer without calling back; the caller keeps easy. */
void curl_ev_remove(struct curl_ev *ce, CURL *easy);

void curl_ev_free(struct curl_ev *ce);

#endif
