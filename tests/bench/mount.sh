#!/usr/bin/env bash
# Mount benchmarks (issue 3), printed as ratios against the same files on
# ext4 run side by side; never pass/fail. Needs root (drop_caches).
#   tests/bench/mount.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
data=$build/bench-data
lancefs=$build/fs/lancefs
readtree=$build/tests/bench/readtree
if [ ! -f "$data/.made" ] || [ ! -d "$data/hundredk" ]; then
	rm -rf "$data"
	mkdir -p "$data"
	node tests/bench/make_bench_data.js "$data" 2000
	touch "$data/.made"
fi
mnt=$(mktemp -d)
trap 'mountpoint -q "$mnt" && "$lancefs" umount "$mnt"; rmdir "$mnt"' EXIT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk 'NR == 1 { print $(NF-3) }'; }	# files/s of readtree's reads

for v in 2.0 2.2; do
	ds=$data/images_$v/images.lance
	ext4=$data/ext4_$v
	if [ ! -d "$ext4" ]; then
		"$lancefs" mount -o ro "$ds" "$mnt"
		cp -r "$mnt/." "$ext4"
		"$lancefs" umount "$mnt"
	fi
	for loop in 1 2; do
		echo "== images $v (2000 x ~100 KB), FUSE loop threads=$loop"
		for t in 1 2; do
			drop
			"$lancefs" mount -o ro,threads=$loop "$ds" "$mnt"
			m_cold=$("$readtree" -t $t "$mnt" | rate)
			m_warm=$("$readtree" -t $t "$mnt" | rate)
			"$lancefs" umount "$mnt"
			drop
			e_cold=$("$readtree" -t $t "$ext4" | rate)
			e_warm=$("$readtree" -t $t "$ext4" | rate)
			printf '  %d reader(s): cold %s vs ext4 %s files/s (%sx), warm %s vs %s (%sx)\n' \
				$t "$m_cold" "$e_cold" "$(ratio "$m_cold" "$e_cold")" \
				"$m_warm" "$e_warm" "$(ratio "$m_warm" "$e_warm")"
		done
	done
done

echo "== images 2.2, writable mount (opens reach the daemon) vs -o ro, warm"
ds=$data/images_2.2/images.lance
stg=$(mktemp -d)
for o in ro "staging_dir=$stg"; do
	"$lancefs" mount -o "$o" "$ds" "$mnt"
	"$readtree" -t 1 "$mnt" >/dev/null
	r=$("$readtree" -t 1 "$mnt" | rate)
	"$lancefs" umount "$mnt"
	printf '  -o %s: %s files/s\n' "${o%%=*}" "$r"
done
rm -rf "$stg"

echo "== listing 100,000 rows: ls -l and os.scandir + stat (warm)"
ds=$data/hundredk/t.lance
ext4=$data/ext4_hundredk
"$lancefs" mount -o ro "$ds" "$mnt"
[ -d "$ext4" ] || cp -r "$mnt/." "$ext4"
ls -l "$mnt" >/dev/null
for what in "$mnt" "$ext4"; do
	ls -l "$what" >/dev/null
	t=$( { /usr/bin/time -f %e ls -l "$what" >/dev/null; } 2>&1 )
	s=$(/usr/bin/python3 -c '
import os, sys, time
t = time.time()
n = 0
for e in os.scandir(sys.argv[1]):
    e.stat(); n += 1
print(f"{time.time() - t:.3f}")' "$what")
	echo "  $what: ls -l $t s, scandir+stat $s s"
done
"$lancefs" umount "$mnt"

echo "== PyTorch DataLoader (2 workers), images/s, warm"
dl='
import json, os, sys, time, torch
class D(torch.utils.data.Dataset):
    def __init__(s, r): s.r = r; s.rows = sorted(os.listdir(r))
    def __len__(s): return len(s.rows)
    def __getitem__(s, i):
        d = os.path.join(s.r, s.rows[i])
        img = open(os.path.join(d, "image.jpg"), "rb").read()
        m = json.load(open(os.path.join(d, "meta.json")))
        return len(img)
l = torch.utils.data.DataLoader(D(sys.argv[1]), batch_size=32, num_workers=2)
for _ in l: pass
t = time.time(); n = 0
for b in l: n += len(b)
print(f"{n / (time.time() - t):.0f}")'
"$lancefs" mount -o ro "$data/images_2.2/images.lance" "$mnt"
m=$(/usr/bin/python3 -c "$dl" "$mnt")
"$lancefs" umount "$mnt"
e=$(/usr/bin/python3 -c "$dl" "$data/ext4_2.2")
echo "  mount $m, ext4 $e images/s ($(ratio "$m" "$e")x)"

echo "== a 1,000,000-row dataset: mount time, daemon RSS after ls -l and reads"
ds=$data/million/t.lance
t=$( { /usr/bin/time -f %e "$lancefs" mount -o ro "$ds" "$mnt"; } 2>&1 )
ls -l "$mnt" >/dev/null
for r in 00000000 00500000 00999999; do cat "$mnt/$r/meta.json" >/dev/null; done
pid=$(/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1] + "/.lancefs/status"))["pid"])' "$mnt")
rss=$(awk '/VmHWM/ { print $2 }' /proc/"$pid"/status)
echo "  mount ${t} s, daemon peak RSS $((rss / 1024)) MB (targets: < 1 s, < 256 MB)"
"$lancefs" umount "$mnt"
