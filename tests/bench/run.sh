#!/usr/bin/env bash
# Benchmarks for the read path (not pass/fail: prints ratios).
#   tests/bench/run.sh [BUILD_DIR]     (default: build)
# 1. every image of a dataset through the view, in-process, vs the same
#    bytes as plain files on this disk (warm page cache), for 2.0 and 2.2;
# 2. `lancefs ls` of the root of a 1,000,000-row dataset: time and peak RSS.
# Mount benchmarks are separate and want root: mount.sh (reads vs ext4),
# cp.sh (cp -r of 10,000 image folders into a new dataset vs ext4 + sync).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
data=$build/bench-data
if [ ! -f "$data/.made" ]; then
	mkdir -p "$data"
	node tests/bench/make_bench_data.js "$data" 2000
	touch "$data/.made"
fi
for v in 2.0 2.2; do
	ds=$data/images_$v/images.lance
	plain=$data/plain_$v
	rm -rf "$plain"
	mkdir -p "$plain"
	"$build/tests/bench/bench_read" --export "$ds" "$plain" >/dev/null
	echo "== images, storage $v: view vs plain files (warm)"
	"$build/tests/bench/bench_read" "$ds" "$plain"
done
echo "== lancefs ls of a 1,000,000-row dataset (target < 1 s, < 100 MB)"
/usr/bin/time -f "%e s elapsed, %M KB peak RSS" \
	"$build/fs/lancefs" ls "$data/million/t.lance" | wc -l
