/*
 * test_relay_front.c - unit tests for plugin/relay/front.c, the relay's
 * SMTP/LMTP server sessions, driven over a socketpair against the
 * in-memory outbound stand-in (relay_stub.c): refusals first (access list,
 * sequence errors, a second domain in SMTP, bare LF and SMTP smuggling,
 * LHLO/EHLO mix-ups), then the good paths (EHLO, pipelining, mirrored
 * replies, the Received: line, LMTP fan-out with per-recipient replies,
 * back-pressure, a client gone after the remote accepted).
 *
 * SECURITY: test program; a socketpair, no network.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "front.h"
#include "log.h"
#include "outbound.h"
#include "clients.h"
#include "relay_conf.h"
#include "relay_stub.h"

static struct event_base *base;
static struct outbound_env *oenv;
static struct relay_conf *conf;
static struct front *front;
static int cfd = -1;
static char got[1 << 16];
static size_t got_len;

static void
setup(void)
{
	struct relay_conf_overrides ov = { .listen = "127.0.0.1@1" };
	struct outbound_env_options eo = { 0 };

	log_init("test_relay_front", 0);
	stub_reset();
	ck_assert_ptr_nonnull(base = event_base_new());
	eo.base = base;
	ck_assert_int_eq(outbound_env_new(&eo, &oenv), 0);
	ck_assert_int_eq(relay_conf_load(NULL, &ov, &conf), 0);
	free(conf->hostname);
	conf->hostname = strdup("relay.test");
	conf->message_size_limit = 1u << 20;
	ck_assert_int_eq(front_new(base, oenv, conf, &front), 0);
}

static void
teardown(void)
{
	if (cfd >= 0)
		close(cfd);
	cfd = -1;
	front_free(front);
	relay_conf_free(conf);
	outbound_env_free(oenv);
	event_base_free(base);
	stub_reset();
}

/* Opens a session as if from addr (IPv4), SMTP or LMTP. */
static void
connect_as(const char *addr, bool lmtp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	ck_assert_int_eq(front_session_add(front, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin), lmtp), 0);
	cfd = sv[1];
	got_len = 0;
}

/* Count of complete final reply lines ("NNN " or "NNN\r\n") in got. */
static unsigned
replies(void)
{
	unsigned n = 0;
	size_t start = 0;

	for (size_t i = 0; i < got_len; i++) {
		if (got[i] != '\n')
			continue;
		if (i - start >= 3 && (i - start == 4 || got[start + 3] == ' '))
			n++;
		start = i + 1;
	}
	return n;
}

/* Runs the loop until n replies arrived (in total since the last
 * connect) or 5 s passed. */
static void
wait_replies(unsigned n)
{
	time_t end = time(NULL) + 5;

	while (replies() < n && time(NULL) < end) {
		ssize_t r;

		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		r = recv(cfd, got + got_len, sizeof(got) - 1 - got_len,
		    MSG_DONTWAIT);
		if (r > 0) {
			got_len += (size_t)r;
			got[got_len] = '\0';
		} else
			usleep(500);
	}
	got[got_len] = '\0';
}

static void
say(const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t w = send(cfd, s + off, len - off, MSG_DONTWAIT);

		if (w > 0)
			off += (size_t)w;
		else {
			ck_assert(errno == EAGAIN);
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
			/* keep reading replies so the front keeps reading */
			w = recv(cfd, got + got_len, sizeof(got) - 1 - got_len,
			    MSG_DONTWAIT);
			if (w > 0)
				got_len += (size_t)w;
		}
	}
}

/* Says s, waits until the total reaches n replies; returns all text. */
static const char *
chat(const char *s, unsigned n)
{
	say(s);
	wait_replies(n);
	return got;
}

static void
run_for_ms(unsigned ms)
{
	struct timespec ts = { 0, 1000000 };

	for (unsigned i = 0; i < ms; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		nanosleep(&ts, NULL);
	}
}

