/*
 * failalloc.c - see failalloc.h.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "failalloc.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static unsigned countdown;
static bool fired;

void
failalloc_arm(unsigned n)
{
	countdown = n;
	fired = false;
}

bool
failalloc_fired(void)
{
	return fired;
}

/* True if this allocation is the one to fail. */
static bool
failalloc_now(void)
{
	if (countdown == 0 || --countdown > 0)
		return false;
	fired = true;
	errno = ENOMEM;
	return true;
}

void *
__wrap_malloc(size_t size)
{
	return failalloc_now() ? NULL : __real_malloc(size);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return failalloc_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t size)
{
	return failalloc_now() ? NULL : __real_realloc(p, size);
}
