/*
 * dname.c - see dname.h.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "dname.h"

int
dname_read(struct wire *w, uint8_t out[DNS_MAX_NAME])
{
	size_t pos = w->pos, resume = 0, outlen = 0;
	size_t seg = pos;	/* where the labels being read began */
	bool jumped = false;

	if (w->err)
		return -1;
	for (;;) {
		uint8_t c;

		if (pos >= w->len)
			goto bad;
		c = w->buf[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= w->len)
				goto bad;
			target = (size_t)(c & 0x3f) << 8 | w->buf[pos + 1];
			/* Before the labels that led here (seg): a target at
			 * or after seg is forward or loops back to this very
			 * pointer. Never into the 12-byte header, which holds
			 * no name (RFC 9267 §2). */
			if (target >= seg || target < DNAME_HEADER_LEN)
				goto bad;
			if (!jumped)
				resume = pos + 2;
			jumped = true;
			pos = seg = target;
			continue;
		}
		if (c & 0xc0)		/* 0x40/0x80: obsolete label types */
			goto bad;
		if (outlen + c + 1 > DNS_MAX_NAME || pos + 1 + c > w->len)
			goto bad;
		memcpy(out + outlen, w->buf + pos, (size_t)c + 1);
		outlen += (size_t)c + 1;
		if (c == 0)
			break;
		pos += (size_t)c + 1;
	}
	w->pos = jumped ? resume : pos + 1;
	return (int)outlen;
bad:
	w->err = true;
	return -1;
}

bool
dname_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (tolower(a[i]) != tolower(b[i]))
			return false;
	return true;
}

int
dname_to_text(const uint8_t *name, size_t len, bool relative, char *out,
    size_t cap)
{
	struct wire w;
	size_t o = 0;

	if (cap == 0 || len == 0 || len > DNS_MAX_NAME)
		return -1;
	wire_init(&w, name, len);
	for (;;) {
		uint8_t l = wire_u8(&w);
		const uint8_t *p;

		/* a bare length byte: pointers (0xc0) and the obsolete
		 * label types are over 63 */
		if (!wire_ok(&w) || l > DNS_MAX_LABEL)
			return -1;
		if (l == 0)
			break;
		if ((p = wire_take(&w, l)) == NULL)
			return -1;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = p[i];
			bool ddd = c < 0x21 || c > 0x7e;
			bool esc = !ddd && strchr(".\\\"();@$", c) != NULL;

			/* ">=": the NUL needs its byte too */
			if (o + (ddd ? 4 : esc ? 2 : 1) >= cap)
				return -1;
			if (ddd) {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			} else {
				if (esc)
					out[o++] = '\\';
				out[o++] = (char)c;
			}
		}
		/* relative: no dot after the last label (only the root
		 * label's byte is left) */
		if (relative && wire_left(&w) == 1)
			continue;
		if (o + 1 >= cap)
			return -1;
		out[o++] = '.';
	}
	if (wire_left(&w) != 0)		/* bytes after the root label */
		return -1;
	if (o == 0) {			/* the root */
		if (cap < 2)
			return -1;
		out[o++] = '.';
	}
	out[o] = '\0';
	return 0;
}
