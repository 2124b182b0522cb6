/* test_error.c: error values, exit statuses, credential redaction, and the JSON string buffer. */
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

static void check_redact(const char *in, const char *want)
{
    char out[512];
    mno_redact_uri(in, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_redact(void **state)
{
    (void)state;
    check_redact("postgresql://alice:s3cret@db.example:5432/hub", "postgresql://alice@db.example:5432/hub");
    check_redact("postgresql://alice@db/hub", "postgresql://alice@db/hub");
    check_redact("postgres://db/hub?sslmode=require&password=s3cret&connect_timeout=5",
                 "postgres://db/hub?sslmode=require&connect_timeout=5");
    check_redact("mongodb://u:p%40ss@h1:27017,h2:27018/connec?authSource=admin",
                 "mongodb://u@h1:27017,h2:27018/connec?authSource=admin");
    check_redact("host=db user=alice password='a b\\' c' dbname=hub", "host=db user=alice dbname=hub");
    check_redact("host=db password=x", "host=db");
    /* libpq allows white space around '=' and tabs between items */
    check_redact("host=db password = s3cret dbname=hub", "host=db dbname=hub");
    check_redact("host=db\tpassword=\ts3cret\tuser=u", "host=db user=u");
    check_redact("host=db password= 'a b' user=u", "host=db user=u");
    /* a conninfo value holding "://" is still a conninfo string */
    check_redact("password=ab://cd@x host=db", "host=db");
    check_redact("host=db passfile=/p", "host=db passfile=/p");
    /* unescaped '/', '?', '#' in a password (base64): never shown */
    check_redact("postgresql://bob:ab/c+d==@db:5432/hub", "postgresql://bob@db:5432/hub");
    check_redact("postgresql://bob:pa?ss@db/hub", "postgresql://bob@db/hub");
    check_redact("mongodb://u:pa#ss@h1/connec?authSource=admin", "mongodb://u@h1/connec?authSource=admin");
    check_redact("postgresql://db/hub?user=alice@corp", "postgresql://db/hub?user=alice@corp");
    /* a misspelt password keyword is cut too (libpq refuses it, naming only the keyword) */
    check_redact("host=db passwrd=s3cret user=u", "host=db user=u");
    /* a JDBC URL pasted as it is */
    check_redact("jdbc:postgresql://u:s3cret@db/hub", "jdbc:postgresql://u@db/hub");
    check_redact("postgresql://db/hub?passwd=s3cret&sslmode=require", "postgresql://db/hub?sslmode=require");
    check_redact("", "");
    /* a password holding '@' is still removed whole (the last '@' ends the user info) */
    check_redact("postgresql://bob:p@ss@db/hub", "postgresql://bob@db/hub");
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
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_buf_json),
        cmocka_unit_test(test_name_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
