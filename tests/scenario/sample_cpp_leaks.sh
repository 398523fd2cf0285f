#!/bin/bash
# tests/scenario/sample_cpp_leaks.sh - samples/cpp-leaks: a C++ program that
# leaks through a vector of std::string * never cleared and through a
# missing virtual destructor. leakhunt must attribute each leak to the user's
# line (not to operator new or std:: code), with demangled names, and with
# exactly the blocks and bytes the program says it leaked.
. "$(dirname "$0")/../lib.sh"

PROG=$ROOT/build/samples/cpp-leaks
SRC=$ROOT/samples/cpp-leaks/main.cpp
if [ ! -x "$PROG" ]; then
	fail "cpp-leaks is built" "$PROG is missing: run 'make samples'"
	done_testing; exit
fi
line_of() { grep -n "$1" "$SRC" | head -1 | cut -d: -f1; }
STRING_LINE=$(line_of 'new std::string(session)')
BODY_LINE=$(line_of 'body_ = static_cast')
MAKE_LINE=$(line_of 'return new JsonHandler')
PUSH_LINE=$(line_of 'entries_.push_back(copy)')
PRINTF_LINE=$(line_of 'std::printf("leaked:')
REMEMBER='shop::RequestLog::remember(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)'
CTOR='shop::JsonHandler::JsonHandler(unsigned long)'

# --- natively ---------------------------------------------------------------
"$PROG" --requests 300 >"$TMP/native.out" 2>"$TMP/native.err"
is "runs and exits 0" "$?" 0
# 300 strings (32-byte std::string objects); names of 12..35 characters, the
# 248 longer than 15 with a heap buffer of length + 1; bodies of 64 + id % 64;
# the vector's array doubles from 1 to 512 pointers.
is "says what it leaked" "$(cat "$TMP/native.out")" \
	"leaked: strings 300 (9600 bytes) buffers 248 (6524 bytes) bodies 300 (28210 bytes)
log: 300 entries, capacity 512 (4096 bytes)"
ok_if "usage errors exit 2" bash -c "'$PROG' --requests x 2>/dev/null; [ \$? -eq 2 ]"
if command -v valgrind >/dev/null; then
	valgrind --leak-check=full "$PROG" --requests 300 >/dev/null 2>"$TMP/vg"
	is "valgrind: definitely lost, as the program says (bodies + string objects; buffers indirectly)" \
		"$(grep -o 'definitely lost: [0-9,]* bytes in [0-9,]* blocks' "$TMP/vg" | tr -d ,)" \
		"definitely lost: $((28210 + 9600)) bytes in 600 blocks"
fi

# --- under leakhunt-record ----------------------------------------------------
T=$TMP/cpp.lht
(cd "$TMP" && "$BIN/leakhunt-record" -q -o "$T" -- "$PROG" --requests 300 >"$TMP/rec.out" 2>"$TMP/rec.err")
is "recorded run exits 0" "$?" 0
ok_if "recorded run says the same" cmp -s "$TMP/native.out" "$TMP/rec.out"
read -r STRINGS STRING_BYTES BUFFERS BUFFER_BYTES BODIES BODY_BYTES <<<"$(tr -d '()' <"$TMP/rec.out" | awk 'NR == 1 { print $3, $4, $7, $8, $11, $12 }')"
read -r LOG_BYTES <<<"$(tr -d '()' <"$TMP/rec.out" | awk 'NR == 2 { print $6 }')"

# Between the program's markers "start" and "end" (around the requests)
# only the request log grows: the string objects and their buffers both at
# the `new std::string` line (the buffers are allocated inside std::string's
# copy constructor: std:: frames are not a site), the bodies at the line in
# JsonHandler's constructor, and the vector's array (one block, reallocated
# as it doubles) at the push_back line.
"$BIN/leakhunt-replay" "$T" --diff mark:start mark:end --by line --format json --top 0 >"$TMP/diff.json"
is "diff start->end by line: the bodies, the strings with their buffers, the vector's array" \
	"$(json_get "$TMP/diff.json" "[(r['function'], r['file'].endswith('samples/cpp-leaks/main.cpp'), r['line'], r['bytes_delta'], r['count_delta']) for r in j['rows']]")" \
	"[('$CTOR', True, $BODY_LINE, $BODY_BYTES, $BODIES), ('$REMEMBER', True, $STRING_LINE, $((STRING_BYTES + BUFFER_BYTES)), $((STRINGS + BUFFERS))), ('$REMEMBER', True, $PUSH_LINE, $LOG_BYTES, 1)]"

"$BIN/leakhunt-replay" "$T" --leaks --by function --format json --top 0 >"$TMP/leaks.json"
is "leaks by function: demangled C++ names, exact blocks and bytes; main's is stdout's buffer" \
	"$(json_get "$TMP/leaks.json" "[(r['function'], r['bytes'], r['count']) for r in j['rows']]")" \
	"[('$CTOR', $BODY_BYTES, $BODIES), ('$REMEMBER', $((STRING_BYTES + BUFFER_BYTES)), $((STRINGS + BUFFERS))), ('main', 4096, 1)]"
"$BIN/leakhunt-replay" "$T" --leaks --by line --format json --filter main.cpp --top 0 >"$TMP/lines.json"
is "no leak is charged to a std:: or operator new frame" \
	"$(json_get "$TMP/lines.json" "[r['function'] for r in j['rows'] if r['function'].startswith(('std::', 'operator', 'void std::')) or 'std::' in r['function'].split('(')[0]]")" "[]"
is "stdout's buffer is the printf in main" \
	"$(json_get "$TMP/lines.json" "[(r['line'], r['bytes']) for r in j['rows'] if r['function'] == 'main']")" "[($PRINTF_LINE, 4096)]"

# The bodies' whole stack: the constructor is inlined into make_handler,
# which serve calls; every user frame is on it, each with its line.
"$BIN/leakhunt-replay" "$T" --leaks --by stack --format json --filter JsonHandler >"$TMP/stack.json"
# (Compared by unqualified name: 'serve' and 'shop::serve(unsigned long)' both do.)
is "the bodies' stack: constructor (inlined) in make_handler, called from serve, from main" \
	"$(json_get "$TMP/stack.json" "[[l.split(' (')[0].split('(')[0].split('::')[-1] for l in r['site'].split(chr(10))][:4] for r in j['rows']]")" \
	"[['JsonHandler', 'make_handler', 'serve', 'main']]"
ok_if "... make_handler's frame is at its new JsonHandler line" \
	grep -q "make_handler[^\"]*(samples/cpp-leaks/main.cpp:$MAKE_LINE)" "$TMP/stack.json"

done_testing
