#!/bin/bash
# make deb builds the three Debian packages lintian-clean of errors; unpacked
# into a scratch root they hold the programs, the unit, the example config as a
# conffile, the manual pages (which render without warnings) and the bash
# completion, which completes zos-cli's commands and options.
set -u
: "${BUILD:=build}"
for t in dpkg-buildpackage lintian man systemd-analyze; do
	command -v $t >/dev/null || { echo "skip: $t is not installed (make deps)"; exit 77; }
done
T=$(mktemp -d /tmp/test_deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A build dir of its own, so the test never disturbs the tree's build.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s deb BUILD="$T/b" >"$T/deb.log" 2>&1 ||
	fail "make deb: $(tail -n 20 "$T/deb.log")"
for p in zos-agent zos-cli tfchain-dev; do
	ls "$T/b/deb/${p}_"*_amd64.deb >/dev/null 2>&1 || fail "no $p package"
	dpkg-deb -x "$T/b/deb/${p}_"*_amd64.deb "$T/root" || fail "dpkg-deb -x $p"
	dpkg-deb -e "$T/b/deb/${p}_"*_amd64.deb "$T/ctl-$p" || fail "dpkg-deb -e $p"
done
echo "ok: make deb built zos-agent, zos-cli and tfchain-dev, lintian has no errors"

R=$T/root
for f in usr/bin/zos-agent usr/bin/zos-cli usr/bin/tfchain-dev \
	lib/systemd/system/zos-agent.service etc/zos-agent/agent.conf.example \
	usr/share/doc/zos-agent/README.md.gz usr/share/doc/zos-agent/operations.md.gz \
	usr/share/man/man8/zos-agent.8.gz usr/share/man/man5/agent.conf.5.gz \
	usr/share/man/man1/zos-cli.1.gz usr/share/man/man1/tfchain-dev.1.gz \
	usr/share/bash-completion/completions/zos-cli; do
	[ -e "$R/$f" ] || fail "the packages do not install /$f"
done
grep -qx /etc/zos-agent/agent.conf.example "$T/ctl-zos-agent/conffiles" ||
	fail "the example config is not a conffile"
grep -q '^Depends:.*libsodium' "$T/ctl-zos-agent/control" || fail "zos-agent's Depends lack the shared libraries"
grep -q 'deb-systemd-helper' "$T/ctl-zos-agent/postinst" || fail "the unit is not enabled by postinst"
"$R/usr/bin/zos-cli" --version >/dev/null || fail "the packaged zos-cli does not run"
echo "ok: the packages hold the programs, the unit, the conffile, the docs, man pages and completion"

# The unit as packaged: ExecStart is /usr/bin/zos-agent; point it at the
# scratch root for systemd-analyze, which checks that the program exists.
grep -q '^ExecStart=/usr/bin/zos-agent$' "$R/lib/systemd/system/zos-agent.service" ||
	fail "the packaged unit does not start /usr/bin/zos-agent"
sed "s|^ExecStart=/usr/bin/|ExecStart=$R/usr/bin/|" "$R/lib/systemd/system/zos-agent.service" >"$T/zos-agent.service"
out=$(systemd-analyze verify --man=no "$T/zos-agent.service" 2>&1) || fail "systemd-analyze verify: $out"
echo "ok: the packaged unit passes systemd-analyze verify"

for m in man8/zos-agent.8 man5/agent.conf.5 man1/zos-cli.1 man1/tfchain-dev.1; do
	warn=$(MANWIDTH=80 man --warnings -l "$R/usr/share/man/$m.gz" 2>&1 >"$T/page.txt")
	[ -z "$warn" ] || fail "man $m warns: $warn"
	[ "$(wc -l <"$T/page.txt")" -gt 20 ] || fail "man $m is nearly empty"
done
MANWIDTH=80 man -l "$R/usr/share/man/man1/zos-cli.1.gz" 2>/dev/null | grep -q 'bill-history' ||
	fail "zos-cli(1) lacks the contract subcommands"
MANWIDTH=80 man -l "$R/usr/share/man/man5/agent.conf.5.gz" 2>/dev/null | grep -q 'report_interval' ||
	fail "agent.conf(5) lacks the config keys"
echo "ok: the four manual pages render without warnings"

# Completion, as bash would call it for "zos-cli de<TAB>" and an option.
comp() {
	PATH="$R/usr/bin:$PATH" bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _zos_cli; echo "${COMPREPLY[*]}"' \
		_ "$R/usr/share/bash-completion/completions/zos-cli" "$@"
}
[ "$(comp zos-cli de)" = "deploy deployment" ] || fail "zos-cli de<TAB> gave '$(comp zos-cli de)'"
[ "$(comp zos-cli contract bill)" = "bill-history" ] || fail "zos-cli contract bill<TAB> gave '$(comp zos-cli contract bill)'"
comp zos-cli key inspect --see | grep -qw -- --seed-file || fail "zos-cli key inspect --see<TAB> lacks --seed-file"
echo "ok: bash completion completes commands, subcommands and options"
