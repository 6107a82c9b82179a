/*
 * relay_outbound_send.c - test driver for danegate-relay's outbound side
 * (plugin/relay/outbound.c): delivers one message read from stdin to the
 * recipients of one domain, exactly as the relay's front would drive it,
 * and prints each reply. The system tests run it against the local world
 * (tests/system/test_relay_outbound.py).
 *
 *   relay_outbound_send --trust-anchor FILE --unbound-conf FILE
 *       [--ca-file FILE] [--sts-cache-dir DIR] [--policy-table FILE]
 *       [--exemptions FILE]
 *       [--helo NAME] [--port N] [--timeout-ms N] [--repeat N]
 *       [--no-reuse] [--smtputf8] [--tls-required-no] [--chunk N]
 *       [--resolver ADDR] [--reuse-idle-ms N] [--pause-ms N]
 *       [--tlsrpt-state FILE]
 *       --from ADDR DOMAIN RCPT...
 *
 * Output, one line per reply: "open|rcpt|data|end CODE TEXT", then
 * "tls=SUMMARY relay=HOST[ADDR]:PORT" after a successful open. The
 * per-attempt log lines go to stderr; with --tlsrpt-state the TLS-RPT
 * counts are kept in FILE and DOMAIN's report printed as
 * "tlsrpt-report JSON". --repeat sends the message N times
 * in a row, one transaction each (connection reuse). Exit status: 0 if
 * every final reply was 2xx, 1 if one was 4xx, 2 if one was 5xx, 3 for a
 * usage or set-up error.
 *
 * SECURITY: test program: talks to the world's DNS and SMTP servers on
 * loopback, with the caller's privileges.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "plugin/danegate.h"
#include "plugin/relay/outbound.h"
#include "plugin/relay/policy_table.h"
#include "plugin/relay/tlsrpt.h"

struct run {
	struct event_base *base;
	struct outbound_env *env;
	const char *domain;
	char **rcpts;
	int n_rcpts, next_rcpt;
	struct outbound_envelope from;
	char *msg;			/* dot-stuffed, CRLF */
	size_t msg_len, msg_pos, chunk;
	int step;			/* 0 open, 1 rcpt, 2 data, 3 body, 4 end */
	int accepted;
	int worst;			/* 0, 1 (4xx), 2 (5xx) */
	bool done;
	struct outbound *o;
};

static void write_body(struct run *r);

static void
note(struct run *r, int code)
{
	int w = code >= 500 ? 2 : code >= 400 ? 1 : 0;

	if (w > r->worst)
		r->worst = w;
}

static void
finish(struct run *r)
{
	outbound_free(r->o);
	r->o = NULL;
	r->done = true;
}

static void
on_reply(void *arg, const struct outbound_reply *rep)
{
	struct run *r = arg;
	static const char *const names[] = { "open", "rcpt", "data", "body",
	    "end" };

	printf("%s %d %s\n", names[r->step], rep->code, rep->text);
	fflush(stdout);
	switch (r->step) {
	case 0:
		if (rep->code >= 400) {
			note(r, rep->code);
			finish(r);
			return;
		}
		printf("tls=%s relay=%s\n", outbound_tls_summary(r->o),
		    outbound_relay_name(r->o));
		r->step = 1;
		r->next_rcpt = 0;
		outbound_rcpt(r->o, r->rcpts[r->next_rcpt++], NULL);
		return;
	case 1:
		if (rep->code < 400)
			r->accepted++;
		else
			note(r, rep->code);
		if (r->next_rcpt < r->n_rcpts) {
			outbound_rcpt(r->o, r->rcpts[r->next_rcpt++], NULL);
			return;
		}
		if (r->accepted == 0) {
			finish(r);
			return;
		}
		r->step = 2;
		outbound_data_begin(r->o);
		return;
	case 2:
		if (rep->code != 354) {
			note(r, rep->code);
			finish(r);
			return;
		}
		r->step = 3;
		r->msg_pos = 0;
		write_body(r);
		return;
	default:
		note(r, rep->code);
		finish(r);
		return;
	}
}

/* Writes until the outbound says full (on_drain resumes) or the end. */
static void
write_body(struct run *r)
{
	while (r->msg_pos < r->msg_len) {
		size_t n = r->msg_len - r->msg_pos;
		int rc;

		if (n > r->chunk)
			n = r->chunk;
		rc = outbound_data_write(r->o, r->msg + r->msg_pos, n);
		if (rc < 0)
			break;		/* failed: data_end answers 4xx */
		r->msg_pos += n;
		if (rc == 1)
			return;
	}
	r->step = 4;
	outbound_data_end(r->o);
}

