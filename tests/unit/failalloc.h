/*
 * failalloc.h - allocation-failure injection for unit tests.
 *
 * A test program linked with failalloc.c and
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc has every malloc(),
 * calloc() and realloc() of the statically linked daemon code (and of the
 * test itself) go through failalloc first. Shared libraries (libunbound,
 * libevent, libc itself) are not affected.
 */
#ifndef DG_TEST_FAILALLOC_H
#define DG_TEST_FAILALLOC_H

#include <stdbool.h>

/* From now on, the n-th allocation (1 = the next one) fails with ENOMEM,
 * and only that one; n 0 disarms. */
void failalloc_arm(unsigned n);

/* True once the armed allocation has failed (and then disarmed). */
bool failalloc_fired(void);

#endif
