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
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "dname.h"
#include "msg.h"
#include "wire.h"
#include "../fuzz/answer_check.h"

/*
 * Fresh heap memory reads as zeros in these tests (glibc's M_PERTURB below,
 * ASan's fill byte here): the worst case for an encoder that compares
 * against output it has not written yet, which then sees a root label.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "malloc_fill_byte=0";
}

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

	/* the packet: a pointer to offset 0, whose header bytes read
	 * as the name "a.\\000." (RFC 9267 §2: never into the header) */
	{
		static const uint8_t hdr_ptr[] = { 0x01, 0x61, 0x01, 0x00,
			0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0xc0, 0x00, 0x00, 0x01, 0x00, 0x01 };

		ck_assert_int_eq(msg_parse_query(hdr_ptr, sizeof(hdr_ptr),
		    &q), MSG_QUERY_FORMERR);
		ck_assert(!q.has_question);
	}
	/* a label, then a pointer into the header */
	for (uint16_t target = 0; target < 12; target++) {
		wbuf_init(&b, pkt, sizeof(pkt));
		put_header(&b, 0x0161, 0x0100, 1, 0, 0, 0);
		wbuf_bytes(&b, "\1x", 2);
		wbuf_u16(&b, (uint16_t)(0xc000 | target));
		wbuf_u16(&b, 1);
		wbuf_u16(&b, 1);
		ck_assert_int_eq(msg_parse_query(pkt, b.len, &q),
		    MSG_QUERY_FORMERR);
	}
	/* a pointer back to the start of its own name: a loop that only the
	 * 255-byte limit used to stop */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 0);
	wbuf_bytes(&b, "\1x", 2);
	wbuf_u16(&b, 0xc00c);
	wbuf_u16(&b, 1);
	wbuf_u16(&b, 1);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);
	/* the same loop in an additional record's owner */
	wbuf_init(&b, pkt, sizeof(pkt));
	put_header(&b, 1, 0, 1, 0, 0, 1);
	put_question(&b, WWW, WWW_LEN, DNS_TYPE_A);
	wbuf_bytes(&b, "\1y", 2);
	wbuf_u16(&b, (uint16_t)(0xc000 | (12 + WWW_LEN + 4)));
	wbuf_u16(&b, DNS_TYPE_A);
	wbuf_u16(&b, DNS_CLASS_IN);
	wbuf_u32(&b, 0);
	wbuf_u16(&b, 0);
	ck_assert_int_eq(msg_parse_query(pkt, b.len, &q), MSG_QUERY_FORMERR);

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
	return msg_answer_build(q, ub, m, secure, false);
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
		ck_assert_ptr_null(msg_answer_build(&q, ub, cut, true, true));
	/* a forward compression pointer */
	ub[12 + WWW_LEN + 4] = 0xc0;
	ub[12 + WWW_LEN + 5] = 0xff;
	ck_assert_ptr_null(msg_answer_build(&q, ub, m, true, true));
	/* a pointer to itself */
	ub[12 + WWW_LEN + 5] = (uint8_t)(12 + WWW_LEN + 4);
	ck_assert_ptr_null(msg_answer_build(&q, ub, m, true, true));
	/* an answer to another question */
	m = make_ub_answer(ub, sizeof(ub), 0);
	ub[13] = 'x';
	ck_assert_ptr_null(msg_answer_build(&q, ub, m, true, true));
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
	b = msg_answer_build(&q, a->wire, a->len, true, true);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert(memcmp(a->wire, b->wire, a->len) == 0);
	msg_answer_free(a);
	msg_answer_free(b);
}
END_TEST

/*
 * A libunbound-style answer to name/type: the question, then n records in
 * the answer section, each owned by the question name (a pointer to it, as
 * libunbound writes) or by owners[i] written out, with rdata rd[i].
 */
struct rr_spec {
	const uint8_t *owner;	/* NULL: the question name */
	size_t owner_len;
	uint16_t type;
	const uint8_t *rd;
	size_t rd_len;
	int section;		/* 0 answer, 1 authority, 2 additional;
				 * records come in section order */
};

