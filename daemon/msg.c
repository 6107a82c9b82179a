/*
 * msg.c - DNS query parsing and answer (re)writing; see msg.h.
 *
 * SECURITY: parses untrusted bytes from clients and from libunbound (which
 * relays data from any authoritative server). Every read goes through the
 * bounded cursor of wire.h or an explicit length check; compression pointers
 * must point strictly backwards, which also bounds the number of jumps.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "msg.h"
#include "wire.h"

#define OPT_RR_LEN 11		/* root name, type, class, ttl, rdlength */
#define EDE_TEXT_MAX 200	/* keep error answers small */
#define ENC_MAX_NAMES 256	/* compression targets remembered */

enum msg_query_status
msg_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	struct wire w;
	uint16_t qdcount, ancount, nscount, arcount;
	bool saw_opt = false;
	int n;

	memset(q, 0, sizeof(*q));
	q->udp_size = DNS_MIN_UDP;
	wire_init(&w, pkt, len);
	q->id = wire_u16(&w);
	q->flags = wire_u16(&w);
	qdcount = wire_u16(&w);
	ancount = wire_u16(&w);
	nscount = wire_u16(&w);
	arcount = wire_u16(&w);
	/* Never answer a response: that is how reflection loops start. */
	if (!wire_ok(&w) || (q->flags & DNS_FLAG_QR))
		return MSG_QUERY_DROP;

	if (qdcount != 1)
		return DNS_OPCODE(q->flags) != 0 ? MSG_QUERY_NOTIMP :
		    MSG_QUERY_FORMERR;
	/* A query name is never compressed: a pointer could only point into
	 * the header or into the name itself, and dname_read() refuses
	 * both. */
	n = dname_read(&w, q->qname);
	q->qtype = wire_u16(&w);
	q->qclass = wire_u16(&w);
	if (n < 0 || !wire_ok(&w))
		return MSG_QUERY_FORMERR;
	q->qname_len = (uint8_t)n;
	q->has_question = true;

	if (DNS_OPCODE(q->flags) != 0)
		return MSG_QUERY_NOTIMP;
	/* Only an IXFR query carries a record outside the question: the
	 * client's SOA in authority (RFC 1995 §3), skipped here so that it
	 * is refused like any transfer. */
	if (ancount != 0 || (nscount != 0 && q->qtype != DNS_TYPE_IXFR))
		return MSG_QUERY_FORMERR;
	for (unsigned i = 0; i < nscount; i++) {
		uint8_t owner[DNS_MAX_NAME];

		n = dname_read(&w, owner);
		wire_skip(&w, 8);		/* type, class, TTL */
		wire_skip(&w, wire_u16(&w));
		if (n < 0 || !wire_ok(&w))
			return MSG_QUERY_FORMERR;
	}

	/* Additional section: at most one OPT (owner root); others, such as
	 * TSIG, are skipped. */
	for (unsigned i = 0; i < arcount; i++) {
		uint8_t owner[DNS_MAX_NAME];
		uint16_t type, rdlen, klass;
		uint32_t ttl;

		n = dname_read(&w, owner);
		type = wire_u16(&w);
		klass = wire_u16(&w);
		ttl = wire_u32(&w);
		rdlen = wire_u16(&w);
		wire_skip(&w, rdlen);
		if (n < 0 || !wire_ok(&w))
			return MSG_QUERY_FORMERR;
		if (type != DNS_TYPE_OPT)
			continue;
		if (saw_opt || n != 1)
			return MSG_QUERY_FORMERR;
		saw_opt = true;
		q->edns = true;
		q->udp_size = klass < DNS_MIN_UDP ? DNS_MIN_UDP : klass;
		q->edns_version = (uint8_t)(ttl >> 16);
		q->edns_do = (ttl & 0x8000) != 0;
		/* Options are not needed for anything danegated does; unknown
		 * ones are ignored (RFC 6891 §6.1.2). */
	}

	if (q->edns && q->edns_version > 0)
		return MSG_QUERY_BADVERS;
	if (q->qtype == DNS_TYPE_OPT)
		return MSG_QUERY_FORMERR;
	if (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR ||
	    q->qclass != DNS_CLASS_IN)
		return MSG_QUERY_REFUSED;
	return MSG_QUERY_OK;
}

