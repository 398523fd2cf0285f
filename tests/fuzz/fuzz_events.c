/*
 * fuzz_events.c - libFuzzer harness: the input is one packed EventBatch.
 *
 * lh__event_batch__unpack, then lh_events_decode. When the batch decodes
 * and its events are encodable (times non-decreasing, at most one writer
 * batch), they are encoded again with lh_events_encode and decoded once
 * more: the result must be the same events (abort otherwise).
 *
 * Run over regression inputs: build-fuzz/fuzz_events tests/fuzz/regress/events/FILE...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lh_events.h"
#include "lh_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *columns_block;
static lh_batch_columns columns;

static int same_events(const lh_event *a, const lh_event *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].time_us != b[i].time_us || a[i].addr != b[i].addr || a[i].old_addr != b[i].old_addr ||
            a[i].size != b[i].size || a[i].stack != b[i].stack || a[i].thread != b[i].thread ||
            a[i].kind != b[i].kind)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Lh__EventBatch *b = lh__event_batch__unpack(NULL, size, data);
    if (!b)
        return 0;
    size_t cap = b->n_kinds <= LH_MAX_BATCH_EVENTS ? b->n_kinds : 1;
    lh_event *ev = malloc((cap ? cap : 1) * sizeof *ev);
    if (!ev) {
        lh__event_batch__free_unpacked(b, NULL);
        return 0;
    }
    int n = lh_events_decode(b, ev, cap);
    if (n > (int)cap)
        abort();
    if (n >= 0 && (size_t)n != b->n_kinds)
        abort();
    if (n > 0 && (size_t)n <= LH_WRITER_BATCH) {
        if (!columns_block) {
            columns_block = malloc(lh_batch_columns_bytes());
            if (!columns_block)
                abort();
            lh_batch_columns_init(&columns, columns_block);
        }
        Lh__EventBatch again;
        if (lh_events_encode(ev, (size_t)n, &columns, &again) == LH_OK) {
            /* Through the wire format too. */
            size_t len = lh__event_batch__get_packed_size(&again);
            uint8_t *buf = malloc(len + 1);
            if (!buf)
                abort();
            lh__event_batch__pack(&again, buf);
            Lh__EventBatch *b2 = lh__event_batch__unpack(NULL, len, buf);
            lh_event *ev2 = malloc((size_t)n * sizeof *ev2);
            if (!b2 || !ev2 || lh_events_decode(b2, ev2, (size_t)n) != n || !same_events(ev, ev2, (size_t)n))
                abort();
            free(ev2);
            lh__event_batch__free_unpacked(b2, NULL);
            free(buf);
        }
    }
    free(ev);
    lh__event_batch__free_unpacked(b, NULL);
    return 0;
}
