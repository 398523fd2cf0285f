#!/bin/bash
# replay_views: the views and knobs heaptrack, memray, massif and LSan users
# reach for (--alloc-fn, --exclude, --suppressions, --thread, --tree,
# --histogram, --value alloc_*, --fail-over), with exact bytes, counts and
# lines on tests/progs/views.c, whose every allocation is known:
#   my_alloc (the program's wrapper) <- load_config 5 x 1000 B leaked,
#   <- load_assets 3 x 4096 B leaked, <- scratch 100 x 24 B freed;
#   a second thread: worker_keep 4 x 300 B leaked, worker_temp 10 x 40 B
#   freed; and glibc's pthread_create, 1 block (the new thread's DTV).
. "$(dirname "$0")/../lib.sh"
SRC=$ROOT/tests/progs/views.c
line_of() { grep -n "$1" "$SRC" | head -1 | cut -d: -f1; }
T=$TMP/v.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$TBIN/progs/views" >/dev/null 2>&1
ok_if "the trace was recorded" test -s "$T"
R() { "$BIN/leakhunt-replay" "$@"; }
J() { local f=$TMP/j.$RANDOM.json; R "$@" --format json >"$f"; echo "$f"; }
# rows FILE: (function, line, bytes, count) of each row
rows() { json_get "$1" "[(r['function'], r['line'], r['bytes'], r['count']) for r in j['rows']]"; }
err() { R "$@" >/dev/null 2>"$TMP/err"; echo "$?:$(head -c 400 "$TMP/err")"; }
# Everything the program allocates itself: glibc's block for the new
# thread is allocated in allocate_dtv.
NOLIBC="--exclude allocate_dtv"
MY=$(line_of MY_ALLOC_LINE) CONFIG=$(line_of CONFIG_LINE) ASSETS=$(line_of ASSETS_LINE)
SCRATCH=$(line_of SCRATCH_LINE) WKEEP=$(line_of WORKER_KEEP_LINE) WTEMP=$(line_of WORKER_TEMP_LINE)

# --- --alloc-fn -------------------------------------------------------------
is "without --alloc-fn the wrapper's line is the site" \
   "$(rows "$(J "$T" --leaks $NOLIBC)")" "[('my_alloc', $MY, 17288, 8), ('worker_keep', $WKEEP, 1200, 4)]"
is "--alloc-fn my_alloc: the wrapper's callers, at their lines" \
   "$(rows "$(J "$T" --leaks $NOLIBC --alloc-fn my_alloc)")" \
   "[('load_assets', $ASSETS, 12288, 3), ('load_config', $CONFIG, 5000, 5), ('worker_keep', $WKEEP, 1200, 4)]"
is "--alloc-fn takes a glob" \
   "$(rows "$(J "$T" --leaks $NOLIBC --alloc-fn 'my_*c')")" \
   "[('load_assets', $ASSETS, 12288, 3), ('load_config', $CONFIG, 5000, 5), ('worker_keep', $WKEEP, 1200, 4)]"
is "--alloc-fn repeated: any of them" \
   "$(rows "$(J "$T" --leaks $NOLIBC --by function --alloc-fn nothing_such --alloc-fn my_alloc)")" \
   "[('load_assets', $ASSETS, 12288, 3), ('load_config', $CONFIG, 5000, 5), ('worker_keep', $WKEEP, 1200, 4)]"
case $(err "$T" --alloc-fn '') in "2:"*"--alloc-fn ''"*) pass "--alloc-fn '' is refused, naming the option" ;; *) fail "--alloc-fn ''" "$(cat "$TMP/err")" ;; esac

# --- --filter, --exclude, --suppressions --------------------------------------
is "--exclude drops stacks naming the text" \
   "$(rows "$(J "$T" --leaks $NOLIBC --alloc-fn my_alloc --exclude load_)")" "[('worker_keep', $WKEEP, 1200, 4)]"
is "--exclude repeated" \
   "$(rows "$(J "$T" --leaks $NOLIBC --alloc-fn my_alloc --exclude load_config --exclude worker)")" "[('load_assets', $ASSETS, 12288, 3)]"
is "--exclude matches file names too" \
   "$(json_get "$(J "$T" --leaks --exclude views.c)" "j['total_bytes']")" 0
