/*
 * oauth2.h - danegate-relay's OAuth2 token module for submission to
 * Exchange Online (issue 9): the XOAUTH2 initial response, the JWT client
 * assertion of the certificate grant, the AADSTS error table, the secret
 * file check, the in-memory token cache and the token request itself.
 *
 * Threading: oauth2_token_request() is BLOCKING (libcurl easy interface)
 * and is meant to run in a worker thread, never on the relay's event
 * loop: a token request is rare (once per mailbox per token lifetime), a
 * worker keeps libcurl's multi interface out of the outbound state
 * machine, and the cache is protected by its own mutex so a worker and
 * the loop may use it at once. Everything else here is pure and fast.
 * The program calls curl_global_init(CURL_GLOBAL_DEFAULT) once at start,
 * before any thread (libcurl < 7.84 does not make that thread-safe).
 *
 * Replies: every failure maps to one line "cause; fix" and an SMTP reply
 * code: 535 when the credentials are wrong (the client's password, or
 * the route's secret/certificate - the client cannot fix those, but
 * retrying will not either), 4xx for everything temporary (endpoint
 * outage, timeouts, throttling, unknown errors).
 *
 * SECURITY: talks HTTPS to the configured token endpoint (PKIX verified
 * by libcurl/GnuTLS). Passwords, secrets, assertions and tokens are
 * never logged and are wiped with gnutls_memset() when freed.
 */
#ifndef DANEGATE_RELAY_OAUTH2_H
#define DANEGATE_RELAY_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gnutls/abstract.h>

#define OAUTH2_ERR_MAX 256
/* Scopes of Exchange Online (issue 9) */
#define OAUTH2_SCOPE_ROPC \
	"https://outlook.office365.com/SMTP.Send offline_access"
#define OAUTH2_SCOPE_APP "https://outlook.office365.com/.default"
#define OAUTH2_ENDPOINT_FMT \
	"https://login.microsoftonline.com/%s/oauth2/v2.0/token"
/* A token is renewed this many seconds before it expires, or when half
 * its lifetime is left if that is shorter (a short-lived token is still
 * used from the cache). */
#define OAUTH2_RENEW_MARGIN 300

enum oauth2_grant {
	OAUTH2_GRANT_PASSWORD,		/* ROPC */
	OAUTH2_GRANT_SECRET,		/* client credentials + secret */
	OAUTH2_GRANT_CERT,		/* client credentials + JWT assertion */
};

/*
 * Writes base64("user=" user "\x01auth=Bearer " token "\x01\x01") into
 * *out (caller frees with oauth2_secret_free(), it holds the token).
 * Returns 0 or DANEGATE_E_INVALID (user or token empty or holding \x01)
 * or DANEGATE_E_NOMEM.
 */
int oauth2_xoauth2_encode(const char *user, const char *token, char **out);

/* base64url without padding (RFC 7515 §2) of len bytes; caller frees. */
char *oauth2_b64url(const unsigned char *data, size_t len);

/*
 * The JWT client assertion (RFC 7523, Microsoft "certificate credentials"):
 * header {"alg":"RS256","typ":"JWT","x5t#S256":b64url(SHA-256(cert DER))},
 * claims aud=token endpoint, iss=sub=client_id, jti=random UUID,
 * nbf=now, exp=now+600, signed RS256 with key. *out: caller frees with
 * oauth2_secret_free(). Returns 0 or a negative DANEGATE_E_* code.
 */
int oauth2_jwt_assertion(gnutls_privkey_t key, const gnutls_datum_t *cert_der,
    const char *aud, const char *client_id, time_t now, char **out);

/* One AADSTS code's meaning (Microsoft identity platform error codes). */
struct oauth2_aadsts {
	unsigned code;		/* 50126, ...; 0: unknown */
	unsigned smtp;		/* 535 or 454 */
	const char *cause;	/* one line */
	const char *fix;	/* one line */
};

/*
 * The entry for the first "AADSTSnnnn" in text (an error_description) or
 * the "unknown" entry (454) when there is none or it is not in the table.
 * Never NULL.
 */
const struct oauth2_aadsts *oauth2_aadsts_lookup(const char *text);

/*
 * Reads a secret or key file that only the relay's user may read: a
 * regular file owned by the effective uid, no group/other permission
 * bits. Refuses otherwise with the reason in err ("FILE: mode 0644:
 * readable by group or others; chmod 600 FILE"). *out is NUL terminated
 * with trailing newlines removed; caller frees with oauth2_secret_free().
 */
int oauth2_secret_file_read(const char *path, char **out, size_t *outlen,
    char *err, size_t errlen);

/* Wipes and frees a string holding a secret; accepts NULL. */
void oauth2_secret_free(char *s);

/* ---- the token cache (memory only) -------------------------------------- */

struct oauth2_cache;

