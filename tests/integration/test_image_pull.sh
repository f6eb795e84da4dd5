#!/bin/bash
# Images by reference: a local docker-registry with images built here
# (busybox rootfs -> umoci OCI layout -> skopeo push), pulled into the
# content-addressed store by tests/image/imgtool. Checks a multi-layer image
# with a whiteout, an image index, a private repository with basic auth, a
# digest-pinned reference, a tampered blob, a registry that is down, two
# concurrent pulls of one image (one download), kill -9 during a pull, the
# registry policy, and GC after release.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build imgtool
TOOL=$IMGTOOL
need_root "root needed (layer owners, whiteout devices, trusted.* xattrs)"
TMP=$(mktemp -d /tmp/test_image_pull.XXXXXX)
T=$TMP
# shellcheck source=tests/integration/registry.sh
. "$(dirname "$0")/registry.sh"
reg_have_tools >"$TMP/tools.txt" || { echo "skipped: $(cat "$TMP/tools.txt")"; rm -rf "$TMP"; exit 77; }
PIDS=()
MNT=""
cleanup() {
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	stop_all
}
trap cleanup EXIT
start=$(date +%s)

# ---- images ----
add_files() {
	echo hello >"$1/etc/hello"
	echo doomed >"$1/etc/gone"
	mkdir -p "$1/opt/d" && echo a >"$1/opt/d/a"
}
del_file() { rm "$1/etc/gone"; }
other_file() { echo other >"$1/etc/other"; }
tamper_file() { head -c 65536 /dev/urandom >"$1/etc/noise"; }
big_file() { head -c $((32 << 20)) /dev/urandom >"$1/big"; }
L=$TMP/oci
oci_base "$L" multi && oci_layer "$L" multi add_files && oci_layer "$L" multi del_file ||
	fail "building the multi-layer image"
oci_base "$L" other && oci_layer "$L" other other_file || fail "building the second image"
oci_base "$L" tamper && oci_layer "$L" tamper tamper_file || fail "building the tamper image"
oci_base "$L" big && oci_layer "$L" big big_file || fail "building the big image"
echo "ok: images built ($(($(date +%s) - start)) s)"

htpasswd -Bbc "$TMP/htpasswd" alice 's3cret-Pw' 2>/dev/null || fail "htpasswd"
reg_start pub || fail "public registry"
PIDS+=("$pub_pid")
reg_start priv "$TMP/htpasswd" || fail "private registry"
PIDS+=("$priv_pid")
PUB=127.0.0.1:$pub_port
PRIV=127.0.0.1:$priv_port
for i in multi other tamper big; do
	reg_push "$L:$i" "$PUB/test/$i:v1" || fail "push $i"
done
# An index refers to manifests of its own repository.
reg_push "$L:other" "$PUB/test/multi:arm" || fail "push other into test/multi"
reg_push "$L:multi" "$PRIV/private/app:v1" 'alice:s3cret-Pw' || fail "push to the private registry"
echo "ok: registries on $PUB and $PRIV"

img() { "$TOOL" --insecure "$PUB,$PRIV" --retries 3 "$@" 2>"$TMP/err.txt"; }
field() { awk -v k="$1" '$1 == k {print $2}'; }

# ---- multi-layer image with a whiteout ----
out=$(img --dir "$TMP/s1" --progress pull "$PUB/test/multi:v1") || fail "pull multi"
D1=$(field digest <<<"$out")
size=$(field size <<<"$out")
last=$(grep '^progress ' "$TMP/err.txt" | tail -n 1)
[ "$last" = "progress $size/$size" ] || fail "progress did not end at $size/$size: $last"
mapfile -t LAYERS < <(field layer <<<"$out")
[ "${#LAYERS[@]}" -eq 3 ] || fail "expected 3 layers, got ${#LAYERS[@]}"
top=${LAYERS[2]}
[ -c "$top/etc/gone" ] && [ "$(stat -c %t:%T "$top/etc/gone")" = 0:0 ] ||
	fail "the deleted file is not a 0/0 whiteout in the top layer"
grep -q '^entrypoint /bin/sh$' <<<"$out" && grep -q '^env ZOS_IMAGE=test$' <<<"$out" ||
	fail "image config not returned: $out"
MNT=$TMP/mnt
mkdir -p "$MNT" "$TMP/ovl"
if mount -t overlay overlay -o "lowerdir=${LAYERS[2]}:${LAYERS[1]}:${LAYERS[0]}" "$MNT" 2>/dev/null; then
	[ -e "$MNT/etc/gone" ] && fail "whiteout not honoured: /etc/gone visible in the union"
	[ "$(cat "$MNT/etc/hello")" = hello ] || fail "/etc/hello missing in the union"
	[ -x "$MNT/bin/busybox" ] || fail "/bin/busybox missing in the union"
	umount "$MNT"
	echo "ok: multi-layer image, whiteout hides /etc/gone in an overlay of the layers"
