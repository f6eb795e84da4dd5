#!/bin/bash
# Image pull speed and memory: a local docker-registry (127.0.0.1, free
# port) with images built here from busybox and random data (umoci, skopeo),
# then
#   1. pull of a multi-layer image (download, sha256 check, unpack) into a
#      fresh image store, against the floor `skopeo copy` of the same image
#      from the same registry into an OCI layout (download and check only);
#      For an image of 2000 small files the floor is also the time to create
#      them (the registry copy writes one blob, the pull 2000 files);
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
trap '[ -n "$REGPID" ] && stop_pid "$REGPID"; rm -rf "$T"' EXIT

# Multi-layer image: busybox, then three layers of 16 MiB each: half random
# (incompressible), half text (compressible). Small-file image: busybox and a
# layer of 2000 small files (file creation dominates its unpacking).
rand_layer() { head -c $((8 << 20)) /dev/urandom >"$1/r$RANDOM"; seq 1 1200000 >"$1/t$RANDOM"; }
files_layer() {
	mkdir -p "$1/many"
	for i in $(seq 1 2000); do echo "file $i" >"$1/many/f$i"; done
}
big_layer() { head -c $((BIG_MB << 20)) /dev/urandom >"$1/big"; }
L=$T/oci
oci_base "$L" multi || exit 1
for i in 1 2 3; do oci_layer "$L" multi rand_layer || exit 1; done
oci_base "$L" files && oci_layer "$L" files files_layer || exit 1
oci_base "$L" big && oci_layer "$L" big big_layer || exit 1
reg_start reg || exit 1
REGPID=$reg_pid
R=127.0.0.1:$reg_port
for i in multi files big; do reg_push "$L:$i" "$R/bench/$i:v1" || exit 1; done

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
compare() { # IMAGE: RUNS pulls into a fresh store vs skopeo copy, alternating
	local img=$1 size p s r t0 t1 t2 t3 pulls=() skopeos=()
	size=$("$TOOL" --dir "$T/probe" --insecure "$R" resolve "$R/bench/$img:v1" | awk '$1=="size"{print $2}')
	for r in $(seq 1 "$RUNS"); do
		rm -rf "$T/store" "$T/copy"
		sync
		t0=$(now)
		"$TOOL" --dir "$T/store" --insecure "$R" pull "$R/bench/$img:v1" >/dev/null 2>"$T/err" ||
			{ cat "$T/err"; exit 1; }
		t1=$(now)
		sync
		t2=$(now)
		skopeo copy -q --src-tls-verify=false "docker://$R/bench/$img:v1" "oci:$T/copy:$img" \
			>/dev/null || exit 1
		t3=$(now)
		p=$(secs "$t0" "$t1") s=$(secs "$t2" "$t3")
		pulls+=("$p") skopeos+=("$s")
		echo "$img run $r: pull ${p} s, skopeo copy ${s} s"
	done
	python3 - "$img" "$size" "${pulls[*]}" "${skopeos[*]}" <<'PY'
import sys, statistics as st
img, size = sys.argv[1], int(sys.argv[2]) / 1e6
p = [float(x) for x in sys.argv[3].split()]
s = [float(x) for x in sys.argv[4].split()]
mp, ms = st.median(p), st.median(s)
print("%s (%.1f MB compressed), median of %d: pull %.3f s = %.1f MB/s; floor skopeo copy "
      "%.3f s = %.1f MB/s; speed ratio %.0f%% (aim >= 80%%)"
      % (img, size, len(p), mp, size / mp, ms, size / ms, 100 * ms / mp))
PY
}
compare multi
compare files
# A second floor for the small-file image: creating the same 2000 files
# (open, write, close) in a fresh directory of the same filesystem.
python3 - "$T/create" <<'PY'
import os, sys, time
d = sys.argv[1]
os.makedirs(d)
t = time.time()
for i in range(1, 2001):
    fd = os.open("%s/f%d" % (d, i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"file %d\n" % i)
    os.close(fd)
print("floor: creating the same 2000 small files takes %.3f s" % (time.time() - t))
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
