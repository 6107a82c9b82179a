/*
 * ubctx.c - see ubctx.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <unbound.h>
#include <unbound-event.h>

#include "ubctx.h"

/*
 * The Unbound daemon's defaults where libunbound's differ: a resolver
 * serving a mail gateway, or a relay resolving for every outbound
 * message, is not a stub.
 */
static const char *const ubctx_defaults[][2] = {
	{ "outgoing-range", "4096" },
	{ "msg-cache-size", "4m" },
	{ "rrset-cache-size", "8m" },
	{ "key-cache-size", "4m" },
	{ "neg-cache-size", "1m" },
	{ "outgoing-num-tcp", "10" },
};

struct ub_ctx *
ubctx_new(struct event_base *base, char *why, size_t cap)
{
	struct ub_ctx *ctx;

	ctx = base != NULL ? ub_ctx_create_event(base) : ub_ctx_create();
	if (ctx == NULL) {
		snprintf(why, cap, "cannot create a libunbound context (out "
		    "of memory?)");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(ubctx_defaults) /
	    sizeof(ubctx_defaults[0]); i++)
		if (ubctx_set_option(ctx, ubctx_defaults[i][0],
		    ubctx_defaults[i][1], why, cap) != 0) {
			ub_ctx_delete(ctx);
			return NULL;
		}
	return ctx;
}

int
ubctx_set_option(struct ub_ctx *ctx, const char *name, const char *value,
    char *why, size_t cap)
{
	char opt[128];
	int rc;

	if ((size_t)snprintf(opt, sizeof(opt), "%s:", name) >= sizeof(opt)) {
		snprintf(why, cap, "%.60s...: no such libunbound option",
		    name);
		return -1;
	}
	if ((rc = ub_ctx_set_option(ctx, opt, value)) != 0) {
		snprintf(why, cap, "%s: '%s' is not accepted by libunbound "
		    "(%s: unknown option or bad value)", name, value,
		    ub_strerror(rc));
		return -1;
	}
	return 0;
}

int
ubctx_read_config(struct ub_ctx *ctx, const char *path, char *why,
    size_t cap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int rc;

	pthread_mutex_lock(&lock);
	rc = ub_ctx_config(ctx, path);
	pthread_mutex_unlock(&lock);
	if (rc != 0) {
		snprintf(why, cap, "%s: libunbound refused the file: %s", path,
		    ub_strerror(rc));
		return -1;
	}
	return 0;
}

int
ubctx_anchor_file_zone(const char *path, char *zone, size_t zone_cap,
    char *why, size_t cap)
{
	char line[1024];
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, cap, "cannot read the trust anchor %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, " \t\r\n");

		/* a blank first: a continuation (or an owner-less record,
		 * which an anchor file has no use for) */
		if (n == 0 || line[0] == ';' || line[0] == '#' ||
		    line[0] == '$')
			continue;
		if (n >= zone_cap)
			continue;
		memcpy(zone, line, n);
		zone[n] = '\0';
		rc = 0;
		break;
	}
	if (rc != 0)
		snprintf(why, cap, "%s: no DS or DNSKEY record%s", path,
		    ferror(f) ? " (read error)" : "");
	fclose(f);
	return rc;
}

int
ubctx_anchor_zone(const char *rr, char *zone, size_t zone_cap)
{
	size_t n;

	rr += strspn(rr, " \t");
	n = strcspn(rr, " \t");
	if (n == 0 || n >= zone_cap)
		return -1;
	memcpy(zone, rr, n);
	zone[n] = '\0';
	return 0;
}

int
ubctx_add_anchor_file(struct ub_ctx *ctx, const char *path, char *zone,
    size_t zone_cap, char *why, size_t cap)
{
	char buf[DNS_NAME_TEXT_MAX];
	int rc;

	if (zone == NULL) {
		zone = buf;
		zone_cap = sizeof(buf);
	}
	if (ubctx_anchor_file_zone(path, zone, zone_cap, why, cap) != 0)
		return -1;
	if ((rc = ub_ctx_add_ta_file(ctx, path)) != 0) {
		snprintf(why, cap, "trust anchor %s: %s", path,
		    ub_strerror(rc));
		return -1;
	}
	return 0;
}

const char *
ubctx_strerror(int err)
{
	const char *name;

	/* event contexts: the rcode of a failed resolution */
	if (err > 0 && (name = dns_rcode_name(err)) != NULL)
		return name;
	if (err > 0)
		return "DNS error";
	return ub_strerror(err);
}