else
	echo "ok: multi-layer image, whiteout stored (overlay mount not possible here)"
fi
MNT=""

# ---- digest-pinned reference; stored image needs no network ----
before=$(grep -c 'GET /v2/' "$TMP/pub.log")
out=$(img --dir "$TMP/s1" pull "$PUB/test/multi@$D1") || fail "pull by digest"
[ "$(field digest <<<"$out")" = "$D1" ] || fail "digest pull gave another image"
after=$(grep -c 'GET /v2/' "$TMP/pub.log")
[ "$before" = "$after" ] || fail "a pinned image already in the store went to the registry"
out=$(img --dir "$TMP/s2" pull "$PUB/test/multi@$D1") || fail "fresh pull by digest"
[ "$(field digest <<<"$out")" = "$D1" ] || fail "fresh digest pull gave another image"
bad=sha256:$(printf '0%.0s' $(seq 1 64))
img --dir "$TMP/s2" pull "$PUB/test/multi@$bad" && fail "a digest the registry lacks was pulled"
grep -q 'not found' "$TMP/err.txt" || fail "unknown digest: unclear error"
echo "ok: digest-pinned reference (stored: no network; unknown digest: not found)"

# ---- image index: linux/amd64 and linux/arm64 ----
mdesc() { # REPO: mediaType digest size of its v1 manifest
	curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$PUB/v2/test/$1/manifests/v1" | tr -d '\r' |
		awk 'tolower($1)=="docker-content-digest:"{d=$2} tolower($1)=="content-length:"{s=$2} END{print d, s}'
}
read -r dm sm < <(mdesc multi)
read -r do so < <(mdesc other)
[ "$dm" = "$D1" ] || fail "registry digest of multi ($dm) differs from the pulled one"
python3 - "$dm" "$sm" "$do" "$so" >"$TMP/index.json" <<'PY'
import json, sys
m = "application/vnd.oci.image.manifest.v1+json"
print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": m, "digest": sys.argv[3], "size": int(sys.argv[4]),
     "platform": {"architecture": "arm64", "os": "linux"}},
    {"mediaType": m, "digest": sys.argv[1], "size": int(sys.argv[2]),
     "platform": {"architecture": "amd64", "os": "linux"}}]}))
PY
code=$(curl -s -o "$TMP/put.out" -w '%{http_code}' -X PUT \
	-H 'Content-Type: application/vnd.oci.image.index.v1+json' \
	--data-binary @"$TMP/index.json" "http://$PUB/v2/test/multi/manifests/idx")
[ "$code" = 201 ] || fail "pushing the index: HTTP $code $(cat "$TMP/put.out")"
out=$(img --dir "$TMP/s3" --arch amd64 pull "$PUB/test/multi:idx") || fail "pull index amd64"
[ "$(field digest <<<"$out")" = "$dm" ] || fail "index amd64 resolved to the wrong manifest"
out=$(img --dir "$TMP/s3" --arch arm64 pull "$PUB/test/multi:idx") || fail "pull index arm64"
[ "$(field digest <<<"$out")" = "$do" ] || fail "index arm64 resolved to the wrong manifest"
img --dir "$TMP/s3" --arch s390x pull "$PUB/test/multi:idx" && fail "index without s390x pulled"
grep -q 'no image for linux/s390x' "$TMP/err.txt" || fail "index without the platform: unclear error"
echo "ok: image index resolved to linux/<arch>"

# ---- private repository with basic auth ----
img --dir "$TMP/s4" pull "$PRIV/private/app:v1" && fail "private pull without credentials"
grep -q 'credentials file' "$TMP/err.txt" || fail "no-credentials error does not say what to do"
printf '# test\n%s basic alice s3cret-Pw\n' "$PRIV" >"$TMP/creds"
chmod 0644 "$TMP/creds"
img --dir "$TMP/s4" --creds "$TMP/creds" pull "$PRIV/private/app:v1" && fail "world-readable credentials used"
chmod 0600 "$TMP/creds"
out=$(img --dir "$TMP/s4" --creds "$TMP/creds" pull "$PRIV/private/app:v1") || fail "private pull with credentials"
[ "$(field digest <<<"$out")" = "$D1" ] || fail "private image differs"
printf '%s basic alice wrong\n' "$PRIV" >"$TMP/creds.bad"
chmod 0600 "$TMP/creds.bad"
img --dir "$TMP/s5" --creds "$TMP/creds.bad" pull "$PRIV/private/app:v1" && fail "wrong password accepted"
grep -q 'refused' "$TMP/err.txt" || fail "wrong password: unclear error"
grep -rq 's3cret-Pw' "$TMP/err.txt" "$TMP/priv.log" && fail "the password appears in a log"
echo "ok: private repository with basic auth (refused without, refused wrong, never logged)"

