/*
 * acl.c - address lists with longest-prefix match: see acl.h.
 *
 * One array per address family, sorted by prefix length, longest first, so
 * that the first entry containing the address is the answer. A lookup is a
 * linear scan with a masked compare: for the tens of entries an
 * access-control list has this beats a tree, and it allocates nothing.
 *
 * IPv4-mapped addresses: a client ::ffff:192.0.2.1 (an IPv4 client on a
 * dual-stack socket) is looked up as 192.0.2.1, and an entry inside
 * ::ffff:0:0/96 is stored as the IPv4 prefix it covers (::ffff:10.0.0.0/104
 * is 10.0.0.0/8), so both spellings of a network mean the same thing.
 *
 * SECURITY: acl_lookup() runs for every query, on addresses the network
 * chose; it reads only the sockaddr it is given, within its family's size.
 *
 * Ownership: struct acl owns its arrays; acl_free() releases everything.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

struct acl_entry {
	uint8_t addr[16];	/* network, host bits cleared */
	unsigned plen;
	enum acl_action action;
};

struct acl_list {
	struct acl_entry *v;	/* plen descending */
	size_t n;
	size_t cap;
};

struct acl {
	struct acl_list v4;
	struct acl_list v6;
	enum acl_action dflt;
};

static const uint8_t acl_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

struct acl *
acl_new(enum acl_action default_action)
{
	struct acl *acl;

	if ((acl = calloc(1, sizeof(*acl))) == NULL)
		return NULL;
	acl->dflt = default_action;
	return acl;
}

void
acl_free(struct acl *acl)
{
	if (acl == NULL)
		return;
	free(acl->v4.v);
	free(acl->v6.v);
	free(acl);
}

int
acl_action_parse(const char *word, enum acl_action *action)
{
	/* Unbound's variants that mean the same to a front end without
	 * local-zone tags or views: allow_snoop lets clients query with RD=0
	 * (cache snooping), which danegated answers for any allowed client;
	 * the *_non_local variants differ from deny/refuse only for
	 * local-zone data, which libunbound answers the same either way.
	 * allow_setrd, allow_cookie and the tag/view actions are not
	 * accepted: they promise behaviour danegated does not have. */
	static const struct {
		const char *word;
		enum acl_action action;
	} words[] = {
		{ "allow", ACL_ALLOW },
		{ "allow_snoop", ACL_ALLOW },
		{ "refuse", ACL_REFUSE },
		{ "refuse_non_local", ACL_REFUSE },
		{ "deny", ACL_DENY },
		{ "deny_non_local", ACL_DENY },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(word, words[i].word) == 0) {
			*action = words[i].action;
			return 0;
		}
	return -1;
}

/* Parses a prefix length of 1 to 3 digits, nothing else. */
static int
acl_parse_plen(const char *s, unsigned max, unsigned *plen)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == 3 || s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v > max)
		return -1;
	*plen = v;
	return 0;
}

static void
acl_mask(uint8_t *addr, size_t size, unsigned plen)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (plen >= 8)
			plen -= 8;
		else {
			addr[i] &= (uint8_t)(0xff00u >> plen);
			plen = 0;
		}
	}
}

static int
acl_list_insert(struct acl_list *l, const uint8_t *addr, unsigned plen,
    enum acl_action action)
{
	struct acl_entry *v;
	size_t i;

	for (i = 0; i < l->n && l->v[i].plen >= plen; i++)
		if (l->v[i].plen == plen &&
		    memcmp(l->v[i].addr, addr, sizeof(l->v[i].addr)) == 0) {
			l->v[i].action = action;
			return 0;
		}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;

		if (ncap > SIZE_MAX / sizeof(*v) ||
		    (v = realloc(l->v, ncap * sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = ncap;
	}
	/* i is the first entry with a shorter prefix: insert before it */
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*l->v));
	memcpy(l->v[i].addr, addr, sizeof(l->v[i].addr));
	l->v[i].plen = plen;
	l->v[i].action = action;
	l->n++;
	return 0;
}

int
acl_add(struct acl *acl, const char *netspec, enum acl_action action,
    char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash;
	uint8_t addr[16];
	unsigned plen, max;
	size_t hostlen;
	bool v4;

	slash = strchr(netspec, '/');
	hostlen = slash != NULL ? (size_t)(slash - netspec) : strlen(netspec);
	memset(addr, 0, sizeof(addr));
	if (hostlen >= sizeof(host)) {
		snprintf(err, errlen, "'%.*s...' is not an IPv4 or IPv6 "
		    "address", (int)(sizeof(host) - 1), netspec);
		return -1;
	}
	memcpy(host, netspec, hostlen);
	host[hostlen] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1) {
		v4 = true;
		max = 32;
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		v4 = false;
		max = 128;
	} else {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address",
		    host);
		return -1;
	}
	if (slash == NULL)
		plen = max;
	else if (acl_parse_plen(slash + 1, max, &plen) != 0) {
		/* a number out of range reads better as a number */
		if (strspn(slash + 1, "0123456789") == strlen(slash + 1) &&
		    slash[1] != '\0' && strlen(slash + 1) <= 9)
			snprintf(err, errlen, "bad prefix length %s in %s",
			    slash + 1, netspec);
		else
			snprintf(err, errlen, "bad prefix length '%.16s' in "
			    "%.64s", slash + 1, netspec);
		return -1;
	}
	if (!v4 && plen >= 96 &&
	    memcmp(addr, acl_mapped_prefix, sizeof(acl_mapped_prefix)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		plen -= 96;
		v4 = true;
	}
	/* Like Unbound, host bits are cleared rather than refused:
	 * 10.1.2.3/8 means 10.0.0.0/8. */
	acl_mask(addr, v4 ? 4 : 16, plen);
	if (acl_list_insert(v4 ? &acl->v4 : &acl->v6, addr, plen,
	    action) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static bool
acl_match(const uint8_t *addr, const struct acl_entry *e)
{
	unsigned full = e->plen / 8, rest = e->plen % 8;

	if (memcmp(addr, e->addr, full) != 0)
		return false;
	return rest == 0 ||
	    (addr[full] & (uint8_t)(0xff00u >> rest)) == e->addr[full];
}

/* Whether an entry of x and one of y share an address: the longer one's
 * network is inside the shorter one. */
static bool
acl_lists_overlap(const struct acl_list *x, const struct acl_list *y)
{
	for (size_t i = 0; i < x->n; i++)
		for (size_t j = 0; j < y->n; j++) {
			const struct acl_entry *a = &x->v[i], *b = &y->v[j];

			if (a->plen >= b->plen ? acl_match(a->addr, b) :
			    acl_match(b->addr, a))
				return true;
		}
	return false;
}

/* acl.h */
bool
acl_overlaps(const struct acl *a, const struct acl *b)
{
	return acl_lists_overlap(&a->v4, &b->v4) ||
	    acl_lists_overlap(&a->v6, &b->v6);
}

enum acl_action
acl_lookup(const struct acl *acl, const struct sockaddr *sa)
{
	const struct acl_list *l;
	const uint8_t *addr;
	size_t i;

	if (sa->sa_family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		l = &acl->v4;
	} else if (sa->sa_family == AF_INET6) {
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
		l = &acl->v6;
		if (memcmp(addr, acl_mapped_prefix,
		    sizeof(acl_mapped_prefix)) == 0) {
			addr += 12;
			l = &acl->v4;
		}
	} else
		return acl->dflt;
	for (i = 0; i < l->n; i++)
		if (acl_match(addr, &l->v[i]))
			return l->v[i].action;
	return acl->dflt;
}
