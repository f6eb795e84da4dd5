#!/bin/bash
# tfchain-dev against @polkadot/api (an independent client) when it is
# installed: PJS_DIR names a directory whose node_modules holds @polkadot/api,
# @polkadot/keyring and @polkadot/util-crypto (npm install them there).
set -u
: "${BUILD:=build}"
BIN="$BUILD/tfchain-dev"
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$BIN" ] || { echo "skipped: $BIN not built"; exit 77; }
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
# Without PJS_DIR the pinned client (tests/integration/pjs/package-lock.json)
# is installed once into the build directory.
if [ -z "${PJS_DIR:-}" ]; then
	PJS_DIR="$BUILD/pjs"
	if [ ! -d "$PJS_DIR/node_modules/@polkadot/api" ]; then
		command -v npm >/dev/null || { echo "skipped: npm not installed"; exit 77; }
		mkdir -p "$PJS_DIR"
		cp "$HERE/pjs/package.json" "$HERE/pjs/package-lock.json" "$PJS_DIR/"
		if ! (cd "$PJS_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1); then
			tail -n 5 "$PJS_DIR/npm.log"
			rm -rf "$PJS_DIR/node_modules"
			echo "skipped: could not install @polkadot/api from the npm registry"
			exit 77
		fi
	fi
fi
[ -d "$PJS_DIR/node_modules/@polkadot/api" ] ||
	{ echo "skipped: $PJS_DIR has no @polkadot/api installed"; exit 77; }

DIR=$(mktemp -d /tmp/devchain-pjs.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
"$BIN" --dev --rpc-addr 127.0.0.1:0 --block-time 150 2>"$DIR/log" &
PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*rpc listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$DIR/log")
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || { echo "FAIL: no rpc port"; exit 1; }
# The script must resolve @polkadot/* from PJS_DIR: run a copy there.
cp "$HERE/devchain_polkadotjs.mjs" "$PJS_DIR/.devchain_polkadotjs_$$.mjs"
timeout 120 node "$PJS_DIR/.devchain_polkadotjs_$$.mjs" "$PORT" 2>"$DIR/node.err"
rc=$?
rm -f "$PJS_DIR/.devchain_polkadotjs_$$.mjs"
[ $rc -eq 0 ] || { grep -v "multiple versions\|conflicting\|esm \|Either remove" "$DIR/node.err" | tail -n 20; exit 1; }
