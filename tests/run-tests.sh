#!/bin/sh
# Runs test programs (cmocka binaries and integration scripts), each bounded
# in time, and prints one closing line "N passed, N failed, N skipped".
# Exit status 77 from a program means "skipped" (a missing kernel feature,
# say); the program prints the reason itself.
set -u
: "${BUILD:=build}"
: "${TEST_TIMEOUT:=600}"
export BUILD
pass=0 fail=0 skip=0 failed=""
for t in "$@"; do
	case "$t" in
	*.sh) cmd="bash $t" ;;
	*) cmd="$t" ;;
	esac
	echo "=== $t"
	timeout -k 10 "$TEST_TIMEOUT" $cmd
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
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