size_t
msg_udp_limit(const struct dns_query *q, uint16_t edns_size)
{
	size_t limit;

	if (!q->edns)
		return DNS_MIN_UDP;
	limit = q->udp_size < edns_size ? q->udp_size : edns_size;
	return limit < DNS_MIN_UDP ? DNS_MIN_UDP : limit;
}

static uint16_t
answer_flags(const struct dns_query *q, int rcode, bool ad)
{
	uint16_t flags = DNS_FLAG_QR | DNS_FLAG_RA;

	flags |= q->flags & (DNS_FLAG_RD | DNS_FLAG_CD | 0x7800 /* opcode */);
	flags |= (uint16_t)(rcode & 0xf);
	if (ad)
		flags |= DNS_FLAG_AD;
	return flags;
}

/* Appends an OPT record; ext_rcode is the upper 8 bits of a 12-bit rcode. */
static void
opt_write(struct wbuf *b, const struct dns_query *q, int rcode,
    uint16_t edns_size, int ede, const char *ede_text)
{
	size_t text_len = 0;

	if (ede != DNS_EDE_NONE && ede_text != NULL) {
		text_len = strlen(ede_text);
		if (text_len > EDE_TEXT_MAX)
			text_len = EDE_TEXT_MAX;
	}
	wbuf_u8(b, 0);
	wbuf_u16(b, DNS_TYPE_OPT);
	wbuf_u16(b, edns_size);
	wbuf_u8(b, (uint8_t)(rcode >> 4));
	wbuf_u8(b, 0);				/* version */
	wbuf_u16(b, q->edns_do ? 0x8000 : 0);
	if (ede == DNS_EDE_NONE) {
		wbuf_u16(b, 0);
		return;
	}
	wbuf_u16(b, (uint16_t)(4 + 2 + text_len));
	wbuf_u16(b, DNS_EDNS_OPT_EDE);
	wbuf_u16(b, (uint16_t)(2 + text_len));
	wbuf_u16(b, (uint16_t)ede);
	wbuf_bytes(b, ede_text, text_len);
}

size_t
msg_error_render(const struct dns_query *q, int rcode, int ede,
    const char *ede_text, uint16_t edns_size, uint8_t *out, size_t cap)
{
	struct wbuf b;

	wbuf_init(&b, out, cap);
	wbuf_u16(&b, q->id);
	wbuf_u16(&b, answer_flags(q, rcode, false));
	wbuf_u16(&b, q->has_question ? 1 : 0);
	wbuf_u16(&b, 0);
	wbuf_u16(&b, 0);
	wbuf_u16(&b, q->edns ? 1 : 0);
	if (q->has_question) {
		wbuf_bytes(&b, q->qname, q->qname_len);
		wbuf_u16(&b, q->qtype);
		wbuf_u16(&b, q->qclass);
	}
	if (q->edns)
		opt_write(&b, q, rcode, edns_size, ede, ede_text);
	return b.err ? 0 : b.len;
}

/*
 * The answer encoder: writes names with compression (RFC 1035 §4.1.4)
 * against the names already in the output. A name's labels become
 * targets only once the whole name is written: before that, comparing a
 * suffix against them would read output bytes not yet written, and a
 * match would point the name into itself, a loop (how "s.s." came out as
 * "s" plus a pointer to itself, with the render then copying the full
 * name over the question's type and class).
 */
struct encoder {
	struct wbuf b;
	uint16_t targets[ENC_MAX_NAMES];	/* offsets of written labels */
	unsigned n_targets;
};

/* Does the (compressed) name at off in the output equal the uncompressed
 * name suffix? Our own output, but every read is still bounded by what
 * has been written, and pointers must go strictly backwards. */
