/*
 * danegate-control - talks to the control socket of danegated, or of
 * danegate-relay with --relay, or of danegate-policy with --policy
 * (lib/ctlsock.h is the server side).
 *
 *     danegate-control [-s socket | --relay | --policy] command [argument...]
 *
 * Sends one command line, prints the reply. Exit codes: 0 ok, 1 the daemon
 * answered with an error, 2 usage, 3 cannot connect.
 *
 * SECURITY: a client of a unix socket that only root and danegated's group
 * can open; it sends what the operator typed and prints what comes back.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define DEFAULT_SOCKET RUNSTATEDIR "/danegate/danegated.ctl"
#define POLICY_SOCKET RUNSTATEDIR "/danegate-policy/control"
#define RELAY_SOCKET RUNSTATEDIR "/danegate-relay/control"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: danegate-control [-s socket | --relay | --policy] "
	    "command [argument...]\n"
	    "\n"
	    "danegated's commands:\n"
	    "  status          version, uptime, queries in flight\n"
	    "  stats           all counters, one name=value per line\n"
	    "  reload          re-read the configuration (like SIGHUP)\n"
	    "  flush           empty the front answer cache\n"
	    "  verbosity N     set the log verbosity (0-5)\n"
	    "danegate-relay's commands (--relay):\n"
	    "  status, stats, reload   as above (status: sessions,\n"
	    "                  transactions in flight, draining)\n"
	    "  sts             the MTA-STS cache: mode, id, expiry, errors\n"
	    "  tokens          OAuth2 token states per route (no tokens)\n"
	    "  tlsrpt          TLS-RPT counts, reports owed and sent\n"
	    "danegate-policy's commands (--policy):\n"
	    "  status, stats, reload   as above\n"
	    "  explain [--json] DOMAIN the decision path, as\n"
	    "                  danegate-policy --explain prints it\n"
	    "\n"
	    "  -s socket       control socket (default %s;\n"
	    "                  danegated.conf: remote-control: control-interface:)\n"
	    "  --relay         danegate-relay's socket, %s\n"
	    "                  (danegate-relay.conf: control-interface:)\n"
	    "  --policy        danegate-policy's socket, %s\n"
	    "                  (policy.conf: control-interface:)\n"
	    "  -h, --help      this help\n"
	    "  -V, --version   version\n", DEFAULT_SOCKET, RELAY_SOCKET,
	    POLICY_SOCKET);
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_SOCKET;
	struct sockaddr_un sun;
	const char *hint = "danegated running with control-enable: yes";
	char line[256], buf[4096];
	ssize_t n;
	int fd, ch, rc = 0;
	size_t len = 0;
	bool first = true;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "policy", no_argument, NULL, 'P' },
		{ "relay", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};

	while ((ch = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'R':
			path = RELAY_SOCKET;
			hint = "danegate-relay running with "
			    "control-interface: there";
			break;
		case 'P':
			path = POLICY_SOCKET;
			hint = "danegate-policy running with "
			    "control-interface: there";
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("danegate-control %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* "explain --json DOMAIN": the words after the command are its
	 * argument, joined by one space */
	if (optind >= argc || argc - optind > 3) {
		usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		size_t wl = strlen(argv[i]);

		if (wl == 0 || strpbrk(argv[i], " \r\n") != NULL) {
			fprintf(stderr, "danegate-control: '%s': a word "
			    "without spaces or newlines expected\n", argv[i]);
			return 2;
		}
		if (len + wl + 2 > sizeof(line)) {
			fprintf(stderr, "danegate-control: command too "
			    "long\n");
			return 2;
		}
		if (i > optind)
			line[len++] = ' ';
		memcpy(line + len, argv[i], wl);
		len += wl;
	}
	line[len++] = '\n';

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "danegate-control: socket path too long: %s\n",
		    path);
		return 2;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "danegate-control: cannot connect to %s: %s "
		    "(is %s?)\n", path, strerror(errno), hint);
		return 3;
	}
	if (write(fd, line, len) != (ssize_t)len) {
		fprintf(stderr, "danegate-control: write: %s\n",
		    strerror(errno));
		close(fd);
		return 3;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 7 && memcmp(buf, "error: ", 7) == 0)
			rc = 1;
		first = false;
		fwrite(buf, 1, (size_t)n, rc ? stderr : stdout);
	}
	close(fd);
	return rc;
}
