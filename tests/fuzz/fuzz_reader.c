/*
 * fuzz_reader.c - libFuzzer harness: the input is a whole trace file.
 *
 * The bytes go to a memfd; the reader opens it, returns every chunk it can,
 * builds (or loads) the index and seeks to every indexed chunk. Then the
 * same is done again after sealing every frame it can walk with a correct
 * checksum, so mutations reach LZ4, protobuf and the event decoder instead
 * of stopping at the checksum. Invariants checked (abort on failure):
 * chunks come back at increasing offsets inside the file, an error is
 * sticky and has a damage offset, events stay within their chunk's count,
 * and a second reader decoding every batch through the arrays
 * (lh_reader_set_arrays) gives the same chunks, events and errors.
 *
 * Run over regression inputs: build-fuzz/fuzz_reader tests/fuzz/regress/reader/FILE...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lh_events.h" /* lh_reader_set_arrays */
#include "lh_frame.h"
#include "lh_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int mfd = -1;

static void put_file(const uint8_t *data, size_t size)
{
    if (mfd < 0 && (mfd = memfd_create("fuzz_reader", 0)) < 0)
        abort();
    if (ftruncate(mfd, 0) != 0 || (size && pwrite(mfd, data, size, 0) != (ssize_t)size))
        abort();
}

static void read_everything(uint64_t size)
{
    int rc;
    lh_reader *r = lh_reader_open_fd(mfd, &rc);
    if (!r) {
        if (rc >= 0)
            abort();
        return;
    }
    if (lh_reader_file_size(r) != size)
        abort();
    int rc2;
    lh_reader *arrays = lh_reader_open_fd(mfd, &rc2);
    if (!arrays && rc2 != LH_E_NOMEM)
        abort();
    lh_reader_set_arrays(arrays, 1);
    lh_chunk c, c2;
    uint64_t last = 0;
    size_t n = 0;
    for (;;) {
        rc = lh_reader_next(r, &c);
        if (arrays) { /* the same answer by the other way */
            rc2 = lh_reader_next(arrays, &c2);
            if (rc == LH_E_NOMEM || rc2 == LH_E_NOMEM) {
                lh_reader_free(arrays);
                arrays = NULL;
            } else if (rc != rc2 || (rc > 0 && (c.offset != c2.offset || c.type != c2.type ||
                                                  c.n_events != c2.n_events ||
                                                  (c.n_events && memcmp(c.events, c2.events, c.n_events * sizeof *c.events)))) ||
                       (rc < 0 && lh_reader_damage_offset(r) != lh_reader_damage_offset(arrays))) {
                abort();
            }
        }
        if (rc <= 0)
            break;
        if (c.offset < LH_HEADER_SIZE || (n && c.offset <= last) ||
            c.offset + LH_FRAME_SIZE + c.packed_size > size)
            abort();
        if (c.type == LH_CHUNK_EVENTS && c.msg) {
            uint64_t sum = 0;
            for (size_t i = 0; i < c.n_events; i++) /* touch every event */
                sum += c.events[i].addr + c.events[i].kind;
            (void)sum;
        }
        last = c.offset;
        n++;
    }
    lh_reader_free(arrays);
    if (rc < 0) {
        if (lh_reader_damage_offset(r) == UINT64_MAX && rc != LH_E_NOMEM)
            abort();
        if (lh_reader_next(r, &c) != rc) /* sticky */
            abort();
    }

    const Lh__Footer *f = lh_reader_index(r, &rc);
    if (f) {
        /* Seek to what the index says (a hostile footer may lie). */
        for (size_t i = 0; i < f->n_index && i < 64; i++)
            if (lh_reader_seek(r, f->index[i]->offset) == LH_OK)
                (void)lh_reader_next(r, &c);
        if (lh_reader_index(r, &rc) != f)
            abort();
    }
    lh_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    put_file(data, size);
    read_everything(size);

    /* Seal every frame on the chain from the header with a good checksum. */
    if (size < LH_HEADER_SIZE + LH_FRAME_SIZE)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    uint64_t off = LH_HEADER_SIZE;
    int sealed = 0;
    while (size - off >= LH_FRAME_SIZE) {
        lh_frame fr;
        lh_frame_decode(copy + off, &fr);
        if (fr.packed_size > size - off - LH_FRAME_SIZE)
            break;
        lh_frame_seal(&fr, copy + off + LH_FRAME_SIZE);
        lh_frame_encode(&fr, copy + off);
        sealed++;
        off += LH_FRAME_SIZE + fr.packed_size;
    }
    if (sealed) {
        put_file(copy, size);
        read_everything(size);
    }
    free(copy);
    return 0;
}
