/*
 * tlsrpt.c - SMTP TLS Reporting (RFC 8460) for danegate-relay: session
 * counts per policy domain, their state file, the `_smtp._tls` TXT
 * parser and the aggregate report (see tlsrpt.h).
 *
 * The counts are kept as the json-c tree that the state file holds:
 *   {"version":1,"period-start":T,"domains":{"DOMAIN":[POLICY...]},
 *    "owed":{"DOMAIN":{"start":T,"end":T,"policies":[POLICY...]}}}
 *   POLICY = {"policy-type":S,"policy-string":[S...],"mx-host":S,
 *             "success":N,"failure":N,"failure-details":[DETAIL...]}
 *   DETAIL = {"result-type":S,"sending-mta-ip":S,"receiving-mx-hostname":S,
 *             "receiving-ip":S,"failed-session-count":N}
 * so saving is one serialisation and loading one parse plus a check of
 * every field's type (a damaged file is refused, naming the field).
 * "owed" (optional) holds the closed periods whose reports are not
 * delivered yet (tlsrpt_close_period): sessions of the new period are
 * counted apart, so a report's counts are exactly its date range's.
 *
 * SECURITY: the TXT record comes from the DNS (untrusted, fuzzed); the
 * state file is the relay's own but checked as if it were not.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include "plugin/relay/tlsrpt.h"

#define STATE_VERSION 1

struct tlsrpt {
	char *path;			/* NULL: memory only */
	json_object *root;
};

const char *
tlsrpt_policy_type_name(enum tlsrpt_policy_type t)
{
	switch (t) {
	case TLSRPT_POLICY_TLSA:
		return "tlsa";
	case TLSRPT_POLICY_STS:
		return "sts";
	case TLSRPT_POLICY_NONE:
		break;
	}
	return "no-policy-found";
}

static json_object *
new_root(time_t now)
{
	json_object *root = json_object_new_object();

	if (root == NULL)
		return NULL;
	if (json_object_object_add(root, "version",
	    json_object_new_int(STATE_VERSION)) != 0 ||
	    json_object_object_add(root, "period-start",
	    json_object_new_int64((int64_t)now)) != 0 ||
	    json_object_object_add(root, "domains",
	    json_object_new_object()) != 0) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* The member key of obj, of type ty, or NULL. */
static json_object *
member(json_object *obj, const char *key, json_type ty)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, ty))
		return NULL;
	return v;
}

static bool
count_ok(json_object *obj, const char *key)
{
	json_object *v = member(obj, key, json_type_int);

	return v != NULL && json_object_get_int64(v) >= 0;
}

/* One domain's policies (where names them in err). */
static int
check_policies(json_object *pols, const char *where, char *err,
    size_t errlen)
{
	static const char *const dstr[] = { "result-type", "sending-mta-ip",
	    "receiving-mx-hostname", "receiving-ip" };
	size_t i, j, k, n;

	if (!json_object_is_type(pols, json_type_array)) {
		snprintf(err, errlen, "%s: not an array", where);
		return DANEGATE_E_INVALID;
	}
	n = json_object_array_length(pols);
	for (i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(pols, i);
		json_object *ps, *fd, *ty;

		ty = json_object_is_type(p, json_type_object) ?
		    member(p, "policy-type", json_type_string) : NULL;
		ps = ty != NULL ? member(p, "policy-string",
		    json_type_array) : NULL;
		fd = ps != NULL ? member(p, "failure-details",
		    json_type_array) : NULL;
		if (fd == NULL || member(p, "mx-host",
		    json_type_string) == NULL || !count_ok(p,
		    "success") || !count_ok(p, "failure")) {
			snprintf(err, errlen, "%s[%zu]: bad policy", where, i);
			return DANEGATE_E_INVALID;
		}
		for (j = 0; j < json_object_array_length(ps); j++)
			if (!json_object_is_type(
			    json_object_array_get_idx(ps, j),
			    json_type_string)) {
				snprintf(err, errlen, "%s[%zu].policy-string"
				    "[%zu]: not a string", where, i, j);
				return DANEGATE_E_INVALID;
			}
		for (j = 0; j < json_object_array_length(fd); j++) {
			json_object *d = json_object_array_get_idx(fd, j);
			bool ok = json_object_is_type(d, json_type_object) &&
			    count_ok(d, "failed-session-count");

			for (k = 0; ok && k < 4; k++)
				ok = member(d, dstr[k], json_type_string) !=
				    NULL;
			if (!ok) {
				snprintf(err, errlen, "%s[%zu].failure-details"
				    "[%zu]: bad detail", where, i, j);
				return DANEGATE_E_INVALID;
			}
		}
	}
	return 0;
}