is "--filter with --exclude" \
   "$(rows "$(J "$T" --leaks --alloc-fn my_alloc --filter load_ --exclude assets)")" "[('load_config', $CONFIG, 5000, 5)]"
is "--filter applies to the exports too" \
   "$(R "$T" --leaks --filter load_config --folded - | awk '{s += $NF} END {print s}')" 5000
cat >"$TMP/lsan.supp" <<'SUPP'
# LeakSanitizer's format: comments, blank lines, leak:PATTERN

   leak:^load_a*ts$   
leak:dl-tls.c
SUPP
is "--suppressions: ^...\$ anchors and * wildcards on functions, substrings of files" \
   "$(rows "$(J "$T" --leaks --alloc-fn my_alloc --suppressions "$TMP/lsan.supp")")" \
   "[('load_config', $CONFIG, 5000, 5), ('worker_keep', $WKEEP, 1200, 4)]"
echo 'leak:libc.so' >"$TMP/mod.supp"
is "--suppressions: a module name (every stack passes through libc's malloc)" \
   "$(json_get "$(J "$T" --leaks --suppressions "$TMP/mod.supp")" "(j['total_bytes'], j['rows'])")" "(0, [])"
echo 'leak:load_conf$' >"$TMP/end.supp"
is "--suppressions: \$ anchors the end (load_conf\$ is not load_config)" \
   "$(json_get "$(J "$T" --leaks $NOLIBC --suppressions "$TMP/end.supp")" "j['total_bytes']")" 18488
echo 'leak:worker' >"$TMP/w.supp"
is "--suppressions repeated: both files" \
   "$(rows "$(J "$T" --leaks --alloc-fn my_alloc --suppressions "$TMP/lsan.supp" --suppressions "$TMP/w.supp")")" \
   "[('load_config', $CONFIG, 5000, 5)]"
is "--suppressions apply to the exports" \
   "$(R "$T" --leaks --suppressions "$TMP/lsan.supp" --suppressions "$TMP/w.supp" --folded - | awk '{s += $NF} END {print s}')" 5000
is "--suppressions apply to --diff" \
   "$(json_get "$(J "$T" --diff start end --suppressions "$TMP/w.supp" $NOLIBC)" "j['total_bytes']")" 17288
case $(err "$T" --suppressions "$TMP/missing.supp") in "2:"*"--suppressions $TMP/missing.supp: No such file"*) pass "a missing suppression file is named, exit 2" ;; *) fail "missing suppression file" "$(cat "$TMP/err")" ;; esac
printf 'leak:ok\n\n# fine\nload_config\n' >"$TMP/bad1.supp"
case $(err "$T" --suppressions "$TMP/bad1.supp") in "2:"*"bad1.supp:4: 'load_config' is not a suppression (expected leak:PATTERN)"*) pass "a line without a type names file and line, exit 2" ;; *) fail "line without a type" "$(cat "$TMP/err")" ;; esac
printf 'race:foo\n' >"$TMP/bad2.supp"
case $(err "$T" --suppressions "$TMP/bad2.supp") in "2:"*"bad2.supp:1: suppression type 'race' is not supported"*) pass "another sanitizer's type is refused with its line" ;; *) fail "unsupported type" "$(cat "$TMP/err")" ;; esac
printf 'leak:\n' >"$TMP/bad3.supp"
case $(err "$T" --suppressions "$TMP/bad3.supp") in "2:"*"bad3.supp:1: leak: without a pattern"*) pass "leak: without a pattern is refused" ;; *) fail "empty pattern" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --exclude '') in "2:"*"--exclude ''"*) pass "--exclude '' is refused, naming the option" ;; *) fail "--exclude ''" "$(cat "$TMP/err")" ;; esac

# --- --thread ---------------------------------------------------------------
# glibc's block for the new thread (its size is glibc's business)
DTV=$(json_get "$(J "$T" --leaks --filter allocate_dtv)" "j['total_bytes']")
stats() { json_get "$(J "$T" --stats "$@")" "(j['allocations'], j['frees'], j['bytes_allocated'], j['leaked_allocations'], j['leaked_bytes'], j['unknown_frees'], j['peak_bytes'])"; }
ST=$(J "$T" --stats)
is "--stats lists the threads: #0 the main thread (the pid), #1 the worker" \
   "$(json_get "$ST" "[t['index'] for t in j['thread_list']], j['thread_list'][0]['tid'] == j['pid'], j['threads']")" "([0, 1], True, 2)"
