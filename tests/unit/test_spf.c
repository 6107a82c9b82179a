/*
 * test_spf.c - unit tests for plugin/spf.c: the static subset of RFC 7208
 * (ip4/ip6/all, qualifiers; lookups reported, not made), a table of
 * records, addresses and the result each must give; check_host() driven
 * by canned DNS answers (a small zone in a table), as spf_lookup.c drives
 * it with the resolver's; the macro expander against RFC 7208 §7.4's
 * examples.
 *
 * SECURITY: test program; no I/O.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "spf.h"

static enum spf_result
check(const char *rec, const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return spf_check_static(rec, strlen(rec), (struct sockaddr *)&ss);
}

static const struct {
	const char *rec, *ip;
	enum spf_result want;
} table[] = {
	/* not SPF */
	{ "", "192.0.2.1", SPF_R_NONE },
	{ "v=spf10 -all", "192.0.2.1", SPF_R_NONE },
	{ "spf1 -all", "192.0.2.1", SPF_R_NONE },
	/* bad terms: permerror (§4.6) */
	{ "v=spf1 ip4:192.0.2.300 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.0/33 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.0/024 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.0/ -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip6:2001:db8::/129 -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 frobnicate -all", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 - -all", "192.0.2.1", SPF_R_PERMERROR },
	/* matches, first wins, qualifiers */
	{ "v=spf1 ip4:192.0.2.1 -all", "192.0.2.1", SPF_R_PASS },
	{ "v=spf1 ip4:192.0.2.1 -all", "192.0.2.2", SPF_R_FAIL },
	{ "v=spf1 ip4:192.0.2.0/24 ~all", "192.0.2.77", SPF_R_PASS },
	{ "v=spf1 ip4:192.0.2.0/25 ~all", "192.0.2.200", SPF_R_SOFTFAIL },
	{ "v=spf1 ip4:0.0.0.0/0", "203.0.113.9", SPF_R_PASS },
	{ "v=spf1 -ip4:192.0.2.1 +all", "192.0.2.1", SPF_R_FAIL },
	{ "v=spf1 ?ip4:192.0.2.1 -all", "192.0.2.1", SPF_R_NEUTRAL },
	{ "V=SPF1 IP4:192.0.2.1 -ALL", "192.0.2.1", SPF_R_PASS },
	{ "v=spf1  ip4:192.0.2.1   -all ", "192.0.2.9", SPF_R_FAIL },
	{ "v=spf1 ip4:192.0.2.1", "192.0.2.9", SPF_R_NEUTRAL },
	{ "v=spf1", "192.0.2.9", SPF_R_NEUTRAL },
	/* IPv6, and v4-mapped counts as IPv4 (§5) */
	{ "v=spf1 ip6:2001:db8::/32 -all", "2001:db8:1::25", SPF_R_PASS },
	{ "v=spf1 ip6:2001:db8::/33 -all", "2001:db8:8000::1", SPF_R_FAIL },
	{ "v=spf1 ip6:2001:db8::1 -all", "192.0.2.1", SPF_R_FAIL },
	{ "v=spf1 ip4:192.0.2.1 -all", "::ffff:192.0.2.1", SPF_R_PASS },
	/* modifiers: exp= ignored, redirect= needs a lookup */
	{ "v=spf1 exp=explain.example ip4:192.0.2.1 -all", "192.0.2.1",
	  SPF_R_PASS },
	{ "v=spf1 redirect=_spf.example", "192.0.2.1", SPF_R_NEEDS_LOOKUP },
	/* lookups are not made: the check stops at the first */
	{ "v=spf1 mx -all", "192.0.2.1", SPF_R_NEEDS_LOOKUP },
	{ "v=spf1 a/24 -all", "192.0.2.1", SPF_R_NEEDS_LOOKUP },
	{ "v=spf1 include:spf.protection.outlook.com -all", "192.0.2.1",
	  SPF_R_NEEDS_LOOKUP },
	{ "v=spf1 ip4:192.0.2.1 include:x.example -all", "192.0.2.1",
	  SPF_R_PASS },
	{ "v=spf1 exists:%{i}.x.example -all", "192.0.2.1",
	  SPF_R_NEEDS_LOOKUP },
	/* the grammar is checked before anything is evaluated (§4.6) */
	{ "v=spf1 ip4:192.0.2.1 frobnicate -all", "192.0.2.1",
	  SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 include:%{q}.example", "192.0.2.1",
	  SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 include:foo", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 a:foo.123", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 redirect=a.example redirect=b.example",
	  "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 -redirect=a.example", "192.0.2.1",
	  SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 a/33", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 mx//129", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 include", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 all:x", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 ip4:192.0.2.1 foo=%{x}", "192.0.2.1", SPF_R_PERMERROR },
	{ "v=spf1 foo.bar=%{d} ip4:192.0.2.1", "192.0.2.1", SPF_R_PASS },
	{ "v=spf1 ptr -all", "192.0.2.1", SPF_R_FAIL },
};

START_TEST(spf_table)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		ck_assert_msg(check(table[i].rec, table[i].ip) == table[i].want,
		    "\"%s\" for %s: got %s, want %s", table[i].rec,
		    table[i].ip, spf_result_name(check(table[i].rec,
		    table[i].ip)), spf_result_name(table[i].want));
	ck_assert_str_eq(spf_result_name(SPF_R_SOFTFAIL), "softfail");
}
END_TEST

