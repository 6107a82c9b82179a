/*
 * wire.h - bounded cursors for reading and writing untrusted byte buffers.
 *
 * Reading: every accessor checks the remaining length; on a short read it
 * sets a sticky error, returns 0 and never moves past the end. Parse a whole
 * record, then check wire_ok() once (Knot's wire_ctx idiom). Writing works the
 * same way: an overflow sets the sticky error and writes nothing.
 *
 * The cursor borrows the buffer; it owns nothing.
 */
#ifndef DG_WIRE_H
#define DG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool err;
};

static inline void
wire_init(struct wire *w, const uint8_t *buf, size_t len)
{
	w->buf = buf;
	w->len = len;
	w->pos = 0;
	w->err = false;
}

static inline bool
wire_ok(const struct wire *w)
{
	return !w->err;
}

static inline size_t
wire_left(const struct wire *w)
{
	return w->err ? 0 : w->len - w->pos;
}

/* Returns a pointer to the next n bytes and steps over them, or NULL. */
static inline const uint8_t *
wire_take(struct wire *w, size_t n)
{
	const uint8_t *p;

	if (w->err || n > w->len - w->pos) {
		w->err = true;
		return NULL;
	}
	p = w->buf + w->pos;
	w->pos += n;
	return p;
}

static inline void
wire_skip(struct wire *w, size_t n)
{
	(void)wire_take(w, n);
}

static inline uint8_t
wire_u8(struct wire *w)
{
	const uint8_t *p = wire_take(w, 1);

	return p ? p[0] : 0;
}

static inline uint16_t
wire_u16(struct wire *w)
{
	const uint8_t *p = wire_take(w, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static inline uint32_t
wire_u32(struct wire *w)
{
	const uint8_t *p = wire_take(w, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3] : 0;
}

/* The next byte without stepping over it; -1 at the end (or after an
 * error), which is not a sticky error. */
static inline int
wire_peek(const struct wire *w)
{
	return wire_left(w) > 0 ? w->buf[w->pos] : -1;
}

/* Moves to an absolute offset inside the buffer. */
static inline void
wire_seek(struct wire *w, size_t pos)
{
	if (pos > w->len)
		w->err = true;
	else
		w->pos = pos;
}

/* A writer over a caller-owned buffer of fixed capacity. */
struct wbuf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool err;
};

static inline void
wbuf_init(struct wbuf *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = false;
}

static inline uint8_t *
wbuf_reserve(struct wbuf *b, size_t n)
{
	uint8_t *p;

	if (b->err || n > b->cap - b->len) {
		b->err = true;
		return NULL;
	}
	p = b->buf + b->len;
	b->len += n;
	return p;
}

static inline void
wbuf_bytes(struct wbuf *b, const void *src, size_t n)
{
	uint8_t *p = wbuf_reserve(b, n);

	if (p != NULL && n > 0)
		memcpy(p, src, n);
}

static inline void
wbuf_u8(struct wbuf *b, uint8_t v)
{
	wbuf_bytes(b, &v, 1);
}

static inline void
wbuf_u16(struct wbuf *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	wbuf_bytes(b, p, 2);
}

static inline void
wbuf_u32(struct wbuf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
		(uint8_t)(v >> 8), (uint8_t)v };

	wbuf_bytes(b, p, 4);
}

/* Overwrites two bytes already written at pos (a length or count). */
static inline void
wbuf_put_u16_at(struct wbuf *b, size_t pos, uint16_t v)
{
	if (b->err || pos + 2 > b->len) {
		b->err = true;
		return;
	}
	b->buf[pos] = (uint8_t)(v >> 8);
	b->buf[pos + 1] = (uint8_t)v;
}

/* Loads/stores big-endian integers at a known-valid position. */
static inline uint16_t
be16_load(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
be32_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
be16_store(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
be32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