/* Checks the state tree; on error names the field in err. */
static int
check_state(json_object *root, char *err, size_t errlen)
{
	json_object *v, *domains, *owed;
	int rc;

	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		return DANEGATE_E_INVALID;
	}
	v = member(root, "version", json_type_int);
	if (v == NULL || json_object_get_int(v) != STATE_VERSION) {
		snprintf(err, errlen, "version: not %d", STATE_VERSION);
		return DANEGATE_E_INVALID;
	}
	if (member(root, "period-start", json_type_int) == NULL) {
		snprintf(err, errlen, "period-start: not a number");
		return DANEGATE_E_INVALID;
	}
	domains = member(root, "domains", json_type_object);
	if (domains == NULL) {
		snprintf(err, errlen, "domains: not an object");
		return DANEGATE_E_INVALID;
	}
	json_object_object_foreach(domains, dom, pols) {
		char where[300];

		snprintf(where, sizeof(where), "domains.%s", dom);
		if ((rc = check_policies(pols, where, err, errlen)) != 0)
			return rc;
	}
	if (!json_object_object_get_ex(root, "owed", &owed))
		return 0;
	if (!json_object_is_type(owed, json_type_object)) {
		snprintf(err, errlen, "owed: not an object");
		return DANEGATE_E_INVALID;
	}
	json_object_object_foreach(owed, odom, o) {
		char where[300];

		snprintf(where, sizeof(where), "owed.%s", odom);
		if (!json_object_is_type(o, json_type_object) ||
		    member(o, "start", json_type_int) == NULL ||
		    member(o, "end", json_type_int) == NULL) {
			snprintf(err, errlen, "%s: no start or end", where);
			return DANEGATE_E_INVALID;
		}
		strncat(where, ".policies", sizeof(where) - strlen(where) - 1);
		if (!json_object_object_get_ex(o, "policies", &v)) {
			snprintf(err, errlen, "%s: missing", where);
			return DANEGATE_E_INVALID;
		}
		if ((rc = check_policies(v, where, err, errlen)) != 0)
			return rc;
	}
	return 0;
}

int
tlsrpt_open(const char *state_path, time_t now, struct tlsrpt **out,
    char *err, size_t errlen)
{
	struct tlsrpt *t;
	char why[256];
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return DANEGATE_E_NOMEM;
	if (state_path != NULL && (t->path = strdup(state_path)) == NULL) {
		free(t);
		return DANEGATE_E_NOMEM;
	}
	if (state_path != NULL && access(state_path, F_OK) == 0) {
		t->root = json_object_from_file(state_path);
		if (t->root == NULL) {
			snprintf(err, errlen, "%s: %s", state_path,
			    json_util_get_last_err() != NULL ?
			    json_util_get_last_err() : "unreadable");
			tlsrpt_free(t);
			return DANEGATE_E_INVALID;
		}
		rc = check_state(t->root, why, sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", state_path, why);
			tlsrpt_free(t);
			return rc;
		}
	} else if ((t->root = new_root(now)) == NULL) {
		tlsrpt_free(t);
		return DANEGATE_E_NOMEM;
	}
	*out = t;
	return 0;
}

void
tlsrpt_free(struct tlsrpt *t)
{
	if (t == NULL)
		return;
	json_object_put(t->root);
	free(t->path);
	free(t);
}

void
tlsrpt_reset(struct tlsrpt *t, time_t now)
{
	json_object *root = new_root(now);

	/* out of memory: keep counting into the old period */
	if (root == NULL)
		return;
	json_object_put(t->root);
	t->root = root;
}

time_t
tlsrpt_period_start(const struct tlsrpt *t)
{
	return (time_t)json_object_get_int64(member(t->root, "period-start",
	    json_type_int));
}