#define HAS(needle) ck_assert_msg(strstr(got, needle) != NULL, \
	"missing \"%s\" in:\n%s", needle, got)
#define HASNT(needle) ck_assert_msg(strstr(got, needle) == NULL, \
	"unexpected \"%s\" in:\n%s", needle, got)

START_TEST(refuse_acl)
{
	connect_as("192.0.2.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\n", 5);
	HAS("550 5.7.1 Client host [192.0.2.1] is not allowed to relay");
	HAS("\r\n503 5.5.1 Need MAIL command\r\n");
	ck_assert_uint_eq(stub_n_msgs, 0);
}
END_TEST

START_TEST(refuse_sequence)
{
	connect_as("127.0.0.1", false);
	chat("MAIL FROM:<a@b.test>\r\nLHLO x\r\nEHLO c.test\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\nMAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\n"
	    "DATA\r\nFOO\r\n", 10);
	HAS("503 5.5.1 Send HELO/EHLO first");
	HAS("500 5.5.1 LHLO is for LMTP");
	HAS("503 5.5.1 Need MAIL command\r\n503 5.5.1 Need MAIL command");
	HAS("250 2.1.0 Ok\r\n503 5.5.1 Nested MAIL command");
	HAS("554 5.5.1 No valid recipients");
	HAS("500 5.5.2 Command unrecognized");
}
END_TEST

START_TEST(refuse_second_domain)
{
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "RCPT TO:<y@other.example>\r\nRCPT TO:<z@OK.example>\r\n", 6);
	HAS("250 2.1.5 Ok\r\n452 4.5.3 Too many recipient domains");
	ck_assert_uint_eq(stub_n_msgs, 1);
	ck_assert_uint_eq(stub_msgs[0].rcpts, 2);
}
END_TEST

START_TEST(refuse_bare_lf)
{
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\nNOOP\r\n", 3);
	HAS("500 5.5.2 Bare <LF> received\r\n250 2.0.0 Ok");
}
END_TEST

START_TEST(refuse_smuggling)
{
	connect_as("127.0.0.1", false);
	/* "<LF>.<LF>" and "<CR>.<CR>" must neither end the data here nor
	 * reach the remote, where they might */
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\n", 5);
	chat("Subject: hi\r\n\r\nbody\n.\nMAIL FROM:<evil@b.test>\r\n"
	    "RCPT TO:<v@ok.example>\r\nDATA\r\nsmuggled\r\n.\r\n", 6);
	HAS("550 5.5.2 Message refused: bare <CR> or <LF>");
	HASNT("354 End data with <CR><LF>.<CR><LF>\r\n354");
	ck_assert_uint_eq(stub_n_msgs, 1);
	ck_assert(!stub_msgs[0].ended);
	ck_assert(stub_msgs[0].freed);
	ck_assert(stub_msgs[0].data == NULL ||
	    strstr(stub_msgs[0].data, "body\n") == NULL);
}
END_TEST

START_TEST(refuse_lmtp_ehlo)
{
	connect_as("127.0.0.1", true);
	chat("EHLO c.test\r\nHELO c.test\r\n", 3);
	HAS("220 relay.test LMTP");
	HAS("500 5.5.1 Send LHLO (this is LMTP)\r\n500 5.5.1 Send LHLO");
}
END_TEST

/* With a client file, SMTP needs AUTH, and AUTH needs TLS (RFC 4954 §4):
 * without STARTTLS neither is possible; LMTP is not affected. */
