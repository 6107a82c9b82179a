/*
 * conf.c - danegate-policy's configuration (see conf.h).
 *
 * SECURITY: reads a root-owned file through lib/cfgfile.c; every value is
 * checked here before it is used.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "addr.h"
#include "cfgfile.h"
#include "sts_cache.h"
#include "log.h"
#include "conf.h"

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatal("strdup");
	return d;
}

static void
set_str(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* A mode as chmod(1) writes it: octal digits only, 0..0777 (strtoul()
 * would take " 644" and "+644"); the decimal numbers go through
 * cfg_parse_uint(). */
static bool
parse_mode(const char *s, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '7' || i >= 4)
			return false;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v > 0777)
		return false;
	*out = v;
	return true;
}

static struct policy_conf *
conf_defaults(void)
{
	struct policy_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		fatal("calloc");
	c->socket_mode = 0666;
	c->socket_owner = xstrdup("");
	c->socket_group = xstrdup("");
	c->resolver = xstrdup("");
	c->trust_anchor_file = xstrdup("");
	c->unbound_conf = xstrdup("");
	c->ca_file = xstrdup("");
	c->username = xstrdup("");
	c->chroot = xstrdup("");
	c->pidfile = xstrdup("");
	c->control_interface = xstrdup("");
	c->prometheus_interface = xstrdup("");
	/* /metrics: loopback may read it, everyone else gets 403 (as the
	 * relay); access-control: lines add to or override this */
	if ((c->acl = acl_new(ACL_REFUSE)) == NULL)
		fatal("acl_new");
	(void)acl_add(c->acl, "127.0.0.0/8", ACL_ALLOW, NULL, 0);
	(void)acl_add(c->acl, "::1", ACL_ALLOW, NULL, 0);
	c->policy_map = xstrdup("policy");
	c->tlsrpt_map = xstrdup("tlsrpt");
	c->sts_cache_dir = xstrdup(STS_CACHE_DIR_DEFAULT);
	c->cache_ttl = 60;
	c->cache_max = 100000;
	c->timeout_ms = 5000;
	c->sts_timeout_ms = 10000;
	c->verbosity = 1;
	return c;
}

/* One "key: value" of the policy: clause; returns 0 or -1 (logged). */
static int
conf_entry(struct policy_conf *c, const struct cfg_entry *e)
{
	const char *v = e->argv[0];
	unsigned u;

	if (strcmp(e->key, "access-control") == 0) {
		enum acl_action action;
		char err[200];

		if (e->argc != 2 || acl_action_parse(e->argv[1], &action) != 0) {
			log_err("%s:%u: access-control: NET/LEN and allow, "
			    "refuse or deny expected", e->file, e->line);
			return -1;
		}
		if (acl_add(c->acl, v, action, err, sizeof(err)) != 0) {
			log_err("%s:%u: access-control: %s", e->file, e->line,
			    err);
			return -1;
		}
		return 0;
	}
	if (e->argc != 1) {
		log_err("%s:%u: %s: one value expected", e->file, e->line,
		    e->key);
		return -1;
	}
	if (strcmp(e->key, "listen") == 0) {
		if (c->n_listen == POLICY_LISTEN_MAX) {
			log_err("%s:%u: listen: more than %d", e->file,
			    e->line, POLICY_LISTEN_MAX);
			return -1;
		}
		if (v[0] == '\0') {
			log_err("%s:%u: listen: empty", e->file, e->line);
			return -1;
		}
		c->listen[c->n_listen++] = xstrdup(v);
	} else if (strcmp(e->key, "socket-mode") == 0) {
		/* never world-writable by accident of a typo: octal only */
		if (!parse_mode(v, &u)) {
			log_err("%s:%u: socket-mode: '%s' is not an octal "
			    "mode 0..0777", e->file, e->line, v);
			return -1;
		}
		c->socket_mode = u;
	} else if (strcmp(e->key, "socket-owner") == 0) {
		set_str(&c->socket_owner, v);
	} else if (strcmp(e->key, "socket-group") == 0) {
		set_str(&c->socket_group, v);
	} else if (strcmp(e->key, "resolver") == 0) {
		set_str(&c->resolver, v);
	} else if (strcmp(e->key, "trust-anchor-file") == 0) {
		set_str(&c->trust_anchor_file, v);
	} else if (strcmp(e->key, "unbound-conf") == 0) {
		set_str(&c->unbound_conf, v);
	} else if (strcmp(e->key, "ca-file") == 0) {
		set_str(&c->ca_file, v);
	} else if (strcmp(e->key, "username") == 0) {
		set_str(&c->username, v);
	} else if (strcmp(e->key, "chroot") == 0) {
		set_str(&c->chroot, v);
	} else if (strcmp(e->key, "pidfile") == 0) {
		set_str(&c->pidfile, v);
	} else if (strcmp(e->key, "control-interface") == 0) {
		set_str(&c->control_interface, v);
	} else if (strcmp(e->key, "prometheus-interface") == 0) {
		struct sockaddr_storage ss;
		socklen_t len;

		/* "" turns it off */
		if (v[0] != '\0' && addr_parse(v,
		    POLICY_PROMETHEUS_PORT, &ss, &len) != 0) {
			log_err("%s:%u: prometheus-interface: '%s' is not ADDR "
			    "or ADDR@PORT", e->file, e->line, v);
			return -1;
		}
		set_str(&c->prometheus_interface, v);
	} else if (strcmp(e->key, "policy-map") == 0 ||
	    strcmp(e->key, "tlsrpt-map") == 0) {
		for (const char *p = v; *p != '\0'; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' &&
			    *p <= '9') || *p == '-' || *p == '_')) {
				log_err("%s:%u: %s: '%s' is not a map name "
				    "([a-z0-9_-])", e->file, e->line, e->key,
				    v);
				return -1;
			}
		set_str(e->key[0] == 'p' ? &c->policy_map : &c->tlsrpt_map,
		    v);
	} else if (strcmp(e->key, "cache-ttl") == 0) {
		if (cfg_parse_uint(v, 0, 86400, &u) != 0) {
			log_err("%s:%u: cache-ttl: '%s' is not 0..86400 "
			    "seconds", e->file, e->line, v);
			return -1;
		}
		c->cache_ttl = u;
	} else if (strcmp(e->key, "cache-size") == 0) {
		if (cfg_parse_uint(v, 0, 10000000, &u) != 0) {
			log_err("%s:%u: cache-size: '%s' is not 0..10000000",
			    e->file, e->line, v);
			return -1;
		}
		c->cache_max = u;
	} else if (strcmp(e->key, "timeout") == 0 ||
	    strcmp(e->key, "sts-timeout") == 0) {
		if (cfg_parse_uint(v, 100, 120000, &u) != 0) {
			log_err("%s:%u: %s: '%s' is not 100..120000 ms",
			    e->file, e->line, e->key, v);
			return -1;
		}
		*(e->key[0] == 't' ? &c->timeout_ms : &c->sts_timeout_ms) = u;
	} else if (strcmp(e->key, "sts-fetch-failure") == 0) {
		/* RFC 8461 section 5: deliver as without MTA-STS */
		if (strcmp(v, "deliver") == 0)
			c->sts_fail_temp = false;
		else if (strcmp(v, "temp") == 0)
			c->sts_fail_temp = true;
		else {
			log_err("%s:%u: sts-fetch-failure: '%s' is not "
			    "deliver or temp", e->file, e->line, v);
			return -1;
		}
	} else if (strcmp(e->key, "sts-cache-dir") == 0) {
		struct stat st;

		/* the relay's syntax: an absolute directory, or none */
		c->sts_cache_dir_set = true;
		if (strcmp(v, "none") == 0) {
			set_str(&c->sts_cache_dir, "");
			return 0;
		}
		if (v[0] != '/' || (stat(v, &st) == 0 && !S_ISDIR(st.st_mode))) {
			log_err("%s:%u: sts-cache-dir: '%s' is not an absolute "
			    "directory path (or none)", e->file, e->line, v);
			return -1;
		}
		set_str(&c->sts_cache_dir, v);
	} else if (strcmp(e->key, "verbosity") == 0) {
		if (cfg_parse_uint(v, 0, 3, &u) != 0) {
			log_err("%s:%u: verbosity: '%s' is not 0..3", e->file,
			    e->line, v);
			return -1;
		}
		c->verbosity = (int)u;
	} else {
		log_err("%s:%u: %s: unknown key", e->file, e->line, e->key);
		return -1;
	}
	return 0;
}

