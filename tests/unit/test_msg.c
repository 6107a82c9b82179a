/*
 * test_msg.c - query parsing and answer rewriting (daemon/msg.c).
 *
 * Invalid input first, then the good cases. Packets are built by hand with
 * the wire writer so that every byte under test is visible here.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "wire.h"

/* www.example. in wire format */
static const uint8_t WWW[] = "\3www\7example";		/* + final 0 */
#define WWW_LEN 13

static void
put_header(struct wbuf *b, uint16_t id, uint16_t flags, uint16_t qd,
    uint16_t an, uint16_t ns, uint16_t ar)
{
	wbuf_u16(b, id);
	wbuf_u16(b, flags);
	wbuf_u16(b, qd);
	wbuf_u16(b, an);
	wbuf_u16(b, ns);
	wbuf_u16(b, ar);
}

static void
put_question(struct wbuf *b, const uint8_t *name, size_t len, uint16_t type)
{
	wbuf_bytes(b, name, len);
	wbuf_u16(b, type);
	wbuf_u16(b, DNS_CLASS_IN);
}

static void
put_opt(struct wbuf *b, uint16_t size, uint8_t version, bool do_bit)
{
	wbuf_u8(b, 0);
	wbuf_u16(b, DNS_TYPE_OPT);
	wbuf_u16(b, size);
	wbuf_u8(b, 0);
	wbuf_u8(b, version);
	wbuf_u16(b, do_bit ? 0x8000 : 0);
	wbuf_u16(b, 0);
}

/* A query for www.example./type with optional EDNS. */
static size_t
make_query(uint8_t *buf, size_t cap, uint16_t flags, uint16_t type, bool edns,
    bool do_bit)
{
	struct wbuf b;

	wbuf_init(&b, buf, cap);
	put_header(&b, 0x1234, flags, 1, 0, 0, edns ? 1 : 0);
	put_question(&b, WWW, WWW_LEN, type);
	if (edns)
		put_opt(&b, 4096, 0, do_bit);
	return b.len;
}

/* ---- invalid queries ---------------------------------------------------- */

START_TEST(query_too_short_is_dropped)
{
	uint8_t pkt[11] = { 0 };
	struct dns_query q;

	ck_assert_int_eq(msg_parse_query(pkt, sizeof(pkt), &q),
	    MSG_QUERY_DROP);
}
END_TEST

START_TEST(query_response_is_dropped)
{
	uint8_t pkt[128];
	size_t n = make_query(pkt, sizeof(pkt), DNS_FLAG_QR, DNS_TYPE_A, false,
	    false);
	struct dns_query q;

	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_DROP);
}
END_TEST

START_TEST(query_bad_counts_are_formerr)
{
	uint8_t pkt[128];
	struct dns_query q;
	size_t n = make_query(pkt, sizeof(pkt), 0, DNS_TYPE_A, false, false);

	pkt[5] = 0;			/* QDCOUNT 0 */
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_FORMERR);
	pkt[5] = 2;			/* QDCOUNT 2, only one present */
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_FORMERR);
	pkt[5] = 1;
	pkt[7] = 1;			/* ANCOUNT 1 */
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_FORMERR);
	ck_assert(q.has_question);	/* FORMERR can still echo it */
}
END_TEST

START_TEST(query_bad_names_are_formerr)
{
	uint8_t pkt[600];
	struct dns_query q;
	struct wbuf b;

	/* compression pointer in the question */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 0);
	wbuf_u16(&b, 0xc00c);
	wbuf_u16(&b, 1);
	wbuf_u16(&b, 1);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);
	ck_assert(!q.has_question);

	/* label length 64 */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 0);
	wbuf_u8(&b, 64);
	for (int i = 0; i < 64; i++)
		wbuf_u8(&b, 'a');
	wbuf_u8(&b, 0);
	wbuf_u16(&b, 1);
	wbuf_u16(&b, 1);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);

	/* name of 256 bytes: 4 labels of 63 + 3 bytes */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 0);
	for (int l = 0; l < 4; l++) {
		wbuf_u8(&b, 63);
		for (int i = 0; i < 63; i++)
			wbuf_u8(&b, 'a');
	}
	wbuf_u8(&b, 0);
	wbuf_u16(&b, 1);
	wbuf_u16(&b, 1);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);

	/* question cut short */
	{
		size_t n = make_query(pkt, sizeof(pkt), 0, DNS_TYPE_A, false,
		    false);

		ck_assert_int_eq(msg_parse_query(pkt, n - 1, &q),
		    MSG_QUERY_FORMERR);
	}
}
END_TEST

