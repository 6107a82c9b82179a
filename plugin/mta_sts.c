/*
 * mta_sts.c - see mta_sts.h.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mta_sts.h"

#define MTA_STS_MAX_AGE 31557600L

const char *
mta_sts_mode_name(enum mta_sts_mode m)
{
	switch (m) {
	case MTA_STS_ENFORCE:
		return "enforce";
	case MTA_STS_TESTING:
		return "testing";
	default:
		return "none";
	}
}

/* Copies [s, s+n) without surrounding blanks into out (NUL-terminated). */
static void
copy_trimmed(const char *s, size_t n, char *out, size_t cap)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int
mta_sts_parse(const char *body, size_t len, struct mta_sts_policy *p,
    char *err, size_t errlen)
{
	bool have_version = false, have_mode = false, have_age = false;
	size_t pos = 0, lineno = 0;

	memset(p, 0, sizeof(*p));
	if (len > MTA_STS_MAX_BODY) {
		snprintf(err, errlen, "policy larger than %d bytes",
		    MTA_STS_MAX_BODY);
		return -1;
	}
	while (pos < len) {
		const char *line = body + pos, *nl, *colon;
		size_t line_len;
		char key[32], value[DANEGATE_NAME_MAX];

		nl = memchr(line, '\n', len - pos);
		line_len = nl ? (size_t)(nl - line) : len - pos;
		pos += line_len + (nl ? 1 : 0);
		lineno++;
		if (memchr(line, '\0', line_len) != NULL) {
			snprintf(err, errlen, "line %zu: NUL byte", lineno);
			return -1;
		}
		{
			/* the body is not NUL-terminated: no str* here */
			size_t blank = 0;

			while (blank < line_len && (line[blank] == ' ' ||
			    line[blank] == '\t' || line[blank] == '\r'))
				blank++;
			if (blank == line_len)
				continue;		/* empty line */
		}
		colon = memchr(line, ':', line_len);
		if (colon == NULL) {
			snprintf(err, errlen, "line %zu: no 'key: value'",
			    lineno);
			return -1;
		}
		copy_trimmed(line, (size_t)(colon - line), key, sizeof(key));
		copy_trimmed(colon + 1, line_len - (size_t)(colon + 1 - line),
		    value, sizeof(value));
		if (strcmp(key, "version") == 0) {
			if (strcmp(value, "STSv1") != 0) {
				snprintf(err, errlen, "line %zu: version '%s' "
				    "is not STSv1", lineno, value);
				return -1;
			}
			have_version = true;
		} else if (strcmp(key, "mode") == 0) {
			if (strcmp(value, "enforce") == 0)
				p->mode = MTA_STS_ENFORCE;
			else if (strcmp(value, "testing") == 0)
				p->mode = MTA_STS_TESTING;
			else if (strcmp(value, "none") == 0)
				p->mode = MTA_STS_NONE;
			else {
				snprintf(err, errlen, "line %zu: mode '%s' is "
				    "not enforce, testing or none", lineno,
				    value);
				return -1;
			}
			have_mode = true;
		} else if (strcmp(key, "max_age") == 0) {
			char *end;
			long v = strtol(value, &end, 10);

			if (value[0] < '0' || value[0] > '9' || *end != '\0' ||
			    v < 0 || v > MTA_STS_MAX_AGE || strlen(value) > 10) {
				snprintf(err, errlen, "line %zu: max_age '%s' "
				    "is not 0..%ld", lineno, value,
				    MTA_STS_MAX_AGE);
				return -1;
			}
			p->max_age = v;
			have_age = true;
		} else if (strcmp(key, "mx") == 0) {
			if (p->n_mx == MTA_STS_MAX_MX) {
				snprintf(err, errlen, "more than %d mx lines",
				    MTA_STS_MAX_MX);
				return -1;
			}
			if (value[0] == '\0') {
				snprintf(err, errlen, "line %zu: empty mx",
				    lineno);
				return -1;
			}
			snprintf(p->mx[p->n_mx++], DANEGATE_NAME_MAX, "%s",
			    value);
		}
		/* other keys: ignored (RFC 8461 §3.2: extensions) */
	}
	if (!have_version || !have_mode || !have_age) {
		snprintf(err, errlen, "missing %s", !have_version ? "version" :
		    !have_mode ? "mode" : "max_age");
		return -1;
	}
	if (p->mode != MTA_STS_NONE && p->n_mx == 0) {
		snprintf(err, errlen, "mode %s without any mx",
		    mta_sts_mode_name(p->mode));
		return -1;
	}
	return 0;
}

