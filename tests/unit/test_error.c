/* test_error.c: error values, exit statuses, and the JSON string buffer (redaction: test_redact.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "buf.h"
#include "error.h"

static void test_err_prefix(void **state)
{
    (void)state;
    mno_error e;
    mno_error_clear(&e);
    assert_int_equal(mno_err(&e, MNO_E_CORRUPT, "hub.mnoa", 12, "public.users", "sum %s", "differs"), -1);
    assert_string_equal(e.msg, "hub.mnoa:12: section public.users: sum differs");
    assert_int_equal(e.code, MNO_E_CORRUPT);
    assert_string_equal(e.object, "public.users");
    assert_int_equal(e.line, 12);
    assert_int_equal(mno_exit_status(&e), 2);
    mno_err(&e, MNO_E_USAGE, NULL, 0, NULL, "unknown option '%s'", "--x");
    assert_string_equal(e.msg, "unknown option '--x'");
    mno_err(&e, MNO_E_IO, "-", 0, NULL, "cannot read");
    assert_string_equal(e.msg, "-: cannot read");
    mno_error_clear(&e);
    assert_int_equal(mno_exit_status(&e), 0);
    assert_int_equal(mno_err(NULL, MNO_E_IO, NULL, 0, NULL, "ignored"), -1);
}

static void test_buf_json(void **state)
{
    (void)state;
    mno_buf b = MNO_BUF_INIT;
    const char s[] = "a\"b\\c\n\t\x01\x7f\xc3\xa9";
    assert_int_equal(mno_buf_add_json_str(&b, s, sizeof s - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xc3\xa9\"");
    mno_buf_reset(&b);
    assert_int_equal(mno_buf_add_json_str(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    mno_buf_reset(&b);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(mno_buf_addf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 20000);
    mno_buf_release(&b);
    mno_buf_release(&b);
    mno_buf_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_buf_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
