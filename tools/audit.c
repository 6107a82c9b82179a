/*
 * audit.c - see audit.h.
 *
 * SECURITY: connects to the MX hosts' port 25 and to mta-sts.<domain>:443
 * as the invoking user; everything it reads from them goes through
 * libdanegate's bounded parsers or mta_sts_parse().
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "audit.h"

__attribute__((format(printf, 2, 3)))
static void
audit_warn(struct audit *a, const char *fmt, ...)
{
	char buf[512], **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* the same warning from two addresses is one warning */
	for (size_t i = 0; i < a->n_warnings; i++)
		if (strcmp(a->warnings[i], buf) == 0)
			return;
	grown = realloc(a->warnings, (a->n_warnings + 1) * sizeof(*grown));
	if (grown == NULL)
		return;
	a->warnings = grown;
	if ((a->warnings[a->n_warnings] = strdup(buf)) != NULL)
		a->n_warnings++;
}

static bool
ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n > 0 && s[n - 1] == '.')
		n--;
	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* Does record i alone match this chain? */
static bool
record_matches(const struct danegate_tlsa *rec,
    const struct danegate_smtp_result *p, const char *const names[3],
    struct danegate_match *m)
{
	const uint8_t *der[16];
	size_t len[16], n = p->n_chain < 16 ? p->n_chain : 16;

	for (size_t i = 0; i < n; i++) {
		der[i] = p->chain[i].der;
		len[i] = p->chain[i].der_len;
	}
	if (danegate_tlsa_match(rec, 1, der, len, n, names, 3, time(NULL),
	    m) != 0)
		return false;
	return m->matched;
}

/* Rollover readiness, DANE-TA anchors the server does not send, and
 * --next-cert, judged against the first address that completed TLS. */
