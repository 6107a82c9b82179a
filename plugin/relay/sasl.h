/*
 * sasl.h - the server side of SMTP AUTH (RFC 4954) for the relay's front:
 * the AUTH command's arguments, strict base64 (RFC 4648 §4, as RFC 4954
 * §4 requires), and the two password mechanisms the programs behind the
 * relay can send, PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).
 *
 * Only what the wire carries is decided here; the session owns the order
 * (after STARTTLS, bounded attempts) and the password check (clients.h).
 *
 * SECURITY: the input is what an unauthenticated client sends. Every byte
 * is read through lib/wire.h's bounded cursor into the fixed-size fields
 * of struct sasl_creds; nothing is allocated. The caller wipes a struct
 * sasl_creds with sasl_creds_wipe() once the password has been checked.
 *
 * Ownership: plain structs the caller owns.
 */
#ifndef DANEGATE_RELAY_SASL_H
#define DANEGATE_RELAY_SASL_H

#include <stddef.h>
#include <stdint.h>

/* RFC 4616 §2: each of authzid, authcid, passwd is at most 255 octets. */
#define SASL_FIELD_MAX	255
/* The longest base64 line the front accepts: a PLAIN message of three
 * maximal fields with its two NULs, encoded (RFC 4954 §4 sets no limit;
 * the command line's 2048 bytes bound it as well). */
#define SASL_B64_MAX	1024

enum sasl_mech {
	SASL_MECH_NONE = 0,
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
};

enum sasl_status {
	SASL_OK = 0,
	SASL_E_SYNTAX = -1,	/* AUTH without a mechanism, junk after */
	SASL_E_MECH = -2,	/* a mechanism that is not offered */
	SASL_E_BASE64 = -3,	/* not strict base64 */
	SASL_E_LONG = -4,	/* a field over SASL_FIELD_MAX */
	SASL_E_MESSAGE = -5,	/* PLAIN: not authzid NUL authcid NUL passwd,
				 * an empty authcid or passwd, or a NUL in a
				 * LOGIN answer */
	SASL_E_AUTHZ = -6,	/* PLAIN: an authzid other than the authcid
				 * (acting for another user is not offered) */
	SASL_E_CANCEL = -7,	/* the client sent "*" (RFC 4954 §4) */
	SASL_E_UTF8 = -8,	/* a name that is not UTF-8 without controls */
};

/* "AUTH mechanism [initial-response]" */
struct sasl_auth {
	enum sasl_mech mech;
	/* the initial response as sent (base64, or "=" for an empty one),
	 * "" when none was given */
	char initial[SASL_B64_MAX + 1];
};

/* A user name and password, NUL-terminated (neither holds a NUL). */
struct sasl_creds {
	char user[SASL_FIELD_MAX + 1];
	char pass[SASL_FIELD_MAX + 1];
};

/*
 * Parses the arguments of an AUTH command line (len bytes without CRLF,
 * the whole line "AUTH PLAIN dGVzdA=="). The mechanism name is matched in
 * any case. Returns SASL_OK, SASL_E_SYNTAX, SASL_E_MECH or SASL_E_LONG.
 */
int sasl_auth_parse(const uint8_t *line, size_t len, struct sasl_auth *out);

/*
 * Decodes strict base64 (RFC 4648 §4: the standard alphabet, padding
 * required, no blanks, no bits left over) of len bytes into out (cap
 * bytes), *outlen its length. "=" alone is the empty string (RFC 4954 §4)
 * and "*" is SASL_E_CANCEL. Returns SASL_OK, SASL_E_CANCEL, SASL_E_BASE64
 * or SASL_E_LONG (out too small).
 */
int sasl_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen);

/*
 * Decodes a PLAIN message (already base64-decoded, RFC 4616 §2) into
 * *creds. Returns SASL_OK, SASL_E_MESSAGE, SASL_E_LONG, SASL_E_AUTHZ or
 * SASL_E_UTF8; on error creds is wiped.
 */
int sasl_plain_decode(const uint8_t *msg, size_t len,
    struct sasl_creds *creds);

/*
 * Stores one decoded LOGIN answer (the user name, or the password) into
 * dst (SASL_FIELD_MAX + 1 bytes). The user name must be UTF-8 without
 * controls (utf8_name), the password only without a NUL. Returns SASL_OK,
 * SASL_E_MESSAGE (empty or a NUL), SASL_E_LONG or SASL_E_UTF8.
 */
int sasl_login_field(const uint8_t *msg, size_t len, char *dst,
    int utf8_name);

/* Wipes a struct sasl_creds (explicit_bzero). */
void sasl_creds_wipe(struct sasl_creds *creds);

/* A sentence for a status; never NULL. */
const char *sasl_strerror(int status);

#endif