static int
add_count(json_object *obj, const char *key)
{
	json_object *v = member(obj, key, json_type_int);

	return v != NULL && json_object_int_inc(v, 1) == 1 ? 0 :
	    DANEGATE_E_INVALID;
}

static bool
str_is(json_object *obj, const char *key, const char *want)
{
	json_object *v = member(obj, key, json_type_string);

	return v != NULL && strcmp(json_object_get_string(v), want) == 0;
}

/* obj[key] = a new string; 0 or DANEGATE_E_NOMEM */
static int
put_str(json_object *obj, const char *key, const char *s)
{
	json_object *v = json_object_new_string(s);

	if (v == NULL)
		return DANEGATE_E_NOMEM;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return DANEGATE_E_NOMEM;
	}
	return 0;
}

static int
put_int(json_object *obj, const char *key, int64_t n)
{
	json_object *v = json_object_new_int64(n);

	if (v == NULL)
		return DANEGATE_E_NOMEM;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return DANEGATE_E_NOMEM;
	}
	return 0;
}

/* arr += v, taking v even on failure */
static int
push(json_object *arr, json_object *v)
{
	if (v == NULL)
		return DANEGATE_E_NOMEM;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return DANEGATE_E_NOMEM;
	}
	return 0;
}

/* The policy's "mx-host" as stored: space-separated names/patterns. */
static const char *
policy_mx(const struct tlsrpt_session *s)
{
	if (s->policy_mx != NULL)
		return s->policy_mx;
	return s->mx_host != NULL ? s->mx_host : "";
}

static bool
same_policy(json_object *p, const struct tlsrpt_session *s)
{
	json_object *ps = member(p, "policy-string", json_type_array);
	size_t i;

	if (!str_is(p, "policy-type", tlsrpt_policy_type_name(s->type)) ||
	    !str_is(p, "mx-host", policy_mx(s)) ||
	    json_object_array_length(ps) != s->n_policy_strings)
		return false;
	for (i = 0; i < s->n_policy_strings; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(ps,
		    i)), s->policy_strings[i]) != 0)
			return false;
	return true;
}

static json_object *
new_policy(const struct tlsrpt_session *s)
{
	json_object *p = json_object_new_object(), *ps;
	size_t i;

	if (p == NULL)
		return NULL;
	ps = json_object_new_array();
	if (json_object_object_add(p, "policy-string", ps) != 0)
		goto fail;
	for (i = 0; i < s->n_policy_strings; i++)
		if (push(ps, json_object_new_string(s->policy_strings[i])) != 0)
			goto fail;
	if (put_str(p, "policy-type", tlsrpt_policy_type_name(s->type)) != 0 ||
	    put_str(p, "mx-host", policy_mx(s)) != 0 ||
	    put_int(p, "success", 0) != 0 || put_int(p, "failure", 0) != 0 ||
	    json_object_object_add(p, "failure-details",
	    json_object_new_array()) != 0 ||
	    member(p, "failure-details", json_type_array) == NULL)
		goto fail;
	return p;
fail:
	json_object_put(p);
	return NULL;
}

static int
count_failure(json_object *p, const struct tlsrpt_session *s)
{
	json_object *fd = member(p, "failure-details", json_type_array), *d;
	const char *rt = danegate_reason_name(s->reason);
	const char *sip = s->sending_ip != NULL ? s->sending_ip : "";
	const char *rip = s->receiving_ip != NULL ? s->receiving_ip : "";
	const char *mx = s->mx_host != NULL ? s->mx_host : "";
	size_t i;

	for (i = 0; i < json_object_array_length(fd); i++) {
		d = json_object_array_get_idx(fd, i);
		if (str_is(d, "result-type", rt) &&
		    str_is(d, "sending-mta-ip", sip) &&
		    str_is(d, "receiving-ip", rip) &&
		    str_is(d, "receiving-mx-hostname", mx))
			return add_count(d, "failed-session-count");
	}
	d = json_object_new_object();
	if (d == NULL)
		return DANEGATE_E_NOMEM;
	if (put_str(d, "result-type", rt) != 0 ||
	    put_str(d, "sending-mta-ip", sip) != 0 ||
	    put_str(d, "receiving-mx-hostname", mx) != 0 ||
	    put_str(d, "receiving-ip", rip) != 0 ||
	    put_int(d, "failed-session-count", 1) != 0) {
		json_object_put(d);
		return DANEGATE_E_NOMEM;
	}
	return push(fd, d);
}

