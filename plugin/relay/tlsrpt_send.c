/*
 * tlsrpt_send.c - the daily TLS-RPT delivery (see tlsrpt_send.h).
 *
 * A run closes the period and starts one job per owed domain:
 *   TXT _smtp._tls.DOMAIN -> one TLSRPT record -> report JSON + gzip ->
 *   per rua a delivery: https (A/AAAA of the host through the relay's
 *   resolver, then a POST on the curl multi handle) or mailto (SMTP to
 *   the submission server, libcurl's smtp:// on the same handle)
 * and ends when every delivery has; failed ones are tried again after
 * 1, 2, 4... units (a unit is the period / 96, 15 minutes a day) while
 * the period lasts.
 *
 * Lookups cannot be cancelled: tlsrpt_send_free() orphans a job waiting
 * for one, and the answer frees it (the resolver outlives the module).
 *
 * SECURITY: see tlsrpt_send.h. The TXT text comes from the DNS (parsed
 * by the fuzzed tlsrpt_txt_parse); the HTTPS peer's answer is only read
 * for its status; nothing a remote sends reaches a header we write.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "addr.h"
#include "curl_ev.h"
#include "plugin/relay/curl_thread.h"
#include "log.h"
#include "lookup.h"
#include "plugin/relay/relay_conf.h"
#include "plugin/relay/tlsrpt.h"
#include "plugin/relay/tlsrpt_send.h"
#include "resolver.h"
#include "txt.h"

struct job;

struct delivery {
	struct job *j;
	enum tlsrpt_rua_kind kind;
	char *uri;
	char *to;			/* mailto: the address */
	bool done;			/* delivered */
	bool running;
	CURL *easy;
	struct curl_slist *list;	/* headers, or the recipient */
	struct curl_slist *resolve;
	char *msg;			/* mailto: the message */
	size_t msg_len, msg_off;
	char address[INET6_ADDRSTRLEN + 2];
	char host[DANEGATE_NAME_MAX];
	long port;
	int dns;			/* its A and AAAA lookups pending */
	char curl_err[CURL_ERROR_SIZE];
};

struct job {
	struct tlsrpt_send *ts;
	struct job *prev, *next;
	char domain[DANEGATE_NAME_MAX];
	bool orphan;			/* ts freed during a lookup */
	int dns_pending;
	char *json;
	unsigned char *gz;
	size_t gzlen;
	char report_id[512];
	time_t start, end, first_try;
	struct delivery d[TLSRPT_MAX_RUA];
	size_t n;
	int running;			/* deliveries in flight */
	unsigned attempts;
	struct event *retry;
};

struct tlsrpt_send {
	struct event_base *base;
	struct danegate_resolver *r;
	struct tlsrpt *store;
	char *organization, *contact, *submitter, *mail_from, *ca_file;
	char smtp_url[128];		/* "" without a submission server */
	unsigned interval, max_delay, timeout;
	struct curl_ev *ce;		/* https: */
	struct curl_thread *smtp;	/* mailto: (curl_thread.h says why) */
	struct event *timer;
	struct job *jobs;
	unsigned long sent, failed;
};

static void job_round_ended(struct job *j);
static void schedule(struct tlsrpt_send *ts);

/* ---- helpers ----------------------------------------------------------- */

static void
save(struct tlsrpt_send *ts)
{
	if (tlsrpt_save(ts->store) != 0)
		log_warnx("TLS-RPT: cannot write the state file");
}

