/*
 * sandbox_probe.c - runs lib/sandbox.c's three steps on itself and reports
 * what the kernel says about the result; driven by test_sandbox_probe.sh.
 *
 *   sandbox_probe [-u USER] [-c CHROOT] [-w WORKDIR] [-b] MODE
 *
 * Steps: open /proc/self/status (so it can still be read inside an empty
 * chroot), optionally (-b) bind a privileged TCP port on 127.0.0.1, then
 * sandbox_drop_privileges(USER, CHROOT, WORKDIR), sandbox_no_new_privs(),
 * sandbox_seccomp_install(SANDBOX_RESOLVER), print the Uid/Gid/Groups/
 * NoNewPrivs/Seccomp/Cap* lines of /proc/self/status, and then:
 *
 *   allowed    exercise calls the resolver needs (UDP to itself, epoll,
 *              getrandom, a trust-anchor style write+rename+unlink in the
 *              working directory, non-executable mmap); exit 0
 *   mount      call mount(2)                    } each must kill the
 *   netlink    socket(AF_NETLINK)               } process with SIGSYS;
 *   mmap-exec  mmap(PROT_READ|PROT_EXEC)        } if it survives (log mode)
 *   ioctl      ioctl(TIOCGWINSZ)                } it prints "survived" and
 *   execve     execve(/bin/true)                } exits 3
 *
 * Exit: 0 ok, 2 a sandbox step failed (reason on stderr), 3 survived a
 * forbidden call, 4 an allowed call failed, 64 usage.
 *
 * SECURITY: a test program; run as root by the test script only.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"

static void
usage(void)
{
	fprintf(stderr, "usage: sandbox_probe [-u user] [-c chroot] "
	    "[-w workdir] [-b] allowed|mount|netlink|mmap-exec|ioctl|execve\n");
	exit(64);
}

/* Binds a TCP socket to the first free port of 1023..600 on 127.0.0.1.
 * Returns the port, 0 if every port was busy, -errno on another error. */
static int
bind_privileged(int *fdp)
{
	struct sockaddr_in sin;
	int fd, port, e;

	for (port = 1023; port >= 600; port--) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1)
			return -errno;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((unsigned short)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			*fdp = fd;
			return port;
		}
		e = errno;
		close(fd);
		if (e != EADDRINUSE)
			return -e;
	}
	return 0;
}

static void
print_status(int fd)
{
	static const char *const keys[] = { "Uid:", "Gid:", "Groups:",
	    "NoNewPrivs:", "Seccomp:", "CapEff:", "CapPrm:", "CapAmb:" };
	char buf[8192], *line, *save = NULL;
	ssize_t n;
	size_t i;

	if (lseek(fd, 0, SEEK_SET) == -1 ||
	    (n = read(fd, buf, sizeof(buf) - 1)) <= 0) {
		printf("probe: cannot read /proc/self/status: %s\n",
		    strerror(errno));
		return;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				printf("%s\n", line);
}

#define CHECK(cond, what) do {						\
	if (!(cond)) {							\
		printf("probe: allowed call failed: %s: %s\n", (what),	\
		    strerror(errno));					\
		fflush(stdout);						\
		exit(4);						\
	}								\
} while (0)

