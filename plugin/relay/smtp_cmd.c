/*
 * smtp_cmd.c - the bounded SMTP/LMTP command parser (see smtp_cmd.h).
 *
 * SECURITY: parses bytes from any client that reached a listener. The
 * line is read through lib/wire.h's cursor; a field is copied only after
 * its extent was measured against the field's size, so no input can make
 * it read or write out of bounds. Nothing is allocated.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"
#include "wire.h"

const char *
smtp_cmd_strerror(int status)
{
	switch (status) {
	case SMTP_CMD_OK:
		return "command accepted";
	case SMTP_CMD_E_LONG:
		return "command line longer than 2048 bytes";
	case SMTP_CMD_E_CONTROL:
		return "control byte (NUL, CR, LF, TAB ...) in a command";
	case SMTP_CMD_E_VERB:
		return "unknown command";
	case SMTP_CMD_E_ARG:
		return "argument missing or not allowed for this command";
	case SMTP_CMD_E_HELO:
		return "HELO/EHLO/LHLO argument is not one printable word";
	case SMTP_CMD_E_FROMTO:
		return "expected FROM:<address> or TO:<address>";
	case SMTP_CMD_E_PATH:
		return "address is not RFC 5321 path syntax";
	case SMTP_CMD_E_PATH_LONG:
		return "local part over 64, domain over 255 or path over 256 "
		    "bytes";
	case SMTP_CMD_E_UTF8:
		return "malformed UTF-8";
	case SMTP_CMD_E_NEED_UTF8:
		return "UTF-8 address without the SMTPUTF8 parameter";
	case SMTP_CMD_E_PARAM:
		return "unknown ESMTP parameter";
	case SMTP_CMD_E_PARAM_VALUE:
		return "ESMTP parameter value outside its grammar";
	case SMTP_CMD_E_PARAM_DUP:
		return "ESMTP parameter given twice";
	default:
		return "unknown command parser status";
	}
}

const char *
smtp_cmd_reply(int status, enum smtp_verb verb)
{
	bool mail = verb == SMTP_VERB_MAIL;

	switch (status) {
	case SMTP_CMD_E_LONG:
		return "500 5.5.2 Line too long";
	case SMTP_CMD_E_CONTROL:
		return "500 5.5.2 Control character in command";
	case SMTP_CMD_E_VERB:
		return "500 5.5.2 Command unrecognized";
	case SMTP_CMD_E_ARG:
		return "501 5.5.4 Syntax error in parameters or arguments";
	case SMTP_CMD_E_HELO:
		return "501 5.5.4 Invalid HELO/EHLO/LHLO argument";
	case SMTP_CMD_E_FROMTO:
		return mail ? "501 5.5.4 Syntax: MAIL FROM:<address>" :
		    "501 5.5.4 Syntax: RCPT TO:<address>";
	case SMTP_CMD_E_PATH:
		return mail ? "501 5.1.7 Bad sender address syntax" :
		    "501 5.1.3 Bad recipient address syntax";
	case SMTP_CMD_E_PATH_LONG:
		return mail ? "501 5.1.7 Sender address too long" :
		    "501 5.1.3 Recipient address too long";
	case SMTP_CMD_E_UTF8:
		return "501 5.5.4 Malformed UTF-8 in command";
	case SMTP_CMD_E_NEED_UTF8:
		/* RFC 6531 §3.7.4.1 */
		return "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 "
		    "address";
	case SMTP_CMD_E_PARAM:
		/* RFC 5321 §4.1.1.11 */
		return "555 5.5.4 Unsupported parameter";
	case SMTP_CMD_E_PARAM_VALUE:
		return "501 5.5.4 Invalid parameter value";
	case SMTP_CMD_E_PARAM_DUP:
		return "501 5.5.4 Parameter given twice";
	default:
		return "451 4.3.0 Internal error";
	}
}

/* ---- cursor helpers ------------------------------------------------------ */

static char
ascii_lower_char(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : (char)c;
}

/* The next byte without stepping over it, or -1 at the end. */
static int
peek(const struct wire *w)
{
	struct wire t = *w;

	return wire_left(&t) > 0 ? wire_u8(&t) : -1;
}

/* Steps over c if it is next (ASCII case-insensitively). */
static bool
accept_ci(struct wire *w, char c)
{
	int n = peek(w);

	if (n < 0 || ascii_lower_char((uint8_t)n) != ascii_lower_char((uint8_t)c))
		return false;
	wire_skip(w, 1);
	return true;
}