ok_if "--stats text lists them as --thread takes them" sh -c "'$BIN/leakhunt-replay' '$T' --stats | grep -q '^threads      #0 tid [0-9]*, #1 tid [0-9]*'"
# peak: while worker_temp runs (the handoff block still live, worker_back's
# not yet)
is "every thread: 125 allocations, 112 frees" "$(stats)" "(125, 112, 23792, 13, $((17288 + 1200 + DTV)), 0, $((17288 + DTV + 2000 + 1200 + 40)))"
# main: 5 + 3 + 100 + handoff + the DTV; frees: scratch's 100 and the
# handoff block the worker freed, not worker_back's block that main freed
is "--thread 0: the main thread's allocations, and frees of its blocks by any thread" \
   "$(stats --thread 0)" "(110, 101, $((5000 + 12288 + 2400 + 2000 + DTV)), 9, $((17288 + DTV)), 0, $((17288 + DTV + 2000)))"
# worker: 4 + 10 + worker_back; frees: its 10 and worker_back's (by main)
is "--thread 1: the worker's, the free of the handoff block not counted" \
   "$(stats --thread 1)" "(15, 11, 1800, 4, 1200, 0, 1400)"
TID1=$(json_get "$ST" "j['thread_list'][1]['tid']")
is "--thread TID equals --thread INDEX" "$(stats --thread "$TID1")" "(15, 11, 1800, 4, 1200, 0, 1400)"
is "--thread '#1' as --stats writes it" "$(stats --thread '#1')" "(15, 11, 1800, 4, 1200, 0, 1400)"
is "--thread repeated: both threads" "$(stats --thread 0 --thread 1)" "$(stats)"
is "--thread 1 --leaks: the worker's leak at its line" \
   "$(rows "$(J "$T" --leaks --thread 1)")" "[('worker_keep', $WKEEP, 1200, 4)]"
is "--thread 0 --diff start end: the main thread's growth" \
   "$(json_get "$(J "$T" --diff start end --thread 0 --alloc-fn my_alloc $NOLIBC)" "[(r['function'], r['bytes_delta']) for r in j['rows']]")" \
   "[('load_assets', 12288), ('load_config', 5000)]"
R "$T" --leaks --thread 9 >/dev/null 2>"$TMP/t9.err"
is "--thread 9 (none such): a warning naming the threads there are" \
   "$(sed 's/tid [0-9]*/tid N/g' "$TMP/t9.err")" \
   "leakhunt-replay: warning: --thread 9: $T has no such thread (index or tid); it has #0 (tid N) #1 (tid N)"
case $(err "$T" --thread main) in "2:"*"--thread 'main'"*) pass "--thread main is refused, naming the option" ;; *) fail "--thread main" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --thread -1) in "2:"*"--thread '-1'"*) pass "--thread -1 is refused" ;; *) fail "--thread -1" "$(cat "$TMP/err")" ;; esac

# --- --value alloc_bytes|alloc_count ranks the table --------------------------
arows() { json_get "$1" "[(r['function'], r['allocated_bytes'], r['allocations'], r['bytes']) for r in j['rows']]"; }
is "--leaks --value alloc_count: sites by allocations made, freed or not" \
   "$(arows "$(J "$T" --leaks --value alloc_count --alloc-fn my_alloc --by function $NOLIBC)")" \
   "[('scratch', 2400, 100, 0), ('worker_temp', 400, 10, 0), ('load_config', 5000, 5, 5000), ('worker_keep', 1200, 4, 1200), ('load_assets', 12288, 3, 12288), ('handoff', 2000, 1, 0), ('worker_back', 200, 1, 0)]"
is "--value alloc_bytes: by bytes allocated" \
   "$(json_get "$(J "$T" --leaks --value alloc_bytes --alloc-fn my_alloc --by function $NOLIBC --top 3)" "([r['function'] for r in j['rows']], j['ranked_by'], j['total_allocated_bytes'], j['total_allocations'], j['rows_total'])")" \
   "(['load_assets', 'load_config', 'scratch'], 'alloc_bytes', 23488, 124, 7)"
