/*
 * postfix_dns_cost.c - the baseline of danegate-policy's bench: the DNS
 * lookups Postfix's smtp(8) makes itself for a delivery with
 * smtp_tls_security_level = dane (smtp_dns_support_level = dnssec), done
 * the way Postfix does them (glibc's res_nquery, DO and EDNS0 set, AD
 * trusted, one query after the other) through a validating resolver:
 * per domain the MX RRset, then for each MX host (or the domain itself
 * without MX) A, AAAA and TLSA _25._tcp.HOST. One "lookup" here is a
 * domain's whole set, what one policy lookup replaces.
 *
 *   postfix_dns_cost ADDR PORT SECONDS DOMAIN...
 *
 * SECONDS 0: each domain once, in order (cold runs). Prints domains/s,
 * p50/p99/max per domain and the queries made, as socketmap_load does;
 * POLICY_BENCH_RAW=FILE also appends each latency in ms, one a line.
 *
 * SECURITY: a test tool; queries only the resolver it is given.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MX	16
#define CAP	(1 << 20)

static unsigned long queries, failed;

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

static int
query(res_state st, const char *name, int type, unsigned char *ans,
    int cap)
{
	int n = res_nquery(st, name, ns_c_in, type, ans, cap);

	queries++;
	if (n < 0)
		failed++;	/* NXDOMAIN, NODATA, SERVFAIL: Postfix goes on */
	return n;
}

/* One domain as smtp(8) looks it up for a dane delivery. */
static void
domain_lookups(res_state st, const char *domain)
{
	unsigned char ans[4096];
	char hosts[MAX_MX][NS_MAXDNAME];
	size_t nh = 0;
	int n = query(st, domain, ns_t_mx, ans, sizeof(ans));
	ns_msg msg;
	ns_rr rr;

	if (n > 0 && ns_initparse(ans, n, &msg) == 0) {
		for (int i = 0; i < ns_msg_count(msg, ns_s_an) && nh < MAX_MX;
		    i++) {
			if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 ||
			    ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
				continue;
			if (ns_name_uncompress(ns_msg_base(msg),
			    ns_msg_end(msg), ns_rr_rdata(rr) + 2, hosts[nh],
			    sizeof(hosts[nh])) < 0)
				continue;
			if (hosts[nh][0] != '\0')	/* "." : null MX */
				nh++;
		}
	} else {
		/* no MX RRset: the domain is its own host (RFC 5321 5.1) */
		snprintf(hosts[0], sizeof(hosts[0]), "%s", domain);
		nh = 1;
	}
	for (size_t h = 0; h < nh; h++) {
		char tlsa[NS_MAXDNAME + 16];

		(void)query(st, hosts[h], ns_t_a, ans, sizeof(ans));
		(void)query(st, hosts[h], ns_t_aaaa, ans, sizeof(ans));
		snprintf(tlsa, sizeof(tlsa), "_25._tcp.%.1024s", hosts[h]);
		(void)query(st, tlsa, ns_t_tlsa, ans, sizeof(ans));
	}
}

int
main(int argc, char **argv)
{
	static double lat[CAP];
	struct __res_state st;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *raw = getenv("POLICY_BENCH_RAW");
	unsigned long n = 0;
	double t0, t_end, el;
	int secs, nd;
	FILE *rf = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: postfix_dns_cost ADDR PORT SECONDS "
		    "DOMAIN...\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		return 2;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	secs = atoi(argv[3]);
	nd = argc - 4;
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return 1;
	st.nsaddr_list[0] = sin;
	st.nscount = 1;
	st.retrans = 5;
	st.retry = 1;
	/* smtp_dns_support_level = dnssec: DO and EDNS0; AD passed on */
	st.options |= RES_USE_DNSSEC | RES_USE_EDNS0;
#ifdef RES_TRUSTAD
	st.options |= RES_TRUSTAD;
#endif
	st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (raw != NULL && (rf = fopen(raw, "a")) == NULL) {
		perror(raw);
		return 1;
	}
	t0 = now();
	t_end = t0 + secs;
	for (int i = 0; secs > 0 ? now() < t_end : i < nd; i++) {
		double t = now();

		domain_lookups(&st, argv[4 + i % nd]);
		t = now() - t;
		if (n < CAP)
			lat[n] = t;
		if (rf != NULL)
			fprintf(rf, "%.6f\n", t * 1e3);
		n++;
	}
	el = now() - t0;
	{
		unsigned long m = n < CAP ? n : CAP;

		qsort(lat, m, sizeof(*lat), cmp);
		printf("domains %lu in %.2f s: %.0f/s  p50 %.3f ms  p99 %.3f "
		    "ms  max %.3f ms  (%lu queries, %lu without an answer)\n",
		    n, el, (double)n / el, m ? lat[m / 2] * 1e3 : 0,
		    m ? lat[m * 99 / 100] * 1e3 : 0, m ? lat[m - 1] * 1e3 : 0,
		    queries, failed);
	}
	if (rf != NULL)
		fclose(rf);
	res_nclose(&st);
	return 0;
}
