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

# Secret URIs and phrases, both schemes (Substrate's well-known dev accounts).
DEV="bottom drive obey lake curtain smoke basket hold race lonely fit walk"
out=$("$CLI" key inspect --suri "//Alice" --scheme sr25519) || fail "inspect --suri //Alice sr25519"
grep -qx 'scheme: sr25519' <<<"$out" || fail "scheme line: $out"
grep -qx 'ss58_address: 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY' <<<"$out" || fail "sr25519 alice: $out"
grep -q x25519 <<<"$out" && fail "sr25519 key printed an x25519 conversion"
out=$("$CLI" key inspect --suri "$DEV//Alice//stash" --scheme sr25519 | grep ss58_address)
[ "$out" = "ss58_address: 5GNJqTPyNqANBkUVMN1LPPrxXnFouWXoe2wNSmmEoLctxiZY" ] || fail "alice stash: $out"
out=$("$CLI" key inspect --dev bob --scheme sr25519 | grep ss58_address)
[ "$out" = "ss58_address: 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty" ] || fail "sr25519 bob: $out"
out=$("$CLI" key inspect --suri "//Alice" | grep ^public_key)
[ "$out" = "public_key: 0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee" ] || fail "ed25519 suri: $out"
printf '%s//Alice\n' "$DEV" >"$T/m.txt"
chmod 600 "$T/m.txt"
out=$("$CLI" key inspect --mnemonic-file "$T/m.txt" --scheme sr25519 | grep ss58_address)
[ "$out" = "ss58_address: 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" ] || fail "--mnemonic-file: $out"
err=$("$CLI" key inspect --suri "//Alice/soft" 2>&1)
[ $? -eq 1 ] || fail "ed25519 soft junction accepted"
grep -q 'soft junction' <<<"$err" || fail "soft junction message: $err"
err=$("$CLI" key inspect --suri "bottom drive obey" --scheme sr25519 2>&1)
[ $? -eq 1 ] || fail "short phrase accepted"
grep -q 'BIP-0039' <<<"$err" || fail "bad phrase message: $err"
"$CLI" key inspect --suri //Alice --scheme rsa 2>/dev/null
[ $? -eq 2 ] || fail "unknown scheme accepted"
# $ZOS_KEY_SCHEME sets the default; --scheme wins over it.
out=$(ZOS_KEY_SCHEME=sr25519 "$CLI" key inspect --suri "//Alice" | grep ss58_address)
[ "$out" = "ss58_address: 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" ] || fail "ZOS_KEY_SCHEME: $out"
out=$(ZOS_KEY_SCHEME=sr25519 "$CLI" key inspect --suri "//Alice" --scheme ed25519 | grep ss58_address)
[ "$out" = "ss58_address: 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu" ] || fail "--scheme over ZOS_KEY_SCHEME: $out"
# An sr25519 address inspects (no scheme given: none printed).
out=$("$CLI" key inspect --account 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY | grep account_id)
[ "$out" = "account_id: 0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d" ] || fail "sr25519 --account: $out"
# A public URI: soft junctions follow from an sr25519 address alone.
out=$("$CLI" key inspect --account 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY/soft/1 --scheme sr25519 |
	grep ss58_address)
want=$("$CLI" key inspect --suri "//Alice/soft/1" --scheme sr25519 | grep ss58_address)
[ "$out" = "$want" ] || fail "public soft derivation: $out, want $want"
"$CLI" key inspect --account 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY//x --scheme sr25519 2>/dev/null
[ $? -eq 1 ] || fail "hard junction from a public key accepted"
echo "ok: secret URIs, dev accounts and phrase files of both schemes"

for scheme in sr25519 ed25519; do
	gen=$("$CLI" key generate --scheme "$scheme" --words 24 --out "$T/$scheme.phrase") || fail "generate $scheme"
	[ "$(stat -c %a "$T/$scheme.phrase")" = 600 ] || fail "phrase file mode"
	[ "$(wc -w <"$T/$scheme.phrase")" = 24 ] || fail "phrase has not 24 words"
	insp=$("$CLI" key inspect --mnemonic-file "$T/$scheme.phrase" --scheme "$scheme") || fail "inspect phrase"
	[ "$gen" = "$insp" ] || fail "$scheme generate and inspect disagree"
	addr=$(sed -n 's/^ss58_address: //p' <<<"$gen")
	sig=$("$CLI" key sign --mnemonic-file "$T/$scheme.phrase" --scheme "$scheme" --message "hello grid") ||
		fail "sign $scheme"
	"$CLI" key verify --scheme "$scheme" --account "$addr" --message "hello grid" --signature "$sig" >/dev/null ||
		fail "verify $scheme"
	"$CLI" key verify --scheme "$scheme" --account "$addr" --message "hello grid!" --signature "$sig" 2>/dev/null
	[ $? -eq 1 ] || fail "verify accepted another message"
done
# A password changes the account; the file holds only the phrase.
gen=$("$CLI" key generate --scheme sr25519 --password pw --out "$T/pw.phrase") || fail "generate --password"
insp=$("$CLI" key inspect --mnemonic-file "$T/pw.phrase" --scheme sr25519 --password pw)
[ "$gen" = "$insp" ] || fail "generate --password and inspect --password disagree"
insp=$("$CLI" key inspect --mnemonic-file "$T/pw.phrase" --scheme sr25519)
[ "$gen" != "$insp" ] || fail "the password did not change the account"
gen=$("$CLI" key generate --scheme sr25519 --json) || fail "generate sr25519 --json"
phrase=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret_phrase"])' "$gen")
acct=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["account_id"])' "$gen")
out=$("$CLI" key inspect --suri "$phrase" --scheme sr25519 | grep account_id)
[ "$out" = "account_id: $acct" ] || fail "generated phrase does not give its account"
echo "ok: generate, sign and verify for both schemes"

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
