/*
 * fuzz_relay_header.c - libFuzzer target for danegate-relay's DATA
 * header-block scanner (plugin/relay/header_scan.c).
 *
 * The input is the data a client sends after DATA. It is scanned twice:
 * in pieces whose size the first byte picks, and a byte at a time. Both
 * runs must end the block at the same byte for the same reason and keep
 * the same fields and addresses; every kept value and address must be
 * NUL-terminated inside its buffer, and the block no longer than its
 * limit. The input is also parsed whole as a mailbox-list. Anything else
 * aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "header_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct header_scan a, b;

static void
run(struct header_scan *h, const uint8_t *data, size_t size, size_t piece)
{
	size_t off = 0;
	int rc = HEADER_SCAN_MORE;

	/* a small limit now and then, so the bound is reached */
	header_scan_init(h, size > 0 && data[0] == 'L' ? 64 : 0);
	while (off < size && rc == HEADER_SCAN_MORE) {
		size_t n = size - off < piece ? size - off : piece;

		rc = header_scan_feed(h, data + off, n);
		off += n;
	}
	header_scan_finish(h);
	if (h->end == HEADER_SCAN_END_NONE || h->bytes > size ||
	    h->bytes > h->limit)
		abort();
}

static void
same_field(const struct header_scan_field *x,
    const struct header_scan_field *y)
{
	if (x->count != y->count || x->len != y->len ||
	    x->truncated != y->truncated || x->len > HEADER_SCAN_VALUE_MAX ||
	    x->value[x->len] != '\0' || memcmp(x->value, y->value, x->len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char addrs[HEADER_SCAN_ADDRS_MAX][HEADER_SCAN_ADDR_MAX + 1];
	unsigned n;

	if (size == 0)
		return 0;
	run(&a, data + 1, size - 1, (size_t)data[0] + 1);
	run(&b, data + 1, size - 1, 1);
	if (a.end != b.end || a.bytes != b.bytes)
		abort();
	same_field(&a.tls_required, &b.tls_required);
	same_field(&a.from, &b.from);
	same_field(&a.sender, &b.sender);
	if (a.from_addrs_ok != b.from_addrs_ok ||
	    a.from_naddrs != b.from_naddrs ||
	    a.from_naddrs > HEADER_SCAN_ADDRS_MAX ||
	    (a.from_addrs_ok && a.from_naddrs == 0) ||
	    a.sender_addr_ok != b.sender_addr_ok ||
	    strcmp(a.sender_addr, b.sender_addr) != 0 ||
	    header_scan_tls_required_no(&a) != header_scan_tls_required_no(&b))
		abort();
	for (unsigned i = 0; i < a.from_naddrs; i++)
		if (memchr(a.from_addrs[i], '\0', HEADER_SCAN_ADDR_MAX + 1) ==
		    NULL || strcmp(a.from_addrs[i], b.from_addrs[i]) != 0 ||
		    strchr(a.from_addrs[i], '@') == NULL)
			abort();
	if (header_scan_mailboxes((const char *)data, size, addrs,
	    HEADER_SCAN_ADDRS_MAX, &n) == 0) {
		if (n == 0 || n > HEADER_SCAN_ADDRS_MAX)
			abort();
		for (unsigned i = 0; i < n; i++)
			if (memchr(addrs[i], '\0', sizeof(addrs[i])) == NULL ||
			    strchr(addrs[i], '@') == NULL)
				abort();
	}
	return 0;
}
