#!/bin/sh
# Installs the Debian 12 packages the build, the tests and the demo need.
# Idempotent: does nothing when every package is already present.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libnng-dev libsodium-dev libcjson-dev libsystemd-dev
libxxhash-dev libsqlite3-dev libinih-dev libcmocka-dev libmicrohttpd-dev
systemd busybox-static e2fsprogs iproute2 util-linux procps curl python3 jq"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
