/*
 * test_tlsrpt.c - danegate-relay's TLS-RPT (plugin/relay/tlsrpt.c): the
 * `_smtp._tls` TXT parser (refusals first, then records that parse), the
 * aggregate report checked against RFC 8460 §4.4's schema (names, types,
 * UTC dates), the state file round trip and gzip.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include <gnutls/gnutls.h>

#include "plugin/relay/tlsrpt.h"
#include "plugin/relay/tlsrpt_send.h"

static int
parse(const char *s, struct tlsrpt_txt *t, char *err, size_t errlen)
{
	return tlsrpt_txt_parse(s, strlen(s), t, err, errlen);
}

START_TEST(test_txt_refusals)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "", "v: not v=TLSRPTv1" },
		{ "v=tlsrptv1; rua=mailto:a@b", "v: not v=TLSRPTv1" },
		{ "v=TLSRPTv10; rua=mailto:a@b", "v: not v=TLSRPTv1" },
		{ " v=TLSRPTv1; rua=mailto:a@b", "v: not v=TLSRPTv1" },
		{ "v=TLSRPTv1", "rua: missing" },
		{ "v=TLSRPTv1;", "rua: missing" },
		{ "v=TLSRPTv1; ext=1", "rua: missing" },
		{ "v=TLSRPTv1 rua=mailto:a@b", "byte 11: ';' expected" },
		{ "v=TLSRPTv1; rua=", "rua: empty URI" },
		{ "v=TLSRPTv1; rua=mailto:a@b,", "rua: empty URI" },
		{ "v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d",
		    "rua: given twice" },
		{ "v=TLSRPTv1; v=TLSRPTv1; rua=mailto:a@b", "v: given twice" },
		{ "v=TLSRPTv1; rua=mailto:a@b!10m",
		    "rua: bad character 0x21 in URI" },
		{ "v=TLSRPTv1; rua=nocolon", "rua: URI without a scheme or a body" },
		{ "v=TLSRPTv1; rua=1x:y", "rua: URI without a scheme or a body" },
		{ "v=TLSRPTv1; rua=mailto:a@b c@d", "rua: blank inside a URI" },
		{ "v=TLSRPTv1; rua=mailto:a@b; =x", "field 2 bytes: not NAME=VALUE" },
		{ "v=TLSRPTv1; rua=mailto:a@b; e*x=1",
		    "extension name: bad character" },
		{ "v=TLSRPTv1; rua=mailto:a@b; ext=", "extension ext: empty value" },
		{ "v=TLSRPTv1; rua=mailto:a@b; ext=a=b", "extension ext: bad value" },
		{ "v=TLSRPTv1; rua=a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8,a:9",
		    "rua: more than 8 URIs" },
	};
	struct tlsrpt_txt t;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(parse(cases[i].in, &t, err, sizeof(err)),
		    DANEGATE_E_INVALID);
		ck_assert_str_eq(err, cases[i].err);
		ck_assert_uint_eq(t.n_rua, 0);
	}
	/* a NUL inside the text is refused, not cut off */
	ck_assert_int_eq(tlsrpt_txt_parse("v=TLSRPTv1;rua=mailto:a@b\0x", 27,
	    &t, err, sizeof(err)), DANEGATE_E_INVALID);
}
END_TEST

