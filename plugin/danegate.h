/*
 * danegate.h - libdanegate, the SMTP DANE engine (RFC 7672, RFC 7671).
 *
 * What it answers, for a mail domain: which MX hosts, at which addresses,
 * and for each the TLS a DANE-enforcing sender must insist on (dane,
 * encrypt, may, or defer), with a stable reason code; and, for one SMTP
 * connection, whether the server's certificate chain matches the host's
 * usable TLSA records.
 *
 * Every DNS answer is validated here with libunbound and a trust anchor; an
 * AD bit from elsewhere is never trusted. Resolution recurses from the root
 * or goes through a forwarder (danegated in the appliance), still
 * validating locally.
 *
 * Conventions: functions return 0 or a negative DANEGATE_E_* code and never
 * exit; objects come from *_new()/lookups and go with the matching *_free(),
 * which accepts NULL. Strings in result structs are NUL-terminated and owned
 * by the struct.
 *
 * Two ways to call: blocking functions for tools and scripts, and *_async
 * variants that run on the caller's libevent base and call back once.
 *
 * SECURITY: talks to DNS servers (through libunbound) and to SMTP servers
 * on port 25; parses their answers with bounds checks. Runs with the
 * caller's privileges.
 */
#ifndef DANEGATE_H
#define DANEGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

#define DANEGATE_NAME_MAX 256		/* presentation name + NUL */

/* ---- errors ----------------------------------------------------------- */

enum danegate_error {
	DANEGATE_OK = 0,
	DANEGATE_E_NOMEM = -1,
	DANEGATE_E_INVALID = -2,	/* bad argument or input text */
	DANEGATE_E_RESOLVER = -3,	/* libunbound could not be set up */
	DANEGATE_E_TIMEOUT = -4,
	DANEGATE_E_NETWORK = -5,	/* connect/read/write failed */
	DANEGATE_E_PROTOCOL = -6,	/* the peer broke SMTP */
	DANEGATE_E_TLS = -7,		/* TLS handshake failed */
	DANEGATE_E_CANCELLED = -8,
};

/* A sentence for an error code; never NULL. */
const char *danegate_strerror(int err);

/* ---- DNSSEC state of a lookup ------------------------------------------ */

enum danegate_dnssec {
	DANEGATE_SECURE = 0,
	DANEGATE_INSECURE = 1,
	DANEGATE_BOGUS = 2,
	DANEGATE_INDETERMINATE = 3,	/* SERVFAIL, timeout, no answer */
};

/* "secure", "insecure", "bogus", "indeterminate" */
const char *danegate_dnssec_name(enum danegate_dnssec state);

/* ---- reason codes ------------------------------------------------------ */

/*
 * Stable reason codes carried by every verdict. The failures map onto the
 * RFC 8460 (TLS-RPT) result types; danegate_reason_name() returns exactly
 * those strings for them ("starttls-not-supported", ...). The others name
 * a non-failure outcome ("dane-verified", "no-tlsa", ...).
 */
enum danegate_reason {
	/* outcomes */
	DANEGATE_R_NONE = 0,		/* "none": nothing to say */
	DANEGATE_R_DANE_VERIFIED,	/* "dane-verified": secure MX, match */
	DANEGATE_R_DANE_TRUSTED,	/* "dane-trusted": insecure MX, secure
					 * host, match (RFC 7672 §2.2.1) */
	DANEGATE_R_TLSA_UNUSABLE,	/* "tlsa-unusable": secure TLSA, none
					 * usable: encrypt */
	DANEGATE_R_NO_TLSA,		/* "no-tlsa": secure denial of TLSA */
	DANEGATE_R_INSECURE_ADDRESS,	/* "insecure-address": host's A/AAAA
					 * insecure, TLSA not looked up */
	DANEGATE_R_INSECURE_TLSA,	/* "insecure-tlsa": TLSA in an
					 * unsigned zone */
	DANEGATE_R_NULL_MX,		/* "null-mx": RFC 7505, no mail */
	DANEGATE_R_NO_ADDRESS,		/* "no-address": host has no A/AAAA */
	/* RFC 8460 failure result types */
	DANEGATE_R_STARTTLS_NOT_SUPPORTED,	/* "starttls-not-supported" */
	DANEGATE_R_CERT_HOST_MISMATCH,		/* "certificate-host-mismatch" */
	DANEGATE_R_CERT_EXPIRED,		/* "certificate-expired" */
	DANEGATE_R_CERT_NOT_TRUSTED,		/* "certificate-not-trusted" */
	DANEGATE_R_VALIDATION_FAILURE,		/* "validation-failure" */
	DANEGATE_R_TLSA_INVALID,		/* "tlsa-invalid" */
	DANEGATE_R_DNSSEC_INVALID,		/* "dnssec-invalid" */
	DANEGATE_R_DANE_REQUIRED,		/* "dane-required" */
	DANEGATE_R_STS_POLICY_FETCH_ERROR,	/* "sts-policy-fetch-error" */
	DANEGATE_R_STS_POLICY_INVALID,		/* "sts-policy-invalid" */
	DANEGATE_R_STS_WEBPKI_INVALID,		/* "sts-webpki-invalid" */
	DANEGATE_R_COUNT
};

