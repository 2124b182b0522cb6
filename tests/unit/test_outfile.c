/* test_outfile.c: output files (outfile.h): a private 0600 temporary file renamed into place only when complete, links never followed, failures leave the final name as it was. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "outfile.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mno-outfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(const char *name)
{
    static char buf[16][512];
    static int i;
    i = (i + 1) % 16;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* The number of entries in the test directory. */
static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void put(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static const char *get(const char *path)
{
    static char buf[256];
    memset(buf, 0, sizeof buf);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof buf - 1) >= 0);
    close(fd);
    return buf;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode;
}

static void write_str(mno_outfile *f, const char *s)
{
    assert_int_equal(write(mno_outfile_fd(f), s, strlen(s)), (ssize_t)strlen(s));
}

/* A new file: nothing at the final name until commit, then exactly 0600 under umask 000,
   no temporary file left. */
static void test_new_file(void **state)
{
    (void)state;
    mode_t old = umask(0);
    mno_error e = {0};
    const char *p = tpath("a.mnoa");
    mno_outfile *f = mno_outfile_open(p, &e);
    assert_non_null(f);
    assert_true(mno_outfile_is_temp(f));
    assert_string_equal(mno_outfile_name(f), p);
    write_str(f, "data\n");
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(entries(), 1);           /* the temporary file, beside it */
    glob_t g;
    char pat[300];
    snprintf(pat, sizeof pat, "%s/a.mnoa.??????.partial", dir);
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1);
    assert_int_equal(mode_of(g.gl_pathv[0]) & 07777, 0600);
    globfree(&g);
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_string_equal(get(p), "data\n");
    assert_true(S_ISREG(mode_of(p)));
    assert_int_equal(mode_of(p) & 07777, 0600);
    assert_int_equal(entries(), 1);
    /* a umask that would take the owner's write bit: still 0600 */
    umask(0277);
    f = mno_outfile_open(tpath("b.mnoa"), &e);
    assert_non_null(f);
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_int_equal(mode_of(tpath("b.mnoa")) & 07777, 0600);
    umask(old);
    unlink(p);
    unlink(tpath("b.mnoa"));
}

/* An existing file is replaced only by commit; abort leaves it as it was (content, mode). */
static void test_existing_file_abort_and_commit(void **state)
{
    (void)state;
    mno_error e = {0};
    const char *p = tpath("keep.mnoa");
    put(p, "old\n", 0644);
    mno_outfile *f = mno_outfile_open(p, &e);
    assert_non_null(f);
    write_str(f, "new\n");
    assert_string_equal(get(p), "old\n");
    mno_outfile_abort(f);
    assert_string_equal(get(p), "old\n");
    assert_int_equal(mode_of(p) & 07777, 0644);
    assert_int_equal(entries(), 1);
    f = mno_outfile_open(p, &e);
    assert_non_null(f);
    write_str(f, "new\n");
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_string_equal(get(p), "new\n");
    assert_int_equal(mode_of(p) & 07777, 0600);
    assert_int_equal(entries(), 1);
    unlink(p);
    mno_outfile_abort(NULL);
}

/* A symbolic link as the final name is replaced by the new file: its target is neither
   written nor chmod'ed, before or after commit; abort leaves the link. */
static void test_symlink_replaced(void **state)
{
    (void)state;
    mno_error e = {0};
    const char *victim = tpath("victim"), *link = tpath("out.mnoa");
    put(victim, "victim\n", 0644);
    assert_int_equal(symlink(victim, link), 0);
    mno_outfile *f = mno_outfile_open(link, &e);
    assert_non_null(f);
    write_str(f, "archive\n");
    mno_outfile_abort(f);
    assert_true(S_ISLNK(mode_of(link)));
    assert_string_equal(get(victim), "victim\n");
    f = mno_outfile_open(link, &e);
    assert_non_null(f);
    write_str(f, "archive\n");
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_true(S_ISREG(mode_of(link)));
    assert_int_equal(mode_of(link) & 07777, 0600);
    assert_string_equal(get(link), "archive\n");
    assert_string_equal(get(victim), "victim\n");
    assert_int_equal(mode_of(victim) & 07777, 0644);
    /* a dangling link alike: replaced, nothing created where it pointed */
    unlink(link);
    assert_int_equal(symlink(tpath("nowhere"), link), 0);
    f = mno_outfile_open(link, &e);
    assert_non_null(f);
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_true(S_ISREG(mode_of(link)));
    assert_int_equal(access(tpath("nowhere"), F_OK), -1);
    /* links planted at the old fixed temporary name are left alone */
    const char *planted = tpath("out.mnoa.partial");
    assert_int_equal(symlink(victim, planted), 0);
    f = mno_outfile_open(link, &e);
    assert_non_null(f);
    write_str(f, "again\n");
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_true(S_ISLNK(mode_of(planted)));
    assert_string_equal(get(victim), "victim\n");
    assert_int_equal(mode_of(victim) & 07777, 0644);
    unlink(planted);
    unlink(link);
    unlink(victim);
    assert_int_equal(entries(), 0);
}