/* ---- check_host() over canned answers ---------------------------------- */

/* A canned zone: name, type, status, and up to 4 items (TXT text, MX
 * exchange name, A/AAAA address text). */
static const struct canned {
	const char *name;
	uint16_t type;
	enum spf_dns_status st;
	const char *items[12];
} zone[] = {
	{ "school.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 include:spf.provider.example -all", "other text" } },
	{ "spf.provider.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 ip4:198.51.100.0/24 a:out.provider.example mx ~all" } },
	{ "out.provider.example", DNS_TYPE_A, SPF_DNS_OK, { "203.0.113.7" } },
	{ "spf.provider.example", DNS_TYPE_MX, SPF_DNS_OK,
	  { "mx1.provider.example", "mx2.provider.example" } },
	{ "mx1.provider.example", DNS_TYPE_A, SPF_DNS_OK, { "203.0.113.20" } },
	{ "mx2.provider.example", DNS_TYPE_A, SPF_DNS_OK,
	  { "203.0.113.21" } },
	{ "mx2.provider.example", DNS_TYPE_AAAA, SPF_DNS_OK,
	  { "2001:db8:5::21" } },
	/* redirect, and a loop of includes */
	{ "redir.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 ip4:192.0.2.99 redirect=school.example" } },
	{ "loop.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 include:loop.example -all" } },
	{ "many.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 a:h1.example a:h2.example a:h3.example a:h4.example "
	    "a:h5.example a:h6.example a:h7.example a:h8.example "
	    "a:h9.example a:h10.example a:h11.example ip4:192.0.2.5 -all" } },
	{ "ten.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 a:h1.example a:h2.example a:h3.example a:h4.example "
	    "a:h5.example a:h6.example a:h7.example a:h8.example "
	    "a:h9.example a:h10.example ip4:192.0.2.5 -all" } },
	{ "h1.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.1" } },
	{ "h2.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.2" } },
	{ "h3.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.3" } },
	{ "h4.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.4" } },
	{ "h5.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.5" } },
	{ "h6.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.6" } },
	{ "h7.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.7" } },
	{ "h8.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.8" } },
	{ "h9.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.9" } },
	{ "h10.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.10" } },
	{ "h11.example", DNS_TYPE_A, SPF_DNS_OK, { "10.0.0.11" } },
	/* void lookups: the third is a permerror */
	{ "voids.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 a:nx1.example a:nx2.example a:nx3.example "
	    "ip4:192.0.2.5 -all" } },
	{ "twovoids.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 a:nx1.example a:nx2.example ip4:192.0.2.5 -all" } },
	/* an mx with 11 names */
	{ "bigmx.example", DNS_TYPE_TXT, SPF_DNS_OK, { "v=spf1 mx -all" } },
	{ "bigmx.example", DNS_TYPE_MX, SPF_DNS_OK,
	  { "h1.example", "h2.example", "h3.example", "h4.example",
	    "h5.example", "h6.example", "h7.example", "h8.example",
	    "h9.example", "h10.example", "h11.example" } },
	/* two records; a SERVFAIL; an include of a failing name */
	{ "two.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 -all", "v=spf1 +all" } },
	{ "fail.example", DNS_TYPE_TXT, SPF_DNS_FAIL, { NULL } },
	{ "incfail.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 ip4:192.0.2.1 include:fail.example -all" } },
	{ "incnone.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 include:nx1.example -all" } },
	{ "incfailrec.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 include:hard.example ip4:192.0.2.5 -all" } },
	{ "hard.example", DNS_TYPE_TXT, SPF_DNS_OK, { "v=spf1 -all" } },
	/* exists with a macro; a/cidr; ptr never matches */
	{ "ex.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all" } },
	{ "5.2.0.192.user._spf.ex.example", DNS_TYPE_A, SPF_DNS_OK,
	  { "127.0.0.2" } },
	{ "cidr.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 a/24//64 -all" } },
	{ "cidr.example", DNS_TYPE_A, SPF_DNS_OK, { "192.0.2.200" } },
	{ "cidr.example", DNS_TYPE_AAAA, SPF_DNS_OK, { "2001:db8:1:1::1" } },
	{ "ptr.example", DNS_TYPE_TXT, SPF_DNS_OK, { "v=spf1 ptr ~all" } },
	{ "redirnone.example", DNS_TYPE_TXT, SPF_DNS_OK,
	  { "v=spf1 redirect=nx1.example" } },
};

