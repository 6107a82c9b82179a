/*
 * relay_stub.h - an in-memory stand-in for plugin/relay/outbound.h, for the
 * front's unit tests: the destination domain picks the remote's behaviour
 * (see relay_stub.c), and every transaction's data is kept for checking.
 *
 * SECURITY: test code only; no network.
 */
#ifndef RELAY_STUB_H
#define RELAY_STUB_H

#include <stdbool.h>
#include <stddef.h>

struct stub_msg {
	char domain[256];
	char *data;		/* what data_write got, NUL-terminated */
	size_t len;
	bool ended;		/* data_end was called */
	bool freed;
	unsigned rcpts;
	bool tls_required_no;	/* the envelope asked for it */
};

#define STUB_MSG_MAX 64
extern struct stub_msg stub_msgs[STUB_MSG_MAX];
extern size_t stub_n_msgs;

void stub_reset(void);

#endif