/* What the running resolver does, in miniature. */
static void
exercise_allowed(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct epoll_event ev, out;
	struct timespec ts;
	unsigned char rnd[16];
	char buf[64];
	void *p;
	int u, ep, fd;

	u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(u != -1, "socket(AF_INET, UDP)");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0, "bind");
	CHECK(getsockname(u, (struct sockaddr *)&sin, &len) == 0,
	    "getsockname");
	CHECK(sendto(u, "q", 1, 0, (struct sockaddr *)&sin, len) == 1,
	    "sendto");
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep != -1, "epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev) == 0, "epoll_ctl");
	CHECK(epoll_wait(ep, &out, 1, 1000) == 1, "epoll_wait");
	CHECK(recvfrom(u, buf, sizeof(buf), 0, NULL, NULL) == 1, "recvfrom");
	CHECK(socket(AF_INET6, SOCK_DGRAM, 0) != -1 || errno ==
	    EAFNOSUPPORT, "socket(AF_INET6)");
	CHECK(socket(AF_UNIX, SOCK_DGRAM, 0) != -1, "socket(AF_UNIX)");
	CHECK(getrandom(rnd, sizeof(rnd), 0) == sizeof(rnd), "getrandom");
	CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0, "clock_gettime");

	/* libunbound's RFC 5011 update of the trust anchor file */
	fd = open("probe-root.key.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd != -1, "open(O_CREAT) in the working directory");
	CHECK(write(fd, ". DS\n", 5) == 5, "write");
	CHECK(close(fd) == 0, "close");
	CHECK(rename("probe-root.key.tmp", "probe-root.key") == 0, "rename");
	CHECK(unlink("probe-root.key") == 0, "unlink");

	p = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED, "mmap(PROT_READ|PROT_WRITE)");
	CHECK(mprotect(p, 65536, PROT_READ) == 0, "mprotect(PROT_READ)");
	CHECK(munmap(p, 65536) == 0, "munmap");
	printf("probe: allowed calls ok\n");
}

static void
forbidden(const char *mode)
{
	struct winsize ws;
	char *const argv[] = { (char *)(uintptr_t)"true", NULL };
	long r = 0;

	printf("probe: trying %s\n", mode);
	fflush(stdout);
	errno = 0;
	if (strcmp(mode, "mount") == 0)
		r = mount("none", "/nonexistent", "tmpfs", 0, NULL);
	else if (strcmp(mode, "netlink") == 0)
		r = socket(AF_NETLINK, SOCK_RAW, 0);
	else if (strcmp(mode, "mmap-exec") == 0)
		r = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0;
	else if (strcmp(mode, "ioctl") == 0)
		r = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	else if (strcmp(mode, "execve") == 0)
		r = execve("/bin/true", argv, NULL);
	else
		usage();
	printf("probe: survived %s (returned %ld, %s)\n", mode, r,
	    errno != 0 ? strerror(errno) : "no error");
	fflush(stdout);
	exit(3);
}

int
main(int argc, char **argv)
{
	const char *user = "nobody", *chroot_dir = "", *workdir = "";
	char err[256];
	int c, status_fd, bind_test = 0, port, fd = -1;

	while ((c = getopt(argc, argv, "u:c:w:b")) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'c':
			chroot_dir = optarg;
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'b':
			bind_test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();

	status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (status_fd == -1) {
		perror("probe: /proc/self/status");
		return 2;
	}
	if (bind_test) {
		port = bind_privileged(&fd);
		if (port <= 0) {
			printf("probe: privileged bind before the drop failed: "
			    "%s\n", port == 0 ? "all ports busy" :
			    strerror(-port));
			return 2;
		}
		printf("probe: privileged bind before the drop: port %d\n",
		    port);
	}

	if (sandbox_drop_privileges(user, chroot_dir, workdir, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "probe: drop: %s\n", err);
		return 2;
	}
	if (sandbox_no_new_privs(err, sizeof(err)) == -1) {
		fprintf(stderr, "probe: no_new_privs: %s\n", err);
		return 2;
	}
	if (sandbox_seccomp_install(SANDBOX_RESOLVER, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "probe: seccomp: %s\n", err);
		return 2;
	}
	printf("probe: seccomp mode %s\n", sandbox_seccomp_mode());
	print_status(status_fd);

	if (bind_test) {
		/* The capability that bound the first port must be gone. */
		port = bind_privileged(&fd);
		printf("probe: privileged bind after the drop: %s\n",
		    port == -EACCES ? "refused" : port > 0 ? "ALLOWED" :
		    port == 0 ? "all ports busy" : strerror(-port));
	}

	if (strcmp(argv[optind], "allowed") == 0)
		exercise_allowed();
	else
		forbidden(argv[optind]);
	fflush(stdout);
	return 0;
}
