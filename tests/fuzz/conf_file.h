/*
 * conf_file.h - the fuzz input as a configuration file, for the targets
 * whose loader takes a file name (fuzz_policy_conf, fuzz_relay_conf): a
 * memfd holding the bytes, opened by the loader through /proc/self/fd.
 */
#ifndef DANEGATE_FUZZ_CONF_FILE_H
#define DANEGATE_FUZZ_CONF_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes data into a new memfd (name: what /proc shows) and its path
 * into path. Returns the fd, which the caller closes, or -1. */
static inline int
fuzz_conf_file(const char *name, const uint8_t *data, size_t size,
    char *path, size_t cap)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
