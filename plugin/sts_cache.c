/*
 * sts_cache.c - see sts_cache.h.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_cache.h"

#define STS_CACHE_BUCKETS 4096
#define STS_CACHE_MAGIC "danegate-sts-cache 1"
#define STS_CACHE_FILE_MAX (MTA_STS_MAX_BODY + 1024)

struct sts_cache {
	struct sts_cache_entry *buckets[STS_CACHE_BUCKETS];
	struct sts_cache_entry *lru_head, *lru_tail;	/* head: newest */
	size_t count, bytes, max_entries, max_bytes;
	char *dir;
	sts_cache_log_fn *log;
	void *log_arg;
};

static void
cache_log(struct sts_cache *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_arg, msg);
}

static bool
name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
}

bool
sts_cache_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= DANEGATE_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(s[i]))
			return false;
	return true;
}

/* RFC 8461 §3.1: sts-id = 1*32( ALPHA / DIGIT ). */
static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return true;
}

/* Lower case, no final dot; false if it does not fit or is no name. */
static bool
normalize(const char *domain, char out[DANEGATE_NAME_MAX])
{
	size_t n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= DANEGATE_NAME_MAX || domain[0] == '.' ||
	    domain[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!name_char_ok(domain[i]))
			return false;
		out[i] = (char)tolower((unsigned char)domain[i]);
	}
	out[n] = '\0';
	return true;
}

static unsigned
hash_name(const char *s)
{
	unsigned h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % STS_CACHE_BUCKETS;
}

static struct sts_cache_entry *
find(struct sts_cache *c, const char *key)
{
	struct sts_cache_entry *e = c->buckets[hash_name(key)];

	while (e != NULL && strcmp(e->domain, key) != 0)
		e = e->hnext;
	return e;
}

