/*
 * ctlsock.h - the control socket every danegate daemon serves to
 * danegate-control: a unix stream socket listener on libevent, a
 * one-line protocol and dispatch over the program's command table.
 * danegated (daemon/control.c) uses it; the relay and the policy service
 * are to use the same module, never a copy.
 *
 * Protocol (one command per connection): the client writes one line,
 * "COMMAND [ARG]\n" (at most CTLSOCK_LINE_MAX bytes); the daemon answers
 * with text and closes. Replies to errors start with "error: ", which is
 * how danegate-control chooses its exit code.
 *
 * SECURITY: the socket is created with the mode the caller gives (0660
 * for danegated) and chowned to the daemon's user/group before the
 * privilege drop, so only root and that group can connect: every client
 * is an operator. Still, lines are bounded, a client has 5 s to send its
 * line and read the reply, and replies are bounded (CTLSOCK_REPLY_MAX).
 */
#ifndef DG_CTLSOCK_H
#define DG_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CTLSOCK_LINE_MAX 256
#define CTLSOCK_REPLY_MAX 32768

struct event_base;
struct ctlsock;

/* A reply being written: text accumulates in buf (NUL terminated,
 * truncated at cap - 1). */
struct ctlsock_out {
	char *buf;
	size_t cap, len;
};

/* Appends to o; output beyond its capacity is dropped. */
void ctlsock_printf(struct ctlsock_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * One command: name, a word; args, its argument's name for the help
 * ("N", "DOMAIN") or NULL when it takes none. fn(arg, cmdarg, out) writes
 * the reply into out (an error starting "error: "); cmdarg is the rest
 * of the line after one space, NULL when there is none. A command
 * without args is refused with an argument. Tables end with a NULL name.
 */
struct ctlsock_cmd {
	const char *name;
	const char *args;
	void (*fn)(void *arg, const char *cmdarg, struct ctlsock_out *out);
};

/*
 * Runs one request line (without its newline) against tab: splits it at
 * the first space, finds the command, checks the argument's presence and
 * calls it. Unknown commands and argument mistakes get an "error: ..."
 * reply that lists the commands. Returns 0 when a command ran (whatever
 * it answered), -1 when the line was refused.
 */
int ctlsock_dispatch(const struct ctlsock_cmd *tab, void *arg,
    const char *line, struct ctlsock_out *out);

/*
 * Binds path (an old socket there is removed), mode mode, owner uid/gid
 * unless uid is 0, and serves tab on base with arg. Call before the
 * privilege drop. what names the setting in error messages
 * ("control-interface"). Returns NULL after logging on error.
 * tab and arg are borrowed until ctlsock_free().
 */
struct ctlsock *ctlsock_new(struct event_base *base, const char *what,
    const char *path, mode_t mode, uid_t uid, gid_t gid,
    const struct ctlsock_cmd *tab, void *arg);

/* The path served. */
const char *ctlsock_path(const struct ctlsock *c);

/* Stops listening and closes the socket; call once the loop no longer
 * runs (clients borrow c). Accepts NULL. */
void ctlsock_free(struct ctlsock *c);

#endif
