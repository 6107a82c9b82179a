/*
 * txt.c - validated TXT lookups (danegate_lookup_txt) for the posture
 * checks: MTA-STS, TLS-RPT, SPF, DMARC.
 *
 * SECURITY: TXT rdata comes from any zone; each record is a sequence of
 * length-prefixed strings, read with bounds checks and joined. A NUL byte
 * inside makes the record unusable as text, so such records are dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "resolver.h"
#include "txt.h"

char *
txt_join(const uint8_t *rdata, size_t len)
{
	char *out = malloc(len + 1);
	size_t pos = 0, o = 0;

	if (out == NULL)
		return NULL;
	while (pos < len) {
		size_t n = rdata[pos++];

		if (n > len - pos || memchr(rdata + pos, '\0', n) != NULL) {
			free(out);
			return NULL;
		}
		memcpy(out + o, rdata + pos, n);
		o += n;
		pos += n;
	}
	out[o] = '\0';
	return out;
}

DANEGATE_EXPORT int
danegate_lookup_txt(struct danegate_resolver *r, const char *name,
    struct danegate_txt **out)
{
	struct lookup_answer ans;
	struct danegate_txt *t;
	int rc;

	*out = NULL;
	if (r == NULL || name == NULL)
		return DANEGATE_E_INVALID;
	memset(&ans, 0, sizeof(ans));
	if ((rc = resolver_lookup(r, name, DNS_TYPE_TXT, &ans)) != 0)
		return rc;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->records = calloc(ans.n_rrs + 1, sizeof(char *))) == NULL) {
		free(t);
		lookup_answer_clear(&ans);
		return DANEGATE_E_NOMEM;
	}
	t->state = ans.state;
	snprintf(t->why, sizeof(t->why), "%s", ans.why);
	/* bogus or failed data is never handed out as if it were there */
	if (ans.state == DANEGATE_SECURE || ans.state == DANEGATE_INSECURE)
		for (size_t i = 0; i < ans.n_rrs; i++) {
			char *s = txt_join(ans.rrs[i].data, ans.rrs[i].len);

			if (s != NULL)
				t->records[t->n_records++] = s;
		}
	t->exists = t->n_records > 0;
	lookup_answer_clear(&ans);
	*out = t;
	return 0;
}

DANEGATE_EXPORT void
danegate_txt_free(struct danegate_txt *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_records; i++)
		free(t->records[i]);
	free(t->records);
	free(t);
}