START_TEST(refuse_auth_plaintext)
{
	static const char file[] = "scanner:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6"
	    "gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
	    ":office@school.example\n";

	ck_assert_int_eq(clients_parse("t", file, strlen(file),
	    &conf->clients), 0);
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\n", 2);
	HASNT("AUTH");
	/* "\0scanner\0secret" */
	chat("AUTH PLAIN AHNjYW5uZXIAc2VjcmV0\r\n", 3);
	HAS("538 5.7.11 Encryption required");
	chat("AUTH LOGIN\r\n", 4);
	HAS("538 5.7.11 Encryption required for requested authentication "
	    "mechanism\r\n538 5.7.11");
	chat("MAIL FROM:<office@school.example>\r\n", 5);
	HAS("530 5.7.0 Authentication required");
	close(cfd);
	cfd = -1;
	connect_as("127.0.0.1", true);
	chat("LHLO c.test\r\nAUTH PLAIN AHNjYW5uZXIAc2VjcmV0\r\n"
	    "MAIL FROM:<a@b.example>\r\n", 4);
	HAS("502 5.5.1 AUTH not offered");
	HAS("250 2.1.0 Ok");
}
END_TEST

START_TEST(good_ehlo)
{
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\n", 2);
	HAS("220 relay.test ESMTP danegate-relay\r\n");
	HAS("250-relay.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n"
	    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n"
	    "250-LIMITS RCPTDOMAINMAX=1\r\n250 ENHANCEDSTATUSCODES\r\n");
	HASNT("STARTTLS");	/* no certificate configured */
	chat("STARTTLS\r\n", 3);
	HAS("502 5.5.1 STARTTLS not offered");
}
END_TEST

START_TEST(good_transaction)
{
	connect_as("127.0.0.1", false);
	/* everything pipelined in one write */
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test> BODY=8BITMIME\r\n"
	    "RCPT TO:<x@ok.example> NOTIFY=FAILURE\r\nDATA\r\n"
	    "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n", 7);
	HAS("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 ");
	HAS("250 2.0.0 Ok: queued as STUB");
	HAS("221 2.0.0 Bye");
	ck_assert_uint_eq(stub_n_msgs, 1);
	ck_assert(stub_msgs[0].ended);
	ck_assert_ptr_nonnull(stub_msgs[0].data);
	{
		static const char rec[] = "Received: from c.test "
		    "([127.0.0.1])\r\n\tby relay.test (danegate-relay) with "
		    "ESMTP id ";

		ck_assert_msg(strncmp(stub_msgs[0].data, rec, sizeof(rec) - 1)
		    == 0, "%s", stub_msgs[0].data);
	}
	ck_assert(strstr(stub_msgs[0].data, "\tfor <x@ok.example>; ") != NULL);
	/* dot-stuffed as received, the final ".\r\n" not passed on */
	ck_assert(strstr(stub_msgs[0].data,
	    "\r\nSubject: hi\r\n\r\n..leading dot\r\nbody\r\n") != NULL);
	ck_assert(strstr(stub_msgs[0].data, "body\r\n.") == NULL);
}
END_TEST

START_TEST(good_mirror)
{
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@defer.example>\r\n"
	    "RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@reject.example>\r\n"
	    "RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@final5.example>\r\n"
	    "DATA\r\nhi\r\n.\r\n", 12);
	HAS("451 4.7.5 dane-required: mx1.defer.example[192.0.2.1]: "
	    "STARTTLS not offered");
	HAS("550 5.1.1 no such user");
	HAS("554 5.7.1 rejected");
}
END_TEST

/* RFC 8689: a destination whose TLS policy fails gets its message only if
 * the header says TLS-Required: No; otherwise the policy's 4xx answers
 * the data. */
