/*
 * test_conf.c - unit tests for daemon/conf.c, the meaning of
 * danegated.conf.
 *
 * conf.c reports errors through log_err(); the tests catch stderr in a
 * temporary file and compare the messages, without the "prog[pid]: error: "
 * prefix, exactly. Invalid configurations first, then good ones.
 *
 * SECURITY: test program; writes only temporary files.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

/* --- catching log output ------------------------------------------------- */

static char logged[16384];
static int saved_stderr = -1;
static FILE *capture;

static void
capture_start(void)
{
	fflush(stderr);
	ck_assert_ptr_nonnull(capture = tmpfile());
	ck_assert_int_ne(saved_stderr = dup(STDERR_FILENO), -1);
	ck_assert_int_ne(dup2(fileno(capture), STDERR_FILENO), -1);
}

/* Leaves the messages logged since capture_start() in logged[], one per
 * line, each without its "prog[pid]: level: " prefix. */
static void
capture_stop(void)
{
	char line[4096];
	size_t off = 0;
	const char *msg;

	fflush(stderr);
	ck_assert_int_ne(dup2(saved_stderr, STDERR_FILENO), -1);
	close(saved_stderr);
	rewind(capture);
	logged[0] = '\0';
	while (fgets(line, sizeof(line), capture) != NULL) {
		msg = strstr(line, ": error: ");
		msg = msg != NULL ? msg + 9 : line;
		off += (size_t)snprintf(logged + off, sizeof(logged) - off,
		    "%s", msg);
		ck_assert_uint_lt(off, sizeof(logged));
	}
	fclose(capture);
	/* no trailing newline: compare with a plain string */
	if (off > 0 && logged[off - 1] == '\n')
		logged[off - 1] = '\0';
}

static int
parse(const char *text, struct conf **conf)
{
	int n;

	capture_start();
	n = conf_parse("t.conf", text, strlen(text), conf);
	capture_stop();
	return n;
}

/* Asserts that text has exactly the errors in msgs ("\n"-separated). */
static void
expect_errors(const char *text, int count, const char *msgs)
{
	struct conf *conf = (struct conf *)1;

	ck_assert_int_eq(parse(text, &conf), count);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(logged, msgs);
}

static struct conf *
parse_ok(const char *text)
{
	struct conf *conf = NULL;

	ck_assert_msg(parse(text, &conf) == 0, "errors: %s", logged);
	ck_assert_str_eq(logged, "");
	ck_assert_ptr_nonnull(conf);
	return conf;
}

static enum acl_action
lookup(const struct conf *conf, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(addr_parse(addr, 53, &ss, &len), 0);
	return acl_lookup(conf->acl, (const struct sockaddr *)&ss);
}

/* --- invalid configurations ---------------------------------------------- */

#define NO_TLS "Debian's libunbound is built without DNS-over-TLS support " \
	"(Nettle, no OpenSSL)"

