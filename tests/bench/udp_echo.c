/*
 * udp_echo — the I/O floor for tests/bench/resolver-bench.sh.
 *
 *   udp_echo ADDR PORT [BATCH]
 *
 * A single-threaded UDP server that answers every datagram by sending it
 * back with the DNS QR bit set (so dnsperf counts it as a response, rcode
 * taken from the query: NOERROR). It does no DNS work at all: whatever a
 * resolver costs above this is the resolver's own.
 *
 * It reads up to BATCH datagrams per recvmmsg() (default 32; 1 makes it a
 * plain one-datagram-per-system-call loop) and answers them with one
 * sendmmsg(). Runs until SIGTERM/SIGINT. IPv4 or IPv6 literal addresses.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BATCH 256
#define BUF_SIZE 4096		/* enough for any query dnsperf sends */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	static unsigned char bufs[MAX_BATCH][BUF_SIZE];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iovs[MAX_BATCH];
	static struct sockaddr_storage peers[MAX_BATCH];
	struct addrinfo hints, *ai;
	struct sigaction sa;
	unsigned long batch = 32;
	int fd, rc, one = 1, rcvbuf = 4 << 20;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: udp_echo ADDR PORT [BATCH]\n");
		return 2;
	}
	if (argc == 4) {
		char *end;

		batch = strtoul(argv[3], &end, 10);
		if (*end != '\0' || batch < 1 || batch > MAX_BATCH) {
			fprintf(stderr, "udp_echo: BATCH must be 1..%d\n",
			    MAX_BATCH);
			return 2;
		}
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(argv[1], argv[2], &hints, &ai)) != 0) {
		fprintf(stderr, "udp_echo: %s %s: %s\n", argv[1], argv[2],
		    gai_strerror(rc));
		return 1;
	}
	if ((fd = socket(ai->ai_family, SOCK_DGRAM, 0)) < 0) {
		perror("udp_echo: socket");
		return 1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		fprintf(stderr, "udp_echo: bind %s@%s: %s\n", argv[1],
		    argv[2], strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);

	/* no SA_RESTART: a signal interrupts the blocking recvmmsg() */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fprintf(stderr, "udp_echo: serving %s@%s, batch %lu\n", argv[1],
	    argv[2], batch);

	while (!stop) {
		int n, i, sent;

		for (i = 0; i < (int)batch; i++) {
			iovs[i].iov_base = bufs[i];
			iovs[i].iov_len = BUF_SIZE;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iovs[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &peers[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		}
		/* block for the first datagram, then take what is queued */
		n = recvmmsg(fd, msgs, (unsigned)batch, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("udp_echo: recvmmsg");
			return 1;
		}
		for (i = 0; i < n; i++) {
			iovs[i].iov_len = msgs[i].msg_len;
			if (msgs[i].msg_len >= 3)
				bufs[i][2] |= 0x80;	/* QR = 1 */
		}
		for (sent = 0; sent < n;) {
			rc = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
			if (rc < 0) {
				if (errno == EINTR)
					continue;
				/* drop the rest of the batch, like a busy
				 * server would; dnsperf counts it lost */
				break;
			}
			sent += rc;
		}
	}
	close(fd);
	return 0;
}
