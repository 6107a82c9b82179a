/*
 * mta_sts.h - MTA-STS (RFC 8461) in libdanegate, internal to the library:
 * the policy parser and the policy fetch, for tlsa-check now and the
 * policy service and the relay next.
 *
 * SECURITY: the policy body comes from any web server the domain names;
 * mta_sts_parse() is bounded and fuzzed. The fetch is HTTPS with PKIX
 * validation (libcurl, GnuTLS flavour), no redirects, 64 KiB at most.
 */
#ifndef DANEGATE_MTA_STS_H
#define DANEGATE_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "danegate.h"

#define MTA_STS_MAX_BODY 65536
#define MTA_STS_MAX_MX 32

enum mta_sts_mode {
	MTA_STS_NONE = 0,
	MTA_STS_TESTING,
	MTA_STS_ENFORCE,
};

struct mta_sts_policy {
	enum mta_sts_mode mode;
	long max_age;
	char mx[MTA_STS_MAX_MX][DANEGATE_NAME_MAX];
	size_t n_mx;
};

/*
 * Parses a policy body (RFC 8461 §3.2): "key: value" lines (CRLF or LF);
 * version must be STSv1, mode one of enforce/testing/none, max_age
 * 0..31557600, at least one mx unless mode is none; unknown keys ignored.
 * Returns 0, or -1 with a reason in err.
 */
int mta_sts_parse(const char *body, size_t len, struct mta_sts_policy *p,
    char *err, size_t errlen);

/* Does MX host name match one of the policy's patterns ("*.example.com"
 * matches exactly one more label)? Case and a final dot do not matter. */
bool mta_sts_mx_matches(const struct mta_sts_policy *p, const char *host);

const char *mta_sts_mode_name(enum mta_sts_mode m);

/*
 * The id of a domain's _mta-sts TXT records (each record's strings joined):
 * true and id set when exactly one record starts with "v=STSv1" (§3.1: more
 * than one means no policy). id may be empty when the record has none.
 */
bool mta_sts_txt_id(char *const *records, size_t n, char *id, size_t cap);

/* A policy body as it arrives, bounded by MTA_STS_MAX_BODY. */
struct mta_sts_body {
	char *data;			/* malloc'ed, NUL-terminated */
	size_t len;
	bool too_big;
};

/*
 * Sets an easy handle up for the policy fetch (the one rule set for the
 * blocking and the asynchronous fetch): HTTPS only, PKIX with ca_file (NULL:
 * the system's roots), host name checked, no redirects (§3.3), timeout_ms,
 * body collected into b, libcurl's message into curl_err
 * (CURL_ERROR_SIZE). resolve pins the host's address (may be NULL).
 */
void mta_sts_curl_setup(CURL *c, const char *url, struct curl_slist *resolve,
    const char *ca_file, unsigned timeout_ms, struct mta_sts_body *b,
    char *curl_err);

/*
 * The RFC 8460 result type of a finished fetch: DANEGATE_R_NONE with *p
 * parsed, or sts-webpki-invalid, sts-policy-fetch-error (transport, HTTP
 * status) or sts-policy-invalid (type, size, syntax), with a sentence in
 * error.
 */
enum danegate_reason mta_sts_curl_judge(CURL *c, CURLcode rc,
    const char *url, const struct mta_sts_body *b, const char *curl_err,
    struct mta_sts_policy *p, char *error, size_t errlen);

/* What tlsa-check learned about a domain's MTA-STS. */
struct mta_sts_result {
	bool published;			/* _mta-sts TXT with v=STSv1 */
	enum danegate_dnssec txt_state;
	char id[128];
	bool fetched;			/* policy fetched and parsed */
	struct mta_sts_policy policy;
	enum danegate_reason reason;	/* NONE, or an sts-* failure */
	char error[256];
	bool mx_all_match;		/* every MX host matches a pattern */
	char mx_unmatched[DANEGATE_NAME_MAX];	/* the first that does not */
};

/*
 * Looks up _mta-sts.<domain>, fetches and parses the policy. ca_file: PKIX
 * roots (NULL: the system's). The host mta-sts.<domain> is resolved with r
 * (validated) and handed to libcurl, so the fetch uses the same DNS view as
 * everything else. timeout_ms bounds the fetch.
 */
void mta_sts_check(struct danegate_resolver *r, const char *domain,
    const char *ca_file, unsigned timeout_ms, bool ipv4, bool ipv6,
    struct mta_sts_result *out);

#endif
