#!/bin/sh
# Runs test programs (cmocka binaries and integration scripts), each bounded
# in time, and prints one closing line "N passed, N failed, N skipped".
# Exit status 77 from a program means "skipped" (a missing kernel feature,
# say); the program prints the reason itself.
#
# Each program's output is also kept in $BUILD/test-logs/. A failure is
# repeated at the end (its failed assertions and its last lines), beside the
# summary, because CI machines often show only the tail of a long run.
set -u
: "${BUILD:=build}"
: "${TEST_TIMEOUT:=600}"
export BUILD
logdir="$BUILD/test-logs"
mkdir -p "$logdir"
log_of() { echo "$logdir/$(echo "$1" | tr '/' '_').log"; }
pass=0 fail=0 skip=0 failed=""
for t in "$@"; do
	case "$t" in
	*.sh) cmd="bash $t" ;;
	*) cmd="$t" ;;
	esac
	log=$(log_of "$t")
	echo "=== $t"
	# The program writes to its log, and tail streams the log until the
	# program ends: a pipe would wait for every process holding its write
	# end, which a daemon a test leaves behind would hold forever.
	: >"$log"
	timeout -k 10 "$TEST_TIMEOUT" $cmd >"$log" 2>&1 </dev/null &
	pid=$!
	tail -s 0.1 -n +1 -f --pid=$pid "$log"
	wait $pid
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		echo "--- skipped: $t"
	else
		fail=$((fail + 1))
		failed="$failed $t"
		echo "--- FAILED ($rc): $t"
	fi
done
for t in $failed; do
	log=$(log_of "$t")
	echo "--- $t, its failures:"
	grep -E -B4 -A2 '\[ +(ERROR|LINE|FAILED) +\]|^(FAIL|not ok)|[Ff]ail(ed|ure)' "$log" | tail -n 40
	echo "--- $t, its last lines:"
	tail -n 25 "$log"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
