/*
 * http_metrics.c - see http_metrics.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "http_metrics.h"
#include "log.h"

#define HTTP_HEADERS_MAX	4096
#define HTTP_BODY_MAX		65536	/* the exposition, at most */
#define HTTP_TIMEOUT_S		5

struct http_metrics {
	struct evhttp *http;
	struct http_metrics_ops ops;
	void *arg;
};

static void
http_metrics_on_request(struct evhttp_request *req, void *arg)
{
	struct http_metrics *hm = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct sockaddr *peer = conn ?
	    evhttp_connection_get_addr(conn) : NULL;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *out;
	char *body;
	size_t n;

	if (peer == NULL || !hm->ops.allow(hm->arg, peer)) {
		evhttp_send_error(req, 403, "Forbidden");
		return;
	}
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	if ((body = malloc(HTTP_BODY_MAX)) == NULL ||
	    (out = evbuffer_new()) == NULL) {
		free(body);
		log_warnx("/metrics: out of memory");
		evhttp_send_error(req, HTTP_SERVUNAVAIL, "out of memory");
		return;
	}
	body[0] = '\0';
	n = hm->ops.render(hm->arg, body, HTTP_BODY_MAX);
	if (n >= HTTP_BODY_MAX)
		n = HTTP_BODY_MAX - 1;
	if (evbuffer_add(out, body, n) != 0 || evhttp_add_header(
	    evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4") != 0) {
		log_warnx("/metrics: out of memory");
		evhttp_send_error(req, HTTP_SERVUNAVAIL, "out of memory");
	} else {
		evhttp_send_reply(req, HTTP_OK, "OK", out);
	}
	evbuffer_free(out);
	free(body);
}

struct http_metrics *
http_metrics_new(struct event_base *base, int fd,
    const struct http_metrics_ops *ops, void *arg)
{
	struct http_metrics *hm = calloc(1, sizeof(*hm));

	if (hm == NULL) {
		log_warn("/metrics listener");
		return NULL;
	}
	hm->ops = *ops;
	hm->arg = arg;
	if ((hm->http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket(hm->http, fd) != 0) {
		log_warnx("/metrics: cannot serve HTTP");
		if (hm->http != NULL)
			evhttp_free(hm->http);
		free(hm);
		return NULL;
	}
	evhttp_set_allowed_methods(hm->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(hm->http, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(hm->http, 0);
	evhttp_set_timeout(hm->http, HTTP_TIMEOUT_S);
	evhttp_set_gencb(hm->http, http_metrics_on_request, hm);
	return hm;
}

void
http_metrics_free(struct http_metrics *hm)
{
	if (hm == NULL)
		return;
	evhttp_free(hm->http);		/* closes its listening socket */
	free(hm);
}

int
http_metrics_listen(const struct sockaddr_storage *ss, unsigned len)
{
	int fd, one = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)ss, (socklen_t)len) != 0 ||
	    listen(fd, 16) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