static size_t
make_ub_answer_rcode(uint8_t *buf, size_t cap, uint8_t rcode,
    const uint8_t *name, size_t name_len, uint16_t type,
    const struct rr_spec *rr, unsigned n)
{
	uint16_t counts[3] = { 0, 0, 0 };
	struct wbuf b;

	for (unsigned i = 0; i < n; i++)
		counts[rr[i].section]++;
	wbuf_init(&b, buf, cap);
	put_header(&b, 0, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA | rcode, 1,
	    counts[0], counts[1], counts[2]);
	put_question(&b, name, name_len, type);
	for (unsigned i = 0; i < n; i++) {
		if (rr[i].owner == NULL)
			wbuf_u16(&b, 0xc00c);
		else
			wbuf_bytes(&b, rr[i].owner, rr[i].owner_len);
		wbuf_u16(&b, rr[i].type);
		wbuf_u16(&b, DNS_CLASS_IN);
		wbuf_u32(&b, 300);
		wbuf_u16(&b, (uint16_t)rr[i].rd_len);
		wbuf_bytes(&b, rr[i].rd, rr[i].rd_len);
	}
	ck_assert(!b.err);
	return b.len;
}

static size_t
make_ub_answer_for(uint8_t *buf, size_t cap, const uint8_t *name,
    size_t name_len, uint16_t type, const struct rr_spec *rr, unsigned n)
{
	return make_ub_answer_rcode(buf, cap, DNS_RCODE_NOERROR, name,
	    name_len, type, rr, n);
}

/* RRSIG rdata covering type, signed by the root, with a 64-byte
 * signature (an ECDSA P-256 one's size). */
static size_t
rrsig_rd(uint8_t *buf, uint16_t covered)
{
	struct wbuf b;

	wbuf_init(&b, buf, 128);
	wbuf_u16(&b, covered);
	wbuf_u8(&b, 13);
	wbuf_u8(&b, 0);
	wbuf_u32(&b, 300);
	wbuf_u32(&b, 0x70000000);
	wbuf_u32(&b, 0x60000000);
	wbuf_u16(&b, 4242);
	wbuf_u8(&b, 0);
	for (int i = 0; i < 64; i++)
		wbuf_u8(&b, 0xab);
	return b.len;
}

static size_t
make_query_for(uint8_t *buf, size_t cap, const uint8_t *name, size_t len,
    uint16_t type, bool do_bit)
{
	struct wbuf b;

	wbuf_init(&b, buf, cap);
	put_header(&b, 0x4242, DNS_FLAG_RD, 1, 0, 0, 1);
	put_question(&b, name, len, type);
	put_opt(&b, 1232, 0, do_bit);
	return b.len;
}

/*
 * Builds and renders the answer, checks template and rendering with the
 * independent reader, and checks that the question is written out whole
 * (the render patches the client's case over it).
 */
static void
check_build_render(const uint8_t *name, size_t name_len, uint16_t type,
    const struct rr_spec *rr, unsigned n, unsigned want_an)
{
	uint8_t qpkt[512], ub[2048], out[4096];
	const char *why;

	for (int do_bit = 0; do_bit < 2; do_bit++) {
		struct dns_query q;
		struct msg_answer *a;
		size_t qn = make_query_for(qpkt, sizeof(qpkt), name, name_len,
		    type, do_bit);
		size_t m = make_ub_answer_for(ub, sizeof(ub), name, name_len,
		    type, rr, n), len;

		ck_assert_int_eq(msg_parse_query(qpkt, qn, &q), MSG_QUERY_OK);
		a = msg_answer_build(&q, ub, m, true, true);
		ck_assert_ptr_nonnull(a);
		ck_assert(memcmp(a->wire + 12, name, name_len) == 0);
		ck_assert_uint_eq(be16_load(a->wire + 12 + name_len), type);
		ck_assert_uint_eq(be16_load(a->wire + 14 + name_len),
		    DNS_CLASS_IN);
		len = msg_answer_render(a, &q, 1, sizeof(out), 1232, out,
		    sizeof(out));
		ck_assert_uint_gt(len, 0);
		why = answer_check(out, len, &q);
		ck_assert_msg(why == NULL, "%s", why);
		ck_assert_uint_eq(be16_load(out + 6), want_an);
		msg_answer_free(a);
	}
}

