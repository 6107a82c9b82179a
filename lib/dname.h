/*
 * dname.h - DNS names in wire format, shared by danegated and libdanegate:
 * reading a (possibly compressed) name out of a message, and comparing
 * names without regard to ASCII case.
 *
 * SECURITY: messages come from clients or, through libunbound, from any
 * authoritative server. Compression pointers must point strictly
 * backwards, before the labels that led to them, which rules out loops
 * and bounds the jumps, and never into the message header (RFC 9267);
 * labels are at most 63 bytes, names at most 255; obsolete label types
 * are refused.
 */
#ifndef DG_DNAME_H
#define DG_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define DNAME_MAX 255
#define DNAME_HEADER_LEN 12	/* a message's header: no name lives there */

/*
 * Reads the name at w's position (w->buf must be the whole message, for
 * pointers) into out as uncompressed wire format and leaves w after the
 * name as it is written there. Returns the name's length, or -1 with w's
 * sticky error set.
 */
int dname_read(struct wire *w, uint8_t out[DNAME_MAX]);

/* Equal wire names, ASCII case ignored (length bytes are < 64 and so
 * never changed by tolower()). */
bool dname_equal(const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen);

#endif