is "--value alloc_bytes: the scratch line is ranked, at its line" \
   "$(json_get "$(J "$T" --leaks --value alloc_bytes --alloc-fn my_alloc --filter scratch)" "[(r['line'], r['allocated_bytes'], r['allocations']) for r in j['rows']]")" "[($SCRATCH, 2400, 100)]"
is "--value alloc_bytes --min-bytes 2K: on the allocated bytes" \
   "$(json_get "$(J "$T" --leaks --value alloc_bytes --alloc-fn my_alloc --by function --min-bytes 2K)" "[r['function'] for r in j['rows']]")" \
   "['load_assets', 'load_config', 'scratch']"
is "--diff mark:threads end --value alloc_bytes: what the window allocated (the worker's), the handoff freed" \
   "$(json_get "$(J "$T" --diff mark:threads end --value alloc_bytes --by function $NOLIBC)" "[(r['function'], r['allocated_bytes'], r['allocations'], r['bytes_delta']) for r in j['rows']]")" \
   "[('worker_keep', 1200, 4, 1200), ('worker_temp', 400, 10, 0), ('worker_back', 200, 1, 0), ('handoff', 0, 0, -2000)]"
R "$T" --leaks --value alloc_count --alloc-fn my_alloc --by function $NOLIBC --top 2 >"$TMP/alloc.txt"
is "--value alloc_count text: allocated, allocs and live columns" "$(sed 1d "$TMP/alloc.txt")" \
"   allocated     allocs         live  site
      2400 B        100          0 B  scratch
       400 B         10          0 B  worker_temp
  ... 5 more (--top 0 shows all)
    22.9 KiB        124     18.1 KiB  total"
ok_if "--value alloc_count text: the title says so" grep -q 'ranked by what was allocated (freed or not)$' "$TMP/alloc.txt"
is "--value live_bytes (the default) is unchanged" "$(R "$T" --leaks --value live_bytes | sed 1d)" "$(R "$T" --leaks | sed 1d)"

# --- --tree [--inverted] ------------------------------------------------------
# tree FILE EXPR: EXPR over the tree's root t, with find(node, function)
# (the first node of that function, depth first) and path(node) (the
# functions from the root to the node's leaf along first children)
tree() {
	python3 - "$1" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = j['tree']
def find(n, fn):
    if n.get('function') == fn: return n
    for k in n['children']:
        r = find(k, fn)
        if r: return r
def names(n): return [k['function'] for k in n['children']]
print(eval(sys.argv[2]))
PY
}
TJ=$(J "$T" --leaks --tree --alloc-fn my_alloc --top 0)
is "--tree: the root is the view's total" "$(tree "$TJ" "(t['bytes'], t['count'], j['tree_kind'])")" \
   "(18792, 13, 'top-down')"
is "--tree: load_config is a leaf with its bytes as self, at its line" \
   "$(tree "$TJ" "(lambda n: (n['line'], n['bytes'], n['count'], n['self_bytes'], n['self_count'], n['children']))(find(t, 'load_config'))")" \
   "($CONFIG, 5000, 5, 5000, 5, [])"
is "--tree: main holds the program's sites, nothing itself at the load_assets call" \
   "$(tree "$TJ" "sorted((n['line'], n['bytes'], n['self_bytes']) for n in find(t, '__libc_start_call_main')['children'])")" \
   "[($(grep -n '^    load_config();' "$SRC" | cut -d: -f1), 5000, 0), ($(grep -n '^    load_assets();' "$SRC" | cut -d: -f1), 12288, 0), ($(grep -n 'pthread_create(&t' "$SRC" | cut -d: -f1), $DTV, $DTV)]"
is "--tree: the worker's subtree" \
   "$(tree "$TJ" "(lambda n: (n['bytes'], n['count'], names(n)))(find(t, 'worker'))")" "(1200, 4, ['worker_keep'])"
is "--tree: every level adds up (children + self = total)" \
   "$(tree "$TJ" "all(n['bytes'] == n['self_bytes'] + sum(k['bytes'] for k in n['children']) for n in (lambda walk: walk(walk, t))(lambda w, n: [n] + [x for k in n['children'] for x in w(w, k)]))")" True
