/*
 * test_sts_cache.c - the MTA-STS cache rules (plugin/sts_cache.c, RFC 8461
 * §3.3) on a simulated clock, and its directory: round trip, corrupt and
 * expired files.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_cache.h"

#define T0 1700000000

static const char enforce_day[] = "version: STSv1\nmode: enforce\n"
    "mx: *.example.com\nmax_age: 86400\n";
static const char testing_day[] = "version: STSv1\nmode: testing\n"
    "mx: mx.example.com\nmax_age: 86400\n";

static struct sts_cache *
mem_cache(size_t max_entries, size_t max_bytes)
{
	struct sts_cache_options o = { .max_entries = max_entries,
	    .max_bytes = max_bytes };
	struct sts_cache *c;
	char why[256];

	ck_assert_int_eq(sts_cache_open(&o, T0, &c, why, sizeof(why)), 0);
	return c;
}

static int
put(struct sts_cache *c, const char *domain, const char *id,
    const char *body, time_t now)
{
	return sts_cache_put(c, domain, id, body, strlen(body), now);
}

START_TEST(first_lookup_fetches_then_uses)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(sts_cache_lookup(c, "example.com", NULL, T0, &e),
	    STS_CACHE_NONE);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1", T0, &e),
	    STS_CACHE_FETCH);
	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(sts_cache_lookup(c, "Example.COM.", "id1", T0 + 10,
	    &e), STS_CACHE_USE);
	ck_assert_int_eq(e->policy.mode, MTA_STS_ENFORCE);
	ck_assert(mta_sts_mx_matches(&e->policy, "mx1.example.com"));
	ck_assert(!mta_sts_mx_matches(&e->policy, "a.mx1.example.com"));
	sts_cache_free(c);
}
END_TEST

START_TEST(max_age_expires_the_policy)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_ptr_nonnull(sts_cache_get(c, "example.com", T0 + 86399));
	ck_assert_ptr_null(sts_cache_get(c, "example.com", T0 + 86400));
	/* no TXT any more and expired: no MTA-STS */
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", NULL, T0 + 86400,
	    &e), STS_CACHE_NONE);
	sts_cache_free(c);
}
END_TEST

START_TEST(vanished_txt_keeps_the_cached_policy)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", NULL, T0 + 3600,
	    &e), STS_CACHE_USE);
	ck_assert_int_eq(e->policy.mode, MTA_STS_ENFORCE);
	sts_cache_free(c);
}
END_TEST

START_TEST(new_id_refetches)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id2", T0 + 60,
	    &e), STS_CACHE_FETCH);
	ck_assert_int_eq(put(c, "example.com", "id2", testing_day, T0 + 61),
	    0);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id2", T0 + 62,
	    &e), STS_CACHE_USE);
	ck_assert_int_eq(e->policy.mode, MTA_STS_TESTING);
	ck_assert_int_eq(e->expires, T0 + 61 + 86400);
	sts_cache_free(c);
}
END_TEST

START_TEST(failed_refresh_keeps_the_unexpired_policy)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id2", T0 + 60,
	    &e), STS_CACHE_FETCH);
	sts_cache_fail(c, "example.com", DANEGATE_R_STS_POLICY_FETCH_ERROR,
	    "connection refused", T0 + 61);
	e = sts_cache_get(c, "example.com", T0 + 62);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->id, "id1");
	ck_assert_int_eq(e->policy.mode, MTA_STS_ENFORCE);
	/* within the backoff the cached policy answers, no new fetch */
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id2", T0 + 120,
	    &e), STS_CACHE_USE);
	sts_cache_free(c);
}
END_TEST

START_TEST(five_minutes_between_failed_fetches)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1", T0, &e),
	    STS_CACHE_FETCH);
	sts_cache_fail(c, "example.com", DANEGATE_R_STS_WEBPKI_INVALID,
	    "certificate", T0 + 1);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1", T0 + 2,
	    &e), STS_CACHE_FAILED);
	ck_assert_int_eq(e->failure, DANEGATE_R_STS_WEBPKI_INVALID);
	ck_assert_str_eq(e->error, "certificate");
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1",
	    T0 + 1 + STS_CACHE_RETRY - 1, &e), STS_CACHE_FAILED);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1",
	    T0 + 1 + STS_CACHE_RETRY, &e), STS_CACHE_FETCH);
	sts_cache_free(c);
}
END_TEST

