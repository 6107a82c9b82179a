/*
 * clients.h - the relay's local clients: who may authenticate on the
 * front, with which password, and as which mailboxes each may send.
 *
 * The file (relay: client-file:) has one client a line, fields split by
 * ':' as in passwd(5):
 *
 *     # CLIENT:CRYPT-HASH:MAILBOX[,MAILBOX...]
 *     scanner:$y$j9T$...$...:office@school.example,desk@school.example
 *
 * CLIENT is the SASL user name the program sends (printable, no ':' or
 * blanks); CRYPT-HASH a crypt(3) hash, yescrypt ("$y$") or SHA-512
 * ("$6$") as `danegate-relay passwd` writes it; the mailboxes are the
 * envelope senders and From: addresses the client may use, compared
 * without regard to case, the first being the SASL user of the route.
 * Blank lines and '#' comments are skipped. Every mistake is logged as
 * FILE:LINE: reason; a file with any is refused whole.
 *
 * SECURITY: the file holds password hashes: it is read only if it is a
 * regular file owned by the relay's user and not readable by group or
 * others (oauth2_secret_file_read()), at start-up and reload. Passwords
 * are checked with libcrypt's crypt_rn(); an unknown client costs the
 * same hash as a known one, so timing does not tell which names exist.
 *
 * Ownership: clients_load()/clients_parse() return a table the caller
 * frees with clients_free().
 */
#ifndef DANEGATE_RELAY_CLIENTS_H
#define DANEGATE_RELAY_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENTS_NAME_MAX	64

struct clients;

/*
 * Parses len bytes of text (a client file's contents; name is what the
 * errors call it). Returns the number of errors (each logged as
 * "NAME:LINE: reason") and *out only when there was none.
 */
int clients_parse(const char *name, const char *text, size_t len,
    struct clients **out);

/*
 * Reads and parses path, after the ownership and mode checks of a secret
 * file. Returns the number of errors (logged) and *out when none.
 */
int clients_load(const char *path, struct clients **out);

void clients_free(struct clients *c);

/* How many clients the table holds. */
size_t clients_count(const struct clients *c);

/*
 * Checks user's password. Returns true only for a known client whose
 * hash crypt_rn() reproduces from pass.
 */
bool clients_check(const struct clients *c, const char *user,
    const char *pass);

/*
 * Whether the client user may send as mailbox (no <>). The null sender
 * "" is never one of a client's mailboxes.
 */
bool clients_may_send_as(const struct clients *c, const char *user,
    const char *mailbox);

/* The client's first mailbox (the route's SASL user), or NULL. Borrowed
 * until clients_free(). */
const char *clients_mailbox(const struct clients *c, const char *user);

/*
 * Hashes pass for the file: yescrypt with a fresh salt from libcrypt
 * (crypt_gensalt_rn(NULL) picks its preferred method, yescrypt on
 * Debian). Writes into out (outlen bytes, CRYPT_OUTPUT_SIZE is enough).
 * Returns 0 or DANEGATE_E_INVALID.
 */
int clients_hash(const char *pass, char *out, size_t outlen);

/*
 * Sets client's hash in the file at path (created mode 0600 if absent):
 * an existing line of the client keeps its mailboxes unless mailboxes
 * (a "a@x,b@y" list) is given; a new client needs mailboxes. The file is
 * rewritten through a temporary file in its directory and rename(2), with
 * mode 0600; comments and other lines are kept. Returns 0, or
 * DANEGATE_E_INVALID with a sentence in err.
 */
int clients_file_set(const char *path, const char *client, const char *hash,
    const char *mailboxes, char *err, size_t errlen);

#endif
