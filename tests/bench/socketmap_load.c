/*
 * socketmap_load.c - load generator for danegate-policy's bench: C
 * connections to a socketmap server (ADDR PORT, TCP), each with one
 * request in flight at a time (as Postfix's smtp processes do), for
 * SECONDS; keys taken in turn from the command line. Prints lookups/s,
 * p50/p99/max latency and the replies by status. SECONDS 0: one
 * connection asks each key once, in order (cold runs).
 * POLICY_BENCH_RAW=FILE also appends each latency in ms, one a line.
 *
 *   socketmap_load ADDR PORT CONNECTIONS SECONDS MAP KEY...
 *
 * SECURITY: a test tool; talks only to the address it is given.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024

struct c {
	int fd;
	char buf[4096];
	size_t len;
	double sent;
	unsigned next_key;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static struct c cs[MAXC];
	static struct pollfd pfd[MAXC];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	static double lat[1 << 20];	/* latencies of the first 1M */
	unsigned long ok = 0, nf = 0, temp = 0, other = 0, n = 0;
	const unsigned long cap = sizeof(lat) / sizeof(lat[0]);
	double t_end, t0;
	int nc, secs, nkeys;
	const char *raw = getenv("POLICY_BENCH_RAW");
	FILE *rf = NULL;

	if (argc < 7) {
		fprintf(stderr, "usage: socketmap_load ADDR PORT CONNECTIONS "
		    "SECONDS MAP KEY...\n");
		return 2;
	}
	inet_pton(AF_INET, argv[1], &sin.sin_addr);
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	nc = atoi(argv[3]);
	secs = atoi(argv[4]);
	nkeys = argc - 6;
	if (nc < 1 || nc > MAXC || secs < 0 || (secs == 0 && nc != 1))
		return 2;
	if (raw != NULL && (rf = fopen(raw, "a")) == NULL) {
		perror(raw);
		return 1;
	}
	for (int i = 0; i < nc; i++) {
		int one = 1;

		cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&sin,
		    sizeof(sin)) != 0) {
			perror("connect");
			return 1;
		}
		setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		cs[i].next_key = (unsigned)i;
		pfd[i].fd = cs[i].fd;
		pfd[i].events = POLLIN;
	}
	t0 = now();
	t_end = t0 + secs;
	for (int i = 0; i < nc; i++) {
		char req[600];
		const char *k = argv[6 + cs[i].next_key++ % (unsigned)nkeys];
		int l = snprintf(req, sizeof(req), "%zu:%s %s,",
		    strlen(argv[5]) + 1 + strlen(k), argv[5], k);

		cs[i].sent = now();
		if (write(cs[i].fd, req, (size_t)l) != l)
			return 1;
	}
	while (secs > 0 ? now() < t_end : n < (unsigned long)nkeys) {
		if (poll(pfd, (nfds_t)nc, 1000) <= 0)
			continue;
		for (int i = 0; i < nc; i++) {
			struct c *c = &cs[i];
			ssize_t r;
			char *colon;
			size_t dlen;

			if (!(pfd[i].revents & POLLIN))
				continue;
			r = read(c->fd, c->buf + c->len,
			    sizeof(c->buf) - c->len - 1);
			if (r <= 0) {
				fprintf(stderr, "connection %d closed\n", i);
				return 1;
			}
			c->len += (size_t)r;
			c->buf[c->len] = '\0';
			if ((colon = memchr(c->buf, ':', c->len)) == NULL)
				continue;
			dlen = strtoul(c->buf, NULL, 10);
			if (c->len < (size_t)(colon - c->buf) + 1 + dlen + 1)
				continue;
			{
				const char *d = colon + 1;
				double t = now();

				if (strncmp(d, "OK ", 3) == 0)
					ok++;
				else if (strncmp(d, "NOTFOUND", 8) == 0)
					nf++;
				else if (strncmp(d, "TEMP", 4) == 0)
					temp++;
				else
					other++;
				if (n < cap)
					lat[n] = t - c->sent;
				if (rf != NULL)
					fprintf(rf, "%.6f\n",
					    (t - c->sent) * 1e3);
				n++;
				c->len = 0;
				if (secs == 0 && n == (unsigned long)nkeys)
					break;
				{
					char req[600];
					const char *k = argv[6 +
					    c->next_key++ % (unsigned)nkeys];
					int l = snprintf(req, sizeof(req),
					    "%zu:%s %s,", strlen(argv[5]) + 1 +
					    strlen(k), argv[5], k);

					c->sent = t;
					if (write(c->fd, req, (size_t)l) != l)
						return 1;
				}
			}
		}
	}
	{
		double el = now() - t0;
		unsigned long m = n < cap ? n : cap;

		qsort(lat, m, sizeof(*lat), cmp);
		printf("lookups %lu in %.2f s: %.0f/s  p50 %.3f ms  p99 %.3f "
		    "ms  max %.3f ms  (OK %lu NOTFOUND %lu TEMP %lu other "
		    "%lu)\n", n, el, (double)n / el,
		    m ? lat[m / 2] * 1e3 : 0, m ? lat[m * 99 / 100] * 1e3 : 0,
		    m ? lat[m - 1] * 1e3 : 0, ok, nf, temp, other);
	}
	if (rf != NULL)
		fclose(rf);
	return 0;
}
