#!/bin/bash
# zos-cli key: dev accounts, generate/inspect round trip, seed file rules,
# JSON output and usage errors.
set -u
: "${BUILD:=build}"
CLI="$BUILD/zos-cli"
[ -x "$CLI" ] || { echo "missing $CLI (run make first)"; exit 1; }
T=$(mktemp -d /tmp/test_cli_key.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$CLI" key inspect --dev alice) || fail "inspect --dev alice"
grep -qx 'public_key: 0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee' <<<"$out" || fail "alice key: $out"
grep -qx 'ss58_address: 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu' <<<"$out" || fail "alice ss58: $out"
grep -q secret <<<"$out" && fail "inspect printed a secret without --show-secret"
out=$("$CLI" key inspect --dev //Bob --json) || fail "inspect --dev //Bob --json"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ss58_address"]=="5GoNkf6WdbxCFnPdAnYYQyCjAKPJgLNxXwPjwTh6DGg6gN3E", d' "$out" ||
	fail "bob json: $out"
out=$("$CLI" key inspect --seed 0xabf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115 | grep ss58_address)
[ "$out" = "ss58_address: 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu" ] || fail "inspect --seed: $out"
out=$("$CLI" key inspect --account 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu | grep account_id)
[ "$out" = "account_id: 0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee" ] || fail "inspect --account: $out"
echo "ok: dev accounts, --seed, --account, --json"

gen=$("$CLI" key generate --out "$T/k.seed") || fail "generate --out"
[ "$(stat -c %a "$T/k.seed")" = 600 ] || fail "generated seed file mode"
grep -q secret <<<"$gen" && fail "generate --out printed the secret"
insp=$("$CLI" key inspect --seed-file "$T/k.seed") || fail "inspect --seed-file"
[ "$gen" = "$insp" ] || fail "generate and inspect disagree"
"$CLI" key generate --out "$T/k.seed" 2>/dev/null && fail "generate overwrote a seed file"
gen=$("$CLI" key generate --json) || fail "generate --json"
seed=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret_seed"])' "$gen") || fail "generate json: $gen"
acct=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["account_id"])' "$gen")
out=$("$CLI" key inspect --seed "$seed" | grep account_id)
[ "$out" = "account_id: $acct" ] || fail "generated seed does not give its account"
echo "ok: generate and inspect agree"

chmod 640 "$T/k.seed"
err=$("$CLI" key inspect --seed-file "$T/k.seed" 2>&1) && fail "group-readable seed file used"
grep -q 'readable by group or others' <<<"$err" || fail "permission message: $err"
"$CLI" key inspect --dev mallory 2>/dev/null
[ $? -eq 1 ] || fail "unknown dev account"
"$CLI" key inspect --dev alice --seed-file "$T/k.seed" 2>/dev/null
[ $? -eq 2 ] || fail "two key sources accepted"
"$CLI" key frobnicate 2>/dev/null
[ $? -eq 2 ] || fail "unknown subcommand"
"$CLI" nosuch 2>/dev/null
[ $? -eq 2 ] || fail "unknown command"
"$CLI" --version | grep -q '^zos-cli ' || fail "--version"
echo "ok: refusals and usage errors"
