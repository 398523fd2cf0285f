#!/bin/bash
# record_follow_env: children started with an environment of their own
# (env -i, a harness's own LD_PRELOAD, subprocess.run(env={}), posix_spawn
# and vfork + execve with a custom envp) are traced all the same, with their
# exact allocations, and see the environment their parent gave them.
. "$(dirname "$0")/../lib.sh"
cd "$TMP"
K=$TBIN/progs/known_allocs
S=$TBIN/progs/spawn_env
HELLO=$TBIN/progs/libhello_preload.so
allocs_of() { "$BIN/leakhunt-replay" "$1" --stats --format json >s.json 2>/dev/null && json_get s.json "j['allocations']"; }
# known_allocs makes exactly 1032 allocations (record_known.sh)
one_trace() { ls $1.known_allocs.*.lht 2>/dev/null | head -1; }

"$BIN/leakhunt-record" -q -o 'e.%e.%p.lht' -- sh -c "env -i PATH=/usr/bin:/bin $K >/dev/null" 2>err
is "env -i: known_allocs traced with its 1032 allocations" "$(allocs_of "$(one_trace e)")" 1032

"$BIN/leakhunt-record" -q -o 'p.%e.%p.lht' -- sh -c "LD_PRELOAD=$HELLO $K >/dev/null" 2>err
is "own LD_PRELOAD: traced with its 1032 allocations" "$(allocs_of "$(one_trace p)")" 1032
ok_if "... and its own preload was loaded too" grep -q "own preload loaded" err

"$BIN/leakhunt-record" -q -o 'y.%e.%p.lht' -- python3 -c "import subprocess; subprocess.run(['$K'], env={}, stdout=subprocess.DEVNULL)" 2>err
is "subprocess.run(env={}): traced with its 1032 allocations" "$(allocs_of "$(one_trace y)")" 1032

for how in spawn vfork execve; do
    rm -f s.*.lht
    "$BIN/leakhunt-record" -q -o 's.%e.%p.lht' -- "$S" $how ONLY=1 "$K" >out 2>err
    is "$how with its own envp: traced with its 1032 allocations" "$(allocs_of "$(one_trace s)")" 1032
done

# What the program sees is what its parent set.
"$BIN/leakhunt-record" -q -o v.lht -- "$S" execve ONLY=1 /usr/bin/env >out 2>/dev/null
is "the child's environment is exactly the one it was given" "$(cat out)" "ONLY=1"
"$BIN/leakhunt-record" -q -o w.lht -- "$S" execve LD_PRELOAD=$HELLO /usr/bin/env >out 2>err
is "... its LD_PRELOAD as set, the recorder's not shown" "$(cat out)" "LD_PRELOAD=$HELLO"
is "... and the recording has both processes (the second under a fallback name)" "$(ls w.lht w.*.lht 2>/dev/null | wc -l)" 2

"$BIN/leakhunt-record" -q --no-follow -o n.lht -- "$S" execve ONLY=1 "$K" >/dev/null 2>&1
"$BIN/leakhunt-record" -q --no-follow -o 'n.%e.%p.lht' -- sh -c "env -i $K >/dev/null" 2>/dev/null
is "--no-follow: an env -i child is not brought back in" "$(ls n.known_allocs.*.lht 2>/dev/null | wc -l)" 0
done_testing