static void
delivery_clear(struct delivery *d)
{
	if (d->easy != NULL) {
		if (d->kind == TLSRPT_RUA_MAILTO)
			curl_thread_remove(d->j->ts->smtp, d->easy);
		else
			curl_ev_remove(d->j->ts->ce, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
	}
	curl_slist_free_all(d->list);
	curl_slist_free_all(d->resolve);
	d->list = d->resolve = NULL;
	free(d->msg);
	d->msg = NULL;
	d->running = false;
}

static void
job_free(struct job *j)
{
	struct tlsrpt_send *ts = j->ts;
	size_t i;

	if (ts != NULL) {
		if (j->prev != NULL)
			j->prev->next = j->next;
		else if (ts->jobs == j)
			ts->jobs = j->next;
		if (j->next != NULL)
			j->next->prev = j->prev;
	}
	for (i = 0; i < j->n; i++) {
		if (ts != NULL)
			delivery_clear(&j->d[i]);
		free(j->d[i].uri);
		free(j->d[i].to);
	}
	if (j->retry != NULL)
		event_free(j->retry);
	free(j->json);
	free(j->gz);
	free(j);
}

/* The report is over for this run: dropped if delivered (or nobody
 * wants it), kept owed otherwise. */
static void
job_end(struct job *j, bool drop)
{
	if (drop) {
		tlsrpt_owed_done(j->ts->store, j->domain);
		save(j->ts);
	}
	job_free(j);
}

static bool
job_exists(struct tlsrpt_send *ts, const char *domain)
{
	struct job *j;

	for (j = ts->jobs; j != NULL; j = j->next)
		if (strcmp(j->domain, domain) == 0)
			return true;
	return false;
}

int
tlsrpt_mailto_addr(const char *uri, char **addr)
{
	size_t i, n, o = 0;
	char *a;
	bool at = false;

	*addr = NULL;
	if (strncasecmp(uri, "mailto:", 7) != 0)
		return DANEGATE_E_INVALID;
	uri += 7;
	n = strcspn(uri, "?");
	if ((a = malloc(n + 1)) == NULL)
		return DANEGATE_E_NOMEM;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)uri[i];
		unsigned int v;

		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)uri[i + 1])
			    || !isxdigit((unsigned char)uri[i + 2]) ||
			    sscanf(uri + i + 1, "%2x", &v) != 1)
				goto bad;
			c = (unsigned char)v;
			i += 2;
		}
		/* one bare addr-spec: nothing that ends or splits it in
		 * a header or an SMTP command */
		if (c <= ' ' || c >= 0x7f || strchr("<>()[]\\\",;:", c) !=
		    NULL)
			goto bad;
		if (c == '@') {
			if (at)
				goto bad;
			at = true;
		}
		a[o++] = (char)c;
	}
	a[o] = '\0';
	if (!at || a[0] == '@' || a[o - 1] == '@')
		goto bad;
	*addr = a;
	return 0;
bad:
	free(a);
	return DANEGATE_E_INVALID;
}

/* base64 of len bytes in lines of 76 characters, CRLF-ended. */
static char *
base64_lines(const unsigned char *in, size_t len)
{
	gnutls_datum_t src = { (unsigned char *)(uintptr_t)in,
	    (unsigned int)len }, b64 = { NULL, 0 };
	char *out, *p;
	size_t i;

	if (len > UINT32_MAX / 2 || gnutls_base64_encode2(&src, &b64) < 0)
		return NULL;
	out = malloc(b64.size + (b64.size / 76 + 1) * 2 + 1);
	if (out != NULL) {
		p = out;
		for (i = 0; i < b64.size; i += 76) {
			size_t k = b64.size - i < 76 ? b64.size - i : 76;

			memcpy(p, b64.data + i, k);
			p += k;
			*p++ = '\r';
			*p++ = '\n';
		}
		*p = '\0';
	}
	gnutls_free(b64.data);
	return out;
}