# ---- Bearer token auth (a token service in front of the registry) ----
tport=$(free_port)
python3 "$(dirname "$0")/token_proxy.py" "$tport" "$pub_port" bob 'tok-Pw-9' 'static-Tok-7' \
	2>"$TMP/token.log" &
PIDS+=("$!")
TOK=127.0.0.1:$tport
wait_for 5 curl -s -o /dev/null "http://$TOK/v2/"
timg() { "$TOOL" --insecure "$TOK" --retries 3 "$@" 2>"$TMP/err.txt"; }
timg --dir "$TMP/t1" pull "$TOK/test/multi:v1" && fail "token registry pulled without credentials"
printf '%s basic bob tok-Pw-9\n' "$TOK" >"$TMP/tcreds"
chmod 0600 "$TMP/tcreds"
out=$(timg --dir "$TMP/t1" --creds "$TMP/tcreds" pull "$TOK/test/multi:v1") ||
	fail "pull with a token from the token service"
[ "$(field digest <<<"$out")" = "$D1" ] || fail "token pull gave another image"
grep -q '^GET /token' "$TMP/token.log" || fail "the token service was not asked"
printf '%s token static-Tok-7\n' "$TOK" >"$TMP/tcreds2"
chmod 0600 "$TMP/tcreds2"
out=$(timg --dir "$TMP/t2" --creds "$TMP/tcreds2" pull "$TOK/test/multi:v1") ||
	fail "pull with a configured token"
grep -rq -e 'tok-Pw-9' -e 'static-Tok-7' "$TMP/err.txt" && fail "a credential appears in the output"
echo "ok: Bearer token auth (token service with basic login, configured token)"

