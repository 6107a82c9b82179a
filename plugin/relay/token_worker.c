/*
 * token_worker.c - OAuth2 token requests in a worker thread (see
 * token_worker.h).
 *
 * Jobs: the loop appends a job to the queue (mutex + condition variable);
 * the thread takes it, runs oauth2_token_get() with the job's private
 * copy of the route, and writes the job's pointer into the pipe; the
 * loop's read event takes it back, calls every waiter and frees it. A job
 * is touched by one side at a time: the loop until it is queued, the
 * thread until its pointer is written, the loop again after it read it.
 *
 * SECURITY: see token_worker.h. The copies of secrets, keys and passwords
 * in a job are wiped with gnutls_memset() (oauth2_secret_free()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"
#include "plugin/danegate.h"
#include "plugin/relay/oauth2.h"
#include "plugin/relay/relay_conf.h"
#include "plugin/relay/token_worker.h"

struct token_wait {
	struct token_wait *next;
	struct token_job *job;
	token_worker_cb *cb;
	void *arg;
	bool cancelled;
};

struct token_job {
	struct token_job *next;		/* the loop's in-flight list */
	struct token_job *qnext;	/* the thread's queue */
	/* what identifies a shared request */
	char *route_name, *mailbox, *password;
	/* the route's copy (oauth2_route points into it) */
	struct oauth2_route r;
	char *endpoint, *scope, *client_id, *secret, *key_pem, *cert_file,
	    *resolve;
	/* the answer */
	int rc, fetched;
	unsigned smtp;
	char *token;
	char err[OAUTH2_ERR_MAX];
	struct token_wait *waits;
};

struct token_worker {
	struct event_base *base;
	struct oauth2_cache *cache;
	char *ca_file;
	pthread_t thread;
	bool started;
	bool running;			/* the thread reached worker_main() */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct token_job *queue;	/* for the thread */
	bool stop;
	int pipe[2];
	struct event *ev;
	struct token_job *flight;	/* queued or running: shareable */
	unsigned long jobs;		/* requests started */
};

static char *
dup_opt(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = true;
	return d;
}

static void
job_free(struct token_job *j)
{
	struct token_wait *wt, *n;

	if (j == NULL)
		return;
	for (wt = j->waits; wt != NULL; wt = n) {
		n = wt->next;
		free(wt);
	}
	free(j->route_name);
	free(j->mailbox);
	oauth2_secret_free(j->password);
	free(j->endpoint);
	free(j->scope);
	free(j->client_id);
	oauth2_secret_free(j->secret);
	oauth2_secret_free(j->key_pem);
	free(j->cert_file);
	free(j->resolve);
	oauth2_secret_free(j->token);
	free(j);
}

/* The certificate grant's key and certificate, from the job's copies. */
static int
job_load_cert(struct token_job *j, gnutls_privkey_t *key,
    gnutls_datum_t *der)
{
	gnutls_datum_t pem = { NULL, 0 }, kd;
	gnutls_x509_crt_t crt = NULL;
	int rc;

	*key = NULL;
	der->data = NULL;
	if (j->key_pem == NULL || j->cert_file == NULL)
		return DANEGATE_E_INVALID;
	kd.data = (unsigned char *)j->key_pem;
	kd.size = (unsigned)strlen(j->key_pem);
	rc = gnutls_load_file(j->cert_file, &pem);
	if (rc >= 0)
		rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der);
	if (rc >= 0)
		rc = gnutls_privkey_init(key);
	if (rc >= 0)
		rc = gnutls_privkey_import_x509_raw(*key, &kd,
		    GNUTLS_X509_FMT_PEM, NULL, 0);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	if (rc < 0) {
		if (*key != NULL)
			gnutls_privkey_deinit(*key);
		*key = NULL;
		gnutls_free(der->data);
		der->data = NULL;
		return DANEGATE_E_INVALID;
	}
	return 0;
}

/* The thread's work on one job. */
static void
job_run(struct token_worker *w, struct token_job *j)
{
	gnutls_privkey_t key = NULL;
	gnutls_datum_t der = { NULL, 0 };

	if (j->r.grant == OAUTH2_GRANT_CERT) {
		if (job_load_cert(j, &key, &der) != 0) {
			j->rc = DANEGATE_E_INVALID;
			j->smtp = 454;
			snprintf(j->err, sizeof(j->err), "cannot load the "
			    "route's certificate or key; check "
			    "certificate-file: and private-key-file:");
			return;
		}
		j->r.key = key;
		j->r.cert_der = &der;
	}
	j->rc = oauth2_token_get(w->cache, &j->r, j->mailbox, j->password,
	    time(NULL), &j->token, &j->fetched, &j->smtp, j->err,
	    sizeof(j->err));
	j->r.key = NULL;
	j->r.cert_der = NULL;
	if (key != NULL)
		gnutls_privkey_deinit(key);
	gnutls_free(der.data);
}

