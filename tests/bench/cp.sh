#!/usr/bin/env bash
# Ingest benchmark: cp -r of N row folders (default 10,000, each a ~100
# KB JPEG and a meta.json) into a fresh dataset mount, until committed,
# against the same cp -r onto ext4 plus sync. Printed as a ratio (target
# ext4 / lancefs >= 0.7), never pass/fail; also the versions the copy
# made, the daemon's peak RSS and its CPU time by thread, cp's own CPU
# time in both copies; and the same
# cp -r into a FUSE server that does nothing (tests/bench/discard.c),
# where the scheduler puts it and cp (what any mount costs) and with
# both on one CPU (what of that is wake-ups across CPUs); it runs
# lancefs's transport (passthrough, and io_uring where it is on; where
# it is, once more through /dev/fuse, which serves a server that does
# nothing faster here). Run as root
# for drop_caches (without it the timings run on whatever the page cache
# holds). Everything lives in one temporary folder under
# ${TMPDIR:-/tmp}, deleted at the end.
# ROUNDS rounds (default 3) run the four copies in turn; each round's
# ratio is printed, then the medians (ext4's own time varies by half
# from run to run on a VM).
#   tests/bench/cp.sh [BUILD_DIR] [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
n=${2:-10000}
rounds=${3:-3}
lancefs=$build/fs/lancefs
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lancefs-cp-bench.XXXXXX")
src=$tmp/src
mnt=$tmp/mnt
ds=$tmp/db/bench.lance
cleanup() {
	if mountpoint -q "$mnt"; then "$lancefs" umount "$mnt" || true; fi
	if mountpoint -q "$tmp/dmnt"; then fusermount3 -u "$tmp/dmnt" || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
# Run a command; its CPU seconds (user + system) go to $tmp/cpu. Where
# cp's own CPU is most of a copy's time, the copy is bound by the work
# in cp's system calls (ext4: copying into new page cache pages, which
# on a VM whose free memory goes back to the host fault in anew), not
# by waiting on the file system.
cpu_run() {
	local TIMEFORMAT='%3U %3S'

	{ time "$@" 2>&3; } 3>&2 2>"$tmp/time"
	awk '{ printf "%.2f", $1 + $2 }' "$tmp/time" >"$tmp/cpu"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
drop() {
	sync
	if [ -w /proc/sys/vm/drop_caches ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}
# both copies start with the source in the page cache and nothing else
# (through a pipe: GNU tar reads nothing when it writes to /dev/null)
warm() { drop; tar -cf - -C "$src" . | cat >/dev/null; }

echo "== making $n row folders in $tmp ($(stat -f -c %T "$tmp"))"
mkdir -p "$src" "$mnt" "$(dirname "$ds")"
/usr/bin/python3 - "$src" "$n" <<'EOF'
# A few real JPEGs (noise, baseline, quality 95 at 330x250 ~ 100 KB),
# then per folder the same image with a distinct COM segment after SOI:
# still a valid JPEG, and no two files share their bytes.
import io, json, os, random, sys
from PIL import Image
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261121)
bases = []
for k in range(16):
    w, h = 330, 250
    im = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    bases.append(buf.getvalue())
total = 0
for i in range(n):
    d = os.path.join(root, f"img_{i:05d}")
    os.mkdir(d)
    base = bases[i % len(bases)]
    com = b"lancefs cp bench %d " % i + rng.randbytes(32)
    seg = b"\xff\xfe" + (len(com) + 2).to_bytes(2, "big") + com
    data = base[:2] + seg + base[2:]
    total += len(data)
    with open(os.path.join(d, "image.jpg"), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"label": i % 1000, "split": "val" if i % 10 == 0
                   else "train"}, f)
print(f"  {n} folders, images {total / n / 1000:.0f} KB on average, "
      f"{total / 1e6:.0f} MB")
EOF
[ -w /proc/sys/vm/drop_caches ] || echo "  (not root: page cache not dropped)"
# on a VM, how long an idle vCPU polls before it halts sets what waking
# the daemon costs (lancefs.1, NOTES)
hp=/sys/module/haltpoll/parameters/guest_halt_poll_ns
[ -r "$hp" ] && echo "  cpuidle-haltpoll: guest_halt_poll_ns=$(cat "$hp")"
# FUSE over io_uring, where the kernel has it and it is on (lancefs.1,
# NOTES; LANCEFS_NO_IO_URING=1 in the environment keeps /dev/fuse)
ur=/sys/module/fuse/parameters/enable_uring
ring=N
if [ -r "$ur" ]; then
	echo "  fuse enable_uring=$(cat "$ur")"
	[ -z "${LANCEFS_NO_IO_URING:-}" ] && ring=$(cat "$ur")
fi

# MB written so far to the disk holding $tmp (/proc/diskstats, field 10
# in 512-byte sectors; empty where the device is not listed): staging
# that commits before it is written back costs no disk writes, and the
# data files are written once, as ext4's copy is.
dev=$(stat -c '%Hd %Ld' "$tmp")
disk_mb() {
	awk -v maj="${dev% *}" -v min="${dev#* }" \
		'$1 == maj && $2 == min { printf "%.0f", $10 * 512 / 1e6 }' \
		/proc/diskstats
}
written() { [ -n "$1" ] && echo ", $(($2 - $1)) MB written to the disk"; }

# Seconds of cp -r into the do-nothing server, both run by "$@" (e.g.
# taskset -c 0), or as they are.
discard_cp() {
	local t0 t1

	warm
	mkdir -p "$tmp/dmnt"
	"$@" "$build/tests/bench/discard" "$tmp/dmnt" >/dev/null
	t0=$(now)
	"$@" cp -r "$src/." "$tmp/dmnt/"
	t1=$(now)
	fusermount3 -u "$tmp/dmnt"
	secs "$t0" "$t1"
}

# The CPU seconds (user + system) of the daemon `pid`, in all and by
# thread name ("lancefs fuse", "lancefs spares", ...): on 2 CPUs, what
# the background threads take is taken from cp and the FUSE threads.
# Threads that ended count only in the total.
thread_cpu() {
	local hz
	hz=$(getconf CLK_TCK)
	for t in /proc/"$1"/task/*; do
		# the name may hold spaces: fields 14 and 15 follow ") "
		printf '%s\t%s\n' "$(cat "$t/comm")" \
			"$(sed 's/.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
	done | awk -F '\t' -v hz="$hz" -v all="$(sed 's/.*) //' /proc/"$1"/stat |
		awk '{ print $12 + $13 }')" '
		{ by[$1] += $2 }
		END {
			for (n in by)
				line = line sprintf(", %s %.2f s", n, by[n] / hz)
			printf "%.2f s in all%s\n", all / hz, line
		}'
}

# cp -r into a new dataset's mount, until committed (run with the
# environment `$2`, e.g. LANCEFS_NO_IO_URING=1): prints its seconds, the
# versions made and the daemon's peak RSS (KB), "lfs versions rss_kb".
lancefs_cp() {
	local k=$1 t0 t1 t2 lfs version rows rss writes cpu d0 d1 pid
	local ds=$tmp/db/bench$k.lance

	echo "== round $k: cp -r SRC/. MNT/ && lancefs commit MNT (new dataset${2:+, $2})" >&2
	warm
	env ${2:+"$2"} "$lancefs" mount -o "staging_dir=$tmp/staging.$k${LANCEFS_OPTS:+,$LANCEFS_OPTS}" "$ds" "$mnt" >&2
	pid=$(/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1] + "/.lancefs/status"))["pid"])' "$mnt")
	d0=$(disk_mb)
	t0=$(now)
	cpu_run cp -r "$src/." "$mnt/"
	t1=$(now)
	version=$("$lancefs" commit "$mnt")
	t2=$(now)
	d1=$(disk_mb)
	lfs=$(secs "$t0" "$t2")
	echo "  $lfs s (cp $(secs "$t0" "$t1") s with $(cat "$tmp/cpu") s of cp's own CPU, commit $(secs "$t1" "$t2") s to version $version)$(written "$d0" "$d1")" >&2
	rows=$(ls "$mnt" | wc -l)
	rss=$(awk '/VmHWM/ { print $2 }' /proc/"$pid"/status)
	cpu=$(thread_cpu "$pid")
	writes=$(/usr/bin/python3 -c 'import json, sys
st = json.load(open(sys.argv[1] + "/.lancefs/status"))
print(json.dumps(st.get("writes")) + "; requests through " +
      ("io_uring" if st.get("io_uring") else "/dev/fuse"))' "$mnt")
	t0=$(now)
	"$lancefs" umount "$mnt"
	t1=$(now)
	echo "  umount $(secs "$t0" "$t1") s; the mount listed $rows rows" >&2
	echo "  status writes: $writes" >&2
	echo "  daemon CPU since mount: $cpu" >&2
	echo "$lfs $(find "$ds/_versions" -name '*.manifest' | wc -l) $rss"
}

# One round: ext4, discard, discard pinned, lancefs, each from a warm
# source. Nothing is deleted until the end (so the rounds need about
# 3 GB each in TMPDIR): on ext4 without a journal, an inode made within
# 60 s of many others being freed (360 s while their inode table block
# is not yet written) scans past them (ext4's recently_deleted), so
# whichever copy came right after a deletion (the ext4 copy after the
# last round's rm -rf, the staging after its own) paid for it (30 % of
# the daemon's samples were in that scan, in a copy made right after
# one). An unmount frees the mount's spare inodes, and this script's
# own cleanup frees everything: a run started within minutes of another
# pays for that (sync, then wait a minute). Prints the seconds of each
# as "ext4 discard pinned lancefs versions rss_kb", then lancefs's
# "seconds versions rss_kb" through /dev/fuse, then discard's through
# /dev/fuse (the same again where FUSE over io_uring is off).
round() {
	local k=$1 t0 t1 ext4 discard pinned discard_dev lfs lfs_dev d0 d1

	echo "== round $k: cp -r SRC/. DIR && sync (ext4)" >&2
	warm
	d0=$(disk_mb)
	t0=$(now)
	cpu_run cp -r "$src/." "$tmp/ext4.$k"
	sync
	t1=$(now)
	d1=$(disk_mb)
	ext4=$(secs "$t0" "$t1")
	echo "  $ext4 s ($(cat "$tmp/cpu") s of cp's own CPU)$(written "$d0" "$d1")" >&2

	echo "== round $k: cp -r SRC/. MNT/ (discard: a FUSE server that keeps nothing)" >&2
	discard=$(discard_cp)
	echo "  $discard s" >&2

	# cp makes 13 requests per folder and waits for all but the
	# releases; where the server runs on another CPU, each costs two
	# cross-CPU wake-ups. The same copy with both on one CPU shows what
	# those cost on this machine.
	echo "== round $k: the same, discard and cp both on CPU 0 (taskset)" >&2
	pinned=$(discard_cp taskset -c 0)
	echo "  $pinned s" >&2
	discard_dev=$discard
	if [ "$ring" = Y ]; then
		echo "== round $k: discard through /dev/fuse (LANCEFS_NO_IO_URING=1)" >&2
		discard_dev=$(discard_cp env LANCEFS_NO_IO_URING=1)
		echo "  $discard_dev s" >&2
	fi

	# where FUSE over io_uring is on, lancefs copies twice, through it
	# and through /dev/fuse, in turn first
	if [ "$ring" = Y ] && [ $((k % 2)) = 0 ]; then
		lfs_dev=$(lancefs_cp "$k.dev" LANCEFS_NO_IO_URING=1)
		lfs=$(lancefs_cp "$k")
	elif [ "$ring" = Y ]; then
		lfs=$(lancefs_cp "$k")
		lfs_dev=$(lancefs_cp "$k.dev" LANCEFS_NO_IO_URING=1)
	else
		lfs=$(lancefs_cp "$k")
		lfs_dev="$lfs"
	fi
	echo "$ext4 $discard $pinned $lfs $lfs_dev $discard_dev"
}

# the median of the numbers on stdin
median() {
	sort -g | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.2f", m }'
}

results=$tmp/results
for k in $(seq 1 "$rounds"); do
	round "$k" >>"$results"
	r=$(tail -n 1 "$results")
	set -- $r
	echo "   round $k: ext4 / lancefs $(ratio "$1" "$4")x$([ "$ring" = Y ] && echo " (io_uring), $(ratio "$1" "$7")x (/dev/fuse)")"
done
col() { awk -v c="$1" '{ print $c }' "$results" | median; }
ext4=$(col 1)
discard=$(col 2)
pinned=$(col 3)
lfs=$(col 4)
versions=$(awk '{ print $5 }' "$results" | sort -g | tail -n 1)
rss=$(awk '{ print $6 }' "$results" | sort -g | tail -n 1)
echo "== medians of $rounds rounds: ext4 $ext4 s, discard $discard s, on one CPU $pinned s, lancefs $lfs s"
echo "== ext4 / lancefs: $(ratio "$ext4" "$lfs")x (target >= 0.7), at most $versions versions, daemon peak RSS $((rss / 1024)) MB"
if [ "$ring" = Y ]; then
	dev=$(col 7)
	echo "   that is through FUSE over io_uring; through /dev/fuse (LANCEFS_NO_IO_URING=1) lancefs took $dev s: ext4 / lancefs $(ratio "$ext4" "$dev")x"
fi
echo "   ext4 / discard: $(ratio "$ext4" "$discard")x (FUSE alone, as the scheduler places it); discard / lancefs: $(ratio "$discard" "$lfs")x"
if [ "$ring" = Y ]; then
	ddev=$(col 10)
	echo "   discard through /dev/fuse took $ddev s: ext4 / discard $(ratio "$ext4" "$ddev")x, discard / lancefs $(ratio "$ddev" "$lfs")x"
fi
echo "   ext4 / discard on one CPU: $(ratio "$ext4" "$pinned")x (wake-ups across CPUs cost $(ratio "$discard" "$pinned")x)"
