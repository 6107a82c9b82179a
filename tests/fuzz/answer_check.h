/*
 * answer_check.h - an independent, strict reader for the answers danegated
 * renders, shared by tests/unit/test_msg.c and tests/fuzz/fuzz_answer.c as
 * their oracle.
 *
 * It shares no code with daemon/msg.c or lib/dname.c on purpose: a bug in
 * the name reader there must not hide the same bug in the encoder. It
 * checks what a client's parser relies on: the question equals the query's
 * byte for byte (name in the client's case, type, class), every record and
 * every name in a name-bearing rdata lies inside the packet and its rdata,
 * the counts match the records, nothing trails, and every compression
 * pointer points strictly backwards to before the labels that lead to it
 * (never forward, never into itself, never into the header).
 */
#ifndef DG_ANSWER_CHECK_H
#define DG_ANSWER_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "msg.h"

/*
 * Reads the name at *pos of pkt[0..end) (end bounds where the name itself
 * may lie; pointers may go anywhere before). Writes the uncompressed name
 * to out (255 bytes) when out is not NULL. Returns NULL and moves *pos past
 * the name, or says what is wrong.
 */
static const char *
check_name(const uint8_t *pkt, size_t end, size_t *pos, uint8_t *out,
    size_t *out_len)
{
	size_t p = *pos, total = 0, after = 0;
	size_t seg = p;		/* where the labels being read began */
	int jumps = 0;

	for (;;) {
		uint8_t c;

		if (p >= end)
			return "name runs past its end";
		c = pkt[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= end)
				return "pointer cut short";
			target = (size_t)(c & 0x3f) << 8 | pkt[p + 1];
			if (target < DNS_HEADER_LEN)
				return "pointer into the header";
			/* Anything at or after the start of the labels that
			 * led here is forward or loops back to this pointer. */
			if (target >= seg)
				return "pointer forward or into its own name";
			if (jumps++ == 0)
				after = p + 2;
			p = seg = target;
			continue;
		}
		if (c & 0xc0)
			return "obsolete label type";
		if (p + 1 + c > end)
			return "label runs past its end";
		if (total + 1 + c > DNS_MAX_NAME)
			return "name longer than 255 bytes";
		if (out != NULL)
			memcpy(out + total, pkt + p, (size_t)c + 1);
		total += (size_t)c + 1;
		p += (size_t)c + 1;
		if (c == 0)
			break;
	}
	*pos = jumps > 0 ? after : p;
	if (out_len != NULL)
		*out_len = total;
	return NULL;
}

/* Names inside rdata that the check follows: fixed prefix, then names. */
static void
check_rdata_names(uint16_t type, unsigned *prefix, unsigned *names)
{
	*prefix = 0;
	*names = 0;
	switch (type) {
	case DNS_TYPE_NS: case DNS_TYPE_CNAME: case DNS_TYPE_PTR:
	case DNS_TYPE_DNAME:
		*names = 1;
		break;
	case DNS_TYPE_SOA: case DNS_TYPE_MINFO:
		*names = 2;
		break;
	case DNS_TYPE_MX:
		*prefix = 2;
		*names = 1;
		break;
	case DNS_TYPE_SRV:
		*prefix = 6;
		*names = 1;
		break;
	default:
		break;
	}
}

/*
 * Checks an answer rendered for query q. Returns NULL if it is sound,
 * else what is wrong with it.
 */
static const char *
answer_check(const uint8_t *pkt, size_t len, const struct dns_query *q)
{
	size_t pos = DNS_HEADER_LEN, name_len;
	uint8_t name[DNS_MAX_NAME];
	unsigned count[3], opts = 0;
	const char *why;

	if (len < DNS_HEADER_LEN)
		return "shorter than a header";
	if ((pkt[2] & 0x80) == 0)
		return "QR not set";
	if (pkt[0] != (uint8_t)(q->id >> 8) || pkt[1] != (uint8_t)q->id)
		return "ID differs from the query's";
	if (pkt[4] != 0 || pkt[5] != 1)
		return "QDCOUNT is not 1";
	for (int s = 0; s < 3; s++)
		count[s] = (unsigned)pkt[6 + 2 * s] << 8 | pkt[7 + 2 * s];

	if ((why = check_name(pkt, len, &pos, name, &name_len)) != NULL)
		return why;
	if (name_len != q->qname_len || memcmp(name, q->qname, name_len) != 0)
		return "question name differs from the query's";
	if (pos + 4 > len)
		return "question cut short";
	if (((unsigned)pkt[pos] << 8 | pkt[pos + 1]) != q->qtype ||
	    ((unsigned)pkt[pos + 2] << 8 | pkt[pos + 3]) != q->qclass)
		return "question type or class differs from the query's";
	pos += 4;

	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < count[s]; i++) {
			unsigned prefix, names;
			uint16_t type, rdlen;
			size_t owner = pos, rd;

			if ((why = check_name(pkt, len, &pos, NULL, &name_len))
			    != NULL)
				return why;
			if (pos + 10 > len)
				return "record header cut short";
			type = (uint16_t)(pkt[pos] << 8 | pkt[pos + 1]);
			rdlen = (uint16_t)(pkt[pos + 8] << 8 | pkt[pos + 9]);
			pos += 10;
			if (rdlen > len - pos)
				return "rdata runs past the packet";
			if (type == DNS_TYPE_OPT) {
				if (s != 2 || opts++ > 0 || pkt[owner] != 0)
					return "misplaced OPT record";
			}
			check_rdata_names(type, &prefix, &names);
			rd = pos + prefix;
			for (unsigned k = 0; k < names; k++)
				if ((why = check_name(pkt, pos + rdlen, &rd,
				    NULL, NULL)) != NULL)
					return why;
			if (rd > pos + rdlen)
				return "rdata shorter than its fields";
			pos += rdlen;
		}
	}
	if (pos != len)
		return "bytes after the last record";
	return NULL;
}

#endif
