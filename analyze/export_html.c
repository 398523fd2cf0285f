/*
 * export_html.c - the HTML report: one self-contained page (inline CSS and
 * JS, no network, works from file://). The data sits in a JSON block; the
 * script draws the heap/RSS chart with markers and the peak, and, for the
 * chosen snapshot or the span between two (B - A), a flame graph and a
 * table of the top allocation sites.
 */
#include "flame_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

typedef struct { double t; int64_t heap, rss; } point_t;
typedef struct { double t; char *label; } marker_t;
typedef struct { double t; char *label; lh_flame *f; } snap_t;

struct lh_report {
    char *title;
    point_t *pts;   size_t npts, cpts;
    marker_t *mks;  size_t nmks, cmks;
    snap_t *snaps;  size_t nsnaps, csnaps;
    int has_peak;
    double peak_t;
    int64_t peak_bytes;
};

/* Grows an array of elements of size sz to hold one more (grow.h). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    return lh_grow(arr, n, cap, sz, 64);
}

lh_report *lh_report_new(const char *title)
{
    lh_report *r = calloc(1, sizeof *r);
    if (r && !(r->title = strdup(title ? title : "leakhunt report"))) {
        free(r);
        r = NULL;
    }
    return r;
}

void lh_report_free(lh_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmks; i++)
        free(r->mks[i].label);
    for (size_t i = 0; i < r->nsnaps; i++) {
        free(r->snaps[i].label);
        lh_flame_free(r->snaps[i].f);
    }
    free(r->pts), free(r->mks), free(r->snaps), free(r->title);
    free(r);
}

int lh_report_add_point(lh_report *r, double time_s, int64_t heap_bytes, int64_t rss_bytes)
{
    if (grow((void **)&r->pts, r->npts, &r->cpts, sizeof *r->pts))
        return -ENOMEM;
    r->pts[r->npts++] = (point_t){ time_s, heap_bytes, rss_bytes };
    return 0;
}

int lh_report_add_marker(lh_report *r, double time_s, const char *label)
{
    char *l = strdup(label ? label : "");
    if (!l || grow((void **)&r->mks, r->nmks, &r->cmks, sizeof *r->mks)) {
        free(l);
        return -ENOMEM;
    }
    r->mks[r->nmks++] = (marker_t){ time_s, l };
    return 0;
}

void lh_report_set_peak(lh_report *r, double time_s, int64_t heap_bytes)
{
    r->has_peak = 1, r->peak_t = time_s, r->peak_bytes = heap_bytes;
}

int lh_report_add_snapshot(lh_report *r, double time_s, const char *label, lh_flame *f)
{
    char *l = label ? strdup(label) : NULL;
    if (!l && label)
        return -ENOMEM;
    if (!l && asprintf(&l, "at %.1f s", time_s) < 0)
        return -ENOMEM;
    if (grow((void **)&r->snaps, r->nsnaps, &r->csnaps, sizeof *r->snaps)) {
        free(l);
        return -ENOMEM;
    }
    r->snaps[r->nsnaps++] = (snap_t){ time_s, l, f };
    return 0;
}

static void put_vals(FILE *out, const int64_t *v)
{
    fprintf(out, "[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]", v[0], v[1], v[2], v[3]);
}

/* A node as [name, file, line, module, totals, selfs, [children]];
 * subtrees whose values are all zero are left out. */
static void put_node(const lh_flame *f, const lh_fkids *k, uint32_t n, FILE *out)
{
    const lh_fnode *nd = &f->nodes[n];
    putc('[', out);
    lh_json_str(out, nd->name);
    putc(',', out);
    if (nd->file)
        lh_json_str(out, nd->file);
    else
        fputs("null", out);
    fprintf(out, ",%u,", nd->line);
    if (nd->module)
        lh_json_str(out, nd->module);
    else
        fputs("null", out);
    putc(',', out);
    put_vals(out, nd->total);
    putc(',', out);
    put_vals(out, nd->self);
    fputs(",[", out);
    int first = 1;
    for (uint32_t i = k->start[n]; i < k->start[n + 1]; i++) {
        const lh_fnode *c = &f->nodes[k->list[i]];
        /* A diff subtree can sum to zero yet hold changes: check selfs too. */
        if (!c->total[0] && !c->total[1] && !c->total[2] && !c->total[3] && !f->is_diff)
            continue;
        if (!first)
            putc(',', out);
        first = 0;
        put_node(f, k, k->list[i], out);
    }
    fputs("]]", out);
}