int
tlsrpt_record(struct tlsrpt *t, const struct tlsrpt_session *s)
{
	json_object *domains, *pols, *p = NULL;
	size_t i;
	int rc;

	if (t == NULL || s == NULL || s->domain == NULL ||
	    s->domain[0] == '\0' || (s->n_policy_strings > 0 &&
	    s->policy_strings == NULL))
		return DANEGATE_E_INVALID;
	domains = member(t->root, "domains", json_type_object);
	pols = member(domains, s->domain, json_type_array);
	if (pols == NULL) {
		pols = json_object_new_array();
		if (pols == NULL || json_object_object_add(domains, s->domain,
		    pols) != 0) {
			json_object_put(pols);
			return DANEGATE_E_NOMEM;
		}
	}
	for (i = 0; i < json_object_array_length(pols); i++)
		if (same_policy(json_object_array_get_idx(pols, i), s)) {
			p = json_object_array_get_idx(pols, i);
			break;
		}
	if (p == NULL) {
		p = new_policy(s);
		if ((rc = push(pols, p)) != 0)
			return rc;
	}
	if (s->success)
		return add_count(p, "success");
	rc = add_count(p, "failure");
	return rc != 0 ? rc : count_failure(p, s);
}

int
tlsrpt_save(const struct tlsrpt *t)
{
	const char *text;
	char *tmp;
	size_t len, off = 0;
	int fd, rc = 0;

	if (t->path == NULL)
		return 0;
	text = json_object_to_json_string_ext(t->root, JSON_C_TO_STRING_PLAIN);
	if (text == NULL)
		return DANEGATE_E_NOMEM;
	len = strlen(text);
	if (asprintf(&tmp, "%s.tmp", t->path) < 0)
		return DANEGATE_E_NOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(tmp);
		return DANEGATE_E_INVALID;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = DANEGATE_E_INVALID;
			break;
		}
		off += (size_t)n;
	}
	/* the data must be on disk before the rename makes it the state */
	if (rc == 0 && fsync(fd) != 0)
		rc = DANEGATE_E_INVALID;
	if (close(fd) != 0)
		rc = DANEGATE_E_INVALID;
	if (rc == 0 && rename(tmp, t->path) != 0)
		rc = DANEGATE_E_INVALID;
	if (rc != 0)
		(void)unlink(tmp);
	free(tmp);
	return rc;
}

/* The member names of d: a malloc'd array of *n malloc'd strings. */
static int
names_of(json_object *d, char ***domains, size_t *n)
{
	/* no "owed" member yet: none */
	size_t cap = d != NULL ? (size_t)json_object_object_length(d) : 0;
	size_t i = 0;
	char **v = calloc(cap + 1, sizeof(*v));

	*domains = NULL;
	*n = 0;
	if (v == NULL)
		return DANEGATE_E_NOMEM;
	if (d == NULL) {
		*domains = v;
		return 0;
	}
	json_object_object_foreach(d, key, val) {
		(void)val;
		if ((v[i] = strdup(key)) == NULL) {
			tlsrpt_domains_free(v, i);
			return DANEGATE_E_NOMEM;
		}
		i++;
	}
	*domains = v;
	*n = i;
	return 0;
}

int
tlsrpt_domains(const struct tlsrpt *t, char ***domains, size_t *n)
{
	return names_of(member(t->root, "domains", json_type_object), domains,
	    n);
}

void
tlsrpt_domains_free(char **domains, size_t n)
{
	size_t i;

	if (domains == NULL)
		return;
	for (i = 0; i < n; i++)
		free(domains[i]);
	free(domains);
}

/* RFC 3339 date-time in UTC ("2026-12-04T00:00:00Z"), as §4.4 wants */
static void
utc_time(time_t when, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/* The same instant as 20261204T000000Z (RFC 3339's basic form). */
static void
compact_time(time_t when, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm) == 0)
		snprintf(buf, len, "19700101T000000Z");
}

