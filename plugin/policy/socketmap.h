/*
 * socketmap.h - Postfix's socketmap protocol for danegate-policy: a
 * bounded, incremental netstring reader, the request "name key" inside it,
 * and the reply writer. Internal to the policy service.
 *
 * The protocol (Postfix socketmap_table(5), djb's netstrings): the client
 * sends "<len>:<name> <key>," and the server answers "<len>:<status>
 * <data>," with status OK, NOTFOUND, TEMP, TIMEOUT or PERM; a connection
 * carries any number of such pairs, one at a time.
 *
 * What the reader refuses, with a sticky error: a length that is empty,
 * not decimal, has a leading zero or more than SOCKETMAP_REQUEST_MAX (a
 * TLS policy key is a domain name: 253 bytes and a map name); anything but
 * ':' after the digits, anything but ',' after the data. The request
 * inside must be a map name of letters, digits, '-' and '_', one space and
 * a key of printable ASCII without blanks.
 *
 * SECURITY: the bytes come from any local client that can reach the
 * socket (Postfix, or anyone the socket's mode lets in). The reader stores
 * them only into a fixed array in its own struct and never allocates: a
 * client can at most hold SOCKETMAP_REQUEST_MAX bytes per connection.
 *
 * Ownership: a reader is a plain struct the caller owns; it holds no
 * pointers.
 */
#ifndef DANEGATE_POLICY_SOCKETMAP_H
#define DANEGATE_POLICY_SOCKETMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKETMAP_REQUEST_MAX	1024	/* bytes inside one request */
#define SOCKETMAP_NAME_MAX	64	/* map name */
#define SOCKETMAP_REPLY_MAX	4096	/* one reply, netstring included */

enum socketmap_status {
	SOCKETMAP_DONE = 1,		/* one complete netstring */
	SOCKETMAP_MORE = 0,		/* all bytes used, netstring open */
	SOCKETMAP_E_LENGTH = -1,	/* length empty or not decimal */
	SOCKETMAP_E_ZERO = -2,		/* length with a leading zero */
	SOCKETMAP_E_TOO_LONG = -3,	/* over SOCKETMAP_REQUEST_MAX */
	SOCKETMAP_E_COLON = -4,		/* no ':' after the length */
	SOCKETMAP_E_COMMA = -5,		/* no ',' after the data */
	SOCKETMAP_E_STATE = -6,		/* fed after DONE or an error */
	SOCKETMAP_E_REQUEST = -7,	/* not "name key" */
	SOCKETMAP_E_NAME = -8,		/* map name not [A-Za-z0-9_-]+ */
	SOCKETMAP_E_KEY = -9,		/* key empty or not printable */
	SOCKETMAP_E_SPACE = -10,	/* reply does not fit */
};

enum socketmap_reader_state {
	SOCKETMAP_READ_LENGTH = 0,
	SOCKETMAP_READ_DATA,
	SOCKETMAP_READ_COMMA,
};

struct socketmap_reader {
	uint8_t data[SOCKETMAP_REQUEST_MAX + 1];	/* +1: a NUL after it */
	size_t want;			/* the declared length */
	size_t len;			/* bytes of data so far */
	unsigned digits;		/* of the length so far */
	enum socketmap_reader_state state;
	int status;			/* MORE, DONE or an error: sticky */
};

/* Makes r ready for a netstring (again: call it before each one). */
void socketmap_reader_init(struct socketmap_reader *r);

/*
 * Feeds len bytes of buf. Returns SOCKETMAP_DONE when a netstring is
 * complete (r->data holds r->len bytes and a NUL; *used says how many
 * bytes were consumed, the rest belongs to the next request),
 * SOCKETMAP_MORE when every byte was used, or a negative SOCKETMAP_E_*
 * code (sticky until socketmap_reader_init(); *used says where it
 * stopped). buf may be NULL when len is 0; used may be NULL.
 */
int socketmap_reader_feed(struct socketmap_reader *r, const uint8_t *buf,
    size_t len, size_t *used);

/* A request split into its parts (pointers into the reader's data). */
struct socketmap_request {
	const char *name;		/* NUL-terminated */
	const char *key;		/* NUL-terminated */
};

/*
 * Splits a complete netstring's data (r after SOCKETMAP_DONE) into map
 * name and key, in place. Returns 0 or SOCKETMAP_E_REQUEST/_NAME/_KEY.
 */
int socketmap_request_parse(struct socketmap_reader *r,
    struct socketmap_request *req);

/*
 * Writes the netstring "<len>:<status> <text>," into out (cap bytes).
 * status is "OK", "NOTFOUND", "TEMP", "TIMEOUT" or "PERM"; text may be
 * empty ("NOTFOUND " keeps its space, as Postfix writes it). Returns the
 * number of bytes written, or SOCKETMAP_E_SPACE (nothing usable written).
 */
int socketmap_reply_format(uint8_t *out, size_t cap, const char *status,
    const char *text);

/* A sentence for a status; never NULL. */
const char *socketmap_strerror(int status);

#endif
