# shellcheck shell=bash
# Helpers for scripts that need an OCI registry and images built locally:
# Debian's docker-registry on 127.0.0.1 (free port, stopped by pid) and
# images made from the static busybox with umoci, pushed with skopeo.
# Sourced (its name does not match test_*.sh). Needs $T (scratch dir).
# Nothing is fetched from the internet. Free ports and stopping a registry
# by its pid are lib.sh's free_port and stop_pid (lib.sh is sourced here
# when the script has not done so).
# shellcheck source=tests/integration/lib.sh
declare -F stop_pid >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# reg_have_tools: 0 when docker-registry, umoci, skopeo and busybox exist.
reg_have_tools() {
	local c
	for c in docker-registry umoci skopeo python3; do
		command -v "$c" >/dev/null 2>&1 || { echo "missing $c"; return 1; }
	done
	[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || { echo "missing busybox"; return 1; }
}

# reg_start NAME [HTPASSWD]: starts a registry with storage $T/NAME.data and
# log $T/NAME.log; sets REG_PORT and REG_PID (and NAME_port/NAME_pid).
reg_start() {
	local name=$1 htp=${2:-} port
	port=$(free_port)
	{
		echo "version: 0.1"
		echo "log: {level: info, accesslog: {disabled: false}}"
		echo "storage:"
		echo "  filesystem: {rootdirectory: $T/$name.data}"
		echo "  delete: {enabled: true}"
		echo "http: {addr: 127.0.0.1:$port}"
		if [ -n "$htp" ]; then
			echo "auth:"
			echo "  htpasswd: {realm: zos-test, path: $htp}"
		fi
	} >"$T/$name.yml"
	docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
	REG_PID=$!
	REG_PORT=$port
	printf -v "${name}_port" '%s' "$port"
	printf -v "${name}_pid" '%s' "$REG_PID"
	local i
	for i in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry $name did not start:"
	tail -n 20 "$T/$name.log"
	return 1
}

# oci_base LAYOUT TAG: a one-layer busybox image in the OCI layout LAYOUT.
oci_base() {
	local lay=$1 tag=$2 b
	[ -d "$lay" ] || umoci init --layout "$lay" || return 1
	umoci new --image "$lay:$tag" || return 1
	b=$(mktemp -d "$T/bundle.XXXXXX")
	rmdir "$b"
	umoci unpack --image "$lay:$tag" "$b" >/dev/null || return 1
	scripts/make-busybox-image.sh "$b/rootfs.new" >/dev/null || return 1
	cp -a "$b/rootfs.new/." "$b/rootfs/" && rm -rf "$b/rootfs.new"
	umoci repack --image "$lay:$tag" "$b" >/dev/null || return 1
	rm -rf "$b"
	umoci config --image "$lay:$tag" --config.entrypoint /bin/sh --config.env ZOS_IMAGE=test || return 1
}

# oci_layer LAYOUT TAG FUNC: adds one layer made by FUNC ROOTFS (a shell
# function of the caller, run on the unpacked root filesystem).
oci_layer() {
	local lay=$1 tag=$2 fn=$3 b
	b=$(mktemp -d "$T/bundle.XXXXXX")
	rmdir "$b"
	umoci unpack --image "$lay:$tag" "$b" >/dev/null || return 1
	"$fn" "$b/rootfs" || return 1
	umoci repack --image "$lay:$tag" "$b" >/dev/null || return 1
	rm -rf "$b"
}

# reg_push LAYOUT:TAG REF [USER:PASS]
reg_push() {
	local creds=()
	[ -n "${3:-}" ] && creds=(--dest-creds "$3")
	skopeo copy -q --dest-tls-verify=false "${creds[@]}" "oci:$1" "docker://$2" >/dev/null
}
