/*
 * export_svg.c - a self-contained interactive flame graph, in the spirit of
 * Brendan Gregg's flamegraph.pl but written here: one SVG file with an
 * embedded script for click-zoom, search (button or Ctrl-F) and reset, and a
 * <title> tooltip per frame. Frames carry data-* attributes (depth, value,
 * position as a fraction of the whole) so the script can re-lay them out on
 * zoom and tests can check the geometry without a browser.
 */
#include "flame_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { FRAME_H = 16, FONT = 12, PAD = 10, TOP = 50, BOTTOM = 30 };

typedef struct {
    const lh_flame *f;
    lh_fkids k;
    double *w;          /* layout weight per node, >= 0 */
    double scale;       /* px per unit of weight */
    double min_width;
    int value, bytes_v, count_v;
    uint32_t max_depth;
    double max_delta;   /* diff colouring: largest |total| drawn */
    FILE *out;
} svg_t;

static void put_int(FILE *out, int64_t v, int sign)
{
    /* Thousands separators make byte counts readable in tooltips. */
    char buf[32], res[48];
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    int n = snprintf(buf, sizeof buf, "%" PRIu64, u), o = 0;
    if (v < 0)
        res[o++] = '-';
    else if (sign && v > 0)
        res[o++] = '+';
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            res[o++] = ',';
        res[o++] = buf[i];
    }
    res[o] = 0;
    fputs(res, out);
}

/* No libm: FLAME_LIBS stays -lprotobuf-c -lz. */
static double dabs(double x) { return x < 0 ? -x : x; }
static int round255(double x) { return (int)(x * 255 + 0.5); }

static double hue_of(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (double)(h % 360);
}

static void hsl_rgb(double h, double s, double l, int rgb[3])
{
    double hp = h / 60, c = (1 - dabs(2 * l - 1)) * s;
    double x = c * (1 - dabs(hp - 2 * (int)(hp / 2) - 1));
    double r = 0, g = 0, b = 0;
    if (hp < 1) r = c, g = x;
    else if (hp < 2) r = x, g = c;
    else if (hp < 3) g = c, b = x;
    else if (hp < 4) g = x, b = c;
    else if (hp < 5) r = x, b = c;
    else r = c, b = x;
    double m = l - c / 2;
    rgb[0] = round255(r + m), rgb[1] = round255(g + m), rgb[2] = round255(b + m);
}

static void colour(const svg_t *s, const lh_fnode *nd, int rgb[3])
{
    if (s->f->is_diff) {
        /* Red grows, blue shrinks; the bigger the change the deeper. */
        int64_t d = nd->total[s->value];
        double m = s->max_delta > 0 ? dabs((double)d) / s->max_delta : 0;
        int c = (int)(225 - 190 * m + 0.5);
        rgb[0] = d > 0 ? 255 : c, rgb[1] = d ? c : 225, rgb[2] = d < 0 ? 255 : c;
        if (!d)
            rgb[0] = rgb[2] = 225;
        return;
    }
    /* Hue by module so one library reads as one colour band; lightness by
     * name so neighbouring frames stay distinguishable. */
    double l = 0.55 + (hue_of(nd->name) / 360) * 0.15;
    hsl_rgb(hue_of(nd->module ? nd->module : "?"), nd->module ? 0.65 : 0.1, l, rgb);
}