/* One stored policy as its report entry (§4.4 "policies" member). */
static json_object *
report_policy(json_object *p, const char *domain)
{
	json_object *e = json_object_new_object(), *pol, *sum, *mx, *fd, *src;
	const char *host = json_object_get_string(member(p, "mx-host",
	    json_type_string));
	size_t i;

	if (e == NULL)
		return NULL;
	pol = json_object_new_object();
	sum = json_object_new_object();
	fd = json_object_new_array();
	if (json_object_object_add(e, "policy", pol) != 0 ||
	    json_object_object_add(e, "summary", sum) != 0 ||
	    json_object_object_add(e, "failure-details", fd) != 0 ||
	    pol == NULL || sum == NULL || fd == NULL)
		goto fail;
	if (put_str(pol, "policy-type", json_object_get_string(member(p,
	    "policy-type", json_type_string))) != 0 ||
	    json_object_object_add(pol, "policy-string", json_object_get(
	    member(p, "policy-string", json_type_array))) != 0 ||
	    put_str(pol, "policy-domain", domain) != 0)
		goto fail;
	if (host[0] != '\0') {
		mx = json_object_new_array();
		if (json_object_object_add(pol, "mx-host", mx) != 0 ||
		    mx == NULL)
			goto fail;
		/* one element per name or pattern (sts: the policy's mx) */
		while (*host != '\0') {
			size_t len = strcspn(host, " ");

			if (len > 0 && push(mx, json_object_new_string_len(
			    host, (int)len)) != 0)
				goto fail;
			host += len + (host[len] == ' ');
		}
	}
	if (put_int(sum, "total-successful-session-count",
	    json_object_get_int64(member(p, "success", json_type_int))) != 0 ||
	    put_int(sum, "total-failure-session-count",
	    json_object_get_int64(member(p, "failure", json_type_int))) != 0)
		goto fail;
	src = member(p, "failure-details", json_type_array);
	for (i = 0; i < json_object_array_length(src); i++) {
		json_object *s = json_object_array_get_idx(src, i), *d;
		static const char *const opt[] = { "sending-mta-ip",
		    "receiving-mx-hostname", "receiving-ip" };
		size_t k;

		d = json_object_new_object();
		if (push(fd, d) != 0 || put_str(d, "result-type",
		    json_object_get_string(member(s, "result-type",
		    json_type_string))) != 0)
			goto fail;
		/* optional members are left out rather than sent empty */
		for (k = 0; k < 3; k++) {
			const char *v = json_object_get_string(member(s,
			    opt[k], json_type_string));

			if (v[0] != '\0' && put_str(d, opt[k], v) != 0)
				goto fail;
		}
		if (put_int(d, "failed-session-count", json_object_get_int64(
		    member(s, "failed-session-count", json_type_int))) != 0)
			goto fail;
	}
	return e;
fail:
	json_object_put(e);
	return NULL;
}

/* The §4.4 report of pols (one domain's policies) over [start, end). */
static int
report_json(json_object *pols, const char *domain,
    const struct tlsrpt_org *org, time_t start, time_t end, char **json)
{
	json_object *r, *dr, *out;
	char start_s[32], end_s[32], stamp[32], *id = NULL;
	size_t i;
	int rc = DANEGATE_E_NOMEM;

	*json = NULL;
	if (pols == NULL || org == NULL || org->organization == NULL ||
	    org->contact == NULL)
		return DANEGATE_E_INVALID;
	utc_time(start, start_s, sizeof(start_s));
	utc_time(end, end_s, sizeof(end_s));
	/* the id is also the Subject's "Report-ID: <id-left@id-right>"
	 * (§5.3): its time without ':' and '-', so it is a dot-atom */
	compact_time(start, stamp, sizeof(stamp));
	if (asprintf(&id, "%s_%s%s", stamp, domain,
	    org->report_id_suffix != NULL ? org->report_id_suffix : "") < 0)
		return DANEGATE_E_NOMEM;
	r = json_object_new_object();
	if (r == NULL)
		goto done;
	dr = json_object_new_object();
	out = json_object_new_array();
	if (json_object_object_add(r, "date-range", dr) != 0 ||
	    json_object_object_add(r, "policies", out) != 0 || dr == NULL ||
	    out == NULL || put_str(r, "organization-name",
	    org->organization) != 0 ||
	    put_str(r, "contact-info", org->contact) != 0 ||
	    put_str(r, "report-id", id) != 0 ||
	    put_str(dr, "start-datetime", start_s) != 0 ||
	    put_str(dr, "end-datetime", end_s) != 0)
		goto done;
	for (i = 0; i < json_object_array_length(pols); i++)
		if (push(out, report_policy(json_object_array_get_idx(pols, i),
		    domain)) != 0)
			goto done;
	*json = strdup(json_object_to_json_string_ext(r,
	    JSON_C_TO_STRING_PLAIN));
	rc = *json != NULL ? 0 : DANEGATE_E_NOMEM;
done:
	json_object_put(r);
	free(id);
	return rc;
}

