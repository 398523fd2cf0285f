#!/bin/bash
# docs: every tool has a man page that renders without warnings and names
# every option its --help lists, and a bash completion that offers those
# options and the values they take.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
MAN=${LH_MAN:-$ROOT/build/man}

# The options a --help lists: the lines that start with one.
options_of() { "$1" --help | grep -oE -- '^ *(-[a-zA-Z], *)?--[a-z][a-z-]*' | grep -o -- '--.*' | sort -u; }
export LH_COMPLETION=$ROOT/doc/leakhunt.bash

for bin in "$BIN"/leakhunt-*; do
    t=$(basename "$bin")
    page=$MAN/$t.1
    if [ ! -f doc/$t.1.scd ] || [ ! -f "$page" ]; then
        fail "$t has a man page (doc/$t.1.scd, built by make man)"; continue
    fi
    pass "$t has a man page"
    MANWIDTH=80 man --warnings -l "$page" >"$TMP/$t.txt" 2>"$TMP/$t.err"
    is "man -l $t.1: no warnings" "$(cat "$TMP/$t.err")" ""
    head -1 "$TMP/$t.txt" | grep -q "^$t(1)" && pass "$t.1 is titled $t(1)" || fail "$t.1 is titled $t(1)"
    missing=""
    [ "$(options_of "$bin" | grep -c -- --help)" = 1 ] || missing="(no options found in --help)"
    for opt in $(options_of "$bin"); do
        grep -q -- "\*$opt\*" doc/$t.1.scd || missing="$missing $opt"
    done
    is "$t.1 describes every option of --help" "$missing" ""
done

# Completion, as bash calls it: COMP_WORDS/COMP_CWORD in, COMPREPLY out.
complete_words() {
    bash -c '. "$LH_COMPLETION"
        PATH='"$BIN"':$PATH
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _leakhunt "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' complete "$@"
}
ok_if "completion script is valid bash" bash -n doc/leakhunt.bash
is "registered for every tool" \
    "$(bash -c '. doc/leakhunt.bash; complete -p' | grep -o 'leakhunt-[a-z]*' | sort | tr '\n' ' ')" \
    "leakhunt-dump leakhunt-mark leakhunt-record leakhunt-replay leakhunt-top "
for bin in "$BIN"/leakhunt-*; do
    t=$(basename "$bin")
    want=$(options_of "$bin" | tr '\n' ' ')
    is "$t --<TAB> offers every option of --help" "$(complete_words "$t" --)" "$want"
done
is "leakhunt-replay --di<TAB>" "$(complete_words leakhunt-replay t.lht --di)" "--diff "
is "leakhunt-replay --he<TAB>: only option names, never words of the text" \
    "$(complete_words leakhunt-replay --he)" "--help "
is "leakhunt-replay --by <TAB>" "$(complete_words leakhunt-replay t.lht --by '')" "function line module stack "
is "leakhunt-replay --format <TAB>" "$(complete_words leakhunt-replay t.lht --format '')" "json text "
is "leakhunt-replay --value a<TAB>" "$(complete_words leakhunt-replay t.lht --value a)" "alloc_bytes alloc_count "
is "leakhunt-replay --diff mark:warm <TAB> (second moment)" \
    "$(complete_words leakhunt-replay t.lht --diff mark:warm st)" "start "
is "leakhunt-record --unwind <TAB>" "$(complete_words leakhunt-record --unwind '')" "fp libunwind "
is "leakhunt-record --python-stacks <TAB>" "$(complete_words leakhunt-record --python-stacks '')" "full inner off "
is "leakhunt-record --python-allocator <TAB>" "$(complete_words leakhunt-record --python-allocator '')" "hook malloc off "
is "leakhunt-record -p <TAB> offers this shell's pid" \
    "$(complete_words leakhunt-record -p $$ | tr ' ' '\n' | grep -cx "$$")" 1
is "leakhunt-record -- leakhunt-dum<TAB>: a command" "$(complete_words leakhunt-record -- leakhunt-dum)" "leakhunt-dump "
is "leakhunt-record prog --he<TAB>: the program's argument, not ours" \
    "$(complete_words leakhunt-record -q ls --he)" ""
mkdir -p "$TMP/c" && touch "$TMP/c/a.lht" "$TMP/c/b.txt"
is "leakhunt-replay <TAB>: traces and directories" \
    "$(cd "$TMP/c" && complete_words leakhunt-replay '')" "a.lht "
is "leakhunt-mark <TAB>: pids" "$(complete_words leakhunt-mark $$ | tr ' ' '\n' | grep -cx "$$")" 1
is "leakhunt-mark PID --st<TAB>" "$(complete_words leakhunt-mark $$ --st)" "--stop "
done_testing