const char *danegate_reason_name(enum danegate_reason reason);

/* ---- resolver ---------------------------------------------------------- */

struct danegate_resolver_options {
	/* DS or DNSKEY records in zone-file format; NULL: the system's
	 * root key, /usr/share/dns/root.key (Debian's dns-root-data) */
	const char *trust_anchor_file;
	/* "ADDR[@PORT]": forward every query there (e.g. danegated) and
	 * still validate locally; NULL: recurse from the root */
	const char *forwarder;
	/* a libunbound config file read after the settings above (tests: the
	 * world's root hints, do-not-query-localhost: no); NULL: none */
	const char *unbound_conf;
	unsigned timeout_ms;		/* per lookup; 0: 5000 */
};

struct danegate_resolver;

/*
 * Creates a validating resolver. With base NULL only the blocking calls
 * may be used; with a libevent base, only the *_async ones. Returns NULL
 * and sets *err on failure.
 */
struct danegate_resolver *danegate_resolver_new(
    const struct danegate_resolver_options *opts, struct event_base *base,
    int *err);
/* Freeing a resolver cancels its lookups in flight without calling
 * back. */
void danegate_resolver_free(struct danegate_resolver *r);

/*
 * Checks the trust anchor before the resolver is trusted with anything:
 * libunbound reads it only at the first lookup, and with an anchor that
 * matches no key every answer would fail (or, without one, come out
 * insecure), which would look like a DNS failure of each domain. The
 * anchored zone's DNSKEY RRset must validate as secure; the rule is
 * danegated's readiness check. Blocking resolvers only. Returns 0, or
 * DANEGATE_E_RESOLVER with a sentence in why ("the trust anchor for .
 * does not validate: DNSKEY SERVFAIL (EDE 22 No Reachable Authority)"),
 * or DANEGATE_E_INVALID.
 */
int danegate_resolver_check(struct danegate_resolver *r, char *why,
    size_t cap);

/* A validated TXT lookup (MTA-STS, TLS-RPT, SPF, DMARC records). */
struct danegate_txt {
	enum danegate_dnssec state;
	bool exists;			/* false: NXDOMAIN or no TXT */
	char **records;			/* each record's strings joined */
	size_t n_records;
	char why[256];			/* libunbound's reason when bogus */
};

/* Blocking. *out is set on success; free with danegate_txt_free(). */
int danegate_lookup_txt(struct danegate_resolver *r, const char *name,
    struct danegate_txt **out);
void danegate_txt_free(struct danegate_txt *t);

/* ---- TLSA records ------------------------------------------------------ */

enum danegate_tlsa_usability {
	DANEGATE_TLSA_USABLE = 0,
	DANEGATE_TLSA_PKIX_USAGE,	/* usage 0 or 1: unusable for SMTP */
	DANEGATE_TLSA_UNKNOWN_USAGE,
	DANEGATE_TLSA_UNKNOWN_SELECTOR,
	DANEGATE_TLSA_UNKNOWN_MTYPE,
	DANEGATE_TLSA_BAD_LENGTH,	/* 32 bytes for SHA2-256, 64 for
					 * SHA2-512; full data non-empty */
};

struct danegate_tlsa {
	uint8_t usage, selector, mtype;
	uint8_t *data;			/* owned */
	size_t len;
	enum danegate_tlsa_usability usability;
};

/* "usable", "pkix-usage", "unknown-usage", "unknown-selector",
 * "unknown-matching-type", "bad-digest-length" */
const char *danegate_tlsa_usability_name(enum danegate_tlsa_usability u);

