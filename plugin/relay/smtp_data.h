/*
 * smtp_data.h - finds the end of an SMTP DATA section (RFC 5321 §4.1.1.4)
 * in a byte stream, and nothing else: only <CRLF>.<CRLF> ends it.
 *
 * The relay streams the message to the remote as it arrives, dot-stuffed as
 * the client sent it. What it must never do is recognise an end of data
 * that the remote would not, or pass on one the remote would recognise and
 * the relay did not: that difference is SMTP smuggling (CVE-2023-51764 and
 * kin: "<LF>.<LF>", "<CR>.<CR>", "<LF>.<CRLF>"). So the scanner ends the
 * data only at CRLF "." CRLF, and it reports every bare CR or LF (RFC 5321
 * §2.3.8 forbids them) so that the session can refuse that message whole
 * and never forward it.
 *
 * SECURITY: scans client bytes with an index bounded by the length it is
 * given; keeps two bits of state between calls; never allocates.
 *
 * Ownership: a plain struct the caller owns.
 */
#ifndef DANEGATE_RELAY_SMTP_DATA_H
#define DANEGATE_RELAY_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_data_status {
	SMTP_DATA_MORE = 0,	/* the end is not in these bytes */
	SMTP_DATA_END = 1,	/* <CRLF>.<CRLF> found */
};

struct smtp_data {
	int state;		/* private */
	bool bare;		/* a bare CR or LF was seen */
	uint64_t bytes;		/* message bytes reported so far */
};

/* Ready for a new message: right after the DATA command's CRLF, which
 * counts as the CRLF before a terminating "." of an empty message. */
void smtp_data_init(struct smtp_data *d);

/*
 * Scans len bytes that follow what was scanned before. *fwd is the count
 * of leading bytes that are message content (forward them); *used the
 * count consumed: *fwd plus, at SMTP_DATA_END, the ".\r\n" that ended the
 * data. Bytes after *used are not consumed: after the end they belong to
 * the next command; otherwise they are a "." or ".\r" at the start of a
 * line that may still turn out to be the end: pass them again, with more
 * bytes after them. Returns SMTP_DATA_END or SMTP_DATA_MORE.
 */
int smtp_data_scan(struct smtp_data *d, const uint8_t *buf, size_t len,
    size_t *fwd, size_t *used);

#endif
