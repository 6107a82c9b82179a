/*
 * report.c - see report.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "report.h"

static const char *
date_text(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, cap, "?");
	return buf;
}

static void
text_probe(FILE *f, const struct danegate_smtp_result *p)
{
	char d[32];

	fprintf(f, "      %s: ", p->address);
	if (!p->connected) {
		fprintf(f, "no connection: %s\n", p->error);
		return;
	}
	if (!p->starttls_offered) {
		fprintf(f, "no STARTTLS offered\n");
		return;
	}
	if (!p->tls_established) {
		fprintf(f, "STARTTLS failed: %s\n", p->error);
		return;
	}
	fprintf(f, "STARTTLS, %s, %s\n", p->tls_version, p->cipher);
	for (size_t i = 0; i < p->n_chain; i++)
		fprintf(f, "        [%zu] %s\n            issuer %s, %s, "
		    "expires %s\n", i, p->chain[i].subject, p->chain[i].issuer,
		    p->chain[i].key, date_text(p->chain[i].not_after, d,
		    sizeof(d)));
	if (p->match.matched)
		fprintf(f, "        match: %s\n", p->match.why);
	else if (p->match.why[0] != '\0')
		fprintf(f, "        NO MATCH (%s): %s\n",
		    danegate_reason_name(p->match.reason), p->match.why);
}

static void
text_txt(FILE *f, const char *label, const struct audit_txt_check *c)
{
	fprintf(f, "  %-9s ", label);
	if (!c->present)
		fprintf(f, "none (%s)\n", danegate_dnssec_name(c->state));
	else
		fprintf(f, "%s%s%s%s (%s)\n", c->valid ? "" : "INVALID: ",
		    c->record, c->detail[0] ? " -- " : "", c->detail,
		    danegate_dnssec_name(c->state));
}

void
report_text(FILE *f, const struct audit *a)
{
	const struct danegate_destination *d = a->dest;
	char buf[300];

	fprintf(f, "%s: %s", a->name, a->verdict);
	if (a->reason != DANEGATE_R_NONE)
		fprintf(f, " (%s)", danegate_reason_name(a->reason));
	fprintf(f, "\n");
	if (a->why[0] != '\0')
		fprintf(f, "  %s\n", a->why);
	if (d == NULL)
		return;
	fprintf(f, "  MX RRset: %s%s%s\n", danegate_dnssec_name(d->mx_state),
	    d->implicit_mx ? ", none: the domain itself is the MX" : "",
	    d->null_mx ? ", null MX (RFC 7505): accepts no mail" : "");
	for (size_t i = 0; i < a->n_hosts; i++) {
		const struct audit_host *h = &a->hosts[i];
		const struct danegate_mx_host *mx = h->mx;

		fprintf(f, "  MX %u %s%s%s: %s, policy %s%s\n", mx->preference,
		    mx->name, mx->expanded[0] ? " -> " : "", mx->expanded,
		    h->verdict, danegate_policy_name(mx->policy),
		    mx->trusted_only && mx->policy == DANEGATE_POLICY_DANE ?
		    " (insecure MX: trusted, not verified)" : "");
		fprintf(f, "    addresses (%s):",
		    danegate_dnssec_name(mx->address_state));
		for (size_t j = 0; j < mx->n_addresses; j++)
			fprintf(f, " %s", mx->addresses[j].text);
		fprintf(f, "%s\n", mx->n_addresses ? "" : " none");
		if (mx->tlsa_looked_up) {
			fprintf(f, "    TLSA _%u._tcp.%s (%s):%s\n", d->port,
			    mx->tlsa_base, danegate_dnssec_name(mx->tlsa_state),
			    mx->n_tlsa ? "" : " none");
			for (size_t t = 0; t < mx->n_tlsa; t++) {
				danegate_tlsa_format(&mx->tlsa[t], buf,
				    sizeof(buf));
				fprintf(f, "      %s  %s\n", buf,
				    danegate_tlsa_usability_name(
				    mx->tlsa[t].usability));
			}
		}
		if (mx->why[0] != '\0')
			fprintf(f, "    %s\n", mx->why);
		for (size_t j = 0; j < h->n_probes; j++)
			text_probe(f, h->probes[j]);
	}
	if (!d->null_mx && a->hosts != NULL && d->n_hosts > 0) {
		fprintf(f, "  MTA-STS   ");
		if (!a->sts.published)
			fprintf(f, "none\n");
		else if (!a->sts.fetched)
			fprintf(f, "published (id %s), policy: %s (%s)\n",
			    a->sts.id, a->sts.error,
			    danegate_reason_name(a->sts.reason));
		else
			fprintf(f, "mode %s, max_age %ld, MX %s\n",
			    mta_sts_mode_name(a->sts.policy.mode),
			    a->sts.policy.max_age, a->sts.mx_all_match ?
			    "all match" : "NOT all matching");
		text_txt(f, "TLS-RPT", &a->tlsrpt);
		text_txt(f, "SPF", &a->spf);
		text_txt(f, "DMARC", &a->dmarc);
	}
	for (size_t i = 0; i < a->n_warnings; i++)
		fprintf(f, "  warning: %s\n", a->warnings[i]);
}

/* json-c helpers: NULL-safe string, and a hex string for data. */
static json_object *
jstr(const char *s)
{
	return json_object_new_string(s != NULL ? s : "");
}

