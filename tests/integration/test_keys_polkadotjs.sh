#!/bin/bash
# zos-cli's keys against polkadot.js, both ways: random phrases, derivation
# paths and passwords give the same addresses for ed25519 and sr25519;
# polkadot.js's signatures verify with `zos-cli key verify` (and a flipped
# bit does not); zos-cli's signatures verify in polkadot.js. The pinned
# client (tests/integration/pjs) is installed as test_devchain_polkadotjs.sh
# installs it (PJS_DIR overrides).
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build cli
HERE=$(cd "$(dirname "$0")" && pwd)
need_pjs @polkadot/util-crypto

T=$(mktemp -d /tmp/test_keys_pjs.XXXXXX)
SCRIPT="$PJS_DIR/.keys_polkadotjs_$$.mjs"
trap 'rm -rf "$T" "$SCRIPT"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# The script must resolve @polkadot/* from PJS_DIR: run a copy there.
cp "$HERE/keys_polkadotjs.mjs" "$SCRIPT"
pjs() { timeout 120 node "$SCRIPT" "$@" 2>"$T/node.err"; }

pjs cases "${KEYS_PJS_CASES:-8}" >"$T/cases" || { tail -n 5 "$T/node.err"; fail "polkadot.js cases"; }
nkeys=0 nsigs=0
: >"$T/ours"
while IFS=$'\t' read -r kind scheme a b c; do
	case $kind in
	key)
		got=$("$CLI" key inspect --suri "$a" --scheme "$scheme" | sed -n 's/^ss58_address: //p')
		[ "$got" = "$b" ] || fail "$scheme '$a': zos-cli says '$got', polkadot.js '$b'"
		nkeys=$((nkeys + 1)) ;;
	pjssig)
		"$CLI" key verify --scheme "$scheme" --account "$a" --message "$b" --hex \
			--signature "$c" >/dev/null || fail "polkadot.js $scheme signature refused: $a $b $c"
		# One flipped bit in R, one in s: both refused with exit 1.
		for pos in 5 100; do
			d=${c:pos:1}
			f=$(printf '%x' $((0x$d ^ 1)))
			bad="${c:0:pos}$f${c:pos+1}"
			"$CLI" key verify --scheme "$scheme" --account "$a" --message "$b" --hex \
				--signature "$bad" >/dev/null 2>&1
			[ $? -eq 1 ] || fail "flipped bit at $pos accepted: $bad"
		done
		# The wrong scheme is refused too.
		other=ed25519; [ "$scheme" = ed25519 ] && other=sr25519
		"$CLI" key verify --scheme "$other" --account "$a" --message "$b" --hex \
			--signature "$c" >/dev/null 2>&1 && fail "$scheme signature verified as $other"
		nsigs=$((nsigs + 1)) ;;
	sign)
		sig=$("$CLI" key sign --suri "$a" --scheme "$scheme" --message "$c" --hex) ||
			fail "zos-cli key sign $scheme '$a'"
		printf '%s\t%s\t%s\t%s\n' "$scheme" "$b" "$c" "$sig" >>"$T/ours" ;;
	esac
done <"$T/cases"
[ "$nkeys" -gt 0 ] && [ "$nsigs" -gt 0 ] || fail "no cases ran"
echo "ok: $nkeys secret URIs give polkadot.js's addresses"
echo "ok: $nsigs polkadot.js signatures verify in zos-cli, flipped bits and wrong schemes do not"
pjs verify <"$T/ours" || { cat "$T/node.err"; fail "polkadot.js refused zos-cli signatures"; }
echo "ok: zos-cli's signatures verify in polkadot.js"