is "--tree without --alloc-fn: my_alloc is the leaf, under both loaders" \
   "$(tree "$(J "$T" --leaks --tree --top 0 $NOLIBC)" "(lambda n: (names(n), n['children'][0]['self_bytes'], n['children'][0]['line']))(find(t, 'load_assets'))")" \
   "(['my_alloc'], 12288, $MY)"
is "--tree --top 1: one child per frame, the rest summed" \
   "$(tree "$(J "$T" --leaks --tree --alloc-fn my_alloc --top 1)" "(names(t), t['omitted'], t['omitted_bytes'], t['omitted_count'])")" "(['_start'], 1, 1200, 4)"
is "--tree --min-bytes 4K: small subtrees pruned" \
   "$(tree "$(J "$T" --leaks --tree --alloc-fn my_alloc --top 0 --min-bytes 4K)" "(names(find(t, '__libc_start_call_main')), 'load_config' in str(t), t['omitted_bytes'])")" \
   "(['main', 'main'], True, 1200)"
IJ=$(J "$T" --leaks --tree --inverted --alloc-fn my_alloc --top 0)
is "--tree --inverted: the roots are the sites, biggest first" \
   "$(tree "$IJ" "([(k['function'], k['bytes'], k['count']) for k in t['children']], j['tree_kind'])")" \
   "([('load_assets', 12288, 3), ('load_config', 5000, 5), ('worker_keep', 1200, 4), ('main', $DTV, 1)], 'bottom-up')"
is "--tree --inverted: a site's child is its caller, at the call's line" \
   "$(tree "$IJ" "[(k['function'], k['line'], k['bytes']) for k in find(t, 'load_config')['children']]")" \
   "[('main', $(grep -n '^    load_config();' "$SRC" | cut -d: -f1), 5000)]"
is "--tree --inverted without --alloc-fn: my_alloc's callers under it" \
   "$(tree "$(J "$T" --leaks --tree --inverted --top 0 $NOLIBC)" "[(k['function'], k['bytes']) for k in find(t, 'my_alloc')['children']]")" \
   "[('load_assets', 12288), ('load_config', 5000)]"
is "--tree --diff: the growth between the moments" \
   "$(tree "$(J "$T" --diff mark:threads end --tree --inverted --top 0 $NOLIBC)" "[(k['function'], k['bytes']) for k in t['children']]")" \
   "[('handoff', -2000), ('worker_keep', 1200)]"
is "--tree --value alloc_count: what was allocated, by allocations" \
   "$(tree "$(J "$T" --leaks --tree --inverted --alloc-fn my_alloc --value alloc_count --top 2)" "([(k['function'], k['bytes'], k['count']) for k in t['children']], j['values'])")" \
   "([('scratch', 2400, 100), ('worker_temp', 400, 10)], 'allocated')"
is "--tree --thread 1" \
   "$(tree "$(J "$T" --leaks --tree --inverted --thread 1)" "[(k['function'], k['bytes']) for k in t['children']]")" "[('worker_keep', 1200)]"
R "$T" --leaks --tree --alloc-fn my_alloc --top 0 --filter worker >"$TMP/tree.txt"
is "--tree text: indented frames with total, self, blocks" "$(sed 1d "$TMP/tree.txt" | sed 's/([^)]*clone3.S:[0-9]*)/(clone3.S)/; s/(.*pthread_create.c:[0-9]*)/(pthread_create.c)/')" \
"       total         self     blocks       self  call tree
      1200 B          0 B          4          0  (all)
      1200 B          0 B          4          0    __clone3 (clone3.S)
      1200 B          0 B          4          0      start_thread (pthread_create.c)
      1200 B          0 B          4          0        worker (tests/progs/views.c:$(grep -n '^    worker_keep();' "$SRC" | cut -d: -f1))
      1200 B       1200 B          4          4          worker_keep (tests/progs/views.c:$WKEEP)"
case $(err "$T" --inverted) in "2:"*"--inverted: only with --tree"*) pass "--inverted without --tree is refused" ;; *) fail "--inverted alone" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --stats --tree) in "2:"*"--tree: not for --stats"*) pass "--tree --stats is refused" ;; *) fail "--tree --stats" "$(cat "$TMP/err")" ;; esac