static void
lru_unlink(struct sts_cache *c, struct sts_cache_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
lru_front(struct sts_cache *c, struct sts_cache_entry *e)
{
	if (c->lru_head == e)
		return;
	if (e->lru_prev != NULL || e->lru_next != NULL || c->lru_tail == e)
		lru_unlink(c, e);
	e->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
}

static void
file_path(const struct sts_cache *c, const char *domain, char *out,
    size_t cap)
{
	snprintf(out, cap, "%s/%s", c->dir, domain);
}

static void
file_remove(struct sts_cache *c, const char *domain)
{
	char path[4096];

	if (c->dir == NULL)
		return;
	file_path(c, domain, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		cache_log(c, "mta-sts cache: %s: %s", path, strerror(errno));
}

/* Drops e's policy (not the entry). */
static void
drop_policy(struct sts_cache *c, struct sts_cache_entry *e)
{
	if (!e->have_policy)
		return;
	c->bytes -= e->body_len;
	free(e->body);
	e->body = NULL;
	e->body_len = 0;
	e->have_policy = false;
	memset(&e->policy, 0, sizeof(e->policy));
	e->id[0] = '\0';
}

static void
entry_remove(struct sts_cache *c, struct sts_cache_entry *e, bool unlink_file)
{
	struct sts_cache_entry **pp = &c->buckets[hash_name(e->domain)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	if (unlink_file && e->have_policy)
		file_remove(c, e->domain);
	drop_policy(c, e);
	c->count--;
	free(e);
}

/* Evicts the least recently used entries, never keep. */
static void
enforce_bounds(struct sts_cache *c, const struct sts_cache_entry *keep)
{
	while ((c->count > c->max_entries || c->bytes > c->max_bytes) &&
	    c->lru_tail != NULL) {
		struct sts_cache_entry *victim = c->lru_tail;

		if (victim == keep) {
			if ((victim = victim->lru_prev) == NULL)
				break;
		}
		entry_remove(c, victim, true);
	}
}

static struct sts_cache_entry *
entry_get(struct sts_cache *c, const char *key)
{
	struct sts_cache_entry *e = find(c, key);
	unsigned h;

	if (e != NULL) {
		lru_front(c, e);
		return e;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->domain, sizeof(e->domain), "%s", key);
	h = hash_name(key);
	e->hnext = c->buckets[h];
	c->buckets[h] = e;
	lru_front(c, e);
	c->count++;
	return e;
}

int
sts_cache_parse_file(const char *data, size_t len, struct sts_cache_entry *e,
    char *why, size_t whylen)
{
	static const char *const keys[] = { "domain: ", "id: ", "fetched: " };
	char value[3][DANEGATE_NAME_MAX];
	size_t pos = 0;
	char err[200];

	memset(e, 0, sizeof(*e));
	if (len > STS_CACHE_FILE_MAX) {
		snprintf(why, whylen, "larger than %d bytes", STS_CACHE_FILE_MAX);
		return DANEGATE_E_INVALID;
	}
	/* line 1: the magic; lines 2-4: the keys; line 5: empty */
	for (int line = 1; line <= 5; line++) {
		const char *nl = pos < len ? memchr(data + pos, '\n', len - pos)
		    : NULL;
		size_t n;

		if (nl == NULL) {
			snprintf(why, whylen, "line %d: truncated", line);
			return DANEGATE_E_INVALID;
		}
		n = (size_t)(nl - (data + pos));
		if (memchr(data + pos, '\0', n) != NULL) {
			snprintf(why, whylen, "line %d: NUL byte", line);
			return DANEGATE_E_INVALID;
		}
		if (line == 1) {
			if (n != strlen(STS_CACHE_MAGIC) ||
			    memcmp(data, STS_CACHE_MAGIC, n) != 0) {
				snprintf(why, whylen, "line 1: not '%s'",
				    STS_CACHE_MAGIC);
				return DANEGATE_E_INVALID;
			}
		} else if (line == 5) {
			if (n != 0) {
				snprintf(why, whylen, "line 5: not empty");
				return DANEGATE_E_INVALID;
			}
		} else {
			const char *k = keys[line - 2];
			size_t kl = strlen(k);

			if (n < kl || memcmp(data + pos, k, kl) != 0 ||
			    n - kl >= DANEGATE_NAME_MAX) {
				snprintf(why, whylen, "line %d: not '%s...'",
				    line, k);
				return DANEGATE_E_INVALID;
			}
			memcpy(value[line - 2], data + pos + kl, n - kl);
			value[line - 2][n - kl] = '\0';
		}
		pos += n + 1;
	}
	if (!sts_cache_name_ok(value[0])) {
		snprintf(why, whylen, "line 2: domain '%s' is no host name",
		    value[0]);
		return DANEGATE_E_INVALID;
	}
	if (!id_ok(value[1])) {
		snprintf(why, whylen, "line 3: id '%s' is not 1-32 letters or "
		    "digits", value[1]);
		return DANEGATE_E_INVALID;
	}
	{
		char *end;
		long long t;

		errno = 0;
		t = strtoll(value[2], &end, 10);
		if (value[2][0] < '0' || value[2][0] > '9' || *end != '\0' ||
		    errno != 0 || t > (long long)1 << 40) {
			snprintf(why, whylen, "line 4: fetched '%s' is no time",
			    value[2]);
			return DANEGATE_E_INVALID;
		}
		e->fetched = (time_t)t;
	}
	if (mta_sts_parse(data + pos, len - pos, &e->policy, err,
	    sizeof(err)) != 0) {
		snprintf(why, whylen, "policy: %s", err);
		return DANEGATE_E_INVALID;
	}
	snprintf(e->domain, sizeof(e->domain), "%s", value[0]);
	memcpy(e->id, value[1], strlen(value[1]) + 1);	/* id_ok: <= 32 */
	e->body = (char *)(uintptr_t)(data + pos);
	e->body_len = len - pos;
	e->expires = e->fetched + e->policy.max_age;
	e->have_policy = true;
	return 0;
}

/* Writes e's file atomically: temporary file, fsync, rename. */
static void
file_write(struct sts_cache *c, const struct sts_cache_entry *e)
{
	char path[4096], tmp[4096], head[DANEGATE_NAME_MAX + 160];
	int fd, n;
	bool ok;

	if (c->dir == NULL)
		return;
	file_path(c, e->domain, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-XXXXXX", c->dir, e->domain);
	if ((fd = mkstemp(tmp)) < 0) {
		cache_log(c, "mta-sts cache: %s: %s", tmp, strerror(errno));
		return;
	}
	n = snprintf(head, sizeof(head), "%s\ndomain: %s\nid: %s\n"
	    "fetched: %lld\n\n", STS_CACHE_MAGIC, e->domain, e->id,
	    (long long)e->fetched);
	ok = write(fd, head, (size_t)n) == n &&
	    write(fd, e->body, e->body_len) == (ssize_t)e->body_len &&
	    fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	if (!ok || rename(tmp, path) != 0) {
		cache_log(c, "mta-sts cache: %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

/* Reads one file of the directory into the cache. */
static void
file_load(struct sts_cache *c, const char *name, time_t now)
{
	char path[4096], why[256], *data;
	struct sts_cache_entry parsed, *e;
	ssize_t n;
	int fd;

	file_path(c, name, path, sizeof(path));
	if (strncmp(name, ".tmp-", 5) == 0) {
		unlink(path);		/* a write that did not finish */
		return;
	}
	if (name[0] == '.')
		return;
	if ((data = malloc(STS_CACHE_FILE_MAX + 1)) == NULL)
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		cache_log(c, "mta-sts cache: %s: %s, ignored", path,
		    strerror(errno));
		free(data);
		return;
	}
	n = read(fd, data, STS_CACHE_FILE_MAX + 1);
	close(fd);
	if (n < 0) {
		cache_log(c, "mta-sts cache: %s: %s, ignored", path,
		    strerror(errno));
	} else if (sts_cache_parse_file(data, (size_t)n, &parsed, why,
	    sizeof(why)) != 0) {
		cache_log(c, "mta-sts cache: %s: %s, ignored", path, why);
	} else if (strcmp(parsed.domain, name) != 0) {
		cache_log(c, "mta-sts cache: %s: line 2: domain '%s' is not "
		    "the file's name, ignored", path, parsed.domain);
	} else if (parsed.expires <= now) {
		unlink(path);		/* expired while we were away */
	} else if ((e = entry_get(c, name)) != NULL &&
	    (e->body = malloc(parsed.body_len + 1)) != NULL) {
		memcpy(e->body, parsed.body, parsed.body_len);
		e->body[parsed.body_len] = '\0';
		e->body_len = parsed.body_len;
		snprintf(e->id, sizeof(e->id), "%s", parsed.id);
		e->policy = parsed.policy;
		e->fetched = parsed.fetched;
		e->expires = parsed.expires;
		e->have_policy = true;
		c->bytes += e->body_len;
		enforce_bounds(c, e);
	}
	free(data);
}

int
sts_cache_open(const struct sts_cache_options *opts, time_t now,
    struct sts_cache **out, char *why, size_t whylen)
{
	struct sts_cache *c;
	DIR *d;
	struct dirent *de;
	struct stat st;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return DANEGATE_E_NOMEM;
	c->max_entries = opts->max_entries ? opts->max_entries : 10000;
	c->max_bytes = opts->max_bytes ? opts->max_bytes : 16u << 20;
	c->log = opts->log;
	c->log_arg = opts->log_arg;
	if (opts->dir != NULL) {
		if ((c->dir = strdup(opts->dir)) == NULL) {
			free(c);
			return DANEGATE_E_NOMEM;
		}
		/* mkdir only when missing: a sandboxed caller reopening
		 * its directory may not be allowed mkdir(2) */
		if (stat(c->dir, &st) != 0 && mkdir(c->dir, 0700) != 0 &&
		    errno != EEXIST) {
			snprintf(why, whylen, "%s: %s", c->dir, strerror(errno));
			sts_cache_free(c);
			return DANEGATE_E_INVALID;
		}
		if ((d = opendir(c->dir)) == NULL) {
			snprintf(why, whylen, "%s: %s", c->dir, strerror(errno));
			sts_cache_free(c);
			return DANEGATE_E_INVALID;
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				file_load(c, de->d_name, now);
		closedir(d);
	}
	*out = c;
	return 0;
}

void
sts_cache_free(struct sts_cache *c)
{
	if (c == NULL)
		return;
	while (c->lru_head != NULL)
		entry_remove(c, c->lru_head, false);
	free(c->dir);
	free(c);
}

/* When a policy is refreshed ahead of its expiry: a quarter of max_age
 * before, at most STS_CACHE_REFRESH_AHEAD. */
static time_t
refresh_at(const struct sts_cache_entry *e)
{
	long ahead = e->policy.max_age / 4;

	if (ahead > STS_CACHE_REFRESH_AHEAD)
		ahead = STS_CACHE_REFRESH_AHEAD;
	return e->expires - ahead;
}

enum sts_cache_action
sts_cache_lookup(struct sts_cache *c, const char *domain, const char *txt_id,
    time_t now, const struct sts_cache_entry **entry)
{
	char key[DANEGATE_NAME_MAX];
	struct sts_cache_entry *e;
	bool have, backoff;

	*entry = NULL;
	if (!normalize(domain, key))
		return STS_CACHE_NONE;
	if ((e = find(c, key)) != NULL) {
		lru_front(c, e);
		if (e->have_policy && e->expires <= now) {
			file_remove(c, e->domain);
			drop_policy(c, e);
		}
	}
	have = e != NULL && e->have_policy;
	backoff = e != NULL && e->last_failure != 0 &&
	    now - e->last_failure < STS_CACHE_RETRY;
	*entry = e;
	if (txt_id == NULL || !id_ok(txt_id))
		/* §3.3: no live TXT, but a cached policy still applies */
		return have ? STS_CACHE_USE : STS_CACHE_NONE;
	if (have && strcmp(e->id, txt_id) == 0) {
		if (now >= refresh_at(e) && !e->refreshing && !backoff) {
			e->refreshing = true;
			return STS_CACHE_USE_REFRESH;
		}
		return STS_CACHE_USE;
	}
	/* a new id, or nothing cached */
	if (backoff)
		return have ? STS_CACHE_USE : STS_CACHE_FAILED;
	if ((e = entry_get(c, key)) == NULL)
		return have ? STS_CACHE_USE : STS_CACHE_FAILED;
	e->refreshing = true;
	*entry = e;
	enforce_bounds(c, e);
	return STS_CACHE_FETCH;
}

int
sts_cache_put(struct sts_cache *c, const char *domain, const char *id,
    const char *body, size_t len, time_t now)
{
	char key[DANEGATE_NAME_MAX], err[200];
	struct mta_sts_policy p;
	struct sts_cache_entry *e;
	char *copy;

	if (!normalize(domain, key) || !id_ok(id) ||
	    mta_sts_parse(body, len, &p, err, sizeof(err)) != 0)
		return DANEGATE_E_INVALID;
	if ((e = entry_get(c, key)) == NULL)
		return DANEGATE_E_NOMEM;
	e->refreshing = false;
	e->last_failure = 0;
	e->failure = DANEGATE_R_NONE;
	e->error[0] = '\0';
	if (p.max_age == 0) {
		/* no lifetime: nothing to keep (mode none is kept like any
		 * policy: it withdraws MTA-STS for its max_age, §5) */
		if (e->have_policy)
			file_remove(c, e->domain);
		drop_policy(c, e);
		return 0;
	}
	if ((copy = malloc(len + 1)) == NULL)
		return DANEGATE_E_NOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	drop_policy(c, e);
	e->body = copy;
	e->body_len = len;
	c->bytes += len;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->policy = p;
	e->fetched = now;
	e->expires = now + p.max_age;
	e->have_policy = true;
	file_write(c, e);
	enforce_bounds(c, e);
	return 0;
}

void
sts_cache_fail(struct sts_cache *c, const char *domain,
    enum danegate_reason reason, const char *error, time_t now)
{
	char key[DANEGATE_NAME_MAX];
	struct sts_cache_entry *e;

	if (!normalize(domain, key) || (e = entry_get(c, key)) == NULL)
		return;
	e->refreshing = false;
	e->last_failure = now;
	e->failure = reason;
	snprintf(e->error, sizeof(e->error), "%s", error ? error : "");
	enforce_bounds(c, e);
}

const struct sts_cache_entry *
sts_cache_get(struct sts_cache *c, const char *domain, time_t now)
{
	char key[DANEGATE_NAME_MAX];
	struct sts_cache_entry *e;

	if (!normalize(domain, key) || (e = find(c, key)) == NULL ||
	    !e->have_policy || e->expires <= now)
		return NULL;
	return e;
}

size_t
sts_cache_count(const struct sts_cache *c)
{
	return c->count;
}

size_t
sts_cache_bytes(const struct sts_cache *c)
{
	return c->bytes;
}

void
sts_cache_foreach(const struct sts_cache *c, sts_cache_visit_fn *fn,
    void *arg)
{
	const struct sts_cache_entry *e;

	for (e = c->lru_head; e != NULL; e = e->lru_next)
		if (fn(arg, e) != 0)
			return;
}