static bool
enc_name_matches(const struct encoder *e, size_t off, const uint8_t *suffix)
{
	const uint8_t *out = e->b.buf;

	for (;;) {
		uint8_t c;

		if (off >= e->b.len)
			return false;
		c = out[off];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (off + 1 >= e->b.len)
				return false;
			target = (size_t)(c & 0x3f) << 8 | out[off + 1];
			if (target >= off)
				return false;
			off = target;
			continue;
		}
		if (c != *suffix || off + 1 + c > e->b.len)
			return false;
		if (c == 0)
			return true;
		for (unsigned i = 1; i <= c; i++)
			if (tolower(out[off + i]) != tolower(suffix[i]))
				return false;
		off += (size_t)c + 1;
		suffix += (size_t)c + 1;
	}
}

static void
enc_name(struct encoder *e, const uint8_t *name, size_t len, bool compress)
{
	uint16_t fresh[DNS_MAX_NAME / 2 + 1];	/* this name's labels */
	unsigned n_fresh = 0;
	bool pointer = false;
	size_t i = 0;

	while (i < len && name[i] != 0 && !pointer) {
		for (unsigned t = 0; compress && t < e->n_targets; t++) {
			if (!enc_name_matches(e, e->targets[t], name + i))
				continue;
			wbuf_u16(&e->b, (uint16_t)(0xc000 | e->targets[t]));
			pointer = true;
			break;
		}
		if (pointer)
			break;
		/* A future target while its offset fits a pointer's 14
		 * bits. */
		if (e->b.len < 0x4000 && n_fresh < sizeof(fresh) /
		    sizeof(fresh[0]))
			fresh[n_fresh++] = (uint16_t)e->b.len;
		wbuf_bytes(&e->b, name + i, (size_t)name[i] + 1);
		i += (size_t)name[i] + 1;
	}
	if (!pointer)
		wbuf_u8(&e->b, 0);
	if (e->b.err)
		return;
	for (unsigned k = 0; k < n_fresh && e->n_targets < ENC_MAX_NAMES; k++)
		e->targets[e->n_targets++] = fresh[k];
}

/* Types whose rdata names may be compressed on output (RFC 3597 §4). */
static bool
type_rdata_compressible(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_NS: case DNS_TYPE_MD: case DNS_TYPE_MF:
	case DNS_TYPE_CNAME: case DNS_TYPE_SOA: case DNS_TYPE_MB:
	case DNS_TYPE_MG: case DNS_TYPE_MR: case DNS_TYPE_PTR:
	case DNS_TYPE_MINFO: case DNS_TYPE_MX:
		return true;
	default:
		return false;
	}
}

/*
 * Layout of rdata with names that a sender may have compressed: a prefix of
 * fixed bytes, then up to two names, then fixed bytes to the end.
 */
static bool
type_rdata_layout(uint16_t type, unsigned *prefix, unsigned *names)
{
	*prefix = 0;
	*names = 1;
	switch (type) {
	case DNS_TYPE_NS: case DNS_TYPE_MD: case DNS_TYPE_MF:
	case DNS_TYPE_CNAME: case DNS_TYPE_MB: case DNS_TYPE_MG:
	case DNS_TYPE_MR: case DNS_TYPE_PTR: case DNS_TYPE_DNAME:
		return true;
	case DNS_TYPE_SOA: case DNS_TYPE_MINFO: case 17 /* RP */:
		*names = 2;
		return true;
	case DNS_TYPE_MX: case 18 /* AFSDB */: case 21 /* RT */:
	case 36 /* KX */:
		*prefix = 2;
		return true;
	case 26 /* PX */:
		*prefix = 2;
		*names = 2;
		return true;
	case DNS_TYPE_SRV:
		*prefix = 6;
		return true;
	default:
		return false;
	}
}

/* Copies one record's rdata from the packet into the encoder, expanding and
 * (where allowed) recompressing the names in it. */