static json_object *
json_tlsa(const struct danegate_tlsa *t)
{
	json_object *o = json_object_new_object();
	char hex[2 * 512 + 1];
	size_t n = t->len < 512 ? t->len : 512;

	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", t->data[i]);
	hex[2 * n] = '\0';
	json_object_object_add(o, "usage", json_object_new_int(t->usage));
	json_object_object_add(o, "selector", json_object_new_int(t->selector));
	json_object_object_add(o, "matching_type",
	    json_object_new_int(t->mtype));
	json_object_object_add(o, "data", jstr(hex));
	json_object_object_add(o, "usable",
	    json_object_new_boolean(t->usability == DANEGATE_TLSA_USABLE));
	json_object_object_add(o, "usability",
	    jstr(danegate_tlsa_usability_name(t->usability)));
	return o;
}

static json_object *
json_probe(const struct danegate_smtp_result *p)
{
	json_object *o = json_object_new_object(), *chain, *m;

	json_object_object_add(o, "address", jstr(p->address));
	json_object_object_add(o, "connected",
	    json_object_new_boolean(p->connected));
	json_object_object_add(o, "starttls",
	    json_object_new_boolean(p->starttls_offered));
	json_object_object_add(o, "tls", json_object_new_boolean(
	    p->tls_established));
	json_object_object_add(o, "tls_version", jstr(p->tls_version));
	json_object_object_add(o, "cipher", jstr(p->cipher));
	json_object_object_add(o, "reason",
	    jstr(danegate_reason_name(p->reason)));
	json_object_object_add(o, "error", jstr(p->error));
	chain = json_object_new_array();
	for (size_t i = 0; i < p->n_chain; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "subject", jstr(p->chain[i].subject));
		json_object_object_add(c, "issuer", jstr(p->chain[i].issuer));
		json_object_object_add(c, "key", jstr(p->chain[i].key));
		json_object_object_add(c, "not_before",
		    json_object_new_int64((int64_t)p->chain[i].not_before));
		json_object_object_add(c, "not_after",
		    json_object_new_int64((int64_t)p->chain[i].not_after));
		json_object_array_add(chain, c);
	}
	json_object_object_add(o, "chain", chain);
	m = json_object_new_object();
	json_object_object_add(m, "matched",
	    json_object_new_boolean(p->match.matched));
	json_object_object_add(m, "record", json_object_new_int(p->match.record));
	json_object_object_add(m, "depth", json_object_new_int(p->match.depth));
	json_object_object_add(m, "reason",
	    jstr(danegate_reason_name(p->match.reason)));
	json_object_object_add(m, "why", jstr(p->match.why));
	json_object_object_add(o, "match", m);
	return o;
}

static json_object *
json_txt(const struct audit_txt_check *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "dnssec", jstr(danegate_dnssec_name(c->state)));
	json_object_object_add(o, "present", json_object_new_boolean(c->present));
	json_object_object_add(o, "valid", json_object_new_boolean(c->valid));
	json_object_object_add(o, "record", jstr(c->record));
	json_object_object_add(o, "detail", jstr(c->detail));
	return o;
}

