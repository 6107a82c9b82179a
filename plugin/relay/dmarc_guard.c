/*
 * dmarc_guard.c - the DMARC guard's decision (see dmarc_guard.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dmarc_guard.h"

enum dmarc_guard_dns
dmarc_guard_dmarc_txt(const char *const *texts, size_t n,
    struct dmarc_record *rec)
{
	const char *found = NULL;
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		/* §6.6.3: the others are discarded; a record that is not
		 * "v=DMARC1" exactly is DMARC_E_VERSION */
		struct dmarc_record tmp;
		int rc = dmarc_record_parse(texts[i], strlen(texts[i]), &tmp);

		if (rc == DMARC_E_VERSION)
			continue;
		count++;
		found = texts[i];
	}
	if (count != 1 ||
	    dmarc_record_parse(found, strlen(found), rec) != DMARC_OK)
		return DMARC_GUARD_DNS_NONE;
	return DMARC_GUARD_DNS_FOUND;
}

void
dmarc_guard_decide(const char *domain, const struct dmarc_guard_facts *f,
    const char *route, struct dmarc_guard_decision *out)
{
	const char *pname = NULL;

	memset(out, 0, sizeof(*out));
	out->policy = DMARC_P_NONE;
	switch (f->dmarc) {
	case DMARC_GUARD_DNS_FOUND:
		out->policy = f->rec.p;
		break;
	case DMARC_GUARD_DNS_FAIL:
		out->verdict = DMARC_GUARD_DEFER;
		out->code = 451;
		snprintf(out->text, sizeof(out->text), "4.4.3 DMARC policy of "
		    "%s not known (DNS lookup of _dmarc.%s failed): try "
		    "again later", domain, domain);
		return;
	default:
		/* no record of its own: the parent's for its subdomains */
		if (f->org_dmarc == DMARC_GUARD_DNS_FAIL) {
			out->verdict = DMARC_GUARD_DEFER;
			out->code = 451;
			snprintf(out->text, sizeof(out->text), "4.4.3 DMARC "
			    "policy of %s not known (DNS lookup of its "
			    "organizational domain's record failed): try "
			    "again later", domain);
			return;
		}
		if (f->org_dmarc == DMARC_GUARD_DNS_FOUND) {
			out->policy = f->org_rec.sp;
			out->from_parent = true;
		}
		break;
	}
	pname = dmarc_policy_name(out->policy);
	if (out->policy == DMARC_P_NONE) {
		out->verdict = DMARC_GUARD_DIRECT;
		snprintf(out->text, sizeof(out->text), "DMARC p=none or no "
		    "record for %s", domain);
		return;
	}
	if (f->spf_dns == DMARC_GUARD_DNS_FOUND && f->spf == SPF_R_PASS) {
		out->verdict = DMARC_GUARD_DIRECT;
		snprintf(out->text, sizeof(out->text), "DMARC %s=%s for %s, "
		    "the relay's addresses pass its SPF",
		    out->from_parent ? "sp" : "p", pname, domain);
		return;
	}
	if (route != NULL) {
		out->verdict = DMARC_GUARD_ROUTE;
		snprintf(out->text, sizeof(out->text), "DMARC %s=%s for %s "
		    "(SPF %s for the relay): through route %s",
		    out->from_parent ? "sp" : "p", pname, domain,
		    spf_result_name(f->spf), route);
		return;
	}
	if (f->spf_dns == DMARC_GUARD_DNS_FAIL) {
		/* SPF's temperror: it might have passed, so not a 5xx */
		out->verdict = DMARC_GUARD_DEFER;
		out->code = 451;
		snprintf(out->text, sizeof(out->text), "4.4.3 DMARC p=%s for "
		    "%s and its SPF gave a temperror (DNS): try again later",
		    pname, domain);
		return;
	}
	out->verdict = DMARC_GUARD_REFUSE;
	out->code = 550;
	snprintf(out->text, sizeof(out->text), "5.7.1 DMARC p=%s for %s: "
	    "send through its mailbox route", pname, domain);
}
