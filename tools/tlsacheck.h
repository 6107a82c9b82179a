/*
 * tlsacheck.h - tlsa-check's logic besides the audit (audit.h) and the
 * report (report.h): the command line's pieces, the list of names to
 * audit, and the gen subcommand. With audit.c and report.c they are
 * tools/libtlsacheck.la, which the unit tests link; tlsa-check.c is main()
 * and the worker threads.
 */
#ifndef TLSA_CHECK_TLSACHECK_H
#define TLSA_CHECK_TLSACHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes: 0 all good, 1 warnings only, 2 a domain fails or would
 * defer (audit_exit_class), 3 usage or configuration error. */
#define TLSA_CHECK_EXIT_USAGE 3

/* The usage text. */
void cli_usage(FILE *f);

/*
 * A decimal number from min to max for option opt; on error says so on
 * stderr ("tlsa-check: --port: 'x' is not a number from 1 to 65535") and
 * returns -1.
 */
int cli_parse_uint(const char *opt, const char *s, unsigned long min,
    unsigned long max, unsigned long *out);

/* The names to audit, in order. */
struct target {
	char *name;
	bool host_mode;			/* --host: a host, not a domain */
};

struct targets {
	struct target *list;
	size_t n;
};

/* Appends a copy of name. Returns 0, or -1 out of memory. */
int targets_add(struct targets *t, const char *name, bool host_mode);

/*
 * Appends the names of a file ("-": standard input), one per line;
 * blanks and '#' comments ignored. Returns -1 after saying
 * "tlsa-check: FILE:LINE: one domain per line" (or why it cannot be read)
 * on stderr.
 */
int targets_read(struct targets *t, const char *path);

/* Frees every name; t is empty afterwards. */
void targets_free(struct targets *t);

/* tlsa-check gen [options] FILE.pem (argv[0] is "gen"): TLSA records for
 * a certificate chain or a key. Returns the exit code. */
int gen_main(int argc, char **argv);

#endif
