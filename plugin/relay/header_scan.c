/*
 * header_scan.c - the DATA header-block scanner (see header_scan.h).
 *
 * The block is read a byte at a time through a small state machine, so a
 * chunk may end anywhere (inside a field name, between CR and LF, between
 * a line's CRLF and the WSP that folds it). States: at a line start before
 * the dot-stuffing check (BOL), at a line start after it (BOL2), in a
 * field name (NAME), in WSP between the name and the colon (obsolete
 * syntax, RFC 5322 §4.5: AFTER), in a value (VALUE), over (DONE). A field
 * is complete only when the next line does not start with WSP, so its
 * value is finished at that point.
 *
 * The mailbox-list parser works on a finished value: a tokenizer skips
 * CFWS (nested comments, quoted pairs) and returns atoms (dot-atom text,
 * UTF-8 allowed, RFC 6532), quoted strings, domain literals and the
 * specials that matter; the addr-spec is rebuilt from its tokens.
 *
 * SECURITY: parses client bytes. Chunks are read with an index bounded by
 * their length; values through lib/wire.h's cursor and written through
 * its bounded writer. Nothing is allocated.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "danegate.h"
#include "header_scan.h"
#include "wire.h"

enum {
	S_BOL,
	S_BOL2,
	S_NAME,
	S_AFTER,
	S_VALUE,
	S_DONE,
};

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 §3.6.8 ftext: printable US-ASCII except ":" */
static bool
is_ftext(int c)
{
	return c >= 33 && c <= 126 && c != ':';
}

void
header_scan_init(struct header_scan *h, size_t limit)
{
	memset(h, 0, sizeof(*h));
	h->limit = limit != 0 ? limit : HEADER_SCAN_LIMIT_DEFAULT;
	h->state = S_BOL;
}

/* The field being read is complete: trim its trailing WSP. */
static void
field_close(struct header_scan *h)
{
	struct header_scan_field *f = h->cur;

	if (f != NULL) {
		while (f->len > 0 && is_wsp((unsigned char)f->value[f->len - 1]))
			f->len--;
		f->value[f->len] = '\0';
	}
	h->cur = NULL;
	h->cur_first = false;
}

static void
scan_done(struct header_scan *h, enum header_scan_end end)
{
	unsigned n = 0;

	field_close(h);
	h->end = end;
	h->state = S_DONE;
	if (h->from.count == 1 && !h->from.truncated &&
	    header_scan_mailboxes(h->from.value, h->from.len, h->from_addrs,
	    HEADER_SCAN_ADDRS_MAX, &n) == 0 && n > 0) {
		h->from_addrs_ok = true;
		h->from_naddrs = n;
	} else
		h->from_naddrs = 0;
	if (h->sender.count == 1 && !h->sender.truncated &&
	    header_scan_mailboxes(h->sender.value, h->sender.len,
	    (char (*)[HEADER_SCAN_ADDR_MAX + 1])h->sender_addr, 1, &n) == 0 &&
	    n == 1)
		h->sender_addr_ok = true;
	else
		h->sender_addr[0] = '\0';
}

/* The colon after a field name: is it one we keep? */
static void
field_open(struct header_scan *h)
{
	static const struct {
		const char *name;
		size_t off;
	} kept[] = {
		{ "tls-required", offsetof(struct header_scan, tls_required) },
		{ "from", offsetof(struct header_scan, from) },
		{ "sender", offsetof(struct header_scan, sender) },
	};

	h->cur = NULL;
	if (h->name_len >= sizeof(h->name))
		return;		/* longer than any name we keep */
	h->name[h->name_len] = '\0';
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcasecmp(h->name, kept[i].name) == 0) {
			struct header_scan_field *f = (void *)((char *)h +
			    kept[i].off);

			/* only the first occurrence's value is kept; the
			 * count tells the caller about the others */
			if (f->count++ == 0)
				h->cur = f;
			return;
		}
}

static void
value_byte(struct header_scan *h, int c)
{
	struct header_scan_field *f = h->cur;

	if (f == NULL)
		return;
	if (f->len == 0 && is_wsp(c))
		return;		/* the WSP after the colon */
	if (f->len >= HEADER_SCAN_VALUE_MAX) {
		f->truncated = true;
		return;
	}
	f->value[f->len++] = (char)c;
}