static const struct {
	const char *text;
	const char *msg;
} bad_one[] = {
	/* syntax, from cfgfile.c */
	{ "port: 53\n",
	  "t.conf:1: 'port' outside of a clause (add 'server:' above it)" },
	{ "server:\n  local-data: \"x. A 192.0.2.1\n",
	  "t.conf:2: local-data: missing closing \" quote" },
	{ "server:\n  include: \"/nonexistent/danegate.conf\"\n",
	  "t.conf:2: include: cannot open '/nonexistent/danegate.conf': No "
	  "such file or directory" },

	/* numbers, booleans, sizes */
	{ "server:\n\n  port: 70000\n",
	  "t.conf:3: port: '70000' is not a number from 1 to 65535" },
	{ "server:\n  port: 0\n",
	  "t.conf:2: port: '0' is not a number from 1 to 65535" },
	{ "server:\n  port: -1\n",
	  "t.conf:2: port: '-1' is not a number from 1 to 65535" },
	{ "server:\n  port: 0x35\n",
	  "t.conf:2: port: '0x35' is not a number from 1 to 65535" },
	{ "server:\n  port: 99999999999999999999\n",
	  "t.conf:2: port: '99999999999999999999' is not a number from 1 to "
	  "65535" },
	{ "server:\n  port: \"\"\n",
	  "t.conf:2: port: '' is not a number from 1 to 65535" },
	{ "server:\n  port: 53 54\n",
	  "t.conf:2: port: expects one value, found 2 (quote a value with "
	  "blanks)" },
	{ "server:\n  edns-buffer-size: 511\n",
	  "t.conf:2: edns-buffer-size: '511' is not a number from 512 to "
	  "4096" },
	{ "server:\n  edns-buffer-size: 4097\n",
	  "t.conf:2: edns-buffer-size: '4097' is not a number from 512 to "
	  "4096" },
	{ "server:\n  verbosity: 6\n",
	  "t.conf:2: verbosity: '6' is not a number from 0 to 5" },
	{ "server:\n  num-queries-per-thread: 0\n",
	  "t.conf:2: num-queries-per-thread: '0' is not a number from 1 to "
	  "1048576" },
	{ "server:\n  tcp-idle-timeout: 30s\n",
	  "t.conf:2: tcp-idle-timeout: '30s' is not a number from 1 to "
	  "3600000" },
	{ "server:\n  ip-ratelimit: 1000001\n",
	  "t.conf:2: ip-ratelimit: '1000001' is not a number from 0 to "
	  "1000000" },
	{ "server:\n  do-ip4: maybe\n",
	  "t.conf:2: do-ip4: 'maybe' is not yes or no" },
	{ "server:\n  do-tcp: Yes\n",
	  "t.conf:2: do-tcp: 'Yes' is not yes or no" },
	{ "server:\n  answer-cache-size: 4x\n",
	  "t.conf:2: answer-cache-size: '4x' is not a size (bytes, or a "
	  "number with k, m or g)" },
	{ "server:\n  answer-cache-size: m\n",
	  "t.conf:2: answer-cache-size: 'm' is not a size (bytes, or a "
	  "number with k, m or g)" },
	{ "server:\n  answer-cache-size: 4 m\n",
	  "t.conf:2: answer-cache-size: expects one value, found 2 (quote a "
	  "value with blanks)" },

	/* paths */
	{ "server:\n  chroot: var/lib/danegate\n",
	  "t.conf:2: chroot: 'var/lib/danegate' is not an absolute path (or "
	  "\"\" for none)" },
	{ "server:\n  directory: \"\"\n",
	  "t.conf:2: directory: must not be empty" },

	/* interfaces and access control */
	{ "server:\n  interface: eth0\n",
	  "t.conf:2: interface: 'eth0' is not an IP address with an optional "
	  "@port (interface names are not supported)" },
	{ "server:\n  interface: 127.0.0.1@0\n",
	  "t.conf:2: interface: '127.0.0.1@0' is not an IP address with an "
	  "optional @port (interface names are not supported)" },
	{ "server:\n  interface: 127.0.0.1#53\n",
	  "t.conf:2: interface: '127.0.0.1#53' is not an IP address with an "
	  "optional @port (interface names are not supported)" },
	{ "server:\n  interface: 127.0.0.1\n  interface: 127.0.0.1@53\n",
	  "t.conf:3: interface: '127.0.0.1@53' is listed twice" },
	{ "server:\n  interface: 192.0.2.1\n  do-ip4: no\n",
	  "t.conf:2: interface: '192.0.2.1' is an IPv4 address, but do-ip4 "
	  "is no" },
	{ "server:\n  do-ip6: no\n  interface: ::\n",
	  "t.conf:3: interface: '::' is an IPv6 address, but do-ip6 is no" },
	{ "server:\n  access-control: 10.0.0.0/8\n",
	  "t.conf:2: access-control: expects a netblock and an action, e.g. "
	  "'10.0.0.0/8 allow'" },
	{ "server:\n  access-control: 10.0.0.0/8 allow_setrd\n",
	  "t.conf:2: access-control: 'allow_setrd' is not an action "
	  "danegated supports (allow, refuse, deny)" },
	{ "server:\n  access-control: 10.0.0.0/33 allow\n",
	  "t.conf:2: access-control: bad prefix length 33 in 10.0.0.0/33" },
	{ "server:\n  do-ip4: no\n  do-ip6: no\n",
	  "t.conf:3: do-ip4 and do-ip6 are both no: danegated could neither "
	  "serve nor resolve" },
	{ "server:\n  do-tcp: no\n  do-udp: no\n",
	  "t.conf:3: do-udp and do-tcp are both no: danegated could neither "
	  "serve nor resolve" },

	/* options that would do nothing: refused with the reason (issue 6) */
	{ "server:\n  prefetch: yes\n",
	  "t.conf:2: prefetch: libunbound has no prefetch (only the Unbound "
	  "daemon's worker has), and danegated cannot do it through "
	  "libunbound either: until an answer expires, libunbound answers a "
	  "refresh from its own cache with the same record and the same "
	  "expiry time" },
	{ "server:\n  serve-expired-ttl-reset: yes\n",
	  "t.conf:2: serve-expired-ttl-reset: danegated never extends how "
	  "long stale data may be served: serve-expired-ttl: counts from the "
	  "answer's expiry" },
	{ "server:\n  serve-expired: yes\n  answer-cache-size: 0\n",
	  "t.conf:2: serve-expired: yes needs the answer cache, which keeps "
	  "the stale answers: answer-cache-size: is 0" },
	{ "server:\n  serve-expired: maybe\n",
	  "t.conf:2: serve-expired: 'maybe' is not yes or no" },
	{ "server:\n  serve-expired-client-timeout: 3600001\n",
	  "t.conf:2: serve-expired-client-timeout: '3600001' is not a number "
	  "from 0 to 3600000" },

	/* refused server: options */
	{ "server:\n  num-threads: 4\n",
	  "t.conf:2: num-threads: danegated serves all queries from one event "
	  "loop; only 1 is accepted (run more instances for more cores)" },
	{ "server:\n  so-reuseport: yes\n",
	  "t.conf:2: so-reuseport: danegated binds each interface once and "
	  "shares no port between threads" },
	{ "server:\n  so-reuseport: 1\n",
	  "t.conf:2: so-reuseport: '1' is not yes or no" },
	{ "server:\n  interface-automatic: yes\n",
	  "t.conf:2: interface-automatic: not supported: list the addresses "
	  "to serve with interface:" },
	{ "server:\n  do-daemonize: yes\n",
	  "t.conf:2: do-daemonize: whether danegated detaches is chosen on its "
	  "command line (-d stays in the foreground), not in the file" },
	{ "server:\n  val-permissive-mode: yes\n",
	  "t.conf:2: val-permissive-mode: yes would hand out bogus data as if "
	  "it were insecure; danegated fails closed" },
	{ "server:\n  module-config: \"iterator\"\n",
	  "t.conf:2: module-config: 'iterator' has no validator module: "
	  "danegated never resolves without DNSSEC validation" },
	{ "server:\n  trusted-keys-file: /etc/keys.bind\n",
	  "t.conf:2: trusted-keys-file: BIND's trusted-keys format is not read "
	  "by danegated's start-up check: give the keys as DS or DNSKEY "
	  "records in trust-anchor-file:" },
	{ "server:\n  logfile: /var/log/danegated.log\n",
	  "t.conf:2: logfile: danegated logs to stderr/journald" },
	{ "server:\n  use-syslog: yes\n",
	  "t.conf:2: use-syslog: danegated logs to stderr/journald" },
	{ "server:\n  tls-upstream: yes\n",
	  "t.conf:2: tls-upstream: yes cannot work: " NO_TLS },
	{ "server:\n  ssl-upstream: yes\n",
	  "t.conf:2: ssl-upstream: yes cannot work: " NO_TLS },
	{ "server:\n  tls-service-key: /etc/key.pem\n",
	  "t.conf:2: tls-service-key: danegated does not serve DNS over TLS "
	  "or HTTPS" },
	{ "server:\n  tls-port: 853\n",
	  "t.conf:2: tls-port: danegated does not serve DNS over TLS or "
	  "HTTPS" },
	{ "server:\n  https-port: 443\n",
	  "t.conf:2: https-port: danegated does not serve DNS over TLS or "
	  "HTTPS" },
	{ "server:\n  statistics-interval: 60\n",
	  "t.conf:2: statistics-interval: danegated logs no periodic "
	  "statistics; scrape prometheus-interface: instead" },
	{ "server:\n  extended-statistics: yes\n",
	  "t.conf:2: extended-statistics: danegated's statistics are served "
	  "on prometheus-interface:" },
	{ "server:\n  access-control-view: 10.0.0.0/8 v\n",
	  "t.conf:2: access-control-view: danegated applies access-control: "
	  "itself and has no views or tags" },
	{ "server:\n  server: verbosity: 1\n",
	  "t.conf:2: 'server:' opens a clause and must be alone on its line" },

	/* clauses */
	{ "auth-zone:\n  name: example.\n",
	  "t.conf:1: 'auth-zone:' is not a clause danegated supports "
	  "(server:, forward-zone:, stub-zone:, remote-control:)" },
	{ "server:\n  pidfile:   # none\n",
	  "t.conf:2: pidfile: has no value (write an empty value as \"\")" },
	{ "server:\nview:\n",
	  "t.conf:2: 'view:' is not a clause danegated supports (server:, "
	  "forward-zone:, stub-zone:, remote-control:)" },

	/* remote-control: */
	{ "remote-control:\n  control-use-cert: yes\n",
	  "t.conf:2: control-use-cert: danegated's control channel is a unix "
	  "socket guarded by file permissions; it uses no certificates" },
	{ "remote-control:\n  server-key-file: /etc/k\n",
	  "t.conf:2: server-key-file: danegated's control channel is a unix "
	  "socket guarded by file permissions; it uses no certificates" },
	{ "remote-control:\n  control-port: 8953\n",
	  "t.conf:2: control-port: danegated's control channel is a unix "
	  "socket: give its path in control-interface:" },
	{ "remote-control:\n  verbosity: 1\n",
	  "t.conf:2: 'verbosity' is not a remote-control: option danegated "
	  "knows (control-enable, control-interface, prometheus-interface)" },
	{ "remote-control:\n  control-enable: on\n",
	  "t.conf:2: control-enable: 'on' is not yes or no" },
	{ "remote-control:\n  control-interface: 127.0.0.1\n",
	  "t.conf:2: control-interface: '127.0.0.1' is not an absolute path: "
	  "danegated's control channel is a unix socket only" },
	{ "remote-control:\n  control-interface: /run/a.ctl\n"
	  "  control-interface: /run/b.ctl\n",
	  "t.conf:3: control-interface: given twice (first at t.conf:2): "
	  "danegated has one control socket" },
	{ "remote-control:\n  prometheus-interface: 127.0.0.1\n",
	  "t.conf:2: prometheus-interface: '127.0.0.1' is not ADDR@PORT (e.g. "
	  "127.0.0.1@9167)" },
	{ "remote-control:\n  prometheus-interface: localhost@9167\n",
	  "t.conf:2: prometheus-interface: 'localhost@9167' is not ADDR@PORT "
	  "(e.g. 127.0.0.1@9167)" },

	/* forward-zone: and stub-zone: */
	{ "forward-zone:\n  forward-addr: 192.0.2.1\n",
	  "t.conf:1: forward-zone: needs a name:" },
	{ "server:\nforward-zone:\n",
	  "t.conf:2: forward-zone: needs a name:" },
	{ "forward-zone:\n  name: example.\n",
	  "t.conf:1: forward-zone 'example.': needs a forward-addr: or "
	  "forward-host:" },
	{ "stub-zone:\n  name: example.\n",
	  "t.conf:1: stub-zone 'example.': needs a stub-addr: or stub-host:" },
	{ "forward-zone:\n  name: .\n  forward-addr: 192.0.2.1\n"
	  "  forward-tls-upstream: yes\n",
	  "t.conf:4: forward-tls-upstream: yes cannot work: " NO_TLS },
	{ "forward-zone:\n  name: .\n  forward-addr: 192.0.2.1\n"
	  "  forward-ssl-upstream: yes\n",
	  "t.conf:4: forward-ssl-upstream: yes cannot work: " NO_TLS },
	{ "stub-zone:\n  name: .\n  stub-addr: 192.0.2.1\n"
	  "  stub-tls-upstream: yes\n",
	  "t.conf:4: stub-tls-upstream: yes cannot work: " NO_TLS },
	{ "forward-zone:\n  name: .\n  forward-addr: 192.0.2.1\n"
	  "  stub-prime: yes\n",
	  "t.conf:4: stub-prime: belongs in a stub-zone:, not in a "
	  "forward-zone:" },
	{ "stub-zone:\n  name: .\n  stub-addr: 192.0.2.1\n"
	  "  forward-first: yes\n",
	  "t.conf:4: forward-first: belongs in a forward-zone:, not in a "
	  "stub-zone:" },
	{ "forward-zone:\n  name: .\n  forward-addr: 192.0.2.1\n"
	  "  forward-no-cache: yes\n",
	  "t.conf:4: forward-no-cache: not a forward-zone: option danegated "
	  "supports (name, forward-addr, forward-host, forward-first)" },
	{ "stub-zone:\n  name: .\n  stub-addr: 192.0.2.1\n"
	  "  access-control: 10.0.0.0/8 allow\n",
	  "t.conf:4: access-control: not a stub-zone: option danegated "
	  "supports (name, stub-addr, stub-host, stub-first, stub-prime)" },
	{ "forward-zone:\n  name: .\n  forward-addr: ns.example.\n",
	  "t.conf:3: forward-addr: 'ns.example.' is not an IP address with an "
	  "optional @port" },
	{ "forward-zone:\n  name: .\n  forward-addr: 192.0.2.1@99999\n",
	  "t.conf:3: forward-addr: '192.0.2.1@99999' is not an IP address "
	  "with an optional @port" },
	{ "forward-zone:\n  name: .\n  forward-addr: \"192.0.2.1 #x\"\n",
	  "t.conf:3: forward-addr: '192.0.2.1 #x' is not an IP address with "
	  "an optional @port" },
	{ "forward-zone:\n  name: \"a b\"\n  forward-addr: 192.0.2.1\n",
	  "t.conf:2: name: 'a b' is not a domain name" },
	{ "forward-zone:\n  name: '\"'\n  forward-addr: 192.0.2.1\n",
	  "t.conf:2: name: '\"' is not a domain name" },
	{ "forward-zone:\n  name: .\n  forward-host: 'ns\"x'\n",
	  "t.conf:3: forward-host: 'ns\"x' is not a host name" },
	{ "forward-zone:\n  name: a.\n  name: b.\n  forward-addr: 192.0.2.1\n",
	  "t.conf:3: name: given twice in one forward-zone:" },
	{ "forward-zone:\n  name: .\n  forward-first: maybe\n"
	  "  forward-addr: 192.0.2.1\n",
	  "t.conf:3: forward-first: 'maybe' is not yes or no" },
	{ "forward-zone:\n  name: Example.COM\n  forward-addr: 192.0.2.1\n"
	  "stub-zone:\n  name: example.com.\n  stub-addr: 192.0.2.2\n",
	  "t.conf:4: stub-zone 'example.com.': the zone already has a "
	  "forward-zone: at t.conf:1" },
};

