/*
 * test_ctlsock.c - unit tests for lib/ctlsock.c, the control socket of
 * every danegate daemon: the line dispatcher (unknown commands, argument
 * mistakes, exact replies), the bounded reply writer, then one real
 * socket served on a libevent loop.
 *
 * SECURITY: test program; binds a unix socket in a fresh temporary
 * directory.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctlsock.h"

static int calls;
static char said[] = "said";
static char last_arg[64];

static void
cmd_ping(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	(void)arg;
	calls++;
	ck_assert_ptr_null(cmdarg);
	ctlsock_printf(out, "pong\n");
}

static void
cmd_echo(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	calls++;
	snprintf(last_arg, sizeof(last_arg), "%s", cmdarg);
	ctlsock_printf(out, "%s %s\n", (const char *)arg, cmdarg);
}

/* A command that blocks the loop longer than a client's 5 s timeout, as
 * danegate-policy's explain may. */
static void
cmd_slow(void *arg, const char *cmdarg, struct ctlsock_out *out)
{
	(void)arg;
	(void)cmdarg;
	sleep(6);
	ctlsock_printf(out, "done\n");
}

static const struct ctlsock_cmd tab[] = {
	{ "ping", NULL, cmd_ping },
	{ "echo", "WORD", cmd_echo },
	{ NULL, NULL, NULL },
};

static const struct ctlsock_cmd slow_tab[] = {
	{ "slow", NULL, cmd_slow },
	{ NULL, NULL, NULL },
};

/* Runs line through the table; returns the reply (static). */
static const char *
run(const char *line, int want_rc)
{
	static char buf[512];
	struct ctlsock_out out = { buf, sizeof(buf), 0 };

	buf[0] = '\0';
	ck_assert_int_eq(ctlsock_dispatch(tab, said, line, &out), want_rc);
	ck_assert_uint_eq(out.len, strlen(buf));
	return buf;
}

/* --- refused lines ------------------------------------------------------- */

START_TEST(test_refused)
{
	calls = 0;
	ck_assert_str_eq(run("", -1),
	    "error: unknown command '' (try: ping, echo WORD)\n");
	ck_assert_str_eq(run("pin", -1),
	    "error: unknown command 'pin' (try: ping, echo WORD)\n");
	ck_assert_str_eq(run("pingpong", -1),
	    "error: unknown command 'pingpong' (try: ping, echo WORD)\n");
	ck_assert_str_eq(run("PING", -1),
	    "error: unknown command 'PING' (try: ping, echo WORD)\n");
	/* the client's text is echoed bounded */
	ck_assert_str_eq(run("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    -1), "error: unknown command "
	    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' (try: ping, echo WORD)\n");
	ck_assert_str_eq(run("ping now", -1),
	    "error: ping takes no argument\n");
	ck_assert_str_eq(run("echo", -1), "error: usage: echo WORD\n");
	ck_assert_str_eq(run("echo ", -1), "error: usage: echo WORD\n");
	ck_assert_int_eq(calls, 0);
}
END_TEST

/* --- commands ------------------------------------------------------------ */

START_TEST(test_dispatch)
{
	calls = 0;
	ck_assert_str_eq(run("ping", 0), "pong\n");
	ck_assert_str_eq(run("echo hello", 0), "said hello\n");
	/* the argument is the rest of the line, spaces included */
	ck_assert_str_eq(run("echo --json a.example", 0),
	    "said --json a.example\n");
	ck_assert_str_eq(last_arg, "--json a.example");
	ck_assert_int_eq(calls, 3);
}
END_TEST

START_TEST(test_out_bounded)
{
	char buf[8];
	struct ctlsock_out out = { buf, sizeof(buf), 0 };

	ctlsock_printf(&out, "%s", "abcd");
	ctlsock_printf(&out, "%s", "efghij");
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_uint_eq(out.len, 7);
	ctlsock_printf(&out, "more");
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_uint_eq(out.len, 7);
}
END_TEST

/* --- one real socket ----------------------------------------------------- */

/* Sends req on a new connection to path and returns the whole reply
 * (static), running base until the server closes. */
static const char *
ask(struct event_base *base, const char *path, const char *req)
{
	static char reply[1024];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = 0;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < 2000; i++) {
		ssize_t n;

		event_base_loop(base, EVLOOP_NONBLOCK);
		n = read(fd, reply + len, sizeof(reply) - 1 - len);
		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else {
			ck_assert_int_eq(errno, EAGAIN);
			(void)poll(NULL, 0, 1);
		}
	}
	close(fd);
	reply[len] = '\0';
	return reply;
}

START_TEST(test_socket)
{
	char dir[] = "/tmp/test_ctlsock.XXXXXX", path[128];
	struct event_base *base = event_base_new();
	struct ctlsock *cs;
	struct stat st;
	char longreq[CTLSOCK_LINE_MAX + 20];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl", dir);
	cs = ctlsock_new(base, "test", path, 0600, 0, 0, tab, said);
	ck_assert_ptr_nonnull(cs);
	ck_assert_str_eq(ctlsock_path(cs), path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_str_eq(ask(base, path, "ping\n"), "pong\n");
	ck_assert_str_eq(ask(base, path, "echo hi\r\n"), "said hi\n");
	ck_assert_str_eq(ask(base, path, "nope\n"),
	    "error: unknown command 'nope' (try: ping, echo WORD)\n");
	memset(longreq, 'a', sizeof(longreq) - 2);
	longreq[sizeof(longreq) - 2] = '\n';
	longreq[sizeof(longreq) - 1] = '\0';
	ck_assert_str_eq(ask(base, path, longreq), "error: line too long\n");
	ctlsock_free(cs);
	/* a command slower than the client timeout still gets its reply */
	cs = ctlsock_new(base, "test", path, 0600, 0, 0, slow_tab, NULL);
	ck_assert_ptr_nonnull(cs);
	ck_assert_str_eq(ask(base, path, "slow\n"), "done\n");
	ctlsock_free(cs);
	event_base_free(base);
	unlink(path);
	rmdir(dir);
	/* a path that does not fit a sockaddr_un is refused */
	memset(longreq, 'p', sizeof(longreq) - 1);
	longreq[0] = '/';
	longreq[sizeof(longreq) - 1] = '\0';
	base = event_base_new();
	ck_assert_ptr_null(ctlsock_new(base, "test", longreq, 0600, 0, 0, tab,
	    NULL));
	event_base_free(base);
}
END_TEST

static Suite *
ctlsock_suite(void)
{
	Suite *s = suite_create("ctlsock");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_dispatch);
	tcase_add_test(tc, test_out_bounded);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_socket);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ctlsock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