static void
enc_rdata(struct encoder *e, struct wire *w, uint16_t type, uint16_t rdlen)
{
	unsigned prefix, names;
	size_t rd_start = w->pos, rdlen_pos = e->b.len, data_start;

	wbuf_u16(&e->b, rdlen);		/* patched below */
	data_start = e->b.len;
	if (!type_rdata_layout(type, &prefix, &names)) {
		const uint8_t *p = wire_take(w, rdlen);

		if (p != NULL)
			wbuf_bytes(&e->b, p, rdlen);
		return;
	}
	if (prefix > rdlen) {
		w->err = true;
		return;
	}
	wbuf_bytes(&e->b, wire_take(w, prefix), prefix);
	for (unsigned i = 0; i < names; i++) {
		uint8_t name[DNS_MAX_NAME];
		int n = dname_read(w, name);

		if (n < 0 || w->pos > rd_start + rdlen) {
			w->err = true;
			return;
		}
		enc_name(e, name, (size_t)n, type_rdata_compressible(type));
	}
	if (w->pos > rd_start + rdlen) {
		w->err = true;
		return;
	}
	{
		size_t rest = rd_start + rdlen - w->pos;

		wbuf_bytes(&e->b, wire_take(w, rest), rest);
	}
	if (e->b.len - data_start > 0xffff)
		e->b.err = true;
	else
		wbuf_put_u16_at(&e->b, rdlen_pos,
		    (uint16_t)(e->b.len - data_start));
}

/*
 * Which records a DO=0 client does not get: DNSSEC types, unless it asked
 * for that type and the record answers it (RFC 3225 §3, RFC 4035 §3.2.1;
 * the list is Unbound's rrset_belongs_in_reply()). Unbound also sends them
 * in a DO=0 answer to ANY; danegated answers ANY with one RRset, see
 * answer_pick.
 */
static bool
rr_hidden_without_do(const struct dns_query *q, uint16_t type, int section)
{
	if (q->edns_do || (section == 0 && type == q->qtype))
		return false;
	switch (type) {
	case 24 /* SIG */: case 25 /* KEY */: case 30 /* NXT */:
	case DNS_TYPE_DS: case DNS_TYPE_RRSIG: case DNS_TYPE_NSEC:
	case DNS_TYPE_DNSKEY: case DNS_TYPE_NSEC3: case DNS_TYPE_NSEC3PARAM:
		return true;
	default:
		return false;
	}
}

/*
 * What libunbound's records say, read in a first pass: enough to decide
 * which sections a client needs, and for ANY and RRSIG queries which one
 * RRset it gets.
 */
struct answer_shape {
	unsigned n_answer;		/* records in the answer section */
	bool has_qtype;			/* one of them is of the query's type */
	bool auth_soa, auth_ns;		/* SOA, NS in the authority section */
	bool auth_denial;		/* NSEC or NSEC3 there: a proof */
	bool pick;			/* ANY/RRSIG: only this RRset is sent */
	uint8_t pick_owner[DNS_MAX_NAME];
	size_t pick_owner_len;
	uint16_t pick_type;		/* for RRSIG queries: the type covered */
};

/* The type an RRSIG's rdata says it covers (0 if too short to say). */
static uint16_t
rrsig_covered(const struct wire *w, uint16_t rdlen)
{
	struct wire peek = *w;

	return rdlen >= 2 ? wire_u16(&peek) : 0;
}

/*
 * RFC 8482 §4.1: an ANY query gets one RRset, the first libunbound lists
 * (from its cache that is A, AAAA, MX, SOA, NS or DNAME, in that order, as
 * Unbound fills ANY), with its signatures for DO=1. A full ANY answer is
 * the best amplifier a resolver offers and no mail software needs one.
 *
 * An RRSIG query is answered the same way: the signatures covering one
 * type, the first listed. RRSIG is a meta type: the signatures at a name
 * are not one RRset (RFC 4034 §3), no validator asks for them by type
 * (they come with the data they sign under DO=1), and "all of them" is
 * again a large answer to a small query (". RRSIG" was 23 times the query's
 * size). Refusing it would break dig-style debugging for nothing; TC for
 * UDP would need the transport, which a cached template does not know.
 */
