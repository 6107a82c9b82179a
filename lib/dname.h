/*
 * dname.h - DNS names in wire format, shared by danegated and libdanegate:
 * reading a (possibly compressed) name out of a message, comparing names
 * without regard to ASCII case, and printing a name in presentation form
 * (the one function every program prints wire names with).
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

#include "dns.h"
#include "wire.h"

#define DNAME_MAX 255
#define DNAME_HEADER_LEN 12	/* a message's header: no name lives there */

/*
 * Reads the name at w's position (w->buf must be the whole message, for
 * pointers) into out as uncompressed wire format and leaves w after the
 * name as it is written there. Returns the name's length, or -1 with w's
 * sticky error set.
 */
int dname_read(struct wire *w, uint8_t out[DNS_MAX_NAME]);

/* Equal wire names, ASCII case ignored (length bytes are < 64 and so
 * never changed by tolower()). */
bool dname_equal(const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen);

/*
 * Writes the uncompressed wire-format name (exactly len bytes, ending in
 * the root label) in RFC 1035 §5.1 presentation form: "www.example." with
 * the final dot ("." for the root), or without it when relative is true
 * ("www.example"; the root stays "."). Inside labels, '.', '\\' and the
 * characters that are special in zone files ('"', '(', ')', ';', '@',
 * '$') are escaped as "\\X", bytes outside printable ASCII (0x21-0x7e)
 * as "\\DDD" (decimal), everything else as it is, case kept: what BIND
 * and Unbound's tools print. Returns 0, or -1 if the name is malformed
 * (a pointer, a label over 63 bytes, no root label, bytes after it, over
 * 255 bytes) or the text does not fit in cap (DNS_NAME_TEXT_MAX always
 * does).
 */
int dname_to_text(const uint8_t *name, size_t len, bool relative, char *out,
    size_t cap);

#endif
