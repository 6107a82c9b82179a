/*
 * oauth2.c - OAuth2 tokens for XOAUTH2 submission (see oauth2.h).
 *
 * SECURITY: see oauth2.h. Every buffer that held a secret is wiped with
 * gnutls_memset() before it is freed; error texts are built from the
 * AADSTS table and HTTP status only, never from the request.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "plugin/danegate.h"
#include "plugin/relay/oauth2.h"

void
oauth2_secret_free(char *s)
{
	if (s == NULL)
		return;
	gnutls_memset(s, 0, strlen(s));
	free(s);
}

void
oauth2_token_clear(struct oauth2_token *t)
{
	oauth2_secret_free(t->access);
	oauth2_secret_free(t->refresh);
	t->access = t->refresh = NULL;
	t->expires_at = 0;
}

/* ---- encodings ---------------------------------------------------------- */

static char *
b64(const unsigned char *data, size_t len)
{
	/* gnutls_datum_t is not const: it is only read here. */
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)data,
	    (unsigned)len }, out;
	char *s;

	if (gnutls_base64_encode2(&in, &out) < 0)
		return NULL;
	s = malloc(out.size + 1);
	if (s != NULL) {
		memcpy(s, out.data, out.size);
		s[out.size] = '\0';
	}
	gnutls_memset(out.data, 0, out.size);
	gnutls_free(out.data);
	return s;
}

char *
oauth2_b64url(const unsigned char *data, size_t len)
{
	char *s = b64(data, len), *p;

	if (s == NULL)
		return NULL;
	for (p = s; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=') {
			*p = '\0';
			break;
		}
	}
	return s;
}

int
oauth2_xoauth2_encode(const char *user, const char *token, char **out)
{
	size_t ul, tl, n;
	char *raw;

	*out = NULL;
	/* \x01 separates the fields: one inside a field would forge one. */
	if (user == NULL || token == NULL || *user == '\0' ||
	    *token == '\0' || strchr(user, '\x01') != NULL ||
	    strchr(token, '\x01') != NULL)
		return DANEGATE_E_INVALID;
	ul = strlen(user);
	tl = strlen(token);
	n = sizeof("user=\x01" "auth=Bearer \x01\x01") - 1 + ul + tl;
	if ((raw = malloc(n + 1)) == NULL)
		return DANEGATE_E_NOMEM;
	snprintf(raw, n + 1, "user=%s\x01" "auth=Bearer %s\x01\x01", user,
	    token);
	*out = b64((unsigned char *)raw, n);
	gnutls_memset(raw, 0, n);
	free(raw);
	return *out == NULL ? DANEGATE_E_NOMEM : 0;
}

/* ---- the JWT client assertion ------------------------------------------- */

/* A random version 4 UUID (RFC 9562 §5.4) for jti. */
static int
uuid4(char out[37])
{
	unsigned char r[16];

	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) < 0)
		return DANEGATE_E_NOMEM;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
	    r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

/* base64url of a json object's compact text; NULL on failure. */
static char *
json_b64url(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return s == NULL ? NULL : oauth2_b64url((const unsigned char *)s,
	    strlen(s));
}