int
ubctx_ede_from_why(const char *why)
{
	if (why == NULL)
		return DNS_EDE_DNSSEC_BOGUS;
	/* libunbound's validator phrases (val_*.c, 1.17) */
	if (strstr(why, "expired") != NULL)
		return DNS_EDE_SIGNATURE_EXPIRED;
	if (strstr(why, "before inception") != NULL ||
	    strstr(why, "not yet valid") != NULL)
		return DNS_EDE_SIGNATURE_NOT_YET_VALID;
	if (strstr(why, "no signatures") != NULL ||
	    strstr(why, "no RRSIG") != NULL)
		return DNS_EDE_RRSIGS_MISSING;
	if (strstr(why, "DNSKEY") != NULL || strstr(why, "DS hash") != NULL ||
	    strstr(why, "no keys") != NULL ||
	    strstr(why, "key for validation") != NULL)
		return DNS_EDE_DNSKEY_MISSING;
	if (strstr(why, "NSEC") != NULL || strstr(why, "nsec") != NULL)
		return DNS_EDE_NSEC_MISSING;
	return DNS_EDE_DNSSEC_BOGUS;
}

/* The packet's rcode, or -1 if there is no usable packet (err set, or
 * not even a header). */
static int
ubctx_rcode(int err, const uint8_t *pkt, size_t len)
{
	if (err != 0 || pkt == NULL || len < DNS_HEADER_LEN)
		return -1;
	return pkt[3] & 0x0f;
}

int
ubctx_ede(int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus)
{
	int rcode = ubctx_rcode(err, pkt, len);

	if (err < 0)			/* libunbound itself failed */
		return DNS_EDE_OTHER;
	if (err > 0)
		return DNS_EDE_NO_REACHABLE_AUTHORITY;
	if (sec == UBCTX_BOGUS)
		return ubctx_ede_from_why(why_bogus);
	if (rcode == -1 || rcode == DNS_RCODE_SERVFAIL)
		/* a failure with a reason is a validation failure (e.g.
		 * the root-key-sentinel, which comes as insecure) */
		return why_bogus != NULL ? ubctx_ede_from_why(why_bogus) :
		    DNS_EDE_NO_REACHABLE_AUTHORITY;
	return DNS_EDE_NONE;
}

void
ubctx_describe(int err, const uint8_t *pkt, size_t len, int sec,
    const char *why_bogus, char *out, size_t cap)
{
	int rcode = ubctx_rcode(err, pkt, len);
	int ede = ubctx_ede(err, pkt, len, sec, why_bogus);
	const char *rn = rcode >= 0 ? dns_rcode_name(rcode) : NULL;
	const char *en = dns_ede_name(ede);
	char what[64], edetext[80] = "";

	if (err < 0)
		snprintf(what, sizeof(what), "lookup failed: %s",
		    ub_strerror(err));
	else if (err > 0)
		snprintf(what, sizeof(what), "%s", ubctx_strerror(err));
	else if (rcode < 0)
		snprintf(what, sizeof(what), "no answer (%zu bytes)", len);
	else if (sec == UBCTX_BOGUS)
		snprintf(what, sizeof(what), "bogus");
	else if (rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN)
		snprintf(what, sizeof(what), "%s%s", sec == UBCTX_SECURE ?
		    "secure" : "insecure", rcode == DNS_RCODE_NXDOMAIN ?
		    " NXDOMAIN" : "");
	else if (rn != NULL)
		snprintf(what, sizeof(what), "%s", rn);
	else
		snprintf(what, sizeof(what), "rcode %d", rcode);
	/* a local failure (err < 0) has no DNS error to name */
	if (ede != DNS_EDE_NONE && err >= 0)
		snprintf(edetext, sizeof(edetext), " (EDE %d%s%s)", ede,
		    en != NULL ? " " : "", en != NULL ? en : "");
	snprintf(out, cap, "%s%s%s%s", what, edetext, why_bogus != NULL ?
	    ": " : "", why_bogus != NULL ? why_bogus : "");
}

int
ubctx_probe_verdict(const char *zone, int err, const uint8_t *pkt,
    size_t len, int sec, const char *why_bogus, const char *reason,
    char *why, size_t cap)
{
	char what[512];

	if (reason == NULL && err == 0 && sec == UBCTX_SECURE &&
	    ubctx_rcode(err, pkt, len) == DNS_RCODE_NOERROR)
		return 0;
	if (reason != NULL)
		snprintf(what, sizeof(what), "%s", reason);
	else
		ubctx_describe(err, pkt, len, sec, why_bogus, what,
		    sizeof(what));
	if (zone != NULL)
		snprintf(why, cap, "the trust anchor for %s does not validate: "
		    "DNSKEY %s", zone, what);
	else
		snprintf(why, cap, "a trust anchor does not validate: DNSKEY "
		    "%s", what);
	return -1;
}
