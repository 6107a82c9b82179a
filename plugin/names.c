/*
 * names.c - the words libdanegate uses for its codes: errors, DNSSEC
 * states, reasons (RFC 8460 result types for failures), policies and TLSA
 * usability. These strings are part of the API: tlsa-check's JSON and the
 * logs of the programs built on the library carry them, so they never
 * change once released.
 */
#include "config.h"

#include <stddef.h>

#include "internal.h"

DANEGATE_EXPORT const char *
danegate_strerror(int err)
{
	switch (err) {
	case DANEGATE_OK:
		return "success";
	case DANEGATE_E_NOMEM:
		return "out of memory";
	case DANEGATE_E_INVALID:
		return "invalid argument or input";
	case DANEGATE_E_RESOLVER:
		return "the validating resolver could not be set up";
	case DANEGATE_E_TIMEOUT:
		return "timed out";
	case DANEGATE_E_NETWORK:
		return "network error";
	case DANEGATE_E_PROTOCOL:
		return "SMTP protocol error";
	case DANEGATE_E_TLS:
		return "TLS handshake failed";
	case DANEGATE_E_CANCELLED:
		return "cancelled";
	default:
		return "unknown error";
	}
}

DANEGATE_EXPORT const char *
danegate_dnssec_name(enum danegate_dnssec state)
{
	switch (state) {
	case DANEGATE_SECURE:
		return "secure";
	case DANEGATE_INSECURE:
		return "insecure";
	case DANEGATE_BOGUS:
		return "bogus";
	case DANEGATE_INDETERMINATE:
		return "indeterminate";
	}
	return "unknown";
}

static const char *const reason_names[DANEGATE_R_COUNT] = {
	[DANEGATE_R_NONE] = "none",
	[DANEGATE_R_DANE_VERIFIED] = "dane-verified",
	[DANEGATE_R_DANE_TRUSTED] = "dane-trusted",
	[DANEGATE_R_TLSA_UNUSABLE] = "tlsa-unusable",
	[DANEGATE_R_NO_TLSA] = "no-tlsa",
	[DANEGATE_R_INSECURE_ADDRESS] = "insecure-address",
	[DANEGATE_R_INSECURE_TLSA] = "insecure-tlsa",
	[DANEGATE_R_NULL_MX] = "null-mx",
	[DANEGATE_R_NO_ADDRESS] = "no-address",
	[DANEGATE_R_STARTTLS_NOT_SUPPORTED] = "starttls-not-supported",
	[DANEGATE_R_CERT_HOST_MISMATCH] = "certificate-host-mismatch",
	[DANEGATE_R_CERT_EXPIRED] = "certificate-expired",
	[DANEGATE_R_CERT_NOT_TRUSTED] = "certificate-not-trusted",
	[DANEGATE_R_VALIDATION_FAILURE] = "validation-failure",
	[DANEGATE_R_TLSA_INVALID] = "tlsa-invalid",
	[DANEGATE_R_DNSSEC_INVALID] = "dnssec-invalid",
	[DANEGATE_R_DANE_REQUIRED] = "dane-required",
	[DANEGATE_R_STS_POLICY_FETCH_ERROR] = "sts-policy-fetch-error",
	[DANEGATE_R_STS_POLICY_INVALID] = "sts-policy-invalid",
	[DANEGATE_R_STS_WEBPKI_INVALID] = "sts-webpki-invalid",
};

DANEGATE_EXPORT const char *
danegate_reason_name(enum danegate_reason reason)
{
	if ((unsigned)reason >= DANEGATE_R_COUNT ||
	    reason_names[reason] == NULL)
		return "unknown";
	return reason_names[reason];
}

DANEGATE_EXPORT const char *
danegate_policy_name(enum danegate_tls_policy p)
{
	switch (p) {
	case DANEGATE_POLICY_DANE:
		return "dane";
	case DANEGATE_POLICY_ENCRYPT:
		return "encrypt";
	case DANEGATE_POLICY_MAY:
		return "may";
	case DANEGATE_POLICY_DEFER:
		return "defer";
	case DANEGATE_POLICY_NO_MAIL:
		return "no-mail";
	}
	return "unknown";
}

DANEGATE_EXPORT const char *
danegate_tlsa_usability_name(enum danegate_tlsa_usability u)
{
	switch (u) {
	case DANEGATE_TLSA_USABLE:
		return "usable";
	case DANEGATE_TLSA_PKIX_USAGE:
		return "pkix-usage";
	case DANEGATE_TLSA_UNKNOWN_USAGE:
		return "unknown-usage";
	case DANEGATE_TLSA_UNKNOWN_SELECTOR:
		return "unknown-selector";
	case DANEGATE_TLSA_UNKNOWN_MTYPE:
		return "unknown-matching-type";
	case DANEGATE_TLSA_BAD_LENGTH:
		return "bad-digest-length";
	}
	return "unknown";
}
