/*
 * algcheck.c - see algcheck.h.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <unbound.h>

#include "algcheck.h"
#include "log.h"

#include "algcheck_zones.h"

#define ALGCHECK_MAX 32

/* Inside every signature's validity window (2025-01-01 .. 2090-01-01). */
#define ALGCHECK_DATE "20260101000000"

const struct algcheck_zone *
algcheck_zones_builtin(size_t *n)
{
	*n = sizeof(algcheck_zones) / sizeof(algcheck_zones[0]);
	return algcheck_zones;
}

const char *
algcheck_verdict_name(enum algcheck_verdict v)
{
	switch (v) {
	case ALGCHECK_SECURE:
		return "secure";
	case ALGCHECK_INSECURE:
		return "insecure";
	case ALGCHECK_BOGUS:
		return "bogus";
	case ALGCHECK_FAILED:
		break;
	}
	return "failed";
}

/* A memfd holding text; -1 (errno set) on failure. */
static int
algcheck_memfd(const char *text)
{
	size_t len = strlen(text), off = 0;
	int fd = memfd_create("danegated-algcheck", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return fd;
}

/*
 * The context: one auth-zone per test zone, served to libunbound's own
 * iterator (for-upstream) and never to clients, with no fallback to the
 * network; the zone's DS as its only trust anchor. Every file is a memfd
 * (fds[], closed by the caller).
 */
static struct ub_ctx *
algcheck_ctx(const struct algcheck_zone *zones, size_t n, int *fds,
    char *err, size_t errlen)
{
	char conf[ALGCHECK_MAX * 200 + 200], path[64];
	size_t off;
	struct ub_ctx *ctx;
	int rc;

	off = (size_t)snprintf(conf, sizeof(conf),
	    "server:\n\tval-override-date: \"%s\"\n", ALGCHECK_DATE);
	for (size_t i = 0; i < n; i++) {
		if ((fds[i] = algcheck_memfd(zones[i].data)) < 0) {
			snprintf(err, errlen, "memfd: %s", strerror(errno));
			return NULL;
		}
		off += (size_t)snprintf(conf + off, sizeof(conf) - off,
		    "auth-zone:\n\tname: \"%s\"\n"
		    "\tzonefile: \"/proc/self/fd/%d\"\n"
		    "\tfor-upstream: yes\n\tfor-downstream: no\n"
		    "\tfallback-enabled: no\n", zones[i].zone, fds[i]);
		if (off >= sizeof(conf)) {
			snprintf(err, errlen, "too many test zones");
			return NULL;
		}
	}
	if ((fds[n] = algcheck_memfd(conf)) < 0) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		return NULL;
	}
	if ((ctx = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "cannot create a libunbound context");
		return NULL;
	}
	/* where the daemon's own context logs, too */
	(void)ub_ctx_debugout(ctx, stderr);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[n]);
	if ((rc = ub_ctx_config(ctx, path)) != 0) {
		snprintf(err, errlen, "libunbound refused the check's "
		    "configuration: %s", ub_strerror(rc));
		ub_ctx_delete(ctx);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = ub_ctx_add_ta(ctx, zones[i].ds)) != 0) {
			snprintf(err, errlen, "libunbound refused the trust "
			    "anchor of %s: %s", zones[i].zone, ub_strerror(rc));
			ub_ctx_delete(ctx);
			return NULL;
		}
	return ctx;
}

int
algcheck_run(const struct algcheck_zone *zones, size_t n,
    struct algcheck_result *res, char *err, size_t errlen)
{
	int fds[ALGCHECK_MAX + 1];
	struct ub_ctx *ctx;
	int rc = 0;

	if (n > ALGCHECK_MAX) {
		snprintf(err, errlen, "too many test zones");
		return -1;
	}
	for (size_t i = 0; i <= n; i++)
		fds[i] = -1;
	if ((ctx = algcheck_ctx(zones, n, fds, err, errlen)) == NULL) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char qname[300];
		struct ub_result *r = NULL;
		int urc;

		res[i].zone = &zones[i];
		res[i].why[0] = '\0';
		snprintf(qname, sizeof(qname), "www.%s", zones[i].zone);
		urc = ub_resolve(ctx, qname, 1 /* A */, 1 /* IN */, &r);
		if (urc != 0) {
			/* e.g. the auth-zone could not be loaded */
			res[i].verdict = ALGCHECK_FAILED;
			snprintf(res[i].why, sizeof(res[i].why), "%s",
			    ub_strerror(urc));
			continue;
		}
		if (r->secure && r->havedata)
			res[i].verdict = ALGCHECK_SECURE;
		else if (r->bogus)
			res[i].verdict = ALGCHECK_BOGUS;
		else if (r->havedata)
			res[i].verdict = ALGCHECK_INSECURE;
		else
			res[i].verdict = ALGCHECK_FAILED;
		if (r->why_bogus != NULL)
			snprintf(res[i].why, sizeof(res[i].why), "%s",
			    r->why_bogus);
		else if (res[i].verdict == ALGCHECK_FAILED)
			snprintf(res[i].why, sizeof(res[i].why), "rcode %d",
			    r->rcode);
		ub_resolve_free(r);
	}
	ub_ctx_delete(ctx);
out:
	for (size_t i = 0; i <= n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

int
algcheck_log(void)
{
	struct algcheck_result res[ALGCHECK_MAX];
	char err[256], msg[512], ok_alg[128] = "", ok_ds[64] = "";
	const struct algcheck_zone *zones;
	size_t n;
	int must_fail = 0;

	zones = algcheck_zones_builtin(&n);
	if (algcheck_run(zones, n, res, err, sizeof(err)) != 0) {
		log_err("DNSSEC algorithm check could not run (%s): which "
		    "algorithms libunbound %s validates is unknown", err,
		    ub_version());
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct algcheck_zone *z = res[i].zone;
		bool must = strcmp(z->rfc8624, "MUST") == 0;
		char *list = z->kind == ALGCHECK_ALGORITHM ? ok_alg : ok_ds;
		size_t cap = z->kind == ALGCHECK_ALGORITHM ? sizeof(ok_alg) :
		    sizeof(ok_ds);
		const char *what = z->kind == ALGCHECK_ALGORITHM ?
		    "DNSSEC algorithm" : "DS digest type";

		if (res[i].verdict == ALGCHECK_SECURE) {
			size_t len = strlen(list);

			snprintf(list + len, cap - len, "%s%d",
			    len ? " " : "", z->number);
			continue;
		}
		if (res[i].verdict == ALGCHECK_INSECURE)
			snprintf(msg, sizeof(msg), "libunbound %s cannot "
			    "validate %s %d (%s; RFC 8624: %s): zones signed "
			    "only with it come out insecure (no AD, no DANE)",
			    ub_version(), what, z->number, z->name,
			    z->rfc8624);
		else
			snprintf(msg, sizeof(msg), "libunbound %s cannot "
			    "validate %s %d (%s; RFC 8624: %s): its test zone "
			    "came out %s (%s)", ub_version(), what, z->number,
			    z->name, z->rfc8624,
			    algcheck_verdict_name(res[i].verdict),
			    res[i].why[0] ? res[i].why : "no reason given");
		if (must) {
			must_fail++;
			log_err("%s", msg);
		} else {
			log_warnx("%s", msg);
		}
	}
	log_notice("libunbound %s validates DNSSEC algorithms %s and DS "
	    "digest types %s", ub_version(), ok_alg[0] ? ok_alg : "(none)",
	    ok_ds[0] ? ok_ds : "(none)");
	return must_fail;
}
