/*
 * clients.c - the relay's client file and password checks (clients.h).
 *
 * SECURITY: see clients.h. Reads a file of hashes, never plain passwords;
 * the crypt(3) work areas are wiped after each check.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "danegate.h"
#include "log.h"
#include "clients.h"
#include "oauth2.h"

struct client {
	char name[CLIENTS_NAME_MAX + 1];
	char *hash;
	char **mailboxes;
	size_t n_mailboxes;
};

struct clients {
	struct client *v;
	size_t n;
};

/* A hash of a password no one has, for unknown names (same cost). */
#define CLIENTS_DUMMY_HASH \
	"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$khOi8vaQsOPNj4VzvKCiRbC5uYyeFSacLsv6TXSiLI1"

static void
client_clear(struct client *cl)
{
	free(cl->hash);
	for (size_t i = 0; i < cl->n_mailboxes; i++)
		free(cl->mailboxes[i]);
	free(cl->mailboxes);
}

/* clients.h */
void
clients_free(struct clients *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		client_clear(&c->v[i]);
	free(c->v);
	free(c);
}

static const struct client *
find(const struct clients *c, const char *user)
{
	for (size_t i = 0; c != NULL && i < c->n; i++)
		if (strcmp(c->v[i].name, user) == 0)
			return &c->v[i];
	return NULL;
}

/* A mailbox as the relay's MAIL FROM accepts it, simplified: one '@',
 * non-empty local part and domain, printable, no blanks, <> or ','. */
static bool
mailbox_ok(const char *m)
{
	const char *at = strrchr(m, '@');

	if (at == NULL || at == m || at[1] == '\0' || strlen(m) > 254)
		return false;
	for (const char *p = m; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' ||
		    *p == '>' || *p == ',' || *p == ':')
			return false;
	return true;
}

static bool
hash_ok(const char *h)
{
	/* yescrypt or SHA-512, as the task and crypt(5) name them; DES,
	 * MD5 and the like are refused rather than trusted */
	if (strncmp(h, "$y$", 3) != 0 && strncmp(h, "$6$", 3) != 0)
		return false;
	for (const char *p = h; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("$./=", *p) != NULL))
			return false;
	return strlen(h) < CRYPT_OUTPUT_SIZE;
}

/* Parses one line (NUL-terminated, modified); returns an error sentence
 * or NULL and fills *cl. */
static const char *
parse_line(char *line, struct client *cl)
{
	char *hash, *boxes, *save = NULL, *m;

	memset(cl, 0, sizeof(*cl));
	if ((hash = strchr(line, ':')) == NULL)
		return "expected CLIENT:HASH:MAILBOX[,MAILBOX...]";
	*hash++ = '\0';
	if ((boxes = strchr(hash, ':')) == NULL)
		return "expected CLIENT:HASH:MAILBOX[,MAILBOX...]";
	*boxes++ = '\0';
	if (line[0] == '\0' || strlen(line) > CLIENTS_NAME_MAX)
		return "client name empty or over 64 bytes";
	for (const char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "client name has a blank or control byte";
	snprintf(cl->name, sizeof(cl->name), "%s", line);
	if (!hash_ok(hash))
		return "hash is not a yescrypt ($y$) or SHA-512 ($6$) crypt(3) "
		    "hash: write it with danegate-relay passwd";
	if ((cl->hash = strdup(hash)) == NULL)
		return "out of memory";
	for (m = strtok_r(boxes, ",", &save); m != NULL;
	    m = strtok_r(NULL, ",", &save)) {
		char **nv;

		if (!mailbox_ok(m))
			return "bad mailbox (LOCAL@DOMAIN, comma-separated)";
		nv = realloc(cl->mailboxes, (cl->n_mailboxes + 1) *
		    sizeof(*nv));
		if (nv == NULL)
			return "out of memory";
		cl->mailboxes = nv;
		if ((nv[cl->n_mailboxes] = strdup(m)) == NULL)
			return "out of memory";
		cl->n_mailboxes++;
	}
	if (cl->n_mailboxes == 0)
		return "no mailbox: a client must be mapped to one at least";
	return NULL;
}

/* clients.h */
int
clients_parse(const char *name, const char *text, size_t len,
    struct clients **out)
{
	struct clients *c;
	size_t pos = 0;
	unsigned lineno = 0;
	int errors = 0;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: out of memory", name);
		return 1;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - text) - pos : len - pos;
		char line[1024];
		const char *why = NULL;
		struct client cl;

		lineno++;
		if (n >= sizeof(line))
			why = "line over 1023 bytes";
		else if (memchr(text + pos, '\0', n) != NULL)
			why = "NUL byte";
		pos += n + 1;
		if (why != NULL) {
			log_warnx("%s:%u: %s", name, lineno, why);
			errors++;
			continue;
		}
		memcpy(line, text + pos - n - 1, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		size_t lead = strspn(line, " \t");

		if (line[lead] == '\0' || line[lead] == '#')
			continue;
		if (lead > 0) {
			log_warnx("%s:%u: line starts with a blank", name,
			    lineno);
			errors++;
			continue;
		}
		if ((why = parse_line(line, &cl)) == NULL &&
		    find(c, cl.name) != NULL)
			why = "client named twice";
		if (why == NULL) {
			struct client *nv = realloc(c->v, (c->n + 1) *
			    sizeof(*nv));

			if (nv == NULL)
				why = "out of memory";
			else {
				c->v = nv;
				c->v[c->n++] = cl;
			}
		}
		if (why != NULL) {
			log_warnx("%s:%u: %s", name, lineno, why);
			client_clear(&cl);
			errors++;
		}
	}
	if (errors > 0)
		clients_free(c);
	else
		*out = c;
	return errors;
}