# --- --histogram ------------------------------------------------------------
# buckets FILE: (min, max, count, bytes) of each bucket
buckets() { json_get "$1" "([(b['min'], b['max'], b['count'], b['bytes']) for b in j['buckets']], j['total_count'], j['total_bytes'])"; }
is "--histogram: every allocation of the run, in power-of-two buckets" \
   "$(buckets "$(J "$T" --histogram $NOLIBC)")" \
   "([(16, 31, 100, 2400), (32, 63, 10, 400), (64, 127, 0, 0), (128, 255, 1, 200), (256, 511, 4, 1200), (512, 1023, 5, 5000), (1024, 2047, 1, 2000), (2048, 4095, 0, 0), (4096, 8191, 3, 12288)], 124, 23488)"
is "--histogram --stats: the same window (the whole run), with glibc's block" \
   "$(json_get "$(J "$T" --histogram --stats)" "(j['total_count'], j['total_bytes'])")" "(125, $((23488 + DTV)))"
is "--histogram --diff mark:threads end: the allocations made between the moments" \
   "$(buckets "$(J "$T" --histogram --diff mark:threads end $NOLIBC)")" \
   "([(32, 63, 10, 400), (64, 127, 0, 0), (128, 255, 1, 200), (256, 511, 4, 1200)], 15, 1800)"
is "--histogram --at mark:threads: from the start to the moment" \
   "$(buckets "$(J "$T" --histogram --at mark:threads)")" \
   "([(16, 31, 100, 2400), (32, 63, 0, 0), (64, 127, 0, 0), (128, 255, 0, 0), (256, 511, 0, 0), (512, 1023, 5, 5000), (1024, 2047, 1, 2000), (2048, 4095, 0, 0), (4096, 8191, 3, 12288)], 109, 21688)"
is "--histogram --filter: only the stacks kept (here load_assets')" \
   "$(buckets "$(J "$T" --histogram --filter load_assets)")" "([(4096, 8191, 3, 12288)], 3, 12288)"
is "--histogram --suppressions and --thread 1" \
   "$(buckets "$(J "$T" --histogram --thread 1 --suppressions "$TMP/w.supp")")" "([], 0, 0)"
is "--histogram --thread 1" \
   "$(buckets "$(J "$T" --histogram --thread 1)")" "([(32, 63, 10, 400), (64, 127, 0, 0), (128, 255, 1, 200), (256, 511, 4, 1200)], 15, 1800)"
# the peak: worker_temp's first block
is "--histogram --peak: up to the peak" \
   "$(json_get "$(J "$T" --histogram --peak $NOLIBC)" "(j['total_count'], j['total_bytes'])")" "(114, $((5000 + 12288 + 2400 + 2000 + 1200 + 40)))"
R "$T" --histogram --filter worker >"$TMP/h.txt"
is "--histogram text: ranges, allocations, bytes, a bar" "$(sed 1d "$TMP/h.txt")" \
"         size (bytes)     allocs        bytes  share of allocations
             32 .. 63         10        400 B  ########################################
            64 .. 127          0          0 B  
           128 .. 255          1        200 B  ####
           256 .. 511          4       1200 B  ################
                total         15       1800 B"
ok_if "--histogram text: the title names the window" grep -q 'sizes of the allocations made from start to end, in power-of-two buckets$' "$TMP/h.txt"
case $(err "$T" --histogram --tree) in "2:"*"--histogram and --tree: choose one"*) pass "--histogram --tree is refused" ;; *) fail "--histogram --tree" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --histogram --growth) in "2:"*"--histogram: not for --growth"*) pass "--histogram --growth is refused" ;; *) fail "--histogram --growth" "$(cat "$TMP/err")" ;; esac
case $(err "$T" "$T" --histogram --diff start end) in "2:"*"--histogram --diff: one trace"*) pass "--histogram --diff of two traces is refused" ;; *) fail "--histogram two traces" "$(cat "$TMP/err")" ;; esac

# --- --fail-over ------------------------------------------------------------
status() { R "$@" >/dev/null 2>"$TMP/fo.err"; echo $?; }
LEAKED=$((17288 + 1200))
is "--fail-over at the leaked bytes exactly: 0" "$(status "$T" --leaks $NOLIBC --fail-over $LEAKED)" 0
is "--fail-over a byte below: 3" "$(status "$T" --leaks $NOLIBC --fail-over $((LEAKED - 1)))" 3
is "--fail-over says what went over, on stderr" "$(cat "$TMP/fo.err")" \
   "leakhunt-replay: $T: the view's total, 18.1 KiB ($LEAKED bytes), is over --fail-over 18.1 KiB ($((LEAKED - 1)) bytes)"