static size_t
offset(const struct wire *w, size_t len)
{
	return len - wire_left(w);
}

static void
skip_blanks(struct wire *w)
{
	while (peek(w) == ' ')
		wire_skip(w, 1);
}

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

/* RFC 5322 atext (RFC 5321 §4.1.2 Atom), ASCII part. */
static bool
is_atext(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL);
}

/* smtp_cmd.h */
bool
smtp_cmd_take_utf8(struct wire *w)
{
	int c = peek(w);
	int n, lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return false;
	wire_skip(w, 1);
	for (int i = 0; i < n; i++) {
		int t = peek(w);

		if (t < lo || t > hi)
			return false;
		wire_skip(w, 1);
		lo = 0x80;
		hi = 0xbf;
	}
	return true;
}

/* Copies bytes [from, to) of line into dst (cap bytes with the NUL). */
static bool
copy_span(char *dst, size_t cap, const uint8_t *line, size_t from, size_t to)
{
	if (to < from || to - from >= cap)
		return false;
	memcpy(dst, line + from, to - from);
	dst[to - from] = '\0';
	return true;
}

/* ---- addresses ----------------------------------------------------------- */

struct path_ctx {
	struct wire *w;
	const uint8_t *line;
	size_t len;
	struct smtp_cmd *cmd;
};

/* Dot-string (RFC 5321 §4.1.2), UTF-8 atext allowed (RFC 6531 §3.3). */
static int
parse_dot_string(struct path_ctx *p)
{
	bool atom_open = false;

	for (;;) {
		int c = peek(p->w);

		if (c >= 0x80) {
			if (!smtp_cmd_take_utf8(p->w))
				return SMTP_CMD_E_UTF8;
			p->cmd->utf8 = true;
			atom_open = true;
		} else if (c >= 0 && is_atext(c)) {
			wire_skip(p->w, 1);
			atom_open = true;
		} else if (c == '.') {
			if (!atom_open)
				return SMTP_CMD_E_PATH;	/* leading or ".." */
			wire_skip(p->w, 1);
			atom_open = false;
		} else
			break;
	}
	return atom_open ? SMTP_CMD_OK : SMTP_CMD_E_PATH;
}

/* Quoted-string (RFC 5321 §4.1.2), UTF-8 qtext allowed (RFC 6531). */
static int
parse_quoted(struct path_ctx *p)
{
	wire_skip(p->w, 1);	/* the opening quote */
	for (;;) {
		int c = peek(p->w);

		if (c < 0)
			return SMTP_CMD_E_PATH;
		if (c == '"') {
			wire_skip(p->w, 1);
			return SMTP_CMD_OK;
		}
		if (c == '\\') {
			wire_skip(p->w, 1);
			c = peek(p->w);
			if (c < 32 || c > 126)
				return SMTP_CMD_E_PATH;
			wire_skip(p->w, 1);
		} else if (c >= 0x80) {
			if (!smtp_cmd_take_utf8(p->w))
				return SMTP_CMD_E_UTF8;
			p->cmd->utf8 = true;
		} else if (c >= 32 && c <= 126) {
			wire_skip(p->w, 1);
		} else
			return SMTP_CMD_E_PATH;
	}
}

/*
 * Domain (RFC 5321 §4.1.2: sub-domains of Let-dig [Ldh-str], at most 63
 * bytes each) or, with SMTPUTF8, U-labels (RFC 6531 §3.3).
 * U-label bytes are checked as UTF-8 only; *utf8 is set when there are any.
 */
static int
parse_domain(struct path_ctx *p, bool *utf8)
{
	size_t label = 0;
	int last = -1;

	for (;;) {
		int c = peek(p->w);

		if (c >= 0x80) {
			size_t before = wire_left(p->w);

			if (!smtp_cmd_take_utf8(p->w))
				return SMTP_CMD_E_UTF8;
			label += before - wire_left(p->w);
			*utf8 = true;
			last = 'a';
		} else if (c >= 0 && is_alnum(c)) {
			wire_skip(p->w, 1);
			label++;
			last = c;
		} else if (c == '-') {
			if (label == 0)
				return SMTP_CMD_E_PATH;
			wire_skip(p->w, 1);
			label++;
			last = c;
		} else if (c == '.') {
			if (label == 0 || last == '-')
				return SMTP_CMD_E_PATH;
			wire_skip(p->w, 1);
			label = 0;
		} else
			break;
		if (label > 63)
			return SMTP_CMD_E_PATH_LONG;
	}
	/* no empty domain, no trailing dot, no label ending in '-' */
	if (label == 0 || last == '-')
		return SMTP_CMD_E_PATH;
	return SMTP_CMD_OK;
}