START_TEST(query_bad_edns_is_formerr)
{
	uint8_t pkt[128];
	struct dns_query q;
	struct wbuf b;

	/* two OPT records */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 2);
	put_question(&b, WWW, WWW_LEN, DNS_TYPE_A);
	put_opt(&b, 1232, 0, false);
	put_opt(&b, 1232, 0, false);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);

	/* OPT owned by a name other than the root */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 1);
	put_question(&b, WWW, WWW_LEN, DNS_TYPE_A);
	wbuf_u16(&b, 0xc00c);
	wbuf_u16(&b, DNS_TYPE_OPT);
	wbuf_u16(&b, 1232);
	wbuf_u32(&b, 0);
	wbuf_u16(&b, 0);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);
}
END_TEST

START_TEST(query_other_opcodes_are_notimp)
{
	uint8_t pkt[128];
	struct dns_query q;
	size_t n = make_query(pkt, sizeof(pkt), 4 << 11 /* NOTIFY */,
	    DNS_TYPE_SOA, false, false);

	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_NOTIMP);
	ck_assert(q.has_question);
	n = make_query(pkt, sizeof(pkt), 5 << 11 /* UPDATE */, DNS_TYPE_SOA,
	    false, false);
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_NOTIMP);
}
END_TEST

START_TEST(query_transfers_and_chaos_are_refused)
{
	uint8_t pkt[128];
	struct dns_query q;
	size_t n = make_query(pkt, sizeof(pkt), 0, DNS_TYPE_AXFR, false, false);

	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_REFUSED);
	n = make_query(pkt, sizeof(pkt), 0, DNS_TYPE_IXFR, false, false);
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_REFUSED);
	n = make_query(pkt, sizeof(pkt), 0, DNS_TYPE_TXT, false, false);
	pkt[n - 1] = 3;			/* class CH */
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_REFUSED);
	/* IXFR with the client's SOA in authority (RFC 1995): still refused;
	 * any other query with an authority record is FORMERR */
	{
		struct wbuf b;

		wbuf_init(&b, pkt, sizeof(pkt));
		put_header(&b, 1, 0, 1, 0, 1, 0);
		put_question(&b, WWW, WWW_LEN, DNS_TYPE_IXFR);
		wbuf_u16(&b, 0xc00c);
		wbuf_u16(&b, DNS_TYPE_SOA);
		wbuf_u16(&b, DNS_CLASS_IN);
		wbuf_u32(&b, 0);
		wbuf_u16(&b, 22);
		wbuf_u16(&b, 0xc00c);
		wbuf_u16(&b, 0xc00c);
		for (int i = 0; i < 5; i++)
			wbuf_u32(&b, 1);
		ck_assert_int_eq(msg_parse_query(pkt, b.len, &q),
		    MSG_QUERY_REFUSED);
		pkt[12 + WWW_LEN + 1] = DNS_TYPE_A;
		ck_assert_int_eq(msg_parse_query(pkt, b.len, &q),
		    MSG_QUERY_FORMERR);
		/* the SOA cut short */
		pkt[12 + WWW_LEN + 1] = (uint8_t)DNS_TYPE_IXFR;
		ck_assert_int_eq(msg_parse_query(pkt, b.len - 3, &q),
		    MSG_QUERY_FORMERR);
	}
}
END_TEST

START_TEST(query_edns_version_1_is_badvers)
{
	uint8_t pkt[128];
	struct dns_query q;
	struct wbuf b;
	uint8_t out[512];
	size_t n;

	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 7, DNS_FLAG_RD, 1, 0, 0, 1);
	put_question(&b, WWW, WWW_LEN, DNS_TYPE_A);
	put_opt(&b, 1232, 1, false);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_BADVERS);
	/* BADVERS is 16: header rcode 0, OPT extended rcode 1 */
	n = msg_error_render(&q, DNS_RCODE_BADVERS, DNS_EDE_NONE, NULL, 1232,
	    out, sizeof(out));
	ck_assert_uint_eq(n, b.len);
	ck_assert_uint_eq(out[3] & 0xf, 0);
	ck_assert_uint_eq(out[12 + WWW_LEN + 4 + 5], 1);
	ck_assert_uint_eq(out[12 + WWW_LEN + 4 + 6], 0);	/* version 0 */
}
END_TEST

