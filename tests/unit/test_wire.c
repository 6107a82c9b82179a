/*
 * test_wire.c - the bounded cursor and writer (lib/wire.h).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "wire.h"

START_TEST(read_past_end_sets_sticky_error)
{
	static const uint8_t buf[3] = { 0x12, 0x34, 0x56 };
	struct wire w;

	wire_init(&w, buf, sizeof(buf));
	ck_assert_uint_eq(wire_u16(&w), 0x1234);
	ck_assert(wire_ok(&w));
	ck_assert_uint_eq(wire_u16(&w), 0);	/* only one byte left */
	ck_assert(!wire_ok(&w));
	/* sticky: even a read that would fit now fails */
	ck_assert_uint_eq(wire_u8(&w), 0);
	ck_assert_uint_eq(wire_left(&w), 0);
	ck_assert_ptr_null(wire_take(&w, 0));
}
END_TEST

START_TEST(skip_and_seek_are_bounded)
{
	static const uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct wire w;

	wire_init(&w, buf, sizeof(buf));
	wire_skip(&w, 4);
	ck_assert_uint_eq(wire_u32(&w), 0x05060708);
	ck_assert(wire_ok(&w));
	wire_seek(&w, 8);
	ck_assert(wire_ok(&w));
	wire_seek(&w, 9);
	ck_assert(!wire_ok(&w));
	wire_init(&w, buf, sizeof(buf));
	wire_skip(&w, (size_t)-1);	/* huge length must not wrap */
	ck_assert(!wire_ok(&w));
}
END_TEST

START_TEST(writer_overflow_writes_nothing)
{
	uint8_t buf[5] = { 0 };
	struct wbuf b;

	wbuf_init(&b, buf, sizeof(buf));
	wbuf_u32(&b, 0xdeadbeef);
	ck_assert(!b.err);
	wbuf_u16(&b, 0xffff);		/* needs 2, 1 left */
	ck_assert(b.err);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_uint_eq(buf[4], 0);
	wbuf_put_u16_at(&b, 0, 1);	/* sticky */
	ck_assert_uint_eq(buf[0], 0xde);
}
END_TEST

START_TEST(writer_patches_written_bytes_only)
{
	uint8_t buf[8];
	struct wbuf b;

	wbuf_init(&b, buf, sizeof(buf));
	wbuf_u16(&b, 0);
	wbuf_u8(&b, 7);
	wbuf_put_u16_at(&b, 0, 0x0102);
	ck_assert(!b.err);
	ck_assert_uint_eq(be16_load(buf), 0x0102);
	wbuf_put_u16_at(&b, 2, 0x0304);	/* only byte 2 is written */
	ck_assert(b.err);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("wire");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, read_past_end_sets_sticky_error);
	tcase_add_test(tc, skip_and_seek_are_bounded);
	tcase_add_test(tc, writer_overflow_writes_nothing);
	tcase_add_test(tc, writer_patches_written_bytes_only);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