struct oauth2_cache *oauth2_cache_new(void);
void oauth2_cache_free(struct oauth2_cache *c);

/*
 * Stores a token for mailbox, keyed to a salted HMAC-SHA256 of password
 * (NULL for the client-credentials grants: one entry per mailbox). The
 * cache copies everything. refresh may be NULL. expires_at is absolute;
 * now (when the token was issued) sets when it is due for renewal.
 */
int oauth2_cache_put(struct oauth2_cache *c, const char *mailbox,
    const char *password, const char *token, const char *refresh,
    time_t expires_at, time_t now);

/*
 * The cached access token for mailbox if password matches the one that
 * obtained it (constant-time compare) and it is not due for renewal
 * (OAUTH2_RENEW_MARGIN). Returns a copy (free with
 * oauth2_secret_free()) or NULL. *refresh, if not NULL, receives a copy
 * of the refresh token of a matching but expiring entry (or NULL).
 */
char *oauth2_cache_get(struct oauth2_cache *c, const char *mailbox,
    const char *password, time_t now, char **refresh);

/* Drops mailbox's entry (revoked token: the next use fetches a new one). */
void oauth2_cache_drop(struct oauth2_cache *c, const char *mailbox);

/*
 * What danegate-control shows of one cached entry: its state and never
 * the token, the refresh token or the password key (copied out under
 * the lock, so fn may take its time but must not call into the cache).
 */
struct oauth2_token_state {
	char mailbox[320];
	const char *state;		/* "valid", "renew-due" (within
					 * its renewal margin), "expired" */
	long long expires_in;		/* seconds from now, negative: past */
	bool refreshable;		/* a refresh token is held */
	bool password_keyed;		/* keyed to a mailbox password (ROPC) */
};

typedef int oauth2_cache_visit_fn(void *arg,
    const struct oauth2_token_state *st);

/* Calls fn(arg, state) for every entry, newest first, until fn returns
 * non-zero. */
void oauth2_cache_foreach(struct oauth2_cache *c, time_t now,
    oauth2_cache_visit_fn *fn, void *arg);

/* The one-line form: "MAILBOX state=valid expires-in=3299s
 * refresh-token=yes key=mailbox-password". 0 or DANEGATE_E_INVALID
 * (buf too small). */
int oauth2_token_state_format(const struct oauth2_token_state *st,
    char *buf, size_t len);

/* ---- the token request (blocking; run it in a worker) ------------------ */

struct oauth2_route {
	enum oauth2_grant grant;
	const char *endpoint;		/* full token URL */
	const char *scope;		/* NULL: the grant's default */
	const char *client_id;
	const char *client_secret;	/* SECRET and PASSWORD grants */
	gnutls_privkey_t key;		/* CERT grant */
	const gnutls_datum_t *cert_der;	/* CERT grant */
	const char *cafile;		/* NULL: the system store */
	const char *resolve;		/* "HOST:PORT:ADDR" for the endpoint
					 * (CURLOPT_RESOLVE: the relay's own
					 * validated lookup), or NULL */
	long timeout_s;			/* 0: 30 */
};

struct oauth2_token {
	char *access;			/* oauth2_secret_free() */
	char *refresh;			/* may be NULL */
	time_t expires_at;
};

void oauth2_token_clear(struct oauth2_token *t);

/*
 * Obtains a token for the route: with user/password for the password
 * grant, with refresh (not NULL) to use the refresh token instead.
 * Returns 0, or a negative DANEGATE_E_* with *smtp set to 535 or 4xx and
 * err holding "cause; fix" (never a secret).
 */
int oauth2_token_request(const struct oauth2_route *r, const char *user,
    const char *password, const char *refresh, time_t now,
    struct oauth2_token *out, unsigned *smtp, char *err, size_t errlen);

/*
 * The token to send as mailbox: the cached one if it is good for more
 * than OAUTH2_RENEW_MARGIN, else a refresh with the cached refresh token,
 * else a new request (user = mailbox; password only for the password
 * grant, where it keys the cache). A refused refresh falls back to a new
 * request. A token obtained is cached; a refusal caches nothing. *token:
 * caller frees with oauth2_secret_free(). *fetched: 0 cached, 1 refreshed,
 * 2 requested. Returns as oauth2_token_request().
 */
int oauth2_token_get(struct oauth2_cache *c, const struct oauth2_route *r,
    const char *mailbox, const char *password, time_t now, char **token,
    int *fetched, unsigned *smtp, char *err, size_t errlen);

/*
 * Parses a token endpoint's JSON answer (the body of a 200 or 400 reply);
 * fills out on success; on an error object, *smtp and err from the
 * AADSTS table. Exposed for the unit tests and the fuzzer.
 */
int oauth2_token_parse(const char *body, size_t len, time_t now,
    struct oauth2_token *out, unsigned *smtp, char *err, size_t errlen);

#endif
