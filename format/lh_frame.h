/*
 * lh_frame.h - the fixed-size parts of a trace file: file header, chunk
 * frame and trailer (FORMAT.md sections 2-4). Internal to format/.
 */
#ifndef LH_FRAME_H
#define LH_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define LH_FILE_MAGIC    "LHTRACE\x1a"
#define LH_TRAILER_MAGIC "LHTEND\r\n"
#define LH_HEADER_SIZE   16
#define LH_FRAME_SIZE    16
#define LH_TRAILER_SIZE  16

typedef struct {
    uint32_t type;
    uint32_t packed_size;
    uint32_t raw_size;
    uint32_t checksum;
} lh_frame;

void lh_header_encode(uint8_t out[LH_HEADER_SIZE]);
/* 0, LH_E_MAGIC or LH_E_VERSION. */
int lh_header_decode(const uint8_t in[LH_HEADER_SIZE], unsigned *major, unsigned *minor);

/* Fills f->checksum from the frame fields and the payload. */
void lh_frame_seal(lh_frame *f, const void *payload);
void lh_frame_encode(const lh_frame *f, uint8_t out[LH_FRAME_SIZE]);
void lh_frame_decode(const uint8_t in[LH_FRAME_SIZE], lh_frame *f);
/* Limits that can be checked before the payload is read: 0 or LH_E_TOO_LARGE. */
int lh_frame_check_sizes(const lh_frame *f);
/* 0 or LH_E_CHECKSUM. */
int lh_frame_verify(const lh_frame *f, const void *payload);

void lh_trailer_encode(uint64_t footer_offset, uint8_t out[LH_TRAILER_SIZE]);
/* 0 and *footer_offset, or LH_E_MAGIC when the bytes are no trailer. */
int lh_trailer_decode(const uint8_t in[LH_TRAILER_SIZE], uint64_t *footer_offset);

static inline void lh_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void lh_put_u32(uint8_t *p, uint32_t v)
{ for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void lh_put_u64(uint8_t *p, uint64_t v)
{ for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t lh_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t lh_get_u32(const uint8_t *p)
{ uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static inline uint64_t lh_get_u64(const uint8_t *p)
{ uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

#endif
