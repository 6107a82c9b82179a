/*
 * acl.h - address lists with longest-prefix match (access-control:).
 *
 * An acl holds (prefix, action) pairs for IPv4 and IPv6. acl_lookup() returns
 * the action of the longest prefix containing the address, or the default
 * given to acl_new() when none does. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are looked up as IPv4, and entries inside ::ffff:0:0/96
 * are stored as the IPv4 prefixes they cover.
 *
 * SECURITY: acl_lookup() is the resolver's "never an open resolver" check;
 * it runs for every query on an address the network chose.
 *
 * Ownership: acl_new() returns a list the caller frees with acl_free().
 */
#ifndef DG_ACL_H
#define DG_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum acl_action {
	ACL_DENY = 0,		/* drop silently */
	ACL_REFUSE = 1,		/* answer REFUSED */
	ACL_ALLOW = 2,		/* serve */
};

struct acl;

/* Returns an empty list answering default_action, or NULL (no memory). */
struct acl *acl_new(enum acl_action default_action);
void acl_free(struct acl *acl);

/*
 * Adds "NET/LEN" (or a bare address: a host route) with an action; a later
 * entry for the same prefix replaces the earlier one. Returns 0, or -1 with
 * a reason in err (e.g. "bad prefix length 33 in 10.0.0.0/33").
 */
int acl_add(struct acl *acl, const char *netspec, enum acl_action action,
    char *err, size_t errlen);

/* Parses "allow", "refuse", "deny", and Unbound's "allow_snoop" (= allow),
 * "refuse_non_local" (= refuse), "deny_non_local" (= deny); acl.c says why
 * those and no others. Returns 0, or -1 for any other word. */
int acl_action_parse(const char *word, enum acl_action *action);

/* Returns the action for the client address sa (AF_INET or AF_INET6; any
 * other family gets the default). Allocates nothing: called per query. */
enum acl_action acl_lookup(const struct acl *acl, const struct sockaddr *sa);

/*
 * Whether a and b hold prefixes that share an address (one contains the
 * other), whatever their actions: what acl_lookup() sees, so an entry
 * inside ::ffff:0:0/96 counts as the IPv4 prefix it is stored as, and a
 * shorter IPv6 prefix (::/0) holds no IPv4 client. For lists that must
 * not both claim one client.
 */
bool acl_overlaps(const struct acl *a, const struct acl *b);

#endif
