#!/bin/bash
# zos-agent.service as `make install` writes it passes systemd-analyze verify,
# and `make install` honours PREFIX and DESTDIR.
set -u
: "${BUILD:=build}"
command -v systemd-analyze >/dev/null || { echo "skip: systemd-analyze is not installed"; exit 77; }
[ -x "$BUILD/zos-agent" ] || { echo "missing $BUILD/zos-agent (run make first)"; exit 1; }
T=$(mktemp -d /tmp/test_unit_file.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# verify checks that ExecStart= points at an executable, so the prefix must hold one.
mkdir -p "$T/prefix/bin"
ln -s "$(realpath "$BUILD/zos-agent")" "$T/prefix/bin/zos-agent"
sed "s|@PREFIX@|$T/prefix|g" zos-agent.service >"$T/zos-agent.service"
out=$(systemd-analyze verify --man=no "$T/zos-agent.service" 2>&1) || fail "systemd-analyze verify: $out"
# Warnings about the unit itself would print its name; ignore messages about other units.
grep -q 'zos-agent.service' <<<"$out" && fail "systemd-analyze: $out"
grep -q '@PREFIX@' "$T/zos-agent.service" && fail "@PREFIX@ left in the unit"
echo "ok: systemd-analyze verify accepts the unit"

# make install into a staging root: binaries, unit with the prefix, example config, docs.
[ -x "$BUILD/zos-cli" ] && [ -x "$BUILD/tfchain-dev" ] || { echo "missing programs in $BUILD"; exit 1; }
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" PREFIX=/opt/zos DESTDIR="$T/root" >"$T/install.log" 2>&1 ||
	fail "make install: $(tail -n 5 "$T/install.log")"
for f in bin/zos-agent bin/zos-cli bin/tfchain-dev lib/systemd/system/zos-agent.service share/doc/zos-agent/README.md; do
	[ -e "$T/root/opt/zos/$f" ] || fail "make install did not install $f"
done
[ -f "$T/root/etc/zos-agent/agent.conf.example" ] || fail "make install did not install the example config"
grep -q '^ExecStart=/opt/zos/bin/zos-agent$' "$T/root/opt/zos/lib/systemd/system/zos-agent.service" ||
	fail "unit does not use PREFIX"
echo "ok: make install honours PREFIX and DESTDIR"
