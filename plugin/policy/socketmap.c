/*
 * socketmap.c - netstring reader, socketmap request splitter and reply
 * writer (see socketmap.h).
 *
 * SECURITY: reads bytes from local socketmap clients through the bounded
 * cursor of wire.h, into the reader's fixed array; never allocates.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"
#include "socketmap.h"

/* Enough digits for SOCKETMAP_REQUEST_MAX; a longer length is refused as
 * soon as it passes the limit, so this only bounds the count. */
#define LENGTH_DIGITS_MAX 7

void
socketmap_reader_init(struct socketmap_reader *r)
{
	r->want = 0;
	r->len = 0;
	r->digits = 0;
	r->state = SOCKETMAP_READ_LENGTH;
	r->status = SOCKETMAP_MORE;
	r->data[0] = '\0';
}

/* Stops with a sticky error at the cursor's position. */
static int
reader_fail(struct socketmap_reader *r, int status, const struct wire *w,
    size_t *used)
{
	r->status = status;
	if (used != NULL)
		*used = w->pos;
	return status;
}

int
socketmap_reader_feed(struct socketmap_reader *r, const uint8_t *buf,
    size_t len, size_t *used)
{
	struct wire w;

	if (used != NULL)
		*used = 0;
	if (r->status != SOCKETMAP_MORE)
		return SOCKETMAP_E_STATE;
	wire_init(&w, buf, buf == NULL ? 0 : len);
	while (wire_left(&w) > 0) {
		if (r->state == SOCKETMAP_READ_LENGTH) {
			/* wire_left() > 0: the byte is there */
			uint8_t c = wire_u8(&w);

			if (c == ':') {
				if (r->digits == 0)
					return reader_fail(r,
					    SOCKETMAP_E_LENGTH, &w, used);
				r->state = r->want == 0 ?
				    SOCKETMAP_READ_COMMA : SOCKETMAP_READ_DATA;
				continue;
			}
			if (c < '0' || c > '9')
				return reader_fail(r, r->digits == 0 ?
				    SOCKETMAP_E_LENGTH : SOCKETMAP_E_COLON,
				    &w, used);
			/* "0:," is the empty netstring; "01:" is not a
			 * length djb's rules allow */
			if (r->digits == 1 && r->want == 0)
				return reader_fail(r, SOCKETMAP_E_ZERO, &w,
				    used);
			r->want = r->want * 10 + (size_t)(c - '0');
			if (++r->digits > LENGTH_DIGITS_MAX ||
			    r->want > SOCKETMAP_REQUEST_MAX)
				return reader_fail(r, SOCKETMAP_E_TOO_LONG,
				    &w, used);
		} else if (r->state == SOCKETMAP_READ_DATA) {
			size_t n = r->want - r->len;
			const uint8_t *p;

			if (n > wire_left(&w))
				n = wire_left(&w);
			if ((p = wire_take(&w, n)) == NULL)
				return reader_fail(r, SOCKETMAP_E_STATE, &w,
				    used);	/* not reached: n <= left */
			memcpy(r->data + r->len, p, n);
			r->len += n;
			if (r->len == r->want)
				r->state = SOCKETMAP_READ_COMMA;
		} else {
			if (wire_u8(&w) != ',')
				return reader_fail(r, SOCKETMAP_E_COMMA, &w,
				    used);
			r->data[r->len] = '\0';
			r->status = SOCKETMAP_DONE;
			if (used != NULL)
				*used = w.pos;
			return SOCKETMAP_DONE;
		}
	}
	if (used != NULL)
		*used = w.pos;
	return SOCKETMAP_MORE;
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
socketmap_request_parse(struct socketmap_reader *r,
    struct socketmap_request *req)
{
	char *data = (char *)r->data, *space;
	size_t name_len;

	if (r->status != SOCKETMAP_DONE)
		return SOCKETMAP_E_STATE;
	/* a NUL inside would cut the key short without anyone noticing */
	if (memchr(data, '\0', r->len) != NULL)
		return SOCKETMAP_E_KEY;
	if ((space = memchr(data, ' ', r->len)) == NULL)
		return SOCKETMAP_E_REQUEST;
	name_len = (size_t)(space - data);
	if (name_len == 0 || name_len > SOCKETMAP_NAME_MAX)
		return SOCKETMAP_E_NAME;
	for (size_t i = 0; i < name_len; i++)
		if (!name_char(data[i]))
			return SOCKETMAP_E_NAME;
	if (name_len + 1 == r->len)
		return SOCKETMAP_E_KEY;
	for (size_t i = name_len + 1; i < r->len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c <= ' ' || c >= 0x7f)
			return SOCKETMAP_E_KEY;
	}
	*space = '\0';
	req->name = data;
	req->key = space + 1;
	return 0;
}

int
socketmap_reply_format(uint8_t *out, size_t cap, const char *status,
    const char *text)
{
	size_t slen = strlen(status), tlen = strlen(text);
	size_t body = slen + 1 + tlen;
	char prefix[24];
	struct wbuf b;
	int n;

	n = snprintf(prefix, sizeof(prefix), "%zu:", body);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return SOCKETMAP_E_SPACE;
	wbuf_init(&b, out, cap);
	wbuf_bytes(&b, prefix, (size_t)n);
	wbuf_bytes(&b, status, slen);
	wbuf_u8(&b, ' ');
	wbuf_bytes(&b, text, tlen);
	wbuf_u8(&b, ',');
	if (b.err || b.len > (size_t)0x7fffffff)
		return SOCKETMAP_E_SPACE;
	return (int)b.len;
}

const char *
socketmap_strerror(int status)
{
	switch (status) {
	case SOCKETMAP_DONE:
		return "complete netstring";
	case SOCKETMAP_MORE:
		return "netstring incomplete";
	case SOCKETMAP_E_LENGTH:
		return "netstring length empty or not a decimal number";
	case SOCKETMAP_E_ZERO:
		return "netstring length with a leading zero";
	case SOCKETMAP_E_TOO_LONG:
		return "netstring longer than 1024 bytes";
	case SOCKETMAP_E_COLON:
		return "no ':' after the netstring length";
	case SOCKETMAP_E_COMMA:
		return "no ',' after the netstring data";
	case SOCKETMAP_E_STATE:
		return "netstring reader used after the end or an error";
	case SOCKETMAP_E_REQUEST:
		return "request is not \"name key\"";
	case SOCKETMAP_E_NAME:
		return "map name empty, too long or not [A-Za-z0-9_-]";
	case SOCKETMAP_E_KEY:
		return "key empty or not printable ASCII without blanks";
	case SOCKETMAP_E_SPACE:
		return "reply does not fit";
	default:
		return "unknown socketmap status";
	}
}