START_TEST(answer_names_with_repeated_labels)
{
	static const uint8_t ss[] = "\1s\1s", aaa[] = "\1a\1a\1a",
	    sss[] = "\1s\1s\1s", xxw[] = "\1x\1x\1w\7example",
	    mxmx[] = "\2mx\2mx", addr[] = { 192, 0, 2, 1 };
	static const uint8_t mx_rd[] = "\0\12\2mx\2mx";
	static const uint8_t cname_rd[] = "\1s\1s\1s";
	const struct rr_spec a_rr[] = {
		{ NULL, 0, DNS_TYPE_A, addr, 4, 0 },
	};
	const struct rr_spec cname_chain[] = {
		{ NULL, 0, DNS_TYPE_CNAME, cname_rd, sizeof(cname_rd), 0 },
		{ sss, sizeof(sss), DNS_TYPE_A, addr, 4, 0 },
	};
	const struct rr_spec mx_rr[] = {
		{ NULL, 0, DNS_TYPE_MX, mx_rd, sizeof(mx_rd), 0 },
		{ mxmx, sizeof(mxmx), DNS_TYPE_A, addr, 4, 0 },
	};

	/* the s.s. A: the second "s" was compressed into a pointer
	 * to the first, a loop, and the render wrote past the name */
	check_build_render(ss, sizeof(ss), DNS_TYPE_A, a_rr, 1, 1);
	check_build_render(aaa, sizeof(aaa), DNS_TYPE_A, a_rr, 1, 1);
	/* a name expanded from a wildcard that repeats the label under it */
	check_build_render(xxw, sizeof(xxw), DNS_TYPE_A, a_rr, 1, 1);
	/* a CNAME target that repeats the owner's labels, and its A */
	check_build_render(ss, sizeof(ss), DNS_TYPE_A, cname_chain, 2, 2);
	/* an MX whose exchange is the owner, repeated labels */
	check_build_render(mxmx, sizeof(mxmx), DNS_TYPE_MX, mx_rr, 2, 2);
	/* the root and a single label */
	check_build_render((const uint8_t *)"", 1, DNS_TYPE_A, a_rr, 1, 1);
	check_build_render((const uint8_t *)"\1s", 3, DNS_TYPE_A, a_rr, 1, 1);
}
END_TEST

START_TEST(answer_compression_points_backwards_only)
{
	static const uint8_t ss[] = "\1s\1s", addr[] = { 192, 0, 2, 1 };
	const struct rr_spec a_rr[] = {
		{ NULL, 0, DNS_TYPE_A, addr, 4, 0 },
		{ NULL, 0, DNS_TYPE_A, addr, 4, 0 },
	};
	uint8_t qpkt[128], ub[512];
	struct dns_query q;
	struct msg_answer *a;
	size_t qn = make_query_for(qpkt, sizeof(qpkt), ss, sizeof(ss),
	    DNS_TYPE_A, false);
	size_t m = make_ub_answer_for(ub, sizeof(ub), ss, sizeof(ss),
	    DNS_TYPE_A, a_rr, 2);

	ck_assert_int_eq(msg_parse_query(qpkt, qn, &q), MSG_QUERY_OK);
	a = msg_answer_build(&q, ub, m, false, true);
	ck_assert_ptr_nonnull(a);
	/* question written out; both owners are one pointer to it */
	ck_assert_uint_eq(a->len, 12 + sizeof(ss) + 4 + 2 * (2 + 10 + 4));
	ck_assert_uint_eq(be16_load(a->wire + 12 + sizeof(ss) + 4), 0xc00c);
	msg_answer_free(a);
}
END_TEST

/* Builds the answer to name/qtype from rr with DO on or off, renders it
 * without a size limit, checks it and returns the rendered length. */
static size_t
build_render_limit(const uint8_t *name, size_t name_len, uint16_t qtype,
    uint8_t rcode, const struct rr_spec *rr, unsigned n, bool do_bit,
    bool minimal, size_t limit, uint8_t *out, size_t cap)
{
	uint8_t qpkt[512], ub[4096];
	struct dns_query q;
	struct msg_answer *a;
	size_t qn = make_query_for(qpkt, sizeof(qpkt), name, name_len, qtype,
	    do_bit);
	size_t m = make_ub_answer_rcode(ub, sizeof(ub), rcode, name, name_len,
	    qtype, rr, n), len;
	const char *why;

	ck_assert_int_eq(msg_parse_query(qpkt, qn, &q), MSG_QUERY_OK);
	a = msg_answer_build(&q, ub, m, true, minimal);
	ck_assert_ptr_nonnull(a);
	len = msg_answer_render(a, &q, 0, limit, 1232, out, cap);
	ck_assert_uint_gt(len, 0);
	why = answer_check(out, len, &q);
	ck_assert_msg(why == NULL, "%s", why);
	msg_answer_free(a);
	return len;
}