/* address-literal (RFC 5321 §4.1.3): IPv4, "IPv6:", or tag ":" dcontent. */
static int
parse_literal(struct path_ctx *p)
{
	char buf[SMTP_CMD_DOMAIN_MAX + 1];
	size_t start, end;
	struct in6_addr a6;
	struct in_addr a4;
	char *colon;
	int c;

	wire_skip(p->w, 1);	/* '[' */
	start = offset(p->w, p->len);
	while ((c = peek(p->w)) >= 33 && c <= 126 && c != ']' && c != '[' &&
	    c != '\\')
		wire_skip(p->w, 1);
	end = offset(p->w, p->len);
	if (c != ']' || end == start)
		return SMTP_CMD_E_PATH;
	wire_skip(p->w, 1);
	if (!copy_span(buf, sizeof(buf), p->line, start, end))
		return SMTP_CMD_E_PATH_LONG;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return SMTP_CMD_OK;
	if ((colon = strchr(buf, ':')) == NULL)
		return SMTP_CMD_E_PATH;
	if (colon - buf == 4 && strncasecmp(buf, "IPv6", 4) == 0)
		return inet_pton(AF_INET6, colon + 1, &a6) == 1 ?
		    SMTP_CMD_OK : SMTP_CMD_E_PATH;
	/* General-address-literal: Standardized-tag ":" 1*dcontent; the tag
	 * is an Ldh-str ending in a letter or digit */
	if (colon == buf || colon[1] == '\0' || !is_alnum(colon[-1]))
		return SMTP_CMD_E_PATH;
	for (const char *s = buf; s < colon; s++)
		if (!is_alnum(*s) && *s != '-')
			return SMTP_CMD_E_PATH;
	return SMTP_CMD_OK;
}

/* A-d-l (RFC 5321 §4.1.2): "@dom,@dom:", checked and skipped. */
static int
skip_source_route(struct path_ctx *p)
{
	bool utf8 = false;
	int rc;

	for (;;) {
		if (!accept_ci(p->w, '@'))
			return SMTP_CMD_E_PATH;
		if (peek(p->w) == '[')
			rc = parse_literal(p);
		else
			rc = parse_domain(p, &utf8);
		if (rc != SMTP_CMD_OK)
			return rc;
		if (accept_ci(p->w, ':'))
			return SMTP_CMD_OK;
		if (!accept_ci(p->w, ','))
			return SMTP_CMD_E_PATH;
	}
}

/* Path: "<" [ A-d-l ":" ] Mailbox ">", or "<>" for MAIL. */
static int
parse_path(struct path_ctx *p, bool null_ok)
{
	struct smtp_cmd *cmd = p->cmd;
	size_t path_start = offset(p->w, p->len);
	size_t local_start, local_end, dom_start, dom_end;
	int rc;

	if (!accept_ci(p->w, '<'))
		return SMTP_CMD_E_FROMTO;
	if (null_ok && accept_ci(p->w, '>'))
		return SMTP_CMD_OK;	/* the null reverse-path */
	if (peek(p->w) == '@' && (rc = skip_source_route(p)) != SMTP_CMD_OK)
		return rc;
	local_start = offset(p->w, p->len);
	if (peek(p->w) == '"')
		rc = parse_quoted(p);
	else
		rc = parse_dot_string(p);
	if (rc != SMTP_CMD_OK)
		return rc;
	local_end = offset(p->w, p->len);
	if (local_end - local_start > SMTP_CMD_LOCAL_MAX)
		return SMTP_CMD_E_PATH_LONG;

	if (!null_ok && peek(p->w) == '>' && local_end - local_start == 10 &&
	    strncasecmp((const char *)p->line + local_start, "postmaster",
	    10) == 0) {
		/* RFC 5321 §4.1.1.3: <Postmaster> without a domain */
		wire_skip(p->w, 1);
		cmd->postmaster = true;
		if (!copy_span(cmd->addr, sizeof(cmd->addr), p->line,
		    local_start, local_end))
			return SMTP_CMD_E_PATH_LONG;
		return SMTP_CMD_OK;
	}
	if (!accept_ci(p->w, '@'))
		return SMTP_CMD_E_PATH;
	dom_start = offset(p->w, p->len);
	if (peek(p->w) == '[') {
		rc = parse_literal(p);
		cmd->domain_literal = true;
	} else
		rc = parse_domain(p, &cmd->utf8);
	if (rc != SMTP_CMD_OK)
		return rc;
	dom_end = offset(p->w, p->len);
	if (!accept_ci(p->w, '>'))
		return SMTP_CMD_E_PATH;
	if (dom_end - dom_start > SMTP_CMD_DOMAIN_MAX ||
	    offset(p->w, p->len) - path_start > SMTP_CMD_PATH_MAX)
		return SMTP_CMD_E_PATH_LONG;
	if (!copy_span(cmd->addr, sizeof(cmd->addr), p->line, local_start,
	    dom_end) || !copy_span(cmd->domain, sizeof(cmd->domain), p->line,
	    dom_start, dom_end))
		return SMTP_CMD_E_PATH_LONG;
	for (char *s = cmd->domain; *s != '\0'; s++)
		*s = ascii_lower_char((uint8_t)*s);
	return SMTP_CMD_OK;
}

