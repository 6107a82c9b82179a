/*
 * dname.c - see dname.h.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "dname.h"

int
dname_read(struct wire *w, uint8_t out[DNAME_MAX])
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
		if (outlen + c + 1 > DNAME_MAX || pos + 1 + c > w->len)
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
