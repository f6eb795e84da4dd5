#!/bin/sh
# Installs the Debian 12 packages the build, the tests, the benchmarks and the
# demo need. Idempotent: does nothing when every package is already present.
# Waits (bounded) for another apt or dpkg that holds the lock instead of
# failing at once.
set -eu

# One group a line, so that a change adds or removes a line.
PKGS="
build-essential pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libssl-dev libnng-dev libsodium-dev libcjson-dev libsystemd-dev
libxxhash-dev libsqlite3-dev libcmocka-dev libmicrohttpd-dev
libarchive-dev
systemd busybox-static e2fsprogs iproute2 util-linux procps curl python3 jq openssl
cpio socat uidmap
runc crun skopeo umoci docker-registry
apache2-utils
qemu-system-x86 qemu-utils
syslinux syslinux-common mtools dosfstools
wireguard-go wireguard-tools nftables haproxy
lintian debhelper bash-completion man-db
"

# Seconds to wait for the dpkg lock held by another package manager.
LOCK_WAIT=${ZOS_DEPS_LOCK_WAIT:-600}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node.js and npm run the polkadot.js and Chopsticks checks. A machine that
# already has a node and npm (for example from another vendor's package)
# keeps them: Debian's npm would conflict with such a nodejs package.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" \
	install -y --no-install-recommends $missing
