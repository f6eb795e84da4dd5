# shellcheck shell=bash
# Shell helpers shared by the integration scripts that run tfchain-dev and
# zos-agent (test_agent_e2e.sh, test_agent_grace.sh, test_report_chaos.sh).
# This file is sourced, not run: its name does not match test_*.sh, so
# tests/run-tests.sh never executes it. A script sources it with
#	. "$(dirname "$0")/lib.sh"
# after setting TMP (its scratch directory) and CLI (the zos-cli binary);
# the helpers read both when called. A script that needs a different
# version of a helper defines its own after sourcing this file.

# stop_pid PID: TERM, then wait at most ~STOP_PID_TENTHS/10 s (default 25 s),
# then KILL.
stop_pid() {
	local p=$1
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 1 "${STOP_PID_TENTHS:-250}"); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

# fail MESSAGE: prints it, the last command's stderr and the tails of
# agent.log and chain.log, and exits 1.
fail() {
	echo "FAIL: $*"
	[ -s "$TMP/err.txt" ] && { echo "--- last command's stderr"; cat "$TMP/err.txt"; }
	echo "--- agent.log"
	tail -n 40 "$TMP/agent.log" 2>/dev/null
	echo "--- chain.log"
	tail -n 10 "$TMP/chain.log" 2>/dev/null
	exit 1
}

# free_port: prints a TCP port on 127.0.0.1 that is free now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hex STRING: prints STRING's bytes as 0x-prefixed hex.
hex() { printf '0x%s' "$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')"; }

# call WHO PALLET CALL ARGS...: submits as the dev account WHO; outcome JSON
# in $TMP/out.json, stderr in $TMP/err.txt.
call() {
	local who=$1
	shift
	"$CLI" chain call "$@" --dev "$who" >"$TMP/out.json" 2>"$TMP/err.txt"
}

# get ARGS...: reads chain storage (zos-cli chain get); stderr in $TMP/err.txt.
get() { "$CLI" chain get "$@" 2>"$TMP/err.txt"; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
	local n=$(($1 * 5))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
