/*
 * verdict.c - a destination and an MTA-STS result as one socketmap reply
 * for Postfix (the rules are in verdict.h).
 *
 * SECURITY: pure; the names it writes come from the engine, which checked
 * them; every write is bounded by the reply buffer.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "verdict.h"

static void text_add(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends to buf; a full buffer stays full (the caller checks). */
static void
text_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

static void set(struct verdict *out, enum verdict_status status,
    enum danegate_reason reason, const char *text, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
set(struct verdict *out, enum verdict_status status,
    enum danegate_reason reason, const char *text, const char *fmt, ...)
{
	va_list ap;

	out->status = status;
	out->reason = reason;
	snprintf(out->text, sizeof(out->text), "%s", text);
	va_start(ap, fmt);
	(void)vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

/* TEMP carries the RFC 8460 result type first, then the sentence. */
static void
set_temp(struct verdict *out, enum danegate_reason reason, const char *why)
{
	out->status = VERDICT_TEMP;
	out->reason = reason;
	snprintf(out->why, sizeof(out->why), "%s", why);
	snprintf(out->text, sizeof(out->text), "%s %s",
	    danegate_reason_name(reason), why);
}

const char *
verdict_status_name(enum verdict_status s)
{
	switch (s) {
	case VERDICT_OK:
		return "OK";
	case VERDICT_NOTFOUND:
		return "NOTFOUND";
	case VERDICT_TEMP:
		return "TEMP";
	}
	return "TEMP";
}

bool
verdict_key_domain(const char *key, char *domain, size_t cap)
{
	size_t len = strlen(key);

	if (len > 0 && key[len - 1] == '.')
		len--;
	/* ".example.com": Postfix's parent-domain lookup; "[...]" and
	 * "host:port": a next hop Postfix names itself */
	if (len == 0 || len > 253 || len >= cap || key[0] == '.' ||
	    key[0] == '[' || memchr(key, ':', len) != NULL)
		return false;
	for (size_t i = 0, label = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];

		if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
			return false;
		if (c == '.' && key[i - 1] == '.')
			return false;
		/* a label of more than 63 bytes is no DNS name (RFC 1035) */
		label = c == '.' ? 0 : label + 1;
		if (label > 63)
			return false;
		domain[i] = (char)tolower(c);
	}
	domain[len] = '\0';
	return true;
}

/* The MTA-STS attributes of Postfix 3.10's TLSRPT support. */
static void
tlsrpt_sts_attributes(char *buf, size_t cap, const char *domain,
    const struct mta_sts_result *sts)
{
	const struct mta_sts_policy *p = &sts->policy;

	text_add(buf, cap, " policy_type=sts policy_domain=%s", domain);
	if (!sts->fetched)
		return;
	for (size_t i = 0; i < p->n_mx; i++)
		text_add(buf, cap, " mx_host_pattern=%s", p->mx[i]);
	text_add(buf, cap, " {policy_string = version: STSv1}"
	    " {policy_string = mode: %s}", mta_sts_mode_name(p->mode));
	for (size_t i = 0; i < p->n_mx; i++)
		text_add(buf, cap, " {policy_string = mx: %s}", p->mx[i]);
	text_add(buf, cap, " {policy_string = max_age: %ld}", p->max_age);
}

/* The answer for a domain without DANE: MTA-STS or nothing. */
static int
decide_sts(const char *domain, const struct danegate_destination *d,
    const struct mta_sts_result *sts, enum verdict_map map,
    const struct verdict_options *opts, struct verdict *out)
{
	char match[VERDICT_TEXT_MAX] = "";
	size_t n_match = 0;

	if (sts->txt_state == DANEGATE_BOGUS ||
	    sts->txt_state == DANEGATE_INDETERMINATE) {
		char why[VERDICT_WHY_MAX];

		/* a stripped _mta-sts record must not turn a policy off */
		snprintf(why, sizeof(why), "_mta-sts.%s TXT lookup %s", domain,
		    danegate_dnssec_name(sts->txt_state));
		set_temp(out, DANEGATE_R_DNSSEC_INVALID, why);
		return 0;
	}
	if (!sts->published) {
		set(out, VERDICT_NOTFOUND, DANEGATE_R_NONE, "",
		    "no DANE (%s) and no MTA-STS: Postfix's default level",
		    danegate_reason_name(d->reason));
		return 0;
	}
	if (!sts->fetched) {
		char why[VERDICT_WHY_MAX];

		snprintf(why, sizeof(why), "MTA-STS policy of %.253s: %.200s", domain,
		    sts->error);
		if (opts != NULL && opts->sts_fail_temp) {
			set_temp(out, sts->reason, why);
			return 0;
		}
		set(out, VERDICT_NOTFOUND, sts->reason, "", "%s; no cached "
		    "copy: delivered as without MTA-STS (RFC 8461 section 5)",
		    why);
		if (map == VERDICT_MAP_TLSRPT) {
			out->status = VERDICT_OK;
			snprintf(out->text, sizeof(out->text), "may");
			tlsrpt_sts_attributes(out->text, sizeof(out->text),
			    domain, sts);
			text_add(out->text, sizeof(out->text),
			    " policy_failure=%s",
			    danegate_reason_name(sts->reason));
		}
		return 0;
	}
	if (sts->policy.mode != MTA_STS_ENFORCE) {
		set(out, VERDICT_NOTFOUND, DANEGATE_R_NONE, "",
		    "MTA-STS mode %s of %s is not enforced",
		    mta_sts_mode_name(sts->policy.mode), domain);
		return 0;
	}
	/* the actual MX hosts that fit, so that "*." stays one label */
	for (size_t i = 0; i < d->n_hosts; i++) {
		const char *h = d->hosts[i].name;
		size_t hl = strlen(h);
		bool dup = false;

		if (!mta_sts_mx_matches(&sts->policy, h))
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcasecmp(d->hosts[j].name, h) == 0;
		if (dup)
			continue;
		if (hl > 0 && h[hl - 1] == '.')
			hl--;
		text_add(match, sizeof(match), "%s%.*s", n_match ? ":" : "",
		    (int)hl, h);
		n_match++;
	}
	if (n_match == 0) {
		char why[VERDICT_WHY_MAX];

		snprintf(why, sizeof(why), "no MX host of %.253s fits its "
		    "MTA-STS policy (mx: %.180s%s)", domain, sts->policy.mx[0],
		    sts->policy.n_mx > 1 ? ", ..." : "");
		set_temp(out, DANEGATE_R_VALIDATION_FAILURE, why);
		return 0;
	}
	set(out, VERDICT_OK, DANEGATE_R_NONE, "", "MTA-STS enforce: %zu of "
	    "%zu MX hosts fit the policy", n_match, d->n_hosts);
	snprintf(out->text, sizeof(out->text), "secure match=%s "
	    "servername=hostname", match);
	if (map == VERDICT_MAP_TLSRPT)
		tlsrpt_sts_attributes(out->text, sizeof(out->text), domain,
		    sts);
	if (strlen(out->text) + 1 >= sizeof(out->text))
		set_temp(out, DANEGATE_R_STS_POLICY_INVALID,
		    "MTA-STS answer too long for one reply");
	return 0;
}

int
verdict_decide(const char *key, int lookup_err,
    const struct danegate_destination *d, const struct mta_sts_result *sts,
    enum verdict_map map, const struct verdict_options *opts,
    struct verdict *out)
{
	char domain[DANEGATE_NAME_MAX];
	size_t n_dane = 0, n_tlsa = 0;

	memset(out, 0, sizeof(*out));
	if (!verdict_key_domain(key, domain, sizeof(domain))) {
		set(out, VERDICT_NOTFOUND, DANEGATE_R_NONE, "", "key '%.300s' "
		    "is not a mail domain (parent-domain or next-hop key)",
		    key);
		return 0;
	}
	if (lookup_err == DANEGATE_E_INVALID) {
		set(out, VERDICT_NOTFOUND, DANEGATE_R_NONE, "",
		    "%s is not a name the engine looks up", domain);
		return 0;
	}
	if (lookup_err != 0 || d == NULL) {
		char why[VERDICT_WHY_MAX];

		/* never NOTFOUND: that would turn DANE off while DNS is
		 * down */
		snprintf(why, sizeof(why), "lookup of %s failed: %s", domain,
		    danegate_strerror(lookup_err ? lookup_err :
		    DANEGATE_E_RESOLVER));
		set_temp(out, DANEGATE_R_DNSSEC_INVALID, why);
		return 0;
	}
	if (d->mx_state == DANEGATE_BOGUS ||
	    d->mx_state == DANEGATE_INDETERMINATE) {
		set_temp(out, DANEGATE_R_DNSSEC_INVALID, d->why);
		return 0;
	}
	if (d->null_mx || d->n_hosts == 0) {
		set(out, VERDICT_NOTFOUND, d->reason, "", "%s", d->why);
		return 0;
	}
	for (size_t i = 0; i < d->n_hosts; i++) {
		const struct danegate_mx_host *h = &d->hosts[i];

		if (h->policy == DANEGATE_POLICY_DANE)
			n_dane++;
		/* secure TLSA, usable or not, or a TLSA lookup that failed
		 * behind secure addresses: Postfix must do DANE there */
		if (h->policy == DANEGATE_POLICY_DANE ||
		    h->policy == DANEGATE_POLICY_ENCRYPT ||
		    (h->policy == DANEGATE_POLICY_DEFER &&
		    h->reason == DANEGATE_R_DNSSEC_INVALID &&
		    h->address_state == DANEGATE_SECURE))
			n_tlsa++;
	}
	if (d->policy == DANEGATE_POLICY_DEFER) {
		if (d->reason == DANEGATE_R_DNSSEC_INVALID) {
			set_temp(out, DANEGATE_R_DNSSEC_INVALID, d->why);
			return 0;
		}
		set(out, VERDICT_NOTFOUND, d->reason, "", "%s", d->why);
		return 0;
	}
	if (n_dane == d->n_hosts &&
	    (d->mx_state == DANEGATE_SECURE || d->implicit_mx)) {
		set(out, VERDICT_OK, d->reason, "dane-only", "every MX host "
		    "of %s has usable TLSA records (MX %s)", domain,
		    d->implicit_mx ? "implicit" :
		    danegate_dnssec_name(d->mx_state));
		return 0;
	}
	if (n_tlsa > 0) {
		set(out, VERDICT_OK, d->reason, "dane", "%zu of %zu MX hosts "
		    "of %s have secure TLSA records or failed TLSA lookups "
		    "(MX %s)", n_tlsa, d->n_hosts, domain,
		    d->implicit_mx ? "implicit" :
		    danegate_dnssec_name(d->mx_state));
		return 0;
	}
	if (sts == NULL)
		return VERDICT_NEED_STS;
	return decide_sts(domain, d, sts, map, opts, out);
}