int
tlsrpt_mail_compose(const char *from, const char *to,
    const char *submitter, const char *domain, const char *report_id,
    long long start, long long end, const unsigned char *gz, size_t gzlen,
    long long now, char **msg)
{
	unsigned char rnd[12];
	char date[64], boundary[96], mid[64], *b64;
	time_t t = (time_t)now;
	struct tm tm;
	size_t i;
	int n;

	*msg = NULL;
	if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof(date),
	    "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		return DANEGATE_E_INVALID;
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		return DANEGATE_E_NOMEM;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(mid + 2 * i, sizeof(mid) - 2 * i, "%02x", rnd[i]);
	snprintf(boundary, sizeof(boundary), "----=_tlsrpt_%s", mid);
	if ((b64 = base64_lines(gz, gzlen)) == NULL)
		return DANEGATE_E_NOMEM;
	/* RFC 8460 §5.3 (the Subject's grammar, the two TLS-Report-
	 * headers), §5.1 (the file name), RFC 8689 (TLS-Required: No: a
	 * report must get through even where TLS fails) */
	n = asprintf(msg,
	    "From: <%s>\r\n"
	    "To: <%s>\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s.%lld@%s>\r\n"
	    "Subject: Report Domain: %s Submitter: %s\r\n"
	    " Report-ID: <%s>\r\n"
	    "TLS-Report-Domain: %s\r\n"
	    "TLS-Report-Submitter: %s\r\n"
	    "TLS-Required: No\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	    "\tboundary=\"%s\"\r\n"
	    "\r\n"
	    "This is a multipart message in MIME format.\r\n"
	    "\r\n"
	    "--%s\r\n"
	    "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "This is an aggregate TLS report from %s for %s.\r\n"
	    "\r\n"
	    "--%s\r\n"
	    "Content-Type: application/tlsrpt+gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment;\r\n"
	    "\tfilename=\"%s!%s!%lld!%lld.json.gz\"\r\n"
	    "\r\n"
	    "%s"
	    "\r\n"
	    "--%s--\r\n",
	    from, to, date, mid, now, submitter, domain, submitter, report_id,
	    domain, submitter, boundary, boundary, submitter, domain,
	    boundary, submitter, domain, start, end, b64, boundary);
	free(b64);
	if (n < 0) {
		*msg = NULL;
		return DANEGATE_E_NOMEM;
	}
	return 0;
}

/* ---- one delivery ------------------------------------------------------ */

static void
delivery_result(struct delivery *d, bool ok, const char *why)
{
	struct job *j = d->j;

	d->running = false;
	d->done = ok;
	if (ok) {
		j->ts->sent++;
		log_notice("TLS-RPT %s: report %s sent to %s: %s", j->domain,
		    j->report_id, d->uri, why);
	} else {
		j->ts->failed++;
		log_warnx("TLS-RPT %s: report %s not sent to %s: %s",
		    j->domain, j->report_id, d->uri, why);
	}
	delivery_clear(d);
	if (--j->running == 0)
		job_round_ended(j);
}

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct delivery *d = arg;
	size_t n = size * nitems;

	if (n > d->msg_len - d->msg_off)
		n = d->msg_len - d->msg_off;
	memcpy(buf, d->msg + d->msg_off, n);
	d->msg_off += n;
	return n;
}

static size_t
on_body(char *buf, size_t size, size_t nitems, void *arg)
{
	/* the collector's answer is not needed, only its status */
	(void)buf;
	(void)arg;
	return size * nitems;
}

/* curl_ev's callback: a POST or an SMTP transaction ended. */
static void
on_transfer_done(void *arg, CURL *easy, CURLcode rc)
{
	struct delivery *d = NULL;
	char why[CURL_ERROR_SIZE + 64];
	long status = 0;

	(void)arg;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &d);
	if (d == NULL)
		return;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", d->curl_err[0] != '\0' ?
		    d->curl_err : curl_easy_strerror(rc));
		delivery_result(d, false, why);
	} else if (d->kind == TLSRPT_RUA_HTTPS) {
		/* §5.3: a 2xx is a successful submission, anything else
		 * (a redirect too: not followed) a failure */
		snprintf(why, sizeof(why), "HTTP %ld", status);
		delivery_result(d, status >= 200 && status < 300, why);
	} else {
		snprintf(why, sizeof(why), "submitted (%ld)", status);
		delivery_result(d, true, why);
	}
}