# ---- tampered blob ----
out=$(img --dir "$TMP/s6" resolve "$PUB/test/tamper:v1") || fail "resolve tamper"
tman=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$PUB/v2/test/tamper/manifests/v1")
tl=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["layers"][-1]["digest"])' "$tman")
h=${tl#sha256:}
blob=$TMP/pub.data/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data
[ -f "$blob" ] || fail "cannot find the tamper layer blob in the registry storage"
python3 - "$blob" <<'PY'
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(200)
    b = f.read(1)
    f.seek(200)
    f.write(bytes([b[0] ^ 0xff]))
PY
img --dir "$TMP/s6" pull "$PUB/test/tamper:v1" && fail "a tampered blob was accepted"
grep -q 'digest mismatch' "$TMP/err.txt" || fail "tampered blob: no digest error"
[ -e "$TMP/s6/layers/sha256/$h" ] && fail "the tampered layer was unpacked"
[ -z "$(ls -A "$TMP/s6/tmp")" ] || fail "the tampered download was left in tmp/"
echo "ok: tampered blob refused with a digest error, nothing unpacked"

# ---- registry down ----
down=$(free_port)
t0=$(date +%s)
img --dir "$TMP/s7" --insecure "127.0.0.1:$down" pull "127.0.0.1:$down/test/multi:v1" &&
	fail "pulled from a registry that is down"
grep -q 'unreachable' "$TMP/err.txt" || fail "registry down: unclear error"
[ $(($(date +%s) - t0)) -lt 20 ] || fail "registry down: retries not bounded"
echo "ok: registry down: retried, then a clear error in $(($(date +%s) - t0)) s"

# ---- two concurrent pulls of one image: one download ----
man=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$PUB/v2/test/other/manifests/v1")
mapfile -t OL < <(python3 -c 'import json,sys; [print(l["digest"]) for l in json.loads(sys.argv[1])["layers"]]' "$man")
m0=$(grep -c "GET /v2/test/other/manifests/v1" "$TMP/pub.log")
out=$(img --dir "$TMP/s8" pull2 "$PUB/test/other:v1") || fail "concurrent pulls"
[ "$(grep -c "^pull[01] $do\$" <<<"$out")" = 2 ] || fail "concurrent pulls: $out"
for l in "${OL[@]}"; do
	n=$(grep -c "GET /v2/test/other/blobs/$l" "$TMP/pub.log")
	[ "$n" = 1 ] || fail "layer $l downloaded $n times for two concurrent pulls"
done
# The waiting pull asked nothing itself: one manifest request in all.
n=$(($(grep -c "GET /v2/test/other/manifests/v1" "$TMP/pub.log") - m0))
[ "$n" = 1 ] || fail "two concurrent pulls asked for the manifest $n times (no single flight)"
echo "ok: two concurrent pulls of one image: one manifest request, each layer downloaded once"

# ---- size cap ----
img --dir "$TMP/s11" --max 100000 pull "$PUB/test/multi:v1" && fail "an image over the store's cap was pulled"
grep -q 'over this node.s limit\|store is full' "$TMP/err.txt" || fail "size cap: unclear error"
echo "ok: an image larger than the store's cap is refused"

# ---- plain HTTP only when listed as insecure ----
"$TOOL" --dir "$TMP/s10" --retries 1 pull "$PUB/test/multi:v1" 2>"$TMP/err.txt" &&
	fail "a registry not listed as insecure was spoken to over plain HTTP"
grep -q 'insecure' "$TMP/err.txt" || fail "HTTPS failure does not mention [images] insecure"
[ -z "$(ls -A "$TMP/s10/layers/sha256")" ] || fail "something was stored from a refused registry"
echo "ok: plain HTTP only for registries listed as insecure"

# ---- registry policy ----
img --dir "$TMP/s1" --deny "$PUB" policy "$PUB/test/multi:v1" && fail "denied registry allowed"
grep -q 'denied' "$TMP/err.txt" || fail "deny: unclear error"
img --dir "$TMP/s1" --allow "registry.example.com" pull "$PUB/test/multi:v1" && fail "registry outside allow pulled"
img --dir "$TMP/s1" --allow "$PUB" policy "$PUB/test/multi:v1" || fail "allowed registry refused"
img --dir "$TMP/s1" policy "busybox:latest" && fail "short name accepted"
grep -q 'names no registry' "$TMP/err.txt" || fail "short name: unclear error"
echo "ok: registry policy (deny, allow, short names)"

# ---- kill -9 during a pull, then a restart ----
# Through a slow front (8 MB/s), so the kill lands while layers are in tmp/.
sport=$(free_port)
python3 "$(dirname "$0")/token_proxy.py" "$sport" "$pub_port" bob x 'slow-Tok' 8000000 \
	2>/dev/null &
PIDS+=("$!")
SLOW=127.0.0.1:$sport
wait_for 5 curl -s -o /dev/null "http://$SLOW/v2/"
printf '%s token slow-Tok\n' "$SLOW" >"$TMP/screds"
chmod 0600 "$TMP/screds"
"$TOOL" --dir "$TMP/s9" --insecure "$SLOW" --creds "$TMP/screds" --progress pull "$SLOW/test/big:v1" \
	>/dev/null 2>"$TMP/prog" &
pp=$!
wait_for 15 grep -qE '^progress [1-9][0-9]{6,}/' "$TMP/prog" 2>/dev/null
{
	kill -9 "$pp"
	wait "$pp"
} 2>/dev/null
left=$(find "$TMP/s9/tmp" -mindepth 1 -maxdepth 1 | wc -l)
[ "$left" -gt 0 ] || fail "kill -9 did not land during the pull (nothing in tmp/)"
img --dir "$TMP/s9" usage >/dev/null || fail "store does not open after kill -9"
[ -z "$(ls -A "$TMP/s9/tmp")" ] || fail "tmp/ leftovers survive the store scan"
img --dir "$TMP/s9" get "$SLOW/test/big:v1" && fail "an interrupted pull left an image that looks complete"
out=$(img --dir "$TMP/s9" pull "$PUB/test/big:v1") || fail "pull after kill -9"
mapfile -t BL < <(field layer <<<"$out")
[ "$(stat -c %s "${BL[1]}/big")" = $((32 << 20)) ] || fail "big layer incomplete after restart"
echo "ok: kill -9 during a pull ($left temporary objects), restart scan removes them, pull completes"

# ---- GC after release ----
img --dir "$TMP/s1" hold "$D1" "7/web" || fail "hold"
img --dir "$TMP/s1" gc >/dev/null || fail "gc"
for l in "${LAYERS[@]}"; do [ -d "$l" ] || fail "gc removed a held layer"; done
img --dir "$TMP/s1" release "7/web" || fail "release"
out=$(img --dir "$TMP/s1" gc) || fail "gc after release"
freed=$(field freed <<<"$out")
[ "$freed" -gt 0 ] || fail "gc after release freed nothing"
for l in "${LAYERS[@]}"; do [ -d "$l" ] && fail "gc kept an unheld layer"; done
img --dir "$TMP/s1" get "$PUB/test/multi:v1" && fail "image still listed after gc"
echo "ok: gc keeps held images and frees $freed bytes after release"
echo "test_image_pull: all checks passed in $(($(date +%s) - start)) s"