START_TEST(test_txt_records)
{
	struct tlsrpt_txt t;
	char err[256];

	ck_assert_int_eq(parse("v=TLSRPTv1; rua=mailto:tlsrpt@example.net",
	    &t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.n_rua, 1);
	ck_assert_int_eq(t.rua[0].kind, TLSRPT_RUA_MAILTO);
	ck_assert_str_eq(t.rua[0].uri, "mailto:tlsrpt@example.net");
	tlsrpt_txt_clear(&t);

	/* §3's example shapes: WSP around ',' and ';', a trailing ';',
	 * schemes case-insensitive, unknown schemes kept but not sent to */
	ck_assert_int_eq(parse("v=TLSRPTv1 ;\trua=HTTPS://r.example.net/x , "
	    "mailto:a@example.net,ftp://f ; ext-1.b=v ;", &t, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(t.n_rua, 3);
	ck_assert_int_eq(t.rua[0].kind, TLSRPT_RUA_HTTPS);
	ck_assert_str_eq(t.rua[0].uri, "HTTPS://r.example.net/x");
	ck_assert_int_eq(t.rua[1].kind, TLSRPT_RUA_MAILTO);
	ck_assert_int_eq(t.rua[2].kind, TLSRPT_RUA_OTHER);
	tlsrpt_txt_clear(&t);

	/* "!" percent-encoded is fine */
	ck_assert_int_eq(parse("v=TLSRPTv1;rua=mailto:a%21b@example.net", &t,
	    err, sizeof(err)), 0);
	tlsrpt_txt_clear(&t);

	ck_assert(tlsrpt_txt_is_tlsrpt("v=TLSRPTv1", 10));
	ck_assert(tlsrpt_txt_is_tlsrpt("v=TLSRPTv1;x", 12));
	ck_assert(!tlsrpt_txt_is_tlsrpt("v=TLSRPTv1x", 11));
	ck_assert(!tlsrpt_txt_is_tlsrpt("v=spf1 -all", 11));
}
END_TEST

static const char *const tlsa_strings[] = { "3 1 1 "
    "0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6" };

static void
record_some(struct tlsrpt *t)
{
	struct tlsrpt_session s = {
		.domain = "example.net", .type = TLSRPT_POLICY_TLSA,
		.policy_strings = tlsa_strings, .n_policy_strings = 1,
		.mx_host = "mx1.example.net", .sending_ip = "127.70.0.1",
		.receiving_ip = "127.70.1.25", .success = true,
		.reason = DANEGATE_R_DANE_VERIFIED,
	};
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	s.success = false;
	s.reason = DANEGATE_R_STARTTLS_NOT_SUPPORTED;
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	s.reason = DANEGATE_R_VALIDATION_FAILURE;
	s.receiving_ip = "127.70.1.26";
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	/* another domain without any policy */
	s.domain = "plain.example";
	s.type = TLSRPT_POLICY_NONE;
	s.policy_strings = NULL;
	s.n_policy_strings = 0;
	s.mx_host = "mx.plain.example";
	s.success = true;
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
}

static json_object *
get(json_object *o, const char *key, json_type ty)
{
	json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	ck_assert_msg(json_object_is_type(v, ty), "%s: wrong type", key);
	return v;
}

/* RFC 3339 in UTC, as §4.4 asks: YYYY-MM-DDTHH:MM:SSZ */
static void
check_utc(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ck_assert_msg(end != NULL && *end == '\0', "not UTC: %s", s);
}

START_TEST(test_report_json)
{
	struct tlsrpt *t;
	struct tlsrpt_org org = { "Example Relay", "mailto:postmaster@relay",
	    "@relay.example.org" };
	json_object *r, *p, *pol, *sum, *fd, *d, *pols;
	char *json, err[256];
	size_t i, nkeys = 0;
	long long fails = 0;

	ck_assert_int_eq(tlsrpt_open(NULL, 1796342400, &t, err, sizeof(err)),
	    0);
	record_some(t);
	ck_assert_int_eq(tlsrpt_report_json(t, "nothing.example", &org,
	    1796428800, &json), DANEGATE_E_INVALID);
	ck_assert_int_eq(tlsrpt_report_json(t, "example.net", &org,
	    1796428800, &json), 0);
	r = json_tokener_parse(json);
	ck_assert_ptr_nonnull(r);
	/* §4.4: exactly these top-level members */
	json_object_object_foreach(r, key, val) {
		(void)key;
		(void)val;
		nkeys++;
	}
	ck_assert_uint_eq(nkeys, 5);
	ck_assert_str_eq(json_object_get_string(get(r, "organization-name",
	    json_type_string)), "Example Relay");
	ck_assert_str_eq(json_object_get_string(get(r, "contact-info",
	    json_type_string)), "mailto:postmaster@relay");
	ck_assert_str_eq(json_object_get_string(get(r, "report-id",
	    json_type_string)),
	    "20261204T000000Z_example.net@relay.example.org");
	d = get(r, "date-range", json_type_object);
	ck_assert_str_eq(json_object_get_string(get(d, "start-datetime",
	    json_type_string)), "2026-12-04T00:00:00Z");
	ck_assert_str_eq(json_object_get_string(get(d, "end-datetime",
	    json_type_string)), "2026-12-05T00:00:00Z");
	check_utc(json_object_get_string(get(d, "start-datetime",
	    json_type_string)));
	pols = get(r, "policies", json_type_array);
	ck_assert_uint_eq(json_object_array_length(pols), 1);
	p = json_object_array_get_idx(pols, 0);
	pol = get(p, "policy", json_type_object);
	ck_assert_str_eq(json_object_get_string(get(pol, "policy-type",
	    json_type_string)), "tlsa");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	    get(pol, "policy-string", json_type_array), 0)), tlsa_strings[0]);
	ck_assert_str_eq(json_object_get_string(get(pol, "policy-domain",
	    json_type_string)), "example.net");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	    get(pol, "mx-host", json_type_array), 0)), "mx1.example.net");
	sum = get(p, "summary", json_type_object);
	ck_assert_int_eq(json_object_get_int(get(sum,
	    "total-successful-session-count", json_type_int)), 3);
	ck_assert_int_eq(json_object_get_int(get(sum,
	    "total-failure-session-count", json_type_int)), 3);
	fd = get(p, "failure-details", json_type_array);
	ck_assert_uint_eq(json_object_array_length(fd), 2);
	for (i = 0; i < 2; i++) {
		d = json_object_array_get_idx(fd, i);
		get(d, "result-type", json_type_string);
		get(d, "sending-mta-ip", json_type_string);
		get(d, "receiving-mx-hostname", json_type_string);
		get(d, "receiving-ip", json_type_string);
		fails += json_object_get_int(get(d, "failed-session-count",
		    json_type_int));
	}
	ck_assert_int_eq(fails, 3);
	d = json_object_array_get_idx(fd, 0);
	ck_assert_str_eq(json_object_get_string(get(d, "result-type",
	    json_type_string)), "starttls-not-supported");
	ck_assert_int_eq(json_object_get_int(get(d, "failed-session-count",
	    json_type_int)), 2);
	json_object_put(r);
	free(json);

	/* no-policy-found: no policy-string entries, no failures */
	ck_assert_int_eq(tlsrpt_report_json(t, "plain.example", &org,
	    1796428800, &json), 0);
	r = json_tokener_parse(json);
	pol = get(json_object_array_get_idx(get(r, "policies",
	    json_type_array), 0), "policy", json_type_object);
	ck_assert_str_eq(json_object_get_string(get(pol, "policy-type",
	    json_type_string)), "no-policy-found");
	ck_assert_uint_eq(json_object_array_length(get(pol, "policy-string",
	    json_type_array)), 0);
	json_object_put(r);
	free(json);
	tlsrpt_free(t);
}
END_TEST