static void *
worker_main(void *arg)
{
	struct token_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	/* glibc's thread start-up (rseq, set_robust_list) is over: the
	 * seccomp filter, which allows neither, may come now */
	w->running = true;
	pthread_cond_broadcast(&w->cond);
	for (;;) {
		struct token_job *j;
		uintptr_t v;
		ssize_t n;

		while (w->queue == NULL && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->queue;
		w->queue = j->qnext;
		j->qnext = NULL;
		pthread_mutex_unlock(&w->lock);
		job_run(w, j);
		/* the job's address, fewer bytes than PIPE_BUF: the write
		 * is atomic */
		v = (uintptr_t)j;
		do
			n = write(w->pipe[1], &v, sizeof(v));
		while (n < 0 && errno == EINTR);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* The loop side: a job came back; its waiters are called. */
static void
worker_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct token_worker *w = arg;
	struct token_job *j = NULL, **pp;
	struct token_wait *wt;
	struct token_result res;
	uintptr_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	/* only a job of ours: the address is looked up, not trusted */
	for (pp = &w->flight; *pp != NULL; pp = &(*pp)->next)
		if ((uintptr_t)*pp == v) {
			j = *pp;
			*pp = j->next;
			break;
		}
	if (j == NULL)
		return;
	res.rc = j->rc;
	res.token = j->rc == 0 ? j->token : NULL;
	res.fetched = j->fetched;
	res.smtp = j->smtp;
	res.err = j->err;
	/* a waiter's callback may cancel or add others: detach first */
	while ((wt = j->waits) != NULL) {
		j->waits = wt->next;
		if (!wt->cancelled)
			wt->cb(wt->arg, &res);
		free(wt);
	}
	job_free(j);
}

int
token_worker_new(struct event_base *base, const char *ca_file,
    struct token_worker **out)
{
	struct token_worker *w;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return DANEGATE_E_NOMEM;
	w->base = base;
	w->pipe[0] = w->pipe[1] = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((w->cache = oauth2_cache_new()) == NULL ||
	    (ca_file != NULL && (w->ca_file = strdup(ca_file)) == NULL) ||
	    pipe2(w->pipe, O_CLOEXEC) != 0 ||
	    evutil_make_socket_nonblocking(w->pipe[0]) != 0 ||
	    (w->ev = event_new(base, w->pipe[0], EV_READ | EV_PERSIST,
	    worker_done_cb, w)) == NULL || event_add(w->ev, NULL) != 0) {
		token_worker_free(w);
		return DANEGATE_E_NOMEM;
	}
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		token_worker_free(w);
		return DANEGATE_E_NOMEM;
	}
	w->started = true;
	/*
	 * The program installs its seccomp filter (TSYNC: every thread)
	 * right after this; a thread that had not yet run glibc's start-up
	 * syscalls then was killed with the process (SIGSYS, seen as the
	 * relay dying in the container test at a random moment).
	 */
	pthread_mutex_lock(&w->lock);
	while (!w->running)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	*out = w;
	return 0;
}

void
token_worker_free(struct token_worker *w)
{
	struct token_job *j, *n;

	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	/* queued jobs are in flight too; a finished one's pointer may
	 * still sit in the pipe: it is in the flight list as well */
	for (j = w->flight; j != NULL; j = n) {
		n = j->next;
		job_free(j);
	}
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->pipe[0] >= 0)
		close(w->pipe[0]);
	if (w->pipe[1] >= 0)
		close(w->pipe[1]);
	oauth2_cache_free(w->cache);
	free(w->ca_file);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

unsigned long
token_worker_jobs(const struct token_worker *w)
{
	return w->jobs;
}

struct oauth2_cache *
token_worker_cache(struct token_worker *w)
{
	return w->cache;
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

int
token_worker_get(struct token_worker *w, const struct relay_route *r,
    const char *mailbox, const char *password, const char *resolve,
    token_worker_cb *cb, void *arg, struct token_wait **out)
{
	struct token_wait *wt;
	struct token_job *j;
	bool fail = false;

	*out = NULL;
	if (r->grant != OAUTH2_GRANT_PASSWORD)
		password = NULL;
	if ((wt = calloc(1, sizeof(*wt))) == NULL)
		return DANEGATE_E_NOMEM;
	wt->cb = cb;
	wt->arg = arg;
	/* one request per route, mailbox and password; the queue is
	 * the thread's, but the flight list is the loop's alone */
	for (j = w->flight; j != NULL; j = j->next)
		if (strcmp(j->route_name, r->name) == 0 &&
		    strcasecmp(j->mailbox, mailbox) == 0 &&
		    same(j->password, password))
			break;
	if (j == NULL) {
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			free(wt);
			return DANEGATE_E_NOMEM;
		}
		j->route_name = dup_opt(r->name, &fail);
		j->mailbox = dup_opt(mailbox, &fail);
		j->password = dup_opt(password, &fail);
		j->endpoint = dup_opt(r->token_endpoint, &fail);
		j->scope = dup_opt(r->scope, &fail);
		j->client_id = dup_opt(r->client_id, &fail);
		j->secret = dup_opt(r->client_secret, &fail);
		j->key_pem = dup_opt(r->private_key, &fail);
		j->cert_file = dup_opt(r->certificate_file, &fail);
		j->resolve = dup_opt(resolve, &fail);
		if (fail || j->route_name == NULL || j->mailbox == NULL) {
			job_free(j);
			free(wt);
			return DANEGATE_E_NOMEM;
		}
		j->r.grant = (enum oauth2_grant)r->grant;
		j->r.endpoint = j->endpoint;
		j->r.scope = j->scope;
		j->r.client_id = j->client_id;
		j->r.client_secret = j->secret;
		j->r.cafile = w->ca_file;
		j->r.resolve = j->resolve;
		j->next = w->flight;
		w->flight = j;
		w->jobs++;
		pthread_mutex_lock(&w->lock);
		{
			struct token_job **pp = &w->queue;

			while (*pp != NULL)
				pp = &(*pp)->qnext;
			*pp = j;
		}
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
	}
	wt->job = j;
	wt->next = j->waits;
	j->waits = wt;
	*out = wt;
	return 0;
}

void
token_wait_cancel(struct token_wait *wt)
{
	if (wt != NULL)
		wt->cancelled = true;
}

int
token_endpoint_host(const char *url, char *host, size_t cap, unsigned *port)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	int rc = DANEGATE_E_INVALID;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK && strlen(h) < cap) {
		snprintf(host, cap, "%s", h);
		*port = (unsigned)strtoul(p, NULL, 10);
		rc = 0;
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}
