#!/bin/bash
# Runs every libFuzzer target briefly (FUZZ_SECONDS each, default 4) as part
# of the sanitizer pass of `make check`; the plain pass leaves it out so the
# fuzzers run once per CI run.
set -u
if [ "${SANITIZE:-0}" != 1 ]; then
	echo "skipped: the fuzz targets run in the sanitizer pass (make check SANITIZE=1)"
	exit 77
fi
if ! command -v clang >/dev/null; then
	echo "skipped: clang (libFuzzer) is not installed; run make deps"
	exit 77
fi
exec make --no-print-directory BUILD="${BUILD:-build-san}" SANITIZE=1 fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-4}"