/* The label that fits in px pixels: whole UTF-8 characters plus "..". */
static void put_label(FILE *out, const char *name, double px)
{
    long fit = (long)((px - 6) / (FONT * 0.59));
    if (fit < 3)
        return;
    long chars = 0;
    const char *p = name;
    for (; *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    if (chars <= fit) {
        lh_put_xml(out, name);
        return;
    }
    char buf[1024];
    size_t n = 0;
    long c = 0;
    for (p = name; *p && n < sizeof buf - 4; p++) {
        if (((unsigned char)*p & 0xc0) != 0x80 && ++c > fit - 2)
            break;
        buf[n++] = *p;
    }
    memcpy(buf + n, "..", 3);
    lh_put_xml(out, buf);
}

static void scan(svg_t *s, uint32_t n)
{
    const lh_fnode *nd = &s->f->nodes[n];
    if (nd->depth > s->max_depth)
        s->max_depth = nd->depth;
    double d = dabs((double)nd->total[s->value]);
    if (n && d > s->max_delta)
        s->max_delta = d;
    for (uint32_t i = s->k.start[n]; i < s->k.start[n + 1]; i++)
        if (s->w[s->k.list[i]] * s->scale >= s->min_width)
            scan(s, s->k.list[i]);
}

static void frame(svg_t *s, uint32_t n, double x, double total_w, double height)
{
    const lh_fnode *nd = &s->f->nodes[n];
    FILE *out = s->out;
    double px = s->w[n] * s->scale, y = height - BOTTOM - (nd->depth + 1.0) * FRAME_H;
    int rgb[3];
    colour(s, nd, rgb);
    fprintf(out, "<g class=\"f\" data-d=\"%u\" data-x=\"%.9g\" data-w=\"%.9g\" data-value=\"%" PRId64 "\"><title>",
            nd->depth, total_w > 0 ? x / total_w : 0, total_w > 0 ? s->w[n] / total_w : 1, nd->total[s->value]);
    lh_put_xml(out, nd->name);
    if (nd->file) {
        fputs("&#10;", out);
        lh_put_xml(out, nd->file);
        if (nd->line)
            fprintf(out, ":%u", nd->line);
    }
    if (nd->module) {
        fputs("&#10;", out);
        lh_put_xml(out, nd->module);
    }
    int64_t root = s->f->nodes[0].total[s->value];
    double pct = root ? 100.0 * nd->total[s->value] / root : 0;
    fprintf(out, "&#10;%s: ", lh_flame_value_name(s->value));
    put_int(out, nd->total[s->value], s->f->is_diff);
    fprintf(out, " (%.2f%%)&#10;bytes: ", pct);
    put_int(out, nd->total[s->bytes_v], s->f->is_diff);
    fputs(", count: ", out);
    put_int(out, nd->total[s->count_v], s->f->is_diff);
    fprintf(out, "</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" rx=\"2\" fill=\"rgb(%d,%d,%d)\"/>"
            "<text x=\"%.2f\" y=\"%.1f\">", PAD + x * s->scale, y, px, FRAME_H - 1,
            rgb[0], rgb[1], rgb[2], PAD + x * s->scale + 3, y + 11.5);
    put_label(out, nd->name, px);
    fputs("</text></g>\n", out);
    /* Children side by side from the parent's left edge, in name order. */
    for (uint32_t i = s->k.start[n]; i < s->k.start[n + 1]; i++) {
        uint32_t c = s->k.list[i];
        if (s->w[c] * s->scale >= s->min_width)
            frame(s, c, x, total_w, height);
        x += s->w[c];
    }
}

/* The viewer; ids and classes here are what the frames above refer to. */
static const char script[] =
"<script type=\"text/ecmascript\"><![CDATA[\n"
"'use strict';\n"
"(function(){\n"
"var svg=document.documentElement, W=+svg.getAttribute('width'), PAD=10, CW=12*0.59;\n"
"var fr=[], zoomed=null, searching=null;\n"
"var gs=document.querySelectorAll('g.f');\n"
"for(var i=0;i<gs.length;i++){var g=gs[i],r=g.querySelector('rect');\n"
" fr.push({g:g,r:r,t:g.querySelector('text'),d:+g.getAttribute('data-d'),x:+g.getAttribute('data-x'),\n"
"  w:+g.getAttribute('data-w'),fill:r.getAttribute('fill'),name:g.querySelector('title').textContent.split('\\n')[0]});}\n"
"var details=document.getElementById('details'), unzoom=document.getElementById('unzoom');\n"
"var matched=document.getElementById('matched'), sbtn=document.getElementById('search');\n"
"function label(f,px){var n=Math.floor((px-6)/CW); if(n<3)return ''; return f.name.length<=n?f.name:f.name.slice(0,n-2)+'..';}\n"
"function place(f,x,w){var px=w*(W-2*PAD); f.r.setAttribute('x',(PAD+x*(W-2*PAD)).toFixed(2));\n"
" f.r.setAttribute('width',px.toFixed(2)); f.t.setAttribute('x',(PAD+x*(W-2*PAD)+3).toFixed(2)); f.t.textContent=label(f,px);}\n"
"function zoom(z){zoomed=z; unzoom.style.opacity=z?1:0;\n"
" for(var i=0;i<fr.length;i++){var f=fr[i],eps=1e-9;\n"
"  if(!z){f.g.style.display='';f.g.style.opacity='';place(f,f.x,f.w);continue;}\n"
"  if(f.d<z.d&&f.x<=z.x+eps&&f.x+f.w>=z.x+z.w-eps){f.g.style.display='';f.g.style.opacity='0.6';place(f,0,1);}\n"
"  else if(f.d>=z.d&&f.x>=z.x-eps&&f.x+f.w<=z.x+z.w+eps){f.g.style.display='';f.g.style.opacity='';\n"
"   var w=f.w/z.w; place(f,(f.x-z.x)/z.w,w); if(w*(W-2*PAD)<0.1)f.g.style.display='none';}\n"
"  else f.g.style.display='none';}\n"
" if(searching)search(searching);}\n"
"function find(g){while(g&&g!==svg){if(g.getAttribute&&g.getAttribute('class')==='f')return g;g=g.parentNode;}return null;}\n"
"function byG(g){for(var i=0;i<fr.length;i++)if(fr[i].g===g)return fr[i];return null;}\n"
"svg.addEventListener('click',function(e){var g=find(e.target); if(g){var f=byG(g); zoom(f.d===0?null:f);}});\n"
"svg.addEventListener('mouseover',function(e){var g=find(e.target); if(g)details.textContent=byG(g).name;});\n"
"svg.addEventListener('mouseout',function(e){details.textContent=' ';});\n"
"unzoom.addEventListener('click',function(){zoom(null);});\n"
"function clear(){searching=null; matched.textContent=' '; sbtn.textContent='Search';\n"
" for(var i=0;i<fr.length;i++)fr[i].r.setAttribute('fill',fr[i].fill);}\n"
"function search(term){var re; try{re=new RegExp(term);}catch(e){re=null;}\n"
" clear(); if(!term)return; searching=term; sbtn.textContent='Reset search';\n"
" var hits=[]; for(var i=0;i<fr.length;i++){var f=fr[i]; if(re?re.test(f.name):f.name.indexOf(term)>=0){\n"
"  f.r.setAttribute('fill','rgb(230,0,230)'); hits.push(f);}}\n"
" /* Percent of the (zoomed) whole covered, counting nested hits once. */\n"
" hits.sort(function(a,b){return a.x-b.x||a.d-b.d;}); var cov=0,end=-1,z=zoomed||{x:0,w:1};\n"
" for(var j=0;j<hits.length;j++){var h=hits[j],a=Math.max(h.x,z.x,end),b=Math.min(h.x+h.w,z.x+z.w); if(b>a){cov+=b-a;end=b;}}\n"
" matched.textContent='Matched: '+(100*cov/z.w).toFixed(1)+'%';}\n"
"function ask(){if(searching){clear();return;} var t=window.prompt('Search for (regular expression):',''); if(t)search(t);}\n"
"sbtn.addEventListener('click',ask);\n"
"window.addEventListener('keydown',function(e){if((e.ctrlKey||e.metaKey)&&(e.key==='f'||e.key==='F')){e.preventDefault();ask();}\n"
" else if(e.key==='Escape'){clear();zoom(null);}});\n"
"window.lhFlame={zoom:function(name){for(var i=0;i<fr.length;i++)if(fr[i].name===name){zoom(fr[i]);return true;}return false;},search:search,reset:function(){clear();zoom(null);}};\n"
"})();\n"
"]]></script>\n";

int lh_export_svg(const lh_flame *f, const lh_svg_opts *opts, FILE *out)
{
    lh_svg_opts o = opts ? *opts : (lh_svg_opts){ 0 };
    if (!f || !out || o.value < 0 || o.value >= LH_VAL_COUNT)
        return -EINVAL;
    svg_t s = { .f = f, .value = o.value, .out = out,
                .min_width = o.min_width > 0 ? o.min_width : 0.1 };
    int width = o.width > 0 ? o.width : 1200;
    s.bytes_v = o.value >= LH_VAL_ALLOC_BYTES ? LH_VAL_ALLOC_BYTES : LH_VAL_LIVE_BYTES;
    s.count_v = s.bytes_v + 1;
    if (lh_flame_kids(f, &s.k))
        return -ENOMEM;
    if (!(s.w = calloc(f->n, sizeof *s.w))) {
        lh_flame_kids_free(&s.k);
        return -ENOMEM;
    }
    /* Widths: the value itself; for a diff tree, where deltas of both signs
     * would cancel, the sum of |delta| below each frame. Children always
     * have higher indices than their parent, so one backward pass sums. */
    for (uint32_t i = f->n; i-- > 0;) {
        const lh_fnode *nd = &f->nodes[i];
        if (f->is_diff)
            s.w[i] += dabs((double)nd->self[o.value]);
        else
            s.w[i] = nd->total[o.value] > 0 ? (double)nd->total[o.value] : 0;
        if (f->is_diff && i)
            s.w[nd->parent] += s.w[i];
    }
    s.scale = s.w[0] > 0 ? (width - 2.0 * PAD) / s.w[0] : 0;
    scan(&s, 0);
    int height = TOP + BOTTOM + (int)(s.max_depth + 1) * FRAME_H;

    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "xmlns=\"http://www.w3.org/2000/svg\">\n", width, height, width, height);
    fputs("<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}"
          "g.f text{pointer-events:none}g.f:hover rect{stroke:#000;stroke-width:0.5}"
          ".btn{cursor:pointer}#unzoom{opacity:0}#title{font-size:17px;text-anchor:middle}"
          "#sub{fill:#555;text-anchor:middle}</style>\n", out);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"%s\"/>\n", f->is_diff ? "#f4f4f4" : "#fdf8ee");
    fprintf(out, "<text id=\"title\" x=\"%d\" y=\"22\">", width / 2);
    lh_put_xml(out, f->title[0] ? f->title : "Flame Graph");
    fprintf(out, "</text>\n<text id=\"sub\" x=\"%d\" y=\"40\">%s%s, total ", width / 2,
            lh_flame_value_name(o.value), f->is_diff ? " (difference)" : "");
    put_int(out, f->nodes[0].total[o.value], f->is_diff);
    fprintf(out, "</text>\n<text id=\"unzoom\" class=\"btn\" x=\"%d\" y=\"22\">Reset Zoom</text>\n"
            "<text id=\"search\" class=\"btn\" x=\"%d\" y=\"22\" text-anchor=\"end\">Search</text>\n"
            "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n"
            "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n",
            PAD, width - PAD, width - PAD, height - 10, PAD, height - 10);
    fputs(script, out);
    fputs("<g id=\"frames\">\n", out);
    frame(&s, 0, 0, s.w[0], height);
    fputs("</g>\n</svg>\n", out);
    free(s.w);
    lh_flame_kids_free(&s.k);
    return fflush(out) || ferror(out) ? -EIO : 0;
}
