/*
 * smtp_reply.h - a bounded, incremental parser for SMTP server replies
 * (RFC 5321 §4.2), internal to libdanegate.
 *
 * Bytes from the server are fed in whatever pieces the network delivers;
 * the parser says when one complete reply (one line, or a run of "250-"
 * lines ended by "250 ") has arrived and how many of the bytes it used, so
 * that the rest can be fed for the next reply. It keeps the reply code, the
 * first line's text (printable, truncated) and, for EHLO replies, which
 * service extensions the server listed (STARTTLS, ...).
 *
 * What it refuses, with a sticky error: a code that is not three digits
 * starting with 2 to 5; anything but '-', ' ' or the end of the line after
 * the code; lines carrying different codes; a line longer than
 * SMTP_REPLY_LINE_MAX bytes; more than SMTP_REPLY_LINES_MAX lines; a NUL
 * byte. Lines end in CRLF; a bare LF is accepted too.
 *
 * SECURITY: the input is whatever a remote SMTP server (or anyone on the
 * path, before STARTTLS) sends. Every byte is read through a bounded cursor
 * and stored only into fixed-size fields, so no input can make it read or
 * write out of bounds or allocate; it never allocates at all.
 *
 * Ownership: the parser is a plain struct the caller owns (on the stack or
 * inside its own state); it holds no pointers.
 */
#ifndef DANEGATE_SMTP_REPLY_H
#define DANEGATE_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX 2048	/* bytes of one line, CRLF excluded */
#define SMTP_REPLY_LINES_MAX 100	/* lines of one reply */
#define SMTP_REPLY_TEXT_MAX 512		/* kept of the first line's text */

/* Service extensions recognised in an EHLO reply (smtp_reply.ext). */
#define SMTP_EXT_STARTTLS	0x0001u
#define SMTP_EXT_PIPELINING	0x0002u
#define SMTP_EXT_SIZE		0x0004u
#define SMTP_EXT_8BITMIME	0x0008u
#define SMTP_EXT_SMTPUTF8	0x0010u
#define SMTP_EXT_CHUNKING	0x0020u
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x0040u
#define SMTP_EXT_DSN		0x0080u
#define SMTP_EXT_REQUIRETLS	0x0100u

enum smtp_reply_status {
	SMTP_REPLY_DONE = 1,		/* a complete reply is in ->reply */
	SMTP_REPLY_MORE = 0,		/* all bytes used, reply incomplete */
	SMTP_REPLY_E_CODE = -1,		/* code not 3 digits, 2xx..5xx */
	SMTP_REPLY_E_SEPARATOR = -2,	/* not '-', ' ' or EOL after code */
	SMTP_REPLY_E_MIXED = -3,	/* lines carry different codes */
	SMTP_REPLY_E_LONG = -4,		/* line over SMTP_REPLY_LINE_MAX */
	SMTP_REPLY_E_LINES = -5,	/* over SMTP_REPLY_LINES_MAX lines */
	SMTP_REPLY_E_NUL = -6,		/* a NUL byte */
	SMTP_REPLY_E_STATE = -7,	/* fed after DONE or an error */
};

/* One complete reply. */
struct smtp_reply {
	int code;			/* 200..599 */
	unsigned n_lines;		/* 1..SMTP_REPLY_LINES_MAX */
	/* the first line after "NNN-"/"NNN ", NUL-terminated, control and
	 * non-ASCII bytes replaced by '?', truncated to fit; for an EHLO
	 * reply, the server's name and greeting */
	char text[SMTP_REPLY_TEXT_MAX];
	bool truncated;			/* text was cut */
	/* EHLO keywords of lines 2.. (RFC 5321 §4.1.1.1), matched
	 * case-insensitively and as whole words: SMTP_EXT_* bits. Meaningful
	 * only for the reply to EHLO. */
	unsigned ext;
	uint64_t size_max;		/* "SIZE n": n (0: none or no limit) */
};

struct smtp_reply_parser {
	struct smtp_reply reply;	/* being built; complete at DONE */
	uint8_t line[SMTP_REPLY_LINE_MAX + 1];	/* +1: a CR before the LF */
	size_t len;			/* bytes in line */
	int status;			/* MORE, DONE or an error: sticky */
};

/* Makes p ready for a reply (again: call it before each reply). */
void smtp_reply_init(struct smtp_reply_parser *p);

/*
 * Feeds len bytes of buf. Returns SMTP_REPLY_DONE when a reply completed
 * (p->reply holds it; *used says how many bytes were consumed, the rest
 * belongs to whatever comes next), SMTP_REPLY_MORE when every byte was
 * consumed and the reply is still open, or a negative SMTP_REPLY_E_* code
 * (sticky until smtp_reply_init(); *used says where it stopped). buf may
 * be NULL when len is 0. used may be NULL.
 */
int smtp_reply_feed(struct smtp_reply_parser *p, const uint8_t *buf,
    size_t len, size_t *used);

/* A sentence for a status; never NULL. */
const char *smtp_reply_strerror(int status);

#endif