static void
answer_pick(struct answer_shape *sh, const struct dns_query *q,
    const uint8_t *owner, size_t owner_len, uint16_t type, uint16_t covered)
{
	if (sh->pick || (q->qtype != DNS_TYPE_ANY && q->qtype != DNS_TYPE_RRSIG))
		return;
	if (q->qtype == DNS_TYPE_RRSIG && type != DNS_TYPE_RRSIG)
		return;
	sh->pick = true;
	memcpy(sh->pick_owner, owner, owner_len);
	sh->pick_owner_len = owner_len;
	sh->pick_type = type == DNS_TYPE_RRSIG ? covered : type;
}

/* Is this answer record part of the picked RRset (or signing it)? */
static bool
answer_picked(const struct answer_shape *sh, const struct dns_query *q,
    const uint8_t *owner, size_t owner_len, uint16_t type, uint16_t covered)
{
	if (!dname_equal(owner, owner_len, sh->pick_owner, sh->pick_owner_len))
		return false;
	if (type == DNS_TYPE_RRSIG)
		return covered == sh->pick_type;
	return q->qtype == DNS_TYPE_ANY && type == sh->pick_type;
}

static bool
is_denial_type(uint16_t type)
{
	return type == DNS_TYPE_NSEC || type == DNS_TYPE_NSEC3;
}

/* The first pass over the records; returns -1 if they do not parse. */
static int
answer_scan(struct wire w, const uint16_t count[3], const struct dns_query *q,
    struct answer_shape *sh)
{
	memset(sh, 0, sizeof(*sh));
	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < count[s]; i++) {
			uint8_t owner[DNS_MAX_NAME];
			uint16_t type, rdlen;
			int n = dname_read(&w, owner);

			type = wire_u16(&w);
			wire_skip(&w, 6);	/* class, TTL */
			rdlen = wire_u16(&w);
			if (n < 0 || !wire_ok(&w) || rdlen > wire_left(&w))
				return -1;
			if (s == 0) {
				sh->n_answer++;
				sh->has_qtype |= type == q->qtype;
				answer_pick(sh, q, owner, (size_t)n, type,
				    rrsig_covered(&w, rdlen));
			} else if (s == 1) {
				sh->auth_soa |= type == DNS_TYPE_SOA;
				sh->auth_ns |= type == DNS_TYPE_NS;
				sh->auth_denial |= type == DNS_TYPE_NSEC ||
				    type == DNS_TYPE_NSEC3;
			}
			wire_skip(&w, rdlen);
		}
	}
	return wire_ok(&w) ? 0 : -1;
}

/*
 * Which of the authority (keep[1]) and additional (keep[2]) sections the
 * client gets. With minimal-responses, Unbound's rules (reply_info_encode()
 * in util/data/msgencode.c, 1.17): a positive answer (NOERROR, a record of
 * the query's type in the answer section, the type not NS, no NSEC/NSEC3 in
 * authority, which would be a wildcard proof) needs neither; a negative
 * one (NXDOMAIN, or NOERROR with an empty answer section and either an SOA
 * or no NS in authority, i.e. not a referral) needs no additional section.
 * Everything else is sent whole.
 */
static void
answer_sections(const struct answer_shape *sh, const struct dns_query *q,
    int rcode, bool minimal, bool keep[3])
{
	bool positive, negative;

	keep[0] = keep[1] = keep[2] = true;
	if (sh->pick) {
		/* RFC 8482: one RRset, plus a wildcard's proof if any */
		keep[1] = sh->auth_denial;
		keep[2] = false;
		return;
	}
	if (!minimal)
		return;
	positive = rcode == DNS_RCODE_NOERROR && sh->has_qtype &&
	    q->qtype != DNS_TYPE_NS && !sh->auth_denial;
	negative = rcode == DNS_RCODE_NXDOMAIN ||
	    (rcode == DNS_RCODE_NOERROR && sh->n_answer == 0 &&
	    (sh->auth_soa || !sh->auth_ns));
	keep[1] = !positive;
	keep[2] = !positive && !negative;
}