static int
delivery_add(struct delivery *d)
{
	struct tlsrpt_send *ts = d->j->ts;

	curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d);
	curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->easy, CURLOPT_ERRORBUFFER, d->curl_err);
	curl_easy_setopt(d->easy, CURLOPT_TIMEOUT, (long)ts->timeout);
	curl_easy_setopt(d->easy, CURLOPT_CONNECTTIMEOUT, (long)(ts->timeout <
	    30 ? ts->timeout : 30));
	d->curl_err[0] = '\0';
	if ((d->kind == TLSRPT_RUA_MAILTO ? curl_thread_add(ts->smtp,
	    d->easy) : curl_ev_add(ts->ce, d->easy)) != 0)
		return DANEGATE_E_NOMEM;
	return 0;
}

static void
start_post(struct delivery *d)
{
	struct tlsrpt_send *ts = d->j->ts;
	char entry[DANEGATE_NAME_MAX + 96];

	if (d->address[0] == '\0') {
		delivery_result(d, false, "no address for the host");
		return;
	}
	snprintf(entry, sizeof(entry), "%s:%ld:%s", d->host, d->port,
	    d->address);
	if ((d->resolve = curl_slist_append(NULL, entry)) == NULL ||
	    (d->list = curl_slist_append(NULL,
	    "Content-Type: application/tlsrpt+gzip")) == NULL ||
	    (d->easy = curl_easy_init()) == NULL) {
		delivery_result(d, false, "out of memory");
		return;
	}
	curl_easy_setopt(d->easy, CURLOPT_URL, d->uri);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	/* only the address our validating resolver gave */
	curl_easy_setopt(d->easy, CURLOPT_RESOLVE, d->resolve);
	curl_easy_setopt(d->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->list);
	curl_easy_setopt(d->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, d->j->gz);
	curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE, (long)d->j->gzlen);
	curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "danegate-relay/"
	    PACKAGE_VERSION);
	if (ts->ca_file != NULL)
		curl_easy_setopt(d->easy, CURLOPT_CAINFO, ts->ca_file);
	if (delivery_add(d) != 0)
		delivery_result(d, false, "libcurl refused the transfer");
}

/* An A or AAAA answer for an https: rua's host; IPv4 is taken first. */
static void
on_address(void *arg, struct lookup_answer *ans)
{
	struct delivery *d = arg;
	struct job *j = d->j;
	bool v6 = ans->type == DNS_TYPE_AAAA;

	j->dns_pending--;
	if (j->orphan) {
		lookup_answer_clear(ans);
		if (j->dns_pending == 0)
			job_free(j);
		return;
	}
	if ((ans->state == DANEGATE_SECURE || ans->state == DANEGATE_INSECURE)
	    && (d->address[0] == '\0' || !v6)) {
		for (size_t i = 0; i < ans->n_rrs; i++) {
			char a[INET6_ADDRSTRLEN];

			if (ans->rrs[i].len != (v6 ? 16 : 4) || inet_ntop(v6 ?
			    AF_INET6 : AF_INET, ans->rrs[i].data, a,
			    sizeof(a)) == NULL)
				continue;
			snprintf(d->address, sizeof(d->address), v6 ? "[%s]" :
			    "%s", a);
			break;
		}
	}
	lookup_answer_clear(ans);
	if (--d->dns == 0)
		start_post(d);
}

