#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what lancefs needs
# (unless LANCEFS_NO_SETUP=1), build it, make a sample dataset of 200
# photos with LanceDB, mount it, and read it the way a dataloader would.
# Leaves the mount in place; `build/fs/lancefs umount DIR` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${LANCEFS_NO_SETUP:-0}" != 1 ]; then
	contrib/setup-debian.sh
	apt-get install -y -q --no-install-recommends python3-pil >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

demo=${LANCEFS_DEMO_DIR:-/tmp/lancefs-demo}
mnt=$demo/mnt
mkdir -p "$demo" "$mnt"
if mountpoint -q "$mnt"; then build/fs/lancefs umount "$mnt"; fi
node contrib/make-sample.js "$demo/db"
build/fs/lancefs mount "$demo/db/photos.lance" "$mnt"

echo "== mounted $demo/db/photos.lance on $mnt"
echo "== ls $mnt | head -3"
ls "$mnt" | head -3
echo "== ls -l $mnt/00000007"
ls -l "$mnt/00000007"
echo "== cat $mnt/00000007/meta.json"
cat "$mnt/00000007/meta.json"
echo "== PIL reads every image"
/usr/bin/python3 - "$mnt" <<'PY'
import json, os, sys
from PIL import Image
root = sys.argv[1]
rows = sorted(os.listdir(root))
sizes = set()
for r in rows:
    with Image.open(os.path.join(root, r, "image.png")) as im:
        im.load()
        sizes.add(im.size)
    json.load(open(os.path.join(root, r, "meta.json")))
print(f"{len(rows)} rows, image sizes {sorted(sizes)}")
PY
echo "== done; unmount with: build/fs/lancefs umount $mnt"
