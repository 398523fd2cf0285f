#!/bin/bash
# werror: the whole tree (tools, recorder, test programs, samples) builds
# without a single warning under gcc and under clang (`make werror`:
# DEVELOPER=1 turns -Wall -Wextra -Wshadow -Wmissing-prototypes into errors).
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
unset MAKEFLAGS MFLAGS MAKELEVEL
for cc in gcc clang; do
	make --no-print-directory werror-$cc >"$TMP/$cc.log" 2>&1
	rc=$?
	is "$cc: builds with every warning an error" "$rc" 0
	[ "$rc" = 0 ] || grep -E 'error|warning' "$TMP/$cc.log" | head -n 10 | sed 's/^/#   /'
done
done_testing
