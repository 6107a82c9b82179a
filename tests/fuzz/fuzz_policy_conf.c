/*
 * fuzz_policy_conf.c - libFuzzer target for danegate-policy's
 * configuration (plugin/policy/conf.c).
 *
 * The first byte picks the target. Odd: the rest is an ADDR[@PORT] for
 * policy_conf_parse_tcp() (listen:, prometheus-interface:); an accepted
 * one must be AF_INET or AF_INET6 with a port, and print back (inet_ntop,
 * "@PORT") to a spec that parses to the same address. Even: the rest is a
 * policy.conf, read through a memfd by policy_conf_load() (cfgfile.c's
 * syntax, conf.c's meaning, access-control: into lib/acl.c), the result
 * freed. Any difference aborts; bugs show as sanitizer reports or leaks.
 *
 *     tests/fuzz/fuzz_policy_conf -max_len=4096 tests/fuzz/corpus/policy_conf
 *
 * SECURITY: includes are switched off before the first input (fuzz input
 * must not name files to open).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfgfile.h"
#include "conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_addr(const uint8_t *data, size_t size, unsigned dflt)
{
	struct sockaddr_storage ss, again;
	socklen_t len, len2;
	char spec[256], host[INET6_ADDRSTRLEN], back[300];
	const void *a;
	unsigned port;

	if (size >= sizeof(spec))
		size = sizeof(spec) - 1;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (policy_conf_parse_tcp(spec, dflt, &ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		if (len != sizeof(*s4))
			abort();
		a = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)&ss;

		if (len != sizeof(*s6))
			abort();
		a = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else {
		abort();
	}
	if (port == 0 || (strchr(spec, '@') == NULL && port != dflt))
		abort();
	if (inet_ntop(ss.ss_family, a, host, sizeof(host)) == NULL)
		abort();
	snprintf(back, sizeof(back), "%s@%u", host, port);
	if (policy_conf_parse_tcp(back, 0, &again, &len2) != 0 ||
	    len2 != len || memcmp(&again, &ss, len) != 0)
		abort();
}

static void
check_conf(const uint8_t *data, size_t size)
{
	struct policy_conf *conf = NULL;
	char path[64];
	int fd = memfd_create("policy.conf", MFD_CLOEXEC);

	if (fd < 0)
		return;
	if (size == 0 || write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (policy_conf_load(path, NULL, &conf) == 0 && conf == NULL)
			abort();
		policy_conf_free(conf);
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialized;

	if (!initialized) {
		cfg_file_allow_includes(false);
		log_init("fuzz_policy_conf", LOG_VERB_OPS);
		initialized = 1;
	}
	if (size == 0)
		return 0;
	if (data[0] & 1)
		check_addr(data + 1, size - 1, (data[0] & 2) ? 9167 : 0);
	else
		check_conf(data + 1, size - 1);
	return 0;
}
