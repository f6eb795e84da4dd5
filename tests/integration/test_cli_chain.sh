#!/bin/bash
# zos-cli chain offline commands against public vectors: storage keys
# (Substrate's System.Account of //Alice sr25519, Timestamp.Now), the tfchain
# metadata fixture (indices, hashers, extensions), call encoding, and a
# signed extrinsic reproduced byte for byte from polkadot.js's test suite.
set -u
: "${BUILD:=build}"
CLI="$BUILD/zos-cli"
[ -x "$CLI" ] || { echo "missing $CLI (run make first)"; exit 1; }
META="${ZOS_FIXTURES_DIR:-tests/fixtures}/tfchain-metadata-v14-2023-04.scale"
[ -r "$META" ] || { echo "fixture $META not found (set ZOS_FIXTURES_DIR)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

ALICE_SR=0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d
out=$("$CLI" chain storage-key System Account $ALICE_SR --metadata-file "$META") || fail "storage-key System Account"
[ "$out" = 0x26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9de1e86a9a8c739864cf3cc5ec2bea59fd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d ] ||
	fail "System.Account key: $out"
out=$("$CLI" chain storage-key Timestamp Now) || fail "storage-key Timestamp Now"
[ "$out" = 0xf0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb ] || fail "Timestamp.Now: $out"
# Contracts(1u64): Blake2_128Concat over the SCALE u64.
out=$("$CLI" chain storage-key SmartContractModule Contracts 0x0100000000000000 --metadata-file "$META") ||
	fail "storage-key Contracts"
[ "${#out}" = $((2 + 2 * (32 + 16 + 8))) ] && [ "${out: -16}" = 0100000000000000 ] || fail "Contracts key: $out"
"$CLI" chain storage-key SmartContractModule Contracts 0x01000000 --metadata-file "$META" 2>/dev/null &&
	fail "a u32 key accepted for a u64 map"
"$CLI" chain storage-key System Nope 0x00 --metadata-file "$META" 2>/dev/null && fail "unknown item accepted"
"$CLI" chain storage-key System Account 0xzz --metadata-file "$META" 2>/dev/null && fail "bad hex accepted"
# An AccountId32 key as SS58 (starting with a digit), 0x-hex or a dev name.
ALICE_SS58=$("$CLI" key inspect --dev alice | sed -n 's/^ss58_address: //p')
ALICE_HEX=$("$CLI" key inspect --dev alice | sed -n 's/^account_id: //p')
want=$("$CLI" chain storage-key TfgridModule TwinIdByAccountID "$ALICE_HEX" --metadata-file "$META") ||
	fail "storage-key TwinIdByAccountID hex"
[ "${want: -64}" = "${ALICE_HEX#0x}" ] || fail "TwinIdByAccountID key: $want"
for k in "$ALICE_SS58" alice; do
	out=$("$CLI" chain storage-key TfgridModule TwinIdByAccountID "$k" --metadata-file "$META") ||
		fail "storage-key TwinIdByAccountID $k"
	[ "$out" = "$want" ] || fail "TwinIdByAccountID $k: $out"
done
"$CLI" chain storage-key TfgridModule TwinIdByAccountID 5notanaccount --metadata-file "$META" 2>/dev/null &&
	fail "a bad account key accepted"
echo "ok: storage keys"

json=$("$CLI" chain metadata --metadata-file "$META" --json) || fail "metadata --json"
python3 - "$json" <<'PY' || fail "metadata json"
import json, sys
d = json.loads(sys.argv[1])
p = {x["name"]: x for x in d["pallets"]}
assert p["TfgridModule"]["index"] == 11 and p["SmartContractModule"]["index"] == 12
calls = {c["name"]: c["index"] for c in p["SmartContractModule"]["calls"]}
assert calls["create_node_contract"] == 0 and calls["cancel_contract"] == 2, calls
assert {c["name"]: c["index"] for c in p["TfgridModule"]["calls"]}["create_twin"] == 17
st = {s["name"]: s["hashers"] for s in p["SmartContractModule"]["storage"]}
assert st["Contracts"] == ["Blake2_128Concat"] and st["ContractID"] == []
assert st["ContractIDByNodeIDAndHash"] == ["Blake2_128Concat", "Blake2_128Concat"]
ev = {e["name"]: e["index"] for e in p["SmartContractModule"]["events"]}
assert ev["ContractCreated"] == 0
assert d["signed_extensions"] == ["CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion",
    "CheckGenesis", "CheckMortality", "CheckNonce", "CheckWeight", "ChargeTransactionPayment"]
assert list(d["pallets"][0].keys()) == ["name", "index", "calls", "events", "storage"]
PY
echo "ok: metadata"

H=0x0102030405060708091011121314151617181920212223242526272829303132
out=$("$CLI" chain encode-call SmartContractModule create_node_contract "[1, \"$H\", \"0xabcd\", 0, null]" --metadata-file "$META") ||
	fail "encode-call"
[ "$out" = 0x0c0001000000${H#0x}08abcd0000000000 ] || fail "create_node_contract: $out"
out=$("$CLI" chain encode-call SmartContractModule create_node_contract "[1, \"$H\", \"0xabcd\", 0, \"7\"]" --metadata-file "$META") ||
	fail "encode-call with an option"
[ "$out" = 0x0c0001000000${H#0x}08abcd00000000010700000000000000 ] || fail "with solution provider: $out"
dec=$("$CLI" chain decode-call "$out" --metadata-file "$META") || fail "decode-call"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["call"]=="create_node_contract" and d["args"]["solution_provider_id"]==7, d' "$dec" ||
	fail "decode-call: $dec"
"$CLI" chain encode-call SmartContractModule cancel_contract '[-1]' --metadata-file "$META" 2>/dev/null && fail "negative u64 accepted"
"$CLI" chain encode-call SmartContractModule nope '[]' --metadata-file "$META" 2>/dev/null && fail "unknown call accepted"
"$CLI" chain encode-call SmartContractModule cancel_contract 'not json' --metadata-file "$META" 2>/dev/null && fail "bad json accepted"
echo "ok: encode-call, decode-call"

# polkadot.js types, extrinsic/v4/Extrinsic.spec.ts "creates a signed extrinsic":
# the ed25519 testing pair alice (seed "Alice" padded with spaces).
PJS_ALICE=0x416c696365$(printf '20%.0s' $(seq 27))
out=$("$CLI" chain sign --seed $PJS_ALICE \
	--call 0x060000d7568e5f0a7eda67a82691ff379ac4bba4f9c9b859fe779b5d46363b61ad2db9e56c \
	--nonce 1 --tip 2 --immortal --spec-version 123 --tx-version 123 \
	--genesis 0xdcd1346701ca8396496e52aa2785b1748deb6db09551b72159dcb3e08991025b \
	--block-hash 0xec7afaf1cca720ce88c1d1b689d81f0583cc15a97d621cf046dd9abf605ef22f --metadata-file "$META") ||
	fail "sign"
[ "$out" = 0x2d028400d172a74cda4c865912c32ba0a80a57ae69abae410e5ccb59dee84e2f4432db4f00ab31e8dbdbf37398f9a42cfe473e17f6e2e05d8d7a1612513fa73f5f6ad3bfdbadbabd920d033ad48999d9dc6a07e3e7ffb9a503128c94bf4fd97aeb4523f90e000408060000d7568e5f0a7eda67a82691ff379ac4bba4f9c9b859fe779b5d46363b61ad2db9e56c ] ||
	fail "polkadot.js signed extrinsic: $out"
# Mortal era: period 64 at block 1000 encodes as 0x8502 after the signature.
G=0x$(printf '11%.0s' $(seq 32)) B=0x$(printf '22%.0s' $(seq 32))
out=$("$CLI" chain sign --dev alice --call 0x0c020100000000000000 --nonce 3 --era-period 64 --era-current 1000 \
	--block-hash $B --spec-version 125 --tx-version 2 --genesis $G) || fail "sign mortal"
[ "${out:0:10}" = 0xc5018400 ] && [ "${out:10:64}" = 88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee ] ||
	fail "mortal header and signer: $out"
[ "${out:204}" = 85020c000c020100000000000000 ] || fail "mortal extras and call: $out"
"$CLI" chain sign --dev alice --call 0x0c02 --nonce 1 --era-period 64 --era-current 5 --spec-version 1 --tx-version 1 --genesis $G 2>/dev/null &&
	fail "mortal era without --block-hash accepted"
"$CLI" chain sign --dev alice --call 0x0c02 --nonce 1 --immortal --spec-version 1 --tx-version 1 --genesis 0x12 2>/dev/null &&
	fail "short genesis accepted"
echo "ok: sign"

# parity-scale-codec's compact table, both ways.
while read -r n hex; do
	out=$("$CLI" chain compact "$n") || fail "compact $n"
	[ "$out" = "$hex" ] || fail "compact $n: $out, want $hex"
	out=$("$CLI" chain compact --decode "$hex") || fail "compact --decode $hex"
	[ "$out" = "$n" ] || fail "compact --decode $hex: $out"
done <<'TABLE'
0 0x00
63 0xfc
64 0x0101
16383 0xfdff
16384 0x02000100
1073741823 0xfeffffff
1073741824 0x0300000040
4294967295 0x03ffffffff
4294967296 0x070000000001
1099511627776 0x0b000000000001
281474976710656 0x0f00000000000001
72057594037927935 0x0fffffffffffffff
72057594037927936 0x130000000000000001
18446744073709551615 0x13ffffffffffffffff
TABLE
"$CLI" chain compact --decode 0x0100 2>/dev/null && fail "non-minimal compact accepted"
"$CLI" chain compact --decode 0x03ffffff3f 2>/dev/null && fail "non-minimal big compact accepted"
echo "ok: compact"

# sp_runtime era.rs tests.
[ "$("$CLI" chain era --immortal)" = 0x00 ] || fail "immortal era"
[ "$("$CLI" chain era --period 64 --current 42)" = 0xa502 ] || fail "era 64/42"
[ "$("$CLI" chain era --period 32768 --current 20000)" = 0x4e9c ] || fail "era 32768/20000"
out=$("$CLI" chain era --decode 0x4e9c) || fail "era --decode"
[ "$out" = "$(printf 'period: 32768\nphase: 20000')" ] || fail "era --decode: $out"
"$CLI" chain era --decode 0x1000 2>/dev/null && fail "era with period 2 accepted"
echo "ok: era"

out=$("$CLI" chain decode-value System.Account 0x05$(printf '00%.0s' $(seq 79)) --metadata-file "$META") || fail "decode-value"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["nonce"]==5 and d["data"]["free"]==0, d' "$out" || fail "decode-value: $out"
[ "$("$CLI" chain encode-value SmartContractModule.ContractID '"5"' --metadata-file "$META")" = 0x0500000000000000 ] || fail "encode-value"
"$CLI" chain decode-value System.Account 0x00 --metadata-file "$META" 2>/dev/null && fail "short value accepted"
echo "ok: encode-value, decode-value"
