#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each one
# from its seed corpus. Deterministic by default (fixed seed and run count)
# so CI cannot go red at random; pass SECONDS_PER_TARGET to fuzz by time.
#   contrib/fuzz.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
runs=${FUZZ_RUNS:-30000}
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DLANCEFS_FUZZ=ON -DLANCEFS_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	target=${name#fuzz_}
	work=$(mktemp -d)
	cp -r "tests/fuzz/corpus/$target/." "$work/"
	if [ -n "${SECONDS_PER_TARGET:-}" ]; then
		limit=(-max_total_time="$SECONDS_PER_TARGET")
	else
		limit=(-runs="$runs" -seed=1)
	fi
	echo "== $name"
	if ! "$build/tests/fuzz/$name" "${limit[@]}" -max_len=262144 \
		-rss_limit_mb=2048 -timeout=20 "$work" >"$work.log" 2>&1; then
		cat "$work.log"
		echo "fuzz: $name failed; the input is in the log above" >&2
		exit 1
	fi
	tail -n 1 "$work.log"
	rm -rf "$work" "$work.log"
done
echo "fuzz: all targets ran clean"