/*
 * Parses one TLSA record's rdata in presentation form, "3 1 1 <hex>"
 * (hex may contain blanks), and judges it. Caller frees out->data with
 * danegate_tlsa_clear().
 */
int danegate_tlsa_parse(const char *text, struct danegate_tlsa *out);
/* Same from wire-format rdata. */
int danegate_tlsa_from_wire(const uint8_t *rdata, size_t len,
    struct danegate_tlsa *out);
void danegate_tlsa_clear(struct danegate_tlsa *t);

/* Writes "3 1 1 <HEX>" into out; returns 0 or DANEGATE_E_INVALID if it
 * does not fit. */
int danegate_tlsa_format(const struct danegate_tlsa *t, char *out,
    size_t cap);

/*
 * Computes the TLSA record for a DER certificate: usage/selector/mtype as
 * given (mtype 0 = full data). For tlsa-check gen.
 */
int danegate_tlsa_for_cert(const uint8_t *der, size_t der_len,
    uint8_t usage, uint8_t selector, uint8_t mtype, struct danegate_tlsa *out);

/* The result of matching a chain against TLSA records. */
struct danegate_match {
	bool matched;
	int record;			/* index of the matching record; -1 when
					 * nothing matched (or no match was
					 * tried), even if an anchor matched
					 * but the chain or name then failed:
					 * why names it */
	int depth;			/* chain position it matched: 0 = leaf;
					 * a bare DANE-TA key: one above the
					 * certificate it signed; else -1 */
	enum danegate_reason reason;	/* DANE_VERIFIED or a failure */
	char why[256];			/* a sentence for humans */
};

/*
 * Matches a peer chain (DER certificates, leaf first) against records
 * (RFC 7671/7672): usage 3 against the leaf (certificate or SPKI; names
 * and dates ignored); usage 2 against any certificate in the chain, or a
 * bare key, then the chain is verified up to that anchor with dates, and
 * the leaf's name is checked against names (the TLSA base name, the MX
 * host name, the next-hop domain; NULL entries skipped). Unusable records
 * are skipped. now: the time for date checks, used as given (0 is the
 * epoch, not "now"). Only the first 16 certificates of the chain are
 * looked at: a longer chain can lose a match, never gain one.
 */
int danegate_tlsa_match(const struct danegate_tlsa *records, size_t n_records,
    const uint8_t *const *chain_der, const size_t *chain_len, size_t n_chain,
    const char *const *names, size_t n_names, time_t now,
    struct danegate_match *out);

/* ---- the destination (RFC 7672 §2) -------------------------------------- */

enum danegate_tls_policy {
	DANEGATE_POLICY_DANE = 0,	/* usable TLSA: STARTTLS + match */
	DANEGATE_POLICY_ENCRYPT,	/* secure TLSA, none usable */
	DANEGATE_POLICY_MAY,		/* opportunistic TLS */
	DANEGATE_POLICY_DEFER,		/* do not deliver now: 4xx */
	DANEGATE_POLICY_NO_MAIL,	/* null MX */
};

/* "dane", "encrypt", "may", "defer", "no-mail" */
const char *danegate_policy_name(enum danegate_tls_policy p);

struct danegate_address {
	struct sockaddr_storage ss;	/* port set to the destination's */
	socklen_t len;
	char text[64];			/* "192.0.2.25" or "2001:db8::25" */
};

struct danegate_mx_host {
	char name[DANEGATE_NAME_MAX];	/* as in the MX record */
	uint16_t preference;
	char expanded[DANEGATE_NAME_MAX]; /* after CNAMEs ("" if none) */
	char tlsa_base[DANEGATE_NAME_MAX]; /* where the TLSA RRset was */
	enum danegate_dnssec address_state;
	struct danegate_address *addresses;
	size_t n_addresses;
	enum danegate_dnssec tlsa_state;	/* meaningless if not looked up */
	bool tlsa_looked_up;
	struct danegate_tlsa *tlsa;
	size_t n_tlsa;
	enum danegate_tls_policy policy;
	bool trusted_only;		/* insecure MX RRset: a match counts as
					 * "trusted", not "verified" */
	enum danegate_reason reason;
	char why[256];
};

