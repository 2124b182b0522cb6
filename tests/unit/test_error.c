/* test_error.c: error values, exit statuses, and the JSON string buffer (redaction: test_redact.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* mno_json_escapes_canonical: exactly the escapes mno_buf_add_json_str writes (mno-cat --seal
   copies a record line only when they are), for every byte. */
static void test_json_escapes_canonical(void **state)
{
    (void)state;
    mno_buf b = MNO_BUF_INIT;
    char c, esc[8];
    for (int i = 0; i < 256; i++) {
        c = (char)i;
        mno_buf_reset(&b);
        assert_int_equal(mno_buf_add_json_str(&b, &c, 1), 0);
        assert_int_equal(mno_json_escapes_canonical(b.data, b.len), 1);
        /* the same character as \u00XX (upper and lower case): canonical only where the
           writer writes that */
        for (int up = 0; up < 2; up++) {
            snprintf(esc, sizeof esc, up ? "\\u%04X" : "\\u%04x", i);
            int want = b.len == 8 && memcmp(b.data + 1, esc, 6) == 0;
            assert_int_equal(mno_json_escapes_canonical(esc, 6), want);
        }
    }
    assert_int_equal(mno_json_escapes_canonical("{\"a\":\"say \\\"hi\\\" \\\\ x\"}", 23), 1);
    assert_int_equal(mno_json_escapes_canonical("a\\/b", 4), 0);      /* \/ */
    assert_int_equal(mno_json_escapes_canonical("\\u0041", 6), 0);    /* A */
    assert_int_equal(mno_json_escapes_canonical("\\u000a", 6), 0);    /* \n */
    assert_int_equal(mno_json_escapes_canonical("\\u00e9", 6), 0);
    assert_int_equal(mno_json_escapes_canonical("\\ud83d\\ude00", 12), 0);
    assert_int_equal(mno_json_escapes_canonical("x\\", 2), 0);        /* cut short */
    assert_int_equal(mno_json_escapes_canonical("\\u001", 5), 0);
    assert_int_equal(mno_json_escapes_canonical("", 0), 1);
    mno_buf_release(&b);
}

/* Names in messages: control characters escaped, long names cut on a UTF-8 boundary; every
   mno_err message is one line whatever its arguments held. */
static void test_name_msg(void **state)
{
    (void)state;
    char out[MNO_NAME_MSG_MAX], big[12000];
    mno_error e;
    assert_string_equal(mno_name_msg("connec.a\nmno-restore: restored 5\t\r\x1b[2J\x7f", out, sizeof out),
                        "connec.a\\nmno-restore: restored 5\\t\\r\\x1b[2J\\x7f");
    /* C1 controls (U+009B is a one-byte CSI to some terminals); other UTF-8 kept */
    assert_string_equal(mno_name_msg("a\xc2\x9b" "b\xc3\xa9\\", out, sizeof out), "a\\u009bb\xc3\xa9\\");
    assert_string_equal(mno_name_msg(NULL, out, sizeof out), "");
    /* a 10 KB name: cut at 256 bytes, never inside a UTF-8 sequence */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mno_name_msg(big, out, sizeof out);
    assert_int_equal(strlen(out), MNO_NAME_MSG_CUT + 3);
    assert_string_equal(out + MNO_NAME_MSG_CUT, "...");
    big[MNO_NAME_MSG_CUT - 1] = '\xc3';
    big[MNO_NAME_MSG_CUT] = '\xa9';
    mno_name_msg(big, out, sizeof out);
    assert_int_equal(strlen(out), MNO_NAME_MSG_CUT - 1 + 3);
    assert_string_equal(out + MNO_NAME_MSG_CUT - 1, "...");
    /* a small buffer: truncated, still terminated */
    assert_string_equal(mno_name_msg("abc\ndef", out, 6), "abc\\n");   /* an escape whole or not at all */
    assert_string_equal(mno_name_msg("abc\ndef", out, 5), "abc");
    /* the error formatting: prefix names escaped and cut, the body escaped */
    mno_err(&e, MNO_E_FORMAT, "in\nput", 3, "s.\x1b", "tenant '%s' %s", big, "bad\nline");
    assert_null(strchr(e.msg, '\n'));
    assert_null(strchr(e.msg, '\x1b'));
    assert_memory_equal(e.msg, "in\\nput:3: section s.\\x1b: tenant 'xxx", 32);
    assert_string_equal(e.object, "s.\x1b");  /* the raw name stays in object */
    char pre[MNO_NAME_MSG_MAX * 2];
    mno_err_prefix("in\nput", 3, "s.\x1b", pre, sizeof pre);
    assert_string_equal(pre, "in\\nput:3: section s.\\x1b: ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_buf_json),
        cmocka_unit_test(test_json_escapes_canonical),
        cmocka_unit_test(test_name_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