START_TEST(test_bad_one)
{
	expect_errors(bad_one[_i].text, 1, bad_one[_i].msg);
}
END_TEST

/* conf_load() and conf_parse() keep going: every error, in file order. */
START_TEST(test_bad_many)
{
	expect_errors(
	    "server:\n"
	    "  port: 70000\n"
	    "  interface: eth0\n"
	    "  harden-glue: yes\n"
	    "  do-daemonize: yes\n"
	    "forward-zone:\n"
	    "  forward-tls-upstream: yes\n"
	    "  forward-addr: 192.0.2.1\n"
	    "rpz:\n"
	    "  name: rpz.example.\n"
	    "remote-control:\n"
	    "  control-use-cert: yes\n", 7,
	    "t.conf:2: port: '70000' is not a number from 1 to 65535\n"
	    "t.conf:3: interface: 'eth0' is not an IP address with an optional "
	    "@port (interface names are not supported)\n"
	    "t.conf:5: do-daemonize: whether danegated detaches is chosen on "
	    "its command line (-d stays in the foreground), not in the file\n"
	    "t.conf:7: forward-tls-upstream: yes cannot work: " NO_TLS "\n"
	    "t.conf:6: forward-zone: needs a name:\n"
	    "t.conf:9: 'rpz:' is not a clause danegated supports (server:, "
	    "forward-zone:, stub-zone:, remote-control:)\n"
	    "t.conf:12: control-use-cert: danegated's control channel is a "
	    "unix socket guarded by file permissions; it uses no certificates");
}
END_TEST

