/* lh_frame.c - file header, chunk frames and trailer (FORMAT.md 2-4). */
#include <string.h>

#include <lz4.h>
#include <xxhash.h>

#include "lh_frame.h"
#include "lh_trace.h"

void lh_header_encode(uint8_t out[LH_HEADER_SIZE])
{
    memcpy(out, LH_FILE_MAGIC, 8);
    lh_put_u16(out + 8, LH_FORMAT_VERSION_MAJOR);
    lh_put_u16(out + 10, LH_FORMAT_VERSION_MINOR);
    lh_put_u32(out + 12, 0); /* flags: none defined in 1.0 */
}

int lh_header_decode(const uint8_t in[LH_HEADER_SIZE], unsigned *major, unsigned *minor)
{
    if (memcmp(in, LH_FILE_MAGIC, 8))
        return LH_E_MAGIC;
    *major = lh_get_u16(in + 8);
    *minor = lh_get_u16(in + 10);
    /* A newer minor version only adds chunk types and fields, which this
     * reader skips; a different major version changes the framing. */
    if (*major != LH_FORMAT_VERSION_MAJOR)
        return LH_E_VERSION;
    return LH_OK;
}

/* The checksum covers the frame fields as well as the payload, so a flipped
 * length or type is caught even when the payload bytes happen to survive. */
static uint32_t frame_checksum(const lh_frame *f, const void *payload)
{
    uint8_t head[12];
    lh_put_u32(head, f->type);
    lh_put_u32(head + 4, f->packed_size);
    lh_put_u32(head + 8, f->raw_size);
    uint32_t seed = XXH32(head, sizeof head, 0);
    return XXH32(payload, f->packed_size, seed);
}

void lh_frame_seal(lh_frame *f, const void *payload)
{
    f->checksum = frame_checksum(f, payload);
}

void lh_frame_encode(const lh_frame *f, uint8_t out[LH_FRAME_SIZE])
{
    lh_put_u32(out, f->type);
    lh_put_u32(out + 4, f->packed_size);
    lh_put_u32(out + 8, f->raw_size);
    lh_put_u32(out + 12, f->checksum);
}

void lh_frame_decode(const uint8_t in[LH_FRAME_SIZE], lh_frame *f)
{
    f->type = lh_get_u32(in);
    f->packed_size = lh_get_u32(in + 4);
    f->raw_size = lh_get_u32(in + 8);
    f->checksum = lh_get_u32(in + 12);
}

int lh_frame_check_sizes(const lh_frame *f)
{
    if (f->raw_size > LH_MAX_CHUNK_RAW || f->packed_size > LH_MAX_CHUNK_PACKED)
        return LH_E_TOO_LARGE;
    if (f->raw_size == 0)
        return f->packed_size == 0 ? LH_OK : LH_E_TOO_LARGE;
    /* LZ4 never expands beyond its bound, and a non-empty block is never
     * empty: anything else is corruption, caught before reading it. */
    if (f->packed_size == 0 || f->packed_size > (uint32_t)LZ4_compressBound((int)f->raw_size))
        return LH_E_TOO_LARGE;
    return LH_OK;
}

int lh_frame_verify(const lh_frame *f, const void *payload)
{
    return frame_checksum(f, payload) == f->checksum ? LH_OK : LH_E_CHECKSUM;
}

void lh_trailer_encode(uint64_t footer_offset, uint8_t out[LH_TRAILER_SIZE])
{
    lh_put_u64(out, footer_offset);
    memcpy(out + 8, LH_TRAILER_MAGIC, 8);
}

int lh_trailer_decode(const uint8_t in[LH_TRAILER_SIZE], uint64_t *footer_offset)
{
    if (memcmp(in + 8, LH_TRAILER_MAGIC, 8))
        return LH_E_MAGIC;
    *footer_offset = lh_get_u64(in);
    return LH_OK;
}
