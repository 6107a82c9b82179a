/*
 * fuzz_smtp_reply.c - libFuzzer target for the SMTP reply parser
 * (plugin/smtp_reply.c).
 *
 * The input is a server's byte stream. It is parsed twice, reply after
 * reply, as a client would: once in pieces whose size the first byte
 * picks, once in pieces of 1 to 3 bytes. Both runs must see the same
 * replies and stop at the same place with the same status, every reply
 * must satisfy the documented bounds (code 200..599, 1..100 lines,
 * printable NUL-terminated text), and no byte may be read twice or
 * skipped. Any difference aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	unsigned replies;
	int last_status;
	size_t consumed;
	uint32_t digest;	/* over every reply's fields */
};

static void
check_reply(const struct smtp_reply *r)
{
	size_t len = strnlen(r->text, sizeof(r->text));

	if (r->code < 200 || r->code > 599)
		abort();
	if (r->n_lines < 1 || r->n_lines > SMTP_REPLY_LINES_MAX)
		abort();
	if (len >= sizeof(r->text))
		abort();
	for (size_t i = 0; i < len; i++)
		if (r->text[i] < 0x20 || r->text[i] > 0x7e)
			abort();
}

static uint32_t
mix(uint32_t h, uint64_t v)
{
	return (h ^ (uint32_t)v ^ (uint32_t)(v >> 32)) * 16777619u;
}

static uint32_t
digest_reply(uint32_t h, const struct smtp_reply *r)
{
	h = mix(h, (uint64_t)r->code);
	h = mix(h, r->n_lines);
	h = mix(h, r->ext);
	h = mix(h, r->size_max);
	h = mix(h, r->truncated);
	for (const char *c = r->text; *c != '\0'; c++)
		h = mix(h, (uint8_t)*c);
	return h;
}

/* Parses data as a stream of replies, fed in pieces of piece(i) bytes. */
static void
run(const uint8_t *data, size_t size, size_t fixed, struct outcome *o)
{
	struct smtp_reply_parser p;
	size_t off = 0, round = 0;
	int rc = SMTP_REPLY_MORE;

	memset(o, 0, sizeof(*o));
	o->digest = 2166136261u;
	smtp_reply_init(&p);
	while (off < size) {
		size_t piece = fixed ? fixed : 1 + round++ % 3;
		size_t used = 0;

		if (piece > size - off)
			piece = size - off;
		rc = smtp_reply_feed(&p, data + off, piece, &used);
		if (used > piece)
			abort();
		off += used;
		if (rc == SMTP_REPLY_MORE) {
			if (used != piece)
				abort();	/* MORE means all used */
			continue;
		}
		if (rc != SMTP_REPLY_DONE)
			break;
		check_reply(&p.reply);
		o->replies++;
		o->digest = digest_reply(o->digest, &p.reply);
		/* a finished parser refuses more until re-initialised */
		if (smtp_reply_feed(&p, data, size, &used) !=
		    SMTP_REPLY_E_STATE || used != 0)
			abort();
		smtp_reply_init(&p);
	}
	o->last_status = rc;
	o->consumed = off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	size_t fixed;

	if (size == 0)
		return 0;
	/* first byte: the piece size of run a (1..256); the rest: the
	 * stream */
	fixed = (size_t)data[0] + 1;
	run(data + 1, size - 1, fixed, &a);
	run(data + 1, size - 1, 0, &b);
	if (a.replies != b.replies || a.last_status != b.last_status ||
	    a.consumed != b.consumed || a.digest != b.digest)
		abort();
	return 0;
}
