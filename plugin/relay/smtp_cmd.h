/*
 * smtp_cmd.h - a bounded parser for one SMTP or LMTP command line
 * (RFC 5321 §4.1, RFC 2033), with the service extension parameters the
 * relay advertises: SIZE (RFC 1870), BODY=7BIT/8BITMIME (RFC 6152),
 * SMTPUTF8 (RFC 6531), DSN's RET/ENVID/NOTIFY/ORCPT (RFC 3461).
 *
 * The session cuts its input into lines (it owns the CRLF rules) and hands
 * each line, without its CRLF, to smtp_cmd_parse(), which fills a struct
 * smtp_cmd with the verb, the address (mailbox without angle brackets),
 * its domain (lower-cased) and the parameters, or refuses the whole line.
 *
 * What it refuses, each with its own status and the reply the client gets
 * (smtp_cmd_reply()): a line over SMTP_CMD_LINE_MAX bytes; a NUL, CR, LF or
 * other control byte; an unknown verb; arguments where the verb takes none
 * or none where it needs one; "MAIL FROM:"/"RCPT TO:" misspelt; an address
 * that is not RFC 5321 Path syntax (dot-string or quoted local part of at
 * most 64 bytes, LDH domain or address literal of at most 255, path of at
 * most 256); malformed UTF-8, or UTF-8 in MAIL FROM without SMTPUTF8; an
 * unknown parameter, a parameter twice, a value outside its grammar
 * (SIZE digits that overflow, xtext with bad hex, NOTIFY=NEVER with
 * others, ENVID over 100 or ORCPT over 500 bytes).
 *
 * Lenient where real clients are and the RFC's intent is kept: verbs and
 * parameter keywords in any case; blanks after "FROM:"/"TO:"; a source
 * route (@a,@b:) before the mailbox is skipped (RFC 5321 §4.1.2 says to
 * ignore it); the HELO/EHLO/LHLO argument is any printable word (Windows
 * hosts send names with '_'), kept only for the Received: line.
 *
 * SECURITY: the input is what any client that reached the listener sends,
 * before the access list is consulted for anything but the connection.
 * Every byte is read through lib/wire.h's bounded cursor and stored only
 * into the fixed-size fields of struct smtp_cmd, whose bounds are checked
 * before each store; nothing is allocated. Stored strings are printable
 * ASCII, or well-formed UTF-8 (only where SMTPUTF8 allows it).
 *
 * Ownership: struct smtp_cmd is a plain struct the caller owns.
 */