/* Evaluates like spf_lookup.c does: each query the evaluation needs is
 * answered from the zone (absent: NXDOMAIN) and it runs again. */
static enum spf_result
eval_canned(const char *domain, const char *sender, const char *ip,
    unsigned *queries)
{
	struct sockaddr_storage ss;
	struct spf_request req = { (struct sockaddr *)&ss, domain, sender,
	    "mta.example" };
	struct spf_dns c = { 0 };
	struct spf_query q;
	enum spf_result r;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	*queries = 0;
	while ((r = spf_eval(&c, &req, &q)) == SPF_R_NEEDS_LOOKUP) {
		const struct canned *z = NULL;
		const uint8_t *items[12];
		size_t lens[12], n = 0;
		uint8_t addrs[12][16];

		ck_assert_uint_lt(++*queries, 100);
		for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++)
			if (zone[i].type == q.type &&
			    strcmp(zone[i].name, q.name) == 0)
				z = &zone[i];
		if (z == NULL) {
			ck_assert_int_eq(spf_dns_add(&c, q.name, q.type,
			    SPF_DNS_NXDOMAIN, NULL, NULL, 0), 0);
			continue;
		}
		for (; n < 12 && z->items[n] != NULL; n++) {
			if (q.type == DNS_TYPE_A || q.type == DNS_TYPE_AAAA) {
				ck_assert_int_eq(inet_pton(q.type ==
				    DNS_TYPE_A ? AF_INET : AF_INET6,
				    z->items[n], addrs[n]), 1);
				items[n] = addrs[n];
				lens[n] = q.type == DNS_TYPE_A ? 4 : 16;
			} else {
				items[n] = (const uint8_t *)z->items[n];
				lens[n] = strlen(z->items[n]);
			}
		}
		ck_assert_int_eq(spf_dns_add(&c, q.name, q.type, z->st, items,
		    lens, n), 0);
	}
	spf_dns_clear(&c);
	return r;
}

static const struct {
	const char *domain, *sender, *ip;
	enum spf_result want;
} hosts[] = {
	/* include: pass through ip4, a: and mx; IPv6 through mx's AAAA */
	{ "school.example", NULL, "198.51.100.9", SPF_R_PASS },
	{ "school.example", NULL, "203.0.113.7", SPF_R_PASS },
	{ "school.example", NULL, "203.0.113.21", SPF_R_PASS },
	{ "school.example", NULL, "2001:db8:5::21", SPF_R_PASS },
	/* the include's ~all is no match: the outer -all (§5.2) */
	{ "school.example", NULL, "192.0.2.1", SPF_R_FAIL },
	{ "redir.example", NULL, "192.0.2.99", SPF_R_PASS },
	{ "redir.example", NULL, "203.0.113.20", SPF_R_PASS },
	{ "redir.example", NULL, "192.0.2.1", SPF_R_FAIL },
	{ "redirnone.example", NULL, "192.0.2.1", SPF_R_PERMERROR },
	/* limits (§4.6.4) */
	{ "loop.example", NULL, "192.0.2.1", SPF_R_PERMERROR },
	{ "many.example", NULL, "192.0.2.5", SPF_R_PERMERROR },
	{ "ten.example", NULL, "192.0.2.5", SPF_R_PASS },
	{ "voids.example", NULL, "192.0.2.5", SPF_R_PERMERROR },
	{ "twovoids.example", NULL, "192.0.2.5", SPF_R_PASS },
	{ "bigmx.example", NULL, "10.0.0.1", SPF_R_PERMERROR },
	/* records and DNS failures */
	{ "two.example", NULL, "192.0.2.1", SPF_R_PERMERROR },
	{ "fail.example", NULL, "192.0.2.1", SPF_R_TEMPERROR },
	{ "incfail.example", NULL, "192.0.2.1", SPF_R_PASS },
	{ "incfail.example", NULL, "192.0.2.2", SPF_R_TEMPERROR },
	{ "incnone.example", NULL, "192.0.2.2", SPF_R_PERMERROR },
	{ "incfailrec.example", NULL, "192.0.2.5", SPF_R_PASS },
	{ "nx1.example", NULL, "192.0.2.5", SPF_R_NONE },
	{ "single", NULL, "192.0.2.5", SPF_R_NONE },
	/* macros in exists: i reversed, l's first part reversed */
	{ "ex.example", "user-x@ex.example", "192.0.2.5", SPF_R_PASS },
	{ "ex.example", "other@ex.example", "192.0.2.5", SPF_R_FAIL },
	/* dual-cidr */
	{ "cidr.example", NULL, "192.0.2.1", SPF_R_PASS },
	{ "cidr.example", NULL, "192.0.3.1", SPF_R_FAIL },
	{ "cidr.example", NULL, "2001:db8:1:1:ffff::1", SPF_R_PASS },
	{ "cidr.example", NULL, "2001:db8:1:2::1", SPF_R_FAIL },
	{ "ptr.example", NULL, "192.0.2.1", SPF_R_SOFTFAIL },
};

