/*
 * cfgfile.h - reader for Unbound-style configuration files.
 *
 *     # comment
 *     server:
 *         interface: 127.0.0.1@53
 *         access-control: 10.0.0.0/8 allow
 *         local-data: "www.example. A 192.0.2.1"
 *         include: "/etc/danegate/conf.d/local-*.conf"
 *     forward-zone:
 *         name: "."
 *         forward-addr: 192.0.2.53
 *
 * The reader knows the syntax only, not the meaning: it returns the file as a
 * flat list of entries (clause, key, arguments, file, line). The syntax:
 *  - one "key: value" per line; a "name:" with nothing after it (but a
 *    comment) opens a clause; every key belongs to the last clause opened;
 *  - words are separated by blanks; "double" or 'single' quotes make a
 *    word of their own that may hold blanks (quotes removed in argv); there
 *    are no escapes and a quote cannot span lines;
 *  - '#' outside quotes starts a comment where a word could start, so that
 *    192.0.2.1@853#tls.example is one word (Unbound's lexer does the same);
 *  - `include: PATTERN` may appear anywhere, also before the first clause.
 *    PATTERN is a glob(3) pattern; the files it matches are read in sorted
 *    order as if pasted in place of the include line, so an included file
 *    continues the clause it was included in, and a clause it opens goes on
 *    after it (Unbound's behaviour). A pattern with wildcards that matches
 *    nothing is fine; a plain path that does not exist is an error. Includes
 *    nest at most CFG_INCLUDE_DEPTH deep, which also stops include loops.
 *    `include-toplevel: PATTERN` (Unbound 1.16) is the same, except that the
 *    clause in force is closed before and after the included files;
 *  - a key before any clause header is an error, and so is a line longer
 *    than CFG_LINE_MAX bytes, a NUL byte, or a file over CFG_FILE_MAX bytes.
 * include lines never appear in the output.
 *
 * SECURITY: reads files named by the configuration (root-owned, trusted) at
 * start-up and reload, before privileges are dropped. The text itself is
 * treated as untrusted input anyway (the parser is fuzzed): every access is
 * bounded by the length, and NUL bytes are rejected rather than truncating.
 * cfg_file_allow_includes(false) keeps fuzz input from opening files.
 *
 * Ownership: cfg_file_read()/cfg_file_parse() return a list the caller frees
 * with cfg_file_free(); every string in it belongs to the list.
 */
#ifndef DG_CFGFILE_H
#define DG_CFGFILE_H

#include <stdbool.h>
#include <stddef.h>

#define CFG_LINE_MAX		4096		/* bytes per line, without \n */
#define CFG_FILE_MAX		(64u << 20)	/* bytes per file */
#define CFG_INCLUDE_DEPTH	16		/* nested include levels */

struct cfg_entry {
	const char *clause;	/* "server", "forward-zone", ... */
	unsigned clause_seq;	/* counts clause headers from 0: groups the
				 * keys of one forward-zone: block; index
				 * into cfg_file.clauses */
	const char *key;	/* without the colon: "interface" */
	const char *value;	/* rest of the line, trimmed, comment removed,
				 * quotes kept as written */
	char **argv;		/* value split into words, quotes removed;
				 * NULL-terminated; argc >= 1 ("" is one
				 * empty word) */
	int argc;
	const char *file;	/* one of cfg_file.files */
	unsigned line;
};

/* A clause header ("forward-zone:"), also those with no keys under them, so
 * that the reader of the entries can report an empty or unknown clause at
 * the line where it starts. */
struct cfg_clause {
	const char *name;	/* without the colon */
	const char *file;	/* one of cfg_file.files */
	unsigned line;
};

struct cfg_arena;

struct cfg_file {
	struct cfg_entry *entries;	/* in file order, clause_seq ascending */
	size_t n_entries;
	struct cfg_clause *clauses;	/* indexed by clause_seq */
	size_t n_clauses;
	const char **files;		/* every file read, main file first, in
					 * the order they were opened */
	size_t n_files;
	struct cfg_arena *arena;	/* private: holds the strings */
};

/*
 * Reads path and everything it includes. On an error returns -1, sets *out
 * to NULL and writes "FILE:LINE: reason" (or "PATH: cannot open: reason")
 * into err. Returns 0 on success. Reading stops at the first error.
 */
int cfg_file_read(const char *path, struct cfg_file **out, char *err,
    size_t errlen);

/* Same, from len bytes in memory (name is used in messages): for tests and
 * fuzzing. text need not be NUL-terminated. Includes are followed relative
 * to the working directory. */
int cfg_file_parse(const char *name, const char *text, size_t len,
    struct cfg_file **out, char *err, size_t errlen);

void cfg_file_free(struct cfg_file *cf);

/*
 * Process-wide switch, on by default. Fuzz targets turn includes off so that
 * input bytes cannot make the reader open files: include: is then an error
 * "FILE:LINE: include: not allowed here (includes are disabled)".
 */
void cfg_file_allow_includes(bool allow);

/*
 * For the readers of the entries: a value of decimal digits only (no
 * sign, blanks or 0x, like Unbound; strtoul() would take " 5", "+5" and
 * wrap " -1") from min to max. Returns 0 with *out set, or -1.
 */
int cfg_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

#endif