/* Case-insensitive equality ignoring one final dot on either side. */
static bool
name_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen > 0 && a[alen - 1] == '.')
		alen--;
	if (blen > 0 && b[blen - 1] == '.')
		blen--;
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

bool
mta_sts_mx_matches(const struct mta_sts_policy *p, const char *host)
{
	size_t hlen = strlen(host);

	for (size_t i = 0; i < p->n_mx; i++) {
		const char *pat = p->mx[i];

		if (pat[0] == '*' && pat[1] == '.') {
			/* exactly one label in place of the '*' */
			const char *dot = memchr(host, '.', hlen);

			if (dot != NULL && dot != host &&
			    name_equal(dot + 1, hlen - (size_t)(dot + 1 - host),
			    pat + 2, strlen(pat + 2)))
				return true;
		} else if (name_equal(host, hlen, pat, strlen(pat))) {
			return true;
		}
	}
	return false;
}

static size_t
body_append(char *ptr, size_t size, size_t n, void *arg)
{
	struct mta_sts_body *b = arg;
	size_t add = size * n;
	char *grown;

	if (b->len + add > MTA_STS_MAX_BODY) {
		b->too_big = true;
		return 0;		/* aborts the transfer */
	}
	if ((grown = realloc(b->data, b->len + add + 1)) == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

bool
mta_sts_txt_id(char *const *records, size_t n, char *id, size_t cap)
{
	size_t found = 0;

	id[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *rec = records[i], *p;

		/* §3.1: "v=STSv1" first; another record is not ours */
		if (strncmp(rec, "v=STSv1", 7) != 0 ||
		    (rec[7] != ';' && rec[7] != ' ' && rec[7] != '\0'))
			continue;
		found++;
		if ((p = strstr(rec, "id=")) != NULL)
			copy_trimmed(p + 3, strcspn(p + 3, "; \t"), id, cap);
	}
	/* §3.1: more than one STSv1 record: no policy */
	if (found != 1)
		id[0] = '\0';
	return found == 1;
}

/* The _mta-sts TXT record: "v=STSv1; id=...;". */
static void
mta_sts_txt(struct danegate_resolver *r, const char *domain,
    struct mta_sts_result *out)
{
	char name[DANEGATE_NAME_MAX + 16];
	struct danegate_txt *txt = NULL;

	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if (danegate_lookup_txt(r, name, &txt) != 0) {
		out->txt_state = DANEGATE_INDETERMINATE;
		return;
	}
	out->txt_state = txt->state;
	out->published = mta_sts_txt_id(txt->records, txt->n_records, out->id,
	    sizeof(out->id));
	danegate_txt_free(txt);
}

void
mta_sts_curl_setup(CURL *c, const char *url, struct curl_slist *resolve,
    const char *ca_file, unsigned timeout_ms, struct mta_sts_body *b,
    char *curl_err)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  /* RFC 8461 §3.3 */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "danegate/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
}

enum danegate_reason
mta_sts_curl_judge(CURL *c, CURLcode rc, const char *url,
    const struct mta_sts_body *b, const char *curl_err,
    struct mta_sts_policy *p, char *error, size_t errlen)
{
	long status = 0;
	char *ctype = NULL;
	char err[200];

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
	    || rc == CURLE_SSL_CERTPROBLEM) {
		snprintf(error, errlen, "%.120s: %.120s", url,
		    curl_err[0] ? curl_err : curl_easy_strerror(rc));
		return DANEGATE_R_STS_WEBPKI_INVALID;
	}
	if (rc != CURLE_OK) {
		snprintf(error, errlen, "%.120s: %.120s", url,
		    b->too_big ? "policy larger than 64 KiB" :
		    curl_err[0] ? curl_err : curl_easy_strerror(rc));
		return b->too_big ? DANEGATE_R_STS_POLICY_INVALID :
		    DANEGATE_R_STS_POLICY_FETCH_ERROR;
	}
	if (status != 200) {
		snprintf(error, errlen, "%.200s: HTTP status %ld", url, status);
		return DANEGATE_R_STS_POLICY_FETCH_ERROR;
	}
	if (ctype == NULL || strncasecmp(ctype, "text/plain", 10) != 0) {
		snprintf(error, errlen, "%.120s: Content-Type '%.60s' is not "
		    "text/plain", url, ctype ? ctype : "");
		return DANEGATE_R_STS_POLICY_INVALID;
	}
	if (mta_sts_parse(b->data ? b->data : "", b->len, p, err,
	    sizeof(err)) != 0) {
		snprintf(error, errlen, "%s", err);
		return DANEGATE_R_STS_POLICY_INVALID;
	}
	error[0] = '\0';
	return DANEGATE_R_NONE;
}