static json_object *
json_audit(const struct audit *a)
{
	json_object *o = json_object_new_object(), *hosts, *warn, *sts;
	const struct danegate_destination *d = a->dest;

	json_object_object_add(o, "domain", jstr(a->name));
	json_object_object_add(o, "verdict", jstr(a->verdict));
	json_object_object_add(o, "reason", jstr(danegate_reason_name(a->reason)));
	json_object_object_add(o, "why", jstr(a->why));
	json_object_object_add(o, "exit_class",
	    json_object_new_int(audit_exit_class(a)));
	json_object_object_add(o, "elapsed_ms",
	    json_object_new_double(a->elapsed_ms));
	if (d != NULL) {
		json_object_object_add(o, "mx_dnssec",
		    jstr(danegate_dnssec_name(d->mx_state)));
		json_object_object_add(o, "implicit_mx",
		    json_object_new_boolean(d->implicit_mx));
		json_object_object_add(o, "null_mx",
		    json_object_new_boolean(d->null_mx));
	}
	hosts = json_object_new_array();
	for (size_t i = 0; i < a->n_hosts; i++) {
		const struct audit_host *h = &a->hosts[i];
		const struct danegate_mx_host *mx = h->mx;
		json_object *ho = json_object_new_object(), *arr;

		json_object_object_add(ho, "name", jstr(mx->name));
		json_object_object_add(ho, "preference",
		    json_object_new_int(mx->preference));
		json_object_object_add(ho, "expanded", jstr(mx->expanded));
		json_object_object_add(ho, "tlsa_base", jstr(mx->tlsa_base));
		json_object_object_add(ho, "verdict", jstr(h->verdict));
		json_object_object_add(ho, "policy",
		    jstr(danegate_policy_name(mx->policy)));
		json_object_object_add(ho, "reason",
		    jstr(danegate_reason_name(h->reason)));
		json_object_object_add(ho, "why", jstr(mx->why));
		json_object_object_add(ho, "trusted_only",
		    json_object_new_boolean(mx->trusted_only));
		json_object_object_add(ho, "address_dnssec",
		    jstr(danegate_dnssec_name(mx->address_state)));
		arr = json_object_new_array();
		for (size_t j = 0; j < mx->n_addresses; j++)
			json_object_array_add(arr, jstr(mx->addresses[j].text));
		json_object_object_add(ho, "addresses", arr);
		json_object_object_add(ho, "tlsa_dnssec", mx->tlsa_looked_up ?
		    jstr(danegate_dnssec_name(mx->tlsa_state)) : NULL);
		arr = json_object_new_array();
		for (size_t t = 0; t < mx->n_tlsa; t++)
			json_object_array_add(arr, json_tlsa(&mx->tlsa[t]));
		json_object_object_add(ho, "tlsa", arr);
		arr = json_object_new_array();
		for (size_t j = 0; j < h->n_probes; j++)
			json_object_array_add(arr, json_probe(h->probes[j]));
		json_object_object_add(ho, "connections", arr);
		json_object_array_add(hosts, ho);
	}
	json_object_object_add(o, "mx", hosts);
	sts = json_object_new_object();
	json_object_object_add(sts, "published",
	    json_object_new_boolean(a->sts.published));
	json_object_object_add(sts, "id", jstr(a->sts.id));
	json_object_object_add(sts, "fetched",
	    json_object_new_boolean(a->sts.fetched));
	json_object_object_add(sts, "mode", a->sts.fetched ?
	    jstr(mta_sts_mode_name(a->sts.policy.mode)) : NULL);
	json_object_object_add(sts, "max_age", a->sts.fetched ?
	    json_object_new_int64(a->sts.policy.max_age) : NULL);
	json_object_object_add(sts, "mx_all_match",
	    json_object_new_boolean(a->sts.fetched && a->sts.mx_all_match));
	json_object_object_add(sts, "reason",
	    jstr(danegate_reason_name(a->sts.reason)));
	json_object_object_add(sts, "error", jstr(a->sts.error));
	json_object_object_add(o, "mta_sts", sts);
	json_object_object_add(o, "tls_rpt", json_txt(&a->tlsrpt));
	json_object_object_add(o, "spf", json_txt(&a->spf));
	json_object_object_add(o, "dmarc", json_txt(&a->dmarc));
	warn = json_object_new_array();
	for (size_t i = 0; i < a->n_warnings; i++)
		json_object_array_add(warn, jstr(a->warnings[i]));
	json_object_object_add(o, "warnings", warn);
	return o;
}

void
report_json(FILE *f, const struct audit *audits, size_t n, int exit_code)
{
	json_object *root = json_object_new_object(), *arr;

	json_object_object_add(root, "version",
	    json_object_new_int(REPORT_JSON_SCHEMA_VERSION));
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_audit(&audits[i]));
	json_object_object_add(root, "domains", arr);
	json_object_object_add(root, "exit", json_object_new_int(exit_code));
	fprintf(f, "%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}
