/* fuzz_archive.c: fuzz target for the archive reader: the checking reader (mno_stream_check, as mno-restore and mno-cat --check run it) and the general reader that decodes every record, over an input held in memory. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "codec.h"
#include "stream.h"
#include "fuzz.h"

/* An mno_in over a copy of data (a memory file: the reader takes a file descriptor). */
static mno_in *mem_in(const uint8_t *data, size_t size)
{
    mno_error e;
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0)
        abort();
    mno_in *in = mno_in_fdopen(fd, "fuzz", 1, &e);
    if (!in)
        abort();
    return in;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mno_error e;
    mno_check_result res;
    /* 1. the check pass: every line, count and sum, the fast paths and the hashing thread */
    mno_in *in = mem_in(data, size);
    mno_error_clear(&e);
    int rc = mno_stream_check(in, 64 * 1024, &res, &e);
    FUZZ_CHECK(rc == 0 ? e.code == MNO_OK : e.code != MNO_OK && e.msg[0]);
    /* a message is one line, whatever the input held */
    FUZZ_CHECK(!strchr(e.msg, '\n') && !strchr(e.msg, '\r'));
    mno_in_close(in);
    /* 2. the general reader, every record decoded (pg values, mongo documents), no verify:
       it reads on past a bad sum */
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.verify = 0;
    ro.max_line = 64 * 1024;
    in = mem_in(data, size);
    mno_error_clear(&e);
    mno_reader *r = mno_reader_new(in, &ro, &e);
    if (r) {
        mno_item it;
        int n;
        while ((n = mno_reader_next(r, &it, &e)) > 0)
            if (it.kind == MNO_ITEM_BEGIN)
                FUZZ_CHECK(it.section && it.section->ns && strlen(it.section->ns) > 0);
        FUZZ_CHECK(n == 0 || (e.code != MNO_OK && !strchr(e.msg, '\n')));
        mno_reader_free(r);
    }
    mno_in_close(in);
    return 0;
}
