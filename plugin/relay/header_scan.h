/*
 * header_scan.h - reads the header block (RFC 5322 §2.2, §3.6) of a
 * message as it streams through the relay's DATA phase, in chunks, and
 * keeps the few fields the relay decides on: TLS-Required (RFC 8689 §5),
 * From and Sender (the raw values, and the addr-specs parsed out of them).
 *
 * Input is the DATA stream as the client sent it (dot-stuffed, RFC 5321
 * §4.5.2; a "." that starts a line is dropped) without the final ".CRLF":
 * exactly the bytes the front forwards. Header fields are unfolded (RFC
 * 5322 §2.2.3: a CRLF followed by WSP is removed, the WSP kept). The block
 * ends at the first empty line, at the first line that is not a header
 * field (no field name and colon: where Postfix's cleanup also starts the
 * body), at the byte limit given to header_scan_init(), or at the end of
 * the data (header_scan_finish()). Field names compare case-insensitively.
 *
 * SECURITY: parses client bytes byte by byte with an index bounded by the
 * length it is given; every value is copied into a fixed-size buffer and
 * cut (flagged truncated) beyond it; never allocates. A bare CR or LF (the
 * front refuses such a message anyway) is taken as a line end for LF, and
 * as a value byte for CR.
 *
 * Ownership: a plain struct the caller owns (about 8 KiB: allocate it for
 * the DATA phase only).
 */
#ifndef DANEGATE_RELAY_HEADER_SCAN_H
#define DANEGATE_RELAY_HEADER_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default bound on the header block: bytes scanned before giving up. */
#define HEADER_SCAN_LIMIT_DEFAULT (64 * 1024)
/* A field value kept: bytes after unfolding (RFC 5322's 998-byte line
 * limit, and room for a From folded over several lines). */
#define HEADER_SCAN_VALUE_MAX 2048
/* addr-specs kept from From (a mailbox-list) */
#define HEADER_SCAN_ADDRS_MAX 8
/* one addr-spec: RFC 5321's 64-byte local part, "@", 255-byte domain */
#define HEADER_SCAN_ADDR_MAX 320

enum header_scan_status {
	HEADER_SCAN_MORE = 0,	/* still inside the header block */
	HEADER_SCAN_DONE = 1,	/* the header block is over: see end */
};

/* Why the header block ended (HEADER_SCAN_END_NONE: it has not). */
enum header_scan_end {
	HEADER_SCAN_END_NONE = 0,
	HEADER_SCAN_END_BLANK,	/* the empty line before the body */
	HEADER_SCAN_END_BODY,	/* a line that is not a header field */
	HEADER_SCAN_END_LIMIT,	/* the byte limit: later fields are unseen */
	HEADER_SCAN_END_DATA,	/* the data ended inside the header block */
};

/* One field of interest. value is the first occurrence's, unfolded, with
 * the WSP after the colon and at the end removed, NUL-terminated; it may
 * hold other NUL bytes (len is the length). */
struct header_scan_field {
	unsigned count;		/* occurrences seen (RFC 5322: From and
				 * Sender at most 1, RFC 8689: TLS-Required
				 * at most 1) */
	bool truncated;		/* longer than HEADER_SCAN_VALUE_MAX */
	size_t len;
	char value[HEADER_SCAN_VALUE_MAX + 1];
};

struct header_scan {
	/* results: valid once header_scan_feed() returned HEADER_SCAN_DONE
	 * or header_scan_finish() was called */
	enum header_scan_end end;
	uint64_t bytes;			/* bytes of the header block seen */
	struct header_scan_field tls_required;
	struct header_scan_field from;
	struct header_scan_field sender;
	/* From's addr-specs ("local@domain", CFWS and display names
	 * removed, quoted local parts kept quoted); from_addrs_ok is false
	 * if From is absent, truncated, repeated, or did not parse as a
	 * mailbox-list (then from_naddrs is 0) */
	bool from_addrs_ok;
	unsigned from_naddrs;
	char from_addrs[HEADER_SCAN_ADDRS_MAX][HEADER_SCAN_ADDR_MAX + 1];
	/* Sender's addr-spec, the same way (one mailbox) */
	bool sender_addr_ok;
	char sender_addr[HEADER_SCAN_ADDR_MAX + 1];

	/* private */
	size_t limit;
	int state;
	bool cr;			/* a CR is pending */
	unsigned name_len;
	char name[16];			/* the field name, while read */
	struct header_scan_field *cur;	/* the field being read, or NULL */
	bool cur_first;			/* its first occurrence */
};

/* Ready for a new message. limit bounds the header block in bytes (0:
 * HEADER_SCAN_LIMIT_DEFAULT). */
void header_scan_init(struct header_scan *h, size_t limit);

/*
 * Scans len more bytes of the data. Returns HEADER_SCAN_DONE once the
 * header block is over (the results are then final; later calls do
 * nothing and return HEADER_SCAN_DONE), else HEADER_SCAN_MORE.
 */
int header_scan_feed(struct header_scan *h, const uint8_t *buf, size_t len);

/* The data ended (the final dot): a header block still open ends here
 * (HEADER_SCAN_END_DATA) and its results are made final. */
void header_scan_finish(struct header_scan *h);

/*
 * True if the header holds RFC 8689's "TLS-Required: No" (the value
 * compared case-insensitively, as ABNF strings are), exactly once: a
 * message with two TLS-Required fields is not a sender's clear request,
 * and keeps the destination's policy.
 */
bool header_scan_tls_required_no(const struct header_scan *h);

/*
 * Parses an RFC 5322 mailbox-list (§3.4: name-addr or addr-spec, comma
 * separated; comments, quoted strings, obsolete routes and empty list
 * members are handled) from value[0..len) into up to max addr-specs of
 * HEADER_SCAN_ADDR_MAX + 1 bytes each, "local@domain" with CFWS removed.
 * Returns 0 and *n, or DANEGATE_E_INVALID (a syntax error, a NUL byte,
 * more than max mailboxes, or an address longer than HEADER_SCAN_ADDR_MAX).
 */
int header_scan_mailboxes(const char *value, size_t len,
    char (*out)[HEADER_SCAN_ADDR_MAX + 1], unsigned max, unsigned *n);

#endif