static void
start_https(struct delivery *d)
{
	struct tlsrpt_send *ts = d->j->ts;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	d->address[0] = '\0';
	if (u == NULL || curl_url_set(u, CURLUPART_URL, d->uri, 0) != CURLUE_OK
	    || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK || strlen(host) >= sizeof(d->host) || host[0] == '[') {
		curl_free(host);
		curl_free(port);
		curl_url_cleanup(u);
		delivery_result(d, false, "not a usable https URI");
		return;
	}
	snprintf(d->host, sizeof(d->host), "%s", host);
	d->port = strtol(port, NULL, 10);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	d->dns = 2;
	d->j->dns_pending += 2;
	if (resolver_lookup_async(ts->r, d->host, DNS_TYPE_A, on_address,
	    d) != 0) {
		d->dns = 0;
		d->j->dns_pending -= 2;
		delivery_result(d, false, "out of memory");
		return;
	}
	if (resolver_lookup_async(ts->r, d->host, DNS_TYPE_AAAA, on_address,
	    d) != 0) {
		struct lookup_answer none;

		/* counts as an empty answer */
		memset(&none, 0, sizeof(none));
		none.type = DNS_TYPE_AAAA;
		none.state = DANEGATE_INDETERMINATE;
		on_address(d, &none);
	}
}