int
tlsrpt_report_json(const struct tlsrpt *t, const char *domain,
    const struct tlsrpt_org *org, time_t end, char **json)
{
	return report_json(member(member(t->root, "domains", json_type_object),
	    domain, json_type_array), domain, org, tlsrpt_period_start(t), end,
	    json);
}

int
tlsrpt_close_period(struct tlsrpt *t, time_t end, size_t *replaced)
{
	json_object *domains = member(t->root, "domains", json_type_object);
	json_object *owed = member(t->root, "owed", json_type_object), *o;
	json_object *fresh;
	int64_t start = json_object_get_int64(member(t->root, "period-start",
	    json_type_int));

	*replaced = 0;
	if (owed == NULL) {
		if ((owed = json_object_new_object()) == NULL)
			return DANEGATE_E_NOMEM;
		if (json_object_object_add(t->root, "owed", owed) != 0) {
			json_object_put(owed);
			return DANEGATE_E_NOMEM;
		}
	}
	if ((fresh = json_object_new_object()) == NULL)
		return DANEGATE_E_NOMEM;
	/* build every entry before changing anything */
	json_object_object_foreach(domains, dom, pols) {
		if ((o = json_object_new_object()) == NULL ||
		    json_object_object_add(fresh, dom, o) != 0 ||
		    put_int(o, "start", start) != 0 ||
		    put_int(o, "end", (int64_t)end) != 0 ||
		    json_object_object_add(o, "policies",
		    json_object_get(pols)) != 0) {
			json_object_put(fresh);
			return DANEGATE_E_NOMEM;
		}
	}
	json_object_object_foreach(fresh, fdom, fo) {
		if (member(owed, fdom, json_type_object) != NULL)
			(*replaced)++;
		/* replaces (and frees) an older owed report */
		if (json_object_object_add(owed, fdom, json_object_get(fo)) !=
		    0) {
			json_object_put(fo);
			json_object_put(fresh);
			return DANEGATE_E_NOMEM;
		}
	}
	json_object_put(fresh);
	json_object_object_add(t->root, "domains", json_object_new_object());
	json_object_set_int64(member(t->root, "period-start", json_type_int),
	    (int64_t)end);
	return member(t->root, "domains", json_type_object) != NULL ? 0 :
	    DANEGATE_E_NOMEM;
}

int
tlsrpt_owed(const struct tlsrpt *t, char ***domains, size_t *n)
{
	return names_of(member(t->root, "owed", json_type_object), domains, n);
}

int
tlsrpt_owed_report(const struct tlsrpt *t, const char *domain,
    const struct tlsrpt_org *org, char **json, time_t *start, time_t *end)
{
	json_object *o = member(member(t->root, "owed", json_type_object),
	    domain, json_type_object);

	*json = NULL;
	if (o == NULL)
		return DANEGATE_E_INVALID;
	*start = (time_t)json_object_get_int64(member(o, "start",
	    json_type_int));
	*end = (time_t)json_object_get_int64(member(o, "end", json_type_int));
	return report_json(member(o, "policies", json_type_array), domain, org,
	    *start, *end, json);
}

int
tlsrpt_counts(const struct tlsrpt *t, const char *domain, bool owed,
    uint64_t *success, uint64_t *failure)
{
	json_object *pols;
	size_t i;

	*success = *failure = 0;
	if (owed)
		pols = member(member(member(t->root, "owed",
		    json_type_object), domain, json_type_object), "policies",
		    json_type_array);
	else
		pols = member(member(t->root, "domains", json_type_object),
		    domain, json_type_array);
	if (pols == NULL)
		return DANEGATE_E_INVALID;
	for (i = 0; i < json_object_array_length(pols); i++) {
		json_object *p = json_object_array_get_idx(pols, i);

		*success += (uint64_t)json_object_get_int64(member(p,
		    "success", json_type_int));
		*failure += (uint64_t)json_object_get_int64(member(p,
		    "failure", json_type_int));
	}
	return 0;
}

