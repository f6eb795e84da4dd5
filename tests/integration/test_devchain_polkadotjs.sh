#!/bin/bash
# tfchain-dev against @polkadot/api (an independent client) when it is
# installed: PJS_DIR names a directory whose node_modules holds @polkadot/api,
# @polkadot/keyring and @polkadot/util-crypto (npm install them there).
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build chain cli
HERE=$(cd "$(dirname "$0")" && pwd)
# Without PJS_DIR the pinned client (tests/integration/pjs/package-lock.json)
# is installed once into the build directory.
need_pjs @polkadot/api

TMP=$(mktemp -d /tmp/devchain-pjs.XXXXXX)
CPID=
trap stop_all EXIT
BLOCK_MS=150 start_chain
# The script must resolve @polkadot/* from PJS_DIR: run a copy there.
cp "$HERE/devchain_polkadotjs.mjs" "$PJS_DIR/.devchain_polkadotjs_$$.mjs"
timeout 120 node "$PJS_DIR/.devchain_polkadotjs_$$.mjs" "$CPORT" 2>"$TMP/node.err"
rc=$?
rm -f "$PJS_DIR/.devchain_polkadotjs_$$.mjs"
[ $rc -eq 0 ] || { grep -v "multiple versions\|conflicting\|esm \|Either remove" "$TMP/node.err" | tail -n 20; exit 1; }