START_TEST(good_tls_required_no)
{
	struct front_stats st;

	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<x@policy.example>\r\nDATA\r\n"
	    "From: <a@b.test>\r\ntls-required:  NO\r\n\r\nbody\r\n.\r\n", 6);
	HAS("250 2.1.5 Ok (delivered only if the header says TLS-Required: "
	    "No, RFC 8689)");
	HAS("354 ");
	HAS("250 2.0.0 Ok: queued as STUB");
	/* the first open failed, the second asked for RFC 8689 */
	ck_assert_uint_eq(stub_n_msgs, 2);
	ck_assert(!stub_msgs[0].tls_required_no && !stub_msgs[0].ended);
	ck_assert(stub_msgs[1].tls_required_no && stub_msgs[1].ended);
	ck_assert_uint_eq(stub_msgs[1].rcpts, 1);
	ck_assert_ptr_nonnull(strstr(stub_msgs[1].data, "Received: from "));
	ck_assert_ptr_nonnull(strstr(stub_msgs[1].data,
	    "\r\ntls-required:  NO\r\n\r\nbody\r\n"));
	front_stats_get(front, &st);
	ck_assert_uint_eq(st.tls_required_no, 1);

	/* the same message without the field: the policy's 4xx */
	got_len = 0;
	stub_reset();
	chat("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@policy.example>\r\n"
	    "DATA\r\nFrom: <a@b.test>\r\nX-TLS-Required: No\r\n\r\n"
	    "TLS-Required: No\r\n.\r\n", 4);
	HAS("\r\n451 4.7.5 dane-required: mx1.policy.example[192.0.2.2]: "
	    "STARTTLS not offered\r\n");
	HASNT("queued as");
	ck_assert_uint_eq(stub_n_msgs, 1);
	ck_assert(!stub_msgs[0].ended);
}
END_TEST

/* LMTP: the held destination and a good one in one transaction, the
 * header field after a big first part of the header (the hold buffer),
 * and a recipient the remote refuses once the destination is opened. */
START_TEST(good_tls_required_no_lmtp)
{
	static char big[40000];
	size_t n = 0;

	while (n + 80 < sizeof(big) - 200) {
		memcpy(big + n, "X-Filler: ", 10);
		memset(big + n + 10, 'f', 68);
		memcpy(big + n + 78, "\r\n", 2);
		n += 80;
	}
	strcpy(big + n, "TLS-Required: No\r\n\r\nbody\r\n.\r\n");
	connect_as("127.0.0.1", true);
	chat("LHLO c.test\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<x@policy.example>\r\nRCPT TO:<y@ok.example>\r\n"
	    "RCPT TO:<z@policy.example>\r\nDATA\r\n", 6);
	chat(big, 9);
	ck_assert_uint_eq(stub_n_msgs, 3);
	ck_assert(stub_msgs[1].ended && stub_msgs[2].ended);
	ck_assert(stub_msgs[2].tls_required_no);
	ck_assert_uint_eq(stub_msgs[2].rcpts, 2);
	/* every byte reached both */
	ck_assert_uint_eq(stub_msgs[1].len, stub_msgs[2].len);
	ck_assert_int_eq(memcmp(stub_msgs[1].data, stub_msgs[2].data,
	    stub_msgs[1].len), 0);
	ck_assert_ptr_nonnull(strstr(stub_msgs[2].data, "\r\nbody\r\n"));
}
END_TEST

START_TEST(good_lmtp_fanout)
{
	connect_as("127.0.0.1", true);
	chat("LHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "RCPT TO:<y@final5.example>\r\nRCPT TO:<z@reject.example>\r\n"
	    "RCPT TO:<w@ok.example>\r\nDATA\r\nhi\r\n.\r\n", 11);
	HASNT("LIMITS");
	HAS("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n"
	    "250 2.1.5 Ok\r\n354 ");
	/* one reply per accepted recipient, in RCPT order */
	ck_assert_msg(strstr(got, "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as STUB") != NULL, "%s", got);
	HAS("\r\n554 5.7.1 rejected\r\n250 2.0.0 Ok: queued as STUB");
	ck_assert_uint_eq(stub_n_msgs, 3);
	ck_assert(stub_msgs[0].ended && stub_msgs[1].ended);
	ck_assert_uint_eq(stub_msgs[0].rcpts, 2);
}
END_TEST