/* ---- good queries ------------------------------------------------------- */

START_TEST(query_plain_and_edns_parse)
{
	uint8_t pkt[128];
	struct dns_query q;
	size_t n = make_query(pkt, sizeof(pkt), DNS_FLAG_RD, DNS_TYPE_MX,
	    false, false);

	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_OK);
	ck_assert_uint_eq(q.id, 0x1234);
	ck_assert_uint_eq(q.qtype, DNS_TYPE_MX);
	ck_assert_uint_eq(q.qname_len, WWW_LEN);
	ck_assert(memcmp(q.qname, WWW, WWW_LEN) == 0);
	ck_assert(!q.edns);
	ck_assert_uint_eq(q.udp_size, 512);

	n = make_query(pkt, sizeof(pkt), 0, DNS_TYPE_A, true, true);
	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_OK);
	ck_assert(q.edns);
	ck_assert(q.edns_do);
	ck_assert_uint_eq(q.udp_size, 4096);
	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 1232);
	q.udp_size = 800;
	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 800);
	q.edns = false;
	ck_assert_uint_eq(msg_udp_limit(&q, 1232), 512);
}
END_TEST

START_TEST(error_echoes_question_and_carries_ede)
{
	uint8_t pkt[128], out[512];
	struct dns_query q;
	size_t n = make_query(pkt, sizeof(pkt), DNS_FLAG_RD | DNS_FLAG_CD,
	    DNS_TYPE_A, true, true);
	size_t opt, m;

	ck_assert_int_eq(msg_parse_query(pkt, n, &q), MSG_QUERY_OK);
	m = msg_error_render(&q, DNS_RCODE_SERVFAIL, DNS_EDE_SIGNATURE_EXPIRED,
	    "signature expired", 1232, out, sizeof(out));
	ck_assert_uint_gt(m, 0);
	ck_assert_uint_eq(be16_load(out), 0x1234);
	ck_assert_uint_eq(be16_load(out + 2), DNS_FLAG_QR | DNS_FLAG_RD |
	    DNS_FLAG_RA | DNS_FLAG_CD | DNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(be16_load(out + 4), 1);
	ck_assert_uint_eq(be16_load(out + 10), 1);
	ck_assert(memcmp(out + 12, WWW, WWW_LEN) == 0);
	opt = 12 + WWW_LEN + 4;
	ck_assert_uint_eq(be16_load(out + opt + 1), DNS_TYPE_OPT);
	ck_assert_uint_eq(be16_load(out + opt + 11), 15);	/* EDE */
	ck_assert_uint_eq(be16_load(out + opt + 13), 2 + 17);
	ck_assert_uint_eq(be16_load(out + opt + 15), 7);
	ck_assert(memcmp(out + opt + 17, "signature expired", 17) == 0);
	ck_assert_uint_eq(m, opt + 17 + 17);
	/* too small a buffer: nothing, not a partial answer */
	ck_assert_uint_eq(msg_error_render(&q, 2, 7, "x", 1232, out, 20), 0);
}
END_TEST

/* ---- answers ------------------------------------------------------------ */

/*
 * libunbound-style answer for www.example. A: the A record and its RRSIG
 * (owner compressed against the question), an NSEC in authority, and an
 * MX-like record in additional whose rdata name is compressed.
 */
static size_t
make_ub_answer(uint8_t *buf, size_t cap, uint8_t rcode)
{
	struct wbuf b;
	static const uint8_t rrsig[] = { 0, 1, 13, 2, 0, 0, 1, 44, 1, 2, 3, 4,
		5, 6, 7, 8, 0, 1, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
		0xaa, 0xbb };

	wbuf_init(&b, buf, cap);
	put_header(&b, 0, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA |
	    DNS_FLAG_AD | rcode, 1, 2, 1, 1);
	put_question(&b, WWW, WWW_LEN, DNS_TYPE_A);
	/* answer: A */
	wbuf_u16(&b, 0xc00c);
	wbuf_u16(&b, DNS_TYPE_A);
	wbuf_u16(&b, DNS_CLASS_IN);
	wbuf_u32(&b, 300);
	wbuf_u16(&b, 4);
	wbuf_u32(&b, 0xc0000201);
	/* answer: RRSIG */
	wbuf_u16(&b, 0xc00c);
	wbuf_u16(&b, DNS_TYPE_RRSIG);
	wbuf_u16(&b, DNS_CLASS_IN);
	wbuf_u32(&b, 200);
	wbuf_u16(&b, sizeof(rrsig));
	wbuf_bytes(&b, rrsig, sizeof(rrsig));
	/* authority: NSEC owned by example. (pointer into the question) */
	wbuf_u16(&b, 0xc010);
	wbuf_u16(&b, DNS_TYPE_NSEC);
	wbuf_u16(&b, DNS_CLASS_IN);
	wbuf_u32(&b, 100);
	wbuf_u16(&b, 3);
	wbuf_u8(&b, 0);
	wbuf_u16(&b, 0x0006);
	/* additional: MX 10 www.example. (compressed rdata) */
	wbuf_u16(&b, 0xc010);
	wbuf_u16(&b, DNS_TYPE_MX);
	wbuf_u16(&b, DNS_CLASS_IN);
	wbuf_u32(&b, 50);
	wbuf_u16(&b, 4);
	wbuf_u16(&b, 10);
	wbuf_u16(&b, 0xc00c);
	return b.len;
}

static struct msg_answer *
build(uint8_t *qpkt, struct dns_query *q, bool do_bit, bool secure)
{
	uint8_t ub[512];
	size_t n = make_query(qpkt, 128, DNS_FLAG_RD, DNS_TYPE_A, true,
	    do_bit);
	size_t m = make_ub_answer(ub, sizeof(ub), DNS_RCODE_NOERROR);

	ck_assert_int_eq(msg_parse_query(qpkt, n, q), MSG_QUERY_OK);
	return msg_answer_build(q, ub, m, secure);
}

START_TEST(answer_rejects_malformed_packets)
{
	uint8_t qpkt[128], ub[512];
	struct dns_query q;
	size_t n = make_query(qpkt, sizeof(qpkt), 0, DNS_TYPE_A, false, false);
	size_t m = make_ub_answer(ub, sizeof(ub), 0);

	ck_assert_int_eq(msg_parse_query(qpkt, n, &q), MSG_QUERY_OK);
	/* cut anywhere inside the records */
	for (size_t cut = 12; cut < m; cut++)
		ck_assert_ptr_null(msg_answer_build(&q, ub, cut, true));
	/* a forward compression pointer */
	ub[12 + WWW_LEN + 4] = 0xc0;
	ub[12 + WWW_LEN + 5] = 0xff;
	ck_assert_ptr_null(msg_answer_build(&q, ub, m, true));
	/* a pointer to itself */
	ub[12 + WWW_LEN + 5] = (uint8_t)(12 + WWW_LEN + 4);
	ck_assert_ptr_null(msg_answer_build(&q, ub, m, true));
	/* an answer to another question */
	m = make_ub_answer(ub, sizeof(ub), 0);
	ub[13] = 'x';
	ck_assert_ptr_null(msg_answer_build(&q, ub, m, true));
}
END_TEST

START_TEST(answer_without_do_hides_dnssec_records)
{
	uint8_t qpkt[128];
	struct dns_query q;
	struct msg_answer *a = build(qpkt, &q, false, true);

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(be16_load(a->wire + 6), 1);	/* A only */
	ck_assert_uint_eq(be16_load(a->wire + 8), 0);	/* NSEC gone */
	ck_assert_uint_eq(be16_load(a->wire + 10), 1);	/* MX kept */
	ck_assert_uint_eq(a->n_ttls, 2);
	ck_assert_uint_eq(a->min_ttl, 50);
	msg_answer_free(a);

	a = build(qpkt, &q, true, true);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(be16_load(a->wire + 6), 2);	/* A + RRSIG */
	ck_assert_uint_eq(be16_load(a->wire + 8), 1);
	ck_assert_uint_eq(be16_load(a->wire + 10), 1);
	msg_answer_free(a);
}
END_TEST

START_TEST(answer_render_patches_for_the_client)
{
	uint8_t qpkt[128], out[1024];
	struct dns_query q;
	struct msg_answer *a = build(qpkt, &q, true, true);
	size_t n, ttl_at;

	ck_assert_ptr_nonnull(a);
	/* another client, other case, other ID */
	q.id = 0xbeef;
	memcpy(q.qname, "\3WwW\7ExAmPlE", WWW_LEN);
	n = msg_answer_render(a, &q, 30, 4096, 1232, out, sizeof(out));
	ck_assert_uint_eq(n, a->len + 11u);
	ck_assert_uint_eq(be16_load(out), 0xbeef);
	ck_assert_uint_eq(be16_load(out + 2), DNS_FLAG_QR | DNS_FLAG_RD |
	    DNS_FLAG_RA | DNS_FLAG_AD);
	ck_assert(memcmp(out + 12, "\3WwW\7ExAmPlE", WWW_LEN) == 0);
	ck_assert_uint_eq(be16_load(out + 10), 2);	/* + OPT */
	ttl_at = a->ttl_offs[0];
	ck_assert_uint_eq(be32_load(out + ttl_at), 300 - 30);
	/* the template itself is unchanged */
	ck_assert_uint_eq(be32_load(a->wire + ttl_at), 300);
	/* ages past the TTL give 0, never a wrap-around */
	n = msg_answer_render(a, &q, 100000, 4096, 1232, out, sizeof(out));
	ck_assert_uint_eq(be32_load(out + ttl_at), 0);

	/* secure but the client asked neither DO nor AD: no AD */
	q.edns_do = false;
	n = msg_answer_render(a, &q, 0, 4096, 1232, out, sizeof(out));
	ck_assert_uint_eq(be16_load(out + 2) & DNS_FLAG_AD, 0);
	/* AD in the query is enough */
	q.flags |= DNS_FLAG_AD;
	n = msg_answer_render(a, &q, 0, 4096, 1232, out, sizeof(out));
	ck_assert_uint_ne(be16_load(out + 2) & DNS_FLAG_AD, 0);
	msg_answer_free(a);

	/* insecure: never AD */
	a = build(qpkt, &q, true, false);
	n = msg_answer_render(a, &q, 0, 4096, 1232, out, sizeof(out));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(be16_load(out + 2) & DNS_FLAG_AD, 0);
	msg_answer_free(a);
}
END_TEST

START_TEST(answer_too_large_is_truncated)
{
	uint8_t qpkt[128], out[1024];
	struct dns_query q;
	struct msg_answer *a = build(qpkt, &q, true, true);
	size_t n;

	ck_assert_ptr_nonnull(a);
	n = msg_answer_render(a, &q, 0, a->len + 10u, 1232, out, sizeof(out));
	ck_assert_uint_eq(n, 12u + WWW_LEN + 4 + 11);
	ck_assert_uint_ne(be16_load(out + 2) & DNS_FLAG_TC, 0);
	ck_assert_uint_eq(be16_load(out + 6), 0);
	ck_assert_uint_eq(be16_load(out + 8), 0);
	ck_assert_uint_eq(be16_load(out + 10), 1);	/* OPT only */
	msg_answer_free(a);
}
END_TEST

START_TEST(answer_rdata_names_survive_recompression)
{
	uint8_t qpkt[128];
	struct dns_query q;
	struct msg_answer *a = build(qpkt, &q, true, true), *b;

	ck_assert_ptr_nonnull(a);
	/* reading our own output again gives the same bytes */
	b = msg_answer_build(&q, a->wire, a->len, true);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert(memcmp(a->wire, b->wire, a->len) == 0);
	msg_answer_free(a);
	msg_answer_free(b);
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tq = tcase_create("query"), *ta = tcase_create("answer");

	tcase_add_test(tq, query_too_short_is_dropped);
	tcase_add_test(tq, query_response_is_dropped);
	tcase_add_test(tq, query_bad_counts_are_formerr);
	tcase_add_test(tq, query_bad_names_are_formerr);
	tcase_add_test(tq, query_bad_edns_is_formerr);
	tcase_add_test(tq, query_other_opcodes_are_notimp);
	tcase_add_test(tq, query_transfers_and_chaos_are_refused);
	tcase_add_test(tq, query_edns_version_1_is_badvers);
	tcase_add_test(tq, query_plain_and_edns_parse);
	tcase_add_test(tq, error_echoes_question_and_carries_ede);
	tcase_add_test(ta, answer_rejects_malformed_packets);
	tcase_add_test(ta, answer_without_do_hides_dnssec_records);
	tcase_add_test(ta, answer_render_patches_for_the_client);
	tcase_add_test(ta, answer_too_large_is_truncated);
	tcase_add_test(ta, answer_rdata_names_survive_recompression);
	suite_add_tcase(s, tq);
	suite_add_tcase(s, ta);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(msg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
