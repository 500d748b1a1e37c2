#!/usr/bin/env bash
# Sets up a Debian 12 machine (unless LANCEFS_NO_SETUP=1), then builds
# lancefs twice -- a normal build and an ASan+UBSan build, both with
# warnings as errors -- and runs the whole test suite in each; last, a
# short deterministic run of every fuzz target (clang libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${LANCEFS_NO_SETUP:-0}" != 1 ]; then
	contrib/setup-debian.sh
fi

jobs=$(nproc)
run() {
	local dir=$1
	shift
	cmake -S . -B "$dir" -DLANCEFS_WERROR=ON "$@"
	cmake --build "$dir" -j"$jobs"
	(cd "$dir" && ctest --output-on-failure -j"$jobs")
}

run build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run build-asan -DCMAKE_BUILD_TYPE=Debug -DLANCEFS_SANITIZE=ON
contrib/fuzz.sh build-fuzz