/* Devices and the process's own descriptors are written in place; stdout is fd 1. */
static void test_in_place(void **state)
{
    (void)state;
    mno_error e = {0};
    mno_outfile *f = mno_outfile_open("/dev/null", &e);
    assert_non_null(f);
    assert_false(mno_outfile_is_temp(f));
    write_str(f, "x");
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    f = mno_outfile_open("-", &e);
    assert_non_null(f);
    assert_int_equal(mno_outfile_fd(f), 1);
    assert_string_equal(mno_outfile_name(f), "<stdout>");
    mno_outfile_abort(f);
    assert_true(fcntl(1, F_GETFD) >= 0);     /* stdout is not closed */
    /* /dev/fd/N: that descriptor (its offset kept), not a new file */
    const char *p = tpath("fd.txt");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "head ", 5), 5);
    char name[64];
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    f = mno_outfile_open(name, &e);
    assert_non_null(f);
    assert_false(mno_outfile_is_temp(f));
    write_str(f, "tail\n");
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    close(fd);
    assert_string_equal(get(p), "head tail\n");
    unlink(p);
    /* a link to a FIFO is replaced like any link: the FIFO is never opened */
    const char *fifo = tpath("fifo"), *link = tpath("to-fifo");
    assert_int_equal(mkfifo(fifo, 0666), 0);
    assert_int_equal(symlink(fifo, link), 0);
    f = mno_outfile_open(link, &e);
    assert_non_null(f);
    assert_true(mno_outfile_is_temp(f));
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_true(S_ISREG(mode_of(link)));
    assert_true(S_ISFIFO(mode_of(fifo)));
    unlink(link);
    /* a FIFO of another user's (planted in a shared directory) is refused */
    if (geteuid() == 0) {
        assert_int_equal(chown(fifo, 65534, 65534), 0);
        assert_null(mno_outfile_open(fifo, &e));
        char want[600];
        snprintf(want, sizeof want, "%s: cannot write: not a regular file and owned by another user", fifo);
        assert_string_equal(e.msg, want);
    }
    unlink(fifo);
    assert_int_equal(entries(), 0);
}

/* Errors name the file and give the system's reason; nothing is left. */
static void test_errors(void **state)
{
    (void)state;
    mno_error e = {0};
    assert_null(mno_outfile_open(tpath("no/such/dir.mnoa"), &e));
    char want[700];
    snprintf(want, sizeof want, "%s: cannot open its directory '%s': No such file or directory",
             tpath("no/such/dir.mnoa"), tpath("no/such"));
    assert_string_equal(e.msg, want);
    assert_int_equal(e.code, MNO_E_IO);
    assert_int_equal(mkdir(tpath("d"), 0700), 0);
    assert_null(mno_outfile_open(tpath("d"), &e));
    snprintf(want, sizeof want, "%s: cannot write: Is a directory", tpath("d"));
    assert_string_equal(e.msg, want);
    assert_null(mno_outfile_open(tpath("d/"), &e));
    rmdir(tpath("d"));
    /* /dev/full: the device's own error at the write */
    mno_outfile *f = mno_outfile_open("/dev/full", &e);
    assert_non_null(f);
    assert_int_equal(write(mno_outfile_fd(f), "x", 1), -1);
    assert_int_equal(errno, ENOSPC);
    mno_outfile_abort(f);
    assert_int_equal(entries(), 0);
}

/* A very long final name still gets a temporary name within NAME_MAX. */
static void test_long_name(void **state)
{
    (void)state;
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    mno_error e = {0};
    mno_outfile *f = mno_outfile_open(tpath(name), &e);
    assert_non_null(f);
    write_str(f, "long\n");
    assert_int_equal(mno_outfile_commit(f, &e), 0);
    assert_string_equal(get(tpath(name)), "long\n");
    unlink(tpath(name));
    assert_int_equal(entries(), 0);
}

/* mno_outfile_remove_temps (what the signal handler runs) removes open temporary files. */
static void test_remove_temps(void **state)
{
    (void)state;
    mno_error e = {0};
    mno_outfile *a = mno_outfile_open(tpath("x.mnoa"), &e), *b = mno_outfile_open(tpath("y.mnoa"), &e);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(entries(), 2);
    mno_outfile_remove_temps();
    assert_int_equal(entries(), 0);
    mno_outfile_abort(a);
    mno_outfile_abort(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file),
        cmocka_unit_test(test_existing_file_abort_and_commit),
        cmocka_unit_test(test_symlink_replaced),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_name),
        cmocka_unit_test(test_remove_temps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
