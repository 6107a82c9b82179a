/*
 * smtp_reply.c - the bounded, incremental SMTP reply parser (see
 * smtp_reply.h).
 *
 * SECURITY: parses bytes from remote SMTP servers, before and after
 * STARTTLS. Input is read through lib/wire.h's cursor, one byte at a time,
 * into a line buffer whose bound is checked before every store; a line is
 * judged only once its LF has arrived, so a reply split anywhere parses the
 * same as one delivered whole. Nothing is allocated.
 */
#include "config.h"

#include <string.h>

#include "smtp_reply.h"
#include "wire.h"

void
smtp_reply_init(struct smtp_reply_parser *p)
{
	memset(&p->reply, 0, sizeof(p->reply));
	p->len = 0;
	p->status = SMTP_REPLY_MORE;
}

const char *
smtp_reply_strerror(int status)
{
	switch (status) {
	case SMTP_REPLY_DONE:
		return "complete reply";
	case SMTP_REPLY_MORE:
		return "incomplete reply";
	case SMTP_REPLY_E_CODE:
		return "reply code is not three digits from 200 to 599";
	case SMTP_REPLY_E_SEPARATOR:
		return "reply code not followed by '-', ' ' or the end of the "
		    "line";
	case SMTP_REPLY_E_MIXED:
		return "lines of one reply carry different codes";
	case SMTP_REPLY_E_LONG:
		return "reply line longer than 2048 bytes";
	case SMTP_REPLY_E_LINES:
		return "reply longer than 100 lines";
	case SMTP_REPLY_E_NUL:
		return "NUL byte in a reply";
	case SMTP_REPLY_E_STATE:
		return "reply parser used after the end of a reply";
	default:
		return "unknown reply parser status";
	}
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether the n bytes at s are word, ignoring ASCII case. */
static bool
word_is(const uint8_t *s, size_t n, const char *word)
{
	size_t wlen = strlen(word);

	if (n != wlen)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(s[i]) != ascii_lower((unsigned char)word[i]))
			return false;
	return true;
}

static const struct {
	const char *keyword;
	unsigned bit;
} ehlo_keywords[] = {
	{ "STARTTLS", SMTP_EXT_STARTTLS },
	{ "PIPELINING", SMTP_EXT_PIPELINING },
	{ "SIZE", SMTP_EXT_SIZE },
	{ "8BITMIME", SMTP_EXT_8BITMIME },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
	{ "CHUNKING", SMTP_EXT_CHUNKING },
	{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "DSN", SMTP_EXT_DSN },
	{ "REQUIRETLS", SMTP_EXT_REQUIRETLS },
};

/*
 * "SIZE 10240000": the limit. Digits beyond what a uint64_t holds make it
 * "no usable limit" (0) rather than a wrapped number.
 */
static uint64_t
parse_size(struct wire *w)
{
	uint64_t v = 0;

	while (wire_left(w) > 0) {
		uint8_t c = wire_u8(w);

		if (c == ' ' && v == 0)
			continue;	/* the blank(s) before the number */
		if (c < '0' || c > '9')
			break;
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(c - '0');
	}
	return v;
}

/* The keyword of one EHLO line after the first: "STARTTLS", "SIZE 1000". */
static void
parse_keyword(struct smtp_reply *r, const uint8_t *text, size_t len)
{
	struct wire w;
	size_t n = 0;

	/* The keyword is everything up to the first blank; a server that
	 * pads with trailing blanks still offers the extension. */
	while (n < len && text[n] != ' ' && text[n] != '\t' && text[n] != '\r')
		n++;
	for (size_t i = 0; i < sizeof(ehlo_keywords) / sizeof(ehlo_keywords[0]);
	    i++) {
		if (!word_is(text, n, ehlo_keywords[i].keyword))
			continue;
		r->ext |= ehlo_keywords[i].bit;
		if (ehlo_keywords[i].bit == SMTP_EXT_SIZE) {
			wire_init(&w, text + n, len - n);
			r->size_max = parse_size(&w);
		}
		return;
	}
}

/* Keeps the first line's text for humans: printable ASCII only. */
static void
keep_text(struct smtp_reply *r, const uint8_t *text, size_t len)
{
	size_t n = len;

	if (n > sizeof(r->text) - 1) {
		n = sizeof(r->text) - 1;
		r->truncated = true;
	}
	for (size_t i = 0; i < n; i++)
		r->text[i] = text[i] >= 0x20 && text[i] < 0x7f ?
		    (char)text[i] : '?';
	r->text[n] = '\0';
}

/* Judges one complete line (CRLF or LF already stripped). */
static int
line_done(struct smtp_reply_parser *p, size_t len)
{
	struct smtp_reply *r = &p->reply;
	struct wire w;
	const uint8_t *digits;
	const uint8_t *text = NULL;
	size_t text_len = 0;
	bool last;
	int code;

	wire_init(&w, p->line, len);
	digits = wire_take(&w, 3);
	if (digits == NULL || digits[0] < '2' || digits[0] > '5' ||
	    digits[1] < '0' || digits[1] > '9' ||
	    digits[2] < '0' || digits[2] > '9')
		return SMTP_REPLY_E_CODE;
	code = (digits[0] - '0') * 100 + (digits[1] - '0') * 10 +
	    (digits[2] - '0');
	if (wire_left(&w) == 0) {
		last = true;	/* "250" alone: a last line without text */
	} else {
		uint8_t sep = wire_u8(&w);

		if (sep == '-')
			last = false;
		else if (sep == ' ')
			last = true;
		else
			return SMTP_REPLY_E_SEPARATOR;
		text_len = wire_left(&w);
		text = wire_take(&w, text_len);
	}

	if (r->n_lines >= SMTP_REPLY_LINES_MAX)
		return SMTP_REPLY_E_LINES;
	if (r->n_lines == 0) {
		r->code = code;
		keep_text(r, text, text_len);
	} else {
		if (code != r->code)
			return SMTP_REPLY_E_MIXED;
		if (text_len > 0)
			parse_keyword(r, text, text_len);
	}
	r->n_lines++;
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

int
smtp_reply_feed(struct smtp_reply_parser *p, const uint8_t *buf, size_t len,
    size_t *used)
{
	struct wire w;
	int rc = SMTP_REPLY_MORE;

	if (used != NULL)
		*used = 0;
	if (p->status == SMTP_REPLY_DONE)
		return SMTP_REPLY_E_STATE;
	if (p->status != SMTP_REPLY_MORE)
		return p->status;
	if (buf == NULL)
		len = 0;

	wire_init(&w, buf, len);
	while (wire_left(&w) > 0) {
		uint8_t c = wire_u8(&w);

		if (c == '\0') {
			rc = SMTP_REPLY_E_NUL;
			break;
		}
		if (c != '\n') {
			/* Full buffer: the line has at least LINE_MAX + 1
			 * bytes of text (a CR in the last slot that is not
			 * followed by LF is text too). */
			if (p->len >= sizeof(p->line)) {
				rc = SMTP_REPLY_E_LONG;
				break;
			}
			p->line[p->len++] = c;
			continue;
		}
		/* CRLF, or a bare LF from a sloppy server */
		if (p->len > 0 && p->line[p->len - 1] == '\r')
			p->len--;
		if (p->len > SMTP_REPLY_LINE_MAX) {
			rc = SMTP_REPLY_E_LONG;
			break;
		}
		rc = line_done(p, p->len);
		p->len = 0;
		if (rc != SMTP_REPLY_MORE)
			break;
	}
	if (used != NULL)
		*used = w.pos;
	p->status = rc;
	return rc;
}