int
oauth2_jwt_assertion(gnutls_privkey_t key, const gnutls_datum_t *cert_der,
    const char *aud, const char *client_id, time_t now, char **out)
{
	unsigned char thumb[32];
	struct json_object *hdr = NULL, *claims = NULL;
	char *x5t = NULL, *h = NULL, *c = NULL, *sig64 = NULL, *input = NULL;
	char jti[37];
	gnutls_datum_t data, sig = { NULL, 0 };
	size_t n;
	int rc = DANEGATE_E_NOMEM;

	*out = NULL;
	if (key == NULL || cert_der == NULL || aud == NULL ||
	    client_id == NULL || *client_id == '\0')
		return DANEGATE_E_INVALID;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, cert_der->data, cert_der->size,
	    thumb) < 0 || uuid4(jti) < 0)
		return DANEGATE_E_INVALID;
	if ((x5t = oauth2_b64url(thumb, sizeof(thumb))) == NULL)
		goto out;
	hdr = json_object_new_object();
	claims = json_object_new_object();
	if (hdr == NULL || claims == NULL)
		goto out;
	json_object_object_add(hdr, "alg", json_object_new_string("RS256"));
	json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
	json_object_object_add(hdr, "x5t#S256", json_object_new_string(x5t));
	json_object_object_add(claims, "aud", json_object_new_string(aud));
	json_object_object_add(claims, "iss",
	    json_object_new_string(client_id));
	json_object_object_add(claims, "sub",
	    json_object_new_string(client_id));
	json_object_object_add(claims, "jti", json_object_new_string(jti));
	json_object_object_add(claims, "nbf", json_object_new_int64(now));
	/* Microsoft accepts at most 10 minutes of assertion lifetime. */
	json_object_object_add(claims, "exp",
	    json_object_new_int64(now + 600));
	if ((h = json_b64url(hdr)) == NULL || (c = json_b64url(claims)) == NULL)
		goto out;
	n = strlen(h) + 1 + strlen(c);
	if ((input = malloc(n + 1)) == NULL)
		goto out;
	snprintf(input, n + 1, "%s.%s", h, c);
	data.data = (unsigned char *)input;
	data.size = (unsigned)n;
	if (gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &data,
	    &sig) < 0) {
		rc = DANEGATE_E_TLS;
		goto out;
	}
	if ((sig64 = oauth2_b64url(sig.data, sig.size)) == NULL)
		goto out;
	if ((*out = malloc(n + 1 + strlen(sig64) + 1)) == NULL)
		goto out;
	snprintf(*out, n + 1 + strlen(sig64) + 1, "%s.%s", input, sig64);
	rc = 0;
out:
	gnutls_free(sig.data);
	free(x5t);
	free(h);
	free(c);
	free(input);
	free(sig64);
	json_object_put(hdr);
	json_object_put(claims);
	return rc;
}

/* ---- AADSTS ------------------------------------------------------------- */

static const struct oauth2_aadsts aadsts_table[] = {
	{ 50126, 535, "wrong username or password for the mailbox",
	    "check the mailbox password the client sends" },
	{ 50076, 535, "the mailbox requires MFA, which the password grant "
	    "cannot do", "exclude the mailbox from MFA by a Conditional "
	    "Access policy or use a client-credentials route" },
	{ 50079, 535, "the mailbox must register for MFA",
	    "exclude the mailbox from MFA or use a client-credentials route" },
	{ 50053, 454, "the account is locked (too many sign-ins)",
	    "wait, then check the client's password" },
	{ 50057, 535, "the account is disabled",
	    "enable the account in Entra ID" },
	{ 50034, 535, "the mailbox user does not exist in the tenant",
	    "check the SASL user and the tenant" },
	{ 65001, 535, "the application lacks consent for the scope",
	    "grant admin consent to the app (SMTP.Send or SMTP.SendAsApp)" },
	{ 700016, 535, "the client_id is not registered in the tenant",
	    "check client_id and tenant in the route" },
	{ 7000215, 535, "the client secret is wrong",
	    "put the secret's Value (not its ID) in the secret file" },
	{ 7000222, 535, "the client secret has expired",
	    "create a new client secret and replace the secret file" },
	{ 700027, 535, "the certificate assertion was refused (certificate "
	    "expired, not registered, or signature invalid)",
	    "upload the current certificate to the app registration" },
	{ 90002, 454, "the tenant was not found",
	    "check the tenant in the route's token endpoint" },
	{ 0, 454, "the token endpoint refused the request",
	    "see the relay's log; retry later" },
};

const struct oauth2_aadsts *
oauth2_aadsts_lookup(const char *text)
{
	const struct oauth2_aadsts *e;
	const char *p;
	unsigned long code;
	char *end;

	if (text == NULL || (p = strstr(text, "AADSTS")) == NULL)
		goto unknown;
	p += 6;
	if (*p < '0' || *p > '9')
		goto unknown;
	errno = 0;
	code = strtoul(p, &end, 10);
	if (errno != 0 || end - p > 9)
		goto unknown;
	for (e = aadsts_table; e->code != 0; e++)
		if (e->code == code)
			return e;
unknown:
	for (e = aadsts_table; e->code != 0; e++)
		;
	return e;
}

