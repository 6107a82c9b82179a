/*
 * test_tlsacheck.c - tlsa-check's logic outside the network
 * (tools/libtlsacheck.la): the list of names (-f), numbers on the command
 * line, and the exit class of a verdict.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "tlsacheck.h"

/* Runs targets_read() on text, with stderr captured into err. */
static int
read_text(struct targets *t, const char *text, char *err, size_t cap)
{
	char path[] = "/tmp/test_tlsacheck.XXXXXX";
	FILE *f, *saved;
	int fd = mkstemp(path), rc;
	size_t n;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	fflush(stderr);
	saved = stderr;
	stderr = tmpfile();
	rc = targets_read(t, path);
	rewind(stderr);
	n = fread(err, 1, cap - 1, stderr);
	err[n] = '\0';
	fclose(stderr);
	stderr = saved;
	/* the message names the file */
	if (rc != 0)
		ck_assert_ptr_nonnull(strstr(err, path));
	unlink(path);
	return rc;
}

START_TEST(targets_file_errors_name_file_and_line)
{
	struct targets t = { 0 };
	char err[512];

	ck_assert_int_eq(read_text(&t, "a.example\nb.example c.example\n",
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":2: one domain per line"));
	targets_free(&t);
	ck_assert_int_eq(targets_read(&t, "/nonexistent/list"), -1);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(targets_file_comments_and_blanks)
{
	struct targets t = { 0 };
	char err[512];

	ck_assert_int_eq(read_text(&t, "# mail domains\n\n  a.example  \r\n"
	    "b.example # the second\n\t\n", err, sizeof(err)), 0);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_str_eq(t.list[0].name, "a.example");
	ck_assert_str_eq(t.list[1].name, "b.example");
	ck_assert(!t.list[0].host_mode);
	ck_assert_int_eq(targets_add(&t, "mx.example", true), 0);
	ck_assert(t.list[2].host_mode);
	targets_free(&t);
	ck_assert_ptr_null(t.list);
}
END_TEST

START_TEST(numbers_in_range_only)
{
	unsigned long v = 7;
	FILE *saved = stderr;

	stderr = fopen("/dev/null", "w");
	ck_assert_int_eq(cli_parse_uint("--port", "", 1, 65535, &v), -1);
	ck_assert_int_eq(cli_parse_uint("--port", "-1", 1, 65535, &v), -1);
	ck_assert_int_eq(cli_parse_uint("--port", "+25", 1, 65535, &v), -1);
	ck_assert_int_eq(cli_parse_uint("--port", "25x", 1, 65535, &v), -1);
	ck_assert_int_eq(cli_parse_uint("--port", "0", 1, 65535, &v), -1);
	ck_assert_int_eq(cli_parse_uint("--port", "65536", 1, 65535, &v), -1);
	ck_assert_int_eq(cli_parse_uint("-j", "99999999999999999999999", 1,
	    256, &v), -1);
	fclose(stderr);
	stderr = saved;
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(cli_parse_uint("--port", "2525", 1, 65535, &v), 0);
	ck_assert_uint_eq(v, 2525);
}
END_TEST

/* tlsa-check(1), EXIT STATUS */
START_TEST(exit_class_follows_the_man_page)
{
	static const struct {
		const char *verdict;
		size_t warnings;
		int class;
	} cases[] = {
		{ "dane-valid", 0, 0 }, { "no-mail", 0, 0 },
		{ "dane-valid", 1, 1 }, { "no-dane", 0, 1 },
		{ "encrypt-only", 0, 1 }, { "dane-partial", 0, 2 },
		{ "dane-failing", 0, 2 }, { "dns-failure", 0, 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit a;

		memset(&a, 0, sizeof(a));
		a.verdict = cases[i].verdict;
		a.n_warnings = cases[i].warnings;
		ck_assert_int_eq(audit_exit_class(&a), cases[i].class);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tlsacheck");
	TCase *tc = tcase_create("tlsacheck");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, targets_file_errors_name_file_and_line);
	tcase_add_test(tc, targets_file_comments_and_blanks);
	tcase_add_test(tc, numbers_in_range_only);
	tcase_add_test(tc, exit_class_follows_the_man_page);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