START_TEST(good_backpressure)
{
	static char big[300000];
	size_t n = 0;

	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@full.example>\r\n"
	    "DATA\r\n", 5);
	while (n + 80 < sizeof(big) - 10) {
		memset(big + n, 'x', 78);
		big[n + 78] = '\r';
		big[n + 79] = '\n';
		n += 80;
	}
	memcpy(big + n, ".\r\n", 4);
	chat(big, 6);
	HAS("250 2.0.0 Ok: queued as STUB");
	ck_assert(stub_msgs[0].ended);
	ck_assert(strstr(stub_msgs[0].data, "\r\n") != NULL);
	/* everything but the final ".\r\n", after the Received: line */
	ck_assert_uint_eq(strlen(strstr(stub_msgs[0].data, "xxx")), n);
}
END_TEST

START_TEST(good_client_gone)
{
	struct front_stats st;

	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@slow.example>\r\n"
	    "DATA\r\n", 5);
	say("hi\r\n.\r\n");
	run_for_ms(20);
	close(cfd);
	cfd = -1;
	run_for_ms(500);
	front_stats_get(front, &st);
	ck_assert(stub_msgs[0].ended);
	ck_assert_uint_eq(st.possible_duplicates, 1);
	ck_assert_uint_eq(st.active, 0);
}
END_TEST

START_TEST(good_client_gone_mid_data)
{
	struct front_stats st;

	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\n", 5);
	say("half a message\r\n");
	run_for_ms(20);
	close(cfd);
	cfd = -1;
	run_for_ms(50);
	front_stats_get(front, &st);
	ck_assert(!stub_msgs[0].ended);
	ck_assert(stub_msgs[0].freed);
	ck_assert_uint_eq(st.active, 0);
	ck_assert_uint_eq(st.aborted, 1);
}
END_TEST

/* The client stops sending in the middle of the data: at the command
 * timeout the transaction is dropped without a dot and the client told. */
START_TEST(good_timeout_mid_data)
{
	struct front_stats st;

	conf->command_timeout = 1;
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\n", 5);
	say("Subject: half\r\n\r\nhalf a message\r\n");
	wait_replies(6);
	HAS("421 4.4.2");
	front_stats_get(front, &st);
	ck_assert(!stub_msgs[0].ended);
	ck_assert(stub_msgs[0].freed);
	ck_assert_uint_eq(st.active, 0);
	ck_assert_uint_eq(st.aborted, 1);
	ck_assert_uint_eq(st.delivered, 0);
}
END_TEST

/* The client closes in the middle of a message bigger than the input
 * buffer, while the outbound side pushes back: the session must notice
 * at once (the e2e test's bug: it stayed until the drain deadline). */
START_TEST(good_client_gone_mid_data_full)
{
	static char big[100 * 1000 + 1];
	struct front_stats st;

	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@full.example>\r\n"
	    "DATA\r\n", 5);
	for (size_t i = 0; i + 1000 <= sizeof(big) - 1; i += 1000) {
		memset(big + i, 'x', 998);
		memcpy(big + i + 998, "\r\n", 2);
	}
	say(big);
	close(cfd);
	cfd = -1;
	run_for_ms(300);
	front_stats_get(front, &st);
	ck_assert(!stub_msgs[0].ended);
	ck_assert(stub_msgs[0].freed);
	ck_assert_uint_eq(st.active, 0);
}
END_TEST

static void
drained(void *arg)
{
	*(bool *)arg = true;
}

START_TEST(good_drain_deadline)
{
	struct front_stats st;
	bool done = false;

	/* the deadline at once: the transaction in flight gets 421 and its
	 * remote never sees a dot */
	conf->drain_timeout = 0;
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\nhalf a message\r\n", 5);
	front_drain(front, drained, &done);
	wait_replies(6);
	HAS("\r\n421 4.3.2 relay.test Service shutting down\r\n");
	ck_assert(done);
	ck_assert(!stub_msgs[0].ended);
	ck_assert(stub_msgs[0].freed);
	front_stats_get(front, &st);
	ck_assert_uint_eq(st.active, 0);
}
END_TEST

