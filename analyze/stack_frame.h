/*
 * stack_frame.h - one symbolized frame, the one struct the symbolizer
 * hands out (symbols.h's lh_sym_frame) and the flame tree takes
 * (flame.h's lh_flame_frame, whose lh_flame_add copies the strings).
 */
#ifndef LH_STACK_FRAME_H
#define LH_STACK_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;          /* demangled function, or "module+0xoffset"; never NULL */
    const char *file;          /* source file, NULL if unknown */
    unsigned line;             /* 0 if unknown */
    const char *module;        /* module path, NULL if no module holds the address */
    const uint8_t *build_id;   /* may be NULL */
    size_t build_id_len;
    uint64_t address;          /* runtime address looked up (return address - 1) */
    uint64_t module_offset;    /* address - module load bias */
    int inlined;               /* frame is an inlined call inside its caller */
} lh_stack_frame;

#endif