/* ---- parameters ---------------------------------------------------------- */

/* xtext (RFC 3461 §4): "+" two upper-case hex digits, or 33..126 but
 * "+" and "="; utf8 also admits UTF-8 (RFC 6533 utf-8-addr-xtext). */
static bool
xtext_ok(const uint8_t *s, size_t n, bool utf8)
{
	struct wire w;

	wire_init(&w, s, n);
	while (wire_left(&w) > 0) {
		int c = peek(&w);

		if (c == '+') {
			wire_skip(&w, 1);
			for (int i = 0; i < 2; i++) {
				int h = peek(&w);

				if (!is_digit(h) && !(h >= 'A' && h <= 'F'))
					return false;
				wire_skip(&w, 1);
			}
		} else if (c >= 0x80 && utf8) {
			if (!smtp_cmd_take_utf8(&w))
				return false;
		} else if (c >= 33 && c <= 126 && c != '=') {
			wire_skip(&w, 1);
		} else
			return false;
	}
	return true;
}

static bool
word_is(const uint8_t *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp((const char *)s, word, n) == 0;
}

/* Digits only, at most 18 of them: fits a long long without overflow. */
static bool
parse_number(const uint8_t *s, size_t n, long long *out)
{
	long long v = 0;

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY. */
static bool
parse_notify(const uint8_t *s, size_t n, unsigned *out)
{
	size_t i = 0;

	*out = 0;
	while (i <= n) {
		size_t j = i;
		unsigned bit;

		while (j < n && s[j] != ',')
			j++;
		if (word_is(s + i, j - i, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (word_is(s + i, j - i, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (word_is(s + i, j - i, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (word_is(s + i, j - i, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return false;
		if (*out & bit)
			return false;
		*out |= bit;
		i = j + 1;
	}
	/* RFC 3461 §4.1: NEVER stands alone */
	return !((*out & SMTP_NOTIFY_NEVER) && *out != SMTP_NOTIFY_NEVER);
}

/* ORCPT=addr-type ";" xtext, addr-type an atom (RFC 3461 §4.2). */
static bool
parse_orcpt(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n && (is_alnum(s[i]) || s[i] == '-'))
		i++;
	if (i == 0 || i >= n || s[i] != ';')
		return false;
	return xtext_ok(s + i + 1, n - i - 1, word_is(s, i, "utf-8"));
}

enum {
	P_SIZE = 0x01, P_BODY = 0x02, P_SMTPUTF8 = 0x04, P_RET = 0x08,
	P_ENVID = 0x10, P_NOTIFY = 0x20, P_ORCPT = 0x40,
};

/* One "KEYWORD[=value]" (RFC 5321 §4.1.2 esmtp-param). */
static int
parse_param(struct smtp_cmd *cmd, const uint8_t *kw, size_t kwlen,
    const uint8_t *val, size_t vlen, bool has_val, unsigned *seen)
{
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	unsigned bit;

	if (mail && word_is(kw, kwlen, "SIZE"))
		bit = P_SIZE;
	else if (mail && word_is(kw, kwlen, "BODY"))
		bit = P_BODY;
	else if (mail && word_is(kw, kwlen, "SMTPUTF8"))
		bit = P_SMTPUTF8;
	else if (mail && word_is(kw, kwlen, "RET"))
		bit = P_RET;
	else if (mail && word_is(kw, kwlen, "ENVID"))
		bit = P_ENVID;
	else if (!mail && word_is(kw, kwlen, "NOTIFY"))
		bit = P_NOTIFY;
	else if (!mail && word_is(kw, kwlen, "ORCPT"))
		bit = P_ORCPT;
	else
		return SMTP_CMD_E_PARAM;
	if (*seen & bit)
		return SMTP_CMD_E_PARAM_DUP;
	*seen |= bit;
	/* SMTPUTF8 takes no value, every other one needs one */
	if (has_val != (bit != P_SMTPUTF8))
		return SMTP_CMD_E_PARAM_VALUE;

	switch (bit) {
	case P_SIZE:
		if (!parse_number(val, vlen, &cmd->size))
			return SMTP_CMD_E_PARAM_VALUE;
		break;
	case P_BODY:
		if (word_is(val, vlen, "7BIT"))
			cmd->body = SMTP_BODY_7BIT;
		else if (word_is(val, vlen, "8BITMIME"))
			cmd->body = SMTP_BODY_8BITMIME;
		else	/* BINARYMIME needs CHUNKING: not offered */
			return SMTP_CMD_E_PARAM_VALUE;
		break;
	case P_SMTPUTF8:
		cmd->smtputf8 = true;
		break;
	case P_RET:
		if (word_is(val, vlen, "FULL"))
			cmd->ret = SMTP_RET_FULL;
		else if (word_is(val, vlen, "HDRS"))
			cmd->ret = SMTP_RET_HDRS;
		else
			return SMTP_CMD_E_PARAM_VALUE;
		break;
	case P_ENVID:
		if (vlen > SMTP_CMD_ENVID_MAX || !xtext_ok(val, vlen, false) ||
		    !copy_span(cmd->envid, sizeof(cmd->envid), val, 0, vlen))
			return SMTP_CMD_E_PARAM_VALUE;
		break;
	case P_NOTIFY:
		if (!parse_notify(val, vlen, &cmd->notify))
			return SMTP_CMD_E_PARAM_VALUE;
		break;
	case P_ORCPT:
		if (vlen > SMTP_CMD_ORCPT_MAX || !parse_orcpt(val, vlen) ||
		    !copy_span(cmd->orcpt, sizeof(cmd->orcpt), val, 0, vlen))
			return SMTP_CMD_E_PARAM_VALUE;
		break;
	default:
		break;
	}
	return SMTP_CMD_OK;
}

/* The parameters after the path: SP-separated esmtp-params. */
static int
parse_params(struct wire *w, const uint8_t *line, size_t len,
    struct smtp_cmd *cmd)
{
	unsigned seen = 0;

	for (;;) {
		size_t kw, kw_end, val = 0, val_end = 0;
		bool has_val = false;
		int c, rc;

		if (wire_left(w) == 0)
			return SMTP_CMD_OK;
		if (peek(w) != ' ')
			return cmd->verb == SMTP_VERB_MAIL ||
			    cmd->verb == SMTP_VERB_RCPT ?
			    SMTP_CMD_E_PATH : SMTP_CMD_E_ARG;
		skip_blanks(w);
		if (wire_left(w) == 0)
			return SMTP_CMD_OK;	/* trailing blanks */
		kw = offset(w, len);
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		if (!is_alnum(peek(w)))
			return SMTP_CMD_E_PARAM;
		while ((c = peek(w)) >= 0 && (is_alnum(c) || c == '-'))
			wire_skip(w, 1);
		kw_end = offset(w, len);
		if (peek(w) == '=') {
			wire_skip(w, 1);
			has_val = true;
			val = offset(w, len);
			/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 too
			 * (RFC 6531 §3.3) */
			while ((c = peek(w)) >= 0 && c != ' ') {
				if (c >= 0x80) {
					if (!smtp_cmd_take_utf8(w))
						return SMTP_CMD_E_UTF8;
				} else if (c < 33 || c == '=' || c > 126)
					return SMTP_CMD_E_PARAM_VALUE;
				else
					wire_skip(w, 1);
			}
			val_end = offset(w, len);
			if (val_end == val)
				return SMTP_CMD_E_PARAM_VALUE;
		} else if (wire_left(w) > 0 && peek(w) != ' ')
			return SMTP_CMD_E_PARAM;
		cmd->n_params++;
		rc = parse_param(cmd, line + kw, kw_end - kw, line + val,
		    val_end - val, has_val, &seen);
		if (rc != SMTP_CMD_OK)
			return rc;
	}
}

/* ---- commands ------------------------------------------------------------ */

static const struct {
	const char *word;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO },
	{ "LHLO", SMTP_VERB_LHLO }, { "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT }, { "DATA", SMTP_VERB_DATA },
	{ "RSET", SMTP_VERB_RSET }, { "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT }, { "VRFY", SMTP_VERB_VRFY },
	{ "EXPN", SMTP_VERB_EXPN }, { "HELP", SMTP_VERB_HELP },
	{ "STARTTLS", SMTP_VERB_STARTTLS }, { "BDAT", SMTP_VERB_BDAT },
	{ "AUTH", SMTP_VERB_AUTH },
};

/* Nothing but blanks may follow. */
static int
expect_end(struct wire *w)
{
	skip_blanks(w);
	return wire_left(w) == 0 ? SMTP_CMD_OK : SMTP_CMD_E_ARG;
}

/* The word after HELO/EHLO/LHLO: printable ASCII, no blanks. */
static int
parse_helo(struct wire *w, const uint8_t *line, size_t len,
    struct smtp_cmd *cmd)
{
	size_t start, end;
	int c;

	skip_blanks(w);
	start = offset(w, len);
	while ((c = peek(w)) > 32 && c < 127)
		wire_skip(w, 1);
	end = offset(w, len);
	if (end == start)
		return SMTP_CMD_E_ARG;
	if (expect_end(w) != SMTP_CMD_OK ||
	    !copy_span(cmd->helo, sizeof(cmd->helo), line, start, end))
		return SMTP_CMD_E_HELO;
	return SMTP_CMD_OK;
}

/* "FROM:" or "TO:" then optional blanks (Postfix tolerates them too). */
static bool
expect_keyword(struct wire *w, const char *kw)
{
	if (!accept_ci(w, ' '))
		return false;
	for (const char *k = kw; *k != '\0'; k++)
		if (!accept_ci(w, *k))
			return false;
	skip_blanks(w);
	return true;
}

int
smtp_cmd_parse(const uint8_t *line, size_t len, struct smtp_cmd *cmd)
{
	struct path_ctx p;
	struct wire w;
	size_t vlen = 0;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	cmd->size = -1;
	if (len > SMTP_CMD_LINE_MAX)
		return SMTP_CMD_E_LONG;
	/* No control bytes anywhere: a bare CR or LF inside a command is
	 * how SMTP smuggling and injection start. 8-bit bytes are judged
	 * where UTF-8 may appear. */
	for (size_t i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] == 0x7f)
			return SMTP_CMD_E_CONTROL;
	wire_init(&w, line, len);
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (word_is(line, vlen, verbs[i].word)) {
			cmd->verb = verbs[i].verb;
			break;
		}
	if (cmd->verb == SMTP_VERB_NONE)
		return SMTP_CMD_E_VERB;
	wire_skip(&w, vlen);

	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
	case SMTP_VERB_LHLO:
		return parse_helo(&w, line, len, cmd);
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		if (!expect_keyword(&w, cmd->verb == SMTP_VERB_MAIL ? "FROM:" :
		    "TO:"))
			return SMTP_CMD_E_FROMTO;
		p.w = &w;
		p.line = line;
		p.len = len;
		p.cmd = cmd;
		if ((rc = parse_path(&p, cmd->verb == SMTP_VERB_MAIL)) !=
		    SMTP_CMD_OK)
			return rc;
		if ((rc = parse_params(&w, line, len, cmd)) != SMTP_CMD_OK)
			return rc;
		if (cmd->verb == SMTP_VERB_MAIL && cmd->utf8 && !cmd->smtputf8)
			return SMTP_CMD_E_NEED_UTF8;
		return SMTP_CMD_OK;
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		return expect_end(&w);
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		skip_blanks(&w);
		return wire_left(&w) > 0 ? SMTP_CMD_OK : SMTP_CMD_E_ARG;
	default:
		/* NOOP [SP String], HELP [SP String]; BDAT and AUTH are
		 * refused by the session whatever follows */
		return SMTP_CMD_OK;
	}
}
