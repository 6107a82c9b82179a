/*
 * test_cfgfile.c - unit tests for lib/cfgfile.c, the Unbound-style syntax.
 *
 * Invalid input first, each with its exact "FILE:LINE: message", then good
 * vectors. Include tests write files under a fresh mkdtemp() directory and
 * remove it afterwards.
 *
 * SECURITY: test program; writes only below $TMPDIR (or /tmp).
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgfile.h"

static char err[1024];

/* Parses text as "t.conf"; returns cfg_file_parse()'s result. */
static int
parse(const char *text, struct cfg_file **cf)
{
	return cfg_file_parse("t.conf", text, strlen(text), cf, err,
	    sizeof(err));
}

/* Asserts that text fails with exactly msg. */
static void
expect_error(const char *text, size_t len, const char *msg)
{
	struct cfg_file *cf = (struct cfg_file *)1;

	ck_assert_int_eq(cfg_file_parse("t.conf", text, len, &cf, err,
	    sizeof(err)), -1);
	ck_assert_ptr_null(cf);
	ck_assert_str_eq(err, msg);
}

/* --- a scratch directory for include tests ------------------------------- */

static char tmpdir[256];

static void
tmpdir_make(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_cfgfile.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Writes text to tmpdir/name; returns the full path (static buffer
 * rotated between four calls). */
static const char *
tmpfile_write(const char *name, const char *text)
{
	static char paths[4][512];
	static int next;
	char *path = paths[next++ % 4];
	FILE *f;

	snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static void
tmpdir_remove(void)
{
	char cmd[300];

	/* the directory is ours, made by mkdtemp() above */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* --- invalid input ------------------------------------------------------- */

START_TEST(test_key_outside_clause)
{
	expect_error("# comment\n\nverbosity: 1\nserver:\n", 32,
	    "t.conf:3: 'verbosity' outside of a clause (add 'server:' above "
	    "it)");
}
END_TEST

START_TEST(test_unterminated_quotes)
{
	const char *dq = "server:\n  local-data: \"www.example. A 192.0.2.1\n";
	const char *sq = "server:\n\tname: 'abc\" # x\n";

	expect_error(dq, strlen(dq),
	    "t.conf:2: local-data: missing closing \" quote");
	expect_error(sq, strlen(sq), "t.conf:2: name: missing closing ' quote");
}
END_TEST

START_TEST(test_not_key_value)
{
	const char *t1 = "server:\n  verbosity 1\n";
	const char *t2 = "server:\n: 1\n";
	const char *t3 = "server:\n\"name\": 1\n";
	const char *t4 = "server:\nport\x1b[31m: 1\n";
	const char *t5 = "127.0.0.1\n";

	expect_error(t1, strlen(t1), "t.conf:2: expected 'key: value' or "
	    "'clause:', found 'verbosity 1'");
	expect_error(t2, strlen(t2), "t.conf:2: expected 'key: value' or "
	    "'clause:', found ': 1'");
	expect_error(t3, strlen(t3), "t.conf:2: expected 'key: value' or "
	    "'clause:', found '\"name\": 1'");
	/* control characters never reach the message */
	expect_error(t4, strlen(t4), "t.conf:2: expected 'key: value' or "
	    "'clause:', found 'port?[31m: 1'");
	expect_error(t5, strlen(t5), "t.conf:1: expected 'key: value' or "
	    "'clause:', found '127.0.0.1'");
}
END_TEST

START_TEST(test_line_too_long)
{
	char *text = malloc(8192);
	size_t n;

	ck_assert_ptr_nonnull(text);
	n = (size_t)snprintf(text, 8192, "server:\n\n  x: ");
	memset(text + n, 'a', 4097 - 5);	/* line 3: 4097 bytes */
	n += 4097 - 5;
	text[n++] = '\n';
	expect_error(text, n, "t.conf:3: line longer than 4096 bytes");
	/* also without a newline at the end of the text */
	expect_error(text, n - 1, "t.conf:3: line longer than 4096 bytes");
	free(text);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "server:\n  name: a\0b\n";

	expect_error(text, sizeof(text) - 1,
	    "t.conf:2: NUL byte in line (not a text file?)");
	/* a NUL even inside a comment: the file is not text */
	expect_error("server:\n# \0\n", 12,
	    "t.conf:2: NUL byte in line (not a text file?)");
}
END_TEST

START_TEST(test_include_bad_forms)
{
	const char *t1 = "include:\n";
	const char *t2 = "server:\n include: a.conf b.conf\n";
	const char *t3 = "include-toplevel:   # nothing\n";

	expect_error(t1, strlen(t1), "t.conf:1: include: needs a file name or "
	    "pattern");
	expect_error(t2, strlen(t2), "t.conf:2: include: expects one file name "
	    "or pattern, found 2 words (quote a name with blanks)");
	expect_error(t3, strlen(t3), "t.conf:1: include-toplevel: needs a file "
	    "name or pattern");
}
END_TEST

START_TEST(test_include_missing_file)
{
	const char *t = "server:\n  include: \"/nonexistent/danegate/x.conf\"\n";

	expect_error(t, strlen(t), "t.conf:2: include: cannot open "
	    "'/nonexistent/danegate/x.conf': No such file or directory");
}
END_TEST

START_TEST(test_include_disabled)
{
	const char *t = "server:\n  include: /etc/passwd\n";

	cfg_file_allow_includes(false);
	expect_error(t, strlen(t), "t.conf:2: include: not allowed here "
	    "(includes are disabled)");
	cfg_file_allow_includes(true);
}
END_TEST

START_TEST(test_include_loop)
{
	struct cfg_file *cf;
	char text[600], msg[1024];
	const char *path;

	tmpdir_make();
	snprintf(text, sizeof(text), "server:\ninclude: %s/loop.conf\n",
	    tmpdir);
	path = tmpfile_write("loop.conf", text);
	ck_assert_int_eq(cfg_file_read(path, &cf, err, sizeof(err)), -1);
	ck_assert_ptr_null(cf);
	snprintf(msg, sizeof(msg), "%s:2: include: nested deeper than 16 "
	    "files (an include loop?)", path);
	ck_assert_str_eq(err, msg);
	tmpdir_remove();
}
END_TEST

/* main -> f1 -> ... -> f16 is fine, one more level is not */
START_TEST(test_include_depth)
{
	struct cfg_file *cf;
	char name[32], text[600], msg[1024];
	const char *path;
	int i;

	tmpdir_make();
	tmpfile_write("f17.conf", "server:\n");
	for (i = 16; i >= 1; i--) {
		snprintf(name, sizeof(name), "f%d.conf", i);
		snprintf(text, sizeof(text), "include: %s/f%d.conf\n", tmpdir,
		    i + 1);
		tmpfile_write(name, text);
	}
	/* main.conf includes f1 (level 1) ... f16 includes f17 (level 17) */
	snprintf(text, sizeof(text), "include: %s/f1.conf\n", tmpdir);
	path = tmpfile_write("main.conf", text);
	ck_assert_int_eq(cfg_file_read(path, &cf, err, sizeof(err)), -1);
	snprintf(msg, sizeof(msg), "%s/f16.conf:1: include: nested deeper "
	    "than 16 files (an include loop?)", tmpdir);
	ck_assert_str_eq(err, msg);

	/* start one level lower: f2 .. f17 is 16 levels below main */
	snprintf(text, sizeof(text), "include: %s/f2.conf\n", tmpdir);
	path = tmpfile_write("main.conf", text);
	ck_assert_int_eq(cfg_file_read(path, &cf, err, sizeof(err)), 0);
	ck_assert_uint_eq(cf->n_files, 17);
	ck_assert_uint_eq(cf->n_clauses, 1);
	cfg_file_free(cf);
	tmpdir_remove();
}
END_TEST

START_TEST(test_read_errors)
{
	struct cfg_file *cf = (struct cfg_file *)1;

	ck_assert_int_eq(cfg_file_read("/nonexistent/danegated.conf", &cf, err,
	    sizeof(err)), -1);
	ck_assert_ptr_null(cf);
	ck_assert_str_eq(err, "/nonexistent/danegated.conf: cannot open: No "
	    "such file or directory");
	ck_assert_int_eq(cfg_file_read("/", &cf, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/: cannot open: Is a directory");
}
END_TEST

START_TEST(test_include_toplevel_closes_clause)
{
	struct cfg_file *cf;
	char text[600], msg[1024];

	tmpdir_make();
	tmpfile_write("z.conf", "forward-zone:\n name: .\n");
	snprintf(text, sizeof(text), "server:\n verbosity: 1\n"
	    "include-toplevel: %s/z.conf\n forward-addr: 192.0.2.1\n", tmpdir);
	ck_assert_int_eq(parse(text, &cf), -1);
	snprintf(msg, sizeof(msg), "t.conf:4: 'forward-addr' outside of a "
	    "clause (add 'server:' above it)");
	ck_assert_str_eq(err, msg);

	/* and an included file must open its own clause */
	tmpfile_write("z.conf", " name: .\n");
	snprintf(text, sizeof(text), "server:\ninclude-toplevel: %s/z.conf\n",
	    tmpdir);
	ck_assert_int_eq(parse(text, &cf), -1);
	snprintf(msg, sizeof(msg), "%s/z.conf:1: 'name' outside of a clause "
	    "(add 'server:' above it)", tmpdir);
	ck_assert_str_eq(err, msg);
	tmpdir_remove();
}
END_TEST

START_TEST(test_error_in_included_file)
{
	struct cfg_file *cf;
	char text[600], msg[1024];

	tmpdir_make();
	tmpfile_write("bad.conf", "# ok\n\n  x: \"y\n");
	snprintf(text, sizeof(text), "server:\ninclude: %s/bad.conf\n", tmpdir);
	ck_assert_int_eq(parse(text, &cf), -1);
	snprintf(msg, sizeof(msg), "%s/bad.conf:3: x: missing closing \" "
	    "quote", tmpdir);
	ck_assert_str_eq(err, msg);
	tmpdir_remove();
}
END_TEST

/* --- good vectors -------------------------------------------------------- */

START_TEST(test_basic)
{
	struct cfg_file *cf;
	const struct cfg_entry *e;

	ck_assert_int_eq(parse(
	    "# danegated.conf\n"
	    "server:\n"
	    "\tinterface: 127.0.0.1@53\n"
	    "    access-control: 10.0.0.0/8 allow   # the LAN\n"
	    "  local-data: \"www.example. A 192.0.2.1\"\n"
	    "forward-zone:\n"
	    "  name: \".\"\n"
	    "  forward-addr: 192.0.2.53\n", &cf), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(cf->n_entries, 5);
	ck_assert_uint_eq(cf->n_clauses, 2);
	ck_assert_uint_eq(cf->n_files, 1);
	ck_assert_str_eq(cf->files[0], "t.conf");
	ck_assert_str_eq(cf->clauses[0].name, "server");
	ck_assert_uint_eq(cf->clauses[0].line, 2);
	ck_assert_str_eq(cf->clauses[1].name, "forward-zone");
	ck_assert_uint_eq(cf->clauses[1].line, 6);
	ck_assert_ptr_eq(cf->clauses[1].file, cf->files[0]);

	e = &cf->entries[0];
	ck_assert_str_eq(e->clause, "server");
	ck_assert_uint_eq(e->clause_seq, 0);
	ck_assert_str_eq(e->key, "interface");
	ck_assert_str_eq(e->value, "127.0.0.1@53");
	ck_assert_int_eq(e->argc, 1);
	ck_assert_str_eq(e->argv[0], "127.0.0.1@53");
	ck_assert_ptr_null(e->argv[1]);
	ck_assert_ptr_eq(e->file, cf->files[0]);
	ck_assert_uint_eq(e->line, 3);

	e = &cf->entries[1];
	ck_assert_str_eq(e->key, "access-control");
	ck_assert_str_eq(e->value, "10.0.0.0/8 allow");
	ck_assert_int_eq(e->argc, 2);
	ck_assert_str_eq(e->argv[0], "10.0.0.0/8");
	ck_assert_str_eq(e->argv[1], "allow");

	e = &cf->entries[2];
	ck_assert_str_eq(e->value, "\"www.example. A 192.0.2.1\"");
	ck_assert_int_eq(e->argc, 1);
	ck_assert_str_eq(e->argv[0], "www.example. A 192.0.2.1");

	e = &cf->entries[3];
	ck_assert_str_eq(e->clause, "forward-zone");
	ck_assert_uint_eq(e->clause_seq, 1);
	ck_assert_str_eq(e->key, "name");
	ck_assert_str_eq(e->value, "\".\"");
	ck_assert_str_eq(e->argv[0], ".");
	ck_assert_uint_eq(cf->entries[4].line, 8);
	cfg_file_free(cf);
}
END_TEST

START_TEST(test_quotes_and_comments)
{
	struct cfg_file *cf;
	const struct cfg_entry *e;

	ck_assert_int_eq(parse(
	    "server:# the main clause\n"
	    "local-zone: \"test.\" nodefault\n"
	    "local-data: 'txt.example. TXT \"a # b\"'\n"
	    "pidfile: \"\"\n"
	    "odd: x\"y z\"w 'q'\n"
	    "port:5353\n"
	    "hash: a#b #c\n"
	    "name: \"\" \"\"\n"
	    "forward-addr: 192.0.2.1@853#dns.example\n", &cf), 0);
	ck_assert_uint_eq(cf->n_clauses, 1);
	ck_assert_uint_eq(cf->n_entries, 8);

	e = &cf->entries[0];
	ck_assert_str_eq(e->value, "\"test.\" nodefault");
	ck_assert_int_eq(e->argc, 2);
	ck_assert_str_eq(e->argv[0], "test.");
	ck_assert_str_eq(e->argv[1], "nodefault");

	e = &cf->entries[1];
	ck_assert_str_eq(e->value, "'txt.example. TXT \"a # b\"'");
	ck_assert_int_eq(e->argc, 1);
	ck_assert_str_eq(e->argv[0], "txt.example. TXT \"a # b\"");

	/* an empty quoted value is one empty word, not a clause header */
	e = &cf->entries[2];
	ck_assert_str_eq(e->key, "pidfile");
	ck_assert_str_eq(e->value, "\"\"");
	ck_assert_int_eq(e->argc, 1);
	ck_assert_str_eq(e->argv[0], "");

	/* like Unbound's lexer, a quoted string is a word of its own */
	e = &cf->entries[3];
	ck_assert_str_eq(e->value, "x\"y z\"w 'q'");
	ck_assert_int_eq(e->argc, 4);
	ck_assert_str_eq(e->argv[0], "x");
	ck_assert_str_eq(e->argv[1], "y z");
	ck_assert_str_eq(e->argv[2], "w");
	ck_assert_str_eq(e->argv[3], "q");

	e = &cf->entries[4];
	ck_assert_str_eq(e->key, "port");
	ck_assert_str_eq(e->value, "5353");

	/* '#' starts a comment only where a word could start */
	e = &cf->entries[5];
	ck_assert_str_eq(e->value, "a#b");
	ck_assert_int_eq(e->argc, 1);

	e = &cf->entries[6];
	ck_assert_int_eq(e->argc, 2);
	ck_assert_str_eq(e->argv[0], "");
	ck_assert_str_eq(e->argv[1], "");

	e = &cf->entries[7];
	ck_assert_str_eq(e->value, "192.0.2.1@853#dns.example");
	cfg_file_free(cf);
}
END_TEST

START_TEST(test_whitespace_and_line_ends)
{
	struct cfg_file *cf;
	char *text;
	size_t n;

	/* CRLF, blank lines, trailing blanks, tabs, no final newline */
	ck_assert_int_eq(parse("\r\n   \r\nserver:\t \r\n\tdo-ip6:\tno \t\r\n"
	    "\n\t# comment\r\nverbosity: 2", &cf), 0);
	ck_assert_uint_eq(cf->n_entries, 2);
	ck_assert_str_eq(cf->entries[0].key, "do-ip6");
	ck_assert_str_eq(cf->entries[0].value, "no");
	ck_assert_uint_eq(cf->entries[0].line, 4);
	ck_assert_str_eq(cf->entries[1].value, "2");
	ck_assert_uint_eq(cf->entries[1].line, 7);
	cfg_file_free(cf);

	/* a line of exactly 4096 bytes (plus CR) is fine */
	ck_assert_ptr_nonnull(text = malloc(8192));
	n = (size_t)snprintf(text, 8192, "server:\nx: ");
	memset(text + n, 'a', 4096 - 3);
	n += 4096 - 3;
	text[n++] = '\r';
	text[n++] = '\n';
	ck_assert_int_eq(cfg_file_parse("t.conf", text, n, &cf, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(strlen(cf->entries[0].value), 4093);
	cfg_file_free(cf);
	free(text);

	/* an empty file */
	ck_assert_int_eq(cfg_file_parse("t.conf", "", 0, &cf, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(cf->n_entries, 0);
	ck_assert_uint_eq(cf->n_clauses, 0);
	cfg_file_free(cf);
}
END_TEST

START_TEST(test_clauses_without_keys)
{
	struct cfg_file *cf;

	ck_assert_int_eq(parse("server:\nremote-control:\nforward-zone:\n"
	    "anything-else:\nserver:\n  port: 53\n", &cf), 0);
	ck_assert_uint_eq(cf->n_clauses, 5);
	ck_assert_str_eq(cf->clauses[3].name, "anything-else");
	ck_assert_uint_eq(cf->n_entries, 1);
	ck_assert_uint_eq(cf->entries[0].clause_seq, 4);
	ck_assert_str_eq(cf->entries[0].clause, "server");
	cfg_file_free(cf);
}
END_TEST

START_TEST(test_many_entries)
{
	struct cfg_file *cf;
	char *text;
	size_t n = 0, i;

	/* enough lines for several arena chunks and array growth */
	ck_assert_ptr_nonnull(text = malloc(40 * 5000 + 16));
	n += (size_t)sprintf(text, "server:\n");
	for (i = 0; i < 5000; i++)
		n += (size_t)sprintf(text + n, "local-zone: z%zu. static\n", i);
	ck_assert_int_eq(cfg_file_parse("t.conf", text, n, &cf, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(cf->n_entries, 5000);
	ck_assert_str_eq(cf->entries[4999].argv[0], "z4999.");
	ck_assert_uint_eq(cf->entries[4999].line, 5001);
	cfg_file_free(cf);
	free(text);
}
END_TEST

START_TEST(test_include_glob)
{
	struct cfg_file *cf;
	const struct cfg_entry *e;
	char text[1024];

	tmpdir_make();
	snprintf(text, sizeof(text), "%s/conf.d", tmpdir);
	ck_assert_int_eq(mkdir(text, 0700), 0);
	/* read in sorted order, as if pasted in place of the include line:
	 * keys continue the clause in force, and a clause opened in an
	 * included file goes on after it (Unbound's behaviour) */
	tmpfile_write("conf.d/20-b.conf", "forward-addr: 192.0.2.1\n");
	tmpfile_write("conf.d/10-a.conf", "verbosity: 2\nforward-zone:\n"
	    "  name: .\n");
	tmpfile_write("conf.d/30-c.txt", "not: read\n");
	snprintf(text, sizeof(text),
	    "server:\n"
	    "  port: 53\n"
	    "  include: \"%s/conf.d/*.conf\"\n"
	    "  forward-first: yes\n"
	    "include: %s/nothing-*.conf\n"		/* no match: fine */
	    "include: %s/no-such-dir/*.conf\n",	/* the same */
	    tmpdir, tmpdir, tmpdir);
	ck_assert_int_eq(parse(text, &cf), 0);
	ck_assert_uint_eq(cf->n_files, 3);
	ck_assert_str_eq(cf->files[0], "t.conf");
	ck_assert_str_eq(cf->files[1] + strlen(tmpdir), "/conf.d/10-a.conf");
	ck_assert_str_eq(cf->files[2] + strlen(tmpdir), "/conf.d/20-b.conf");
	ck_assert_uint_eq(cf->n_entries, 5);
	ck_assert_uint_eq(cf->n_clauses, 2);

	e = &cf->entries[1];
	ck_assert_str_eq(e->key, "verbosity");
	ck_assert_str_eq(e->clause, "server");
	ck_assert_ptr_eq(e->file, cf->files[1]);
	ck_assert_uint_eq(e->line, 1);
	e = &cf->entries[2];
	ck_assert_str_eq(e->key, "name");
	ck_assert_uint_eq(e->clause_seq, 1);
	ck_assert_ptr_eq(cf->clauses[1].file, cf->files[1]);
	ck_assert_uint_eq(cf->clauses[1].line, 2);
	e = &cf->entries[3];
	ck_assert_str_eq(e->key, "forward-addr");
	ck_assert_str_eq(e->clause, "forward-zone");
	ck_assert_ptr_eq(e->file, cf->files[2]);
	e = &cf->entries[4];
	ck_assert_str_eq(e->key, "forward-first");
	ck_assert_str_eq(e->clause, "forward-zone");
	ck_assert_ptr_eq(e->file, cf->files[0]);
	ck_assert_uint_eq(e->line, 4);
	cfg_file_free(cf);
	tmpdir_remove();
}
END_TEST

START_TEST(test_include_plain_and_toplevel)
{
	struct cfg_file *cf;
	char text[1024];
	const char *path;

	tmpdir_make();
	/* before any clause, an included file may open one */
	tmpfile_write("top.conf", "server:\n  do-ip4: yes\n");
	tmpfile_write("zone.conf", "stub-zone:\n  name: example.\n");
	snprintf(text, sizeof(text),
	    "include: %s/top.conf\n"
	    "  do-ip6: yes\n"
	    "include-toplevel: %s/zone.conf\n"
	    "server:\n"
	    "  do-udp: yes\n", tmpdir, tmpdir);
	path = tmpfile_write("main.conf", text);
	ck_assert_int_eq(cfg_file_read(path, &cf, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(cf->n_files, 3);
	ck_assert_str_eq(cf->files[0], path);
	ck_assert_uint_eq(cf->n_entries, 4);
	ck_assert_str_eq(cf->entries[1].key, "do-ip6");
	ck_assert_str_eq(cf->entries[1].clause, "server");
	ck_assert_str_eq(cf->entries[2].clause, "stub-zone");
	ck_assert_str_eq(cf->entries[3].clause, "server");
	ck_assert_uint_eq(cf->entries[3].clause_seq, 2);
	cfg_file_free(cf);
	tmpdir_remove();
}
END_TEST

/* cfg_parse_uint(): digits only, within bounds; what strtoul() would take
 * with a blank or a sign is refused. */
START_TEST(test_parse_uint)
{
	static const char *bad[] = { "", " 5", "5 ", "+5", "-0", " -1",
	    "0x10", "5s", "4294967296", "99999999999", "12a", NULL };
	unsigned v = 7;

	for (size_t i = 0; bad[i] != NULL; i++)
		ck_assert_msg(cfg_parse_uint(bad[i], 0, UINT_MAX, &v) == -1,
		    "took '%s'", bad[i]);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(cfg_parse_uint("9", 10, 20, &v), -1);
	ck_assert_int_eq(cfg_parse_uint("21", 10, 20, &v), -1);
	ck_assert_int_eq(cfg_parse_uint("10", 10, 20, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(cfg_parse_uint("0020", 10, 20, &v), 0);
	ck_assert_uint_eq(v, 20);
	ck_assert_int_eq(cfg_parse_uint("4294967295", 0, UINT_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT_MAX);
}
END_TEST

static Suite *
cfgfile_suite(void)
{
	Suite *s = suite_create("cfgfile");
	TCase *bad = tcase_create("invalid");
	TCase *good = tcase_create("good");

	tcase_add_test(bad, test_key_outside_clause);
	tcase_add_test(bad, test_unterminated_quotes);
	tcase_add_test(bad, test_not_key_value);
	tcase_add_test(bad, test_line_too_long);
	tcase_add_test(bad, test_nul_byte);
	tcase_add_test(bad, test_include_bad_forms);
	tcase_add_test(bad, test_include_missing_file);
	tcase_add_test(bad, test_include_disabled);
	tcase_add_test(bad, test_include_loop);
	tcase_add_test(bad, test_include_depth);
	tcase_add_test(bad, test_read_errors);
	tcase_add_test(bad, test_include_toplevel_closes_clause);
	tcase_add_test(bad, test_error_in_included_file);
	suite_add_tcase(s, bad);

	tcase_add_test(good, test_basic);
	tcase_add_test(good, test_quotes_and_comments);
	tcase_add_test(good, test_whitespace_and_line_ends);
	tcase_add_test(good, test_clauses_without_keys);
	tcase_add_test(good, test_many_entries);
	tcase_add_test(good, test_include_glob);
	tcase_add_test(good, test_include_plain_and_toplevel);
	tcase_add_test(good, test_parse_uint);
	suite_add_tcase(s, good);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cfgfile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
