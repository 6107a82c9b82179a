/*
 * explain.c - the decision path of one key (see explain.h). The lookup is
 * the engine's blocking danegate_destination_lookup() and mta_sts_check();
 * the reply is verdict_decide(), the service's own function, so what is
 * printed is what Postfix gets.
 *
 * SECURITY: prints names and records that came from DNS; the engine
 * checked them printable, json-c escapes them for JSON.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "danegate.h"
#include "mta_sts.h"
#include "verdict.h"
#include "explain.h"

struct facts {
	const char *key;
	char domain[DANEGATE_NAME_MAX];
	bool is_domain;
	int err;
	struct danegate_destination *d;
	bool sts_looked_up;
	struct mta_sts_result sts;
	struct verdict v[2];
};

static void
print_text(const struct facts *x, const struct policy_conf *conf, FILE *f)
{
	const struct danegate_destination *d = x->d;

	fprintf(f, "key %s\n", x->key);
	if (!x->is_domain) {
		fprintf(f, "  not a mail domain: no lookup\n");
	} else if (d == NULL) {
		fprintf(f, "  lookup failed: %s\n", danegate_strerror(x->err));
	} else {
		fprintf(f, "MX RRset of %s: %s%s%s\n", d->domain,
		    danegate_dnssec_name(d->mx_state),
		    d->implicit_mx ? " (no MX: the domain itself)" : "",
		    d->null_mx ? " (null MX: no mail)" : "");
		for (size_t i = 0; i < d->n_hosts; i++) {
			const struct danegate_mx_host *h = &d->hosts[i];
			size_t usable = 0;

			fprintf(f, "  MX %u %s%s%s\n", h->preference, h->name,
			    h->expanded[0] ? " -> " : "", h->expanded);
			fprintf(f, "    addresses: %s:",
			    danegate_dnssec_name(h->address_state));
			for (size_t j = 0; j < h->n_addresses; j++)
				fprintf(f, " %s", h->addresses[j].text);
			fprintf(f, "%s\n", h->n_addresses ? "" : " none");
			if (h->tlsa_looked_up) {
				for (size_t j = 0; j < h->n_tlsa; j++)
					usable += h->tlsa[j].usability ==
					    DANEGATE_TLSA_USABLE;
				fprintf(f, "    TLSA _%u._tcp.%s: %s, %zu "
				    "record(s), %zu usable\n", d->port,
				    h->tlsa_base[0] ? h->tlsa_base : h->name,
				    danegate_dnssec_name(h->tlsa_state),
				    h->n_tlsa, usable);
				for (size_t j = 0; j < h->n_tlsa; j++) {
					char rr[700];

					if (danegate_tlsa_format(&h->tlsa[j],
					    rr, sizeof(rr)) != 0)
						snprintf(rr, sizeof(rr),
						    "(too long to print)");
					fprintf(f, "      %s  %s\n", rr,
					    danegate_tlsa_usability_name(
					    h->tlsa[j].usability));
				}
			} else {
				fprintf(f, "    TLSA: not looked up\n");
			}
			fprintf(f, "    host: %s (%s) %s\n",
			    danegate_policy_name(h->policy),
			    danegate_reason_name(h->reason), h->why);
		}
		fprintf(f, "destination: %s (%s) %s\n",
		    danegate_policy_name(d->policy),
		    danegate_reason_name(d->reason), d->why);
	}
	if (!x->sts_looked_up) {
		fprintf(f, "MTA-STS: not consulted%s\n", x->is_domain &&
		    d != NULL ? " (DANE or DNS decides)" : "");
	} else if (x->sts.txt_state == DANEGATE_BOGUS ||
	    x->sts.txt_state == DANEGATE_INDETERMINATE) {
		fprintf(f, "MTA-STS: _mta-sts TXT %s\n",
		    danegate_dnssec_name(x->sts.txt_state));
	} else if (!x->sts.published) {
		fprintf(f, "MTA-STS: none published (TXT %s)\n",
		    danegate_dnssec_name(x->sts.txt_state));
	} else if (!x->sts.fetched) {
		fprintf(f, "MTA-STS: id %s, policy not fetched (%s): %s\n",
		    x->sts.id, danegate_reason_name(x->sts.reason),
		    x->sts.error);
	} else {
		fprintf(f, "MTA-STS: id %s, mode %s, max_age %ld, mx:",
		    x->sts.id, mta_sts_mode_name(x->sts.policy.mode),
		    x->sts.policy.max_age);
		for (size_t i = 0; i < x->sts.policy.n_mx; i++)
			fprintf(f, " %s", x->sts.policy.mx[i]);
		fprintf(f, "\n");
	}
	fprintf(f, "reply (%s): %s %s\n", conf->policy_map,
	    verdict_status_name(x->v[0].status), x->v[0].text);
	fprintf(f, "reply (%s): %s %s\n", conf->tlsrpt_map,
	    verdict_status_name(x->v[1].status), x->v[1].text);
	fprintf(f, "because: %s\n", x->v[0].why);
}

static void
jadd_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void
print_json(const struct facts *x, const struct policy_conf *conf, FILE *f)
{
	const struct danegate_destination *d = x->d;
	struct json_object *root = json_object_new_object(), *r;

	jadd_str(root, "key", x->key);
	json_object_object_add(root, "mail_domain",
	    json_object_new_boolean(x->is_domain));
	if (x->is_domain && d == NULL)
		jadd_str(root, "lookup_error", danegate_strerror(x->err));
	if (d != NULL) {
		struct json_object *hosts = json_object_new_array();

		jadd_str(root, "domain", d->domain);
		jadd_str(root, "mx_dnssec", danegate_dnssec_name(d->mx_state));
		json_object_object_add(root, "implicit_mx",
		    json_object_new_boolean(d->implicit_mx));
		json_object_object_add(root, "null_mx",
		    json_object_new_boolean(d->null_mx));
		for (size_t i = 0; i < d->n_hosts; i++) {
			const struct danegate_mx_host *h = &d->hosts[i];
			struct json_object *jh = json_object_new_object();
			struct json_object *addrs = json_object_new_array();
			struct json_object *tlsa = json_object_new_array();

			jadd_str(jh, "name", h->name);
			json_object_object_add(jh, "preference",
			    json_object_new_int(h->preference));
			jadd_str(jh, "expanded", h->expanded);
			jadd_str(jh, "address_dnssec",
			    danegate_dnssec_name(h->address_state));
			for (size_t j = 0; j < h->n_addresses; j++)
				json_object_array_add(addrs,
				    json_object_new_string(
				    h->addresses[j].text));
			json_object_object_add(jh, "addresses", addrs);
			json_object_object_add(jh, "tlsa_looked_up",
			    json_object_new_boolean(h->tlsa_looked_up));
			if (h->tlsa_looked_up) {
				jadd_str(jh, "tlsa_base", h->tlsa_base);
				jadd_str(jh, "tlsa_dnssec",
				    danegate_dnssec_name(h->tlsa_state));
			}
			for (size_t j = 0; j < h->n_tlsa; j++) {
				struct json_object *t =
				    json_object_new_object();
				char rr[700] = "";

				(void)danegate_tlsa_format(&h->tlsa[j], rr,
				    sizeof(rr));
				jadd_str(t, "record", rr);
				jadd_str(t, "usability",
				    danegate_tlsa_usability_name(
				    h->tlsa[j].usability));
				json_object_array_add(tlsa, t);
			}
			json_object_object_add(jh, "tlsa", tlsa);
			jadd_str(jh, "policy", danegate_policy_name(h->policy));
			jadd_str(jh, "reason", danegate_reason_name(h->reason));
			jadd_str(jh, "why", h->why);
			json_object_array_add(hosts, jh);
		}
		json_object_object_add(root, "hosts", hosts);
		jadd_str(root, "policy", danegate_policy_name(d->policy));
		jadd_str(root, "reason", danegate_reason_name(d->reason));
		jadd_str(root, "why", d->why);
	}
	if (x->sts_looked_up) {
		struct json_object *s = json_object_new_object();

		jadd_str(s, "txt_dnssec",
		    danegate_dnssec_name(x->sts.txt_state));
		json_object_object_add(s, "published",
		    json_object_new_boolean(x->sts.published));
		jadd_str(s, "id", x->sts.id);
		json_object_object_add(s, "fetched",
		    json_object_new_boolean(x->sts.fetched));
		if (x->sts.fetched) {
			struct json_object *mx = json_object_new_array();

			jadd_str(s, "mode",
			    mta_sts_mode_name(x->sts.policy.mode));
			json_object_object_add(s, "max_age",
			    json_object_new_int64(x->sts.policy.max_age));
			for (size_t i = 0; i < x->sts.policy.n_mx; i++)
				json_object_array_add(mx,
				    json_object_new_string(
				    x->sts.policy.mx[i]));
			json_object_object_add(s, "mx", mx);
		} else if (x->sts.published) {
			jadd_str(s, "reason",
			    danegate_reason_name(x->sts.reason));
			jadd_str(s, "error", x->sts.error);
		}
		json_object_object_add(root, "mta_sts", s);
	}
	r = json_object_new_object();
	for (int m = 0; m < 2; m++) {
		struct json_object *o = json_object_new_object();

		jadd_str(o, "status", verdict_status_name(x->v[m].status));
		jadd_str(o, "text", x->v[m].text);
		jadd_str(o, "why", x->v[m].why);
		json_object_object_add(r, m == 0 ? conf->policy_map :
		    conf->tlsrpt_map, o);
	}
	json_object_object_add(root, "reply", r);
	fprintf(f, "%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int
explain_run(const struct policy_conf *conf, const char *key, bool json,
    FILE *f)
{
	struct danegate_resolver_options ro = { 0 };
	struct verdict_options vo = { .sts_fail_temp = conf->sts_fail_temp };
	struct danegate_resolver *r;
	static struct facts x;
	int err = 0;

	ro.forwarder = conf->resolver[0] ? conf->resolver : NULL;
	ro.trust_anchor_file = conf->trust_anchor_file[0] ?
	    conf->trust_anchor_file : NULL;
	ro.unbound_conf = conf->unbound_conf[0] ? conf->unbound_conf : NULL;
	ro.timeout_ms = conf->timeout_ms;
	if ((r = danegate_resolver_new(&ro, NULL, &err)) == NULL) {
		fprintf(stderr, "danegate-policy: cannot set up the "
		    "validating resolver: %s\n", danegate_strerror(err));
		return 1;
	}
	memset(&x, 0, sizeof(x));
	x.key = key;
	x.is_domain = verdict_key_domain(key, x.domain, sizeof(x.domain));
	if (x.is_domain)
		x.err = danegate_destination_lookup(r, x.domain, 25, &x.d);
	for (int m = 0; m < 2; m++) {
		if (verdict_decide(key, x.err, x.d, NULL, (enum verdict_map)m,
		    &vo, &x.v[m]) != VERDICT_NEED_STS)
			continue;
		if (!x.sts_looked_up) {
			mta_sts_check(r, x.domain, conf->ca_file[0] ?
			    conf->ca_file : NULL, conf->sts_timeout_ms, true,
			    true, &x.sts);
			x.sts_looked_up = true;
		}
		(void)verdict_decide(key, x.err, x.d, &x.sts,
		    (enum verdict_map)m, &vo, &x.v[m]);
	}
	if (json)
		print_json(&x, conf, f);
	else
		print_text(&x, conf, f);
	danegate_destination_free(x.d);
	danegate_resolver_free(r);
	return 0;
}
