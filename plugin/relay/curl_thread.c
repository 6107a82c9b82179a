/*
 * curl_thread.c - blocking libcurl transfers in a worker thread (see
 * curl_thread.h).
 *
 * Every transfer is a job on one list (ct->jobs) under the lock, in one
 * of three states: queued, running (ct->running), or finished and its
 * address written to the pipe. The loop's read event takes finished jobs
 * back and calls done unless the job was cancelled meanwhile. A cancelled
 * running transfer is stopped by its progress callback, which libcurl
 * calls at least once a second, also while it waits for a reply.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "plugin/danegate.h"
#include "plugin/relay/curl_thread.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct job {
	struct job *next;
	CURL *easy;
	enum job_state state;
	bool cancelled;
	CURLcode rc;
};

struct curl_thread {
	struct event_base *base;
	curl_ev_done_fn *done;
	void *arg;
	pthread_t thread;
	bool started, running, stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* work queued, stop, a job finished */
	struct job *jobs;		/* every job, oldest first */
	int pipe[2];
	struct event *ev;
};

/* Under the lock. */
static void
job_unlink(struct curl_thread *ct, struct job *j)
{
	struct job **pp;

	for (pp = &ct->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

/* Under the lock: the oldest queued job, or NULL. */
static struct job *
job_next(struct curl_thread *ct)
{
	struct job *j;

	for (j = ct->jobs; j != NULL; j = j->next)
		if (j->state == JOB_QUEUED)
			return j;
	return NULL;
}

/* libcurl's progress callback, in the thread: non-zero aborts. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct curl_thread *ct = arg;
	bool stop;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	pthread_mutex_lock(&ct->lock);
	stop = ct->stop;
	for (struct job *j = ct->jobs; j != NULL && !stop; j = j->next)
		stop = j->state == JOB_RUNNING && j->cancelled;
	pthread_mutex_unlock(&ct->lock);
	return stop ? 1 : 0;
}

static void *
thread_main(void *arg)
{
	struct curl_thread *ct = arg;

	pthread_mutex_lock(&ct->lock);
	/* glibc's thread start-up is over: the seccomp filter may come */
	ct->running = true;
	pthread_cond_broadcast(&ct->cond);
	for (;;) {
		struct job *j;
		uintptr_t v;
		ssize_t n;
		CURLcode rc;

		while ((j = job_next(ct)) == NULL && !ct->stop)
			pthread_cond_wait(&ct->cond, &ct->lock);
		if (ct->stop)
			break;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&ct->lock);
		/* the connection ends here, in the thread: kept, libcurl
		 * would close it in curl_easy_cleanup() on the loop, and its
		 * SMTP QUIT waits for the 221 there, blocking again */
		curl_easy_setopt(j->easy, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(j->easy, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(j->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(j->easy, CURLOPT_XFERINFODATA, ct);
		rc = curl_easy_perform(j->easy);
		pthread_mutex_lock(&ct->lock);
		j->rc = rc;
		j->state = JOB_FINISHED;
		pthread_cond_broadcast(&ct->cond);
		/* fewer bytes than PIPE_BUF: the write is atomic */
		v = (uintptr_t)j;
		do
			n = write(ct->pipe[1], &v, sizeof(v));
		while (n < 0 && errno == EINTR);
	}
	pthread_mutex_unlock(&ct->lock);
	return NULL;
}

/* The loop side: a transfer finished. */
static void
on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct curl_thread *ct = arg;
	struct job *j = NULL;
	bool call;
	uintptr_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	pthread_mutex_lock(&ct->lock);
	/* only a job of ours: the address is looked up, not trusted */
	for (j = ct->jobs; j != NULL && (uintptr_t)j != v; j = j->next)
		;
	if (j != NULL)
		job_unlink(ct, j);
	pthread_mutex_unlock(&ct->lock);
	if (j == NULL)
		return;
	call = !j->cancelled && ct->done != NULL;
	if (call)
		ct->done(ct->arg, j->easy, j->rc);
	free(j);
}

int
curl_thread_new(struct event_base *base, struct curl_thread **out)
{
	struct curl_thread *ct;

	*out = NULL;
	if ((ct = calloc(1, sizeof(*ct))) == NULL)
		return DANEGATE_E_NOMEM;
	ct->base = base;
	ct->pipe[0] = ct->pipe[1] = -1;
	pthread_mutex_init(&ct->lock, NULL);
	pthread_cond_init(&ct->cond, NULL);
	if (pipe2(ct->pipe, O_CLOEXEC) != 0 ||
	    evutil_make_socket_nonblocking(ct->pipe[0]) != 0 ||
	    (ct->ev = event_new(base, ct->pipe[0], EV_READ | EV_PERSIST,
	    on_pipe, ct)) == NULL || event_add(ct->ev, NULL) != 0 ||
	    pthread_create(&ct->thread, NULL, thread_main, ct) != 0) {
		curl_thread_free(ct);
		return DANEGATE_E_NOMEM;
	}
	ct->started = true;
	/* the caller's seccomp filter (TSYNC) may follow at once */
	pthread_mutex_lock(&ct->lock);
	while (!ct->running)
		pthread_cond_wait(&ct->cond, &ct->lock);
	pthread_mutex_unlock(&ct->lock);
	*out = ct;
	return 0;
}

void
curl_thread_set_done(struct curl_thread *ct, curl_ev_done_fn *done,
    void *arg)
{
	ct->done = done;
	ct->arg = arg;
}

int
curl_thread_add(struct curl_thread *ct, CURL *easy)
{
	struct job *j, **pp;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return DANEGATE_E_NOMEM;
	j->easy = easy;
	j->state = JOB_QUEUED;
	pthread_mutex_lock(&ct->lock);
	for (pp = &ct->jobs; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = j;
	pthread_cond_broadcast(&ct->cond);
	pthread_mutex_unlock(&ct->lock);
	return 0;
}

void
curl_thread_remove(struct curl_thread *ct, CURL *easy)
{
	struct job *j;

	pthread_mutex_lock(&ct->lock);
	for (j = ct->jobs; j != NULL; j = j->next)
		if (j->easy == easy && !j->cancelled)
			break;
	if (j != NULL) {
		j->cancelled = true;
		if (j->state == JOB_QUEUED) {
			job_unlink(ct, j);
			free(j);
		} else {
			/* running: aborted by on_progress; finished: its
			 * address is in the pipe, on_pipe frees it */
			while (j->state == JOB_RUNNING)
				pthread_cond_wait(&ct->cond, &ct->lock);
		}
	}
	pthread_mutex_unlock(&ct->lock);
}

void
curl_thread_free(struct curl_thread *ct)
{
	struct job *j;

	if (ct == NULL)
		return;
	if (ct->started) {
		pthread_mutex_lock(&ct->lock);
		ct->stop = true;
		pthread_cond_broadcast(&ct->cond);
		pthread_mutex_unlock(&ct->lock);
		pthread_join(ct->thread, NULL);
	}
	while ((j = ct->jobs) != NULL) {
		ct->jobs = j->next;
		free(j);
	}
	if (ct->ev != NULL)
		event_free(ct->ev);
	if (ct->pipe[0] != -1)
		close(ct->pipe[0]);
	if (ct->pipe[1] != -1)
		close(ct->pipe[1]);
	pthread_cond_destroy(&ct->cond);
	pthread_mutex_destroy(&ct->lock);
	free(ct);
}
