/*
 * fuzz_socketmap.c - libFuzzer target for danegate-policy's socketmap
 * reader (plugin/policy/socketmap.c).
 *
 * The input is a client's byte stream. It is read request after request,
 * as the service does, twice: in pieces whose size the first byte picks,
 * and one byte at a time. Both runs must see the same requests and stop at
 * the same place with the same status; every complete netstring must be
 * within SOCKETMAP_REQUEST_MAX, and every request that splits must have a
 * map name of [A-Za-z0-9_-] and a printable key without blanks, and its
 * reply must format and read back as one netstring. Any difference aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	unsigned requests;
	int last_status;
	size_t consumed;
	uint32_t digest;
};

static void
check_request(struct socketmap_reader *r, struct outcome *o)
{
	struct socketmap_request req;
	struct socketmap_reader back;
	uint8_t out[SOCKETMAP_REPLY_MAX];
	size_t used;
	int n, rc;

	if (r->len > SOCKETMAP_REQUEST_MAX || r->data[r->len] != '\0')
		abort();
	rc = socketmap_request_parse(r, &req);
	o->digest = o->digest * 31 + (uint32_t)(rc + 100);
	if (rc != 0)
		return;
	for (const char *p = req.name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			abort();
	if (req.key[0] == '\0')
		abort();
	for (const char *p = req.key; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			abort();
		o->digest = o->digest * 31 + (unsigned char)*p;
	}
	/* the key echoed in a reply must read back as one netstring */
	n = socketmap_reply_format(out, sizeof(out), "TEMP", req.key);
	if (n <= 0)
		abort();
	socketmap_reader_init(&back);
	if (socketmap_reader_feed(&back, out, (size_t)n, &used) !=
	    SOCKETMAP_DONE || used != (size_t)n)
		abort();
}

static void
run(const uint8_t *data, size_t size, size_t piece, struct outcome *o)
{
	struct socketmap_reader r;
	size_t pos = 0;
	int rc = SOCKETMAP_MORE;

	memset(o, 0, sizeof(*o));
	socketmap_reader_init(&r);
	while (pos < size) {
		size_t n = size - pos < piece ? size - pos : piece, used = 0;

		rc = socketmap_reader_feed(&r, data + pos, n, &used);
		if (used > n)
			abort();
		pos += used;
		if (rc == SOCKETMAP_DONE) {
			o->requests++;
			check_request(&r, o);
			socketmap_reader_init(&r);
			rc = SOCKETMAP_MORE;
		} else if (rc < 0) {
			break;
		} else if (used != n) {
			abort();	/* MORE must use every byte */
		}
	}
	o->last_status = rc;
	o->consumed = pos;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	size_t piece;

	if (size == 0)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	run(data + 1, size - 1, piece, &a);
	run(data + 1, size - 1, 1, &b);
	if (a.requests != b.requests || a.last_status != b.last_status ||
	    a.consumed != b.consumed || a.digest != b.digest)
		abort();
	return 0;
}