/* RFC 8460 §4.4 for sts: the policy's lines as policy-string, its mx
 * patterns one per mx-host element, the MX used in the failure details;
 * tlsrpt_counts() sums the policies of the period and of an owed report */
START_TEST(test_sts_policy)
{
	static const char *const lines[] = { "version: STSv1",
	    "mode: testing", "mx: mx.example.org", "mx: *.mx.example.org",
	    "max_age: 86400" };
	struct tlsrpt_session s = { .domain = "example.org",
	    .type = TLSRPT_POLICY_STS, .policy_strings = lines,
	    .n_policy_strings = 5, .mx_host = "a.mx.example.org",
	    .policy_mx = "mx.example.org *.mx.example.org",
	    .sending_ip = "192.0.2.1", .receiving_ip = "192.0.2.25",
	    .success = true };
	struct tlsrpt_org org = { "Example Relay", "mailto:postmaster@relay",
	    "@relay.example.org" };
	struct tlsrpt *t;
	json_object *r, *p, *mx, *ps, *d;
	char *json, err[256];
	uint64_t ok, fail;
	size_t replaced;

	ck_assert_int_eq(tlsrpt_open(NULL, 1796342400, &t, err, sizeof(err)),
	    0);
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	s.success = false;
	s.reason = DANEGATE_R_VALIDATION_FAILURE;
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	ck_assert_int_eq(tlsrpt_counts(t, "example.org", false, &ok, &fail),
	    0);
	ck_assert_uint_eq(ok, 1);
	ck_assert_uint_eq(fail, 1);
	ck_assert_int_eq(tlsrpt_counts(t, "example.org", true, &ok, &fail),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(tlsrpt_report_json(t, "example.org", &org,
	    1796428800, &json), 0);
	r = json_tokener_parse(json);
	ck_assert_ptr_nonnull(r);
	p = json_object_array_get_idx(get(r, "policies", json_type_array), 0);
	ck_assert_str_eq(json_object_get_string(get(get(p, "policy",
	    json_type_object), "policy-type", json_type_string)), "sts");
	ps = get(get(p, "policy", json_type_object), "policy-string",
	    json_type_array);
	ck_assert_uint_eq(json_object_array_length(ps), 5);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(ps,
	    3)), "mx: *.mx.example.org");
	mx = get(get(p, "policy", json_type_object), "mx-host",
	    json_type_array);
	ck_assert_uint_eq(json_object_array_length(mx), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(mx,
	    0)), "mx.example.org");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(mx,
	    1)), "*.mx.example.org");
	d = json_object_array_get_idx(get(p, "failure-details",
	    json_type_array), 0);
	ck_assert_str_eq(json_object_get_string(get(d, "result-type",
	    json_type_string)), "validation-failure");
	ck_assert_str_eq(json_object_get_string(get(d,
	    "receiving-mx-hostname", json_type_string)), "a.mx.example.org");
	json_object_put(r);
	free(json);
	ck_assert_int_eq(tlsrpt_close_period(t, 1796428800, &replaced), 0);
	ck_assert_int_eq(tlsrpt_counts(t, "example.org", false, &ok, &fail),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(tlsrpt_counts(t, "example.org", true, &ok, &fail),
	    0);
	ck_assert_uint_eq(ok + fail, 2);
	tlsrpt_free(t);
}
END_TEST