void
tlsrpt_owed_done(struct tlsrpt *t, const char *domain)
{
	json_object *owed = member(t->root, "owed", json_type_object);

	if (owed != NULL)
		json_object_object_del(owed, domain);
}

int
tlsrpt_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z;
	uLong cap;
	unsigned char *buf;
	int zr;

	*out = NULL;
	*outlen = 0;
	if (len > UINT32_MAX)
		return DANEGATE_E_INVALID;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip header and trailer, not zlib's */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return DANEGATE_E_NOMEM;
	cap = deflateBound(&z, (uLong)len) + 32;
	buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		return DANEGATE_E_NOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	zr = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(buf);
		return DANEGATE_E_NOMEM;
	}
	*out = buf;
	*outlen = cap - z.avail_out;
	return 0;
}

/* ---- the TXT record --------------------------------------------------- */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

bool
tlsrpt_txt_is_tlsrpt(const char *text, size_t len)
{
	/* §3: "v=TLSRPTv1" is case-sensitive (%s in the ABNF) */
	static const char v[] = "v=TLSRPTv1";

	return len >= sizeof(v) - 1 && memcmp(text, v, sizeof(v) - 1) == 0 &&
	    (len == sizeof(v) - 1 || text[sizeof(v) - 1] == ';' ||
	    is_wsp(text[sizeof(v) - 1]));
}

void
tlsrpt_txt_clear(struct tlsrpt_txt *t)
{
	size_t i;

	for (i = 0; i < t->n_rua; i++)
		free(t->rua[i].uri);
	memset(t, 0, sizeof(*t));
}

/*
 * One tlsrpt-uri: a URI (RFC 3986 characters only) with a scheme, no ","
 * or "!" (§3: those must be percent-encoded), no ";" nor blank.
 */
static int
add_uri(struct tlsrpt_txt *out, const char *s, size_t n, char *err,
    size_t errlen)
{
	size_t i, colon = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '!' ||
		    c == ';' || c == '"' || c == '<' || c == '>' ||
		    c == '\\' || c == '^' || c == '`' || c == '{' ||
		    c == '|' || c == '}') {
			snprintf(err, errlen, "rua: bad character 0x%02x in "
			    "URI", c);
			return DANEGATE_E_INVALID;
		}
		if (c == ':' && colon == 0)
			colon = i;
	}
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (colon == 0 || colon + 1 >= n || !is_alnum(s[0]) ||
	    (s[0] >= '0' && s[0] <= '9')) {
		snprintf(err, errlen, "rua: URI without a scheme or a body");
		return DANEGATE_E_INVALID;
	}
	for (i = 1; i < colon; i++)
		if (!is_alnum(s[i]) && s[i] != '+' && s[i] != '-' &&
		    s[i] != '.') {
			snprintf(err, errlen, "rua: bad URI scheme");
			return DANEGATE_E_INVALID;
		}
	if (out->n_rua == TLSRPT_MAX_RUA) {
		snprintf(err, errlen, "rua: more than %d URIs", TLSRPT_MAX_RUA);
		return DANEGATE_E_INVALID;
	}
	out->rua[out->n_rua].uri = strndup(s, n);
	if (out->rua[out->n_rua].uri == NULL)
		return DANEGATE_E_NOMEM;
	if (colon == 6 && strncasecmp(s, "mailto", 6) == 0)
		out->rua[out->n_rua].kind = TLSRPT_RUA_MAILTO;
	else if (colon == 5 && strncasecmp(s, "https", 5) == 0 &&
	    n > 8 && strncmp(s + 6, "//", 2) == 0)
		out->rua[out->n_rua].kind = TLSRPT_RUA_HTTPS;
	else
		out->rua[out->n_rua].kind = TLSRPT_RUA_OTHER;
	out->n_rua++;
	return 0;
}