static const char page_css[] =
"body{font:14px system-ui,sans-serif;margin:16px;color:#222}h1{font-size:20px}"
"#chart{border:1px solid #ccc;background:#fff;cursor:crosshair}"
"#controls{margin:8px 0}#controls select,#controls button{margin-right:8px}"
"#flame{position:relative;border:1px solid #ccc;background:#fdf8ee;overflow:hidden}"
".fr{position:absolute;height:17px;font-size:12px;line-height:17px;overflow:hidden;white-space:nowrap;"
"box-sizing:border-box;border:1px solid #fff;padding-left:3px;cursor:pointer;border-radius:2px}"
".fr:hover{border-color:#000}table{border-collapse:collapse;margin-top:12px}"
"td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}td.n{text-align:right}"
"#info{color:#555;margin:6px 0}.hint{color:#777;font-size:12px;margin-top:2px}"
"#chart text.halo{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}";

/* The viewer script (no external libraries; data from #lh-data). */
static const char page_js[] =
"'use strict';\n"
"var D=JSON.parse(document.getElementById('lh-data').textContent);\n"
"var NS='http://www.w3.org/2000/svg', VN=['live bytes','live count','alloc bytes','alloc count'];\n"
"function $(id){return document.getElementById(id);}\n"
"function fmt(v){var a=Math.abs(v),u=['B','KiB','MiB','GiB','TiB'],i=0;while(a>=1000&&i<4){a/=1024;i++;}return (v<0?'-':'')+(i?a.toFixed(a<10?2:1):a)+' '+u[i];}\n"
"function num(v){return v.toLocaleString('en-US');}\n"
"function el(tag,attrs,parent,text){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(text!=null)e.textContent=text;if(parent)parent.appendChild(e);return e;}\n"
"/* Axes: ticks at round values (1, 2, 2.5 or 5 times a power of ten), the\n"
" * axis ending at the first tick at or past the data, so a label is always\n"
" * its tick's exact value and the axis ends within one tick of the data. */\n"
"function step(span,n){var r=span/n,p=Math.pow(10,Math.floor(Math.log10(r))),f=r/p;return (f<=1?1:f<=2?2:f<=2.5?2.5:f<=5?5:10)*p;}\n"
"function places(s){for(var d=0;d<6;d++){var x=s*Math.pow(10,d);if(Math.abs(x-Math.round(x))<1e-6*Math.max(1,x))return d;}return 6;}\n"
"function axis(vmax,n,U,unit){var s=step(vmax/U,n);if(U==1&&unit=='B')s=Math.max(s,1);var top=Math.ceil(vmax/U/s-1e-9)*s,d=places(s),ticks=[];\n"
" for(var i=0;i*s<=top+s*1e-9;i++)ticks.push([i*s*U,i?(i*s).toFixed(d)+' '+unit:'0'+(unit=='s'?' s':'')]);return {top:top*U,ticks:ticks};}\n"
"function timeAxis(t1){return axis(t1>0?t1:1,6,1,'s');}\n"
"/* Bytes in the one unit that keeps the top tick under 1000 of it. */\n"
"function byteAxis(vmax){vmax=Math.max(vmax,1);for(var k=0;;k++){var a=axis(vmax,4,Math.pow(1024,k),['B','KiB','MiB','GiB','TiB'][k]);if(a.top<1000*Math.pow(1024,k)||k==4)return a;}}\n"
"/* A label in the first of the candidate places ([x, anchor], then each a\n"
" * row lower) where it stays inside [x0, x1] and covers nothing placed. */\n"
"function label(svg,placed,cands,y,attrs,text,x0,x1){attrs['font-size']=11;var e=el('text',attrs,svg,text),b;\n"
" function at(c,row){e.setAttribute('x',c[0]);e.setAttribute('text-anchor',c[1]);e.setAttribute('y',y+13*row);b=e.getBBox();\n"
"  if(b.x+b.width>x1){e.setAttribute('x',c[0]-(b.x+b.width-x1));b=e.getBBox();}\n"
"  if(b.x<x0){e.setAttribute('x',+e.getAttribute('x')+(x0-b.x));b=e.getBBox();}\n"
"  return !placed.some(function(o){return b.x<o.x+o.width&&o.x<b.x+b.width&&b.y<o.y+o.height&&o.y<b.y+b.height;});}\n"
" for(var row=0;row<8;row++)for(var i=0;i<cands.length;i++)if(at(cands[i],row)){placed.push(b);return e;}\n"
" at(cands[0],0);placed.push(b);return e;}\n"