/* ---- secret files -------------------------------------------------------- */

int
oauth2_secret_file_read(const char *path, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t r;
	size_t n = 0;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return DANEGATE_E_INVALID;
	}
	/* fstat after open: the file checked is the file read. */
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not the relay's "
		    "uid %u; chown it", path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %04o: readable by group or "
		    "others; chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	if (st.st_size > 65536) {
		snprintf(err, errlen, "%s: larger than 64 KiB", path);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (n < (size_t)st.st_size && (r = read(fd, buf + n,
	    (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	close(fd);
	if (n == 0) {
		snprintf(err, errlen, "%s: empty", path);
		free(buf);
		return DANEGATE_E_INVALID;
	}
	*out = buf;
	if (outlen != NULL)
		*outlen = n;
	return 0;
fail:
	close(fd);
	return DANEGATE_E_INVALID;
}

/* ---- the cache ---------------------------------------------------------- */

struct oauth2_entry {
	struct oauth2_entry *next;
	char *mailbox;
	unsigned char key[32];		/* HMAC-SHA256(salt, password) */
	bool has_key;
	char *token, *refresh;
	time_t expires_at;
	time_t renew_at;		/* due for renewal from then */
};

struct oauth2_cache {
	pthread_mutex_t lock;
	unsigned char salt[32];		/* per process, never stored */
	struct oauth2_entry *head;
};

struct oauth2_cache *
oauth2_cache_new(void)
{
	struct oauth2_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (gnutls_rnd(GNUTLS_RND_KEY, c->salt, sizeof(c->salt)) < 0 ||
	    pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void
entry_free(struct oauth2_entry *e)
{
	free(e->mailbox);
	oauth2_secret_free(e->token);
	oauth2_secret_free(e->refresh);
	gnutls_memset(e->key, 0, sizeof(e->key));
	free(e);
}

void
oauth2_cache_free(struct oauth2_cache *c)
{
	struct oauth2_entry *e, *n;

	if (c == NULL)
		return;
	for (e = c->head; e != NULL; e = n) {
		n = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	gnutls_memset(c->salt, 0, sizeof(c->salt));
	free(c);
}

static int
cache_key(const struct oauth2_cache *c, const char *password,
    unsigned char key[32])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, c->salt, sizeof(c->salt),
	    password, strlen(password), key) < 0 ? DANEGATE_E_NOMEM : 0;
}

/* Unlinks and frees mailbox's entry; caller holds the lock. */
static void
cache_unlink(struct oauth2_cache *c, const char *mailbox)
{
	struct oauth2_entry **pp, *e;

	for (pp = &c->head; (e = *pp) != NULL; pp = &e->next)
		if (strcasecmp(e->mailbox, mailbox) == 0) {
			*pp = e->next;
			entry_free(e);
			return;
		}
}

int
oauth2_cache_put(struct oauth2_cache *c, const char *mailbox,
    const char *password, const char *token, const char *refresh,
    time_t expires_at, time_t now)
{
	time_t life = expires_at > now ? expires_at - now : 0;

	struct oauth2_entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return DANEGATE_E_NOMEM;
	e->mailbox = strdup(mailbox);
	e->token = strdup(token);
	e->refresh = refresh != NULL ? strdup(refresh) : NULL;
	e->expires_at = expires_at;
	e->renew_at = expires_at - (life / 2 < OAUTH2_RENEW_MARGIN ?
	    life / 2 : OAUTH2_RENEW_MARGIN);
	if (e->mailbox == NULL || e->token == NULL ||
	    (refresh != NULL && e->refresh == NULL) ||
	    (password != NULL && cache_key(c, password, e->key) < 0)) {
		entry_free(e);
		return DANEGATE_E_NOMEM;
	}
	e->has_key = password != NULL;
	pthread_mutex_lock(&c->lock);
	cache_unlink(c, mailbox);
	e->next = c->head;
	c->head = e;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

char *
oauth2_cache_get(struct oauth2_cache *c, const char *mailbox,
    const char *password, time_t now, char **refresh)
{
	struct oauth2_entry *e;
	unsigned char key[32];
	char *tok = NULL;

	if (refresh != NULL)
		*refresh = NULL;
	if (password != NULL && cache_key(c, password, key) < 0)
		return NULL;
	pthread_mutex_lock(&c->lock);
	for (e = c->head; e != NULL; e = e->next)
		if (strcasecmp(e->mailbox, mailbox) == 0)
			break;
	if (e == NULL || e->has_key != (password != NULL))
		goto out;
	/* A different password never gets the cached token. */
	if (password != NULL &&
	    gnutls_memcmp(e->key, key, sizeof(key)) != 0) /* constant time */
		goto out;
	if (now < e->renew_at)
		tok = strdup(e->token);
	else if (refresh != NULL && e->refresh != NULL)
		*refresh = strdup(e->refresh);
out:
	pthread_mutex_unlock(&c->lock);
	gnutls_memset(key, 0, sizeof(key));
	return tok;
}

void
oauth2_cache_drop(struct oauth2_cache *c, const char *mailbox)
{
	pthread_mutex_lock(&c->lock);
	cache_unlink(c, mailbox);
	pthread_mutex_unlock(&c->lock);
}

/* ---- the token endpoint ------------------------------------------------- */

static void
reply_err(const struct oauth2_aadsts *e, unsigned *smtp, char *err,
    size_t errlen)
{
	*smtp = e->smtp;
	if (e->code != 0)
		snprintf(err, errlen, "AADSTS%u: %s; %s", e->code, e->cause,
		    e->fix);
	else
		snprintf(err, errlen, "%s; %s", e->cause, e->fix);
}

int
oauth2_token_parse(const char *body, size_t len, time_t now,
    struct oauth2_token *out, unsigned *smtp, char *err, size_t errlen)
{
	struct json_tokener *tk;
	struct json_object *o, *v;
	int64_t ttl;
	int rc = DANEGATE_E_PROTOCOL;

	memset(out, 0, sizeof(*out));
	*smtp = 454;
	if ((tk = json_tokener_new()) == NULL)
		return DANEGATE_E_NOMEM;
	o = json_tokener_parse_ex(tk, body, (int)(len > 1048576 ? 1048576 :
	    len));
	json_tokener_free(tk);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "token endpoint answer is not a JSON "
		    "object; check the route's token endpoint");
		goto out;
	}
	if (json_object_object_get_ex(o, "error", &v)) {
		const char *d = NULL;

		if (json_object_object_get_ex(o, "error_description", &v) &&
		    json_object_is_type(v, json_type_string))
			d = json_object_get_string(v);
		reply_err(oauth2_aadsts_lookup(d), smtp, err, errlen);
		rc = DANEGATE_E_INVALID;
		goto out;
	}
	if (!json_object_object_get_ex(o, "access_token", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		snprintf(err, errlen, "token endpoint answer has no "
		    "access_token; check the route's token endpoint");
		goto out;
	}
	if ((out->access = strdup(json_object_get_string(v))) == NULL) {
		rc = DANEGATE_E_NOMEM;
		goto out;
	}
	ttl = 3600;	/* RFC 6749 §5.1: expires_in is RECOMMENDED */
	if (json_object_object_get_ex(o, "expires_in", &v))
		ttl = json_object_get_int64(v);	/* string or number */
	if (ttl <= 0 || ttl > 86400 * 30)
		ttl = 3600;
	out->expires_at = now + (time_t)ttl;
	if (json_object_object_get_ex(o, "refresh_token", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    (out->refresh = strdup(json_object_get_string(v))) == NULL) {
		oauth2_token_clear(out);
		rc = DANEGATE_E_NOMEM;
		goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

struct body {
	char *data;
	size_t len;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *d;

	if (b->len + n > 1048576)
		return 0;	/* refuse an unbounded answer */
	if ((d = realloc(b->data, b->len + n + 1)) == NULL)
		return 0;
	memcpy(d + b->len, p, n);
	b->len += n;
	d[b->len] = '\0';
	b->data = d;
	return n;
}

/* Appends "&name=value" (value url-encoded) to *form; wipes the old copy. */
static int
form_add(CURL *h, char **form, const char *name, const char *value)
{
	char *enc, *n;
	size_t len;

	if ((enc = curl_easy_escape(h, value, 0)) == NULL)
		return DANEGATE_E_NOMEM;
	len = (*form != NULL ? strlen(*form) : 0) + strlen(name) +
	    strlen(enc) + 3;
	if ((n = malloc(len)) == NULL) {
		gnutls_memset(enc, 0, strlen(enc));
		curl_free(enc);
		return DANEGATE_E_NOMEM;
	}
	snprintf(n, len, "%s%s%s=%s", *form != NULL ? *form : "",
	    *form != NULL ? "&" : "", name, enc);
	gnutls_memset(enc, 0, strlen(enc));
	curl_free(enc);
	oauth2_secret_free(*form);
	*form = n;
	return 0;
}

int
oauth2_token_request(const struct oauth2_route *r, const char *user,
    const char *password, const char *refresh, time_t now,
    struct oauth2_token *out, unsigned *smtp, char *err, size_t errlen)
{
	struct body b = { NULL, 0 };
	struct curl_slist *resolve = NULL;
	char *form = NULL, *jwt = NULL;
	const char *scope = r->scope;
	long status = 0;
	CURLcode cc;
	CURL *h;
	int rc = DANEGATE_E_NOMEM;

	memset(out, 0, sizeof(*out));
	*smtp = 454;
	if (scope == NULL)
		scope = r->grant == OAUTH2_GRANT_PASSWORD ? OAUTH2_SCOPE_ROPC :
		    OAUTH2_SCOPE_APP;
	if ((h = curl_easy_init()) == NULL)
		return DANEGATE_E_NOMEM;
	if (form_add(h, &form, "client_id", r->client_id) < 0 ||
	    form_add(h, &form, "scope", scope) < 0)
		goto out;
	if (refresh != NULL) {
		if (form_add(h, &form, "grant_type", "refresh_token") < 0 ||
		    form_add(h, &form, "refresh_token", refresh) < 0)
			goto out;
	} else if (r->grant == OAUTH2_GRANT_PASSWORD) {
		if (user == NULL || password == NULL) {
			rc = DANEGATE_E_INVALID;
			goto out;
		}
		if (form_add(h, &form, "grant_type", "password") < 0 ||
		    form_add(h, &form, "username", user) < 0 ||
		    form_add(h, &form, "password", password) < 0)
			goto out;
	} else if (form_add(h, &form, "grant_type", "client_credentials") < 0)
		goto out;
	if (r->grant == OAUTH2_GRANT_CERT) {
		if ((rc = oauth2_jwt_assertion(r->key, r->cert_der,
		    r->endpoint, r->client_id, now, &jwt)) < 0) {
			snprintf(err, errlen, "cannot sign the client "
			    "assertion; check the route's key file");
			goto out;
		}
		rc = DANEGATE_E_NOMEM;
		if (form_add(h, &form, "client_assertion_type", "urn:ietf:"
		    "params:oauth:client-assertion-type:jwt-bearer") < 0 ||
		    form_add(h, &form, "client_assertion", jwt) < 0)
			goto out;
	} else if (r->client_secret != NULL &&
	    form_add(h, &form, "client_secret", r->client_secret) < 0)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, r->endpoint);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, r->timeout_s > 0 ?
	    r->timeout_s : 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (r->cafile != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, r->cafile);
	if (r->resolve != NULL) {
		if ((resolve = curl_slist_append(NULL, r->resolve)) == NULL)
			goto out;
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		/* An outage is temporary: 4xx, never 5xx. */
		snprintf(err, errlen, "token endpoint unreachable (%s); "
		    "check the relay's network and the endpoint URL",
		    curl_easy_strerror(cc));
		rc = DANEGATE_E_NETWORK;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 500 || status == 429) {
		snprintf(err, errlen, "token endpoint answered HTTP %ld; "
		    "retry later", status);
		rc = DANEGATE_E_NETWORK;
		goto out;
	}
	rc = oauth2_token_parse(b.data != NULL ? b.data : "", b.len, now, out,
	    smtp, err, errlen);
out:
	if (b.data != NULL)
		gnutls_memset(b.data, 0, b.len);
	free(b.data);
	oauth2_secret_free(form);
	oauth2_secret_free(jwt);
	curl_easy_cleanup(h);
	curl_slist_free_all(resolve);
	return rc;
}

int
oauth2_token_get(struct oauth2_cache *c, const struct oauth2_route *r,
    const char *mailbox, const char *password, time_t now, char **token,
    int *fetched, unsigned *smtp, char *err, size_t errlen)
{
	const char *key = r->grant == OAUTH2_GRANT_PASSWORD ? password : NULL;
	struct oauth2_token t;
	char *refresh = NULL;
	bool had_refresh;
	int rc = DANEGATE_E_INVALID;

	*token = NULL;
	*fetched = 0;
	*smtp = 454;
	if (r->grant == OAUTH2_GRANT_PASSWORD && password == NULL)
		return DANEGATE_E_INVALID;
	if ((*token = oauth2_cache_get(c, mailbox, key, now, &refresh)) !=
	    NULL)
		return 0;
	had_refresh = refresh != NULL;
	if (refresh != NULL) {
		rc = oauth2_token_request(r, mailbox, password, refresh, now, &t,
		    smtp, err, errlen);
		oauth2_secret_free(refresh);
		*fetched = 1;
	}
	if (rc != 0) {
		if (*fetched == 1 && rc == DANEGATE_E_NETWORK)
			return rc;	/* an outage: do not try harder */
		rc = oauth2_token_request(r, mailbox, password, NULL, now, &t,
		    smtp, err, errlen);
		*fetched = 2;
	}
	if (rc != 0) {
		/* nothing cached for a refused password; an entry of the
		 * same password whose refresh was refused goes (one of
		 * another password stays: a wrong guess evicts nothing) */
		if (rc != DANEGATE_E_NETWORK && had_refresh)
			oauth2_cache_drop(c, mailbox);
		return rc;
	}
	if ((*token = strdup(t.access)) == NULL ||
	    oauth2_cache_put(c, mailbox, key, t.access, t.refresh,
	    t.expires_at, now) < 0) {
		oauth2_token_clear(&t);
		oauth2_secret_free(*token);
		*token = NULL;
		return DANEGATE_E_NOMEM;
	}
	oauth2_token_clear(&t);
	return 0;
}

/* ---- the cache's states, for danegate-control (never a token) ---------- */

void
oauth2_cache_foreach(struct oauth2_cache *c, time_t now,
    oauth2_cache_visit_fn *fn, void *arg)
{
	const struct oauth2_entry *e;
	struct oauth2_token_state st;

	pthread_mutex_lock(&c->lock);
	for (e = c->head; e != NULL; e = e->next) {
		memset(&st, 0, sizeof(st));
		snprintf(st.mailbox, sizeof(st.mailbox), "%s", e->mailbox);
		st.password_keyed = e->has_key;
		st.refreshable = e->refresh != NULL;
		st.expires_in = (long long)e->expires_at - (long long)now;
		if (now >= e->expires_at)
			st.state = "expired";
		else if (now >= e->renew_at)
			st.state = "renew-due";
		else
			st.state = "valid";
		if (fn(arg, &st) != 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
}

int
oauth2_token_state_format(const struct oauth2_token_state *st, char *buf,
    size_t len)
{
	int n = snprintf(buf, len, "%s state=%s expires-in=%llds "
	    "refresh-token=%s key=%s", st->mailbox, st->state, st->expires_in,
	    st->refreshable ? "yes" : "no", st->password_keyed ?
	    "mailbox-password" : "route");

	return n < 0 || (size_t)n >= len ? DANEGATE_E_INVALID : 0;
}