START_TEST(test_state_roundtrip)
{
	char dir[] = "/tmp/test_tlsrpt.XXXXXX", path[128], err[256];
	char *a, *b, **doms;
	size_t n;
	struct tlsrpt *t;
	struct tlsrpt_org org = { "o", "c", NULL };
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tlsrpt.state", dir);
	ck_assert_int_eq(tlsrpt_open(path, 1796342400, &t, err, sizeof(err)),
	    0);
	record_some(t);
	ck_assert_int_eq(tlsrpt_save(t), 0);
	ck_assert_int_eq(tlsrpt_report_json(t, "example.net", &org, 1796400000,
	    &a), 0);
	tlsrpt_free(t);
	/* no temporary file left behind */
	snprintf(err, sizeof(err), "%s.tmp", path);
	ck_assert_int_ne(access(err, F_OK), 0);

	/* a restart: the same counts, the same period */
	ck_assert_int_eq(tlsrpt_open(path, 1796399999, &t, err, sizeof(err)),
	    0);
	ck_assert_int_eq((long long)tlsrpt_period_start(t), 1796342400LL);
	ck_assert_int_eq(tlsrpt_report_json(t, "example.net", &org, 1796400000,
	    &b), 0);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(tlsrpt_domains(t, &doms, &n), 0);
	ck_assert_uint_eq(n, 2);
	tlsrpt_domains_free(doms, n);
	free(a);
	free(b);
	tlsrpt_reset(t, 1796428800);
	ck_assert_int_eq(tlsrpt_domains(t, &doms, &n), 0);
	ck_assert_uint_eq(n, 0);
	tlsrpt_domains_free(doms, n);
	tlsrpt_free(t);

	/* a damaged file is refused, naming the file and the field */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"version\":1,\"period-start\":0,\"domains\":{\"a\":"
	    "[{\"policy-type\":\"tlsa\"}]}}", f);
	fclose(f);
	ck_assert_int_eq(tlsrpt_open(path, 0, &t, err, sizeof(err)),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_null(t);
	ck_assert_ptr_nonnull(strstr(err, "tlsrpt.state: domains.a[0]: bad "
	    "policy"));
	f = fopen(path, "w");
	fputs("{\"version\":2}", f);
	fclose(f);
	ck_assert_int_eq(tlsrpt_open(path, 0, &t, err, sizeof(err)),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "version: not 1"));
	unlink(path);
	rmdir(dir);
}
END_TEST

/* The daily run: the closed period's counts become owed reports that
 * survive a restart; the new period counts apart; a delivered report is
 * dropped; an undelivered one is replaced by the next period's. */
