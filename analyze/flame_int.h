/*
 * flame_int.h - the stack tree's layout, shared by flame.c and the
 * exporters only (callers use flame.h). Nodes live in one array and refer
 * to each other by index so the tree grows with one realloc and a
 * million-node tree stays cache friendly.
 */
#ifndef LH_FLAME_INT_H
#define LH_FLAME_INT_H

#include "flame.h"
#include "idtable.h"
#include "lh_json.h" /* lh_json_str, lh_utf8_len: the one escaper of all JSON */

#define LH_NONE UINT32_MAX

typedef struct {
    /* Strings are interned in the tree, so equal strings are equal
     * pointers: child lookup and every exporter's dedup compare pointers. */
    const char *name, *file, *module;
    const char *build_id;        /* lower-case hex, NULL if unknown */
    unsigned line;
    int inlined;
    uint64_t address, module_offset;
    uint32_t parent, first_child, next_sibling, depth;
    int64_t self[LH_VAL_COUNT];  /* stacks ending here */
    int64_t total[LH_VAL_COUNT]; /* self plus all descendants */
} lh_fnode;

typedef struct lh_fchunk lh_fchunk;

struct lh_flame {
    char *title;
    int is_diff;
    const char *main_module;     /* interned; NULL if not known */
    lh_fnode *nodes;             /* nodes[0] is the root (no frame) */
    uint32_t n, cap;
    lh_idtable kids;             /* (parent,name,file,line) -> node */
    lh_idtable strs;             /* string -> its index in strv */
    const char **strv;           /* interned strings */
    uint32_t strv_cap;
    lh_fchunk *arena;            /* storage for interned strings */
};

/* Children of every node, sorted by (name, file, line), as CSR arrays:
 * the children of node i are list[start[i] .. start[i+1]). */
typedef struct {
    uint32_t *start, *list;
} lh_fkids;
int lh_flame_kids(const lh_flame *f, lh_fkids *k);
void lh_flame_kids_free(lh_fkids *k);

/* XML text escaping shared by the SVG and HTML exporters (JSON strings go
 * through lh_json_str). Invalid UTF-8 becomes U+FFFD so the output always
 * parses. */
void lh_put_xml(FILE *out, const char *s);      /* element text and "attr" values */
int lh_value_is_bytes(int value);

#endif
