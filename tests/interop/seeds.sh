#!/bin/sh
# seeds.sh OUTDIR SEEDDIR
#
# Seed corpora for the C fuzzers, taken from the interop fixtures that
# make_datasets.js wrote to OUTDIR:
#   SEEDDIR/manifest/  every _versions/*.manifest (all are small)
#   SEEDDIR/datafile/  data/*.lance files under 64 KiB
#   SEEDDIR/deletion/  every _deletions/* file (.arrow and roaring .bin)
# Files are named by the sha256 of their content (deletion files keep their
# .arrow/.bin suffix, which tells their format), so re-running is idempotent
# and duplicates collapse.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 OUTDIR SEEDDIR" >&2
	exit 1
fi
out=$1
seeds=$2
if [ ! -f "$out/fixtures.json" ]; then
	echo "$0: $out does not look like make_datasets.js output (no fixtures.json)" >&2
	exit 1
fi
mkdir -p "$seeds/manifest" "$seeds/datafile" "$seeds/deletion"

# copy_seed FILE DIR SUFFIX
copy_seed() {
	h=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "$2/$h$3"
}

n_man=0 n_data=0 n_del=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

find "$out" -type f -path '*/_versions/*.manifest' >"$tmp"
while IFS= read -r f; do
	copy_seed "$f" "$seeds/manifest" ""
	n_man=$((n_man + 1))
done <"$tmp"

find "$out" -type f -path '*/data/*.lance' -size -65536c >"$tmp"
while IFS= read -r f; do
	copy_seed "$f" "$seeds/datafile" ""
	n_data=$((n_data + 1))
done <"$tmp"

find "$out" -type f -path '*/_deletions/*' >"$tmp"
while IFS= read -r f; do
	case $f in
	*.arrow) copy_seed "$f" "$seeds/deletion" ".arrow" ;;
	*.bin) copy_seed "$f" "$seeds/deletion" ".bin" ;;
	*) continue ;;
	esac
	n_del=$((n_del + 1))
done <"$tmp"

echo "seeds.sh: $n_man manifests, $n_data data files, $n_del deletion files -> $seeds"