START_TEST(refresh_ahead_of_expiry_once)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;

	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	/* a quarter of 86400 before expiry */
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1",
	    T0 + 64799, &e), STS_CACHE_USE);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1",
	    T0 + 64800, &e), STS_CACHE_USE_REFRESH);
	/* one refresh at a time */
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1",
	    T0 + 64801, &e), STS_CACHE_USE);
	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0 + 64802),
	    0);
	ck_assert_int_eq(sts_cache_get(c, "example.com", T0)->expires,
	    T0 + 64802 + 86400);
	sts_cache_free(c);
}
END_TEST

START_TEST(mode_none_and_bad_input)
{
	struct sts_cache *c = mem_cache(0, 0);

	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(put(c, "example.com", "id2",
	    "version: STSv1\nmode: none\nmax_age: 86400\n", T0 + 1), 0);
	ck_assert_int_eq(sts_cache_get(c, "example.com", T0 + 2)->policy.mode,
	    MTA_STS_NONE);
	ck_assert_int_eq(put(c, "example.com", "id3",
	    "version: STSv1\nmode: none\nmax_age: 0\n", T0 + 1), 0);
	ck_assert_ptr_null(sts_cache_get(c, "example.com", T0 + 2));
	ck_assert_int_eq(sts_cache_bytes(c), 0);
	ck_assert_int_eq(put(c, "example.com", "id-with-dash", enforce_day,
	    T0), DANEGATE_E_INVALID);
	ck_assert_int_eq(put(c, "../etc", "id1", enforce_day, T0),
	    DANEGATE_E_INVALID);
	ck_assert_int_eq(put(c, "example.com", "id1", "mode: enforce\n", T0),
	    DANEGATE_E_INVALID);
	sts_cache_free(c);
}
END_TEST

START_TEST(bounded_by_count_and_bytes)
{
	struct sts_cache *c = mem_cache(3, 0);
	char name[64];

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		ck_assert_int_eq(put(c, name, "id1", enforce_day, T0), 0);
		ck_assert_uint_le(sts_cache_count(c), 3);
	}
	/* the least recently used went first */
	ck_assert_ptr_null(sts_cache_get(c, "d6.example", T0));
	ck_assert_ptr_nonnull(sts_cache_get(c, "d9.example", T0));
	ck_assert_ptr_nonnull(sts_cache_get(c, "d7.example", T0));
	sts_cache_free(c);

	c = mem_cache(0, 2 * strlen(enforce_day));
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		ck_assert_int_eq(put(c, name, "id1", enforce_day, T0), 0);
		ck_assert_uint_le(sts_cache_bytes(c), 2 * strlen(enforce_day));
	}
	ck_assert_ptr_nonnull(sts_cache_get(c, "d4.example", T0));
	ck_assert_ptr_null(sts_cache_get(c, "d2.example", T0));
	sts_cache_free(c);
}
END_TEST

struct logged {
	int n;
	char last[512];
};

