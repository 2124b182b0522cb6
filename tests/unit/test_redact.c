/* test_redact.c: credentials out of URIs, conninfo strings and messages (redact.h), one case per form libpq and libmongoc accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "error.h"
#include "redact.h"

static void check_redact(const char *in, const char *want)
{
    char out[512];
    mno_redact_uri(in, out, sizeof out);
    assert_string_equal(out, want);
}

/* The forms the project has always cut (test_error.c had them). */
static void test_redact_uri_known(void **state)
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

/* Query parameters naming a secret, in any case and percent-encoded, libpq's and libmongoc's. */
static void test_redact_uri_params(void **state)
{
    (void)state;
    check_redact("postgresql://u@h/db?PASSWORD=x&sslpassword=y&SSLPassword=z&sslmode=require",
                 "postgresql://u@h/db?sslmode=require");
    check_redact("postgresql://h/db?pass%77ord=x&application_name=a", "postgresql://h/db?application_name=a");
    check_redact("postgresql://h/db?%70assword=x", "postgresql://h/db");
    check_redact("mongodb://u:p@h/db?tlsCertificateKeyFilePassword=x&authMechanism=MONGODB-AWS"
                 "&authMechanismProperties=AWS_SESSION_TOKEN:tok&sslClientCertificateKeyPassword=y",
                 "mongodb://u@h/db?authMechanism=MONGODB-AWS");
    check_redact("mongodb+srv://u:p@cluster.example/db?TLSCERTIFICATEKEYFILEPASSWORD=x&retryWrites=true",
                 "mongodb+srv://u@cluster.example/db?retryWrites=true");
    check_redact("mongodb://h/db?authmechanismproperties=SERVICE_NAME:svc,CANONICALIZE_HOST_NAME:true",
                 "mongodb://h/db");
    check_redact("mongodb://h/db?awsSessionToken=t&x_secret=s&w=1", "mongodb://h/db?w=1");
    /* the legacy ';' separator */
    check_redact("mongodb://h/db?w=1;password=s3cret;j=true", "mongodb://h/db?w=1&j=true");
    check_redact("postgresql://h/db?passfile=/p", "postgresql://h/db?passfile=/p");
}

/* User info with any number of '@' and ':' in the password. */
static void test_redact_uri_userinfo(void **state)
{
    (void)state;
    check_redact("postgresql://bob:a@b@c@db/hub", "postgresql://bob@db/hub");
    check_redact("mongodb://u:a@b:c@Mg-Secr3t-77@h1:27017,h2/db", "mongodb://u@h1:27017,h2/db");
    check_redact("postgresql://:s3cret@db/hub", "postgresql://@db/hub");
    check_redact("postgresql://u:p@ss/w?rd@db/hub?sslmode=require", "postgresql://u@db/hub?sslmode=require");
    check_redact("postgresql://u:p@ss/c+d==@db/hub", "postgresql://u@db/hub");
    /* an '@' in a query value after a real host is not taken for the end of a password */
    check_redact("postgresql://u:p@db/hub?options=x@y", "postgresql://u@db/hub?options=x@y");
    check_redact("postgresql://[::1]:5432/hub", "postgresql://[::1]:5432/hub");
    check_redact("postgresql:///hub?host=/tmp", "postgresql:///hub?host=/tmp");
}

/* keyword=value conninfo: any case, quoted or not, and a dbname that is a URI or conninfo. */
static void test_redact_conninfo(void **state)
{
    (void)state;
    check_redact("host=h PASSWORD=x sslpassword='a b' SslPassWord=z user=u", "host=h user=u");
    check_redact("host=h dbname='postgresql://u:s3cret@h/db'", "host=h dbname='postgresql://u@h/db'");
    check_redact("host=h dbname=postgresql://u:s3cret@h/db", "host=h dbname=postgresql://u@h/db");
    check_redact("host=h dbname='user=u password=s3cret port=5'", "host=h dbname='user=u port=5'");
    check_redact("host=h dbname=hub", "host=h dbname=hub");
    check_redact("postgresql://h/?dbname=postgresql%3A%2F%2Fu%3As3cret%40h%2Fdb",
                 "postgresql://h/?dbname=postgresql://u@h/db");
}

static void check_msg(const char *uri, const char *msg, const char *want)
{
    char m[512];
    snprintf(m, sizeof m, "%s", msg);
    mno_redact_msg(m, sizeof m, uri);
    assert_string_equal(m, want);
}

/* Messages built from a URI: the URI itself, every secret and every long enough piece of one,
   in any case (libmongoc lowercases host names), percent-decoded too. */
static void test_redact_msg(void **state)
{
    (void)state;
    /* libpq takes the first '@': the tail of the password becomes the host name */
    check_msg("postgresql://u:aa@bPg-Secr3t-88@127.0.0.1/db",
              "could not translate host name \"bPg-Secr3t-88@127.0.0.1\" to address",
              "could not translate host name \"***@127.0.0.1\" to address");
    /* libmongoc alike, lowercased */
    check_msg("mongodb://u:aa@bMg-Secr3t-88@127.0.0.1/db",
              "No suitable servers found: [Failed to resolve 'bmg-secr3t-88@127.0.0.1']",
              "No suitable servers found: [Failed to resolve '***@127.0.0.1']");
    /* the URI echoed whole becomes its redacted form */
    check_msg("postgrsql://u:s3cretXY@h/db", "missing \"=\" after \"postgrsql://u:s3cretXY@h/db\"",
              "missing \"=\" after \"postgrsql://u@h/db\"");
    /* percent-decoded, and a quoted piece however short */
    check_msg("mongodb://u:p%40Secr3tXY@h/", "authentication failed for 'p@Secr3tXY'",
              "authentication failed for '***'");
    check_msg("postgresql://u:ab/Secr3t+x==@h/db", "invalid integer value \"ab\" for connection option \"port\"",
              "invalid integer value \"***\" for connection option \"port\"");
    /* query parameters and conninfo values */
    check_msg("postgresql://u@h/db?PASSWORD=Secr3tQ&sslpassword=SslSecr3t", "x Secr3tQ y sslsecr3t z",
              "x *** y *** z");
    check_msg("mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:AwsTok3n", "token AwsTok3n refused",
              "token *** refused");
    check_msg("host=h password='Secr3t Q'", "bad Secr3t Q; secr3t", "bad ***; ***");
    check_msg("mongodb://h/db?tlsCertificateKeyFilePassword=TlsSecr3t", "cannot decrypt key with TlsSecr3t",
              "cannot decrypt key with ***");
    /* nothing to cut: unchanged; a short unquoted piece is left (it would cut every word) */
    check_msg("postgresql://u@h/db", "connection refused", "connection refused");
    check_msg("postgresql://u:ab@h/db", "about abc", "about abc");
    check_msg(NULL, "x", "x");
    /* a cut message stays NUL-terminated within its buffer */
    char m[16] = "a Secr3tQ b";
    mno_redact_msg(m, sizeof m, "postgresql://u:Secr3tQ@h/db");
    assert_string_equal(m, "a *** b");
    mno_error e;
    mno_err(&e, MNO_E_SERVER, NULL, 0, NULL, "at %s", "postgresql://u:Secr3tQ@h/db");
    mno_redact_error(&e, "postgresql://u:Secr3tQ@h/db");
    assert_string_equal(e.msg, "at postgresql://u@h/db");
    mno_redact_error(NULL, "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_uri_known),
        cmocka_unit_test(test_redact_uri_params),
        cmocka_unit_test(test_redact_uri_userinfo),
        cmocka_unit_test(test_redact_conninfo),
        cmocka_unit_test(test_redact_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
