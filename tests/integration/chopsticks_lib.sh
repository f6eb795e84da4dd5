# shellcheck shell=bash
# Runs tfchain's real runtime (tests/fixtures/tfchain-spec144) under
# Chopsticks for the integration scripts. Sourced, not run (its name does not
# match test_*.sh). A script sets BUILD and TMP, sources lib.sh and this file,
# then calls
#	chop_install || exit 77     # npm ci of the pinned package, once per build dir
#	chop_start                   # sets CHOP_PORT, CHOP_URL, CHOP_PID
#	chop_ticker 2                # a block every 2 s, like a real chain
# and chop_stop from its EXIT trap.
#
# Chopsticks is pinned by tests/integration/chopsticks/package-lock.json
# (@acala-network/chopsticks 1.5.1, which runs on Node 20 although its
# package declares node >= 22). It serves JSON-RPC over HTTP POST and
# WebSocket on one port. It runs in Manual mode: only the ticker's
# dev_newBlock builds blocks, with what the pool holds, so the chain moves
# (and its timestamp) as a real one would. In Instant mode an extrinsic that
# arrived while the ticker's block was being built was sometimes accepted
# and then dropped (one agent update_node in four runs).

CHOP_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHOP_PID= CHOP_TICK_PID= CHOP_PORT= CHOP_URL=

# chop_install: installs the pinned Chopsticks into $CHOP_DIR (default
# $BUILD/chopsticks) unless it is there; prints why and fails when npm
# cannot (the caller skips).
chop_install() {
	: "${CHOP_DIR:=$BUILD/chopsticks}"
	command -v node >/dev/null || { echo "skipped: node is not installed"; return 1; }
	if [ ! -x "$CHOP_DIR/node_modules/.bin/chopsticks" ] ||
		! cmp -s "$CHOP_HERE/chopsticks/package-lock.json" "$CHOP_DIR/package-lock.json"; then
		command -v npm >/dev/null || { echo "skipped: npm is not installed"; return 1; }
		mkdir -p "$CHOP_DIR"
		cp "$CHOP_HERE/chopsticks/package.json" "$CHOP_HERE/chopsticks/package-lock.json" "$CHOP_DIR/"
		if ! (cd "$CHOP_DIR" && timeout 420 npm ci --no-audit --no-fund --loglevel=error \
			>npm.log 2>&1); then
			tail -n 5 "$CHOP_DIR/npm.log"
			rm -rf "$CHOP_DIR/node_modules"
			echo "skipped: could not install @acala-network/chopsticks from the npm registry"
			return 1
		fi
	fi
	return 0
}

# chop_rpc METHOD PARAMS-JSON: one JSON-RPC call; prints the response.
chop_rpc() {
	curl -s --max-time 30 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$CHOP_URL"
}

# chop_start: starts Chopsticks on 127.0.0.1 on a free port from the dev
# chain spec; waits (at most 90 s) until it answers.
chop_start() {
	CHOP_PORT=$(free_port)
	CHOP_URL="http://127.0.0.1:$CHOP_PORT"
	local spec
	spec=$(cd "$CHOP_HERE/../fixtures/tfchain-spec144" && pwd)/tfchain-spec144-dev.json
	cat >"$TMP/chopsticks.yml" <<EOC
genesis: $spec
port: $CHOP_PORT
host: 127.0.0.1
build-block-mode: Manual
offchain-worker: false
EOC
	# The package's engines field asks for Node 22; 1.5.1 runs on Node 20.
	node "$CHOP_DIR/node_modules/@acala-network/chopsticks/chopsticks.cjs" \
		--config "$TMP/chopsticks.yml" >"$TMP/chain.log" 2>&1 &
	CHOP_PID=$!
	for _ in $(seq 1 450); do
		if chop_rpc system_chain '[]' 2>/dev/null | grep -q result; then
			return 0
		fi
		kill -0 "$CHOP_PID" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL: Chopsticks did not start"
	tail -n 20 "$TMP/chain.log"
	return 1
}

# chop_ticker SECONDS: builds a block every SECONDS in the background.
chop_ticker() {
	local every=$1
	(
		trap 'exit 0' TERM
		while kill -0 "$CHOP_PID" 2>/dev/null; do
			sleep "$every"
			chop_rpc dev_newBlock '[]' >/dev/null 2>&1
		done
	) &
	CHOP_TICK_PID=$!
}

# chop_stop: stops the ticker and Chopsticks by pid.
chop_stop() {
	[ -n "$CHOP_TICK_PID" ] && { kill "$CHOP_TICK_PID" 2>/dev/null; wait "$CHOP_TICK_PID" 2>/dev/null; }
	CHOP_TICK_PID=
	[ -n "$CHOP_PID" ] && STOP_PID_TENTHS=50 stop_pid "$CHOP_PID"
	CHOP_PID=
}