/* One byte of a line (not the line end). */
static void
scan_byte(struct header_scan *h, int c)
{
	switch (h->state) {
	case S_BOL:
		h->state = S_BOL2;
		if (c == '.')
			return;	/* dot-stuffing, RFC 5321 §4.5.2 */
		/* FALLTHROUGH */
	case S_BOL2:
		if (is_wsp(c)) {
			/* folding: the field goes on (RFC 5322 §2.2.3) */
			if (h->name_len == 0) {
				/* no field to continue: the first line */
				scan_done(h, HEADER_SCAN_END_BODY);
				return;
			}
			h->state = S_VALUE;
			value_byte(h, c);
			return;
		}
		field_close(h);
		if (!is_ftext(c)) {
			scan_done(h, HEADER_SCAN_END_BODY);
			return;
		}
		h->name_len = 0;
		h->state = S_NAME;
		/* FALLTHROUGH */
	case S_NAME:
		if (c == ':') {
			field_open(h);
			h->state = S_VALUE;
		} else if (is_wsp(c))
			h->state = S_AFTER;
		else if (is_ftext(c)) {
			if (h->name_len < sizeof(h->name))
				h->name[h->name_len] = (char)c;
			if (h->name_len <= sizeof(h->name))
				h->name_len++;
		} else
			scan_done(h, HEADER_SCAN_END_BODY);
		return;
	case S_AFTER:
		if (c == ':') {
			field_open(h);
			h->state = S_VALUE;
		} else if (!is_wsp(c))
			scan_done(h, HEADER_SCAN_END_BODY);
		return;
	case S_VALUE:
		value_byte(h, c);
		return;
	default:
		return;
	}
}

static void
scan_eol(struct header_scan *h)
{
	switch (h->state) {
	case S_BOL:
	case S_BOL2:
		scan_done(h, HEADER_SCAN_END_BLANK);
		return;
	case S_VALUE:
		h->state = S_BOL;
		return;
	default:
		/* a name without its colon */
		scan_done(h, HEADER_SCAN_END_BODY);
		return;
	}
}

int
header_scan_feed(struct header_scan *h, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len && h->state != S_DONE; i++) {
		int c = buf[i];

		if (h->bytes >= h->limit) {
			scan_done(h, HEADER_SCAN_END_LIMIT);
			break;
		}
		h->bytes++;
		if (h->cr) {
			h->cr = false;
			if (c == '\n') {
				scan_eol(h);
				continue;
			}
			scan_byte(h, '\r');	/* a bare CR: content */
			if (h->state == S_DONE)
				break;
		}
		if (c == '\r')
			h->cr = true;
		else if (c == '\n')
			scan_eol(h);	/* a bare LF */
		else
			scan_byte(h, c);
	}
	return h->state == S_DONE ? HEADER_SCAN_DONE : HEADER_SCAN_MORE;
}

void
header_scan_finish(struct header_scan *h)
{
	if (h->state == S_DONE)
		return;
	if (h->cr) {
		h->cr = false;
		scan_byte(h, '\r');
		if (h->state == S_DONE)
			return;
	}
	scan_done(h, HEADER_SCAN_END_DATA);
}

bool
header_scan_tls_required_no(const struct header_scan *h)
{
	/* RFC 8689 §5: "TLS-Required:" [FWS] "No" CRLF; the WSP around
	 * the value is already gone */
	return h->tls_required.count == 1 && !h->tls_required.truncated &&
	    h->tls_required.len == 2 &&
	    strncasecmp(h->tls_required.value, "no", 2) == 0;
}

/* ---- mailbox-list (RFC 5322 §3.4) ---------------------------------- */

enum {
	T_END,
	T_ATOM,		/* 1*(atext / "."): dot-atom text, obs words */
	T_QUOTED,	/* a quoted-string, its quotes included */
	T_LITERAL,	/* a domain-literal, its brackets included */
	T_SPECIAL,	/* one of < > @ , : ; */
	T_BAD,
};

struct tok {
	int type;
	size_t start, len;	/* in the value */
	int c;			/* T_SPECIAL: which */
};

/* RFC 5322 §3.2.3 atext, with UTF-8 (RFC 6532 §3.2) and "." */
static bool
is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c > 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* Steps over CFWS; false on an unterminated comment or a control byte. */
static bool
skip_cfws(struct wire *w)
{
	unsigned depth = 0;

	for (;;) {
		int c = wire_peek(w);

		if (c == -1)
			return depth == 0;
		if (depth > 0) {
			wire_skip(w, 1);
			if (c == '\\') {
				if (wire_peek(w) <= 0)
					return false;
				wire_skip(w, 1);
			} else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			else if (c == '\0')
				return false;
			continue;
		}
		if (c == '(') {
			depth = 1;
			wire_skip(w, 1);
		} else if (is_wsp(c))
			wire_skip(w, 1);
		else
			return true;
	}
}

/* Reads up to the closing byte, with quoted pairs; false if unclosed. */
static bool
skip_enclosed(struct wire *w, int close)
{
	for (;;) {
		int c = wire_peek(w);

		if (c == -1 || c == '\0')
			return false;
		wire_skip(w, 1);
		if (c == close)
			return true;
		if (c == '\\') {
			/* a quoted pair; never of a NUL, which would cut
			 * the address short */
			if (wire_peek(w) <= 0)
				return false;
			wire_skip(w, 1);
		} else if (close == ']' && c == '[')
			return false;
	}
}