static void
start_mail(struct delivery *d)
{
	struct job *j = d->j;
	struct tlsrpt_send *ts = j->ts;
	char rcpt[600], from[600];
	int rc;

	if (ts->smtp_url[0] == '\0' || ts->smtp == NULL) {
		delivery_result(d, false, "no tlsrpt-submission: configured");
		return;
	}
	rc = tlsrpt_mail_compose(ts->mail_from, d->to, ts->submitter,
	    j->domain, j->report_id, (long long)j->start, (long long)j->end,
	    j->gz, j->gzlen, (long long)time(NULL), &d->msg);
	snprintf(rcpt, sizeof(rcpt), "<%s>", d->to);
	snprintf(from, sizeof(from), "<%s>", ts->mail_from);
	if (rc != 0 || (d->list = curl_slist_append(NULL, rcpt)) == NULL ||
	    (d->easy = curl_easy_init()) == NULL) {
		delivery_result(d, false, "out of memory");
		return;
	}
	d->msg_len = strlen(d->msg);
	d->msg_off = 0;
	curl_easy_setopt(d->easy, CURLOPT_URL, ts->smtp_url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "smtp");
#else
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS, (long)CURLPROTO_SMTP);
#endif
	curl_easy_setopt(d->easy, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(d->easy, CURLOPT_MAIL_RCPT, d->list);
	curl_easy_setopt(d->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(d->easy, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(d->easy, CURLOPT_READDATA, d);
	curl_easy_setopt(d->easy, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)d->msg_len);
	if (delivery_add(d) != 0)
		delivery_result(d, false, "libcurl refused the transfer");
}

/* ---- one domain's job -------------------------------------------------- */

/*
 * A round ended (no delivery running): all delivered -> dropped; retries
 * left -> again later (§5.4: exponential backoff, within the period);
 * otherwise dropped if someone got it, kept owed if nobody did.
 */
static void
job_round_ended(struct job *j)
{
	struct tlsrpt_send *ts = j->ts;
	unsigned long unit = ts->interval / 96 > 0 ? ts->interval / 96 : 1;
	unsigned long wait;
	size_t i, delivered = 0;
	struct timeval tv;

	for (i = 0; i < j->n; i++)
		delivered += j->d[i].done;
	if (delivered == j->n) {
		job_end(j, true);
		return;
	}
	wait = unit << (j->attempts - 1 < 16 ? j->attempts - 1 : 16);
	if (time(NULL) + (time_t)wait >= j->first_try +
	    (time_t)ts->interval - (time_t)unit) {
		log_warnx("TLS-RPT %s: report %s: %zu of %zu recipients "
		    "failed, no retry left%s", j->domain, j->report_id,
		    j->n - delivered, j->n, delivered > 0 ? "" :
		    " (kept until the next period's report)");
		job_end(j, delivered > 0);
		return;
	}
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = 0;
	evtimer_add(j->retry, &tv);
	log_notice("TLS-RPT %s: report %s: retry in %lu s", j->domain,
	    j->report_id, wait);
}

/* Starts every undelivered rua. */
static void
job_round(struct job *j)
{
	size_t i;

	j->attempts++;
	/* held while starting, so that a delivery failing at once does
	 * not end the round (and free the job) under the loop */
	j->running = 1;
	for (i = 0; i < j->n; i++) {
		struct delivery *d = &j->d[i];

		if (d->done)
			continue;
		d->running = true;
		j->running++;
		if (d->kind == TLSRPT_RUA_HTTPS)
			start_https(d);
		else
			start_mail(d);
	}
	if (--j->running == 0)
		job_round_ended(j);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	job_round(arg);
}

/* Chooses the record (§3: exactly one that starts v=TLSRPTv1). */
static void
on_txt(void *arg, struct lookup_answer *ans)
{
	struct job *j = arg;
	struct tlsrpt_send *ts = j->ts;
	struct tlsrpt_org org;
	struct tlsrpt_txt txt;
	char *rec = NULL, err[256], suffix[DANEGATE_NAME_MAX + 2];
	size_t i, found = 0;
	json_object *root, *id;
	int rc;

	j->dns_pending--;
	if (j->orphan) {
		lookup_answer_clear(ans);
		job_free(j);
		return;
	}
	if (ans->state != DANEGATE_SECURE && ans->state != DANEGATE_INSECURE) {
		/* bogus or no answer: not "no record"; try at the next run */
		log_warnx("TLS-RPT %s: _smtp._tls.%s TXT lookup failed (%s): "
		    "report kept", j->domain, j->domain, ans->why[0] ?
		    ans->why : "no answer");
		lookup_answer_clear(ans);
		ts->failed++;
		job_free(j);
		return;
	}
	for (i = 0; i < ans->n_rrs; i++) {
		char *s = txt_join(ans->rrs[i].data, ans->rrs[i].len);

		if (s != NULL && tlsrpt_txt_is_tlsrpt(s, strlen(s)) &&
		    found++ == 0) {
			rec = s;
			continue;
		}
		free(s);
	}
	lookup_answer_clear(ans);
	if (found != 1 || tlsrpt_txt_parse(rec, strlen(rec), &txt, err,
	    sizeof(err)) != 0) {
		log_notice("TLS-RPT %s: no usable TLSRPT record (%s): report "
		    "dropped", j->domain, found == 0 ? "none" : found > 1 ?
		    "several" : err);
		free(rec);
		job_end(j, true);
		return;
	}
	free(rec);
	snprintf(suffix, sizeof(suffix), "@%s", ts->submitter);
	org.organization = ts->organization;
	org.contact = ts->contact;
	org.report_id_suffix = suffix;
	rc = tlsrpt_owed_report(ts->store, j->domain, &org, &j->json,
	    &j->start, &j->end);
	if (rc == 0)
		rc = tlsrpt_gzip(j->json, strlen(j->json), &j->gz, &j->gzlen);
	root = rc == 0 ? json_tokener_parse(j->json) : NULL;
	if (root != NULL && json_object_object_get_ex(root, "report-id", &id))
		snprintf(j->report_id, sizeof(j->report_id), "%s",
		    json_object_get_string(id));
	json_object_put(root);
	if (rc != 0) {
		log_warnx("TLS-RPT %s: cannot build the report: %s",
		    j->domain, danegate_strerror(rc));
		tlsrpt_txt_clear(&txt);
		job_free(j);
		return;
	}
	for (i = 0; i < txt.n_rua; i++) {
		struct delivery *d = &j->d[j->n];

		if (txt.rua[i].kind == TLSRPT_RUA_OTHER) {
			log_notice("TLS-RPT %s: report %s: %s: scheme not "
			    "supported, skipped", j->domain, j->report_id,
			    txt.rua[i].uri);
			continue;
		}
		memset(d, 0, sizeof(*d));
		d->j = j;
		d->kind = txt.rua[i].kind;
		d->uri = txt.rua[i].uri;
		txt.rua[i].uri = NULL;
		j->n++;
		if (d->kind == TLSRPT_RUA_MAILTO && tlsrpt_mailto_addr(d->uri,
		    &d->to) != 0) {
			log_warnx("TLS-RPT %s: report %s not sent to %s: not "
			    "one plain address", j->domain, j->report_id,
			    d->uri);
			j->n--;
			free(d->uri);
			d->uri = NULL;
		}
	}
	tlsrpt_txt_clear(&txt);
	if (j->n == 0) {
		log_notice("TLS-RPT %s: no rua we can send to: report dropped",
		    j->domain);
		job_end(j, true);
		return;
	}
	j->first_try = time(NULL);
	job_round(j);
}

static void
job_start(struct tlsrpt_send *ts, const char *domain)
{
	char name[DANEGATE_NAME_MAX + 16];
	struct job *j;

	if (job_exists(ts, domain))
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->retry = evtimer_new(ts->base, on_retry, j)) == NULL) {
		free(j);
		log_warnx("TLS-RPT %s: out of memory", domain);
		return;
	}
	j->ts = ts;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->next = ts->jobs;
	if (ts->jobs != NULL)
		ts->jobs->prev = j;
	ts->jobs = j;
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	j->dns_pending = 1;
	if (resolver_lookup_async(ts->r, name, DNS_TYPE_TXT, on_txt, j) != 0) {
		log_warnx("TLS-RPT %s: out of memory", domain);
		job_free(j);
	}
}

