#!/bin/bash
# Image pull speed and memory: a local docker-registry (127.0.0.1, free
# port) with images built here from busybox and random data (umoci, skopeo),
# then
#   1. pull of a multi-layer image (download, sha256 check, unpack) into a
#      fresh image store, against the floor `skopeo copy` of the same image
#      from the same registry into an OCI layout (download and check only);
#   2. the puller's peak RSS while pulling a ~200 MB image, above its idle
#      RSS (streamed to disk, never buffered: aim under 16 MiB).
# The puller is tests/image/imgtool, which runs the agent's image library.
#
#   BUILD=build bench/bench_image.sh [RUNS (3)] [BIG_MB (200)]
set -u
: "${BUILD:=build}"
RUNS=${1:-3}
BIG_MB=${2:-200}
TOOL=$BUILD/tests/image/imgtool
[ -x "$TOOL" ] || { echo "missing $TOOL (run make BUILD=$BUILD bench)"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "skipped: unpacking layers needs root"; exit 77; }
T=$(mktemp -d /tmp/bench-image.XXXXXX)
. "$(dirname "$0")/../tests/integration/registry.sh"
reg_have_tools || exit 77
REGPID=
trap '[ -n "$REGPID" ] && reg_stop "$REGPID"; rm -rf "$T"' EXIT

# Multi-layer image: busybox, then four layers of 16 MiB each: half random
# (incompressible), half text (compressible), many files in one of them.
rand_layer() { head -c $((8 << 20)) /dev/urandom >"$1/r$RANDOM"; seq 1 1200000 >"$1/t$RANDOM"; }
files_layer() {
	mkdir -p "$1/many"
	for i in $(seq 1 2000); do echo "file $i" >"$1/many/f$i"; done
}
big_layer() { head -c $((BIG_MB << 20)) /dev/urandom >"$1/big"; }
L=$T/oci
oci_base "$L" multi || exit 1
for i in 1 2 3; do oci_layer "$L" multi rand_layer || exit 1; done
oci_layer "$L" multi files_layer || exit 1
oci_base "$L" big && oci_layer "$L" big big_layer || exit 1
reg_start reg || exit 1
REGPID=$reg_pid
R=127.0.0.1:$reg_port
reg_push "$L:multi" "$R/bench/multi:v1" && reg_push "$L:big" "$R/bench/big:v1" || exit 1

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
size=$("$TOOL" --dir "$T/probe" --insecure "$R" resolve "$R/bench/multi:v1" | awk '$1=="size"{print $2}')
echo "multi-layer image: $size bytes compressed, $(("$(umoci stat --image "$L:multi" --json | python3 -c 'import json,sys; print(len([h for h in json.load(sys.stdin)["history"] if not h.get("empty_layer")]))')")) layers"
pulls=() skopeos=()
for r in $(seq 1 "$RUNS"); do
	rm -rf "$T/store" "$T/copy"
	sync
	t0=$(now)
	"$TOOL" --dir "$T/store" --insecure "$R" pull "$R/bench/multi:v1" >/dev/null 2>"$T/err" ||
		{ cat "$T/err"; exit 1; }
	t1=$(now)
	sync
	t2=$(now)
	skopeo copy -q --src-tls-verify=false "docker://$R/bench/multi:v1" "oci:$T/copy:multi" >/dev/null ||
		exit 1
	t3=$(now)
	p=$(secs "$t0" "$t1") s=$(secs "$t2" "$t3")
	pulls+=("$p") skopeos+=("$s")
	echo "run $r: pull ${p} s, skopeo copy ${s} s"
done
python3 - "$size" "${pulls[*]}" "${skopeos[*]}" <<'PY'
import sys, statistics as st
size = int(sys.argv[1]) / 1e6
p = [float(x) for x in sys.argv[2].split()]
s = [float(x) for x in sys.argv[3].split()]
mp, ms = st.median(p), st.median(s)
print("pull (median of %d): %.3f s = %.1f MB/s; floor skopeo copy: %.3f s = %.1f MB/s; "
      "speed ratio %.0f%% (aim >= 80%%)" % (len(p), mp, size / mp, ms, size / ms, 100 * ms / mp))
PY

# RSS while pulling the big image: sampled every 10 ms from /proc.
rm -rf "$T/store"
IMGTOOL_IDLE_MS=500 "$TOOL" --dir "$T/store" --insecure "$R" pull "$R/bench/big:v1" >/dev/null 2>"$T/err" &
pp=$!
sleep 0.3
idle=$(awk '/^VmRSS/{print $2}' "/proc/$pp/status")
peak=$idle
while kill -0 "$pp" 2>/dev/null; do
	v=$(awk '/^VmRSS/{print $2}' "/proc/$pp/status" 2>/dev/null)
	[ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
	sleep 0.01
done
wait "$pp" || { cat "$T/err"; exit 1; }
echo "RSS pulling a ${BIG_MB} MiB image: idle ${idle} KiB, peak ${peak} KiB, above idle $((peak - idle)) KiB (aim < 16384 KiB)"