static void
tok_next(struct wire *w, struct tok *t)
{
	int c;

	t->c = 0;
	if (!skip_cfws(w)) {
		t->type = T_BAD;
		return;
	}
	t->start = w->len - wire_left(w);
	c = wire_peek(w);
	if (c == -1)
		t->type = T_END;
	else if (c == '"' || c == '[') {
		wire_skip(w, 1);
		t->type = skip_enclosed(w, c == '"' ? '"' : ']') ?
		    (c == '"' ? T_QUOTED : T_LITERAL) : T_BAD;
	} else if (is_atext(c)) {
		while (is_atext(wire_peek(w)))
			wire_skip(w, 1);
		t->type = T_ATOM;
	} else if (c > 0 && strchr("<>@,:;", c) != NULL) {
		wire_skip(w, 1);
		t->type = T_SPECIAL;
		t->c = c;
	} else
		t->type = T_BAD;
	t->len = w->len - wire_left(w) - t->start;
}

static bool
tok_is(const struct tok *t, int c)
{
	return t->type == T_SPECIAL && t->c == c;
}

/*
 * Reads "word *("." word)" (local part, obs-local-part) or dot-atom /
 * domain-literal (domain) into out, starting at *t; leaves *t at the
 * first token after it. Words must meet at a "." (RFC 5322 §3.4.1), the
 * text must not start or end with one, nor hold "..".
 */
static bool
addr_part(struct wire *w, const char *v, struct tok *t, struct wbuf *out,
    bool domain)
{
	size_t start = out->len;

	if (domain && t->type == T_LITERAL) {
		wbuf_bytes(out, v + t->start, t->len);
		tok_next(w, t);
		return !out->err;
	}
	while (t->type == T_ATOM || (!domain && t->type == T_QUOTED)) {
		if (out->len > start && out->buf[out->len - 1] != '.' &&
		    v[t->start] != '.')
			return false;	/* two words without a dot */
		wbuf_bytes(out, v + t->start, t->len);
		tok_next(w, t);
	}
	if (out->err || out->len == start || out->buf[start] == '.' ||
	    out->buf[out->len - 1] == '.')
		return false;
	for (size_t i = start; i + 1 < out->len; i++)
		if (out->buf[i] == '.' && out->buf[i + 1] == '.')
			return false;
	return true;
}

/* addr-spec from *t on into dst (NUL-terminated). */
static bool
addr_spec(struct wire *w, const char *v, struct tok *t, char *dst)
{
	struct wbuf out;

	wbuf_init(&out, (uint8_t *)dst, HEADER_SCAN_ADDR_MAX);
	if (!addr_part(w, v, t, &out, false) || !tok_is(t, '@'))
		return false;
	wbuf_bytes(&out, "@", 1);
	tok_next(w, t);
	if (!addr_part(w, v, t, &out, true))
		return false;
	dst[out.len] = '\0';
	return true;
}

int
header_scan_mailboxes(const char *value, size_t len,
    char (*out)[HEADER_SCAN_ADDR_MAX + 1], unsigned max, unsigned *n)
{
	struct wire w;
	struct tok t;

	*n = 0;
	wire_init(&w, (const uint8_t *)value, len);
	tok_next(&w, &t);
	for (;;) {
		struct wire save;
		bool angle = false;

		/* empty list members (obs-mbox-list) */
		while (tok_is(&t, ','))
			tok_next(&w, &t);
		if (t.type == T_END)
			break;
		if (*n >= max)
			return DANEGATE_E_INVALID;
		/* name-addr has a "<" before the next ","; else addr-spec */
		save = w;
		{
			struct tok u = t;

			while (u.type == T_ATOM || u.type == T_QUOTED)
				tok_next(&w, &u);
			angle = tok_is(&u, '<');
			if (angle)
				t = u;
			else
				w = save;
		}
		if (angle) {
			tok_next(&w, &t);
			if (tok_is(&t, '@')) {
				/* obs-route: "@a,@b:" before the address */
				while (t.type != T_END && t.type != T_BAD &&
				    !tok_is(&t, ':'))
					tok_next(&w, &t);
				if (!tok_is(&t, ':'))
					return DANEGATE_E_INVALID;
				tok_next(&w, &t);
			}
			if (!addr_spec(&w, value, &t, out[*n]) ||
			    !tok_is(&t, '>'))
				return DANEGATE_E_INVALID;
			tok_next(&w, &t);
		} else if (!addr_spec(&w, value, &t, out[*n]))
			return DANEGATE_E_INVALID;
		(*n)++;
		if (t.type == T_END)
			break;
		if (!tok_is(&t, ','))
			return DANEGATE_E_INVALID;
	}
	return *n > 0 ? 0 : DANEGATE_E_INVALID;
}