static void
log_line(void *arg, const char *msg)
{
	struct logged *l = arg;

	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", msg);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

START_TEST(directory_round_trip_and_corrupt_files)
{
	char dir[] = "/tmp/test_sts_cache.XXXXXX", path[512], why[256];
	struct logged logged = { 0, "" };
	struct sts_cache_options o = { .log = log_line, .log_arg = &logged };
	const struct sts_cache_entry *e;
	struct sts_cache *c;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	o.dir = dir;
	ck_assert_int_eq(sts_cache_open(&o, T0, &c, why, sizeof(why)), 0);
	ck_assert_int_eq(put(c, "example.com", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(put(c, "short.example", "id1",
	    "version: STSv1\nmode: testing\nmx: a.b\nmax_age: 60\n", T0), 0);
	sts_cache_free(c);

	write_file(dir, "corrupt.example", "danegate-sts-cache 1\ndomain: x");
	write_file(dir, "other.example", "danegate-sts-cache 1\n"
	    "domain: example.com\nid: 1\nfetched: 1700000000\n\n"
	    "version: STSv1\nmode: none\nmax_age: 86400\n");
	write_file(dir, ".tmp-example.com-abcdef", "half");

	/* a restart an hour later */
	ck_assert_int_eq(sts_cache_open(&o, T0 + 3600, &c, why, sizeof(why)),
	    0);
	ck_assert_int_eq(logged.n, 2);
	ck_assert_int_eq(sts_cache_lookup(c, "example.com", "id1", T0 + 3600,
	    &e), STS_CACHE_USE);
	ck_assert_int_eq(e->policy.mode, MTA_STS_ENFORCE);
	ck_assert_int_eq(e->fetched, T0);
	ck_assert_int_eq(e->expires, T0 + 86400);
	ck_assert_str_eq(e->body, enforce_day);
	ck_assert_ptr_null(sts_cache_get(c, "short.example", T0 + 3600));
	ck_assert_ptr_null(sts_cache_get(c, "other.example", T0 + 3600));
	ck_assert_ptr_null(sts_cache_get(c, "corrupt.example", T0 + 3600));
	ck_assert_uint_eq(sts_cache_count(c), 1);
	sts_cache_free(c);

	/* the expired file and the temporary one are gone */
	snprintf(path, sizeof(path), "%s/short.example", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/.tmp-example.com-abcdef", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/corrupt.example", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/other.example", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/example.com", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(file_parser_names_the_line)
{
	struct sts_cache_entry e;
	char why[256];
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "danegate-sts-cache 2\n", "line 1: not 'danegate-sts-cache 1'" },
		{ "danegate-sts-cache 1\ndomain: a.b\n", "line 3: truncated" },
		{ "danegate-sts-cache 1\ndomain: a/b\nid: 1\nfetched: 1\n\n",
		  "line 2: domain 'a/b' is no host name" },
		{ "danegate-sts-cache 1\ndomain: a.b\nid: 1;\nfetched: 1\n\n",
		  "line 3: id '1;' is not 1-32 letters or digits" },
		{ "danegate-sts-cache 1\ndomain: a.b\nid: 1\nfetched: x\n\n",
		  "line 4: fetched 'x' is no time" },
		{ "danegate-sts-cache 1\ndomain: a.b\nid: 1\nfetched: 1\nx\n",
		  "line 5: not empty" },
		{ "danegate-sts-cache 1\ndomain: a.b\nid: 1\nfetched: 1\n\n"
		  "version: STSv1\n", "policy: missing mode" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(sts_cache_parse_file(cases[i].text,
		    strlen(cases[i].text), &e, why, sizeof(why)),
		    DANEGATE_E_INVALID);
		ck_assert_str_eq(why, cases[i].why);
	}
}
END_TEST

static int
visit(void *arg, const struct sts_cache_entry *e)
{
	char *seen = arg;

	strcat(seen, e->domain);
	strcat(seen, e->have_policy ? "+ " : "- ");
	return strcmp(e->domain, "b.example") == 0;	/* stop there */
}

/* danegate-control's listing: every entry, newest first, stoppable */
START_TEST(foreach_lists_newest_first)
{
	struct sts_cache *c = mem_cache(0, 0);
	const struct sts_cache_entry *e;
	char seen[256] = "";

	ck_assert_int_eq(put(c, "a.example", "id1", enforce_day, T0), 0);
	ck_assert_int_eq(sts_cache_lookup(c, "c.example", "id1", T0, &e),
	    STS_CACHE_FETCH);
	sts_cache_fail(c, "c.example", DANEGATE_R_STS_POLICY_FETCH_ERROR,
	    "HTTP 404", T0);
	sts_cache_foreach(c, visit, seen);
	ck_assert_str_eq(seen, "c.example- a.example+ ");
	ck_assert_int_eq(put(c, "b.example", "id1", testing_day, T0), 0);
	seen[0] = '\0';
	sts_cache_foreach(c, visit, seen);
	ck_assert_str_eq(seen, "b.example+ ");
	sts_cache_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sts_cache");
	TCase *tc = tcase_create("rules");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, first_lookup_fetches_then_uses);
	tcase_add_test(tc, max_age_expires_the_policy);
	tcase_add_test(tc, vanished_txt_keeps_the_cached_policy);
	tcase_add_test(tc, new_id_refetches);
	tcase_add_test(tc, failed_refresh_keeps_the_unexpired_policy);
	tcase_add_test(tc, five_minutes_between_failed_fetches);
	tcase_add_test(tc, refresh_ahead_of_expiry_once);
	tcase_add_test(tc, mode_none_and_bad_input);
	tcase_add_test(tc, bounded_by_count_and_bytes);
	tcase_add_test(tc, directory_round_trip_and_corrupt_files);
	tcase_add_test(tc, file_parser_names_the_line);
	tcase_add_test(tc, foreach_lists_newest_first);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