START_TEST(test_close_period)
{
	char dir[] = "/tmp/test_tlsrpt.XXXXXX", path[128], err[256];
	char *json, *before, **doms;
	size_t n, replaced;
	time_t start, end;
	struct tlsrpt *t;
	struct tlsrpt_org org = { "o", "c", NULL };
	struct tlsrpt_session s = { .domain = "example.net",
	    .type = TLSRPT_POLICY_NONE, .mx_host = "mx.example.net",
	    .success = true };
	const time_t day1 = 1796342400, day2 = day1 + 86400;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tlsrpt.state", dir);
	ck_assert_int_eq(tlsrpt_open(path, day1, &t, err, sizeof(err)), 0);
	/* a new file has nothing owed */
	ck_assert_int_eq(tlsrpt_owed(t, &doms, &n), 0);
	ck_assert_uint_eq(n, 0);
	tlsrpt_domains_free(doms, n);
	record_some(t);
	ck_assert_int_eq(tlsrpt_report_json(t, "example.net", &org, day2,
	    &before), 0);
	ck_assert_int_eq(tlsrpt_close_period(t, day2, &replaced), 0);
	ck_assert_uint_eq(replaced, 0);
	ck_assert_int_eq((long long)tlsrpt_period_start(t), (long long)day2);
	ck_assert_int_eq(tlsrpt_domains(t, &doms, &n), 0);
	ck_assert_uint_eq(n, 0);
	tlsrpt_domains_free(doms, n);
	/* a session of the new period is not in the owed report */
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	ck_assert_int_eq(tlsrpt_save(t), 0);
	tlsrpt_free(t);

	ck_assert_int_eq(tlsrpt_open(path, day2 + 5, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(tlsrpt_owed(t, &doms, &n), 0);
	ck_assert_uint_eq(n, 2);
	tlsrpt_domains_free(doms, n);
	ck_assert_int_eq(tlsrpt_owed_report(t, "example.net", &org, &json,
	    &start, &end), 0);
	ck_assert_int_eq((long long)start, (long long)day1);
	ck_assert_int_eq((long long)end, (long long)day2);
	ck_assert_str_eq(json, before);
	free(json);
	free(before);
	tlsrpt_owed_done(t, "example.net");
	ck_assert_int_eq(tlsrpt_owed_report(t, "example.net", &org, &json,
	    &start, &end), DANEGATE_E_INVALID);
	/* plain.example's stays owed until the next run replaces it */
	s.domain = "plain.example";
	ck_assert_int_eq(tlsrpt_record(t, &s), 0);
	ck_assert_int_eq(tlsrpt_close_period(t, day2 + 86400, &replaced), 0);
	ck_assert_uint_eq(replaced, 1);
	ck_assert_int_eq(tlsrpt_owed_report(t, "plain.example", &org, &json,
	    &start, &end), 0);
	ck_assert_int_eq((long long)start, (long long)day2);
	ck_assert_ptr_nonnull(strstr(json, "\"start-datetime\":"
	    "\"2026-12-05T00:00:00Z\""));
	ck_assert_ptr_nonnull(strstr(json, "\"end-datetime\":"
	    "\"2026-12-06T00:00:00Z\""));
	ck_assert_ptr_nonnull(strstr(json, "\"total-successful-session-count"
	    "\":1,"));
	free(json);
	ck_assert_int_eq(tlsrpt_owed_report(t, "example.net", &org, &json,
	    &start, &end), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"mx-host\":[\"mx.example.net"
	    "\"]"));
	free(json);
	tlsrpt_free(t);

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"version\":1,\"period-start\":0,\"domains\":{},"
	    "\"owed\":{\"a\":{\"start\":0,\"end\":1,\"policies\":"
	    "[{}]}}}", f);
	fclose(f);
	ck_assert_int_eq(tlsrpt_open(path, 0, &t, err, sizeof(err)),
	    DANEGATE_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "owed.a.policies[0]: bad policy"));
	unlink(path);
	rmdir(dir);
}
END_TEST

/* mailto: URIs (RFC 6068) down to one plain address, or refused. */
START_TEST(test_mailto_addr)
{
	static const char *const bad[] = {
		"https://x@y", "mailto:", "mailto:nobody", "mailto:a@b@c",
		"mailto:a@b,c@d", "mailto:a%2Cx@b", "mailto:a%0D%0AX@b",
		"mailto:<a@b>", "mailto:a b@c", "mailto:a%4", "mailto:a%zz@b",
		"mailto:@b", "mailto:a@", "mailto:a%00@b",
	};
	char *a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(tlsrpt_mailto_addr(bad[i], &a) ==
		    DANEGATE_E_INVALID && a == NULL, "accepted %s", bad[i]);
	ck_assert_int_eq(tlsrpt_mailto_addr("mailto:tlsrpt@example.net", &a),
	    0);
	ck_assert_str_eq(a, "tlsrpt@example.net");
	free(a);
	ck_assert_int_eq(tlsrpt_mailto_addr("MAILTO:tls%2Brpt@example.net"
	    "?subject=x", &a), 0);
	ck_assert_str_eq(a, "tls+rpt@example.net");
	free(a);
}
END_TEST

/* The RFC 8460 §5.3 message: headers, the two parts, the base64 part
 * decoding to the gzip given. */