struct msg_answer *
msg_answer_build(const struct dns_query *q, const uint8_t *pkt, size_t len,
    bool secure, bool minimal)
{
	uint8_t *buf = NULL, name[DNS_MAX_NAME];
	uint16_t *ttls = NULL, count[3], kept[3] = { 0, 0, 0 }, flags;
	struct msg_answer *a = NULL;
	struct encoder *e = NULL;
	struct answer_shape *sh = NULL;
	unsigned n_ttls = 0, max_rrs;
	uint32_t min_ttl = UINT32_MAX;
	bool keep[3];
	struct wire w;
	int n;

	wire_init(&w, pkt, len);
	wire_skip(&w, 2);			/* ID: libunbound's is 0 */
	flags = wire_u16(&w);
	if (wire_u16(&w) != 1)
		return NULL;
	for (int s = 0; s < 3; s++)
		count[s] = wire_u16(&w);
	n = dname_read(&w, name);
	if (n < 0 || !dname_equal(name, (size_t)n, q->qname, q->qname_len) ||
	    wire_u16(&w) != q->qtype || wire_u16(&w) != q->qclass ||
	    !wire_ok(&w))
		return NULL;

	max_rrs = (unsigned)count[0] + count[1] + count[2];
	if ((sh = malloc(sizeof(*sh))) == NULL ||
	    answer_scan(w, count, q, sh) != 0)
		goto fail;
	answer_sections(sh, q, flags & 0xf, minimal, keep);
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (buf = malloc(DNS_MAX_TCP)) == NULL ||
	    (ttls = calloc(max_rrs + 1, sizeof(*ttls))) == NULL)
		goto fail;
	wbuf_init(&e->b, buf, DNS_MAX_TCP);
	wbuf_u16(&e->b, 0);			/* ID, set at render */
	wbuf_u16(&e->b, (uint16_t)(flags & 0xf));	/* rcode only */
	wbuf_u16(&e->b, 1);
	wbuf_u16(&e->b, 0);			/* counts patched below */
	wbuf_u16(&e->b, 0);
	wbuf_u16(&e->b, 0);
	/* The question is written out whole: msg_answer_render() copies the
	 * client's spelling over it byte for byte. */
	enc_name(e, q->qname, q->qname_len, false);
	wbuf_u16(&e->b, q->qtype);
	wbuf_u16(&e->b, q->qclass);

	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < count[s]; i++) {
			uint16_t type, klass, rdlen, covered;
			uint32_t ttl;
			size_t rr_start = e->b.len;
			bool drop, picked_data;

			n = dname_read(&w, name);
			type = wire_u16(&w);
			klass = wire_u16(&w);
			ttl = wire_u32(&w);
			rdlen = wire_u16(&w);
			if (n < 0 || !wire_ok(&w) || rdlen > wire_left(&w))
				goto fail;
			/* The answer may be cached only as long as every
			 * record of it may, also those this client does not
			 * get (a DO=0 client's NSEC proof): Unbound's
			 * message cache rule. OPT is no data; a TTL with the
			 * top bit set counts as 0 (RFC 2181 §8). */
			if (type != DNS_TYPE_OPT &&
			    (ttl > 0x7fffffff ? 0 : ttl) < min_ttl)
				min_ttl = ttl > 0x7fffffff ? 0 : ttl;
			covered = type == DNS_TYPE_RRSIG ?
			    rrsig_covered(&w, rdlen) : 0;
			drop = !keep[s] || type == DNS_TYPE_OPT;
			picked_data = false;
			if (s == 0 && sh->pick && !drop) {
				drop = !answer_picked(sh, q, name, (size_t)n,
				    type, covered);
				/* ANY asked for the picked RRset whatever its
				 * type; its signatures need DO=1 */
				picked_data = type != DNS_TYPE_RRSIG;
			}
			/* ...and of the authority section only the wildcard
			 * proof itself: what else is there (an SOA, NS) would
			 * stay behind for DO=0 clients, whose proof is hidden,
			 * and the answer would no longer say why it is kept */
			if (s == 1 && sh->pick && !drop)
				drop = !is_denial_type(type) &&
				    !(type == DNS_TYPE_RRSIG &&
				    is_denial_type(covered));
			if (!drop && !picked_data)
				drop = rr_hidden_without_do(q, type, s);
			if (drop) {
				wire_skip(&w, rdlen);
				continue;
			}
			enc_name(e, name, (size_t)n, true);
			wbuf_u16(&e->b, type);
			wbuf_u16(&e->b, klass);
			if (e->b.len + 4 <= 0xffff)
				ttls[n_ttls++] = (uint16_t)e->b.len;
			wbuf_u32(&e->b, ttl);
			enc_rdata(e, &w, type, rdlen);
			if (!wire_ok(&w) || e->b.err || rr_start > 0xffff)
				goto fail;
			kept[s]++;
		}
	}
	if (e->b.err)
		goto fail;
	for (int s = 0; s < 3; s++)
		wbuf_put_u16_at(&e->b, 6 + 2 * (size_t)s, kept[s]);

	if ((a = msg_answer_new(e->b.len, n_ttls)) == NULL)
		goto fail;
	memcpy(a->wire, buf, a->len);
	memcpy(a->ttl_offs, ttls, n_ttls * sizeof(*ttls));
	a->qname_off = DNS_HEADER_LEN;
	a->min_ttl = min_ttl != UINT32_MAX ? min_ttl : 0;
	a->rcode = (uint8_t)(flags & 0xf);
	a->secure = secure;
	free(ttls);
	free(buf);
	free(e);
	free(sh);
	return a;