START_TEST(good_drain_idle)
{
	bool done = false;

	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\n", 2);
	front_drain(front, drained, &done);
	wait_replies(3);
	HAS("421 4.3.2 relay.test Service shutting down");
	run_for_ms(5);
	ck_assert(done);
}
END_TEST

START_TEST(refuse_idle_timeout)
{
	conf->command_timeout = 1;
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\n", 2);
	wait_replies(3);
	HAS("421 4.4.2 relay.test Error: timeout exceeded");
}
END_TEST

START_TEST(refuse_max_sessions)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char buf[200];
	ssize_t n;
	int sv[2];

	conf->max_sessions = 1;
	connect_as("127.0.0.1", false);
	wait_replies(1);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_ne(front_session_add(front, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin), false), 0);
	n = recv(sv[1], buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "421 4.3.2 Too many sessions, try again "
	    "later\r\n");
	/* and the front closed its end */
	ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), 0), 0);
	close(sv[1]);
}
END_TEST

START_TEST(refuse_size)
{
	static char big[4000];

	conf->message_size_limit = 1000;
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test> SIZE=1001\r\n"
	    "MAIL FROM:<a@b.test> SIZE=1000\r\nRCPT TO:<x@ok.example>\r\n"
	    "DATA\r\n", 6);
	HAS("250-SIZE 1000\r\n");
	HAS("552 5.3.4 Message size exceeds fixed maximum message size\r\n"
	    "250 2.1.0 Ok");
	memset(big, 'x', sizeof(big) - 6);
	memcpy(big + sizeof(big) - 6, "\r\n.\r\n", 6);
	big[sizeof(big) - 1] = '\0';
	chat(big, 7);
	HAS("\r\n552 5.3.4 Message size exceeds");
	ck_assert(!stub_msgs[0].ended);
}
END_TEST

START_TEST(good_size_unlimited)
{
	/* message-size-limit: 0 is RFC 1870's "SIZE 0": no fixed maximum */
	conf->message_size_limit = 0;
	connect_as("127.0.0.1", false);
	chat("EHLO c.test\r\nMAIL FROM:<a@b.test> SIZE=99999999\r\n"
	    "RCPT TO:<x@ok.example>\r\nDATA\r\nhello\r\n.\r\n", 6);
	HAS("250-SIZE 0\r\n");
	HAS("250 2.0.0 Ok: queued as STUB");
	ck_assert(stub_msgs[0].ended);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("relay_front");
	TCase *invalid = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_checked_fixture(invalid, setup, teardown);
	tcase_add_checked_fixture(good, setup, teardown);
	tcase_add_test(invalid, refuse_acl);
	tcase_add_test(invalid, refuse_sequence);
	tcase_add_test(invalid, refuse_second_domain);
	tcase_add_test(invalid, refuse_bare_lf);
	tcase_add_test(invalid, refuse_smuggling);
	tcase_add_test(invalid, refuse_lmtp_ehlo);
	tcase_add_test(invalid, refuse_idle_timeout);
	tcase_add_test(invalid, refuse_max_sessions);
	tcase_add_test(invalid, refuse_size);
	tcase_add_test(invalid, refuse_auth_plaintext);
	tcase_add_test(good, good_ehlo);
	tcase_add_test(good, good_transaction);
	tcase_add_test(good, good_mirror);
	tcase_add_test(good, good_lmtp_fanout);
	tcase_add_test(good, good_tls_required_no);
	tcase_add_test(good, good_tls_required_no_lmtp);
	tcase_add_test(good, good_backpressure);
	tcase_add_test(good, good_client_gone);
	tcase_add_test(good, good_client_gone_mid_data);
	tcase_add_test(good, good_client_gone_mid_data_full);
	tcase_add_test(good, good_timeout_mid_data);
	tcase_add_test(good, good_drain_deadline);
	tcase_add_test(good, good_drain_idle);
	tcase_add_test(good, good_size_unlimited);
	suite_add_tcase(s, invalid);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