int
policy_conf_load(const char *path, const struct policy_overrides *ov,
    struct policy_conf **out)
{
	struct policy_conf *c = conf_defaults();
	struct cfg_file *cf = NULL;
	char err[512];
	int errors = 0;

	*out = NULL;
	if (path != NULL) {
		if (cfg_file_read(path, &cf, err, sizeof(err)) != 0) {
			log_err("%s", err);
			policy_conf_free(c);
			return 1;
		}
		for (size_t i = 0; i < cf->n_clauses; i++)
			if (strcmp(cf->clauses[i].name, "policy") != 0) {
				log_err("%s:%u: %s: unknown clause (only "
				    "policy:)", cf->clauses[i].file,
				    cf->clauses[i].line, cf->clauses[i].name);
				errors++;
			}
		for (size_t i = 0; i < cf->n_entries; i++)
			if (strcmp(cf->entries[i].clause, "policy") == 0 &&
			    conf_entry(c, &cf->entries[i]) != 0)
				errors++;
		cfg_file_free(cf);
	}
	if (ov != NULL) {
		if (ov->n_listen > 0) {
			for (size_t i = 0; i < c->n_listen; i++)
				free(c->listen[i]);
			c->n_listen = 0;
			for (size_t i = 0; i < ov->n_listen &&
			    i < POLICY_LISTEN_MAX; i++)
				c->listen[c->n_listen++] =
				    xstrdup(ov->listen[i]);
		}
		if (ov->resolver != NULL)
			set_str(&c->resolver, ov->resolver);
		if (ov->trust_anchor_file != NULL)
			set_str(&c->trust_anchor_file, ov->trust_anchor_file);
		if (ov->unbound_conf != NULL)
			set_str(&c->unbound_conf, ov->unbound_conf);
		if (ov->ca_file != NULL)
			set_str(&c->ca_file, ov->ca_file);
		c->verbosity += ov->verbosity;
	}
	if (errors > 0) {
		policy_conf_free(c);
		return errors;
	}
	*out = c;
	return 0;
}

void
policy_conf_free(struct policy_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	free(c->sts_cache_dir);
	free(c->socket_owner);
	free(c->socket_group);
	free(c->resolver);
	free(c->trust_anchor_file);
	free(c->unbound_conf);
	free(c->ca_file);
	free(c->username);
	free(c->chroot);
	free(c->pidfile);
	free(c->control_interface);
	free(c->prometheus_interface);
	acl_free(c->acl);
	free(c->policy_map);
	free(c->tlsrpt_map);
	free(c);
}