/* tlsrpt-rua's value: tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri) */
static int
parse_rua(struct tlsrpt_txt *out, const char *s, size_t n, char *err,
    size_t errlen)
{
	size_t i = 0;
	int rc;

	for (;;) {
		size_t b = i;

		while (i < n && s[i] != ',' && !is_wsp(s[i]))
			i++;
		if (i == b) {
			snprintf(err, errlen, "rua: empty URI");
			return DANEGATE_E_INVALID;
		}
		if ((rc = add_uri(out, s + b, i - b, err, errlen)) != 0)
			return rc;
		while (i < n && is_wsp(s[i]))
			i++;
		if (i == n)
			return 0;
		if (s[i] != ',') {
			snprintf(err, errlen, "rua: blank inside a URI");
			return DANEGATE_E_INVALID;
		}
		i++;
		while (i < n && is_wsp(s[i]))
			i++;
	}
}

/* tlsrpt-extension: name "=" value, by §3's grammar */
static int
check_extension(const char *s, size_t n, char *err, size_t errlen)
{
	size_t i, eq;

	for (eq = 0; eq < n && s[eq] != '='; eq++)
		;
	if (eq == 0 || eq == n || eq > 32 || !is_alnum(s[0])) {
		snprintf(err, errlen, "field %zu bytes: not NAME=VALUE", n);
		return DANEGATE_E_INVALID;
	}
	for (i = 1; i < eq; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' &&
		    s[i] != '.') {
			snprintf(err, errlen, "extension name: bad character");
			return DANEGATE_E_INVALID;
		}
	if (eq + 1 == n) {
		snprintf(err, errlen, "extension %.*s: empty value", (int)eq,
		    s);
		return DANEGATE_E_INVALID;
	}
	for (i = eq + 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == '=' || c == ';') {
			snprintf(err, errlen, "extension %.*s: bad value",
			    (int)eq, s);
			return DANEGATE_E_INVALID;
		}
	}
	return 0;
}

int
tlsrpt_txt_parse(const char *text, size_t len, struct tlsrpt_txt *out,
    char *err, size_t errlen)
{
	size_t i, b, e;
	bool fields = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	if (!tlsrpt_txt_is_tlsrpt(text, len)) {
		snprintf(err, errlen, "v: not v=TLSRPTv1");
		return DANEGATE_E_INVALID;
	}
	i = strlen("v=TLSRPTv1");
	for (;;) {
		/* field-delim = *WSP ";" *WSP */
		while (i < len && is_wsp(text[i]))
			i++;
		if (i == len)
			break;
		if (text[i] != ';') {
			snprintf(err, errlen, "byte %zu: ';' expected", i);
			rc = DANEGATE_E_INVALID;
			goto fail;
		}
		i++;
		while (i < len && is_wsp(text[i]))
			i++;
		if (i == len)		/* [field-delim] at the end */
			break;
		b = i;
		while (i < len && text[i] != ';' && !is_wsp(text[i]))
			i++;
		/* a rua list may hold blanks around its commas: it runs
		 * to the next ';' (no URI holds one) less trailing WSP */
		if (i - b >= 4 && memcmp(text + b, "rua=", 4) == 0) {
			for (e = i; e < len && text[e] != ';'; e++)
				;
			while (e > i && is_wsp(text[e - 1]))
				e--;
			i = e;
			if (out->n_rua > 0) {
				snprintf(err, errlen, "rua: given twice");
				rc = DANEGATE_E_INVALID;
				goto fail;
			}
			rc = parse_rua(out, text + b + 4, e - b - 4, err,
			    errlen);
		} else if (i - b >= 2 && memcmp(text + b, "v=", 2) == 0) {
			snprintf(err, errlen, "v: given twice");
			rc = DANEGATE_E_INVALID;
		} else
			rc = check_extension(text + b, i - b, err, errlen);
		if (rc != 0)
			goto fail;
		fields = true;
	}
	/* §3: 1*(field-delim tlsrpt-field) and rua is required */
	if (!fields || out->n_rua == 0) {
		snprintf(err, errlen, "rua: missing");
		rc = DANEGATE_E_INVALID;
		goto fail;
	}
	return 0;
fail:
	tlsrpt_txt_clear(out);
	return rc;
}