R "$T" --leaks $NOLIBC --fail-over 1K --format json >"$TMP/fo.json" 2>/dev/null
is "--fail-over: the view is printed all the same" "$(json_get "$TMP/fo.json" "j['total_bytes']")" $LEAKED
is "--fail-over 18K (a suffix): 3" "$(status "$T" --leaks $NOLIBC --fail-over 18K)" 3
is "--fail-over 19K: 0" "$(status "$T" --leaks $NOLIBC --fail-over 19K)" 0
is "--fail-over 0.5M: 0" "$(status "$T" --leaks --fail-over 0.5M)" 0
is "--fail-over 0 on a clean window: 0 (--leaks --filter scratch)" "$(status "$T" --leaks --filter scratch --fail-over 0)" 0
is "--diff: the growth (the worker's 1200 B, the handoff's 2000 B freed) is not over 0" \
   "$(status "$T" --diff mark:threads end $NOLIBC --fail-over 0)" 0
is "--diff start end --fail-over 17K: 3" "$(status "$T" --diff start end $NOLIBC --fail-over 17K)" 3
is "--peak --fail-over 20K: 3 (the peak is 20.3 KiB)" "$(status "$T" --peak --fail-over 20K)" 3
is "--peak --fail-over 21K: 0" "$(status "$T" --peak --fail-over 21K)" 0
is "--stats: the leaked bytes count" "$(status "$T" --stats $NOLIBC --fail-over $((LEAKED + DTV - 1)))" 3
is "--stats under it: 0" "$(status "$T" --stats --fail-over $((LEAKED + DTV)))" 0
is "--thread 1 --fail-over 1199: 3" "$(status "$T" --leaks --thread 1 --fail-over 1199)" 3
is "--thread 1 --fail-over 1200: 0" "$(status "$T" --leaks --thread 1 --fail-over 1200)" 0
is "--value alloc_bytes: the allocated bytes count (23488)" "$(status "$T" --leaks $NOLIBC --value alloc_bytes --fail-over 23487)" 3
is "--histogram: its bytes" "$(status "$T" --histogram $NOLIBC --fail-over 23488)" 0
is "--tree: its root" "$(status "$T" --leaks --tree $NOLIBC --fail-over $((LEAKED - 1)))" 3
is "--suppressions lower the total under the gate" "$(status "$T" --leaks --suppressions "$TMP/lsan.supp" --fail-over 6200)" 0
is "--temporary: the short-lived bytes" "$(status "$T" --temporary --fail-over 1)" 3
# over the limit beats damage (1): the gate failed either way
last_events=$("$BIN/leakhunt-dump" --chunks "$T" | awk '$2 == "events" {o = $1} END {print o}')
head -c $((last_events + 10)) "$T" >"$TMP/torn.lht"
is "a damaged trace under the limit: 1" "$(status "$TMP/torn.lht" --leaks --fail-over 1G)" 1
is "a damaged trace over the limit: 3" "$(status "$TMP/torn.lht" --leaks --fail-over 0)" 3
case $(err "$T" --fail-over lots) in "2:"*"--fail-over 'lots': expected a size"*) pass "--fail-over lots is refused, naming the option" ;; *) fail "--fail-over lots" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --fail-over -5) in "2:"*"--fail-over '-5'"*) pass "--fail-over -5 is refused" ;; *) fail "--fail-over -5" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --growth --fail-over 1M) in "2:"*"--fail-over: not for --growth"*) pass "--fail-over --growth is refused" ;; *) fail "--fail-over --growth" "$(cat "$TMP/err")" ;; esac
ok_if "--help names exit status 3" sh -c "'$BIN/leakhunt-replay' --help | grep -q \"3 the view's total is over --fail-over\""
ok_if "--help lists every new option" sh -c "h=\$('$BIN/leakhunt-replay' --help); for o in --alloc-fn --exclude --suppressions --thread --tree --inverted --histogram --fail-over; do echo \"\$h\" | grep -q -- \"^  \$o \" || exit 1; done"
done_testing