"/* Heap over time on its own scale (left), RSS on its own (right). */\n"
"function chart(){var svg=$('chart'),W=1000,H=280,T=36,B=32,L=72;svg.innerHTML='';\n"
" var rss=D.points.some(function(p){return p[2]>=0;}),R=rss?72:28,t1=0,hmax=0,rmax=0,placed=[];\n"
" D.points.forEach(function(p){t1=Math.max(t1,p[0]);hmax=Math.max(hmax,p[1]);rmax=Math.max(rmax,p[2]);});\n"
" D.snapshots.forEach(function(s){t1=Math.max(t1,s.t);});D.markers.forEach(function(m){t1=Math.max(t1,m[0]);});\n"
" if(D.peak){t1=Math.max(t1,D.peak[0]);hmax=Math.max(hmax,D.peak[1]);}\n"
" var xa=timeAxis(t1),ha=byteAxis(hmax),ra=byteAxis(rmax);\n"
" function X(t){return L+t/xa.top*(W-L-R);} function Y(v){return H-B-v/ha.top*(H-T-B);} function YR(v){return H-B-v/ra.top*(H-T-B);}\n"
" ha.ticks.forEach(function(k){el('line',{x1:L,x2:W-R,y1:Y(k[0]),y2:Y(k[0]),stroke:'#eee'},svg);\n"
"  el('text',{x:L-6,y:Y(k[0])+4,'text-anchor':'end','font-size':11,fill:'#2e6be0','class':'ytick heap-tick'},svg,k[1]);});\n"
" if(rss)ra.ticks.forEach(function(k){el('text',{x:W-R+6,y:YR(k[0])+4,'font-size':11,fill:'#c0701c','class':'ytick rss-tick'},svg,k[1]);});\n"
" xa.ticks.forEach(function(k){el('line',{x1:X(k[0]),x2:X(k[0]),y1:H-B,y2:H-B+4,stroke:'#888'},svg);\n"
"  el('text',{x:X(k[0]),y:H-B+18,'text-anchor':'middle','font-size':11,'class':'xtick'},svg,k[1]);});\n"
" el('line',{x1:L,y1:H-B,x2:W-R,y2:H-B,stroke:'#888',id:'x-axis'},svg);el('line',{x1:L,y1:T,x2:L,y2:H-B,stroke:'#2e6be0',id:'heap-axis'},svg);\n"
" if(rss)el('line',{x1:W-R,y1:T,x2:W-R,y2:H-B,stroke:'#e08a2e',id:'rss-axis'},svg);\n"
" function path(k,Yk,color,id){var d='';D.points.forEach(function(p){if(p[k]<0)return;d+=(d?'L':'M')+X(p[0]).toFixed(1)+','+Yk(p[k]).toFixed(1);});\n"
"  if(d)el('path',{d:d,fill:'none',stroke:color,'stroke-width':1.5,id:id},svg);}\n"
" D.markers.forEach(function(m){var x=X(m[0]);el('line',{x1:x,x2:x,y1:T,y2:H-B,stroke:'#999','stroke-dasharray':'4,3','class':'marker'},svg);\n"
"  placed.push({x:x-1,y:T,width:2,height:H-B-T});});\n"
" if(rss)path(2,YR,'#e08a2e','rss-line');path(1,Y,'#2e6be0','heap-line');\n"
" /* Labels last, on top of the lines, each with a white halo. */\n"
" el('line',{x1:L,x2:L+18,y1:12,y2:12,stroke:'#2e6be0','stroke-width':2},svg);placed.push(el('text',{x:L+22,y:16,'font-size':11},svg,'heap (left axis)').getBBox());\n"
" if(rss){el('line',{x1:L+130,x2:L+148,y1:12,y2:12,stroke:'#e08a2e','stroke-width':2},svg);placed.push(el('text',{x:L+152,y:16,'font-size':11},svg,'RSS (right axis)').getBBox());}\n"
" if(D.peak){var px=X(D.peak[0]),py=Y(D.peak[1]);el('circle',{cx:px,cy:py,r:5,fill:'#d00',id:'peak'},svg);\n"
"  placed.push({x:px-6,y:py-6,width:12,height:12});\n"
"  label(svg,placed,[[px+8,'start'],[px-8,'end']],Math.max(py-8,T-8),{fill:'#d00',id:'peak-label','class':'halo'},'peak '+fmt(D.peak[1]),2,W-R);}\n"
" D.markers.forEach(function(m){var x=X(m[0]);label(svg,placed,[[x+3,'start'],[x-3,'end']],T+11,{fill:'#555','class':'marker-label halo'},m[1],L+2,W-R);});\n"
" D.snapshots.forEach(function(s,i){var c=el('rect',{x:X(s.t)-5,y:H-B-5,width:10,height:10,fill:(i==sel.a||i==sel.b)?'#222':'#8a8','class':'snap',style:'cursor:pointer'},svg);\n"
"  el('title',{},c,s.label);c.addEventListener('click',function(e){e.stopPropagation();pick(i,e.shiftKey);});});\n"
" svg.onclick=function(e){var r=svg.getBoundingClientRect(),t=((e.clientX-r.left)*W/r.width-L)/(W-L-R)*xa.top,best=-1,bd=1e300;\n"
"  D.snapshots.forEach(function(s,i){var d=Math.abs(s.t-t);if(d<bd){bd=d;best=i;}});if(best>=0)pick(best,e.shiftKey);};}\n"
"/* Trees: [name,file,line,module,total[4],self[4],kids]; a span is B - A. */\n"
"function key(n){return n[0]+'\\u0000'+n[1]+'\\u0000'+n[2];}\n"
"function diff(a,b){var out=[(b||a)[0],(b||a)[1],(b||a)[2],(b||a)[3],[0,0,0,0],[0,0,0,0],[]];\n"
" for(var v=0;v<4;v++){out[4][v]=(b?b[4][v]:0)-(a?a[4][v]:0);out[5][v]=(b?b[5][v]:0)-(a?a[5][v]:0);}\n"
" var m={},order=[];(a?a[6]:[]).forEach(function(c){m[key(c)]=[c,null];order.push(key(c));});\n"
" (b?b[6]:[]).forEach(function(c){var k=key(c);if(m[k])m[k][1]=c;else{m[k]=[null,c];order.push(k);}});\n"
" order.forEach(function(k){out[6].push(diff(m[k][0],m[k][1]));});return out;}\n"
"var sel={a:D.snapshots.length-1,b:-1},cur=null,zoomNode=null;\n"
"function pick(i,span){if(span&&sel.a>=0&&i!=sel.a){sel.b=i;}else{sel.a=i;sel.b=-1;}\n"
" if(sel.b>=0&&D.snapshots[sel.b].t<D.snapshots[sel.a].t){var x=sel.a;sel.a=sel.b;sel.b=x;}\n"
" $('snapA').value=sel.a;$('snapB').value=sel.b;show();}\n"
"function show(){chart();if(sel.a<0){$('info').textContent='No snapshots in this report.';return;}\n"
" var A=D.snapshots[sel.a],isd=A.diff;\n"
" if(sel.b>=0){cur=diff(A.tree,D.snapshots[sel.b].tree);isd=1;$('info').textContent='Change from '+A.label+' to '+D.snapshots[sel.b].label;}\n"
" else{cur=A.tree;$('info').textContent='Snapshot '+A.label+(isd?' (difference)':'');}\n"
" cur.isd=isd;zoomNode=null;flame();table();}\n"
"function weight(n,v,isd){if(!isd)return Math.max(n[4][v],0);if(n.w==null){var w=Math.abs(n[5][v]);n[6].forEach(function(c){w+=weight(c,v,1);});n.w=w;}return n.w;}\n"
"function hue(s){var h=0;for(var i=0;i<(s||'?').length;i++)h=(h*31+(s||'?').charCodeAt(i))>>>0;return h%360;}\n"
"function flame(){var box=$('flame'),v=+$('value').value,isd=cur.isd,W=box.clientWidth||1000;box.innerHTML='';\n"
" if(isd)(function clr(n){n.w=null;n[6].forEach(clr);})(cur);\n"
" var root=zoomNode||cur,tot=weight(root,v,isd),maxd=0,maxdelta=1,rows=[];\n"
" (function md(n){maxdelta=Math.max(maxdelta,Math.abs(n[4][v]));n[6].forEach(md);})(root);\n"
" function lay(n,x,d){var w=tot?weight(n,v,isd)/tot*W:(n===root?W:0);if(w<0.5&&n!==root)return;maxd=Math.max(maxd,d);rows.push([n,x,w,d]);\n"
"  var cx=x;n[6].forEach(function(c){lay(c,cx,d+1);cx+=tot?weight(c,v,isd)/tot*W:0;});}\n"
" lay(root,0,0);box.style.height=((maxd+1)*17+2)+'px';var rt=cur[4][v]||1;\n"
" rows.forEach(function(r){var n=r[0],e=document.createElement('div');e.className='fr';\n"
"  e.style.left=r[1]+'px';e.style.width=r[2]+'px';e.style.bottom=(r[3]*17)+'px';\n"
"  if(isd){var m=Math.abs(n[4][v])/maxdelta,c=Math.round(225-190*m);e.style.background=n[4][v]>0?'rgb(255,'+c+','+c+')':n[4][v]<0?'rgb('+c+','+c+',255)':'#e1e1e1';}\n"
"  else e.style.background='hsl('+hue(n[3])+','+(n[3]?65:10)+'%,'+(55+hue(n[0])/360*15)+'%)';\n"
"  e.textContent=r[2]>30?n[0]:'';\n"
"  e.title=n[0]+(n[1]?'\\n'+n[1]+(n[2]?':'+n[2]:''):'')+(n[3]?'\\n'+n[3]:'')+'\\n'+VN[v]+': '+num(n[4][v])+' ('+(100*n[4][v]/rt).toFixed(2)+'%)'+'\\nbytes: '+num(n[4][v<2?0:2])+', count: '+num(n[4][v<2?1:3]);\n"
"  e.onclick=function(){zoomNode=(n===zoomNode||n===cur)?null:n;flame();};box.appendChild(e);});}\n"
"function table(){var v=+$('value').value,agg={},list=[];\n"
" (function walk(n,d){if(d>0&&n[5].some(function(x){return x;})){var k=key(n);if(!agg[k]){agg[k]={n:n,s:[0,0,0,0]};list.push(agg[k]);}\n"
"  for(var i=0;i<4;i++)agg[k].s[i]+=n[5][i];}n[6].forEach(function(c){walk(c,d+1);});})(cur,0);\n"
" list.sort(function(a,b){return Math.abs(b.s[v])-Math.abs(a.s[v]);});var tb=$('sites'),rt=cur[4][v]||1;tb.innerHTML='';\n"
" var h=tb.insertRow();['site','location','live bytes','live count','alloc bytes','alloc count','% of '+VN[v]].forEach(function(t){var th=document.createElement('th');th.textContent=t;h.appendChild(th);});\n"
" list.slice(0,50).forEach(function(a){var r=tb.insertRow(),c=r.insertCell();c.textContent=a.n[0];c=r.insertCell();c.textContent=a.n[1]?a.n[1]+(a.n[2]?':'+a.n[2]:''):(a.n[3]||'');\n"
"  for(var i=0;i<4;i++){c=r.insertCell();c.className='n';c.textContent=num(a.s[i]);}c=r.insertCell();c.className='n';c.textContent=(100*a.s[v]/rt).toFixed(1)+'%';});}\n"
"(function init(){var a=$('snapA'),b=$('snapB');\n"
" var o=document.createElement('option');o.value=-1;o.textContent='(none)';b.appendChild(o);\n"
" D.snapshots.forEach(function(s,i){[a,b].forEach(function(s2){var op=document.createElement('option');op.value=i;op.textContent=s.label;s2.appendChild(op);});});\n"
" a.onchange=function(){sel.a=+a.value;show();};b.onchange=function(){sel.b=+b.value;if(sel.b==sel.a)sel.b=-1;show();};\n"
" $('value').onchange=function(){zoomNode=null;flame();table();};$('reset').onclick=function(){zoomNode=null;flame();};\n"
" a.value=sel.a;b.value=-1;show();})();\n";

