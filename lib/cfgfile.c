/*
 * cfgfile.c - reader for Unbound-style configuration files: see cfgfile.h
 * for the syntax.
 *
 * SECURITY: opens the files the configuration names (include:) with the
 * privileges of the caller, normally root at start-up. The bytes are parsed
 * as untrusted: lines are cut with memchr() within the buffer's length, every
 * line is bounded by CFG_LINE_MAX before it is copied to a stack buffer of
 * that size, and NUL bytes are an error (so a C string can never end early
 * and hide the rest of a line).
 *
 * Ownership: all strings of a cfg_file live in its arena, a list of chunks
 * freed at once by cfg_file_free(); the entries, clauses and files arrays are
 * separate allocations owned by the cfg_file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgfile.h"

/* Arena chunks: most configs fit in one. Strings of an entry are allocated
 * together, so a chunk holds a few hundred lines. */
#define CFG_CHUNK_SIZE	(64u << 10)

struct cfg_arena {
	struct cfg_arena *next;
	size_t used;
	size_t cap;
	max_align_t data[];	/* max_align_t: aligned for the argv arrays */
};

struct cfg_reader {
	struct cfg_file *cf;
	size_t cap_entries;
	size_t cap_clauses;
	size_t cap_files;
	const char *clause;	/* open clause, NULL before the first header */
	unsigned depth;		/* include nesting of the file being read */
	char *err;
	size_t errlen;
};

static bool cfg_includes_allowed = true;

/* glob(3)'s error callback has no user argument; the reader runs on one
 * thread at start-up or reload, so a static is enough. */
static int cfg_glob_errno;

void
cfg_file_allow_includes(bool allow)
{
	cfg_includes_allowed = allow;
}