START_TEST(test_load_missing)
{
	struct conf *conf = (struct conf *)1;
	int n;

	capture_start();
	n = conf_load("/nonexistent/danegated.conf", &conf);
	capture_stop();
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(logged, "/nonexistent/danegated.conf: cannot open: "
	    "No such file or directory");
}
END_TEST

START_TEST(test_free_null)
{
	conf_free(NULL);
}
END_TEST

/* --- good configurations ------------------------------------------------- */

static void
check_defaults(const struct conf *conf)
{
	ck_assert_uint_eq(conf->n_listen, 2);
	ck_assert_str_eq(conf->listen[0].text, "127.0.0.1@53");
	ck_assert_uint_eq(conf->listen[0].addr.ss_family, AF_INET);
	ck_assert_uint_eq(conf->listen[0].addrlen, sizeof(struct sockaddr_in));
	ck_assert_str_eq(conf->listen[1].text, "::1@53");
	ck_assert_uint_eq(conf->listen[1].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(conf->listen[1].addrlen,
	    sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(conf->port, 53);
	ck_assert(conf->do_ip4 && conf->do_ip6 && conf->do_udp &&
	    conf->do_tcp);
	ck_assert_int_eq(lookup(conf, "127.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(conf, "127.255.0.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(conf, "::1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(conf, "::ffff:127.0.0.1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(conf, "192.0.2.1"), ACL_REFUSE);
	ck_assert_int_eq(lookup(conf, "2001:db8::1"), ACL_REFUSE);
	ck_assert_uint_eq(conf->ip_ratelimit, 0);
	ck_assert_str_eq(conf->username, "danegate");
	ck_assert_str_eq(conf->chroot, "");
	ck_assert_str_eq(conf->directory, "/");
	ck_assert_str_eq(conf->pidfile, "");
	ck_assert_int_eq(conf->verbosity, 1);
	ck_assert_uint_eq(conf->edns_buffer_size, 1232);
	ck_assert_uint_eq(conf->num_queries_per_thread, 4096);
	ck_assert_uint_eq(conf->incoming_num_tcp, 100);
	ck_assert_uint_eq(conf->tcp_idle_timeout_ms, 30000);
	ck_assert(conf->minimal_responses);	/* Unbound's default */
	ck_assert(conf->readiness_probe);
	ck_assert_uint_eq(conf->tcp_read_timeout_ms, 5000);
	ck_assert_uint_eq(conf->tcp_write_timeout_ms, 10000);
	ck_assert_uint_eq(conf->tcp_per_client, 32);
	/* libunbound's default msg-cache-size; libunbound keeps a quarter */
	ck_assert_uint_eq(conf->answer_cache_size, 4 * 1024 * 1024);
	ck_assert_uint_eq(conf->unbound_msg_cache_size, 1 * 1024 * 1024);
	ck_assert_uint_eq(conf->n_trust_anchors, 0);
	ck_assert_uint_eq(conf->n_ub_options, 0);
	ck_assert_uint_eq(conf->n_zones, 0);
	ck_assert(!conf->control_enable);
	ck_assert_str_eq(conf->control_interface, "");
	ck_assert_str_eq(conf->prometheus_interface, "");
}

START_TEST(test_defaults)
{
	struct conf *conf;

	conf = parse_ok("");
	check_defaults(conf);
	ck_assert_str_eq(conf->path, "t.conf");
	ck_assert_uint_eq(conf->n_files, 1);
	ck_assert_str_eq(conf->files[0], "t.conf");
	conf_free(conf);

	conf = parse_ok("# nothing but clauses\nserver:\nremote-control:\n");
	check_defaults(conf);
	conf_free(conf);

	ck_assert_ptr_nonnull(conf = conf_new_default());
	check_defaults(conf);
	conf_free(conf);
}
END_TEST

START_TEST(test_front_end_options)
{
	struct conf *conf = parse_ok(
	    "server:\n"
	    "  ip-ratelimit: 100\n"
	    "  username: \"\"\n"
	    "  chroot: /var/lib/danegate\n"
	    "  directory: /var/lib/danegate\n"
	    "  pidfile: \"/run/danegated.pid\"\n"
	    "  verbosity: 0\n"
	    "  verbosity: 5\n"		/* the last one counts */
	    "  num-queries-per-thread: 1\n"
	    "  incoming-num-tcp: 0\n"
	    "  tcp-idle-timeout: 3600000\n"
	    "  answer-cache-size: 0\n"
	    "  edns-buffer-size: 4096\n"
	    "  minimal-responses: no\n"

	    "  readiness-probe: no\n"
	    "  tcp-read-timeout: 1\n"
	    "  tcp-write-timeout: 3600000\n"
	    "  tcp-connections-per-client: 0\n");

	ck_assert_uint_eq(conf->ip_ratelimit, 100);
	ck_assert_str_eq(conf->username, "");
	ck_assert_str_eq(conf->chroot, "/var/lib/danegate");
	ck_assert_str_eq(conf->directory, "/var/lib/danegate");
	ck_assert_str_eq(conf->pidfile, "/run/danegated.pid");
	ck_assert_int_eq(conf->verbosity, 5);
	ck_assert_uint_eq(conf->num_queries_per_thread, 1);
	ck_assert_uint_eq(conf->incoming_num_tcp, 0);
	ck_assert_uint_eq(conf->tcp_idle_timeout_ms, 3600000);
	ck_assert_uint_eq(conf->answer_cache_size, 0);
	ck_assert_uint_eq(conf->edns_buffer_size, 4096);
	ck_assert(!conf->readiness_probe);
	ck_assert_uint_eq(conf->tcp_read_timeout_ms, 1);
	ck_assert_uint_eq(conf->tcp_write_timeout_ms, 3600000);
	ck_assert_uint_eq(conf->tcp_per_client, 0);
	/* only edns-buffer-size goes to libunbound too (minimal-responses
	 * there would trim the packet danegated reads) */
	ck_assert_uint_eq(conf->n_ub_options, 1);
	ck_assert_str_eq(conf->ub_options[0].name, "edns-buffer-size");
	ck_assert_str_eq(conf->ub_options[0].value, "4096");
	ck_assert_uint_eq(conf->ub_options[0].line, 13);
	conf_free(conf);
}
END_TEST

/* serve-stale is danegated's own: nothing of it goes to libunbound, which
 * would serve expired data without telling; prefetch: no is harmless. */
START_TEST(test_serve_expired)
{
	struct conf *conf = parse_ok("");

	ck_assert(!conf->serve_expired);
	ck_assert_uint_eq(conf->serve_expired_ttl, 0);
	ck_assert_uint_eq(conf->serve_expired_reply_ttl, 30);
	ck_assert_uint_eq(conf->serve_expired_client_timeout, 0);
	conf_free(conf);

	conf = parse_ok(
	    "server:\n"
	    "  serve-expired: yes\n"
	    "  serve-expired-ttl: 86400\n"
	    "  serve-expired-reply-ttl: 10\n"
	    "  serve-expired-client-timeout: 1800\n"
	    "  serve-expired-ttl-reset: no\n"
	    "  prefetch: no\n");
	ck_assert(conf->serve_expired);
	ck_assert_uint_eq(conf->serve_expired_ttl, 86400);
	ck_assert_uint_eq(conf->serve_expired_reply_ttl, 10);
	ck_assert_uint_eq(conf->serve_expired_client_timeout, 1800);
	ck_assert_uint_eq(conf->n_ub_options, 0);
	conf_free(conf);
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *text;
		size_t size;
	} v[] = {
		{ "0", 0 }, { "1", 1 }, { "1232", 1232 }, { "512k", 512 << 10 },
		{ "512K", 512 << 10 }, { "4m", 4 << 20 }, { "4mb", 4 << 20 },
		{ "4MB", 4 << 20 }, { "1g", (size_t)1 << 30 },
		{ "3Gb", (size_t)3 << 30 },
	};
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct conf *conf;

		snprintf(text, sizeof(text), "server:\nanswer-cache-size: %s\n",
		    v[i].text);
		conf = parse_ok(text);
		ck_assert_uint_eq(conf->answer_cache_size, v[i].size);
		ck_assert_uint_eq(conf->unbound_msg_cache_size,
		    v[i].size < (4 << 20) ? (4u << 20) - v[i].size : 1 << 20);
		conf_free(conf);
	}
	/* an explicit msg-cache-size is shared the same way */
	{
		struct conf *conf = parse_ok("server:\nmsg-cache-size: 64m\n");

		ck_assert_uint_eq(conf->answer_cache_size, 64u << 20);
		ck_assert_uint_eq(conf->unbound_msg_cache_size, 16u << 20);
		conf_free(conf);
	}
}
END_TEST

START_TEST(test_interfaces)
{
	struct conf *conf;
	const struct sockaddr_in6 *sin6;

	/* port: applies to interfaces without @PORT, wherever it is */
	conf = parse_ok(
	    "server:\n"
	    "  interface: 192.0.2.1\n"
	    "  interface: 2001:db8::1@5353\n"
	    "  interface: 0.0.0.0@53\n"
	    "  interface: ::\n"
	    "  port: 5300\n");
	ck_assert_uint_eq(conf->port, 5300);
	ck_assert_uint_eq(conf->n_listen, 4);
	ck_assert_str_eq(conf->listen[0].text, "192.0.2.1@5300");
	ck_assert_str_eq(conf->listen[1].text, "2001:db8::1@5353");
	ck_assert_str_eq(conf->listen[2].text, "0.0.0.0@53");
	ck_assert_str_eq(conf->listen[3].text, "::@5300");
	sin6 = (const struct sockaddr_in6 *)(const void *)&conf->listen[1].addr;
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 5353);
	ck_assert_uint_eq(conf->n_ub_options, 0);
	conf_free(conf);

	/* defaults follow port: and do-ip4/do-ip6 */
	conf = parse_ok("server:\n  port: 5353\n  do-ip6: no\n");
	ck_assert_uint_eq(conf->n_listen, 1);
	ck_assert_str_eq(conf->listen[0].text, "127.0.0.1@5353");
	ck_assert(!conf->do_ip6);
	ck_assert_uint_eq(conf->n_ub_options, 1);
	ck_assert_str_eq(conf->ub_options[0].name, "do-ip6");
	ck_assert_str_eq(conf->ub_options[0].value, "no");
	conf_free(conf);

	conf = parse_ok("server:\n  do-ip4: no\n  do-udp: no\n");
	ck_assert_uint_eq(conf->n_listen, 1);
	ck_assert_str_eq(conf->listen[0].text, "::1@53");
	ck_assert(!conf->do_ip4 && !conf->do_udp && conf->do_tcp);
	ck_assert_uint_eq(conf->n_ub_options, 2);
	conf_free(conf);
}
END_TEST

START_TEST(test_access_control)
{
	struct conf *conf = parse_ok(
	    "server:\n"
	    "  access-control: 10.0.0.0/8 allow\n"
	    "  access-control: 10.66.0.0/16 deny\n"
	    "  access-control: 2001:db8::/32 allow_snoop\n"
	    "  access-control: 127.0.0.0/8 refuse_non_local\n"
	    "  access-control: 0.0.0.0/0 deny_non_local\n");

	ck_assert_int_eq(lookup(conf, "10.1.2.3"), ACL_ALLOW);
	ck_assert_int_eq(lookup(conf, "10.66.2.3"), ACL_DENY);
	ck_assert_int_eq(lookup(conf, "2001:db8::53"), ACL_ALLOW);
	/* a later line replaces the built-in loopback entry */
	ck_assert_int_eq(lookup(conf, "127.0.0.1"), ACL_REFUSE);
	ck_assert_int_eq(lookup(conf, "::1"), ACL_ALLOW);
	ck_assert_int_eq(lookup(conf, "192.0.2.1"), ACL_DENY);
	ck_assert_int_eq(lookup(conf, "2001:db9::1"), ACL_REFUSE);
	ck_assert_uint_eq(conf->n_ub_options, 0);
	conf_free(conf);
}
END_TEST

START_TEST(test_unbound_options)
{
	struct conf *conf = parse_ok(
	    "server:\n"
	    "  harden-glue: yes\n"
	    "  verbosity: 2\n"
	    "  local-zone: \"test.\" nodefault\n"
	    "  local-data: \"www.example. A 192.0.2.1\"\n"
	    "  local-data: 'txt.example. TXT \"a  b\"'\n"
	    "  do-tcp: yes\n"
	    "  trust-anchor-file: \"/var/lib/danegate/root.key\"\n"
	    "  auto-trust-anchor-file: /var/lib/danegate/auto.key\n"
	    "  trust-anchor: \". DS 20326 8 2 E06D44B8\"\n"
	    "  root-hints: /usr/share/dns/root.hints\n"
	    "  no-such-option: x   y\n"
	    "  num-threads: 1\n"		/* harmless: accepted, dropped */
	    "  so-reuseport: no\n"
	    "  do-daemonize: no\n"
	    "  logfile: \"\"\n"
	    "  statistics-interval: 0\n"
	    "  tls-upstream: no\n");
	static const char *want[][2] = {
		{ "harden-glue", "yes" },
		{ "local-zone", "test. nodefault" },
		{ "local-data", "www.example. A 192.0.2.1" },
		{ "local-data", "txt.example. TXT \"a  b\"" },
		{ "do-tcp", "yes" },
		{ "trust-anchor-file", "/var/lib/danegate/root.key" },
		{ "auto-trust-anchor-file", "/var/lib/danegate/auto.key" },
		{ "trust-anchor", ". DS 20326 8 2 E06D44B8" },
		{ "root-hints", "/usr/share/dns/root.hints" },
		{ "no-such-option", "x y" },
	};
	static const unsigned lines[] = { 2, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	size_t i;

	ck_assert_uint_eq(conf->n_ub_options, 10);
	for (i = 0; i < 10; i++) {
		ck_assert_str_eq(conf->ub_options[i].name, want[i][0]);
		ck_assert_str_eq(conf->ub_options[i].value, want[i][1]);
		ck_assert_ptr_eq(conf->ub_options[i].file, conf->files[0]);
		ck_assert_uint_eq(conf->ub_options[i].line, lines[i]);
	}
	ck_assert_uint_eq(conf->n_trust_anchors, 3);
	ck_assert_int_eq(conf->verbosity, 2);
	conf_free(conf);
}
END_TEST

START_TEST(test_zones)
{
	struct conf *conf = parse_ok(
	    "forward-zone:\n"
	    "  name: \".\"\n"
	    "  forward-addr: 192.0.2.53\n"
	    "  forward-addr: 2001:db8::53@5353\n"
	    "  forward-addr: 192.0.2.54@853#dns.example\n"
	    "  forward-host: resolver.example.\n"
	    "  forward-first: yes\n"
	    "  forward-tls-upstream: no\n"
	    "stub-zone:\n"
	    "  name: internal.\n"
	    "  stub-host: ns1.internal.\n"
	    "  stub-prime: yes\n"
	    "server:\n"
	    "  harden-glue: no\n"
	    "stub-zone:\n"
	    "  name: example\n"
	    "  stub-addr: 127.0.0.1@5301\n");
	const struct conf_zone *z;

	ck_assert_uint_eq(conf->n_zones, 3);
	z = &conf->zones[0];
	ck_assert(z->forward);
	ck_assert_str_eq(z->name, ".");
	ck_assert_uint_eq(z->n_addrs, 3);
	ck_assert_str_eq(z->addrs[0], "192.0.2.53");
	ck_assert_str_eq(z->addrs[1], "2001:db8::53@5353");
	ck_assert_str_eq(z->addrs[2], "192.0.2.54@853#dns.example");
	ck_assert_uint_eq(z->n_hosts, 1);
	ck_assert_str_eq(z->hosts[0], "resolver.example.");
	ck_assert(z->first);
	ck_assert(!z->prime);
	ck_assert_ptr_eq(z->file, conf->files[0]);
	ck_assert_uint_eq(z->line, 1);

	z = &conf->zones[1];
	ck_assert(!z->forward);
	ck_assert_str_eq(z->name, "internal.");
	ck_assert_uint_eq(z->n_addrs, 0);
	ck_assert_uint_eq(z->n_hosts, 1);
	ck_assert(z->prime);
	ck_assert(!z->first);
	ck_assert_uint_eq(z->line, 9);

	z = &conf->zones[2];
	ck_assert_str_eq(z->name, "example");
	ck_assert_str_eq(z->addrs[0], "127.0.0.1@5301");
	ck_assert_uint_eq(z->line, 15);
	ck_assert_uint_eq(conf->n_ub_options, 1);
	conf_free(conf);
}
END_TEST

START_TEST(test_remote_control)
{
	struct conf *conf;

	/* enabled without a path: the default socket */
	conf = parse_ok("remote-control:\n  control-enable: yes\n"
	    "  control-use-cert: no\n"	/* what danegated does anyway */
	    "  prometheus-interface: ::1@9167\n");
	ck_assert(conf->control_enable);
	ck_assert_str_eq(conf->control_interface,
	    RUNSTATEDIR "/danegate/danegated.ctl");
	ck_assert_str_eq(conf->prometheus_interface, "::1@9167");
	ck_assert_uint_eq(conf->n_ub_options, 0);
	conf_free(conf);

	conf = parse_ok("remote-control:\n"
	    "  control-interface: /run/danegate/ctl\n"
	    "  control-enable: yes\n"
	    "  prometheus-interface: 127.0.0.1@9167\n"
	    "  prometheus-interface: \"\"\n");	/* off again */
	ck_assert_str_eq(conf->control_interface, "/run/danegate/ctl");
	ck_assert_str_eq(conf->prometheus_interface, "");
	conf_free(conf);

	/* a path without control-enable: yes is off, as in Unbound */
	conf = parse_ok("remote-control:\n"
	    "  control-interface: /run/danegate/ctl\n");
	ck_assert(!conf->control_enable);
	ck_assert_str_eq(conf->control_interface, "");
	conf_free(conf);
}
END_TEST

START_TEST(test_load_with_include)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[256], inc[256], text[512];
	struct conf *conf;
	FILE *f;
	int n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(inc, sizeof(inc), "%s/inc.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(inc, "w"));
	fputs("  harden-glue: yes\nforward-zone:\n  name: .\n"
	    "  forward-addr: 192.0.2.1\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	snprintf(text, sizeof(text), "server:\n  include: %s/*.conf\n"
	    "server:\n  harden-dnssec-stripped: yes\n", dir);
	fputs(text, f);
	fclose(f);
	/* main.conf matches the pattern too: rename it out of the way */
	snprintf(text, sizeof(text), "%s/main.cf", dir);
	ck_assert_int_eq(rename(path, text), 0);

	capture_start();
	n = conf_load(text, &conf);
	capture_stop();
	ck_assert_msg(n == 0, "%s", logged);
	ck_assert_str_eq(conf->path, text);
	ck_assert_uint_eq(conf->n_files, 2);
	ck_assert_str_eq(conf->files[0], text);
	ck_assert_str_eq(conf->files[1], inc);
	ck_assert_uint_eq(conf->n_ub_options, 2);
	ck_assert_ptr_eq(conf->ub_options[0].file, conf->files[1]);
	ck_assert_uint_eq(conf->ub_options[0].line, 1);
	ck_assert_ptr_eq(conf->ub_options[1].file, conf->files[0]);
	ck_assert_uint_eq(conf->ub_options[1].line, 4);
	ck_assert_uint_eq(conf->n_zones, 1);
	ck_assert_ptr_eq(conf->zones[0].file, conf->files[1]);
	ck_assert_uint_eq(conf->zones[0].line, 2);
	conf_free(conf);

	unlink(inc);
	unlink(text);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *bad = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_loop_test(bad, test_bad_one, 0,
	    sizeof(bad_one) / sizeof(bad_one[0]));
	tcase_add_test(bad, test_bad_many);
	tcase_add_test(bad, test_load_missing);
	tcase_add_test(bad, test_free_null);
	suite_add_tcase(s, bad);

	tcase_add_test(good, test_defaults);
	tcase_add_test(good, test_front_end_options);
	tcase_add_test(good, test_sizes);
	tcase_add_test(good, test_serve_expired);
	tcase_add_test(good, test_interfaces);
	tcase_add_test(good, test_access_control);
	tcase_add_test(good, test_unbound_options);
	tcase_add_test(good, test_zones);
	tcase_add_test(good, test_remote_control);
	tcase_add_test(good, test_load_with_include);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* plain "prog[pid]: level: message" lines, whatever runs the test */
	unsetenv("JOURNAL_STREAM");
	log_init("test_conf", LOG_VERB_OPS);
	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