int lh_export_html(const lh_report *r, FILE *out)
{
    if (!r || !out)
        return -EINVAL;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", out);
    lh_put_xml(out, r->title);
    fprintf(out, "</title>\n<style>%s</style>\n</head><body>\n<h1>", page_css);
    lh_put_xml(out, r->title);
    fputs("</h1>\n<svg id=\"chart\" viewBox=\"0 0 1000 280\" width=\"1000\" height=\"280\"></svg>\n"
          "<div class=\"hint\">Click a snapshot (a square on the time axis); shift-click a second for the span between them.</div>\n"
          "<div id=\"controls\">Snapshot <select id=\"snapA\"></select> span to <select id=\"snapB\"></select>"
          " size by <select id=\"value\"><option value=\"0\">live bytes</option><option value=\"1\">live count</option>"
          "<option value=\"2\">alloc bytes</option><option value=\"3\">alloc count</option></select>"
          "<button id=\"reset\">Reset zoom</button></div>\n<div id=\"info\"></div>\n"
          "<div id=\"flame\"></div>\n<table id=\"sites\"></table>\n"
          "<script type=\"application/json\" id=\"lh-data\">{\"title\":", out);
    /* JSON strings escape '<', so "</script>" in a name cannot end the block. */
    lh_json_str(out, r->title);
    fputs(",\"points\":[", out);
    for (size_t i = 0; i < r->npts; i++)
        fprintf(out, "%s[%.6g,%" PRId64 ",%" PRId64 "]", i ? "," : "", r->pts[i].t, r->pts[i].heap, r->pts[i].rss);
    fputs("],\"markers\":[", out);
    for (size_t i = 0; i < r->nmks; i++) {
        fprintf(out, "%s[%.6g,", i ? "," : "", r->mks[i].t);
        lh_json_str(out, r->mks[i].label);
        putc(']', out);
    }
    fputs("],\"peak\":", out);
    if (r->has_peak)
        fprintf(out, "[%.6g,%" PRId64 "]", r->peak_t, r->peak_bytes);
    else
        fputs("null", out);
    fputs(",\"snapshots\":[", out);
    int rc = 0;
    for (size_t i = 0; i < r->nsnaps && !rc; i++) {
        const lh_flame *f = r->snaps[i].f;
        lh_fkids k;
        if (lh_flame_kids(f, &k)) {
            rc = -ENOMEM;
            break;
        }
        fprintf(out, "%s\n{\"t\":%.6g,\"label\":", i ? "," : "", r->snaps[i].t);
        lh_json_str(out, r->snaps[i].label);
        fprintf(out, ",\"diff\":%d,\"tree\":", f->is_diff ? 1 : 0);
        put_node(f, &k, 0, out);
        putc('}', out);
        lh_flame_kids_free(&k);
    }
    fprintf(out, "]}</script>\n<script>\n%s</script>\n</body></html>\n", page_js);
    if (!rc && (fflush(out) || ferror(out)))
        rc = -EIO;
    return rc;
}
