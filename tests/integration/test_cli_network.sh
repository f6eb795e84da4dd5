#!/bin/bash
# zos-cli network wg-key / wg-config: the user's WireGuard key pair (the same
# keys as wg(8) computes), a wg-quick file that wg-quick accepts, built from a
# deployment document and a saved `deployment get` reply; refusals.
set -u
: "${BUILD:=build}"
CLI="$BUILD/zos-cli"
[ -x "$CLI" ] || { echo "missing $CLI (run make first)"; exit 1; }
T=$(mktemp -d /tmp/test_cli_network.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; [ -s "$T/err" ] && cat "$T/err"; exit 1; }

out=$("$CLI" network wg-key --out "$T/me.key") || fail "wg-key"
[ "$(stat -c %a "$T/me.key")" = 600 ] || fail "key file mode"
pub=${out#public_key: }
grep -q "$(cat "$T/me.key")" <<<"$out" && fail "wg-key printed the private key"
if command -v wg >/dev/null; then
	[ "$(wg pubkey <"$T/me.key")" = "$pub" ] || fail "public key differs from wg pubkey"
fi
"$CLI" network wg-key --out "$T/me.key" 2>"$T/err" && fail "wg-key overwrote a key"
grep -q "never overwritten" "$T/err" || fail "overwrite refusal names the cause"
echo "ok: wg-key"

node_pub=$("$CLI" network wg-key --out "$T/node.key" | sed 's/^public_key: //')
cat >"$T/doc.json" <<JSON
{"version": 0, "twin_id": 7, "workloads": [
 {"version": 0, "name": "net", "type": "network", "data": {
  "ip_range": "10.20.0.0/16", "subnet": "10.20.1.0/24",
  "wireguard_private_key": "$(cat "$T/node.key")", "wireguard_listen_port": 51820,
  "peers": [{"subnet": "10.20.2.0/24", "wireguard_public_key": "$pub",
             "allowed_ips": ["10.20.2.0/24", "100.64.20.2/32"]}]}}]}
JSON
cat >"$T/get.json" <<JSON
{"contract_id": 5, "state": "deployed", "workloads": [
 {"name": "net", "type": "network", "state": "ok", "result": {
  "network_id": "zos-5-net", "subnet": "10.20.1.0/24", "gateway": "10.20.1.1",
  "wireguard": {"interface": "zw0", "public_key": "$node_pub", "listen_port": 51820,
                "ip": "100.64.20.1", "implementation": "userspace"}}}]}
JSON
"$CLI" network wg-config --key "$T/me.key" --deployment "$T/doc.json" --get "$T/get.json" \
	--network net 2>"$T/err" && fail "wg-config without an endpoint"
grep -q -- "--endpoint NODE_IP:51820" "$T/err" || fail "missing endpoint names the fix"
"$CLI" network wg-config --key "$T/me.key" --deployment "$T/doc.json" --get - \
	--network net --endpoint 203.0.113.7:51820 <"$T/get.json" >"$T/zacc0.conf" 2>"$T/err" ||
	fail "wg-config"
grep -qx "PrivateKey = $(cat "$T/me.key")" "$T/zacc0.conf" || fail "private key line"
grep -qx "Address = 10.20.2.1/24, 100.64.20.2/32" "$T/zacc0.conf" || fail "address line"
grep -qx "PublicKey = $node_pub" "$T/zacc0.conf" || fail "node key line"
grep -qx "Endpoint = 203.0.113.7:51820" "$T/zacc0.conf" || fail "endpoint line"
grep -qx "AllowedIPs = 10.20.1.0/24, 100.64.0.0/16" "$T/zacc0.conf" || fail "allowed ips line"
if command -v wg-quick >/dev/null; then
	chmod 600 "$T/zacc0.conf"
	wg-quick strip "$T/zacc0.conf" >"$T/stripped" 2>"$T/err" || fail "wg-quick rejects the file"
	grep -q "^Endpoint = 203.0.113.7:51820" "$T/stripped" || fail "wg-quick strip output"
fi
# An announced endpoint is used as it is.
sed 's/"implementation"/"endpoint": "198.51.100.1:51820", "implementation"/' "$T/get.json" >"$T/get2.json"
"$CLI" network wg-config --key "$T/me.key" --deployment "$T/doc.json" --get "$T/get2.json" \
	--network net | grep -qx "Endpoint = 198.51.100.1:51820" || fail "announced endpoint"
echo "ok: wg-config"

# Refusals: another key, a missing network, a readable key file.
"$CLI" network wg-config --key "$T/node.key" --deployment "$T/doc.json" --get "$T/get.json" \
	--network net --endpoint 1.2.3.4:1 2>"$T/err" && fail "config for a key that is no peer"
grep -q "has no peer with this key" "$T/err" || fail "no-peer reason"
"$CLI" network wg-config --key "$T/me.key" --deployment "$T/doc.json" --get "$T/get.json" \
	--network other --endpoint 1.2.3.4:1 2>"$T/err" && fail "unknown network"
grep -q "no network workload named 'other'" "$T/err" || fail "unknown network reason"
chmod 644 "$T/me.key"
"$CLI" network wg-config --key "$T/me.key" --deployment "$T/doc.json" --get "$T/get.json" \
	--network net --endpoint 1.2.3.4:1 2>"$T/err" && fail "world-readable key accepted"
grep -q "chmod 600" "$T/err" || fail "readable key reason"
"$CLI" network 2>/dev/null; [ $? = 2 ] || fail "usage exit code"
echo "ok: refusals"
