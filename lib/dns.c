/*
 * dns.c - see dns.h.
 */
#include "config.h"

#include <stddef.h>

#include "dns.h"

const char *
dns_rcode_name(int rcode)
{
	switch (rcode) {
	case DNS_RCODE_NOERROR:
		return "NOERROR";
	case DNS_RCODE_FORMERR:
		return "FORMERR";
	case DNS_RCODE_SERVFAIL:
		return "SERVFAIL";
	case DNS_RCODE_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_RCODE_NOTIMP:
		return "NOTIMP";
	case DNS_RCODE_REFUSED:
		return "REFUSED";
	case DNS_RCODE_BADVERS:
		return "BADVERS";
	default:
		return NULL;
	}
}

const char *
dns_ede_name(int ede)
{
	/* RFC 8914 §4 */
	switch (ede) {
	case DNS_EDE_OTHER:
		return "Other Error";
	case 1:
		return "Unsupported DNSKEY Algorithm";
	case 2:
		return "Unsupported DS Digest Type";
	case 3:
		return "Stale Answer";
	case 4:
		return "Forged Answer";
	case 5:
		return "DNSSEC Indeterminate";
	case DNS_EDE_DNSSEC_BOGUS:
		return "DNSSEC Bogus";
	case DNS_EDE_SIGNATURE_EXPIRED:
		return "Signature Expired";
	case DNS_EDE_SIGNATURE_NOT_YET_VALID:
		return "Signature Not Yet Valid";
	case DNS_EDE_DNSKEY_MISSING:
		return "DNSKEY Missing";
	case DNS_EDE_RRSIGS_MISSING:
		return "RRSIGs Missing";
	case 11:
		return "No Zone Key Bit Set";
	case DNS_EDE_NSEC_MISSING:
		return "NSEC Missing";
	case 13:
		return "Cached Error";
	case 14:
		return "Not Ready";
	case 15:
		return "Blocked";
	case 16:
		return "Censored";
	case 17:
		return "Filtered";
	case DNS_EDE_PROHIBITED:
		return "Prohibited";
	case 19:
		return "Stale NXDOMAIN Answer";
	case 20:
		return "Not Authoritative";
	case 21:
		return "Not Supported";
	case DNS_EDE_NO_REACHABLE_AUTHORITY:
		return "No Reachable Authority";
	case DNS_EDE_NETWORK_ERROR:
		return "Network Error";
	case 24:
		return "Invalid Data";
	default:
		return NULL;
	}
}
