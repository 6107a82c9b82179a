/*
 * policy_table.c - the relay's TLS policy table and DANE exemption list:
 * two small line-based parsers and their lookups (see policy_table.h).
 *
 * Both files are read as a whole, then cut into lines; each line is cut
 * into blank-separated words with explicit lengths, never by writing into
 * the text. Every refusal names "FILE:LINE:" and the word at fault.
 *
 * SECURITY: administrator's files, parsed as untrusted input (fuzzed):
 * lengths are checked before every copy, NUL bytes and over-long lines
 * are refused.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin/relay/policy_table.h"

struct policy_table {
	struct policy_entry *entries;
	size_t n;
};

struct exemptions {
	struct exemption *entries;
	size_t n;
};

/* One word of a line: a pointer into the text and its length. */
struct word {
	const char *p;
	size_t len;
};

#define WORDS_MAX 64

static const char *const level_names[] = {
	[POLICY_LEVEL_NONE] = "none",
	[POLICY_LEVEL_MAY] = "may",
	[POLICY_LEVEL_ENCRYPT] = "encrypt",
	[POLICY_LEVEL_DANE] = "dane",
	[POLICY_LEVEL_DANE_ONLY] = "dane-only",
	[POLICY_LEVEL_VERIFY] = "verify",
	[POLICY_LEVEL_SECURE] = "secure",
};

const char *
policy_level_name(enum policy_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "unknown";
}

static void errf(char *err, size_t cap, const char *fname, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
errf(char *err, size_t cap, const char *fname, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || cap == 0)
		return;
	n = snprintf(err, cap, "%s:%u: ", fname, line);
	if (n < 0 || (size_t)n >= cap)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
}

/* A word for an error message: printable, at most 64 bytes shown. */
static void
word_show(const struct word *w, char *out, size_t cap)
{
	size_t n = w->len < 64 ? w->len : 64;

	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w->p[i];

		out[i] = c < 0x21 || c > 0x7e ? '?' : (char)c;
	}
	out[n] = '\0';
	if (w->len > n && n >= 3)
		memcpy(out + n - 3, "...", 3);
}

/*
 * Checks a domain name (letters, digits, '-', '_', dot-separated labels of
 * 1..63 bytes, at most 253 bytes, one optional trailing dot) and copies it
 * in lower case without the trailing dot. Returns false if it is not one.
 */
static bool
domain_copy(const char *p, size_t len, char *out, size_t cap)
{
	size_t label = 0;

	if (len > 0 && p[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			label++;
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
			label++;
		} else {
			return false;
		}
		if (label > 63)
			return false;
		out[i] = c;
	}
	if (label == 0)
		return false;
	out[len] = '\0';
	return true;
}

/* Lower case, no trailing dot: the form the tables store. */
static bool
domain_key(const char *domain, char *out, size_t cap)
{
	return domain != NULL && domain_copy(domain, strlen(domain), out, cap);
}

static bool
word_is(const struct word *w, const char *s)
{
	size_t n = strlen(s);

	return w->len == n && strncasecmp(w->p, s, n) == 0;
}

/*
 * Cuts a line into words at blanks, up to a '#' that starts a word.
 * Returns the number of words, or -1 if there are more than max.
 */
static int
line_words(const char *p, size_t len, struct word *w, int max)
{
	int n = 0;
	size_t i = 0;

	for (;;) {
		size_t start;

		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i == len || p[i] == '#')
			return n;
		if (n == max)
			return -1;
		start = i;
		while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			i++;
		w[n].p = p + start;
		w[n].len = i - start;
		n++;
	}
}

/*
 * Calls fn for each line of text with its words. Refuses NUL bytes, lines
 * over POLICY_LINE_MAX and files over POLICY_FILE_MAX. fn returns 0 or a
 * negative code (its error already written).
 */
typedef int line_fn(void *arg, unsigned line, struct word *w, int n,
    const char *fname, char *err, size_t cap);