static void
on_drain(void *arg)
{
	struct run *r = arg;

	if (r->step == 3)
		write_body(r);
}

/* stdin with LF -> CRLF and dot-stuffing, as a front receives it. */
static char *
read_message(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *out = malloc(cap);
	bool bol = true;
	int ch;

	if (out == NULL)
		return NULL;
	while ((ch = getchar()) != EOF) {
		if (n + 4 > cap) {
			char *nb = realloc(out, cap *= 2);

			if (nb == NULL) {
				free(out);
				return NULL;
			}
			out = nb;
		}
		if (ch == '\r')
			continue;
		if (bol && ch == '.')
			out[n++] = '.';
		if (ch == '\n') {
			out[n++] = '\r';
			out[n++] = '\n';
			bol = true;
			continue;
		}
		out[n++] = (char)ch;
		bol = false;
	}
	*len = n;
	return out;
}

static void
usage(void)
{
	fprintf(stderr, "usage: relay_outbound_send --trust-anchor FILE "
	    "--unbound-conf FILE [options] --from ADDR DOMAIN RCPT...\n");
	exit(3);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trust-anchor", required_argument, NULL, 'a' },
		{ "unbound-conf", required_argument, NULL, 'u' },
		{ "resolver", required_argument, NULL, 'R' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "policy-table", required_argument, NULL, 'p' },
		{ "exemptions", required_argument, NULL, 'x' },
		{ "helo", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'P' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "no-reuse", no_argument, NULL, 'n' },
		{ "reuse-idle-ms", required_argument, NULL, 'I' },
		{ "pause-ms", required_argument, NULL, 'W' },
		{ "smtputf8", no_argument, NULL, '8' },
		{ "tls-required-no", no_argument, NULL, 'T' },
		{ "from", required_argument, NULL, 'f' },
		{ "sts-cache-dir", required_argument, NULL, 'S' },
		{ "tlsrpt-state", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	struct danegate_resolver_options ropts;
	struct outbound_env_options eopts;
	struct danegate_resolver *res;
	struct policy_table *pt = NULL;
	struct exemptions *ex = NULL;
	struct outbound_callbacks cb = { on_reply, on_drain };
	struct run r;
	char err[POLICY_ERR_MAX];
	int ch, rc, repeat = 1, worst = 0, pause_ms = 0;
	struct outbound_stats st;
	unsigned timeout = 0;
	const char *tlsrpt_state = NULL;
	struct tlsrpt *rpt = NULL;

	memset(&ropts, 0, sizeof(ropts));
	memset(&eopts, 0, sizeof(eopts));
	memset(&r, 0, sizeof(r));
	r.from.size = -1;
	r.chunk = 4096;
	log_init("relay_outbound_send", LOG_VERB_INFO);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			ropts.trust_anchor_file = optarg;
			break;
		case 'u':
			ropts.unbound_conf = optarg;
			break;
		case 'R':
			ropts.forwarder = optarg;
			break;
		case 'c':
			eopts.ca_file = optarg;
			break;
		case 'S':
			eopts.sts_cache_dir = optarg;
			break;
		case 'p':
			if (policy_table_load(optarg, &pt, err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "%s\n", err);
				return 3;
			}
			break;
		case 'x':
			if (exemptions_load(optarg, &ex, err, sizeof(err)) !=
			    0) {
				fprintf(stderr, "%s\n", err);
				return 3;
			}
			break;
		case 'h':
			eopts.helo_name = optarg;
			break;
		case 'P':
			eopts.port = (uint16_t)atoi(optarg);
			break;
		case 't':
			timeout = (unsigned)atoi(optarg);
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'k':
			r.chunk = (size_t)atoi(optarg);
			if (r.chunk == 0)
				usage();
			break;
		case 'n':
			eopts.no_reuse = true;
			break;
		case 'I':
			eopts.reuse_idle_ms = (unsigned)atoi(optarg);
			break;
		case 'W':
			pause_ms = atoi(optarg);
			break;
		case '8':
			r.from.smtputf8 = true;
			break;
		case 'T':
			r.from.tls_required_no = true;
			break;
		case 'f':
			r.from.sender = optarg;
			break;
		case 'Q':
			tlsrpt_state = optarg;
			break;
		default:
			usage();
		}
	}
	if (r.from.sender == NULL || argc - optind < 2)
		usage();
	r.domain = argv[optind];
	r.rcpts = argv + optind + 1;
	r.n_rcpts = argc - optind - 1;
	if ((r.msg = read_message(&r.msg_len)) == NULL)
		return 3;
	r.from.size = (long long)r.msg_len;

	r.base = event_base_new();
	ropts.timeout_ms = 5000;
	res = danegate_resolver_new(&ropts, r.base, &rc);
	if (r.base == NULL || res == NULL) {
		fprintf(stderr, "resolver: %s\n", danegate_strerror(rc));
		if (r.base != NULL)
			event_base_free(r.base);
		free(r.msg);
		return 3;
	}
	eopts.base = r.base;
	eopts.resolver = res;
	eopts.policies = pt;
	eopts.exemptions = ex;
	eopts.timeouts.connect_ms = timeout;
	eopts.timeouts.greeting_ms = eopts.timeouts.ehlo_ms = timeout;
	eopts.timeouts.starttls_ms = eopts.timeouts.mail_ms = timeout;
	eopts.timeouts.rcpt_ms = eopts.timeouts.data_ms = timeout;
	eopts.timeouts.block_ms = eopts.timeouts.data_end_ms = timeout;
	eopts.data_buffer = 16384;
	if (tlsrpt_state != NULL) {
		if ((rc = tlsrpt_open(tlsrpt_state, time(NULL), &rpt, err,
		    sizeof(err))) != 0) {
			fprintf(stderr, "tlsrpt: %s\n", err);
			free(r.msg);
			return 3;
		}
		eopts.tlsrpt = rpt;
	}
	if ((rc = outbound_env_new(&eopts, &r.env)) != 0) {
		fprintf(stderr, "outbound env: %s\n", danegate_strerror(rc));
		free(r.msg);
		return 3;
	}
	for (int i = 0; i < repeat; i++) {
		if (i > 0 && pause_ms > 0) {
			/* the loop runs meanwhile: idle sessions may expire */
			struct timeval tv = { pause_ms / 1000,
			    (pause_ms % 1000) * 1000 };

			event_base_loopexit(r.base, &tv);
			event_base_dispatch(r.base);
		}
		r.step = 0;
		r.accepted = 0;
		r.worst = 0;
		r.done = false;
		r.o = outbound_open(r.env, r.domain, &r.from, &cb, &r, &rc);
		if (r.o == NULL) {
			fprintf(stderr, "outbound_open: %s\n",
			    danegate_strerror(rc));
			free(r.msg);
			return 3;
		}
		while (!r.done)
			if (event_base_loop(r.base, EVLOOP_ONCE) < 0)
				break;
		if (r.worst > worst)
			worst = r.worst;
	}
	for (size_t i = 0; i < exemptions_count(ex); i++) {
		const struct exemption *e = exemptions_entry(ex, i);

		printf("exemption %s uses=%lu refused=%lu\n", e->domain,
		    e->uses, e->refused);
	}
	outbound_env_stats(r.env, &st);
	printf("stats transactions=%lu sessions=%lu reused=%lu resumed=%lu "
	    "sent=%lu deferred=%lu bounced=%lu exemptions_used=%lu "
	    "exemptions_refused=%lu tls_required_no=%lu\n", st.transactions,
	    st.sessions, st.reused, st.resumed, st.sent, st.deferred,
	    st.bounced, st.exemptions_used, st.exemptions_refused,
	    st.tls_required_no);
	for (int i = 0; i < DANEGATE_R_COUNT; i++)
		if (st.failures[i] > 0)
			printf("stats failures %s=%lu\n",
			    danegate_reason_name((enum danegate_reason)i),
			    st.failures[i]);
	outbound_env_free(r.env);
	if (rpt != NULL) {
		struct tlsrpt_org org = { "danegate test", "mailto:postmaster@"
		    "client.example", "@client.example" };
		char *json;

		if (tlsrpt_save(rpt) != 0)
			fprintf(stderr, "tlsrpt: cannot save %s\n", tlsrpt_state);
		if (tlsrpt_report_json(rpt, r.domain, &org, time(NULL),
		    &json) == 0) {
			printf("tlsrpt-report %s\n", json);
			free(json);
		}
		tlsrpt_free(rpt);
	}
	danegate_resolver_free(res);
	event_base_free(r.base);
	policy_table_free(pt);
	exemptions_free(ex);
	free(r.msg);
	return worst;
}