fail:
	msg_answer_free(a);
	free(ttls);
	free(buf);
	free(e);
	free(sh);
	return NULL;
}

struct msg_answer *
msg_answer_new(size_t len, size_t n_ttls)
{
	struct msg_answer *a;

	if (len > UINT16_MAX || n_ttls > UINT16_MAX ||
	    (a = calloc(1, sizeof(*a) + n_ttls * sizeof(*a->ttl_offs) +
	    len)) == NULL)
		return NULL;
	/* the TTL offsets first: they need the alignment, the wire not */
	a->ttl_offs = (uint16_t *)(void *)(a + 1);
	a->wire = (uint8_t *)(a->ttl_offs + n_ttls);
	a->len = (uint16_t)len;
	a->n_ttls = (uint16_t)n_ttls;
	return a;
}

void
msg_answer_free(struct msg_answer *a)
{
	free(a);
}

size_t
msg_answer_render(const struct msg_answer *a, const struct dns_query *q,
    uint32_t age, size_t limit, uint16_t edns_size, uint8_t *out,
    size_t cap)
{
	size_t need = (size_t)a->len + (q->edns ? OPT_RR_LEN : 0);
	bool ad = a->secure && (q->edns_do || (q->flags & DNS_FLAG_AD));
	struct wbuf b;

	if (need > limit) {
		/* Does not fit: TC=1 and no records, the client retries over
		 * TCP (RFC 7766). */
		size_t n = msg_error_render(q, a->rcode, DNS_EDE_NONE, NULL,
		    edns_size, out, cap);

		if (n > 0)
			be16_store(out + 2, (uint16_t)(be16_load(out + 2) |
			    DNS_FLAG_TC | (ad ? DNS_FLAG_AD : 0)));
		return n;
	}
	if (need > cap || a->qname_off + q->qname_len > a->len)
		return 0;
	memcpy(out, a->wire, a->len);
	be16_store(out, q->id);
	be16_store(out + 2, answer_flags(q, a->rcode, ad));
	/* Same length as the template's name: equal but for case. */
	memcpy(out + a->qname_off, q->qname, q->qname_len);
	for (unsigned i = 0; i < a->n_ttls; i++) {
		uint8_t *p = out + a->ttl_offs[i];
		uint32_t ttl = be32_load(p);

		be32_store(p, ttl > age ? ttl - age : 0);
	}
	if (!q->edns)
		return a->len;
	wbuf_init(&b, out, cap);
	b.len = a->len;
	opt_write(&b, q, a->rcode, edns_size, DNS_EDE_NONE, NULL);
	be16_store(out + 10, (uint16_t)(be16_load(out + 10) + 1));
	return b.err ? 0 : b.len;
}
