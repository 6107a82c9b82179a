/*
 * unbound_defaults.h - the libunbound settings danegated and libdanegate
 * apply before their configuration (which may override them).
 *
 * libunbound's own defaults suit a stub library (16 outgoing ports, 1 MB
 * caches), not a resolver serving a mail gateway or a relay resolving for
 * every outbound message; these are the Unbound daemon's defaults.
 * Names carry their colon, as ub_ctx_set_option() wants them.
 */
#ifndef DG_UNBOUND_DEFAULTS_H
#define DG_UNBOUND_DEFAULTS_H

static const char *const unbound_defaults[][2] = {
	{ "outgoing-range:", "4096" },
	{ "msg-cache-size:", "4m" },
	{ "rrset-cache-size:", "8m" },
	{ "key-cache-size:", "4m" },
	{ "neg-cache-size:", "1m" },
	{ "outgoing-num-tcp:", "10" },
};

#define UNBOUND_N_DEFAULTS \
	(sizeof(unbound_defaults) / sizeof(unbound_defaults[0]))

#endif