static size_t
build_render(const uint8_t *name, size_t name_len, uint16_t qtype,
    uint8_t rcode, const struct rr_spec *rr, unsigned n, bool do_bit,
    uint8_t *out, size_t cap)
{
	return build_render_limit(name, name_len, qtype, rcode, rr, n, do_bit,
	    true, cap, out, cap);
}

/* The n-th record's type and, for an RRSIG, the type covered. */
static void
nth_record(const uint8_t *pkt, size_t len, unsigned nth, uint16_t *type,
    uint16_t *covered)
{
	struct wire w;
	uint8_t name[DNS_MAX_NAME];

	wire_init(&w, pkt, len);
	wire_skip(&w, 12);
	ck_assert_int_ge(dname_read(&w, name), 0);
	wire_skip(&w, 4);
	for (unsigned i = 0;; i++) {
		uint16_t rdlen;

		ck_assert_int_ge(dname_read(&w, name), 0);
		*type = wire_u16(&w);
		wire_skip(&w, 6);
		rdlen = wire_u16(&w);
		*covered = rdlen >= 2 ? be16_load(w.buf + w.pos) : 0;
		ck_assert(wire_ok(&w));
		if (i == nth)
			return;
		wire_skip(&w, rdlen);
	}
}

START_TEST(answer_any_is_one_rrset)
{
	static const uint8_t mx[] = "\2mx", addr[] = { 192, 0, 2, 1 },
	    addr6[16] = { 0x20, 0x01, 0x0d, 0xb8 }, mx_rd[] = "\0\12\2mx",
	    soa_rd[] = "\0\0\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1",
	    nsec_rd[] = "\0\0\6\0\0\0\3", ns_rd[] = "\2ns\2mx",
	    ns_owner[] = "\2mx", ns_name[] = "\2ns\2mx";
	uint8_t sig_a[128], sig_aaaa[128], sig_mx[128], sig_nsec[128];
	uint8_t out[4096];
	size_t la = rrsig_rd(sig_a, DNS_TYPE_A);
	size_t l6 = rrsig_rd(sig_aaaa, DNS_TYPE_AAAA);
	size_t lm = rrsig_rd(sig_mx, DNS_TYPE_MX);
	size_t ln = rrsig_rd(sig_nsec, DNS_TYPE_NSEC);
	/* what libunbound hands over for mx. ANY: three signed RRsets, the
	 * zone's NS in authority, the NS address in additional */
	const struct rr_spec any[] = {
		{ NULL, 0, DNS_TYPE_A, addr, 4, 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_a, la, 0 },
		{ NULL, 0, DNS_TYPE_AAAA, addr6, 16, 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_aaaa, l6, 0 },
		{ NULL, 0, DNS_TYPE_MX, mx_rd, sizeof(mx_rd), 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_mx, lm, 0 },
		{ ns_owner, sizeof(ns_owner), DNS_TYPE_NS, ns_rd,
		  sizeof(ns_rd), 1 },
		{ ns_name, sizeof(ns_name), DNS_TYPE_A, addr, 4, 2 },
	};
	/* a wildcard expansion: the proof in authority must stay */
	const struct rr_spec any_wild[] = {
		{ NULL, 0, DNS_TYPE_MX, mx_rd, sizeof(mx_rd), 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_mx, lm, 0 },
		{ ns_owner, sizeof(ns_owner), DNS_TYPE_NSEC, nsec_rd,
		  sizeof(nsec_rd), 1 },
		{ ns_owner, sizeof(ns_owner), DNS_TYPE_RRSIG, sig_nsec, ln,
		  1 },
	};
	/* nothing there: the denial comes whole */
	const struct rr_spec any_nx[] = {
		{ ns_owner, sizeof(ns_owner), DNS_TYPE_SOA, soa_rd,
		  sizeof(soa_rd), 1 },
		{ ns_owner, sizeof(ns_owner), DNS_TYPE_NSEC, nsec_rd,
		  sizeof(nsec_rd), 1 },
		{ ns_owner, sizeof(ns_owner), DNS_TYPE_RRSIG, sig_nsec, ln,
		  1 },
	};
	uint16_t type, covered;
	size_t len;

	len = build_render(mx, sizeof(mx), DNS_TYPE_ANY, 0, any, 8, true, out,
	    sizeof(out));
	ck_assert_uint_eq(be16_load(out + 6), 2);	/* A and its RRSIG */
	ck_assert_uint_eq(be16_load(out + 8), 0);
	ck_assert_uint_eq(be16_load(out + 10), 1);	/* OPT */
	nth_record(out, len, 0, &type, &covered);
	ck_assert_uint_eq(type, DNS_TYPE_A);
	nth_record(out, len, 1, &type, &covered);
	ck_assert_uint_eq(type, DNS_TYPE_RRSIG);
	ck_assert_uint_eq(covered, DNS_TYPE_A);
	/* DO=0: the RRset without its signature */
	build_render(mx, sizeof(mx), DNS_TYPE_ANY, 0, any, 8, false, out,
	    sizeof(out));
	ck_assert_uint_eq(be16_load(out + 6), 1);
	ck_assert_uint_eq(be16_load(out + 8), 0);

	build_render(mx, sizeof(mx), DNS_TYPE_ANY, 0, any_wild, 4, true, out,
	    sizeof(out));
	ck_assert_uint_eq(be16_load(out + 6), 2);
	ck_assert_uint_eq(be16_load(out + 8), 2);	/* NSEC + RRSIG */

	build_render(mx, sizeof(mx), DNS_TYPE_ANY, DNS_RCODE_NXDOMAIN, any_nx,
	    3, true, out, sizeof(out));
	ck_assert_uint_eq(be16_load(out + 2) & 0xf, DNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(be16_load(out + 6), 0);
	ck_assert_uint_eq(be16_load(out + 8), 3);
}
END_TEST

START_TEST(answer_rrsig_query_is_one_type_covered)
{
	uint8_t sig_soa[128], sig_ns[128], sig_nsec[128], sig_key[128];
	uint8_t out[4096];
	size_t l1 = rrsig_rd(sig_soa, DNS_TYPE_SOA);
	size_t l2 = rrsig_rd(sig_ns, DNS_TYPE_NS);
	size_t l3 = rrsig_rd(sig_nsec, DNS_TYPE_NSEC);
	size_t l4 = rrsig_rd(sig_key, DNS_TYPE_DNSKEY);
	/* ". RRSIG": every signature at the root */
	const struct rr_spec root[] = {
		{ NULL, 0, DNS_TYPE_RRSIG, sig_soa, l1, 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_ns, l2, 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_nsec, l3, 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_key, l4, 0 },
		{ NULL, 0, DNS_TYPE_RRSIG, sig_key, l4, 0 },
	};
	uint16_t type, covered;
	size_t len;

	for (int do_bit = 0; do_bit < 2; do_bit++) {
		len = build_render((const uint8_t *)"", 1, DNS_TYPE_RRSIG, 0,
		    root, 5, do_bit, out, sizeof(out));
		ck_assert_uint_eq(be16_load(out + 6), 1);
		nth_record(out, len, 0, &type, &covered);
		ck_assert_uint_eq(type, DNS_TYPE_RRSIG);
		ck_assert_uint_eq(covered, DNS_TYPE_SOA);
		/* 17-byte query (no EDNS: + 11 here) */
		ck_assert_uint_lt(len, 12 + 1 + 4 + 11 + 11 + l1 + 1);
	}
	/* both signatures of one type stay (a KSK and a ZSK, say) */
	len = build_render((const uint8_t *)"", 1, DNS_TYPE_RRSIG, 0,
	    root + 3, 2, true, out, sizeof(out));
	ck_assert_uint_eq(be16_load(out + 6), 2);
}
END_TEST

/* Section counts of a rendering: answer, authority, additional (OPT
 * included). */
static void
assert_counts(const uint8_t *out, unsigned an, unsigned ns, unsigned ar)
{
	ck_assert_uint_eq(be16_load(out + 6), an);
	ck_assert_uint_eq(be16_load(out + 8), ns);
	ck_assert_uint_eq(be16_load(out + 10), ar);
}

START_TEST(answer_minimal_responses_as_unbound)
{
	static const uint8_t www[] = "\3www\7example", zone[] = "\7example",
	    addr[] = { 192, 0, 2, 1 },
	    soa_rd[] = "\0\0\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1",
	    nsec_rd[] = "\0\0\6\0\0\0\3",
	    cname_rd[] = "\4mail\7example";
	/* eight name servers with long names of their own, as a zone hosted
	 * by several providers has */
	enum { NS_N = 8, NS_LEN = 3 + 1 + 40 + sizeof(zone) };
	uint8_t ns_rd[NS_N][NS_LEN], sig[4][128], out[8192];
	struct rr_spec pos[1 + 2 * NS_N], nx[8], wild[6], referral[5], cname[3];
	static const uint16_t covered[4] = { DNS_TYPE_SOA, DNS_TYPE_NSEC,
		DNS_TYPE_NSEC, DNS_TYPE_A };
	unsigned n = 0;
	size_t sl[4];

	for (int i = 0; i < NS_N; i++) {
		/* nsI.<40 letters, unique>.example. */
		memcpy(ns_rd[i], "\2ns", 3);
		ns_rd[i][3] = 40;
		memset(ns_rd[i] + 4, 'a' + i, 40);
		memcpy(ns_rd[i] + 44, zone, sizeof(zone));
	}
	for (int i = 0; i < 4; i++)
		sl[i] = rrsig_rd(sig[i], covered[i]);
	/* www.example. A: the zone's NS and their addresses, as libunbound
	 * returns them */
	pos[n++] = (struct rr_spec){ NULL, 0, DNS_TYPE_A, addr, 4, 0 };
	for (int i = 0; i < NS_N; i++)
		pos[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_NS,
		    ns_rd[i], NS_LEN, 1 };
	for (int i = 0; i < NS_N; i++)
		pos[n++] = (struct rr_spec){ ns_rd[i], NS_LEN, DNS_TYPE_A, addr,
		    4, 2 };

	/* full: larger than 512 bytes, so a client without EDNS got TC */
	{
		size_t full = build_render_limit(www, sizeof(www), DNS_TYPE_A,
		    0, pos, n, false, false, 4096, out, sizeof(out));

		ck_assert_uint_gt(full, 512);
		assert_counts(out, 1, NS_N, NS_N + 1);
		build_render_limit(www, sizeof(www), DNS_TYPE_A, 0, pos, n,
		    false, false, 512, out, sizeof(out));
		ck_assert_uint_ne(be16_load(out + 2) & DNS_FLAG_TC, 0);
	}
	/* minimal: the A record alone, whole, no TC */
	build_render_limit(www, sizeof(www), DNS_TYPE_A, 0, pos, n, false,
	    true, 512, out, sizeof(out));
	ck_assert_uint_eq(be16_load(out + 2) & DNS_FLAG_TC, 0);
	assert_counts(out, 1, 0, 1);
	/* a query for NS keeps its addresses (Unbound: priming) */
	pos[0] = (struct rr_spec){ NULL, 0, DNS_TYPE_NS, ns_rd[0], NS_LEN, 0 };
	build_render_limit(www, sizeof(www), DNS_TYPE_NS, 0, pos, n, false,
	    true, 4096, out, sizeof(out));
	assert_counts(out, 1, NS_N, NS_N + 1);

	/* NXDOMAIN with its NSEC proof, DO=1: authority whole (SOA, two
	 * NSEC, their RRSIGs), additional dropped */
	n = 0;
	nx[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_SOA, soa_rd,
	    sizeof(soa_rd), 1 };
	nx[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_RRSIG,
	    sig[0], sl[0], 1 };
	nx[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_NSEC,
	    nsec_rd, sizeof(nsec_rd), 1 };
	nx[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_RRSIG,
	    sig[1], sl[1], 1 };
	nx[n++] = (struct rr_spec){ www, sizeof(www), DNS_TYPE_NSEC,
	    nsec_rd, sizeof(nsec_rd), 1 };
	nx[n++] = (struct rr_spec){ www, sizeof(www), DNS_TYPE_RRSIG,
	    sig[2], sl[2], 1 };
	nx[n++] = (struct rr_spec){ ns_rd[0], NS_LEN,
	    DNS_TYPE_A, addr, 4, 2 };
	build_render_limit(www, sizeof(www), DNS_TYPE_A, DNS_RCODE_NXDOMAIN,
	    nx, n, true, true, 4096, out, sizeof(out));
	assert_counts(out, 0, 6, 1);
	/* the same as NODATA (NOERROR, empty answer, SOA): the same */
	build_render_limit(www, sizeof(www), DNS_TYPE_A, 0, nx, n, true, true,
	    4096, out, sizeof(out));
	assert_counts(out, 0, 6, 1);
	/* NSEC3 proofs alike */
	nx[2].type = nx[4].type = DNS_TYPE_NSEC3;
	build_render_limit(www, sizeof(www), DNS_TYPE_A, DNS_RCODE_NXDOMAIN,
	    nx, n, true, true, 4096, out, sizeof(out));
	assert_counts(out, 0, 6, 1);
	/* DO=0: the proof is not for this client, the SOA is */
	build_render_limit(www, sizeof(www), DNS_TYPE_A, DNS_RCODE_NXDOMAIN,
	    nx, n, false, true, 4096, out, sizeof(out));
	assert_counts(out, 0, 1, 1);

	/* a wildcard expansion: the NSEC proving no closer match stays,
	 * and so does additional (Unbound sends all of it then) */
	n = 0;
	wild[n++] = (struct rr_spec){ NULL, 0, DNS_TYPE_A, addr, 4, 0 };
	wild[n++] = (struct rr_spec){ NULL, 0, DNS_TYPE_RRSIG, sig[3], sl[3],
	    0 };
	wild[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_NSEC,
	    nsec_rd, sizeof(nsec_rd), 1 };
	wild[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_RRSIG,
	    sig[1], sl[1], 1 };
	wild[n++] = (struct rr_spec){ ns_rd[0], NS_LEN,
	    DNS_TYPE_A, addr, 4, 2 };
	build_render_limit(www, sizeof(www), DNS_TYPE_A, 0, wild, n, true,
	    true, 4096, out, sizeof(out));
	assert_counts(out, 2, 2, 2);

	/* NOERROR, empty answer, NS but no SOA: a referral, sent whole */
	n = 0;
	referral[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_NS,
	    ns_rd[0], NS_LEN, 1 };
	referral[n++] = (struct rr_spec){ ns_rd[0], NS_LEN,
	    DNS_TYPE_A, addr, 4, 2 };
	build_render_limit(www, sizeof(www), DNS_TYPE_A, 0, referral, n, true,
	    true, 4096, out, sizeof(out));
	assert_counts(out, 0, 1, 2);

	/* a CNAME to a name without the type: neither positive nor
	 * negative, sent whole */
	n = 0;
	cname[n++] = (struct rr_spec){ NULL, 0, DNS_TYPE_CNAME, cname_rd,
	    sizeof(cname_rd), 0 };
	cname[n++] = (struct rr_spec){ zone, sizeof(zone), DNS_TYPE_SOA,
	    soa_rd, sizeof(soa_rd), 1 };
	cname[n++] = (struct rr_spec){ ns_rd[0], NS_LEN,
	    DNS_TYPE_A, addr, 4, 2 };
	build_render_limit(www, sizeof(www), DNS_TYPE_A, 0, cname, n, true,
	    true, 4096, out, sizeof(out));
	assert_counts(out, 1, 1, 2);
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
	tcase_add_test(ta, answer_names_with_repeated_labels);
	tcase_add_test(ta, answer_compression_points_backwards_only);
	tcase_add_test(ta, answer_any_is_one_rrset);
	tcase_add_test(ta, answer_rrsig_query_is_one_type_covered);
	tcase_add_test(ta, answer_minimal_responses_as_unbound);
	suite_add_tcase(s, tq);
	suite_add_tcase(s, ta);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(msg_suite());
	int failed;

#ifdef M_PERTURB
	(void)mallopt(M_PERTURB, 0xff);	/* malloc() fills with 0xff ^ 0xff */
#endif
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