/* cfgfile.h */
int
cfg_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int
cfg_error(struct cfg_reader *r, const char *fmt, ...)
{
	if (r->err != NULL && r->errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void *
cfg_arena_alloc(struct cfg_file *cf, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct cfg_arena *a = cf->arena, *big;
	void *p;

	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	/* A request that would waste most of a chunk gets a chunk of its own,
	 * linked behind the current one so that the current keeps filling. */
	if (n > CFG_CHUNK_SIZE / 4) {
		if (n > SIZE_MAX - sizeof(*big) ||
		    (big = malloc(sizeof(*big) + n)) == NULL)
			return NULL;
		big->used = big->cap = n;
		if (a == NULL) {
			big->next = NULL;
			cf->arena = big;
		} else {
			big->next = a->next;
			a->next = big;
		}
		return big->data;
	}
	if (a == NULL || a->cap - a->used < n) {
		if ((a = malloc(sizeof(*a) + CFG_CHUNK_SIZE)) == NULL)
			return NULL;
		a->used = 0;
		a->cap = CFG_CHUNK_SIZE;
		a->next = cf->arena;
		cf->arena = a;
	}
	p = (unsigned char *)a->data + a->used;
	a->used += n;
	return p;
}

static char *
cfg_arena_strndup(struct cfg_file *cf, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = cfg_arena_alloc(cf, n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Returns arr grown to hold more than n elements of elem bytes (*cap of
 * them now), arr itself when it has room, or NULL (arr untouched). */
static void *
cfg_grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return NULL;
	if ((p = realloc(arr, ncap * elem)) == NULL)
		return NULL;
	*cap = ncap;
	return p;
}

void
cfg_file_free(struct cfg_file *cf)
{
	struct cfg_arena *a, *next;

	if (cf == NULL)
		return;
	for (a = cf->arena; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	free(cf->entries);
	free(cf->clauses);
	free(cf->files);
	free(cf);
}

static const char *
cfg_add_file(struct cfg_reader *r, const char *path)
{
	struct cfg_file *cf = r->cf;
	const char **files;
	char *name;

	if ((files = cfg_grow(cf->files, &r->cap_files, cf->n_files,
	    sizeof(*cf->files))) == NULL)
		return NULL;
	cf->files = files;
	if ((name = cfg_arena_strndup(cf, path, strlen(path))) == NULL)
		return NULL;
	cf->files[cf->n_files++] = name;
	return name;
}

static bool
cfg_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool
cfg_is_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Copies at most 40 bytes of s for an error message, with anything that is
 * not printable ASCII shown as '?', so that a binary file cannot put
 * terminal escapes into the log. */
static void
cfg_snippet(char *out, size_t outlen, const char *s, size_t n)
{
	size_t i;

	if (n > 40)
		n = 40;
	if (n > outlen - 1)
		n = outlen - 1;
	for (i = 0; i < n; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[n] = '\0';
}

static int cfg_parse_text(struct cfg_reader *, const char *, const char *,
    size_t);

/*
 * Reads one file into memory and parses it. from/from_line name the include
 * line that asked for it (NULL for the main file), for the error message.
 */
static int
cfg_read_path(struct cfg_reader *r, const char *path, const char *from,
    unsigned from_line)
{
	struct stat st;
	const char *name;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t got;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail_errno;
	if (fstat(fd, &st) == -1)
		goto fail_errno;
	/* read(2) on a directory fails with EISDIR anyway, but only on some
	 * file systems; say it the same way everywhere */
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail_errno;
	}
	for (;;) {
		if (len == cap) {
			/* read one byte past the limit to tell "exactly at"
			 * from "over" */
			if (cap > CFG_FILE_MAX)
				break;
			cap = cap ? cap * 2 : 8192;
			if (cap > (size_t)CFG_FILE_MAX + 1)
				cap = (size_t)CFG_FILE_MAX + 1;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				close(fd);
				free(buf);
				return cfg_error(r, "out of memory");
			}
			buf = nbuf;
		}
		got = read(fd, buf + len, cap - len);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			int saved = errno;

			close(fd);
			free(buf);
			if (from == NULL)
				return cfg_error(r, "%s: cannot read: %s", path,
				    strerror(saved));
			return cfg_error(r, "%s:%u: include: cannot read '%s': "
			    "%s", from, from_line, path, strerror(saved));
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (len > CFG_FILE_MAX) {
		free(buf);
		return cfg_error(r, "%s: file larger than %u bytes", path,
		    CFG_FILE_MAX);
	}
	if ((name = cfg_add_file(r, path)) == NULL) {
		free(buf);
		return cfg_error(r, "out of memory");
	}
	rc = cfg_parse_text(r, name, buf, len);
	free(buf);
	return rc;

fail_errno:
	rc = errno;
	if (fd != -1)
		close(fd);
	if (from == NULL)
		return cfg_error(r, "%s: cannot open: %s", path, strerror(rc));
	return cfg_error(r, "%s:%u: include: cannot open '%s': %s", from,
	    from_line, path, strerror(rc));
}

static int
cfg_glob_error(const char *path, int eno)
{
	(void)path;
	/* A directory in the pattern that does not exist means the pattern
	 * matches nothing, like conf.d/ not being created yet: not an error.
	 * Anything else (EACCES, EIO) would silently drop configuration. */
	if (eno == ENOENT || eno == ENOTDIR)
		return 0;
	cfg_glob_errno = eno;
	return 1;
}

static int
cfg_include(struct cfg_reader *r, const char *file, unsigned line,
    const char *key, const char *pattern)
{
	glob_t g;
	size_t i;
	int rc;

	if (!cfg_includes_allowed)
		return cfg_error(r, "%s:%u: %s: not allowed here (includes are "
		    "disabled)", file, line, key);
	if (r->depth >= CFG_INCLUDE_DEPTH)
		return cfg_error(r, "%s:%u: %s: nested deeper than %d files "
		    "(an include loop?)", file, line, key, CFG_INCLUDE_DEPTH);
	r->depth++;
	/* A plain path is opened directly, so that a missing file is an
	 * error with its reason rather than a pattern matching nothing. */
	if (strpbrk(pattern, "*?[") == NULL) {
		rc = cfg_read_path(r, pattern, file, line);
		r->depth--;
		return rc;
	}
	cfg_glob_errno = 0;
	rc = glob(pattern, 0, cfg_glob_error, &g);
	switch (rc) {
	case 0:
		break;
	case GLOB_NOMATCH:
		r->depth--;
		return 0;
	case GLOB_NOSPACE:
		r->depth--;
		globfree(&g);
		return cfg_error(r, "out of memory");
	default:
		r->depth--;
		globfree(&g);
		return cfg_error(r, "%s:%u: %s: cannot expand '%s': %s", file,
		    line, key, pattern, strerror(cfg_glob_errno ?
		    cfg_glob_errno : EIO));
	}
	rc = 0;
	for (i = 0; i < g.gl_pathc && rc == 0; i++)
		rc = cfg_read_path(r, g.gl_pathv[i], file, line);
	globfree(&g);
	r->depth--;
	return rc;
}

static int
cfg_add_clause(struct cfg_reader *r, const char *file, unsigned line,
    const char *name, size_t namelen)
{
	struct cfg_file *cf = r->cf;
	struct cfg_clause *c;

	if (cf->n_clauses >= UINT32_MAX)
		return cfg_error(r, "%s:%u: too many clauses", file, line);
	if ((c = cfg_grow(cf->clauses, &r->cap_clauses, cf->n_clauses,
	    sizeof(*cf->clauses))) == NULL)
		return cfg_error(r, "out of memory");
	cf->clauses = c;
	c = &cf->clauses[cf->n_clauses];
	if ((c->name = cfg_arena_strndup(cf, name, namelen)) == NULL)
		return cfg_error(r, "out of memory");
	c->file = file;
	c->line = line;
	cf->n_clauses++;
	r->clause = c->name;
	return 0;
}

/* Adds an entry; words holds argc NUL-terminated words back to back. The
 * argv array and all strings of the entry share one arena block. */
static int
cfg_add_entry(struct cfg_reader *r, const char *file, unsigned line,
    const char *key, size_t keylen, const char *value, size_t valuelen,
    const char *words, size_t wordslen, int argc)
{
	struct cfg_file *cf = r->cf;
	struct cfg_entry *e;
	size_t vecsize = ((size_t)argc + 1) * sizeof(char *);
	char *block, *s;
	int i;

	if ((e = cfg_grow(cf->entries, &r->cap_entries, cf->n_entries,
	    sizeof(*cf->entries))) == NULL)
		return cfg_error(r, "out of memory");
	cf->entries = e;
	/* all sizes are bounded by CFG_LINE_MAX: no overflow */
	block = cfg_arena_alloc(cf, vecsize + keylen + 1 + valuelen + 1 +
	    wordslen);
	if (block == NULL)
		return cfg_error(r, "out of memory");
	e = &cf->entries[cf->n_entries];
	e->argv = (char **)(void *)block;
	s = block + vecsize;
	memcpy(s, key, keylen);
	s[keylen] = '\0';
	e->key = s;
	s += keylen + 1;
	memcpy(s, value, valuelen);
	s[valuelen] = '\0';
	e->value = s;
	s += valuelen + 1;
	memcpy(s, words, wordslen);
	for (i = 0; i < argc; i++) {
		e->argv[i] = s;
		s += strlen(s) + 1;
	}
	e->argv[argc] = NULL;
	e->argc = argc;
	e->clause = r->clause;
	e->clause_seq = (unsigned)(cf->n_clauses - 1);
	e->file = file;
	e->line = line;
	cf->n_entries++;
	return 0;
}

/* One line, without its newline; n <= CFG_LINE_MAX and no NUL in it. */
static int
cfg_parse_line(struct cfg_reader *r, const char *file, unsigned line,
    const char *p, size_t n)
{
	char words[CFG_LINE_MAX + 1];
	size_t i = 0, ks, keylen, vs = 0, ve = 0, wlen = 0;
	char quote = 0;
	bool inword = false;
	int argc = 0;

	while (i < n && cfg_is_space(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return 0;
	ks = i;
	while (i < n && cfg_is_keychar(p[i]))
		i++;
	keylen = i - ks;
	if (keylen == 0 || i == n || p[i] != ':') {
		char snip[48];

		cfg_snippet(snip, sizeof(snip), p + ks, n - ks);
		return cfg_error(r, "%s:%u: expected 'key: value' or 'clause:', "
		    "found '%s'", file, line, snip);
	}
	/* The value: split into words, as Unbound's lexer does: blanks
	 * separate words; a quoted string is a word of its own, quotes
	 * removed; '#' starts a comment only where a word could start, so
	 * 192.0.2.1@853#tls.example is one word. Each input byte gives at
	 * most one byte of words, and each word's NUL is paid for by the
	 * blank or quote that ended it (or by the end of the line), so
	 * words[] cannot overflow. */
	for (i++; i < n; i++) {
		char c = p[i];

		if (quote != 0) {
			if (c == quote) {
				quote = 0;
				words[wlen++] = '\0';
				argc++;
				inword = false;
			} else
				words[wlen++] = c;
			ve = i + 1;
			continue;
		}
		if (cfg_is_space(c)) {
			if (inword) {
				words[wlen++] = '\0';
				argc++;
				inword = false;
			}
			continue;
		}
		if (c == '#' && !inword)
			break;
		if (argc == 0 && !inword)
			vs = i;
		if (c == '"' || c == '\'') {
			if (inword) {
				words[wlen++] = '\0';
				argc++;
				inword = false;
			}
			quote = c;
		} else {
			words[wlen++] = c;
			inword = true;
		}
		ve = i + 1;
	}
	if (quote != 0)
		return cfg_error(r, "%s:%u: %.*s: missing closing %c quote", file,
		    line, (int)keylen, p + ks, quote);
	if (inword) {
		words[wlen++] = '\0';
		argc++;
	}

	if (argc == 0) {
		if ((keylen == 7 && memcmp(p + ks, "include", 7) == 0) ||
		    (keylen == 16 && memcmp(p + ks, "include-toplevel", 16) == 0))
			return cfg_error(r, "%s:%u: %.*s: needs a file name or "
			    "pattern", file, line, (int)keylen, p + ks);
		return cfg_add_clause(r, file, line, p + ks, keylen);
	}
	if ((keylen == 7 && memcmp(p + ks, "include", 7) == 0) ||
	    (keylen == 16 && memcmp(p + ks, "include-toplevel", 16) == 0)) {
		bool toplevel = keylen == 16;
		char key[17];
		int rc;

		memcpy(key, p + ks, keylen);
		key[keylen] = '\0';
		if (argc != 1)
			return cfg_error(r, "%s:%u: %s: expects one file name or "
			    "pattern, found %d words (quote a name with blanks)",
			    file, line, key, argc);
		/* include-toplevel: the included files start their own
		 * clauses, and what follows must open a new one */
		if (toplevel)
			r->clause = NULL;
		rc = cfg_include(r, file, line, key, words);
		if (toplevel)
			r->clause = NULL;
		return rc;
	}
	if (r->clause == NULL)
		return cfg_error(r, "%s:%u: '%.*s' outside of a clause (add "
		    "'server:' above it)", file, line, (int)keylen, p + ks);
	return cfg_add_entry(r, file, line, p + ks, keylen, p + vs, ve - vs,
	    words, wlen, argc);
}

/* Cuts text into lines and parses them; file is the name for messages. */
static int
cfg_parse_text(struct cfg_reader *r, const char *file, const char *text,
    size_t len)
{
	size_t pos = 0;
	unsigned line = 0;

	if (len > CFG_FILE_MAX)
		return cfg_error(r, "%s: file larger than %u bytes", file,
		    CFG_FILE_MAX);
	while (pos < len) {
		const char *p = text + pos;
		const char *nl = memchr(p, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - pos;

		pos += n + (nl != NULL);
		line++;
		/* CRLF files: the CR is not part of the line */
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > CFG_LINE_MAX)
			return cfg_error(r, "%s:%u: line longer than %d bytes",
			    file, line, CFG_LINE_MAX);
		if (memchr(p, '\0', n) != NULL)
			return cfg_error(r, "%s:%u: NUL byte in line (not a "
			    "text file?)", file, line);
		if (cfg_parse_line(r, file, line, p, n) != 0)
			return -1;
	}
	return 0;
}

static int
cfg_reader_init(struct cfg_reader *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->err = err;
	r->errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r->cf = calloc(1, sizeof(*r->cf))) == NULL)
		return cfg_error(r, "out of memory");
	return 0;
}

static int
cfg_reader_done(struct cfg_reader *r, int rc, struct cfg_file **out)
{
	if (rc != 0) {
		cfg_file_free(r->cf);
		*out = NULL;
		return -1;
	}
	*out = r->cf;
	return 0;
}

int
cfg_file_read(const char *path, struct cfg_file **out, char *err,
    size_t errlen)
{
	struct cfg_reader r;

	*out = NULL;
	if (cfg_reader_init(&r, err, errlen) != 0)
		return -1;
	return cfg_reader_done(&r, cfg_read_path(&r, path, NULL, 0), out);
}

int
cfg_file_parse(const char *name, const char *text, size_t len,
    struct cfg_file **out, char *err, size_t errlen)
{
	struct cfg_reader r;
	const char *file;
	int rc;

	*out = NULL;
	if (cfg_reader_init(&r, err, errlen) != 0)
		return -1;
	if ((file = cfg_add_file(&r, name)) == NULL)
		rc = cfg_error(&r, "out of memory");
	else
		rc = cfg_parse_text(&r, file, text, len);
	return cfg_reader_done(&r, rc, out);
}
