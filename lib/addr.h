/*
 * addr.h - the one parser of the TCP addresses danegate's configuration
 * files and command lines name: listen:, interface:, forward-addr:,
 * prometheus-interface:, the relay's relay-host and submission address.
 *
 * Accepted forms (Unbound's spelling, plus brackets for readers used to
 * URLs):
 *
 *     ADDR             port dflt_port
 *     ADDR@PORT
 *     [ADDR]           port dflt_port
 *     [ADDR]@PORT
 *
 * ADDR is a numeric IPv4 or IPv6 address (inet_pton: no names, no scope
 * ids); PORT is 1 to 65535 in decimal digits only (no sign, no blanks).
 * "ADDR:PORT" is refused: for IPv6 it is ambiguous, and Unbound and
 * Postfix's socketmap both write '@'. A unix socket path ("/...") is the
 * caller's to recognise before calling: the programs differ in where they
 * accept one.
 *
 * SECURITY: parses operator-written text only (configuration, command
 * line, control requests); it copies at most a bounded host part to the
 * stack and writes only *ss and *len.
 */
#ifndef DG_ADDR_H
#define DG_ADDR_H

#include <sys/socket.h>

/*
 * Parses spec into *ss and *len (sizeof a sockaddr_in or sockaddr_in6).
 * dflt_port is the port when spec names none; 0 means the port is
 * required. Returns 0, or -1 when spec is none of the forms above (*ss is
 * then undefined); the caller says what it wanted, with file:line.
 */
int addr_parse(const char *spec, unsigned dflt_port,
    struct sockaddr_storage *ss, socklen_t *len);

#endif