START_TEST(spf_check_host)
{
	unsigned q;

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		enum spf_result r = eval_canned(hosts[i].domain,
		    hosts[i].sender, hosts[i].ip, &q);

		ck_assert_msg(r == hosts[i].want, "%s for %s: got %s, want %s",
		    hosts[i].domain, hosts[i].ip, spf_result_name(r),
		    spf_result_name(hosts[i].want));
	}
	/* the loop stops at the 11th include, not later */
	eval_canned("loop.example", NULL, "192.0.2.1", &q);
	ck_assert_uint_le(q, 2);
}
END_TEST

/* ---- macros: RFC 7208 §7.4's examples ----------------------------------- */

START_TEST(spf_macros)
{
	static const struct {
		const char *spec, *ip, *want;
	} ex[] = {
		{ "%{s}", "192.0.2.3", "strong-bad@email.example.com" },
		{ "%{o}", "192.0.2.3", "email.example.com" },
		{ "%{d}", "192.0.2.3", "email.example.com" },
		{ "%{d4}", "192.0.2.3", "email.example.com" },
		{ "%{d3}", "192.0.2.3", "email.example.com" },
		{ "%{d2}", "192.0.2.3", "example.com" },
		{ "%{d1}", "192.0.2.3", "com" },
		{ "%{dr}", "192.0.2.3", "com.example.email" },
		{ "%{d2r}", "192.0.2.3", "example.email" },
		{ "%{l}", "192.0.2.3", "strong-bad" },
		{ "%{l-}", "192.0.2.3", "strong.bad" },
		{ "%{lr}", "192.0.2.3", "strong-bad" },
		{ "%{lr-}", "192.0.2.3", "bad.strong" },
		{ "%{l1r-}", "192.0.2.3", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "192.0.2.3",
		  "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "192.0.2.3",
		  "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "192.0.2.3",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "192.0.2.3",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net", "192.0.2.3",
		  "example.com.trusted-domains.example.net" },
		{ "%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01",
		  "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0"
		  ".0.2.ip6._spf.example.com" },
		{ "%%%_%-x", "192.0.2.3", "% %20x" },
		{ "%{S}", "192.0.2.3", "strong-bad%40email.example.com" },
		{ "%{h}.%{p}", "192.0.2.3", "mta.example.unknown" },
	};
	static const char *const bad[] = {
		"%", "%x", "%{", "%{s", "%{q}", "%{c}", "%{d0}", "%{d2x}",
		"a b", "%{s}}%",
	};
	struct sockaddr_storage ss;
	struct spf_request req = { (struct sockaddr *)&ss,
	    "email.example.com", "strong-bad@email.example.com",
	    "mta.example" };
	char out[300], longname[600];

	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		if (strchr(ex[i].ip, ':') != NULL) {
			ss.ss_family = AF_INET6;
			inet_pton(AF_INET6, ex[i].ip,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr);
		} else {
			ss.ss_family = AF_INET;
			inet_pton(AF_INET, ex[i].ip,
			    &((struct sockaddr_in *)&ss)->sin_addr);
		}
		ck_assert_int_eq(spf_macro_expand(ex[i].spec,
		    strlen(ex[i].spec), &req, req.domain, false, out,
		    sizeof(out)), 0);
		ck_assert_str_eq(out, ex[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(spf_macro_expand(bad[i], strlen(bad[i]), &req,
		    req.domain, false, out, sizeof(out)) == -1, "%s", bad[i]);
	/* §7.3: a domain over 253 bytes loses labels on the left */
	for (size_t i = 0; i < 100; i++)
		memcpy(longname + i * 5, "abcd.", 5);
	snprintf(longname + 500, sizeof(longname) - 500, "example");
	ck_assert_int_eq(spf_macro_expand(longname, strlen(longname), &req,
	    req.domain, true, out, sizeof(out)), 0);
	ck_assert_uint_le(strlen(out), 253);
	ck_assert_str_eq(out + strlen(out) - 12, "abcd.example");
	ck_assert_int_eq(out[0], 'a');
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tcase_create("table");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, spf_table);
	tcase_add_test(tc, spf_check_host);
	tcase_add_test(tc, spf_macros);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
