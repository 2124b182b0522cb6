/* redact.h: credentials out of everything shown: URIs and conninfo strings redacted, and the secrets they hold scrubbed from any message (a server's or a library's included). */
#ifndef MNO_REDACT_H
#define MNO_REDACT_H

#include <stddef.h>

struct mno_error;

/*
 * The credential forms libpq and libmongoc accept, all handled here:
 *   - URI user info: scheme://user:SECRET@host..., the secret holding any number of '@' (the
 *     last '@' of the authority ends it) and even an unescaped '/', '?' or '#' (then the last
 *     '@' after a ':' ends it); postgresql://, postgres://, mongodb://, mongodb+srv://, and any
 *     other scheme (jdbc:postgresql://).
 *   - URI query parameters whose name (percent-decoded, in any case) is a secret: password,
 *     sslpassword, tlsCertificateKeyFilePassword, sslClientCertificateKeyPassword,
 *     authMechanismProperties (it carries AWS_SESSION_TOKEN and the like), and any name
 *     starting with "pass" (but passfile) or holding "password", "secret" or "token".
 *   - keyword=value conninfo strings (libpq: white space around '=', values quoted with ''
 *     and \ escapes): the same keywords, in any case.
 *   - a dbname value that is itself a URI or a conninfo string (libpq expands it): the same,
 *     inside it.
 */

/*
 * Copies uri into out (size n) with every credential item removed ("postgresql://u@h/db",
 * "mongodb://u@h/", "host=h dbname=d"). For messages, logs and archive headers. Returns out.
 */
char *mno_redact_uri(const char *uri, char *out, size_t n);

/*
 * Cuts the credentials of uri out of msg (NUL-terminated, buffer size n), in place: uri
 * itself becomes its redacted form, then every secret it holds, raw and percent-decoded, is
 * replaced by "***" wherever it appears, in any case (libmongoc lowercases host names) -
 * and so is every piece of it between the characters a URI parser splits on
 * ("@/?#:,;&=" and white space) that is MNO_REDACT_MIN_PIECE bytes or longer: a password
 * with an unescaped '@' is cut by the parser, its tail taken for a host name and echoed by
 * the server or library ("could not translate host name "TAIL@127.0.0.1""). uri NULL or
 * without credentials: nothing changes.
 */
void mno_redact_msg(char *msg, size_t n, const char *uri);

/* mno_redact_msg on e->msg. Accepts NULL e or uri. */
void mno_redact_error(struct mno_error *e, const char *uri);

#define MNO_REDACT_MIN_PIECE 4

#endif