/* ---- the schedule ------------------------------------------------------ */

static void
send_owed(struct tlsrpt_send *ts)
{
	char **doms;
	size_t i, n;

	if (tlsrpt_owed(ts->store, &doms, &n) != 0) {
		log_warnx("TLS-RPT: out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		job_start(ts, doms[i]);
	tlsrpt_domains_free(doms, n);
}

/*
 * Ends the period at end and sends. Refused (false) while a delivery or
 * lookup of the last run is in flight: its report must not be replaced
 * under it. A job only waiting for its retry ends here instead.
 */
static bool
run(struct tlsrpt_send *ts, time_t end)
{
	struct job *j, *next;
	size_t replaced;

	for (j = ts->jobs; j != NULL; j = j->next)
		if (j->dns_pending > 0 || j->running > 0)
			return false;
	for (j = ts->jobs; j != NULL; j = next) {
		next = j->next;
		log_warnx("TLS-RPT %s: report %s: the period ended before it "
		    "was delivered", j->domain, j->report_id);
		job_free(j);
	}
	if (tlsrpt_close_period(ts->store, end, &replaced) != 0) {
		log_warnx("TLS-RPT: out of memory closing the period");
		return true;
	}
	if (replaced > 0)
		log_warnx("TLS-RPT: %zu undelivered report(s) of an earlier "
		    "period dropped for this one's", replaced);
	save(ts);
	send_owed(ts);
	return true;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tlsrpt_send *ts = arg;
	static const struct timeval later = { 60, 0 };
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	/* the period that just ended: its boundary, not the delay's end */
	if (!run(ts, now - (now % (time_t)ts->interval))) {
		log_notice("TLS-RPT: reports still being sent; the period "
		    "ends in a minute");
		evtimer_add(ts->timer, &later);
		return;
	}
	schedule(ts);
}

/* The next boundary (UTC midnight by default) plus a random delay
 * (§4.1 asks for a daily report; the delay spreads the senders). */
static void
schedule(struct tlsrpt_send *ts)
{
	time_t now = time(NULL), next;
	uint32_t rnd = 0;
	struct timeval tv;

	next = now - (now % (time_t)ts->interval) + (time_t)ts->interval;
	if (ts->max_delay > 0 && gnutls_rnd(GNUTLS_RND_NONCE, &rnd,
	    sizeof(rnd)) == 0)
		next += (time_t)(rnd % (ts->max_delay + 1));
	tv.tv_sec = next - now;
	tv.tv_usec = 0;
	evtimer_add(ts->timer, &tv);
	log_info("TLS-RPT: next reports in %ld s", (long)tv.tv_sec);
}

void
tlsrpt_send_now(struct tlsrpt_send *ts)
{
	if (run(ts, time(NULL)))
		log_notice("TLS-RPT: period ended on request, reports sent");
	else
		log_notice("TLS-RPT: reports still being sent; request "
		    "ignored");
}

void
tlsrpt_send_stats(const struct tlsrpt_send *ts, unsigned long *sent,
    unsigned long *failed)
{
	*sent = ts->sent;
	*failed = ts->failed;
}

int
tlsrpt_send_new(const struct tlsrpt_send_options *o, struct tlsrpt_send **out)
{
	struct tlsrpt_send *ts;
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	uint16_t port;

	*out = NULL;
	if (o->base == NULL || o->resolver == NULL || o->store == NULL ||
	    o->organization == NULL || o->contact == NULL ||
	    o->submitter == NULL || o->mail_from == NULL)
		return DANEGATE_E_INVALID;
	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return DANEGATE_E_NOMEM;
	ts->base = o->base;
	ts->r = o->resolver;
	ts->store = o->store;
	ts->interval = o->interval_s ? o->interval_s : 86400;
	/* the delay stays inside the period it starts (on_timer) */
	ts->max_delay = o->max_delay_s < ts->interval / 2 ? o->max_delay_s :
	    ts->interval / 2;
	ts->timeout = o->timeout_s ? o->timeout_s : 60;
	if (o->submission != NULL) {
		if (addr_parse(o->submission, 25, &ss, &len) != 0 ||
		    getnameinfo((struct sockaddr *)&ss, len, host,
		    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0) {
			free(ts);
			return DANEGATE_E_INVALID;
		}
		port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
		/* the path is the EHLO name libcurl gives */
		snprintf(ts->smtp_url, sizeof(ts->smtp_url), "smtp://%s%s%s:%u/"
		    "%s", ss.ss_family == AF_INET6 ? "[" : "", host,
		    ss.ss_family == AF_INET6 ? "]" : "", port,
		    strlen(o->submitter) < 60 ? o->submitter : "localhost");
	}
	if ((ts->organization = strdup(o->organization)) == NULL ||
	    (ts->contact = strdup(o->contact)) == NULL ||
	    (ts->submitter = strdup(o->submitter)) == NULL ||
	    (ts->mail_from = strdup(o->mail_from)) == NULL ||
	    (o->ca_file != NULL && (ts->ca_file = strdup(o->ca_file)) ==
	    NULL) || (ts->ce = curl_ev_new(ts->base, on_transfer_done, ts)) ==
	    NULL || (ts->timer = evtimer_new(ts->base, on_timer, ts)) ==
	    NULL) {
		tlsrpt_send_free(ts);
		return DANEGATE_E_NOMEM;
	}
	if ((ts->smtp = o->smtp_thread) != NULL)
		curl_thread_set_done(ts->smtp, on_transfer_done, ts);
	schedule(ts);
	/* owed from before a restart */
	send_owed(ts);
	*out = ts;
	return 0;
}

void
tlsrpt_send_free(struct tlsrpt_send *ts)
{
	if (ts == NULL)
		return;
	while (ts->jobs != NULL) {
		struct job *j = ts->jobs;

		ts->jobs = j->next;
		j->prev = j->next = NULL;
		for (size_t i = 0; i < j->n; i++)
			delivery_clear(&j->d[i]);
		j->ts = NULL;
		if (j->dns_pending > 0)
			j->orphan = true;	/* the lookup's answer frees it */
		else
			job_free(j);
	}
	curl_ev_free(ts->ce);
	if (ts->timer != NULL)
		event_free(ts->timer);
	free(ts->organization);
	free(ts->contact);
	free(ts->submitter);
	free(ts->mail_from);
	free(ts->ca_file);
	free(ts);
}