START_TEST(test_mail_compose)
{
	static const unsigned char gz[100] = { 0x1f, 0x8b, 8 };
	char *m, *p, *e, line[200];
	unsigned char back[128];
	size_t n = 0, k;

	ck_assert_int_eq(tlsrpt_mail_compose("noreply@relay.example.org",
	    "tlsrpt@example.net", "relay.example.org", "example.net",
	    "20261204T000000Z_example.net@relay.example.org", 1796342400LL,
	    1796428800LL, gz, sizeof(gz), 1796430000LL, &m), 0);
	/* every line ends with CRLF, none is longer than 78 */
	for (p = m; *p != '\0'; p = e + 2) {
		e = strstr(p, "\r\n");
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_le((size_t)(e - p), 78);
		ck_assert_ptr_null(memchr(p, '\n', (size_t)(e - p)));
	}
	ck_assert(strncmp(m, "From: <noreply@relay.example.org>\r\n",
	    strlen("From: <noreply@relay.example.org>\r\n")) == 0);
	ck_assert_ptr_nonnull(strstr(m, "\r\nTo: <tlsrpt@example.net>\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nDate: Sat, 05 Dec 2026 "));
	ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: Report Domain: "
	    "example.net Submitter: relay.example.org\r\n Report-ID: "
	    "<20261204T000000Z_example.net@relay.example.org>\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nTLS-Report-Domain: example.net"
	    "\r\nTLS-Report-Submitter: relay.example.org\r\n"
	    "TLS-Required: No\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nMessage-ID: <"));
	ck_assert_ptr_nonnull(strstr(m, "@relay.example.org>\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "Content-Type: multipart/report; "
	    "report-type=\"tlsrpt\";\r\n\tboundary=\""));
	ck_assert_ptr_nonnull(strstr(m, "Content-Type: text/plain"));
	ck_assert_ptr_nonnull(strstr(m, "filename=\"relay.example.org!"
	    "example.net!1796342400!1796428800.json.gz\""));
	p = strstr(m, "Content-Type: application/tlsrpt+gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\n");
	ck_assert_ptr_nonnull(p);
	p = strstr(p, "\r\n\r\n") + 4;
	/* the base64 lines up to the empty line before the boundary */
	while (strncmp(p, "\r\n", 2) != 0) {
		gnutls_datum_t in, out;

		e = strstr(p, "\r\n");
		ck_assert_uint_lt((size_t)(e - p), sizeof(line));
		memcpy(line, p, (size_t)(e - p));
		in.data = (unsigned char *)line;
		in.size = (unsigned)(e - p);
		ck_assert_int_eq(gnutls_base64_decode2(&in, &out), 0);
		k = out.size;
		ck_assert_uint_le(n + k, sizeof(back));
		memcpy(back + n, out.data, k);
		n += k;
		gnutls_free(out.data);
		p = e + 2;
	}
	ck_assert_uint_eq(n, sizeof(gz));
	ck_assert_int_eq(memcmp(back, gz, n), 0);
	ck_assert(strncmp(p + 2, "--", 2) == 0);
	ck_assert_ptr_nonnull(strstr(p, "--\r\n"));
	free(m);
}
END_TEST

START_TEST(test_gzip)
{
	static const char text[] = "{\"organization-name\":\"x\"}";
	unsigned char *gz, back[128] = { 0 };
	size_t len;
	z_stream z;

	ck_assert_int_eq(tlsrpt_gzip(text, sizeof(text) - 1, &gz, &len), 0);
	/* RFC 1952 magic */
	ck_assert(len > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)len;
	z.next_out = back;
	z.avail_out = sizeof(back);
	ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	ck_assert_uint_eq(z.total_out, sizeof(text) - 1);
	ck_assert_int_eq(memcmp(back, text, sizeof(text) - 1), 0);
	inflateEnd(&z);
	free(gz);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("tlsrpt");
	TCase *tc = tcase_create("tlsrpt");

	tcase_add_test(tc, test_txt_refusals);
	tcase_add_test(tc, test_txt_records);
	tcase_add_test(tc, test_report_json);
	tcase_add_test(tc, test_sts_policy);
	tcase_add_test(tc, test_state_roundtrip);
	tcase_add_test(tc, test_close_period);
	tcase_add_test(tc, test_mailto_addr);
	tcase_add_test(tc, test_mail_compose);
	tcase_add_test(tc, test_gzip);
	suite_add_tcase(s, tc);
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