void
mta_sts_check(struct danegate_resolver *r, const char *domain,
    const char *ca_file, unsigned timeout_ms, bool ipv4, bool ipv6,
    struct mta_sts_result *out)
{
	char host[DANEGATE_NAME_MAX + 16], url[DANEGATE_NAME_MAX + 64];
	char resolve_entry[DANEGATE_NAME_MAX + 96];
	struct danegate_destination *d = NULL;
	struct curl_slist *resolve = NULL;
	struct mta_sts_body body = { NULL, 0, false };
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	mta_sts_txt(r, domain, out);
	if (!out->published)
		return;

	/* mta-sts.<domain>, resolved through the validating resolver */
	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	hlen = strlen(host);
	if (hlen > 0 && host[hlen - 1] == '.')
		host[hlen - 1] = '\0';
	if (danegate_host_lookup(r, host, 443, &d) != 0 || d->n_hosts == 0 ||
	    d->hosts[0].n_addresses == 0) {
		out->reason = DANEGATE_R_STS_POLICY_FETCH_ERROR;
		snprintf(out->error, sizeof(out->error), "%.200s has no address",
		    host);
		danegate_destination_free(d);
		return;
	}
	for (size_t i = 0; i < d->hosts[0].n_addresses; i++) {
		const struct danegate_address *a = &d->hosts[0].addresses[i];
		bool v6 = a->ss.ss_family == AF_INET6;
		struct curl_slist *grown;

		if ((v6 && !ipv6) || (!v6 && !ipv4))
			continue;
		snprintf(resolve_entry, sizeof(resolve_entry), "%s:443:%s%s%s",
		    host, v6 ? "[" : "", a->text, v6 ? "]" : "");
		if ((grown = curl_slist_append(resolve, resolve_entry)) != NULL)
			resolve = grown;
		break;			/* one address is enough for a fetch */
	}
	danegate_destination_free(d);

	snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);
	if ((c = curl_easy_init()) == NULL) {
		curl_slist_free_all(resolve);
		out->reason = DANEGATE_R_STS_POLICY_FETCH_ERROR;
		snprintf(out->error, sizeof(out->error), "libcurl init failed");
		return;
	}
	mta_sts_curl_setup(c, url, resolve, ca_file, timeout_ms, &body,
	    curl_err);
	rc = curl_easy_perform(c);
	out->reason = mta_sts_curl_judge(c, rc, url, &body, curl_err,
	    &out->policy, out->error, sizeof(out->error));
	out->fetched = out->reason == DANEGATE_R_NONE;
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	free(body.data);
}