/* clients.h */
int
clients_load(const char *path, struct clients **out)
{
	char err[512], *text = NULL;
	size_t len = 0;
	int errors;

	*out = NULL;
	if (oauth2_secret_file_read(path, &text, &len, err, sizeof(err)) != 0) {
		log_warnx("client-file: %s", err);
		return 1;
	}
	errors = clients_parse(path, text, len, out);
	oauth2_secret_free(text);
	return errors;
}

/* clients.h */
size_t
clients_count(const struct clients *c)
{
	return c != NULL ? c->n : 0;
}

/* clients.h */
bool
clients_check(const struct clients *c, const char *user, const char *pass)
{
	const struct client *cl = find(c, user);
	struct crypt_data *cd;
	bool ok = false;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	/* an unknown name costs a hash all the same */
	if (crypt_rn(pass, cl != NULL ? cl->hash : CLIENTS_DUMMY_HASH, cd,
	    (int)sizeof(*cd)) != NULL && cl != NULL &&
	    strlen(cd->output) == strlen(cl->hash) &&
	    gnutls_memcmp(cd->output, cl->hash, strlen(cl->hash)) == 0)
		ok = true;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* clients.h */
bool
clients_may_send_as(const struct clients *c, const char *user,
    const char *mailbox)
{
	const struct client *cl = find(c, user);

	for (size_t i = 0; cl != NULL && i < cl->n_mailboxes; i++)
		if (strcasecmp(cl->mailboxes[i], mailbox) == 0)
			return true;
	return false;
}

/* clients.h */
const char *
clients_mailbox(const struct clients *c, const char *user)
{
	const struct client *cl = find(c, user);

	return cl != NULL ? cl->mailboxes[0] : NULL;
}

/* clients.h */
int
clients_hash(const char *pass, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	int rc = DANEGATE_E_INVALID;

	if (crypt_gensalt_rn(NULL, 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return DANEGATE_E_INVALID;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return DANEGATE_E_NOMEM;
	if (crypt_rn(pass, salt, cd, (int)sizeof(*cd)) != NULL &&
	    hash_ok(cd->output) && strlen(cd->output) < outlen) {
		snprintf(out, outlen, "%s", cd->output);
		rc = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

/* clients.h */
int
clients_file_set(const char *path, const char *client, const char *hash,
    const char *mailboxes, char *err, size_t errlen)
{
	char *text = NULL, tmp[4096], line[1024], *old_boxes = NULL;
	size_t len = 0, pos = 0, cl = strlen(client);
	struct client check;
	FILE *out = NULL;
	int fd, rc = DANEGATE_E_INVALID;
	bool found = false;

	/* the new line must itself be valid */
	snprintf(line, sizeof(line), "%s:%s:%s", client, hash,
	    mailboxes != NULL ? mailboxes : "x@x");
	const char *why = parse_line(line, &check);

	client_clear(&check);
	if (why != NULL) {
		snprintf(err, errlen, "%s", why);
		return DANEGATE_E_INVALID;
	}
	if (access(path, F_OK) == 0 &&
	    oauth2_secret_file_read(path, &text, &len, err, errlen) != 0)
		return DANEGATE_E_INVALID;
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp) || (fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "%s: cannot create a temporary file: %s",
		    path, strerror(errno));
		goto out;
	}
	(void)fchmod(fd, 0600);
	if ((out = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto fail;
	}
	while (text != NULL && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - text) - pos : len - pos;
		const char *ln = text + pos;

		pos += n + 1;
		if (n > cl && ln[cl] == ':' && strncmp(ln, client, cl) == 0) {
			const char *b = memchr(ln + cl + 1, ':', n - cl - 1);

			found = true;
			if (b != NULL && old_boxes == NULL)
				old_boxes = strndup(b + 1,
				    (size_t)(ln + n - b - 1));
			continue;
		}
		fprintf(out, "%.*s\n", (int)n, ln);
	}
	if (mailboxes == NULL && !found) {
		snprintf(err, errlen, "%s: no client %s: give its mailboxes "
		    "(-m) to add it", path, client);
		goto fail;
	}
	fprintf(out, "%s:%s:%s\n", client, hash,
	    mailboxes != NULL ? mailboxes : old_boxes);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fclose(out) != 0 || rename(tmp, path) != 0) {
		out = NULL;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	out = NULL;
	rc = 0;
	goto out;
fail:
	if (out != NULL)
		fclose(out);
	unlink(tmp);
out:
	free(old_boxes);
	if (text != NULL)
		oauth2_secret_free(text);
	return rc;
}