static void
audit_tlsa_operations(struct audit *a, const struct audit_host *h,
    const struct audit_options *opts)
{
	const struct danegate_mx_host *mx = h->mx;
	const struct danegate_smtp_result *p = NULL;
	const char *names[3] = { mx->tlsa_base, mx->name, a->dest->domain };
	size_t usable = 0, matching = 0;
	bool ee_match = false, ta_match = false;
	char text[300];

	for (size_t i = 0; i < h->n_probes; i++)
		if (h->probes[i]->tls_established && h->probes[i]->n_chain > 0) {
			p = h->probes[i];
			break;
		}
	for (size_t i = 0; i < mx->n_tlsa; i++) {
		const struct danegate_tlsa *t = &mx->tlsa[i];
		struct danegate_match m;

		if (t->usability != DANEGATE_TLSA_USABLE)
			continue;
		usable++;
		if (p == NULL)
			continue;
		if (record_matches(t, p, names, &m)) {
			matching++;
			if (t->usage == 3)
				ee_match = true;
			else
				ta_match = true;
		} else if (t->usage == 2 &&
		    m.reason == DANEGATE_R_CERT_NOT_TRUSTED) {
			danegate_tlsa_format(t, text, sizeof(text));
			audit_warn(a, "%s: TLSA %.80s matches no certificate the "
			    "server sends: a DANE-TA anchor must be in the "
			    "chain (RFC 7671 section 5.2.2)", mx->name, text);
		}
	}
	/* A DANE-TA record outlives the server's key; only a DANE-EE-only
	 * set must have a record for the next key before a rollover. */
	if (p != NULL && usable > 0 && matching == usable && ee_match &&
	    !ta_match)
		audit_warn(a, "%s: no key rollover prepared: every TLSA record "
		    "matches the current certificate; publish one for the next "
		    "key first (\"3 1 1 + 3 1 1\" or \"3 1 1 + 2 1 1\")",
		    mx->name);

	if (opts->next_cert != NULL) {
		gnutls_datum_t pem = { NULL, 0 }, der = { NULL, 0 };
		gnutls_x509_crt_t *certs = NULL;
		unsigned n = 0;
		bool published = false;
		struct danegate_tlsa want = { 0 };

		if (gnutls_load_file(opts->next_cert, &pem) < 0 ||
		    gnutls_x509_crt_list_import2(&certs, &n, &pem,
		    GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0 ||
		    gnutls_x509_crt_export2(certs[0], GNUTLS_X509_FMT_DER,
		    &der) < 0) {
			audit_warn(a, "--next-cert %s: no PEM certificate could "
			    "be read", opts->next_cert);
		} else {
			for (size_t i = 0; i < mx->n_tlsa && !published; i++) {
				const struct danegate_tlsa *t = &mx->tlsa[i];

				if (t->usage != 3 ||
				    t->usability != DANEGATE_TLSA_USABLE)
					continue;
				if (danegate_tlsa_for_cert(der.data, der.size,
				    3, t->selector, t->mtype, &want) != 0)
					continue;
				published = want.len == t->len &&
				    memcmp(want.data, t->data, t->len) == 0;
				danegate_tlsa_clear(&want);
			}
			if (!published && danegate_tlsa_for_cert(der.data,
			    der.size, 3, 1, 1, &want) == 0) {
				danegate_tlsa_format(&want, text, sizeof(text));
				audit_warn(a, "%s: the next certificate (%s) is "
				    "not published yet: add _%u._tcp.%s. IN TLSA "
				    "%s", mx->name, opts->next_cert,
				    a->dest->port, mx->tlsa_base, text);
				danegate_tlsa_clear(&want);
			}
		}
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(certs[i]);
		gnutls_free(certs);
		gnutls_free(pem.data);
		gnutls_free(der.data);
	}
}

struct probe_cache_entry {
	struct probe_cache_entry *next;
	char key[DANEGATE_NAME_MAX + 96];
	bool done;
	struct danegate_smtp_result *res;	/* NULL: the probe failed */
};

struct probe_cache {
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct probe_cache_entry *entries;
};

struct probe_cache *
probe_cache_new(void)
{
	struct probe_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	return c;
}

void
probe_cache_free(struct probe_cache *c)
{
	if (c == NULL)
		return;
	while (c->entries != NULL) {
		struct probe_cache_entry *e = c->entries;

		c->entries = e->next;
		danegate_smtp_result_free(e->res);
		free(e);
	}
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/*
 * Probes addr for mx, or reuses the run's probe of the same address and
 * SNI name, judged for mx and nexthop. Returns the result (caller frees)
 * or NULL.
 */
static struct danegate_smtp_result *
audit_probe(const struct audit_options *opts,
    const struct danegate_address *addr, const struct danegate_mx_host *mx,
    const struct danegate_smtp_options *so)
{
	struct probe_cache *c = opts->probes;
	struct probe_cache_entry *e;
	struct danegate_smtp_result *res = NULL, *mine = NULL;
	/* the SNI the probe sends (smtp.c): the TLSA base name first */
	const char *sni = mx->tlsa_base[0] ? mx->tlsa_base :
	    mx->expanded[0] ? mx->expanded : mx->name;
	char key[sizeof(e->key)];

	if (c == NULL) {
		if (danegate_smtp_probe(addr, mx, so, &res) != 0)
			return NULL;
		return res;
	}
	snprintf(key, sizeof(key), "%s|%u|%.200s", addr->text,
	    (unsigned)opts->port, sni);
	pthread_mutex_lock(&c->lock);
	for (e = c->entries; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (e != NULL) {
		while (!e->done)
			pthread_cond_wait(&c->done, &c->lock);
	} else if ((e = calloc(1, sizeof(*e))) != NULL) {
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->next = c->entries;
		c->entries = e;
		pthread_mutex_unlock(&c->lock);
		if (danegate_smtp_probe(addr, mx, so, &mine) != 0)
			mine = NULL;
		pthread_mutex_lock(&c->lock);
		e->res = mine;
		e->done = true;
		pthread_cond_broadcast(&c->done);
	}
	if (e != NULL && e->res != NULL &&
	    danegate_smtp_result_rejudge(e->res, mx, so->nexthop_domain,
	    &res) != 0)
		res = NULL;
	pthread_mutex_unlock(&c->lock);
	return res;
}

static void
audit_probe_host(struct audit *a, struct audit_host *h,
    const struct audit_options *opts)
{
	const struct danegate_mx_host *mx = h->mx;
	struct danegate_smtp_options so = {
		.timeout_ms = opts->timeout_ms,
		.nexthop_domain = a->dest->domain,
	};
	size_t matched = 0, tls = 0;

	/* an array of pointers: sizeof a pointer is meant */
	h->probes = calloc(mx->n_addresses + 1,
	    sizeof(*h->probes)); // NOLINT(bugprone-sizeof-expression)
	if (h->probes == NULL)
		return;
	for (size_t i = 0; i < mx->n_addresses; i++) {
		const struct danegate_address *addr = &mx->addresses[i];
		bool v6 = addr->ss.ss_family == AF_INET6;
		struct danegate_smtp_result *res = NULL;

		if ((v6 && !opts->ipv6) || (!v6 && !opts->ipv4))
			continue;
		if ((res = audit_probe(opts, addr, mx, &so)) == NULL)
			continue;
		h->probes[h->n_probes++] = res;
		if (res->tls_established)
			tls++;
		if (res->match.matched)
			matched++;
		if (!res->connected)
			audit_warn(a, "%s (%s): %s", mx->name, res->address,
			    res->error);
		for (size_t c = 0; c < res->n_chain && c < 1; c++) {
			time_t left = res->chain[c].not_after - time(NULL);

			if (left < 0)
				audit_warn(a, "%s: the certificate expired %ld "
				    "days ago", mx->name, (long)(-left / 86400));
			else if (left < (time_t)opts->expiry_days * 86400)
				audit_warn(a, "%s: the certificate expires in "
				    "%ld days", mx->name, (long)(left / 86400));
		}
	}

	switch (mx->policy) {
	case DANEGATE_POLICY_DANE:
		h->delivers = h->authenticated = matched > 0;
		h->verdict = matched == 0 ? "dane-failing" :
		    matched < h->n_probes ? "dane-partial" : "dane-valid";
		break;
	case DANEGATE_POLICY_ENCRYPT:
		h->delivers = tls > 0;
		h->verdict = tls > 0 ? "encrypt-only" : "dane-failing";
		break;
	case DANEGATE_POLICY_MAY:
		h->delivers = true;
		h->verdict = "no-dane";
		break;
	default:
		break;
	}
	/* a host that failed on the wire says why in its own reason */
	if (!h->delivers || strcmp(h->verdict, "dane-partial") == 0)
		for (size_t i = 0; i < h->n_probes; i++)
			if (h->probes[i]->reason != DANEGATE_R_NONE &&
			    h->probes[i]->reason != DANEGATE_R_DANE_VERIFIED &&
			    h->probes[i]->reason != DANEGATE_R_DANE_TRUSTED) {
				h->reason = h->probes[i]->reason;
				break;
			}
	if (mx->policy == DANEGATE_POLICY_DANE)
		audit_tlsa_operations(a, h, opts);
}

/* A host judged from DNS alone (not probed, or not deliverable). */
static void
audit_judge_host_dns(struct audit_host *h)
{
	const struct danegate_mx_host *mx = h->mx;

	switch (mx->policy) {
	case DANEGATE_POLICY_DANE:
		h->delivers = h->authenticated = true;
		h->verdict = "dane-valid";
		break;
	case DANEGATE_POLICY_ENCRYPT:
		h->delivers = true;
		h->verdict = "encrypt-only";
		break;
	case DANEGATE_POLICY_MAY:
		h->delivers = true;
		h->verdict = "no-dane";
		break;
	case DANEGATE_POLICY_NO_MAIL:
		h->verdict = "no-mail";
		break;
	case DANEGATE_POLICY_DEFER:
		/* a failed address lookup is DNS; a failed TLSA lookup is
		 * a DANE reason to defer */
		h->verdict = mx->n_addresses == 0 ||
		    mx->address_state == DANEGATE_BOGUS ||
		    mx->address_state == DANEGATE_INDETERMINATE ?
		    "dns-failure" : "dane-failing";
		break;
	}
}

static void
audit_records(struct audit *a)
{
	const struct danegate_destination *d = a->dest;

	for (size_t i = 0; i < d->n_hosts; i++) {
		const struct danegate_mx_host *mx = &d->hosts[i];
		char text[300];

		if (ends_with_ci(mx->name, ".mail.protection.outlook.com"))
			audit_warn(a, "%s: Exchange Online's legacy endpoint: "
			    "no DANE is possible there; Exchange Online's DANE "
			    "needs its *.mx.microsoft host", mx->name);
		for (size_t t = 0; t < mx->n_tlsa; t++) {
			const struct danegate_tlsa *rec = &mx->tlsa[t];

			if (rec->usability == DANEGATE_TLSA_USABLE)
				continue;
			danegate_tlsa_format(rec, text, sizeof(text));
			if (rec->usability == DANEGATE_TLSA_PKIX_USAGE)
				audit_warn(a, "%s: TLSA %.40s...: usages 0 and 1 "
				    "(PKIX-TA, PKIX-EE) are unusable for SMTP "
				    "(RFC 7672 section 3.1.3)", mx->tlsa_base,
				    text);
			else
				audit_warn(a, "%s: TLSA %.40s...: unusable (%s)",
				    mx->tlsa_base, text,
				    danegate_tlsa_usability_name(
				    rec->usability));
		}
	}
}

static void
audit_txt(struct danegate_resolver *r, const char *name, const char *prefix,
    struct audit_txt_check *out)
{
	struct danegate_txt *txt = NULL;
	size_t found = 0;

	memset(out, 0, sizeof(*out));
	if (danegate_lookup_txt(r, name, &txt) != 0) {
		out->state = DANEGATE_INDETERMINATE;
		return;
	}
	out->state = txt->state;
	for (size_t i = 0; i < txt->n_records; i++) {
		if (strncasecmp(txt->records[i], prefix, strlen(prefix)) != 0)
			continue;
		if (found++ == 0)
			snprintf(out->record, sizeof(out->record), "%s",
			    txt->records[i]);
	}
	out->present = found > 0;
	/* RFC 7208 §4.5, RFC 7489 §6.6.3: more than one is an error */
	out->valid = found == 1;
	if (found > 1)
		snprintf(out->detail, sizeof(out->detail), "%zu records "
		    "(exactly one is allowed)", found);
	danegate_txt_free(txt);
}

static void
audit_posture(struct danegate_resolver *r, struct audit *a,
    const struct audit_options *opts)
{
	char name[DANEGATE_NAME_MAX + 16];
	const char *p;

	mta_sts_check(r, a->dest->domain, opts->ca_file, opts->timeout_ms,
	    opts->ipv4, opts->ipv6, &a->sts);
	if (a->sts.published && !a->sts.fetched)
		audit_warn(a, "MTA-STS: %s (%s)", a->sts.error,
		    danegate_reason_name(a->sts.reason));
	if (a->sts.fetched) {
		a->sts.mx_all_match = true;
		for (size_t i = 0; i < a->dest->n_hosts; i++)
			if (!mta_sts_mx_matches(&a->sts.policy,
			    a->dest->hosts[i].name)) {
				a->sts.mx_all_match = false;
				snprintf(a->sts.mx_unmatched,
				    sizeof(a->sts.mx_unmatched), "%s",
				    a->dest->hosts[i].name);
				audit_warn(a, "MTA-STS: MX %s matches no mx: "
				    "pattern of the policy (mode %s)",
				    a->dest->hosts[i].name,
				    mta_sts_mode_name(a->sts.policy.mode));
				break;
			}
	}
	snprintf(name, sizeof(name), "_smtp._tls.%s", a->dest->domain);
	audit_txt(r, name, "v=TLSRPTv1", &a->tlsrpt);
	if (a->tlsrpt.present && strstr(a->tlsrpt.record, "rua=") == NULL) {
		a->tlsrpt.valid = false;
		snprintf(a->tlsrpt.detail, sizeof(a->tlsrpt.detail),
		    "no rua= reporting address");
	}
	audit_txt(r, a->dest->domain, "v=spf1", &a->spf);
	snprintf(name, sizeof(name), "_dmarc.%s", a->dest->domain);
	audit_txt(r, name, "v=DMARC1", &a->dmarc);
	if (a->dmarc.present && a->dmarc.valid) {
		if ((p = strstr(a->dmarc.record, "p=")) != NULL &&
		    (p == a->dmarc.record || p[-1] == ';' || p[-1] == ' '))
			snprintf(a->dmarc.detail, sizeof(a->dmarc.detail),
			    "p=%.*s", (int)strcspn(p + 2, "; "), p + 2);
		else {
			a->dmarc.valid = false;
			snprintf(a->dmarc.detail, sizeof(a->dmarc.detail),
			    "no p= policy");
		}
	}
}

/* Takes the reason of a failing host: its first failed connection's if
 * it got that far, else what DNS said about it. */
static void
audit_blame_host(struct audit *a, const struct audit_host *h)
{
	for (size_t j = 0; j < h->n_probes; j++) {
		const struct danegate_smtp_result *p = h->probes[j];

		if (p->reason != DANEGATE_R_NONE &&
		    p->reason != DANEGATE_R_DANE_VERIFIED &&
		    p->reason != DANEGATE_R_DANE_TRUSTED) {
			a->reason = p->reason;
			snprintf(a->why, sizeof(a->why), "%.200s (%.60s): %.240s",
			    h->mx->name, p->address, p->error[0] ? p->error :
			    p->match.why);
			return;
		}
	}
	a->reason = h->mx->reason;
	snprintf(a->why, sizeof(a->why), "%.200s: %.250s", h->mx->name,
	    h->mx->why);
}

/* The domain's word: what a DANE-enforcing sender would get. */
static void
audit_judge_domain(struct audit *a)
{
	const struct danegate_destination *d = a->dest;
	const struct audit_host *first = NULL;
	bool any_failing = false, any_dane_failure = false;

	a->reason = d->reason;
	snprintf(a->why, sizeof(a->why), "%s", d->why);
	if (d->null_mx) {
		a->verdict = "no-mail";
		return;
	}
	if (d->mx_state == DANEGATE_BOGUS ||
	    d->mx_state == DANEGATE_INDETERMINATE || d->n_hosts == 0) {
		a->verdict = "dns-failure";
		return;
	}
	for (size_t i = 0; i < a->n_hosts; i++) {
		const struct audit_host *h = &a->hosts[i];

		if (first == NULL && h->delivers)
			first = h;
		if (!h->delivers || strcmp(h->verdict, "dane-partial") == 0) {
			any_failing = true;
			if (strcmp(h->verdict, "dns-failure") != 0)
				any_dane_failure = true;
			if (a->reason == DANEGATE_R_NONE ||
			    a->reason == DANEGATE_R_DANE_VERIFIED)
				audit_blame_host(a, h);
		}
	}
	if (first == NULL) {
		a->verdict = any_dane_failure ? "dane-failing" : "dns-failure";
		return;
	}
	if (first->authenticated)
		a->verdict = any_failing ? "dane-partial" : "dane-valid";
	else if (first->mx->policy == DANEGATE_POLICY_ENCRYPT)
		a->verdict = "encrypt-only";
	else
		a->verdict = "no-dane";
	if (!any_failing) {
		a->reason = first->authenticated ? (first->mx->trusted_only ?
		    DANEGATE_R_DANE_TRUSTED : DANEGATE_R_DANE_VERIFIED) :
		    first->mx->reason;
		snprintf(a->why, sizeof(a->why), "%.200s: %.250s",
		    first->mx->name, first->mx->why);
	}
}

void
audit_run(struct danegate_resolver *r, const char *name,
    const struct audit_options *opts, struct audit *a)
{
	struct timespec t0, t1;
	int rc;

	memset(a, 0, sizeof(*a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(a->name, sizeof(a->name), "%s", name);
	rc = opts->host_mode ?
	    danegate_host_lookup(r, name, opts->port, &a->dest) :
	    danegate_destination_lookup(r, name, opts->port, &a->dest);
	if (rc != 0 || a->dest == NULL) {
		a->error = rc != 0 ? rc : DANEGATE_E_RESOLVER;
		a->verdict = "dns-failure";
		snprintf(a->why, sizeof(a->why), "lookup failed: %s",
		    danegate_strerror(a->error));
		goto done;
	}
	a->hosts = calloc(a->dest->n_hosts + 1, sizeof(*a->hosts));
	if (a->hosts == NULL) {
		a->error = DANEGATE_E_NOMEM;
		a->verdict = "dns-failure";
		goto done;
	}
	a->n_hosts = a->dest->n_hosts;
	for (size_t i = 0; i < a->n_hosts; i++) {
		struct audit_host *h = &a->hosts[i];

		h->mx = &a->dest->hosts[i];
		h->reason = h->mx->reason;
		audit_judge_host_dns(h);
		if (opts->connect && h->delivers)
			audit_probe_host(a, h, opts);
	}
	audit_records(a);
	audit_judge_domain(a);
	if (!opts->host_mode && !a->dest->null_mx)
		audit_posture(r, a, opts);
done:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->elapsed_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

int
audit_exit_class(const struct audit *a)
{
	if (strcmp(a->verdict, "dane-failing") == 0 ||
	    strcmp(a->verdict, "dns-failure") == 0 ||
	    strcmp(a->verdict, "dane-partial") == 0)
		return 2;
	if (a->n_warnings > 0 || strcmp(a->verdict, "no-dane") == 0 ||
	    strcmp(a->verdict, "encrypt-only") == 0)
		return 1;
	return 0;
}

void
audit_free(struct audit *a)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		for (size_t j = 0; j < a->hosts[i].n_probes; j++)
			danegate_smtp_result_free(a->hosts[i].probes[j]);
		free(a->hosts[i].probes);
	}
	free(a->hosts);
	for (size_t i = 0; i < a->n_warnings; i++)
		free(a->warnings[i]);
	free(a->warnings);
	danegate_destination_free(a->dest);
	memset(a, 0, sizeof(*a));
}
