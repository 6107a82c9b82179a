/*
 * txt.h - TXT records in libdanegate, internal to the library: joining a
 * record's character-strings into one text (RFC 7208 §3.3, RFC 8461
 * §3.1 and RFC 8460 §3 all read a record that way).
 *
 * SECURITY: the rdata comes from any zone; txt_join() is bounded by its
 * length and fuzzed (tests/fuzz/fuzz_txt.c).
 */
#ifndef DANEGATE_TXT_H
#define DANEGATE_TXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * One TXT record's rdata (len bytes: length-prefixed character-strings)
 * as one NUL-terminated string, the strings joined without separator.
 * NULL if a string runs past the end, if one holds a NUL byte (the record
 * is then unusable as text), or out of memory. Caller frees.
 */
char *txt_join(const uint8_t *rdata, size_t len);

#endif
