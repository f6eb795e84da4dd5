#!/bin/bash
# The deploy engine's files are layered (agent/engine_int.h): no two of them
# call each other's functions in a circle. scripts/callgraph.py lists which
# file calls which and fails on a cycle. A cycle made on purpose in a copy
# of two files must be found, so the check itself is checked.
set -u
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
out=$(python3 scripts/callgraph.py agent/engine*.c) || { echo "$out"; echo "FAIL: a cycle among agent/engine*.c"; exit 1; }
echo "$out" | grep -q "^cycles: 0$" || { echo "$out"; echo "FAIL: no cycle count"; exit 1; }
# engine_util.c is the bottom layer: it calls no other engine file.
echo "$out" | grep -q "^agent/engine_util.c -> -$" || { echo "$out"; echo "FAIL: engine_util.c calls up"; exit 1; }
cat >"$TMP/a.c" <<'C'
int a_one(void)
{
	return b_one();
}
C
cat >"$TMP/b.c" <<'C'
int b_one(void)
{
	return a_one() + 1;
}
C
if python3 scripts/callgraph.py "$TMP/a.c" "$TMP/b.c" >"$TMP/cyc.txt"; then
	cat "$TMP/cyc.txt"
	echo "FAIL: the planted cycle was not found"
	exit 1
fi
grep -q "^cycle: " "$TMP/cyc.txt" || { cat "$TMP/cyc.txt"; echo "FAIL: no cycle line"; exit 1; }
echo "ok: agent/engine*.c call each other without cycles"