static int
each_line(const char *fname, const char *text, size_t len, line_fn *fn,
    void *arg, char *err, size_t cap)
{
	struct word w[WORDS_MAX];
	unsigned line = 0;
	size_t pos = 0;

	if (len > POLICY_FILE_MAX) {
		errf(err, cap, fname, 0, "file over %u bytes", POLICY_FILE_MAX);
		return DANEGATE_E_INVALID;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		int n, rc;

		line++;
		if (end - pos > POLICY_LINE_MAX) {
			errf(err, cap, fname, line, "line longer than %u bytes",
			    POLICY_LINE_MAX);
			return DANEGATE_E_INVALID;
		}
		if (memchr(text + pos, '\0', end - pos) != NULL) {
			errf(err, cap, fname, line, "NUL byte in the line");
			return DANEGATE_E_INVALID;
		}
		n = line_words(text + pos, end - pos, w, WORDS_MAX);
		if (n < 0) {
			errf(err, cap, fname, line, "more than %d words",
			    WORDS_MAX);
			return DANEGATE_E_INVALID;
		}
		if (n > 0 && (rc = fn(arg, line, w, n, fname, err, cap)) != 0)
			return rc;
		pos = end + 1;
	}
	return 0;
}

/* Reads a whole file (at most POLICY_FILE_MAX bytes) into *text. */
static int
file_slurp(const char *path, char **text, size_t *len, char *err, size_t cap)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, size = 0;

	*text = NULL;
	*len = 0;
	if (f == NULL) {
		if (err != NULL && cap > 0)
			snprintf(err, cap, "%s: %s", path, strerror(errno));
		return DANEGATE_E_INVALID;
	}
	for (;;) {
		size_t got;

		if (n == size) {
			char *nb;

			if (size > POLICY_FILE_MAX) {
				errf(err, cap, path, 0, "file over %u bytes",
				    POLICY_FILE_MAX);
				free(buf);
				fclose(f);
				return DANEGATE_E_INVALID;
			}
			size = size == 0 ? 4096 : size * 2;
			if ((nb = realloc(buf, size)) == NULL) {
				free(buf);
				fclose(f);
				return DANEGATE_E_NOMEM;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, size - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		if (err != NULL && cap > 0)
			snprintf(err, cap, "%s: read error", path);
		free(buf);
		fclose(f);
		return DANEGATE_E_INVALID;
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
}

/* ---- the policy table ---------------------------------------------------- */

static int
level_parse(const struct word *w, enum policy_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	    i++) {
		if (word_is(w, level_names[i])) {
			*out = (enum policy_level)i;
			return 0;
		}
	}
	return -1;
}

/* match=PATTERN:PATTERN... into e. */
static int
match_parse(struct policy_entry *e, const char *p, size_t len,
    const char *fname, unsigned line, char *err, size_t cap)
{
	size_t pos = 0;

	if (len == 0) {
		errf(err, cap, fname, line, "empty match=");
		return DANEGATE_E_INVALID;
	}
	while (pos <= len) {
		const char *c = memchr(p + pos, ':', len - pos);
		size_t end = c != NULL ? (size_t)(c - p) : len;
		struct word w = { p + pos, end - pos };
		char *dst;
		char shown[72];

		if (e->n_match == POLICY_MATCH_MAX) {
			errf(err, cap, fname, line, "more than %d match= "
			    "patterns", POLICY_MATCH_MAX);
			return DANEGATE_E_INVALID;
		}
		dst = e->match[e->n_match];
		if (word_is(&w, "hostname") || word_is(&w, "nexthop") ||
		    word_is(&w, "dot-nexthop")) {
			for (size_t i = 0; i < w.len; i++)
				dst[i] = (char)(w.p[i] | 0x20);
			dst[w.len] = '\0';
		} else if (w.len > 1 && w.p[0] == '.' &&
		    domain_copy(w.p + 1, w.len - 1, dst + 1,
		    DANEGATE_NAME_MAX - 1)) {
			dst[0] = '.';
		} else if (!domain_copy(w.p, w.len, dst, DANEGATE_NAME_MAX)) {
			word_show(&w, shown, sizeof(shown));
			errf(err, cap, fname, line, "match= pattern \"%s\" is "
			    "not hostname, nexthop, dot-nexthop or a domain",
			    shown);
			return DANEGATE_E_INVALID;
		}
		e->n_match++;
		if (c == NULL)
			break;
		pos = end + 1;
	}
	return 0;
}

static void
match_default(struct policy_entry *e)
{
	if (e->n_match > 0)
		return;
	if (e->level == POLICY_LEVEL_VERIFY) {
		snprintf(e->match[0], sizeof(e->match[0]), "hostname");
		e->n_match = 1;
	} else if (e->level == POLICY_LEVEL_SECURE) {
		snprintf(e->match[0], sizeof(e->match[0]), "nexthop");
		snprintf(e->match[1], sizeof(e->match[1]), "dot-nexthop");
		e->n_match = 2;
	}
}

static int
policy_line(void *arg, unsigned line, struct word *w, int n,
    const char *fname, char *err, size_t cap)
{
	struct policy_table *t = arg;
	struct policy_entry e, *ne;
	char shown[72];
	bool sub;

	memset(&e, 0, sizeof(e));
	e.line = line;
	sub = w[0].len > 1 && w[0].p[0] == '.';
	if (!domain_copy(w[0].p + (sub ? 1 : 0), w[0].len - (sub ? 1 : 0),
	    e.domain, sizeof(e.domain))) {
		word_show(&w[0], shown, sizeof(shown));
		errf(err, cap, fname, line, "\"%s\" is not a domain", shown);
		return DANEGATE_E_INVALID;
	}
	e.subdomains = sub;
	if (n < 2) {
		errf(err, cap, fname, line, "no policy for %s%s", sub ? "." : "",
		    e.domain);
		return DANEGATE_E_INVALID;
	}
	if (level_parse(&w[1], &e.level) != 0) {
		word_show(&w[1], shown, sizeof(shown));
		errf(err, cap, fname, line, "unknown policy \"%s\" (none, may, "
		    "encrypt, dane, dane-only, verify or secure)", shown);
		return DANEGATE_E_INVALID;
	}
	for (int i = 2; i < n; i++) {
		if (w[i].len >= 6 && strncasecmp(w[i].p, "match=", 6) == 0) {
			if (e.level != POLICY_LEVEL_VERIFY &&
			    e.level != POLICY_LEVEL_SECURE) {
				errf(err, cap, fname, line, "match= applies "
				    "only to verify and secure, not %s",
				    policy_level_name(e.level));
				return DANEGATE_E_INVALID;
			}
			if (e.n_match > 0) {
				errf(err, cap, fname, line, "match= given "
				    "twice");
				return DANEGATE_E_INVALID;
			}
			if (match_parse(&e, w[i].p + 6, w[i].len - 6, fname,
			    line, err, cap) != 0)
				return DANEGATE_E_INVALID;
			continue;
		}
		word_show(&w[i], shown, sizeof(shown));
		errf(err, cap, fname, line, "unsupported option \"%s\" (only "
		    "match=)", shown);
		return DANEGATE_E_INVALID;
	}
	match_default(&e);
	for (size_t i = 0; i < t->n; i++) {
		if (t->entries[i].subdomains == e.subdomains &&
		    strcmp(t->entries[i].domain, e.domain) == 0) {
			errf(err, cap, fname, line, "%s%s already has a policy "
			    "(line %u)", sub ? "." : "", e.domain,
			    t->entries[i].line);
			return DANEGATE_E_INVALID;
		}
	}
	ne = realloc(t->entries, (t->n + 1) * sizeof(*ne));
	if (ne == NULL)
		return DANEGATE_E_NOMEM;
	t->entries = ne;
	t->entries[t->n++] = e;
	return 0;
}

int
policy_table_parse(const char *fname, const char *text, size_t len,
    struct policy_table **out, char *err, size_t cap)
{
	struct policy_table *t;
	int rc;

	*out = NULL;
	if (err != NULL && cap > 0)
		err[0] = '\0';
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return DANEGATE_E_NOMEM;
	rc = each_line(fname != NULL ? fname : "-", text, len, policy_line, t,
	    err, cap);
	if (rc != 0) {
		policy_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int
policy_table_load(const char *path, struct policy_table **out, char *err,
    size_t cap)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = file_slurp(path, &text, &len, err, cap)) != 0)
		return rc;
	rc = policy_table_parse(path, text, len, out, err, cap);
	free(text);
	return rc;
}

