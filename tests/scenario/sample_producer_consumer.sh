#!/bin/bash
# tests/scenario/sample_producer_consumer.sh - samples/producer-consumer: a
# producer thread and consumer threads share a queue; every 50th message is
# malformed and its consumer returns early without freeing it. leakhunt
# must find exactly those messages (header and payload, at their lines in
# message_new) left at the end, whatever thread handled them.
. "$(dirname "$0")/../lib.sh"

PROG=$ROOT/build/samples/producer-consumer
SRC=$ROOT/samples/producer-consumer/main.c
if [ ! -x "$PROG" ]; then
	fail "producer-consumer is built" "$PROG is missing: run 'make samples'"
	done_testing; exit
fi
line_of() { grep -n "$1" "$SRC" | head -1 | cut -d: -f1; }
HEADER_LINE=$(line_of '/\* HEADER \*/')
PAYLOAD_LINE=$(line_of '/\* PAYLOAD \*/')
PRINTF_LINE=$(line_of 'printf("handled')
ok_if "the error path is there: handle_message returns without freeing" \
	grep -q 'return -1;.*ERROR PATH: the message is not freed' "$SRC"

# Messages 49, 99, ..., 1999 are malformed: 40 of them, payloads of
# 100 + 49 = 149 bytes each, headers of 24 bytes.
N=2000 MALFORMED=40 PAYLOAD=149 HEADER=24

# --- natively ---------------------------------------------------------------
"$PROG" --messages $N --consumers 3 >"$TMP/native.out"
is "runs and exits 0" "$?" 0
is "rejects every 50th message" "$(cat "$TMP/native.out")" \
	"handled $((N - MALFORMED)) messages, rejected $MALFORMED malformed messages ($((MALFORMED * (HEADER + PAYLOAD))) bytes)"
ok_if "usage errors exit 2" bash -c "'$PROG' --consumers 0 2>/dev/null; [ \$? -eq 2 ]"
if command -v valgrind >/dev/null; then
	valgrind --leak-check=full "$PROG" --messages 500 --consumers 2 >/dev/null 2>"$TMP/vg"
	is "valgrind agrees: 10 headers definitely lost, their payloads indirectly" \
		"$(grep -o -e 'definitely lost: [0-9,]* bytes in [0-9,]* blocks' -e 'indirectly lost: [0-9,]* bytes in [0-9,]* blocks' "$TMP/vg" | tr -d , | tr '\n' ' ')" \
		"definitely lost: $((10 * HEADER)) bytes in 10 blocks indirectly lost: $((10 * PAYLOAD)) bytes in 10 blocks "
fi

# --- under leakhunt-record ----------------------------------------------------
T=$TMP/pc.lht
(cd "$TMP" && "$BIN/leakhunt-record" -q -o "$T" -- "$PROG" --messages $N --consumers 3 >"$TMP/rec.out" 2>"$TMP/rec.err")
is "recorded run exits 0" "$?" 0
ok_if "recorded run says the same" cmp -s "$TMP/native.out" "$TMP/rec.out"
"$BIN/leakhunt-replay" "$T" --stats --format json >"$TMP/stats.json"
is "five threads, every allocation matched, nothing lost" \
	"$(json_get "$TMP/stats.json" "(j['threads'], j['allocations'] - j['frees'] == j['leaked_allocations'], j['lost_events'], j['unknown_frees'])")" \
	"(5, True, 0, 0)"

"$BIN/leakhunt-replay" "$T" --leaks --by line --format json --top 0 --filter message_new >"$TMP/leaks.json"
is "leaks in message_new: the malformed messages' payloads and headers, exactly" \
	"$(json_get "$TMP/leaks.json" "[(r['function'], r['file'].endswith('samples/producer-consumer/main.c'), r['line'], r['bytes'], r['count']) for r in j['rows']]")" \
	"[('message_new', True, $PAYLOAD_LINE, $((MALFORMED * PAYLOAD)), $MALFORMED), ('message_new', True, $HEADER_LINE, $((MALFORMED * HEADER)), $MALFORMED)]"
"$BIN/leakhunt-replay" "$T" --leaks --by line --format json --top 0 >"$TMP/all.json"
# Besides them: stdout's buffer (the printf in main) and glibc's per-thread
# block (its DTV, kept with the cached stacks of the 4 finished threads),
# charged to main's pthread_create lines.
is "nothing else leaks but stdout's buffer and glibc's per-thread blocks, charged to main" \
	"$(json_get "$TMP/all.json" "(j['total_count'], sorted(set(r['function'] for r in j['rows'])))")" \
	"($((2 * MALFORMED + 1 + 4)), ['main', 'message_new'])"
is "main's blocks: one 4096-byte stdout buffer at the printf, one block per thread created" \
	"$(json_get "$TMP/all.json" "(sum(r['count'] for r in j['rows'] if r['function'] == 'main' and r['line'] != $PRINTF_LINE), [(r['bytes'], r['count']) for r in j['rows'] if r['line'] == $PRINTF_LINE])")" \
	"(4, [(4096, 1)])"

# The stacks: allocated on the producer thread, message_new called by producer.
"$BIN/leakhunt-replay" "$T" --leaks --by stack --format json --top 0 --filter message_new >"$TMP/stacks.json"
is "both leak stacks: message_new, called from producer, on a thread pthread_create started" \
	"$(json_get "$TMP/stacks.json" "sorted(set(tuple(l.split(' (')[0] for l in r['site'].split(chr(10))[:3]) for r in j['rows']))")" \
	"[('message_new', 'producer', 'start_thread')]"

done_testing