struct danegate_destination {
	char domain[DANEGATE_NAME_MAX];
	uint16_t port;
	enum danegate_dnssec mx_state;
	bool implicit_mx;		/* no MX: the domain itself */
	bool null_mx;			/* RFC 7505 */
	struct danegate_mx_host *hosts;	/* by preference */
	size_t n_hosts;
	enum danegate_tls_policy policy;	/* the first host in MX order that
					 * is not deferred; DEFER if all are */
	enum danegate_reason reason;
	char why[256];
	uint32_t ttl;			/* seconds this decision may be kept:
					 * the smallest TTL of the DNS answers
					 * it rests on (MX, A/AAAA, CNAME,
					 * TLSA; a denial's from its SOA); 0
					 * if one of them failed */
};

/*
 * Looks up a mail domain's MX hosts, their addresses and TLSA records and
 * applies RFC 7672 (see ../shared/DESIGN.md "SMTP DANE rules"). port: 25
 * normally. Blocking. On success *out is set (free with
 * danegate_destination_free()), even if the verdict is defer.
 */
int danegate_destination_lookup(struct danegate_resolver *r,
    const char *domain, uint16_t port, struct danegate_destination **out);

/* The same for one host instead of a domain's MX (tlsa-check --host):
 * an implicit destination with that single host. */
int danegate_host_lookup(struct danegate_resolver *r, const char *host,
    uint16_t port, struct danegate_destination **out);

typedef void danegate_destination_fn(void *arg, int err,
    struct danegate_destination *dest);

/* Asynchronous: cb(arg, err, dest) once; cb owns dest. */
int danegate_destination_lookup_async(struct danegate_resolver *r,
    const char *domain, uint16_t port, danegate_destination_fn *cb,
    void *arg);

void danegate_destination_free(struct danegate_destination *d);

/* ---- SMTP STARTTLS ------------------------------------------------------ */

struct danegate_smtp_options {
	const char *helo_name;		/* NULL: the local host name */
	unsigned timeout_ms;		/* per step; 0: 30000 */
	/* the names a DANE-TA leaf may carry: NULL entries skipped */
	const char *nexthop_domain;
};

struct danegate_cert_info {
	char subject[256];
	char issuer[256];
	char key[64];			/* "RSA 2048", "ECDSA P-256", ... */
	time_t not_before, not_after;
	uint8_t *der;			/* owned */
	size_t der_len;
};

struct danegate_smtp_result {
	char address[64];		/* where it connected */
	bool connected;
	char banner[512];		/* first line of the 220 */
	bool starttls_offered;
	bool tls_established;
	char tls_version[32];		/* "TLS1.3" */
	char cipher[128];
	struct danegate_cert_info *chain;	/* leaf first */
	size_t n_chain;
	struct danegate_match match;	/* when the host had usable TLSA */
	enum danegate_reason reason;	/* the outcome for this address */
	char error[256];		/* what went wrong, for humans */
};

/*
 * Connects to addr (port in addr), reads the banner, EHLO, STARTTLS, does
 * a GnuTLS handshake with SNI = host's TLSA base name (or its name), and,
 * when host has usable TLSA records, matches the chain. QUITs politely.
 * Blocking; each step bounded by opts->timeout_ms. *out is set (free with
 * danegate_smtp_result_free()) whenever the return is 0, even when the
 * server failed at some step: result->reason/error say which.
 */
int danegate_smtp_probe(const struct danegate_address *addr,
    const struct danegate_mx_host *host,
    const struct danegate_smtp_options *opts,
    struct danegate_smtp_result **out);

typedef void danegate_smtp_fn(void *arg, int err,
    struct danegate_smtp_result *res);

/* Asynchronous on base; cb owns res. */
int danegate_smtp_probe_async(struct event_base *base,
    const struct danegate_address *addr, const struct danegate_mx_host *host,
    const struct danegate_smtp_options *opts, danegate_smtp_fn *cb,
    void *arg);

/*
 * Copies res (a probe of one address) and judges the copy's chain for
 * host and nexthop_domain: its TLSA records, names and trusted_only. For
 * audits that connect to an address once and judge it for every domain
 * that uses it. What failed before TLS is kept as it was. *out is freed
 * with danegate_smtp_result_free().
 */
int danegate_smtp_result_rejudge(const struct danegate_smtp_result *res,
    const struct danegate_mx_host *host, const char *nexthop_domain,
    struct danegate_smtp_result **out);

void danegate_smtp_result_free(struct danegate_smtp_result *res);

#ifdef __cplusplus
}
#endif

#endif