const struct policy_entry *
policy_table_find(const struct policy_table *t, const char *domain)
{
	char key[DANEGATE_NAME_MAX];
	const char *p;

	if (t == NULL || !domain_key(domain, key, sizeof(key)))
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (!t->entries[i].subdomains &&
		    strcmp(t->entries[i].domain, key) == 0)
			return &t->entries[i];
	/* the nearest parent: strip one label at a time */
	for (p = strchr(key, '.'); p != NULL; p = strchr(p + 1, '.')) {
		for (size_t i = 0; i < t->n; i++)
			if (t->entries[i].subdomains &&
			    strcmp(t->entries[i].domain, p + 1) == 0)
				return &t->entries[i];
	}
	return NULL;
}

size_t
policy_table_count(const struct policy_table *t)
{
	return t != NULL ? t->n : 0;
}

const struct policy_entry *
policy_table_entry(const struct policy_table *t, size_t i)
{
	return t != NULL && i < t->n ? &t->entries[i] : NULL;
}

void
policy_table_free(struct policy_table *t)
{
	if (t == NULL)
		return;
	free(t->entries);
	free(t);
}

/* ---- exemptions ---------------------------------------------------------- */

static bool
digits(const char *p, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* YYYY-MM-DD (a real day) to the first second after it, UTC. */
static bool
date_parse(const struct word *w, time_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct tm tm;
	int y, m, d, max;
	time_t t;

	if (w->len != 10 || w->p[4] != '-' || w->p[7] != '-' ||
	    !digits(w->p, 4, &y) || !digits(w->p + 5, 2, &m) ||
	    !digits(w->p + 8, 2, &d))
		return false;
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	if (d > max)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + 1;		/* timegm normalises the overflow */
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = t;
	return true;
}

static int
exemption_line(void *arg, unsigned line, struct word *w, int n,
    const char *fname, char *err, size_t cap)
{
	struct exemptions *x = arg;
	struct exemption e, *ne;
	char shown[72];
	size_t rlen;

	memset(&e, 0, sizeof(e));
	e.line = line;
	if (!domain_copy(w[0].p, w[0].len, e.domain, sizeof(e.domain))) {
		word_show(&w[0], shown, sizeof(shown));
		errf(err, cap, fname, line, "\"%s\" is not a domain (an "
		    "exemption names one domain, no leading dot)", shown);
		return DANEGATE_E_INVALID;
	}
	if (n < 2) {
		errf(err, cap, fname, line, "no expiry date for %s "
		    "(YYYY-MM-DD)", e.domain);
		return DANEGATE_E_INVALID;
	}
	if (!date_parse(&w[1], &e.expires)) {
		word_show(&w[1], shown, sizeof(shown));
		errf(err, cap, fname, line, "\"%s\" is not a date (YYYY-MM-DD)",
		    shown);
		return DANEGATE_E_INVALID;
	}
	memcpy(e.until, w[1].p, 10);
	e.until[10] = '\0';
	if (n < 3) {
		errf(err, cap, fname, line, "no reason given for exempting %s",
		    e.domain);
		return DANEGATE_E_INVALID;
	}
	/* the reason: from the third word to the end of the last one */
	rlen = (size_t)(w[n - 1].p + w[n - 1].len - w[2].p);
	if (rlen >= sizeof(e.reason))
		rlen = sizeof(e.reason) - 1;
	for (size_t i = 0; i < rlen; i++) {
		unsigned char c = (unsigned char)w[2].p[i];

		e.reason[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	e.reason[rlen] = '\0';
	for (size_t i = 0; i < x->n; i++) {
		if (strcmp(x->entries[i].domain, e.domain) == 0) {
			errf(err, cap, fname, line, "%s is already exempted "
			    "(line %u)", e.domain, x->entries[i].line);
			return DANEGATE_E_INVALID;
		}
	}
	ne = realloc(x->entries, (x->n + 1) * sizeof(*ne));
	if (ne == NULL)
		return DANEGATE_E_NOMEM;
	x->entries = ne;
	x->entries[x->n++] = e;
	return 0;
}

int
exemptions_parse(const char *fname, const char *text, size_t len,
    struct exemptions **out, char *err, size_t cap)
{
	struct exemptions *x;
	int rc;

	*out = NULL;
	if (err != NULL && cap > 0)
		err[0] = '\0';
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return DANEGATE_E_NOMEM;
	rc = each_line(fname != NULL ? fname : "-", text, len, exemption_line,
	    x, err, cap);
	if (rc != 0) {
		exemptions_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

int
exemptions_load(const char *path, struct exemptions **out, char *err,
    size_t cap)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = file_slurp(path, &text, &len, err, cap)) != 0)
		return rc;
	rc = exemptions_parse(path, text, len, out, err, cap);
	free(text);
	return rc;
}

struct exemption *
exemptions_find(struct exemptions *x, const char *domain)
{
	char key[DANEGATE_NAME_MAX];

	if (x == NULL || !domain_key(domain, key, sizeof(key)))
		return NULL;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->entries[i].domain, key) == 0)
			return &x->entries[i];
	return NULL;
}

bool
exemption_active(const struct exemption *e, time_t now)
{
	return e != NULL && now < e->expires;
}

size_t
exemptions_count(const struct exemptions *x)
{
	return x != NULL ? x->n : 0;
}

struct exemption *
exemptions_entry(struct exemptions *x, size_t i)
{
	return x != NULL && i < x->n ? &x->entries[i] : NULL;
}

void
exemptions_free(struct exemptions *x)
{
	if (x == NULL)
		return;
	free(x->entries);
	free(x);
}