#ifndef DANEGATE_RELAY_SMTP_CMD_H
#define DANEGATE_RELAY_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A command line without CRLF. RFC 5321 §4.5.3.1.4 says 512 with CRLF,
 * and each extension may add to it (SIZE 26, DSN's ORCPT up to 500 ...);
 * Postfix reads 2048 (line_length_limit). */
#define SMTP_CMD_LINE_MAX	2048
#define SMTP_CMD_PATH_MAX	256	/* RFC 5321 §4.5.3.1.3, with <> */
#define SMTP_CMD_LOCAL_MAX	64	/* §4.5.3.1.1 */
#define SMTP_CMD_DOMAIN_MAX	255	/* §4.5.3.1.2 */
#define SMTP_CMD_HELO_MAX	255
#define SMTP_CMD_ENVID_MAX	100	/* RFC 3461 §4.4 */
#define SMTP_CMD_ORCPT_MAX	500	/* RFC 3461 §4.2 */

enum smtp_verb {
	SMTP_VERB_NONE = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_BDAT,		/* recognised to answer "not offered" */
	SMTP_VERB_AUTH,		/* idem */
};

enum smtp_body {
	SMTP_BODY_NONE = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= (RFC 3461 §4.1) */
#define SMTP_NOTIFY_NEVER	0x1u
#define SMTP_NOTIFY_SUCCESS	0x2u
#define SMTP_NOTIFY_FAILURE	0x4u
#define SMTP_NOTIFY_DELAY	0x8u

enum smtp_cmd_status {
	SMTP_CMD_OK = 0,
	SMTP_CMD_E_LONG = -1,		/* line over SMTP_CMD_LINE_MAX */
	SMTP_CMD_E_CONTROL = -2,	/* NUL, CR, LF or another control */
	SMTP_CMD_E_VERB = -3,		/* unknown command */
	SMTP_CMD_E_ARG = -4,		/* argument missing / not allowed */
	SMTP_CMD_E_HELO = -5,		/* HELO argument not a word */
	SMTP_CMD_E_FROMTO = -6,		/* not "FROM:<...>" / "TO:<...>" */
	SMTP_CMD_E_PATH = -7,		/* address syntax */
	SMTP_CMD_E_PATH_LONG = -8,	/* local part, domain or path too long */
	SMTP_CMD_E_UTF8 = -9,		/* malformed UTF-8 */
	SMTP_CMD_E_NEED_UTF8 = -10,	/* UTF-8 in MAIL without SMTPUTF8 */
	SMTP_CMD_E_PARAM = -11,		/* unknown parameter */
	SMTP_CMD_E_PARAM_VALUE = -12,	/* bad parameter value */
	SMTP_CMD_E_PARAM_DUP = -13,	/* the same parameter twice */
};

/* One parsed command. Strings are NUL-terminated. */
struct smtp_cmd {
	enum smtp_verb verb;
	/* HELO/EHLO/LHLO: the client's name, printable ASCII */
	char helo[SMTP_CMD_HELO_MAX + 1];
	/* MAIL/RCPT: the mailbox without <> and without a source route,
	 * "" for the null reverse-path <>; VRFY/EXPN: nothing */
	char addr[SMTP_CMD_PATH_MAX];
	/* its domain, ASCII lower-cased (UTF-8 bytes kept), or the address
	 * literal with its brackets; "" for <> and <Postmaster> */
	char domain[SMTP_CMD_DOMAIN_MAX + 1];
	bool domain_literal;		/* domain is "[...]" */
	bool postmaster;		/* RCPT TO:<Postmaster> (no domain) */
	bool utf8;			/* addr holds non-ASCII bytes */
	unsigned n_params;		/* ESMTP parameters given */
	/* MAIL parameters */
	long long size;			/* SIZE=, -1 if none */
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char envid[SMTP_CMD_ENVID_MAX + 1];	/* xtext as sent, "" none */
	/* RCPT parameters */
	unsigned notify;		/* SMTP_NOTIFY_* bits, 0: none */
	char orcpt[SMTP_CMD_ORCPT_MAX + 1];	/* "rfc822;xtext", "" none */
};

/*
 * Parses one command line (len bytes, without CRLF) into *cmd. Returns
 * SMTP_CMD_OK or a negative SMTP_CMD_E_* status; on error cmd->verb still
 * says which command was refused when the verb was recognised (so the
 * session can tell a bad MAIL from a bad RCPT). Never allocates.
 */
int smtp_cmd_parse(const uint8_t *line, size_t len, struct smtp_cmd *cmd);

/* A sentence for a status; never NULL. */
const char *smtp_cmd_strerror(int status);

/*
 * The reply for a refused command, code and enhanced status code first:
 * "501 5.1.3 Bad address syntax". verb picks 5.1.7 (sender) or 5.1.3
 * (recipient) for address errors (RFC 3463). Never NULL, no CRLF.
 */
const char *smtp_cmd_reply(int status, enum smtp_verb verb);

/*
 * Steps w over one well-formed UTF-8 sequence of two to four bytes (RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 * Returns false, without a defined position, on anything else. Shared
 * with the SASL decoder (sasl.c), which checks user names the same way.
 */
struct wire;
bool smtp_cmd_take_utf8(struct wire *w);

#endif
