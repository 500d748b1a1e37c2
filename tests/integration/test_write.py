#!/usr/bin/python3
"""Writes through a real mount, checked with LanceDB as the oracle.

    test_write.py LANCEFS INTEROP_SRC_DIR

Run with Debian's own python3 (PIL from Debian makes the JPEGs that are
copied in). Datasets are made and appended to by LanceDB through
tests/interop/wtool.js, and read back through tests/interop/dump.js.
Every test has its own temporary datasets and staging folder. Ends with
"N passed, M failed" and exits 1 on any failure; ONLY=substring runs the
tests whose name contains it.
"""
import contextlib
import ctypes
import datetime
import errno
import gzip
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import with_io_uring
from dirpages import getdents, rest

LANCEFS, INTEROP = (os.path.abspath(a) for a in sys.argv[1:3])
# the interop fixtures (tests/interop/make_datasets.js), where given
DATA = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
FILE_VERSIONS = ["2.0", "2.1", "2.2"]
COLUMNS = ("image", "caption", "label", "score")


# ------------------------------------------------------------ helpers

def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def node(script, *args):
    r = subprocess.run(["node", os.path.join(INTEROP, script), *map(str, args)],
                       cwd=INTEROP, capture_output=True, text=True,
                       timeout=300)
    if r.returncode:
        raise AssertionError(f"node {script} {' '.join(map(str, args))}: "
                             f"exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def oracle(uri, version=None):
    """LanceDB's reading of the dataset (dump.js), run in its own process."""
    return node("dump.js", uri, *(["--version", version] if version else []))


def wtool(*args):
    return node("wtool.js", *args)


def lance_rows(uri):
    """name -> {image: sha256 or None, caption, label, score}, from LanceDB;
    every name must be there once."""
    out = {}
    for r in oracle(uri)["rows"]:
        v = r["values"]
        name = v["name"]
        expect(name not in out, f"LanceDB holds row {name!r} twice")
        img = v.get("image")
        out[name] = {"image": img["sha256"] if img else None,
                     "caption": v.get("caption"), "label": v.get("label"),
                     "score": v.get("score")}
    return out


def same_rows(got, want, what):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    diffs = [f"LanceDB lacks {missing[:8]}"] if missing else []
    if extra:
        diffs.append(f"LanceDB has extra {extra[:8]}")
    for name, w in sorted(want.items()):
        for c in COLUMNS:
            if name in got and got[name][c] != w[c]:
                diffs.append(f"row {name}: {c} is {got[name][c]!r}, "
                             f"expected {w[c]!r}")
    expect(not diffs, f"{what}: " + "; ".join(diffs))


class Soft:
    """Checks that go on after a failure, to report every problem of a
    test at once."""
    def __init__(self):
        self.problems = []

    def check(self, fn, *args, **kw):
        try:
            fn(*args, **kw)
        except AssertionError as e:
            self.problems.append(str(e))

    def done(self):
        expect(not self.problems, "\n  ".join([""] + self.problems))


def lancefs(*args, check=True, timeout=120):
    r = subprocess.run([LANCEFS, *args], capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode:
        raise AssertionError(f"lancefs {' '.join(args)}: exit "
                             f"{r.returncode}: {r.stderr.strip()}")
    return r


@contextlib.contextmanager
def workdir():
    d = tempfile.mkdtemp(prefix="lancefs-wtest-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def mounted(source, staging, *opts):
    """Mounts SOURCE with its own staging folder; `lancefs umount` at the
    end (which commits), and that must succeed when the body did."""
    mnt = tempfile.mkdtemp(prefix="lancefs-wmnt-")
    opts = (f"staging_dir={staging}",) + opts
    try:
        lancefs("mount", "-o", ",".join(opts), source, mnt)
    except BaseException:
        os.rmdir(mnt)
        raise
    body_ok = False
    try:
        why = with_io_uring.not_through_ring(mnt)
        expect(why is None, why)
        yield mnt
        body_ok = True
    finally:
        r = lancefs("umount", mnt, check=False, timeout=300)
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        with contextlib.suppress(OSError):
            os.rmdir(mnt)
        if body_ok:
            expect(r.returncode == 0, f"lancefs umount: exit {r.returncode}: "
                   f"{r.stderr.strip()}")
            expect(not os.path.ismount(mnt), "still mounted after umount")


@contextlib.contextmanager
def mountpoint():
    """An empty folder to mount on, for tests that mount and unmount
    themselves: detached at the end if still mounted, then removed."""
    mnt = tempfile.mkdtemp(prefix="lancefs-wmnt-")
    try:
        yield mnt
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        os.rmdir(mnt)


def status(mnt):
    with open(os.path.join(mnt, ".lancefs", "status")) as f:
        return json.load(f)


def errno_of(fn, *args):
    """The errno fn(*args) fails with, or None where it works."""
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return None


def errors_text(mnt):
    with open(os.path.join(mnt, ".lancefs", "errors")) as f:
        return f.read()


def wait_for(cond, what, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        time.sleep(0.1)
    # `what` may be a function: the state then, not when the wait began
    raise AssertionError(f"timed out after {timeout} s: "
                         f"{what() if callable(what) else what}")


def commit_now(mnt, refused=False):
    """A commit of what is staged, by writing .lancefs/commit (returns
    once it is done; raises its errno). With `refused`, the commit must
    refuse rows (EINVAL), whatever else it lands."""
    try:
        with open(os.path.join(mnt, ".lancefs", "commit"), "w") as f:
            f.write("1")
    except OSError as e:
        if not refused or e.errno != errno.EINVAL:
            raise
        return
    expect(not refused, "a commit that refused rows succeeded")


def wait_committed(mnt, timeout=60):
    """Until nothing is staged (every row committed)."""
    wait_for(lambda: status(mnt)["writes"]["staged_rows"] == 0,
             lambda: f"{mnt}: rows still staged: {status(mnt)['writes']}",
             timeout)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    with open(path, "rb") as f:
        return sha256(f.read())


def jpeg(seed, w=None, h=None):
    """A real JPEG (noise, so each one differs), decodable by PIL."""
    from PIL import Image
    rng = random.Random(seed)
    w = w or rng.randint(24, 200)
    h = h or rng.randint(24, 160)
    im = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def sample(parent, name, seed, caption=True, label=True, score=True,
           size=None, img=None):
    """A sample folder parent/name (image.jpg, meta.json, caption.txt);
    returns the row LanceDB must read back."""
    d = os.path.join(parent, name)
    os.makedirs(d)
    if img is None:
        img = jpeg(seed, *(size or (None, None)))
    write(os.path.join(d, "image.jpg"), img)
    meta = {}
    if label:
        meta["label"] = 1000 + seed
    if score:
        meta["score"] = seed + 0.5
    write(os.path.join(d, "meta.json"), json.dumps(meta))
    cap = f"sample {name} ✓ {seed}" if caption else None
    if caption:
        write(os.path.join(d, "caption.txt"), cap)
    return {"image": sha256(img), "caption": cap,
            "label": meta.get("label"), "score": meta.get("score"),
            "bytes": img}


def samples_with_big(src, prefix, n, seed):
    """n sample folders src/PREFIX_000... and PREFIX_big, whose image is
    9 MiB (many FUSE writes and reads, and full ring buffers)."""
    rows = {f"{prefix}_{k:03d}": sample(src, f"{prefix}_{k:03d}", seed + k)
            for k in range(n)}
    big = b"\xff\xd8\xff\xe0" + random.Random(seed).randbytes(9 << 20)
    rows[f"{prefix}_big"] = sample(src, f"{prefix}_big", seed + n, img=big)
    return rows


def plain1(row):
    """Drops the kept bytes: the form lance_rows() returns."""
    return {c: row[c] for c in COLUMNS}


def plain(rows):
    return {n: plain1(r) for n, r in rows.items()}


def new_row(img=None, **values):
    """A new row as lance_rows() gives it: its image's sha256 (None
    without one) and the other columns, null unless given."""
    out = {"image": sha256(img) if img is not None else None,
           "caption": None, "label": None, "score": None}
    out.update(values)
    return out


def cp(*args):
    r = subprocess.run(["cp", *args], capture_output=True, text=True,
                       timeout=300)
    expect(r.returncode == 0, f"cp {' '.join(args)}: {r.stderr.strip()}")


def listing(mnt):
    return sorted(os.listdir(mnt))


def check_versions(uri, before, file_version, latest_rows):
    """Every version recorded in `before` (wtool versions) still opens in
    LanceDB with its row count; every later one opens; the latest has
    latest_rows; data files are all of file_version."""
    now = wtool("versions", uri)
    counts = {v["version"]: v["rows"] for v in now["versions"]}
    for v in before["versions"]:
        expect(counts.get(v["version"]) == v["rows"],
               f"version {v['version']}: {counts.get(v['version'])} rows, "
               f"had {v['rows']}")
    expect(sorted(counts) == list(range(1, now["latest"] + 1)),
           f"versions {sorted(counts)}")
    expect(counts[now["latest"]] == latest_rows,
           f"latest version {now['latest']}: {counts[now['latest']]} rows, "
           f"expected {latest_rows}")
    expect(now["file_versions"] == [file_version] and
           now["data_format"] == file_version,
           f"data files {now['file_versions']}, manifest "
           f"{now['data_format']}, dataset is {file_version}")
    return now


def read_back(mnt, want, text_files):
    """Every row of `want` reads back through the mount with the same
    bytes: image.jpg, caption (caption.txt or meta.json), label, score."""
    names = set(listing(mnt))
    expect(set(want) <= names, f"mount lacks {sorted(set(want) - names)[:5]}")
    for name, w in want.items():
        d = os.path.join(mnt, name)
        files = set(os.listdir(d))
        if w["image"] is None:
            expect("image.jpg" not in files, f"{name}: image.jpg for null")
        else:
            expect(file_sha(os.path.join(d, "image.jpg")) == w["image"],
                   f"{name}/image.jpg: bytes differ")
            if "bytes" in w:
                expect(os.stat(os.path.join(d, "image.jpg")).st_size ==
                       len(w["bytes"]), f"{name}/image.jpg: st_size")
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
        expect(meta.get("label") == w["label"] and
               meta.get("score") == w["score"],
               f"{name}/meta.json: {meta}, expected label {w['label']} "
               f"score {w['score']}")
        expect(meta.get("name") == name, f"{name}/meta.json: name "
               f"{meta.get('name')!r}")
        if text_files:
            if w["caption"] is None:
                expect("caption.txt" not in files, f"{name}: caption.txt "
                       "for a null caption")
            else:
                with open(os.path.join(d, "caption.txt"), "rb") as f:
                    got = f.read().decode()
                expect(got == w["caption"], f"{name}/caption.txt: {got!r}")
        else:
            expect(meta.get("caption") == w["caption"],
                   f"{name}/meta.json caption {meta.get('caption')!r}")


def fsync_path(path):
    """fsync() of PATH (file or folder) opened read-only; returns 0 or the
    errno."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


# ------------------------------------------------------------ tests

def edit_cycle(ver):
    """cp -r of folders and root-level images into a LanceDB-made dataset,
    rm -r of two committed rows, overwrite of a committed image.jpg, rm of
    a committed caption.txt; LanceDB reads exactly the expected rows,
    every earlier version keeps its row count, and a new mount reads the
    same bytes back."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        staging = os.path.join(w, "staging")
        wtool("make", uri, "--version", ver, "--rows", 6)
        want = lance_rows(uri)
        expect(len(want) == 6, "make")
        src = os.path.join(w, "src")
        os.makedirs(src)
        new = {f"new_{k:03d}": sample(src, f"new_{k:03d}", 10 + k,
                                      size=(400, 300) if k == 0 else None)
               for k in range(3)}
        drops = {}
        for k in range(2):
            img = jpeg(50 + k)
            write(os.path.join(src, f"drop_{k:03d}.jpg"), img)
            drops[f"drop_{k:03d}"] = {"image": sha256(img), "caption": None,
                                      "label": None, "score": None,
                                      "bytes": img}
        opts = ("name_column=name", "text_files=caption", "commit_delay=0.2")
        with mounted(uri, staging, *opts) as mnt:
            cp("-r", *[os.path.join(src, n) for n in new], mnt)
            cp(*[os.path.join(src, n + ".jpg") for n in drops], mnt)
            wait_committed(mnt)
            want.update(plain(new))
            want.update(plain(drops))
            expect(listing(mnt) == sorted(want), f"after the commit the "
                   f"mount lists {listing(mnt)}")
            for n in drops:
                expect(os.path.isdir(os.path.join(mnt, n)),
                       f"committed root file {n} is no row folder")
            mid = wtool("versions", uri)
            expect(mid["versions"][-1]["rows"] == 11,
                   f"after the first commits: {mid['versions']}")

            # edits of committed rows
            subprocess.run(["rm", "-r", os.path.join(mnt, "row_001"),
                            os.path.join(mnt, "row_002")], check=True)
            del want["row_001"], want["row_002"]
            img = jpeg(77)
            write(os.path.join(src, "new.jpg"), img)
            cp(os.path.join(src, "new.jpg"),
               os.path.join(mnt, "row_003", "image.jpg"))
            want["row_003"] = dict(want["row_003"], image=sha256(img))
            os.unlink(os.path.join(mnt, "row_005", "caption.txt"))
            want["row_005"] = dict(want["row_005"], caption=None)

            # what the user sees at once
            names = listing(mnt)
            expect("row_001" not in names and "row_002" not in names,
                   f"rm -r rows still listed: {names}")
            expect(file_sha(os.path.join(mnt, "row_003", "image.jpg")) ==
                   sha256(img), "overwritten image.jpg reads old bytes")
            expect(not os.path.exists(os.path.join(mnt, "row_005",
                                                   "caption.txt")),
                   "removed caption.txt still there")
        soft = Soft()
        soft.check(same_rows, lance_rows(uri), want, f"{ver}")
        soft.check(check_versions, uri, mid, ver, len(want))

        # a new mount reads back what was copied
        for n, r in list(new.items()) + list(drops.items()):
            want[n] = r
        with mounted(uri, staging, "name_column=name",
                     "text_files=caption") as mnt:
            soft.check(read_back, mnt, want, text_files=True)
            soft.check(lambda: expect(listing(mnt) == sorted(want),
                                      f"remount lists {listing(mnt)}"))
        soft.done()


def interleaved_appends(ver):
    """LanceDB appends after lancefs's commits and lancefs (mounted again)
    after LanceDB's: every row is there, data files stay in the dataset's
    file version."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, ver, 4)
        want = lance_rows(uri)
        opts = ("name_column=name", "commit_delay=0.2")
        a = {f"a_{k:03d}": sample(src, f"a_{k:03d}", 20 + k) for k in range(2)}
        with mounted(uri, staging, *opts) as mnt:
            cp("-r", *[os.path.join(src, n) for n in a], mnt)
        want.update(plain(a))
        same_rows(lance_rows(uri), want, f"{ver} after lancefs")

        wtool("append", uri, "--rows", 3, "--prefix", "lance", "--start", 100)
        got = lance_rows(uri)
        lance = {n: r for n, r in got.items() if n.startswith("lance_")}
        expect(len(lance) == 3, f"LanceDB append: {sorted(got)}")
        want.update(lance)
        same_rows(got, want, f"{ver} after LanceDB")

        b = {f"b_{k:03d}": sample(src, f"b_{k:03d}", 30 + k) for k in range(2)}
        img = jpeg(39)
        write(os.path.join(src, "b_drop.jpg"), img)
        with mounted(uri, staging, *opts) as mnt:
            expect(listing(mnt) == sorted(want),
                   f"second mount lists {listing(mnt)}")
            cp("-r", *[os.path.join(src, n) for n in b], mnt)
            cp(os.path.join(src, "b_drop.jpg"), mnt)
        want.update(plain(b))
        want["b_drop"] = {"image": sha256(img), "caption": None,
                          "label": None, "score": None}
        same_rows(lance_rows(uri), want, f"{ver} after lancefs again")

        before = wtool("versions", uri)
        wtool("append", uri, "--rows", 2, "--prefix", "late", "--start", 200)
        got = lance_rows(uri)
        want.update({n: r for n, r in got.items() if n.startswith("late_")})
        same_rows(got, want, f"{ver} at the end")
        expect(len(want) == 4 + 2 + 3 + 3 + 2, f"{len(want)} rows")
        check_versions(uri, before, ver, len(want))
        # and a new mount reads back every row, ours and LanceDB's
        with mounted(uri, staging, "name_column=name") as mnt:
            expect(listing(mnt) == sorted(want), f"lists {listing(mnt)}")
            read_back(mnt, want, text_files=False)


def in_mount_table(path):
    """Whether `path` is a mount point, from /proc/self/mounts."""
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def lancedb_table(w, ver, rows):
    """A LanceDB-made dataset (wtool.js make) in the work folder `w`, and
    beside it a staging folder and an empty folder for sources:
    (uri, staging, src)."""
    uri = os.path.join(w, "db", "t.lance")
    src = os.path.join(w, "src")
    os.makedirs(src)
    wtool("make", uri, "--version", ver, "--rows", rows)
    return uri, os.path.join(w, "staging"), src


def bf16_bits(x):
    """The bfloat16 nearest to x (ties to even, through float32), as
    bits."""
    b = struct.unpack("<I", struct.pack("<f", x))[0]
    return (b + 0x7fff + ((b >> 16) & 1)) >> 16


def bf16_vectors(ver):
    """A LanceDB dataset with a bfloat16 vector column: meta.json shows
    its items as numbers that read back to their exact bits; a new row
    and an edit of a committed one, written as numbers, are read back by
    LanceDB as the nearest bfloat16s."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        staging = os.path.join(w, "staging")
        node("bf16.js", "make", uri, "--version", ver)
        want = node("bf16.js", "dump", uri)["rows"]
        expect(len(want) == 3, f"made {want}")
        new = [0.1, -2.5, 1e30, 3e-39]
        edit = [1.5, 2.0, -7.25, 0.0]
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            for name, bits in want.items():
                with open(os.path.join(mnt, name, "meta.json")) as f:
                    vec = json.load(f)["vec"]
                expect(all(isinstance(x, float) for x in vec) and
                       [bf16_bits(x) for x in vec] == bits,
                       f"{ver} {name}: meta.json vec {vec}, LanceDB bits "
                       f"{[hex(b) for b in bits]}")
            os.mkdir(os.path.join(mnt, "new"))
            write(os.path.join(mnt, "new", "meta.json"),
                  json.dumps({"vec": new}))
            write(os.path.join(mnt, "a", "meta.json"),
                  json.dumps({"name": "a", "vec": edit}))
        want["new"] = [bf16_bits(x) for x in new]
        want["a"] = [bf16_bits(x) for x in edit]
        got = node("bf16.js", "dump", uri)["rows"]
        expect(got == want, f"{ver}: LanceDB reads {got}, want {want}")


def same_json(a, b):
    """The same JSON: integers exactly, floats to the bit (-0.0 too),
    integers, floats and booleans never equal each other."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def json_column(ver):
    """A LanceDB dataset with a JSON column (lance.json): every row's
    meta.json holds the JSON LanceDB reads (no doc.bin file); a new row's
    meta.json, edited ones (a value, a top-level string, null) and a row
    whose image alone is replaced reach LanceDB as exactly those JSON
    values, stored in the very bytes lance's own encoder makes of them;
    the column stays lance.json."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        staging = os.path.join(w, "staging")
        wtool("make", uri, "--version", ver, "--rows", 15, "--json")
        before = {r["name"]: r for r in wtool("json", uri)["rows"]}
        doc = {n: None if r["doc"] is None else json.loads(r["doc"])
               for n, r in before.items()}
        expect(doc["row_013"][0] == 18446744073709551615 and
               doc["row_001"][2] == 9007199254740993, "wtool's docs")
        new_doc = {"new": [1, -2, 0.5, "é✓", None, True,
                           {"k": 9007199254740993}],
                   "big": -9223372036854775808, "f": 1e300, "z": [],
                   "A": {}, "esc": "q\"\\\n\u0001"}
        edited = {"row_002": [["nested"], {"b": 1, "a": 0.1}, "x",
                              9007199254740993, -5, 1e-7, -0.0, False],
                  "row_004": "a top-level string now",
                  "row_005": None}
        soft = Soft()
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            for name, want in doc.items():
                with open(os.path.join(mnt, name, "meta.json")) as f:
                    meta = json.load(f)
                soft.check(lambda: expect(
                    "doc" in meta and same_json(meta["doc"], want),
                    f"{name}/meta.json: doc is {meta.get('doc')!r}, "
                    f"LanceDB reads {want!r}"))
                soft.check(lambda: expect(
                    not [x for x in os.listdir(os.path.join(mnt, name))
                         if x.startswith("doc.")],
                    f"{name} lists {os.listdir(os.path.join(mnt, name))}"))
            os.mkdir(os.path.join(mnt, "json_new"))
            write(os.path.join(mnt, "json_new", "meta.json"),
                  json.dumps({"doc": new_doc, "label": 7}))
            for name, value in edited.items():
                p = os.path.join(mnt, name, "meta.json")
                with open(p) as f:
                    meta = json.load(f)
                meta["doc"] = value
                write(p, json.dumps(meta))
            # the committed meta.json goes through an update unedited
            write(os.path.join(mnt, "row_001", "image.jpg"), jpeg(5))
        soft.done()

        got = wtool("json", uri)
        field = got["field"]
        expect(field["logical_type"] == "json" and
               field["metadata"].get("ARROW:extension:name") ==
               "lance.json", f"the column after the commit: {field}")
        after = {r["name"]: r for r in got["rows"]}
        expect(sorted(after) == sorted(list(before) + ["json_new"]),
               f"LanceDB rows: {sorted(after)}")
        want = dict(doc, json_new=new_doc, **edited)
        # what lance itself encodes for the values lancefs wrote
        texts = [json.dumps(want[n]) for n in ["json_new", *edited]
                 if want[n] is not None]
        enc = wtool("jsonb", os.path.join(w, "scratch", "s.lance"),
                    "--texts", json.dumps(texts))
        lance_bytes = dict(zip([n for n in ["json_new", *edited]
                                if want[n] is not None], enc))
        for name, r in sorted(after.items()):
            text = r["doc"]
            value = None if text is None else json.loads(text)
            soft.check(lambda: expect(
                same_json(value, want[name]),
                f"{ver}: LanceDB reads {name} doc {text}, expected "
                f"{json.dumps(want[name])}"))
            if name in lance_bytes:
                soft.check(lambda: expect(
                    r["jsonb"] == lance_bytes[name],
                    f"{ver}: {name}: lancefs stored {r['jsonb']}, lance "
                    f"encodes {lance_bytes[name]}"))
            elif name not in edited:
                # untouched, or re-encoded from its rendering (row_001)
                soft.check(lambda: expect(
                    r["jsonb"] == before[name]["jsonb"],
                    f"{ver}: {name}: bytes {before[name]['jsonb']} became "
                    f"{r['jsonb']}"))
        soft.check(lambda: expect(after["row_005"]["jsonb"] is None,
                                  "row_005 doc is not null"))
        soft.done()


def test_new_dataset_from_cp_r():
    """A URI where nothing exists, cp -r of folders, unmount: LanceDB reads
    the inferred schema, the names, values and bytes; a new mount without
    options names the rows by the folder names and reads the same bytes.
    format_version=stable means what it means to LanceDB: 2.2."""
    for fmt in (None, "stable"):
        with workdir() as w:
            # the dataset's folder does not exist; its parent must (a
            # typo in the path should not make folders)
            uri = os.path.join(w, "db", "new.lance")
            os.mkdir(os.path.dirname(uri))
            staging = os.path.join(w, "staging")
            src = os.path.join(w, "src")
            os.makedirs(src)
            rows = samples_with_big(src, "cat", 3, 40)
            opts = ("commit_delay=0.2",) + ((f"format_version={fmt}",)
                                            if fmt else ())
            with mounted(uri, staging, *opts) as mnt:
                expect(listing(mnt) == [], "a new dataset is not empty")
                cp("-r", *[os.path.join(src, n) for n in rows], mnt)
            orc = oracle(uri)
            fields = {f["name"]: (f["arrow_type"], f["nullable"])
                      for f in orc["schema"]}
            expect(orc["schema"][0]["name"] == "name",
                   f"first column {orc['schema'][0]['name']}")
            expect(fields == {"name": ("utf8", True),
                              "image": ("binary", True),
                              "caption": ("utf8", True),
                              "label": ("int64", True),
                              "score": ("float64", True)},
                   f"inferred schema {fields}")
            expect(orc["storage_version"] == ("2.2" if fmt else "2.0"),
                   f"file version {orc['storage_version']}")
            expect(orc["version"] == 1, f"version {orc['version']}")
            same_rows(lance_rows(uri), plain(rows), f"new dataset {fmt}")
            # lancefs.name_column=name is in the config: plain mount
            with mounted(uri, staging) as mnt:
                expect(listing(mnt) == sorted(rows),
                       f"remount lists {listing(mnt)}")
                read_back(mnt, rows, text_files=False)


def test_new_dataset_inferred_from_what_commits():
    """A new dataset's schema comes from the rows of its first commit as
    assembly reads them, and holds what they hold: integers past int64
    make a uint64 column (where none is negative; else int64, and the
    row with the big one is refused for it, its other keys still giving
    their columns). A name with a dot (depth.map.png, {"a.b": 1}) or an
    empty one makes no column (LanceDB could read no version of a
    dataset with one): its row is refused, saying so; so is an empty
    object, which no column type holds."""
    with workdir() as w:
        uri = os.path.join(w, "db", "new.lance")
        os.mkdir(os.path.dirname(uri))
        staging = os.path.join(w, "staging")
        src = os.path.join(w, "src")
        img = jpeg(70)
        big = 18446744073709551615
        for n, meta in (("a", {"label": 1, "m": -1}), ("b", {"n": big}),
                        ("c", {"m": big, "note": "big"}),
                        ("d", None), ("e", {"a.b": 1}), ("f", {"": 2}),
                        ("g", {"attrs": {}})):
            os.makedirs(os.path.join(src, n))
            write(os.path.join(src, n, "image.jpg"), img)
            if meta is not None:
                write(os.path.join(src, n, "meta.json"), json.dumps(meta))
        write(os.path.join(src, "d", "depth.map.png"),
              b"\x89PNG\r\n\x1a\n" + bytes(16))
        # a mount that writes nothing leaves no folder behind
        with mounted(uri, staging) as mnt:
            expect(os.path.isdir(uri), "no dataset folder at mount")
        expect(not os.path.exists(uri), "an empty dataset folder is left")
        with mounted(uri, staging, "commit_delay=60") as mnt:
            cp("-r", *[os.path.join(src, n) for n in "abcdefg"], mnt)
            commit_now(mnt, refused=True)
            errs = errors_text(mnt)
            for want in ("c/meta.json: column 'm'", "out of range",
                         "d/depth.map.png: no column named 'depth.map': "
                         "Lance column names hold no '.'",
                         "e/meta.json: no column named 'a.b'",
                         "f/meta.json: no column named '': an empty name",
                         "g/meta.json: column 'attrs': expected a string, "
                         "found an empty object (write null)"):
                expect(want in errs, f"no {want!r} in errors {errs!r}")
        fields = {f["name"]: f["arrow_type"] for f in oracle(uri)["schema"]}
        expect(fields == {"name": "utf8", "image": "binary", "label": "int64",
                          "m": "int64", "n": "uint64", "note": "utf8",
                          "attrs": "utf8"},
               f"inferred schema {fields}")
        rows = {r["values"]["name"]: r["values"]
                for r in oracle(uri)["rows"]}
        expect(sorted(rows) == ["a", "b"] and rows["b"]["n"] == big,
               f"LanceDB rows {rows}")


def test_rows_committed_while_listed():
    """ls of the root of a dataset with no name column, read a page at a
    time while a commit lands the staged folders it has not reached:
    each is listed under the name it had when the listing began (the
    listing is of that moment), none left out. Before, a folder whose
    entry could no longer be made (its row landed under a row number)
    was left out of readdirplus: in about half the runs."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 300)
        staged = [f"s{k:03d}" for k in range(40)]
        with mounted(uri, staging, "commit_delay=60") as mnt:
            for n in staged:
                os.mkdir(os.path.join(mnt, n))
                write(os.path.join(mnt, n, "meta.json"), '{"label": 7}')
            fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
            try:
                seen = getdents(fd)
                expect(not set(seen) & set(staged), f"first page {seen}")
                commit_now(mnt)
                seen += rest(fd)
            finally:
                os.close(fd)
            names = [n for n in seen if n not in (".", "..")]
            missing = sorted(set(staged) - set(names))
            expect(not missing, f"not listed: {missing}")
            expect(len(names) == 300 + len(staged),
                   f"{len(names)} names listed")
            expect(len(listing(mnt)) == 340 and
                   not set(listing(mnt)) & set(staged),
                   "after the commit")


def test_fsync_commits_now():
    """sync FILE, fsync() of an open file and of a row folder each commit
    at once (commit_delay=60): a separate LanceDB process sees the row
    while the mount stays mounted, and nothing is committed twice; what
    is written through the descriptor after its fsync commits too (as a
    change of that row)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            # closed files, then coreutils sync FILE
            a = sample(src, "fs_a", 60)
            cp("-r", os.path.join(src, "fs_a"), mnt)
            r = subprocess.run(["sync", os.path.join(mnt, "fs_a",
                                                     "meta.json")],
                               capture_output=True, text=True, timeout=120)
            expect(r.returncode == 0, f"sync FILE: {r.stderr.strip()}")
            expect(os.path.ismount(mnt), "not mounted")
            want["fs_a"] = plain1(a)
            same_rows(lance_rows(uri), want, "after sync FILE")

            # fsync of a file still open for writing
            os.mkdir(os.path.join(mnt, "fs_b"))
            img = jpeg(61, 300, 200)
            fd = os.open(os.path.join(mnt, "fs_b", "image.jpg"),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                half = len(img) // 2
                os.write(fd, img[:half])
                os.write(fd, img[half:])
                os.fsync(fd)
                want["fs_b"] = new_row(img)
                same_rows(lance_rows(uri), want, "after fsync(fd)")
                # what is written after the fsync commits too
                img2 = jpeg(64, 300, 200)
                os.pwrite(fd, img2, 0)
                os.ftruncate(fd, len(img2))
            finally:
                os.close(fd)
            want["fs_b"]["image"] = sha256(img2)
            commit_now(mnt)
            same_rows(lance_rows(uri), want, "after writes past the fsync")

            # fsync of the row folder
            c = sample(src, "fs_c", 62)
            cp("-r", os.path.join(src, "fs_c"), mnt)
            expect(fsync_path(os.path.join(mnt, "fs_c")) == 0,
                   "fsync of a staged row folder failed")
            want["fs_c"] = plain1(c)
            same_rows(lance_rows(uri), want, "after fsync(folder)")
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 0 and st["commits"] == 4,
                   f"status after three fsyncs and a commit: {st}")

            # sync FILE of an overwritten file of a committed row
            img = jpeg(63)
            write(os.path.join(mnt, "row_000", "image.jpg"), img)
            r = subprocess.run(["sync", os.path.join(mnt, "row_000",
                                                     "image.jpg")],
                               capture_output=True, text=True, timeout=120)
            expect(r.returncode == 0, f"sync FILE: {r.stderr.strip()}")
            want["row_000"] = dict(want["row_000"], image=sha256(img))
            same_rows(lance_rows(uri), want, "after sync of an update")
        same_rows(lance_rows(uri), want, "after umount")


def test_close_during_a_forced_commit():
    """One process writes a file of a row while another fsyncs the row's
    folder, which commits the row with that file open; the writer writes
    again and closes before the version lands (held back by strace at
    the manifest's link). What it wrote after the commit read the file
    is committed by the next commit: LanceDB reads it."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            row = os.path.join(mnt, "fc")
            os.mkdir(row)
            fd = os.open(os.path.join(row, "meta.json"),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            tracer = None
            try:
                os.write(fd, b'{"label": 1}')
                calls = "link,linkat"
                tracer = subprocess.Popen(
                    ["strace", "-f", "-o", "/dev/null",
                     "-p", str(status(mnt)["pid"]), "-e", "trace=" + calls,
                     "-e", f"inject={calls}:delay_enter=3000000"],
                    stderr=subprocess.PIPE, text=True)
                expect(any("attached" in ln for ln in tracer.stderr),
                       "strace did not attach")
                done = []
                t = threading.Thread(
                    target=lambda: done.append(fsync_path(row)))
                t.start()
                # the manifest waits in its temp file for its link
                versions = os.path.join(uri, "_versions")
                deadline = time.monotonic() + 60
                while not any(n.endswith(".tmp") for n in
                              os.listdir(versions)):
                    expect(time.monotonic() < deadline,
                           "the forced commit wrote no manifest")
                    time.sleep(0.005)
                os.pwrite(fd, b'{"label": 2}', 0)	# same length
            finally:
                os.close(fd)
                if tracer:
                    t.join(120)
                    tracer.terminate()
                    tracer.wait()
            expect(done == [0], f"fsync of the row folder: {done}")
            want["fc"] = new_row(label=1)
            same_rows(lance_rows(uri), want, "after the fsync")
            commit_now(mnt)
            want["fc"]["label"] = 2
            same_rows(lance_rows(uri), want, "after the next commit")
        same_rows(lance_rows(uri), want, "after umount")


def test_committed_file_open_past_its_fsync():
    """A committed row's image opened read-write, rewritten longer and
    fsynced (the row is committed under the descriptor, and stays
    staged): once the kernel asks again, the descriptor's fstat and
    reads still see the whole file, and fchmod, futimens and ftruncate
    through it work; what it holds at close is committed."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            path = os.path.join(mnt, "row_001", "image.jpg")
            img, short = jpeg(81, 300, 200), jpeg(82, 40, 30)
            expect(len(img) > os.stat(path).st_size > 0, "image sizes")
            fd = os.open(path, os.O_RDWR)
            try:
                os.write(fd, img)
                os.fsync(fd)
                want["row_001"]["image"] = sha256(img)
                same_rows(lance_rows(uri), want, "after the fsync")
                time.sleep(1.3)	# the kernel's attributes expire
                size = os.fstat(fd).st_size
                expect(size == len(img),
                       f"fstat after the fsync: {size}, not {len(img)}")
                got = os.pread(fd, len(img) + 10, 0)
                expect(got == img, f"pread after the fsync: {len(got)} "
                       f"bytes of {len(img)}")
                os.fchmod(fd, 0o644)
                os.utime(fd)
                os.pwrite(fd, short, 0)
                os.ftruncate(fd, len(short))
                expect(os.fstat(fd).st_size == len(short),
                       "fstat after ftruncate")
            finally:
                os.close(fd)
            commit_now(mnt)
            want["row_001"]["image"] = sha256(short)
            same_rows(lance_rows(uri), want, "after the close")
        same_rows(lance_rows(uri), want, "after umount")


def test_staged_file_open_past_its_commit():
    """A file of a new row opened for reading, then its row committed:
    the descriptor's fstat, mmap and reads go on as before."""
    import mmap
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 1)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            img = jpeg(85, 200, 150)
            os.mkdir(os.path.join(src, "rd"))
            write(os.path.join(src, "rd", "image.jpg"), img)
            cp("-r", os.path.join(src, "rd"), mnt)
            fd = os.open(os.path.join(mnt, "rd", "image.jpg"), os.O_RDONLY)
            try:
                commit_now(mnt)
                expect("rd" in lance_rows(uri), "rd committed")
                time.sleep(1.3)	# the kernel's attributes expire
                size = os.fstat(fd).st_size
                expect(size == len(img), f"fstat after the commit: {size}")
                with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as m:
                    expect(m[:] == img, "mmap after the commit")
                expect(os.pread(fd, len(img) + 1, 0) == img,
                       "pread after the commit")
            finally:
                os.close(fd)


def test_fallocate_and_symlink():
    """fallocate(1) of a staged file, then its bytes written, commits
    those bytes; ln -s, mkfifo and mknod of a socket in a row folder and
    at the root are EPERM."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 1)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            os.mkdir(os.path.join(mnt, "fa"))
            img = jpeg(87, 150, 100)
            path = os.path.join(mnt, "fa", "image.jpg")
            # util-linux's fallocate: the system call itself (glibc's
            # posix_fallocate would write zeros where it fails)
            r = subprocess.run(["fallocate", "-l", str(len(img)), path],
                               capture_output=True, text=True, timeout=60)
            expect(r.returncode == 0, f"fallocate: {r.stderr.strip()}")
            expect(os.stat(path).st_size == len(img), "fallocate's size")
            with open(path, "r+b") as f:
                f.write(img)
            # nor other kinds than files and folders, in a row or at
            # the root
            kinds = (("ln -s", lambda p: os.symlink("image.jpg", p)),
                     ("mkfifo", os.mkfifo),
                     ("mknod", lambda p: os.mknod(p, 0o600 | stat.S_IFSOCK)))
            for what, make in kinds:
                for where in ("fa", ""):
                    p = os.path.join(mnt, where, "other")
                    e = errno_of(make, p)
                    expect(e == errno.EPERM, f"{what} {p}: errno {e}")
            commit_now(mnt)
            want["fa"] = new_row(img)
            same_rows(lance_rows(uri), want, "after fallocate")


def test_tar_with_xattrs():
    """tar --xattrs -x of an archive whose files carry extended attributes
    (as macOS's tar and browsers' downloads leave) makes each file with
    mknod, then opens it: every image and caption commits, and tar exits
    0 (only a warning for the attributes, which a row cannot keep). A
    file made by mknod alone is a row's empty file."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 1)
        want = lance_rows(uri)
        rows = {f"tx{k}": sample(src, f"tx{k}", 600 + k) for k in range(3)}
        for n in rows:
            os.setxattr(os.path.join(src, n, "image.jpg"),
                        "user.xdg.origin.url", b"https://example.org/x")
        archive = os.path.join(w, "rows.tar")
        subprocess.run(["tar", "--xattrs", "-cf", archive, "-C", src,
                        *rows], check=True, timeout=60)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            r = subprocess.run(["tar", "--xattrs", "-xf", archive, "-C",
                                mnt], capture_output=True, text=True,
                               timeout=120)
            expect(r.returncode == 0, f"tar -x: exit {r.returncode}: "
                   f"{r.stderr.strip()}")
            for n, row in rows.items():
                got = file_sha(os.path.join(mnt, n, "image.jpg"))
                expect(got == row["image"], f"{n}/image.jpg staged as {got}")
            os.mkdir(os.path.join(mnt, "bare"))
            os.mknod(os.path.join(mnt, "bare", "caption.txt"),
                     0o644 | stat.S_IFREG)
            st = os.stat(os.path.join(mnt, "bare", "caption.txt"))
            expect(stat.S_ISREG(st.st_mode) and st.st_size == 0,
                   f"mknod's file: mode {st.st_mode:o}, size {st.st_size}")
            commit_now(mnt)
            want.update(plain(rows))
            want["bare"] = new_row(caption="")
            same_rows(lance_rows(uri), want, "after tar -x")
            expect(errors_text(mnt) == "", f"errors: {errors_text(mnt)}")


def test_hard_links_are_copies():
    """tar -x of an archive that recorded a hard link (two rows sharing
    one image) commits both images, tar exiting 0. ln of a committed
    file, or of a staged one, into another row makes that row's own copy:
    a later write to the first leaves it as it was."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.2", 2)
        want = lance_rows(uri)
        rows = {f"hl{k}": sample(src, f"hl{k}", 640 + k) for k in range(2)}
        os.unlink(os.path.join(src, "hl1", "image.jpg"))
        os.link(os.path.join(src, "hl0", "image.jpg"),
                os.path.join(src, "hl1", "image.jpg"))
        rows["hl1"]["image"] = rows["hl0"]["image"]
        archive = os.path.join(w, "rows.tar")
        subprocess.run(["tar", "-cf", archive, "-C", src, *rows],
                       check=True, timeout=60)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            r = subprocess.run(["tar", "-xf", archive, "-C", mnt],
                               capture_output=True, text=True, timeout=120)
            expect(r.returncode == 0, f"tar -x: exit {r.returncode}: "
                   f"{r.stderr.strip()}")
            # a committed file and a staged one, linked into new rows
            os.mkdir(os.path.join(mnt, "lc"))
            os.link(os.path.join(mnt, "row_000", "image.jpg"),
                    os.path.join(mnt, "lc", "image.jpg"))
            os.mkdir(os.path.join(mnt, "ls"))
            os.link(os.path.join(mnt, "hl0", "caption.txt"),
                    os.path.join(mnt, "ls", "caption.txt"))
            write(os.path.join(mnt, "hl0", "caption.txt"), "changed")
            e = errno_of(os.link, os.path.join(mnt, "hl0", "image.jpg"),
                         os.path.join(mnt, "ls", "caption.txt"))
            expect(e == errno.EEXIST, f"ln onto a file: errno {e}")
            commit_now(mnt)
            want.update(plain(rows))
            want["ls"] = new_row(caption=rows["hl0"]["caption"])
            want["hl0"]["caption"] = "changed"
            want["lc"] = new_row(caption=None)
            want["lc"]["image"] = want["row_000"]["image"]
            same_rows(lance_rows(uri), want, "after tar -x and ln")
            expect(errors_text(mnt) == "", f"errors: {errors_text(mnt)}")


def test_dd_oflag_direct():
    """dd oflag=direct (O_DIRECT, then a short last block it writes with
    O_DIRECT taken off by fcntl) into a new row and over a committed
    image: dd succeeds and LanceDB reads the bytes."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            os.mkdir(os.path.join(mnt, "dio"))
            for k, (dst, row) in enumerate(((("dio", "image.jpg"), "dio"),
                                             (("row_000", "image.jpg"),
                                              "row_000"))):
                data = jpeg(90 + k, 120, 100)
                expect(len(data) % 512, "a size dd writes in part")
                path = os.path.join(src, f"d{k}.jpg")
                write(path, data)
                r = subprocess.run(["dd", f"if={path}",
                                    f"of={os.path.join(mnt, *dst)}",
                                    "oflag=direct", "bs=4096"],
                                   capture_output=True, text=True,
                                   timeout=60)
                expect(r.returncode == 0, f"dd into {row}: {r.stderr}")
                want[row] = dict(want.get(row, new_row()),
                                 image=sha256(data))
            commit_now(mnt)
            same_rows(lance_rows(uri), want, "after dd")


def test_file_of_a_column_under_another_name():
    """A file whose column a committed row shows under another extension
    (image.png copied into a row showing image.jpg) takes that file's
    place: the row folder lists it alone and LanceDB reads its bytes;
    removed or moved away (not when renamed in its place), it takes the
    committed file with it.
    A row that stays staged after its fsync, its image named image.jpeg
    (the view names it image.jpg once committed), commits what is
    written after the fsync, and nothing when nothing is."""
    from PIL import Image
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.2", 3)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            buf = io.BytesIO()
            Image.new("RGB", (20, 10), (255, 0, 0)).save(buf, "PNG")
            png = buf.getvalue()

            def files(row):
                return sorted(os.listdir(os.path.join(mnt, row)))

            for row in ("row_000", "row_001", "row_002"):
                write(os.path.join(mnt, row, "image.png"), png)
                expect(files(row) == ["image.png", "meta.json"],
                       f"{row} with image.png staged lists {files(row)}")
            # renamed in its place (same column), then removed: the
            # committed image goes as at its own rm
            os.rename(os.path.join(mnt, "row_001", "image.png"),
                      os.path.join(mnt, "row_001", "image.jpeg"))
            expect(files("row_001") == ["image.jpeg", "meta.json"],
                   f"row_001 after the rename lists {files('row_001')}")
            os.unlink(os.path.join(mnt, "row_001", "image.jpeg"))
            # moved away, to a new row
            os.mkdir(os.path.join(mnt, "moved"))
            os.rename(os.path.join(mnt, "row_002", "image.png"),
                      os.path.join(mnt, "moved", "image.png"))
            for row in ("row_001", "row_002"):
                expect(files(row) == ["meta.json"],
                       f"{row} after its image.png went lists {files(row)}")
            commit_now(mnt)
            want["row_000"]["image"] = sha256(png)
            want["row_001"]["image"] = want["row_002"]["image"] = None
            want["moved"] = new_row(png)
            same_rows(lance_rows(uri), want, "after image.png")
            expect(status(mnt)["writes"]["refused_rows"] == 0,
                   f"refused: {status(mnt)['writes']}")

            for k, later in enumerate((jpeg(71), None)):
                row = os.path.join(mnt, f"st_{k}")
                os.mkdir(row)
                img = jpeg(70 + 2 * k)
                fd = os.open(os.path.join(row, "image.jpeg"),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    os.write(fd, img)
                    expect(fsync_path(row) == 0, "fsync of the row folder")
                    if later:
                        os.pwrite(fd, later, 0)
                        os.ftruncate(fd, len(later))
                finally:
                    os.close(fd)
                before = status(mnt)["writes"]["commits"]
                commit_now(mnt)
                want[f"st_{k}"] = new_row(later or img)
                same_rows(lance_rows(uri), want, f"after st_{k}")
                st = status(mnt)["writes"]
                expect(st["refused_rows"] == 0 and st["staged_rows"] == 0,
                       f"st_{k}: {st}")
                expect(st["commits"] == before + bool(later),
                       f"st_{k}: {st['commits'] - before} commits by the "
                       "commit after the close")
        same_rows(lance_rows(uri), want, "after umount")


def cachestat(path):
    """(dirty, under writeback) pages of a file's page cache, from
    cachestat(2) (Linux 6.5); None where the kernel lacks it."""
    import ctypes

    class Range(ctypes.Structure):
        _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]

    class Stat(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64) for n in
                    ("cache", "dirty", "writeback", "evicted", "recent")]

    libc = ctypes.CDLL(None, use_errno=True)
    rng, st = Range(0, 0), Stat()   # len 0: to the end of the file
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syscall(451, fd, ctypes.byref(rng), ctypes.byref(st), 0):
            err = ctypes.get_errno()
            if err == errno.ENOSYS:
                return None
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)
    return st.dirty, st.writeback


def test_closed_files_reach_the_disk():
    """Staged bytes reach the disk once. A row committed within its quiet
    period (the default commit_delay) is never synced in the staging: its
    bytes go to the disk in the data file only. A row that waits
    (commit_delay=60) is synced by lancefs within seconds, though nothing
    commits: then no page of its staged copy is dirty (cachestat(2)).
    Both rows are in LanceDB after unmount."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name") as mnt:
            b = sample(src, "disk_b", 71, size=(400, 300))
            cp("-r", os.path.join(src, "disk_b"), mnt)
            wait_committed(mnt)
            st = status(mnt)["writes"]
            expect(st["staging_syncs"] == 0,
                   f"the staging was synced for a row that committed "
                   f"within commit_delay: {st}")
        want["disk_b"] = plain1(b)
        same_rows(lance_rows(uri), want, "after the first mount")

        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            a = sample(src, "disk_a", 70, size=(400, 300))
            cp("-r", os.path.join(src, "disk_a"), mnt)
            t0 = time.time()
            staged = [os.path.join(d, f) for d, _, fs in os.walk(staging)
                      for f in fs if f == "image.jpg"]
            expect(len(staged) == 1, f"staged copies of image.jpg: {staged}")
            if cachestat(staged[0]) is None:
                print("  skipped: this kernel has no cachestat(2)")
                return
            # another process's sync may clean it first: what counts is
            # that lancefs syncs it on its own, and that it is clean then
            wait_for(lambda: status(mnt)["writes"]["staging_syncs"] >= 1,
                     lambda: f"no staging sync: {status(mnt)['writes']}",
                     timeout=20)
            expect(cachestat(staged[0]) == (0, 0),
                   f"dirty pages after the sync: {cachestat(staged[0])}")
            print(f"  synced {time.time() - t0:.1f} s after cp")
            expect(status(mnt)["writes"]["staged_rows"] == 1,
                   "the row did not wait for commit_delay")
        want["disk_a"] = plain1(a)
        same_rows(lance_rows(uri), want, "after umount")


def test_staged_rows_visible_at_once():
    """After cp -r and before any commit the staged folders are listed,
    their files read back the bytes written, .lancefs/status counts them,
    and LanceDB does not have them yet."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.2", 3)
        want = lance_rows(uri)
        rows = {f"vis_{k:03d}": sample(src, f"vis_{k:03d}", 70 + k)
                for k in range(2)}
        drop = jpeg(79)
        write(os.path.join(src, "vis_drop.jpg"), drop)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            v0 = status(mnt)["version"]
            cp("-r", *[os.path.join(src, n) for n in rows], mnt)
            cp(os.path.join(src, "vis_drop.jpg"), mnt)
            names = listing(mnt)
            expect(names == sorted(list(want) + list(rows) +
                                   ["vis_drop.jpg"]),
                   f"mount lists {names}")
            expect(os.path.isfile(os.path.join(mnt, "vis_drop.jpg")),
                   "staged root file is no regular file")
            expect(file_sha(os.path.join(mnt, "vis_drop.jpg")) ==
                   sha256(drop), "staged root file reads other bytes")
            for n in rows:
                d = os.path.join(mnt, n)
                expect(sorted(os.listdir(d)) ==
                       ["caption.txt", "image.jpg", "meta.json"],
                       f"{n} lists {os.listdir(d)}")
                for f in os.listdir(d):
                    with open(os.path.join(src, n, f), "rb") as a, \
                            open(os.path.join(d, f), "rb") as b:
                        expect(a.read() == b.read(), f"{n}/{f} reads "
                               "other bytes than were written")
                    expect(os.stat(os.path.join(d, f)).st_size ==
                           os.stat(os.path.join(src, n, f)).st_size,
                           f"{n}/{f}: st_size")
            st = status(mnt)
            expect(st["writes"]["staged_rows"] == 3,
                   f"status staged_rows: {st['writes']}")
            expect(st["writes"]["staged_bytes"] > 0, f"status {st['writes']}")
            expect(st["writes"]["commits"] == 0 and st["version"] == v0,
                   f"committed early: {st}")
            expect(isinstance(st.get("pid"), int), f"status pid {st}")
            # top -H and ps -L name the daemon's threads (lancefs.1)
            task = f"/proc/{st['pid']}/task"
            threads = set()
            for t in os.listdir(task):
                with open(os.path.join(task, t, "comm")) as f:
                    threads.add(f.read().strip())
            expect({"lancefs fuse", "lancefs commit",
                    "lancefs spares"} <= threads,
                   f"daemon thread names {sorted(threads)}")
            same_rows(lance_rows(uri), want, "LanceDB before any commit")
        want.update(plain(rows))
        want["vis_drop"] = {"image": sha256(drop), "caption": None,
                            "label": None, "score": None}
        same_rows(lance_rows(uri), want, "after umount")


def test_commit_file_and_command():
    """Writing .lancefs/commit and `lancefs commit MNT` commit at once
    (commit_delay=60); the command prints the new version."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        a = {"c_000": sample(src, "c_000", 80)}
        b = {"c_001": sample(src, "c_001", 81)}
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            cp("-r", os.path.join(src, "c_000"), mnt)
            with open(os.path.join(mnt, ".lancefs", "commit"), "w") as f:
                f.write("1\n")
            want.update(plain(a))
            same_rows(lance_rows(uri), want, "after .lancefs/commit")
            orc = oracle(uri)
            st = status(mnt)
            expect(st["writes"]["commits"] == 1 and
                   st["writes"]["last_version"] == orc["version"] and
                   st["writes"]["staged_rows"] == 0 and
                   st["version"] == orc["version"],
                   f"status {st}, LanceDB version {orc['version']}")
            cp("-r", os.path.join(src, "c_001"), mnt)
            r = lancefs("commit", mnt)
            want.update(plain(b))
            same_rows(lance_rows(uri), want, "after lancefs commit")
            v = oracle(uri)["version"]
            expect(str(v) in re.findall(r"\d+", r.stdout),
                   f"lancefs commit printed {r.stdout!r}, version is {v}")
            expect(status(mnt)["writes"]["commits"] == 2, "commits")
            expect("c_001" in listing(mnt), "committed row not listed")
        # after a commit that is no append (rm -r of every row), the
        # status shows the new version: lancefs commit prints it
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            for k in range(4):
                for name in listing(mnt):
                    shutil.rmtree(os.path.join(mnt, name))
                r = lancefs("commit", mnt)
                v = oracle(uri)["version"]
                expect(r.stdout.split() == [str(v)] and
                       status(mnt)["version"] == v,
                       f"lancefs commit of rm -r printed {r.stdout!r}, "
                       f"status {status(mnt)['version']}; version is {v}")
                cp("-r", os.path.join(src, "c_000"),
                   os.path.join(src, "c_001"), mnt)
                lancefs("commit", mnt)


def commit_with_versions_away(uri, mnt):
    """lancefs commit MNT while dataset `uri`'s _versions/ is away (its
    store cannot list its versions); put back after."""
    versions = os.path.join(uri, "_versions")
    os.rename(versions, versions + ".away")
    try:
        return lancefs("commit", mnt, check=False)
    finally:
        os.rename(versions + ".away", versions)


def test_failed_commit_says_why():
    """A commit the store fails (here: the dataset's _versions/ cannot be
    listed) exits 2 from lancefs commit, naming the reason there, in
    .lancefs/errors and as the status's last error; the change stays
    staged and commits once the store is back, and the last error is
    gone once nothing is refused."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 3)
        want = lance_rows(uri)
        gone = sorted(want)[0]
        del want[gone]
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            shutil.rmtree(os.path.join(mnt, gone))
            r = commit_with_versions_away(uri, mnt)
            why = "_versions/ holds no manifest"
            expect(r.returncode == 2 and why in r.stderr,
                   f"failed commit: exit {r.returncode}, {r.stderr!r}")
            expect(why in errors_text(mnt),
                   f".lancefs/errors: {errors_text(mnt)!r}")
            expect(why in (status(mnt)["writes"]["last_error"] or ""),
                   f"status writes {status(mnt)['writes']}")
            # a row refused next: lancefs commit lists that refusal
            # alone, not the failure noted before
            os.mkdir(os.path.join(mnt, "x"))
            write(os.path.join(mnt, "x", "meta.json"), '{"nope": 1}')
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "x/meta.json: no column named "
                   "'nope'" in r.stderr and why not in r.stderr,
                   f"commit refusing x: exit {r.returncode}, {r.stderr!r}")
            # and another's next; once that one is gone, x alone again
            os.mkdir(os.path.join(mnt, "y"))
            write(os.path.join(mnt, "y", "meta.json"), '{"nix": 1}')
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "x/meta.json" in r.stderr and
                   "y/meta.json" in r.stderr,
                   f"commit refusing x and y: {r.stderr!r}")
            shutil.rmtree(os.path.join(mnt, "y"))
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "x/meta.json" in r.stderr and
                   "y/meta.json" not in r.stderr,
                   f"commit refusing x, y gone: {r.stderr!r}")
            expect("nope" in (status(mnt)["writes"]["last_error"] or ""),
                   f"x refused: status writes {status(mnt)['writes']}")
            # a failure while x stays refused: the failure, then x's
            # refusal again once a commit goes through
            gone = sorted(want)[0]
            del want[gone]
            shutil.rmtree(os.path.join(mnt, gone))
            commit_with_versions_away(uri, mnt)
            expect(why in (status(mnt)["writes"]["last_error"] or ""),
                   f"failure over x: status {status(mnt)['writes']}")
            lancefs("commit", mnt, check=False)
            expect("nope" in (status(mnt)["writes"]["last_error"] or ""),
                   f"x still refused: status {status(mnt)['writes']}")
            shutil.rmtree(os.path.join(mnt, "x"))
            lancefs("commit", mnt)
            # nothing stands in the way any more: no last error (the
            # errors file keeps the story)
            st = status(mnt)["writes"]
            expect(st["last_error"] is None and st["refused_rows"] == 0,
                   f"after all committed: status writes {st}")
            expect("nope" in errors_text(mnt) and why in errors_text(mnt),
                   f".lancefs/errors: {errors_text(mnt)!r}")
            # a failed commit whose row is removed before the next: the
            # next commits nothing, and the failure stands no more
            os.mkdir(os.path.join(mnt, "c"))
            write(os.path.join(mnt, "c", "meta.json"), '{"label": 5}')
            commit_with_versions_away(uri, mnt)
            shutil.rmtree(os.path.join(mnt, "c"))
            lancefs("commit", mnt)
            st = status(mnt)["writes"]
            expect(st["last_error"] is None,
                   f"after a commit of nothing: status writes {st}")
        same_rows(lance_rows(uri), want, "after the store came back")


def test_quiet_period_batches_commits():
    """cp -r of 200 small folders with the default commit_delay makes a
    handful of versions, not 200; every row arrives."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        rows = {}
        for k in range(200):
            rows[f"q_{k:03d}"] = sample(src, f"q_{k:03d}", 1000 + k,
                                        caption=k % 3 == 0, size=(8, 8))
        before = wtool("versions", uri)
        with mounted(uri, staging, "name_column=name") as mnt:
            cp("-r", *[os.path.join(src, n) for n in sorted(rows)], mnt)
            wait_committed(mnt, timeout=120)
            made = status(mnt)["writes"]["commits"]
        want.update(plain(rows))
        same_rows(lance_rows(uri), want, "200 folders")
        after = wtool("versions", uri)
        new = after["latest"] - before["latest"]
        expect(1 <= new < 10, f"cp -r of 200 folders made {new} versions "
               f"({made} commits before umount)")
        print(f"  cp -r of 200 folders: {new} version(s)")


def test_status_shows_commit_delay_as_given():
    """lancefs status prints commit_delay=0.3 as 0.3 (it printed
    0.29999999999999999)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 1)
        with mounted(uri, staging, "commit_delay=0.3") as mnt:
            lines = [" ".join(line.split()) for line in
                     lancefs("status", mnt).stdout.splitlines()]
            got = [x for x in lines if x.startswith("writes.commit_delay")]
            expect(got == ["writes.commit_delay 0.3"],
                   f"lancefs status: {got}")


def test_users_staging_dir_stays():
    """A staging_dir= folder the user made stays (empty) after the
    unmount, whether the mount wrote or not, also after a mount left a
    refused row in it; one lancefs made is removed; one holding other
    files is refused, naming it."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 1)
        want = lance_rows(uri)
        want.update(plain({"s_0": sample(src, "s_0", 7, size=(8, 8))}))
        os.mkdir(staging)
        with mounted(uri, staging, "name_column=name") as mnt:
            cp("-r", os.path.join(src, "s_0"), mnt)
        expect(os.path.isdir(staging) and not os.listdir(staging),
               f"the user's staging_dir=: {os.path.exists(staging)} "
               f"{os.listdir(staging) if os.path.isdir(staging) else ''}")
        with mounted(uri, staging, "name_column=name"):
            pass
        expect(os.path.isdir(staging) and not os.listdir(staging),
               "the user's staging_dir= after a mount that wrote nothing")
        same_rows(lance_rows(uri), want, "s_0 committed")
        # a refused row stays staged across an unmount; once removed,
        # the folder is still the user's
        with mounted(uri, staging, "name_column=name") as mnt:
            os.mkdir(os.path.join(mnt, "bad"))
            write(os.path.join(mnt, "bad", "meta.json"), '{"nope": 1}')
            commit_now(mnt, refused=True)
        expect(len(os.listdir(staging)) > 1, "the refused row's staging")
        with mounted(uri, staging, "name_column=name") as mnt:
            shutil.rmtree(os.path.join(mnt, "bad"))
        expect(os.path.isdir(staging) and not os.listdir(staging),
               "the user's staging_dir= after a refused row went: " +
               str(os.listdir(staging) if os.path.isdir(staging) else ""))
        # a folder of other files is not taken
        write(os.path.join(staging, "notes.txt"), "mine")
        with mountpoint() as mnt:
            r = lancefs("mount", "-o", f"staging_dir={staging}", uri, mnt,
                        check=False)
            if r.returncode == 0:
                lancefs("umount", mnt)
            expect(r.returncode == 1 and staging in r.stderr and
                   "empty or new folder" in r.stderr,
                   f"mount on a folder of other files: exit "
                   f"{r.returncode} {r.stderr!r}")
        expect(os.listdir(staging) == ["notes.txt"],
               f"the user's files: {os.listdir(staging)}")
        os.remove(os.path.join(staging, "notes.txt"))
        os.rmdir(staging)
        with mounted(uri, staging, "name_column=name") as mnt:
            shutil.rmtree(os.path.join(mnt, "s_0"))
        expect(not os.path.exists(staging), "a staging lancefs made stays")


# A JPEG start (SOI, APP0) and then noise: no frame, nothing decodes it.
BAD_JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01"
            b"\x00\x00" + bytes((k * 37 + 11) % 251 for k in range(2000)))


def bad_cases(good):
    """(row, files written (None: a folder), the file the refusal must
    name (None: only the row), the fix (op, file, data; None = the good
    image), the values LanceDB then holds)."""
    return [
        ("bad_unknown", {"image.jpg": good, "meta.json": '{"label": 1}',
                         "extra.bin": b"\x00\x01"}, "extra.bin",
         ("rm", "extra.bin", None),
         {"label": 1, "score": None, "caption": None}),
        ("bad_json", {"image.jpg": good, "meta.json": '{"label": '},
         "meta.json", ("write", "meta.json", '{"label": 2, "score": 0.5}'),
         {"label": 2, "score": 0.5, "caption": None}),
        # an empty meta.json (touch), fixed by one with a byte order
        # mark (as Windows' editors write it)
        ("bad_empty_json", {"image.jpg": good, "meta.json": ""},
         "meta.json", ("write", "meta.json", '\ufeff{"label": 8}'),
         {"label": 8, "score": None, "caption": None}),
        ("bad_type", {"image.jpg": good, "meta.json": '{"label": "seven"}'},
         "meta.json", ("write", "meta.json", '{"label": 7}'),
         {"label": 7, "score": None, "caption": None}),
        ("bad_utf8", {"image.jpg": good, "meta.json": '{"label": 4}',
                      "caption.txt": b"caf\xe9 \xff\xfe"}, "caption.txt",
         ("write", "caption.txt", "café ✓".encode()),
         {"label": 4, "score": None, "caption": "café ✓"}),
        ("bad_missing", {"image.jpg": good, "meta.json": '{"score": 1.5}'},
         None, ("write", "meta.json", '{"label": 5, "score": 1.5}'),
         {"label": 5, "score": 1.5, "caption": None}),
        ("bad_jpeg", {"image.jpg": BAD_JPEG, "meta.json": '{"label": 6}'},
         "image.jpg", ("write", "image.jpg", None),
         {"label": 6, "score": None, "caption": None}),
    ]


def test_bad_input_refused_then_fixed():
    """Each kind of bad input: fsync fails with EINVAL, `lancefs commit`
    fails, .lancefs/errors names the row and file, the row stays listed
    and out of LanceDB; once fixed, fsync commits it and LanceDB reads it."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        staging = os.path.join(w, "staging")
        wtool("make", uri, "--version", "2.2", "--rows", 3,
              "--required", "label")
        orc = oracle(uri)
        expect([f["nullable"] for f in orc["schema"]
                if f["name"] == "label"] == [False], "label is nullable")
        want = lance_rows(uri)
        good = jpeg(90, 40, 30)
        problems = []
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "validate_images", "commit_delay=60") as mnt:
            for row, files, bad, fix, values in bad_cases(good):
                try:
                    d = os.path.join(mnt, row)
                    os.mkdir(d)
                    for f, data in files.items():
                        if data is None:
                            os.mkdir(os.path.join(d, f))
                        else:
                            write(os.path.join(d, f), data)
                    target = os.path.join(d, bad if files.get(bad) is not
                                          None else "meta.json")
                    rc = fsync_path(target)
                    expect(rc == errno.EINVAL, f"fsync gave "
                           f"{errno.errorcode.get(rc, rc)}, not EINVAL")
                    r = lancefs("commit", mnt, check=False)
                    expect(r.returncode != 0 and r.stderr.strip(),
                           f"lancefs commit: exit {r.returncode}, "
                           f"stderr {r.stderr!r}")
                    errs = errors_text(mnt)
                    key = f"{row}/{bad}" if bad else row
                    expect(any(key in line for line in errs.splitlines()),
                           f".lancefs/errors has no line naming {key}: "
                           f"{errs!r}")
                    expect(row in listing(mnt), "refused row not listed")
                    expect(status(mnt)["writes"]["refused_rows"] >= 1,
                           f"status {status(mnt)['writes']}")
                    expect(row not in lance_rows(uri), "refused row in "
                           "LanceDB")
                    op, f, data = fix
                    if op == "rm":
                        os.unlink(os.path.join(d, f))
                    elif op == "rmdir":
                        os.rmdir(os.path.join(d, f))
                    else:
                        write(os.path.join(d, f),
                              good if data is None else data)
                    rc = fsync_path(os.path.join(d, "image.jpg"))
                    expect(rc == 0, f"after the fix fsync gave "
                           f"{errno.errorcode.get(rc, rc)}")
                    want[row] = dict(values, image=sha256(good))
                    got = lance_rows(uri)
                    expect(row in got, "fixed row not in LanceDB")
                    for c in COLUMNS:
                        expect(got[row][c] == want[row][c],
                               f"fixed row: {c} is {got[row][c]!r}, "
                               f"expected {want[row][c]!r}")
                except (AssertionError, OSError) as e:
                    problems.append(f"{row}: {e}")
                    # take the row out so that the next case starts clean
                    shutil.rmtree(os.path.join(mnt, row), ignore_errors=True)
            # a folder inside a row: refused when made (any errno), or
            # else at commit, naming it
            try:
                d = os.path.join(mnt, "bad_subdir")
                os.mkdir(d)
                write(os.path.join(d, "image.jpg"), good)
                write(os.path.join(d, "meta.json"), '{"label": 9}')
                try:
                    os.mkdir(os.path.join(d, "sub"))
                except OSError:
                    pass
                else:
                    rc = fsync_path(os.path.join(d, "meta.json"))
                    expect(rc == errno.EINVAL, f"fsync gave "
                           f"{errno.errorcode.get(rc, rc)}, not EINVAL")
                    expect("bad_subdir/sub" in errors_text(mnt),
                           ".lancefs/errors does not name bad_subdir/sub")
                    os.rmdir(os.path.join(d, "sub"))
                rc = fsync_path(os.path.join(d, "meta.json"))
                expect(rc == 0, f"fsync gave {errno.errorcode.get(rc, rc)}")
                want["bad_subdir"] = {"image": sha256(good), "label": 9,
                                      "caption": None, "score": None}
            except (AssertionError, OSError) as e:
                problems.append(f"bad_subdir: {e}")

            # a refused row does not hold back a good one staged with it
            try:
                for row, meta in (("mixed_bad", '{"label": "x"}'),
                                  ("mixed_good", '{"label": 11}')):
                    os.mkdir(os.path.join(mnt, row))
                    write(os.path.join(mnt, row, "image.jpg"), good)
                    write(os.path.join(mnt, row, "meta.json"), meta)
                rc = fsync_path(os.path.join(mnt, "mixed_good", "meta.json"))
                expect(rc == 0, f"fsync of the good row gave "
                       f"{errno.errorcode.get(rc, rc)}")
                want["mixed_good"] = {"image": sha256(good), "label": 11,
                                      "caption": None, "score": None}
                got = lance_rows(uri)
                expect("mixed_good" in got and "mixed_bad" not in got,
                       f"LanceDB has {sorted(got)}")
                expect("mixed_bad" in listing(mnt), "refused row not listed")
                subprocess.run(["rm", "-r", os.path.join(mnt, "mixed_bad")],
                               check=True)
                expect("mixed_bad" not in listing(mnt),
                       "removed refused row still listed")
            except (AssertionError, OSError) as e:
                problems.append(f"mixed: {e}")
            expect(not problems, "; ".join(problems))
        same_rows(lance_rows(uri), want, "after umount")


def test_rename_editor_and_junk_files():
    """mv of a committed row is EPERM; an editor's write-temp-then-rename
    inside a staged row and a truncate-and-rewrite give the final content;
    .DS_Store, ._*, Thumbs.db and editors' backups (NAME~, #NAME#) in a
    copied folder are ignored."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 3)
        want = lance_rows(uri)
        junk = {"junk_000": sample(src, "junk_000", 95),
                # a folder so named is a row: editors back up files
                "draft~": sample(src, "draft~", 99)}
        for f, data in ((".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(64)),
                        ("._image.jpg", b"\x00\x05\x16\x07" + bytes(60)),
                        ("Thumbs.db", b"\xd0\xcf\x11\xe0" + bytes(60)),
                        # Emacs's backup and auto-save, sed -i~
                        ("meta.json~", b'{"label": -1}'),
                        ("#meta.json#", b'{"label": -2'),
                        ("image.jpg~", b"old bytes")):
            write(os.path.join(src, "junk_000", f), data)
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            try:
                os.rename(os.path.join(mnt, "row_000"),
                          os.path.join(mnt, "row_zzz"))
                raise AssertionError("rename of a committed row worked")
            except OSError as e:
                expect(e.errno == errno.EPERM, f"rename of a row: {e}")
            try:
                os.mkdir(os.path.join(mnt, "row_002"))
                raise AssertionError("mkdir of a committed row's name worked")
            except FileExistsError:
                pass
            r = subprocess.run(["mv", os.path.join(mnt, "row_001"),
                                os.path.join(mnt, "moved")],
                               capture_output=True, text=True, timeout=60)
            expect(r.returncode != 0 and "row_001" in listing(mnt) and
                   "moved" not in listing(mnt), f"mv: {r.stderr}")

            d = os.path.join(mnt, "ed_000")
            os.mkdir(d)
            img = jpeg(96)
            write(os.path.join(d, "image.jpg"), img)
            write(os.path.join(d, "caption.txt"), "first draft")
            write(os.path.join(d, ".caption.txt.tmp"), "final ✓")
            os.rename(os.path.join(d, ".caption.txt.tmp"),
                      os.path.join(d, "caption.txt"))
            with open(os.path.join(d, "caption.txt"), encoding="utf-8") as f:
                expect(f.read() == "final ✓", "renamed caption.txt")
            # a long meta.json, truncated and written shorter
            write(os.path.join(d, "meta.json"),
                  '{"label": 123456789, "score": 2.5, "caption": null}')
            with open(os.path.join(d, "meta.json"), "r+") as f:
                f.truncate(0)
                f.write('{"label": 8}')
            with open(os.path.join(d, "meta.json")) as f:
                expect(f.read() == '{"label": 8}', "truncated meta.json")
            # vim's write test and a swap file, removed again
            write(os.path.join(d, "4913"), b"")
            os.unlink(os.path.join(d, "4913"))
            write(os.path.join(d, ".caption.txt.swp"), b"b0VIM 9.0")
            os.unlink(os.path.join(d, ".caption.txt.swp"))
            expect(sorted(os.listdir(d)) ==
                   ["caption.txt", "image.jpg", "meta.json"],
                   f"ed_000 lists {os.listdir(d)}")
            # mv -T of a staged folder: over an empty one it replaces
            # it, over one holding a file it is ENOTEMPTY
            for n in ("mv_a", "mv_b", "mv_c"):
                os.mkdir(os.path.join(mnt, n))
            img3 = jpeg(98)
            write(os.path.join(mnt, "mv_a", "image.jpg"), img3)
            write(os.path.join(mnt, "mv_c", "caption.txt"), "c")
            e = errno_of(os.rename, os.path.join(mnt, "mv_a"),
                         os.path.join(mnt, "mv_c"))
            expect(e == errno.ENOTEMPTY, f"mv -T over mv_c: errno {e}")
            os.rename(os.path.join(mnt, "mv_a"), os.path.join(mnt, "mv_b"))
            expect(os.listdir(os.path.join(mnt, "mv_b")) == ["image.jpg"]
                   and "mv_a" not in listing(mnt),
                   f"after mv -T over mv_b: {listing(mnt)}")
            shutil.rmtree(os.path.join(mnt, "mv_c"))

            # a committed image overwritten, then renamed: the committed
            # image.jpg does not come back beside the new image.png
            img2 = jpeg(97)
            write(os.path.join(mnt, "row_002", "image.jpg"), img2)
            os.rename(os.path.join(mnt, "row_002", "image.jpg"),
                      os.path.join(mnt, "row_002", "image.png"))
            expect(sorted(os.listdir(os.path.join(mnt, "row_002"))) ==
                   ["caption.txt", "image.png", "meta.json"],
                   f"row_002 lists {os.listdir(os.path.join(mnt, 'row_002'))}")

            cp("-r", os.path.join(src, "junk_000"),
               os.path.join(src, "draft~"), mnt)
            commit_now(mnt)
            errs = errors_text(mnt)
            expect("ed_000" not in errs and "junk_000" not in errs and
                   "row_002" not in errs, f".lancefs/errors: {errs!r}")
            expect(sorted(os.listdir(os.path.join(mnt, "junk_000"))) ==
                   ["caption.txt", "image.jpg", "meta.json"],
                   f"committed junk_000 lists "
                   f"{os.listdir(os.path.join(mnt, 'junk_000'))}")
        want["ed_000"] = {"image": sha256(img), "caption": "final ✓",
                          "label": 8, "score": None}
        want["mv_b"] = {"image": sha256(img3), "caption": None,
                        "label": None, "score": None}
        want["row_002"] = dict(want["row_002"], image=sha256(img2))
        want.update(plain(junk))
        same_rows(lance_rows(uri), want, "after umount")
        orc = oracle(uri)
        expect([f["name"] for f in orc["schema"]] ==
               ["name", "image", "caption", "label", "score"],
               f"schema changed: {[f['name'] for f in orc['schema']]}")


def test_root_files_renamed_and_hidden():
    """rsync's way into the root (a hidden temporary, then a rename, also
    over a staged file), mv between the root and a row folder, and hidden
    files at the root (.DS_Store): the renamed files become rows with
    their last bytes; hidden ones stay staged and listed, never rows, and
    hold nothing up (fsync, commits, unmount)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        imgs = {k: jpeg(110 + k) for k in range(5)}
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            # rsync: write .NAME.XXXXXX, rename to NAME
            tmp = os.path.join(mnt, ".pic.jpg.Ab12Cd")
            write(tmp, imgs[0])
            os.rename(tmp, os.path.join(mnt, "pic.jpg"))
            expect(file_sha(os.path.join(mnt, "pic.jpg")) ==
                   sha256(imgs[0]), "pic.jpg after the rename")
            # again over it (rsync of a changed source)
            write(tmp, imgs[1])
            os.rename(tmp, os.path.join(mnt, "pic.jpg"))
            expect(file_sha(os.path.join(mnt, "pic.jpg")) ==
                   sha256(imgs[1]), "pic.jpg after the second rename")
            # a plain rename, and one to a name the root cannot take
            write(os.path.join(mnt, "a.jpg"), imgs[2])
            os.rename(os.path.join(mnt, "a.jpg"), os.path.join(mnt, "b.jpg"))
            try:
                os.rename(os.path.join(mnt, "b.jpg"),
                          os.path.join(mnt, "meta.json"))
                raise AssertionError("a root file renamed to meta.json")
            except OSError as e:
                expect(e.errno in (errno.EINVAL, errno.EPERM),
                       f"rename to meta.json: {e}")
            # mv from the root into a staged row folder and back out
            d = os.path.join(mnt, "moved_in")
            os.mkdir(d)
            write(os.path.join(mnt, "c.jpg"), imgs[3])
            subprocess.run(["mv", os.path.join(mnt, "c.jpg"),
                            os.path.join(d, "image.jpg")], check=True)
            write(os.path.join(d, "spare.jpg"), imgs[4])
            subprocess.run(["mv", os.path.join(d, "spare.jpg"),
                            os.path.join(mnt, "out.jpg")], check=True)
            # what rename(2) and rmdir(2) answer where types differ, and
            # a whiteout (overlayfs's) the mount cannot make
            row0 = sorted(want)[0]
            libc = ctypes.CDLL(None, use_errno=True)
            for call, args, err_want in (
                    (os.rename, ("b.jpg", row0), errno.EISDIR),
                    (os.rename, ("out.jpg", "moved_in"), errno.EISDIR),
                    (os.rename, ("moved_in", "b.jpg"), errno.ENOTDIR),
                    (os.rmdir, ("moved_in/image.jpg",), errno.ENOTDIR),
                    (os.rmdir, ("moved_in/none",), errno.ENOENT),
                    (os.rmdir, (f"{row0}/image.jpg",), errno.ENOTDIR)):
                try:
                    call(*[os.path.join(mnt, a) for a in args])
                    raise AssertionError(f"{call.__name__}{args}: no error")
                except OSError as e:
                    expect(e.errno == err_want, f"{call.__name__}{args}: "
                           f"{e}, want {errno.errorcode[err_want]}")
            rc = libc.renameat2(-100, os.path.join(mnt, "out.jpg").encode(),
                                -100, os.path.join(mnt, "o2.jpg").encode(),
                                4)  # RENAME_WHITEOUT
            expect(rc == -1 and ctypes.get_errno() == errno.EINVAL,
                   f"rename with RENAME_WHITEOUT: {rc}, errno "
                   f"{ctypes.get_errno()}")
            # hidden files at the root
            write(os.path.join(mnt, ".DS_Store"), b"\0\0\0\1Bud1")
            write(os.path.join(mnt, ".notes.txt.swp"), b"b0VIM 9.0")
            write(os.path.join(mnt, "Thumbs.db"), b"\xd0\xcf\x11\xe0")
            expect(fsync_path(os.path.join(mnt, ".DS_Store")) == 0,
                   "fsync of .DS_Store")
            expect(listing(mnt) == sorted(
                [".DS_Store", ".notes.txt.swp", "Thumbs.db", "b.jpg",
                 "moved_in", "out.jpg", "pic.jpg"] + list(want)),
                f"the mount lists {listing(mnt)}")
            commit_now(mnt)
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 0 and st["refused_rows"] == 0,
                   f"after the commit: {st}")
            expect(errors_text(mnt) == "", f"errors: {errors_text(mnt)!r}")
            expect(listing(mnt) == sorted(
                [".DS_Store", ".notes.txt.swp", "Thumbs.db", "b",
                 "moved_in", "out", "pic"] + list(want)),
                f"committed: {listing(mnt)}")
        for n, k in (("pic", 1), ("b", 2), ("moved_in", 3), ("out", 4)):
            want[n] = {"image": sha256(imgs[k]), "caption": None,
                       "label": None, "score": None}
        same_rows(lance_rows(uri), want, "after umount")
        with mounted(uri, staging, "name_column=name") as mnt:
            expect(os.path.exists(os.path.join(mnt, ".DS_Store")),
                   f"a new mount lost .DS_Store: {listing(mnt)}")


def open_written(path, data):
    """A new file, `data` written and the descriptor left open."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, data)
    return fd


def test_descriptor_open_across_an_overwrite():
    """A descriptor opened on a committed file (an image, meta.json)
    before another open overwrites the file through the mount reads what
    was written, before the commit and after it, as on a local disk (it
    read the version's bytes cut to the new size)."""
    with workdir() as w:
        uri, staging, _ = lancedb_table(w, "2.1", 2)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            row = os.path.join(mnt, sorted(listing(mnt))[0])
            img = os.path.join(row, "image.jpg")
            meta = os.path.join(row, "meta.json")
            new_img = jpeg(77, 40, 30)
            # unbuffered: Python's buffer would answer a read again
            with open(img, "rb", buffering=0) as fi, \
                 open(meta, "rb", buffering=0) as fm:
                old_img = fi.read()
                expect(fm.read(1) == b"{" and len(new_img) != len(old_img),
                       "a new image of another size")
                write(img, new_img)
                write(meta, b'{"label": 4242}')
                for when in ("staged", "committed"):
                    got_img = os.pread(fi.fileno(), 1 << 20, 0)
                    got_meta = os.pread(fm.fileno(), 1 << 20, 0)
                    expect(got_img == new_img,
                           f"{when}: the image through the old "
                           f"descriptor: {len(got_img)} bytes "
                           f"(new {len(new_img)}, old {len(old_img)})")
                    expect(got_meta == b'{"label": 4242}',
                           f"{when}: meta.json through the old "
                           f"descriptor: {got_meta!r}")
                    if when == "staged":
                        commit_now(mnt)
            with open(img, "rb") as f:
                expect(f.read() == new_img, "the image opened again")
            with open(meta) as f:
                expect(json.load(f)["label"] == 4242,
                       "meta.json opened again")


def test_files_unlinked_while_open():
    """A file unlinked, or renamed over, while a program still has it
    open (tempfile.TemporaryFile, a log rotated under its writer): the
    name goes at once, the open descriptor goes on writing, reading,
    fstat-ing and truncating, and what it holds is never committed; a
    new file of the same name commits on its own."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        imgs = {k: jpeg(130 + k) for k in range(4)}
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            a = os.path.join(mnt, "a.jpg")
            fd = open_written(a, b"not a row")
            os.unlink(a)
            expect("a.jpg" not in listing(mnt), f"a.jpg listed: "
                   f"{listing(mnt)}")
            st = os.fstat(fd)
            expect(st.st_size == 9 and st.st_nlink == 0,
                   f"fstat after unlink: size {st.st_size}, "
                   f"links {st.st_nlink}")
            os.write(fd, b", still")
            expect(os.pread(fd, 100, 0) == b"not a row, still",
                   "reading back the unlinked file")
            os.ftruncate(fd, 3)
            expect(os.fstat(fd).st_size == 3, "ftruncate of it")
            os.fsync(fd)
            write(a, imgs[0])	# the name again, a new file
            os.close(fd)
            with tempfile.TemporaryFile(dir=mnt) as f:
                f.write(b"x" * 5000)
                f.seek(0)
                expect(len(f.read()) == 5000, "TemporaryFile read back")
            # renamed over while open
            t = os.path.join(mnt, "t.jpg")
            fd = open_written(t, b"old")
            write(os.path.join(mnt, "u.jpg"), imgs[1])
            os.rename(os.path.join(mnt, "u.jpg"), t)
            expect(os.fstat(fd).st_size == 3, "fstat of the replaced file")
            expect(file_sha(t) == sha256(imgs[1]), "t.jpg after the rename")
            os.close(fd)
            # in a row folder: unlinked, and renamed over, while open
            r = os.path.join(mnt, "r")
            os.mkdir(r)
            fd = open_written(os.path.join(r, "image.jpg"), b"gone")
            write(os.path.join(r, ".image.jpg.tmp"), imgs[2])
            os.rename(os.path.join(r, ".image.jpg.tmp"),
                      os.path.join(r, "image.jpg"))
            expect(os.fstat(fd).st_size == 4, "fstat in the row")
            os.close(fd)
            g = os.path.join(mnt, "g")
            os.mkdir(g)
            fd = open_written(os.path.join(g, "image.jpg"), imgs[3])
            os.unlink(os.path.join(g, "image.jpg"))
            os.rmdir(g)
            expect(os.fstat(fd).st_size == len(imgs[3]),
                   "fstat after its folder went")
            os.close(fd)
            # an orphan still open holds no commit of its row back
            fd = open_written(os.path.join(r, "scratch.bin"), b"")
            os.unlink(os.path.join(r, "scratch.bin"))
            commit_now(mnt)
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 0 and st["refused_rows"] == 0,
                   f"after the commit: {st}")
            expect(errors_text(mnt) == "", f"errors: {errors_text(mnt)!r}")
            os.close(fd)
            # a committed file moved over a staged one still open: that
            # one is replaced, not cut, and its writer's bytes go nowhere
            s2 = os.path.join(mnt, "s2")
            os.mkdir(s2)
            fd = open_written(os.path.join(s2, "image.jpg"),
                              b"old data here")
            os.rename(os.path.join(mnt, "a", "image.jpg"),
                      os.path.join(s2, "image.jpg"))
            os.pwrite(fd, b"WRITER", 0)
            expect(os.fstat(fd).st_size == 13,
                   f"the replaced file: {os.fstat(fd).st_size} bytes")
            os.close(fd)
            expect(file_sha(os.path.join(s2, "image.jpg")) ==
                   sha256(imgs[0]), "s2/image.jpg after the move")
        for n, k in (("a", 0), ("t", 1), ("r", 2)):
            want[n] = {"image": sha256(imgs[k]), "caption": None,
                       "label": None, "score": None}
        want["s2"] = dict(want["a"])
        want["a"]["image"] = None
        same_rows(lance_rows(uri), want, "after umount")


def test_more_fragments_than_descriptors():
    """A dataset of more fragments (one per fsync'd file here, as a
    streaming writer makes them) than the daemon may open files: a
    read-only mount whose descriptors are capped below that still lists
    and reads every row, and an old version besides."""
    import resource
    n = 300
    with workdir() as w:
        uri = os.path.join(w, "db", "many.lance")
        staging = os.path.join(w, "staging")
        os.mkdir(os.path.dirname(uri))
        with mounted(uri, staging) as mnt:
            for k in range(n):
                fd = os.open(os.path.join(mnt, f"f{k:03d}.txt"),
                             os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, b"value %d" % k)
                os.fsync(fd)
                os.close(fd)
        mnt = tempfile.mkdtemp(prefix="lancefs-wmnt-")

        def cap():
            resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        try:
            r = subprocess.run([LANCEFS, "mount", "-o", "ro", uri, mnt],
                               capture_output=True, text=True, timeout=120,
                               preexec_fn=cap)
            expect(r.returncode == 0, f"mount: {r.stderr.strip()}")
            rows = listing(mnt)
            expect(len(rows) == n, f"{len(rows)} rows listed, not {n}")
            for k in range(n):
                with open(os.path.join(mnt, f"f{k:03d}", "file.bin"),
                          "rb") as f:
                    got = f.read()
                expect(got == b"value %d" % k, f"f{k:03d}: {got!r}")
            old = os.path.join(mnt, "@versions", "150")
            expect(len(os.listdir(old)) == 150,
                   f"version 150 lists {len(os.listdir(old))} rows")
        finally:
            lancefs("umount", mnt, check=False)
            with contextlib.suppress(OSError):
                os.rmdir(mnt)


def test_row_times_of_later_versions():
    """Rows that other writers append after the mount first showed a row's
    time carry the commit time of the version that added them, not of
    the newest version (ls -l and rsync see them unchanged later on)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        with mounted(uri, staging, "name_column=name",
                     "refresh=0.2") as mnt:
            os.stat(os.path.join(mnt, "row_000", "meta.json"))
            wtool("append", uri, "--rows", 1, "--prefix", "a")
            wtool("append", uri, "--rows", 1, "--prefix", "b")
            wait_for(lambda: "b_000" in listing(mnt), "b_000 listed")
            stamps = {v["version"]: datetime.datetime.fromisoformat(
                v["timestamp"].replace("Z", "+00:00")).timestamp()
                for v in oracle(uri)["versions"]}
            latest = max(stamps)
            for row, ver in (("row_000", 1), ("a_000", latest - 1),
                             ("b_000", latest)):
                t = os.stat(os.path.join(mnt, row, "meta.json")).st_mtime
                expect(abs(t - stamps[ver]) < 0.002,
                       f"{row}: mtime {t}, version {ver} at {stamps[ver]} "
                       f"(versions {stamps})")


def test_staged_file_times_not_in_the_future():
    """A staged file's time, once it is closed, is not in the future (the
    completeness mark's second used to be the current one, up to a second
    ahead: ls -l showed a year instead of the time, make warned of clock
    skew); the row still commits."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        os.makedirs(os.path.dirname(uri))
        with mounted(uri, os.path.join(w, "staging"),
                     "commit_delay=60") as mnt:
            for i in range(5):
                row = os.path.join(mnt, f"r{i}")
                os.mkdir(row)
                write(os.path.join(row, "meta.json"), b'{"n": %d}' % i)
                t = os.stat(os.path.join(row, "meta.json")).st_mtime_ns
                now = time.time_ns()
                expect(t <= now, f"r{i}/meta.json: mtime {t} is "
                       f"{(t - now) / 1e9:.3f} s in the future")
            commit_now(mnt)
            expect(status(mnt)["writes"]["staged_rows"] == 0,
                   f"rows still staged: {status(mnt)['writes']}")
        got = sorted(r["values"]["n"] for r in oracle(uri)["rows"])
        expect(got == list(range(5)), f"LanceDB reads {got}")


def test_row_names_a_file_system_takes():
    """Name-column values a folder cannot be named by: longer than 255
    bytes (also once escaped) are cut and get ~ROW; @versions and @tags
    are escaped instead of hidden behind the version folders. Every
    listed row opens and its meta.json holds the full name."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 1)
        names = {"v": "@versions", "t": "@tags", "long": "y" * 300,
                 "pct": "%25" * 100, "utf": "\u00e9" * 150,
                 "d1": "z" * 254, "d2": "z" * 254}
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            for d, n in names.items():
                os.mkdir(os.path.join(mnt, d))
                write(os.path.join(mnt, d, "meta.json"),
                      json.dumps({"name": n}))
            commit_now(mnt)
            got = {}
            for e in listing(mnt):
                expect(len(e.encode()) <= 255, f"{e!r}: over 255 bytes")
                with open(os.path.join(mnt, e, "meta.json")) as f:
                    got[json.load(f)["name"]] = e
            expect(len(listing(mnt)) == 1 + len(names),
                   f"{len(listing(mnt))} rows listed")
            expect(set(names.values()) <= set(got), f"listed {got}")
            expect(got["@versions"] == "%40versions" and
                   got["@tags"] == "%40tags", f"listed {got}")
            for k in ("long", "pct", "utf"):
                e = got[names[k]]
                expect(len(e.encode()) <= 255 and "~" in e and
                       names[k].startswith(e[:e.index("~")]),
                       f"{k}: listed as {e!r}")
            expect("1" in os.listdir(os.path.join(mnt, "@versions")),
                   f"@versions lists {os.listdir(os.path.join(mnt, '@versions'))}")


def test_row_names_with_percent_signs():
    """Folder and file names with '%' (URL-encoded names of scraped
    images, "50% off") keep their names once committed; an escape the
    mount writes ("a%2Fb" for the value "a/b") gives its value back; a
    name no value shows as ("x%00y") is refused at mkdir, and one over
    255 bytes is ENAMETOOLONG."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 1)
        names = {"cat%20photo": "cat%20photo", "50% off": "50% off",
                 "a%2Fb": "a/b", "100%25": "100%25", "%252F": "%2F"}
        for i, n in enumerate(names):
            sample(src, n, 130 + i)
        img = jpeg(139)
        write(os.path.join(src, "photo%20(1).jpg"), img)
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            cp("-r", *[os.path.join(src, n) for n in sorted(os.listdir(src))],
               mnt)
            try:
                os.mkdir(os.path.join(mnt, "x%00y"))
                expect(False, "mkdir x%00y: no error")
            except OSError as e:
                expect(e.errno == errno.EINVAL, f"mkdir x%00y: {e!r}")
            # nor can a staged row or root file be renamed to one
            os.mkdir(os.path.join(mnt, "tmp_row"))
            write(os.path.join(mnt, "tmp_row", "image.jpg"), img)
            write(os.path.join(mnt, "tmp_file.jpg"), img)
            for old, new in (("tmp_row", "x%00y"),
                             ("tmp_file.jpg", "x%00y.jpg")):
                try:
                    os.rename(os.path.join(mnt, old), os.path.join(mnt, new))
                    expect(False, f"mv {old} {new}: no error")
                except OSError as e:
                    expect(e.errno == errno.EINVAL, f"mv {old} {new}: {e!r}")
                os.rename(os.path.join(mnt, old),
                          os.path.join(mnt, old.replace("tmp", "50%")))
            names["50%_row"] = names["50%_file"] = None
            # a name over 255 bytes is too long, as on a local disk
            long = "n" * 256
            for what, do in (
                    ("mkdir", lambda: os.mkdir(os.path.join(mnt, long))),
                    ("create", lambda: write(os.path.join(mnt, long), b"x")),
                    ("create in a row", lambda: write(
                        os.path.join(mnt, "50%_row", long + ".txt"), "x")),
                    ("stat", lambda: os.stat(os.path.join(mnt, long))),
                    ("mv", lambda: os.rename(os.path.join(mnt, "50%_row"),
                                             os.path.join(mnt, long)))):
                e = errno_of(do)
                expect(e == errno.ENAMETOOLONG,
                       f"{what} of a 256-byte name: errno {e}")
            commit_now(mnt)
            expect(errors_text(mnt) == "", f"errors {errors_text(mnt)!r}")
            shown = set(listing(mnt))
            want = set(names) | {"photo%20(1)", "row_000"}
            expect(shown == want, f"listed {sorted(shown)}")
            with open(os.path.join(mnt, "photo%20(1)", "image.jpg"),
                      "rb") as f:
                expect(f.read() == img, "photo%20(1) image")
        got = set(lance_rows(uri))
        want = {v or k for k, v in names.items()} | {"photo%20(1)",
                                                      "row_000"}
        expect(got == want, f"LanceDB names {sorted(got)}")


def test_versions_listed_after_commit_no_epoch():
    """@versions lists the version a commit made, also on a kernel
    before 6.16 (LANCEFS_NO_EPOCH=1), which keeps the listing it cached
    until lancefs invalidates it."""
    os.environ["LANCEFS_NO_EPOCH"] = "1"
    try:
        with workdir() as w:
            uri, staging, src = lancedb_table(w, "2.0", 2)
            with mounted(uri, staging, "name_column=name",
                         "commit_delay=60") as mnt:
                vers = os.path.join(mnt, "@versions")
                expect(os.listdir(vers) == ["1"],
                       f"@versions lists {os.listdir(vers)}")
                os.mkdir(os.path.join(mnt, "new"))
                write(os.path.join(mnt, "new", "meta.json"), "{}")
                commit_now(mnt)
                # the mount learns of the version right after the
                # commit returns, and tells the kernel then
                wait_for(lambda: sorted(os.listdir(vers)) == ["1", "2"],
                         "@versions listing version 2", timeout=10)
    finally:
        del os.environ["LANCEFS_NO_EPOCH"]


def test_touch_changes_no_row():
    """touch(1) of a committed file and opens for writing that write
    nothing (Python's "a" and "r+b") change no row: no version is made,
    and the rows keep their numbers; a real edit after them still
    lands."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        v0 = wtool("versions", uri)["latest"]
        with mounted(uri, staging, "text_files=caption",
                     "commit_delay=0.2") as mnt:
            names = listing(mnt)
            subprocess.run(["touch", os.path.join(mnt, names[0],
                                                  "meta.json")], check=True)
            open(os.path.join(mnt, names[1], "image.jpg"), "r+b").close()
            open(os.path.join(mnt, names[2], "meta.json"), "a").close()
            commit_now(mnt)
            time.sleep(1)		# the quiet period, had a row changed
            st = status(mnt)
            expect(st["version"] == v0 and st["writes"]["commits"] == 0 and
                   listing(mnt) == names,
                   f"after touch: version {st['version']} (was {v0}), "
                   f"{st['writes']}, rows {listing(mnt)} (were {names})")
            rows = os.path.join(staging, "rows")
            kept = [d for d in os.listdir(rows)
                    if os.path.exists(os.path.join(rows, d, ".row"))]
            expect(not kept, f"the staging keeps updates {kept}")
            with open(os.path.join(mnt, names[2], "caption.txt"), "w") as f:
                f.write("edited")
            commit_now(mnt)
            expect(status(mnt)["version"] == v0 + 1,
                   f"the edit made no version: {status(mnt)}")


def test_remove_while_listing():
    """Removing staged rows while a listing of the root goes on (Python's
    `for e in os.scandir(mnt): shutil.rmtree(e)`) skips none of them."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 1)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            # long names: the listing takes many requests
            for k in range(150):
                d = os.path.join(mnt, f"s_{k:03d}_" + "x" * 200)
                os.mkdir(d)
                write(os.path.join(d, "meta.json"), "{}")
            seen = 0
            for e in os.scandir(mnt):
                if e.name.startswith("s_"):
                    shutil.rmtree(e.path)
                    seen += 1
            left = listing(mnt)
            expect(seen == 150 and left == ["row_000"],
                   f"removed {seen} while listing; {len(left)} left")


def test_commit_while_listing():
    """A commit landing staged rows and a removal while a listing of the
    root is between two pages (os.scandir, a commit, then the rest of
    it) lists every row once, not the removed one, and each listed row
    can be opened."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 400)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            # a row removed before the listing, past its first page
            shutil.rmtree(os.path.join(mnt, "row_390"))
            want = [f"row_{k:03d}" for k in range(400) if k != 390]
            # long names: the listing takes many requests
            for k in range(120):
                n = f"s_{k:03d}_" + "x" * 200
                os.mkdir(os.path.join(mnt, n))
                write(os.path.join(mnt, n, "meta.json"), "{}")
                want.append(n)
            v0 = status(mnt)["version"]
            with os.scandir(mnt) as it:
                got = [next(it)]
                commit_now(mnt)
                expect(status(mnt)["version"] == v0 + 1,
                       f"no commit: {status(mnt)}")
                got += list(it)
            names = [e.name for e in got]
            extra = sorted(set(names) - set(want))
            expect(sorted(names) == sorted(want),
                   f"listed {len(names)} names ({len(set(names))} "
                   f"distinct), {len(set(want) - set(names))} of "
                   f"{len(want)} rows missing, not rows: {extra[:3]}")
            for e in got:
                expect(e.is_dir() and os.path.isfile(
                    os.path.join(e.path, "meta.json")),
                    f"{e.name[:20]}...: no row folder")


def test_edit_of_a_row_lancedb_deleted():
    """A staged edit of a row that LanceDB deleted meanwhile is refused,
    named in .lancefs/errors; the other staged rows still commit. A
    staged rm -r of a row LanceDB deleted too is done, not refused. An
    fsync of another row is not failed by the refused edit."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 4)
        want = lance_rows(uri)
        new = {"new_000": sample(src, "new_000", 120)}
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            with open(os.path.join(mnt, "row_001", "caption.txt"),
                      "w") as f:
                f.write("edited")
            shutil.rmtree(os.path.join(mnt, "row_002"))
            cp("-r", os.path.join(src, "new_000"), mnt)
            wtool("delete", uri, "--where",
                  "name = 'row_001' OR name = 'row_002'")
            # lancefs commit fails (a row refused) and prints the
            # version the other rows went into
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "row_001" in r.stderr and
                   r.stdout.strip() == str(oracle(uri)["version"]),
                   f"lancefs commit: exit {r.returncode}, stdout "
                   f"{r.stdout!r}, stderr {r.stderr!r}")
            errs = errors_text(mnt)
            expect("row_001" in errs and "new_000" not in errs,
                   f".lancefs/errors: {errs!r}")
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 1 and st["refused_rows"] == 1,
                   f"only the edit stays staged: {st}")
            for row in ("new_000", "row_000", "row_003"):
                expect(fsync_path(os.path.join(mnt, row)) == 0,
                       f"fsync of {row} with row_001 refused")
            # the refused edit is listed under its name, holding what
            # was written, and rm -r drops it
            rows = sorted(os.listdir(mnt))
            expect(rows == ["new_000", "row_000", "row_001", "row_003"],
                   f"rows listed with the refused edit: {rows}")
            with open(os.path.join(mnt, "row_001", "caption.txt")) as f:
                got = f.read()
            expect(got == "edited", f"the refused edit reads {got!r}")
            shutil.rmtree(os.path.join(mnt, "row_001"))
            r = lancefs("commit", mnt, check=False)
            st = status(mnt)["writes"]
            expect(r.returncode == 0 and st["staged_rows"] == 0 and
                   st["refused_rows"] == 0 and
                   "row_001" not in os.listdir(mnt),
                   f"after rm -r of the refused edit: exit "
                   f"{r.returncode} ({r.stderr!r}), {st}")
        del want["row_001"], want["row_002"]
        want.update(plain(new))
        same_rows(lance_rows(uri), want, "after umount")


def test_new_row_keeps_its_name_over_another_writers():
    """A staged new row keeps its name when another writer commits a row
    of that name before it lands: the folder still shows the user's
    files, a write into it changes the staged row (not the other
    writer's), and rm -r of it drops the staged row (not the other
    writer's). Both rows are there once it commits."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        mine = sample(src, "row_003", 130)
        gone = sample(src, "row_004", 140)
        with mounted(uri, staging, "name_column=name", "refresh=1",
                     "commit_delay=600") as mnt:
            cp("-r", os.path.join(src, "row_003"),
               os.path.join(src, "row_004"), mnt)
            # LanceDB's own row_003 and row_004
            wtool("append", uri, "--rows", 2, "--start", 3)
            latest = oracle(uri)["version"]
            wait_for(lambda: status(mnt)["version"] == latest,
                     lambda: f"the mount at {status(mnt)['version']}, "
                     f"LanceDB at {latest}")
            rows = listing(mnt)
            expect(rows == ["row_000", "row_001", "row_002", "row_003",
                            "row_004"], f"listed: {rows}")
            with open(os.path.join(mnt, "row_003", "meta.json")) as f:
                got = json.load(f)
            expect(got.get("label") == mine["label"],
                   f"row_003 shows {got}, not the staged row")
            write(os.path.join(mnt, "row_003", "meta.json"),
                  json.dumps({"label": 7777, "score": mine["score"]}))
            shutil.rmtree(os.path.join(mnt, "row_004"))
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 1,
                   f"the edit stays one staged row, rm -r drops the other: "
                   f"{st}")
            commit_now(mnt)
        theirs = {r["values"]["name"]: r["values"]
                  for r in oracle(uri)["rows"]
                  if r["values"]["label"] != 7777}
        ours = [r["values"] for r in oracle(uri)["rows"]
                if r["values"]["label"] == 7777]
        expect(len(ours) == 1 and ours[0]["name"] == "row_003" and
               ours[0]["image"]["sha256"] == mine["image"],
               f"the edited staged row: {ours}")
        expect(sorted(theirs) == ["row_000", "row_001", "row_002",
                                  "row_003", "row_004"] and
               theirs["row_003"]["label"] == 30 and
               theirs["row_004"]["label"] == 40 and
               gone["label"] not in [v["label"] for v in theirs.values()],
               f"LanceDB's rows after the commit: {theirs}")


def test_explicit_commits_take_settled_rows():
    """An explicit commit takes the rows whose writer went on or ended,
    never one a live writer is between the files of (cp -r's next
    file); a folder holding no file is no row yet (rsync and tar make
    every folder first); an fsync of a temporary (rsync --fsync's hidden
    file) commits nothing. A new dataset so made has every column its
    rows bring."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        img = jpeg(41)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            x = os.path.join(mnt, "x")
            image_closed = threading.Event()

            def copy():	# one row, its second file 0.3 s after the first
                os.mkdir(x)
                write(os.path.join(x, "image.jpg"), img)
                image_closed.set()
                time.sleep(0.3)
                write(os.path.join(x, "meta.json"), '{"label": 7}')

            t = threading.Thread(target=copy)
            t.start()
            image_closed.wait(30)
            lancefs("commit", mnt)
            t.join()
            got = lance_rows(uri)
            expect("x" not in got or got["x"]["label"] == 7,
                   f"the row being copied was committed between its "
                   f"files: {got.get('x')}")
            lancefs("commit", mnt)
            got = lance_rows(uri)
            expect(got.get("x", {}).get("label") == 7,
                   f"the row copied, committed: {got.get('x')}")
            # this thread writes a row while another thread of this
            # process commits in a loop: no version holds half of it
            first = oracle(uri)["version"]
            done = threading.Event()

            def commits():
                while not done.is_set():
                    time.sleep(0.1)
                    lancefs("commit", mnt, check=False)

            t = threading.Thread(target=commits)
            t.start()
            try:
                y = os.path.join(mnt, "y")
                os.mkdir(y)
                write(os.path.join(y, "image.jpg"), img)
                time.sleep(0.3)
                write(os.path.join(y, "meta.json"), '{"label": 9}')
            finally:
                done.set()
                t.join()
            lancefs("commit", mnt)
            last = oracle(uri)["version"]
            for v in range(first + 1, last + 1):
                rows = {r["values"]["name"]: r["values"]
                        for r in oracle(uri, str(v))["rows"]}
                expect("y" not in rows or rows["y"]["label"] == 9,
                       f"version {v} holds half of row y: {rows.get('y')}")
            expect(lance_rows(uri).get("y", {}).get("label") == 9,
                   "row y committed")
        new = os.path.join(w, "new", "t.lance")
        os.mkdir(os.path.dirname(new))
        with mounted(new, os.path.join(w, "staging2"),
                     "commit_delay=60") as mnt:
            for d in ("a", "b", "c"):
                os.mkdir(os.path.join(mnt, d))
            tmp = os.path.join(mnt, "a", ".image.jpg.XXXXXX")
            with open(tmp, "wb") as f:
                f.write(img)
                f.flush()
                os.fsync(f.fileno())
            made = os.path.exists(os.path.join(new, "_versions"))
            expect(not made, "an fsync of a temporary made the dataset")
            os.rename(tmp, os.path.join(mnt, "a", "image.jpg"))
            write(os.path.join(mnt, "a", "meta.json"), '{"label": 3}')
            subprocess.run(["cp", os.path.join(mnt, "a", "image.jpg"),
                            os.path.join(mnt, "c")], check=True)
            lancefs("commit", mnt)
            got = oracle(new)
            cols = [f["name"] for f in got["schema"]]
            rows = {r["values"]["name"]: r["values"] for r in got["rows"]}
            expect(sorted(rows) == ["a", "c"] and
                   rows["a"]["label"] == 3 and rows["c"]["label"] is None
                   and "image" in cols and "label" in cols,
                   f"the new dataset: columns {cols}, rows {rows}")
            expect(sorted(os.listdir(mnt)) == ["a", "b", "c"],
                   f"the empty folder stays: {os.listdir(mnt)}")


def test_deletions_over_a_replaced_table():
    """A staged rm -r of a row that a LanceDB restore brought back at its
    place deletes it (it was refused, and hid the row, forever); one of
    a row that a LanceDB overwrite replaced with the whole table is
    dropped, saying so (it was refused at every commit, with nothing to
    remove in the mount)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 4)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=600") as mnt:
            v1 = oracle(uri)["version"]
            wtool("delete", uri, "--where", "name = 'row_000'")
            shutil.rmtree(os.path.join(mnt, "row_003"))
            wtool("restore", uri, "--version", v1)
            want = lance_rows(uri)
            del want["row_003"]
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 0, f"lancefs commit after the restore: "
                   f"exit {r.returncode}, {r.stderr!r}")
            same_rows(lance_rows(uri), want, "after the restore")
            expect(listing(mnt) == sorted(want), f"listed: {listing(mnt)}")
            shutil.rmtree(os.path.join(mnt, "row_001"))
            wtool("make", uri, "--version", "2.0", "--rows", 3, "--prefix",
                  "new", "--overwrite")
            want = lance_rows(uri)
            r = lancefs("commit", mnt, check=False)
            st = status(mnt)["writes"]
            errs = errors_text(mnt)
            expect(r.returncode == 0 and st["staged_rows"] == 0 and
                   "row_001" in errs and "replaced the table" in errs,
                   f"lancefs commit after the overwrite: exit "
                   f"{r.returncode}, {r.stderr!r}; {st}; errors {errs!r}")
            same_rows(lance_rows(uri), want, "after the overwrite")
            expect(listing(mnt) == sorted(want), f"listed: {listing(mnt)}")


def test_edit_refused_after_columns_renamed():
    """An edit of a committed row is refused once another writer renamed
    columns after it was made (here caption and name swapped): the row's
    other values, kept from the version the edit was made on, went under
    the new names (the name in caption and the caption in name)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        with mounted(uri, staging, "commit_delay=600") as mnt:
            write(os.path.join(mnt, "00000001", "image.jpg"), jpeg(77))
            for old, new in (("caption", "tmp"), ("name", "caption"),
                             ("tmp", "name")):
                wtool("rename", uri, "--name", old, "--to", new)
            before = oracle(uri)["rows"]
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "renamed columns" in r.stderr,
                   f"lancefs commit: exit {r.returncode}, {r.stderr!r}")
            after = oracle(uri)["rows"]
            expect(after == before, f"LanceDB's rows changed: {after}")


def test_edit_lands_after_a_null_column_dropped():
    """An edit of a committed row lands when another writer dropped a
    column that is null in that row since (its meta.json, shown and kept
    as it was, says "caption": null: nothing to set); one in a row with a
    value there is refused, naming the column."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 5)
        img, img2 = jpeg(78), jpeg(79)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=600") as mnt:
            # row_004's caption is null, row_001's is not
            write(os.path.join(mnt, "row_004", "image.jpg"), img)
            write(os.path.join(mnt, "row_001", "image.jpg"), img2)
            wtool("dropcol", uri, "--name", "caption")
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "row_004" not in r.stderr and
                   "row_001" in r.stderr and "caption" in r.stderr,
                   f"lancefs commit: exit {r.returncode}, {r.stderr!r}")
        got = {x["values"]["name"]: x["values"]
               for x in oracle(uri)["rows"]}
        expect(got["row_004"]["image"]["sha256"] == sha256(img) and
               got["row_004"]["label"] == 40,
               f"row_004 after the commit: {got['row_004']}")


def test_deletion_of_a_row_compacted_then_restored():
    """A staged rm -r of a row that a compaction moved stays refused when
    an overwrite replaced the table and a restore brought back a version
    holding the moved row: the row is there, so the deletion is not
    dropped as gone with the overwritten table."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        wtool("append", uri, "--rows", 2, "--start", 3)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=600") as mnt:
            shutil.rmtree(os.path.join(mnt, "row_003"))
            compacted = wtool("compact", uri)["version"]
            wtool("make", uri, "--version", "2.0", "--rows", 2, "--prefix",
                  "new", "--overwrite")
            wtool("restore", uri, "--version", compacted)
            want = lance_rows(uri)
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "row_003" in r.stderr,
                   f"lancefs commit: exit {r.returncode}, {r.stderr!r}")
            same_rows(lance_rows(uri), want, "after the commit")
            expect("row_003" in want, f"the restored rows: {sorted(want)}")


def staged_rows(staging):
    """The folders of the rows a staging folder holds, by row name (none
    when the daemon removed it, empty, at its exit; spare folders have
    no name)."""
    rows = os.path.join(staging, "rows")
    out = {}
    for d in os.listdir(rows) if os.path.isdir(rows) else ():
        with contextlib.suppress(OSError):
            out[os.getxattr(os.path.join(rows, d),
                            "user.lancefs.name").decode()] = \
                os.path.join(rows, d)
    return out


def staged_names(staging):
    """The names of the rows an unmounted staging folder holds."""
    return sorted(staged_rows(staging))


def staged_folder(staging, name):
    """The staging folder of the row `name`."""
    return staged_rows(staging)[name]


USER_LEAVING = """
import os, sys, time
go, row, img = sys.argv[1:]
while not os.path.exists(go):
    time.sleep(0.05)
os.mkdir(row)
fd = os.open(os.path.join(row, "image.jpg"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, open(img, "rb").read())
os._exit(0)
"""


def test_daemon_stopped_while_a_file_is_written():
    """A daemon stopped by a signal while a program still writes a row's
    file commits the rows that are complete and not that one (it stays
    staged, the file unfinished); a remount drops the unfinished file."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        sample(src, "done", 3)
        with mountpoint() as mnt:
            lancefs("mount", "-o", f"staging_dir={staging},name_column=name,"
                    "commit_delay=60", uri, mnt)
            pid = status(mnt)["pid"]
            cp("-r", os.path.join(src, "done"), mnt)
            os.mkdir(os.path.join(mnt, "half"))
            fd = os.open(os.path.join(mnt, "half", "image.jpg"),
                         os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, jpeg(9)[:100])
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"),
                     "the daemon's exit")
            with contextlib.suppress(OSError):
                os.close(fd)
            rows = lance_rows(uri)
            expect("done" in rows and "half" not in rows,
                   f"LanceDB after the signal: {sorted(rows)}")
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
            lancefs("mount", "-o", f"staging_dir={staging},name_column=name",
                    uri, mnt)
            expect("half" not in listing(mnt) or
                   listing(os.path.join(mnt, "half")) == [],
                   f"the unfinished file: {listing(mnt)}")
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(mnt, "half"))
            lancefs("umount", mnt)
            expect("half" not in lance_rows(uri), "half committed")


def test_kill_while_a_refused_update_is_filled():
    """A kill -9 during a commit that has copied a committed row's files
    into its staged update (to write the row whole), where the update is
    refused (another writer deleted the row): after the remount the row
    lists what the user wrote, meta.json, not the copy of its old image
    too (the copy counted as the user's file). Many big rows make the
    commit long enough to kill it while the copy is there."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 4)
        with mountpoint() as mnt:
            opts = (f"staging_dir={staging},name_column=name,"
                    "commit_delay=600")
            lancefs("mount", "-o", opts, uri, mnt)
            pid = status(mnt)["pid"]
            write(os.path.join(mnt, "row_001", "meta.json"), b'{"label": 7}')
            for k in range(60):
                os.mkdir(os.path.join(mnt, f"big_{k}"))
                write(os.path.join(mnt, f"big_{k}", "image.jpg"),
                      b"\xff\xd8\xff\xe0" + random.randbytes(1 << 20))
            wtool("delete", uri, "--where", "name = 'row_001'")
            folder = staged_folder(staging, "row_001")
            commit = subprocess.Popen([LANCEFS, "commit", mnt],
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            while not os.path.exists(os.path.join(folder, "image.jpg")):
                expect(commit.poll() is None,
                       "the commit ended before the copy was seen")
            os.kill(pid, signal.SIGKILL)
            commit.wait()
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"),
                     "the daemon's exit")
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
            lancefs("mount", "-o", opts, uri, mnt)
            lancefs("commit", mnt, check=False)
            got = sorted(os.listdir(os.path.join(mnt, "row_001")))
            expect(got == ["meta.json"], f"row_001 lists {got}")
            shutil.rmtree(os.path.join(mnt, "row_001"))
            lancefs("umount", mnt)
        names = lance_rows(uri)
        expect("row_001" not in names and
               sum(n.startswith("big_") for n in names) == 60,
               f"LanceDB: {sorted(names)[:8]}... ({len(names)} rows)")


def test_busy_umount_commits_the_last_close():
    """A mount unmounted while in use (detached: the daemon commits and
    exits once nothing uses it) commits the row its last user wrote just
    before leaving: the kernel drops the RELEASE of that user's last
    close at such an unmount, and the row stayed staged, not in the
    dataset, until the next mount."""
    with workdir() as w:
        uri = os.path.join(w, "t.lance")
        staging = os.path.join(w, "staging")
        img = os.path.join(w, "img.jpg")
        go = os.path.join(w, "go")
        write(img, jpeg(7))
        wtool("make", uri, "--version", "2.1", "--rows", 2)
        with mountpoint() as mnt:
            for k in range(3):
                lancefs("mount", "-o",
                        f"staging_dir={staging},name_column=name", uri, mnt)
                pid = status(mnt)["pid"]
                # a program whose working folder is the mount writes a
                # row once the mount is detached, and exits with the file
                # open: its exit closes the file, then leaves the mount
                user = subprocess.Popen(
                    [sys.executable, "-c", USER_LEAVING, go, f"late{k}",
                     img], cwd=mnt)
                r = lancefs("umount", mnt, check=False)
                write(go, b"")
                expect(user.wait(timeout=60) == 0, "the copy failed")
                os.unlink(go)
                expect(r.returncode == 0 and "busy" in r.stderr,
                       f"umount: exit {r.returncode}, {r.stderr!r}")
                wait_for(lambda: not os.path.exists(f"/proc/{pid}"),
                         "the daemon's exit")
                expect(staged_names(staging) == [],
                       f"round {k}: left staged: {staged_names(staging)}")
            rows = lance_rows(uri)
            for k in range(3):
                expect(rows.get(f"late{k}", {}).get("image") ==
                       sha256(jpeg(7)), f"LanceDB: late{k} is "
                       f"{rows.get(f'late{k}')}")


def test_dataset_made_anew_with_nothing_staged():
    """With nothing staged (a hidden file at the root is no row), lancefs
    commit and umount of a mount whose dataset was deleted and made anew
    under it succeed (there is nothing to commit); a remount shows the
    new dataset."""
    with workdir() as w:
        uri = os.path.join(w, "t.lance")
        staging = os.path.join(w, "staging")
        wtool("make", uri, "--version", "2.1", "--rows", 3)
        with mounted(uri, staging, "name_column=name") as mnt:
            expect(len(listing(mnt)) == 3, f"listed {listing(mnt)}")
            # a hidden file at the root is staged, but never a row
            write(os.path.join(mnt, ".DS_Store"), b"\0\0\0\1Bud1")
            shutil.rmtree(uri)
            wtool("make", uri, "--version", "2.1", "--rows", 2,
                  "--prefix", "z")
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 0, f"lancefs commit: exit "
                   f"{r.returncode}, {r.stderr!r}")
        with mounted(uri, staging, "name_column=name") as mnt:
            expect(listing(mnt) == sorted(list(lance_rows(uri)) +
                                          [".DS_Store"]),
                   f"remounted: {listing(mnt)}")
            os.unlink(os.path.join(mnt, ".DS_Store"))


def test_changes_of_a_dataset_made_anew():
    """Staged changes of committed rows (an edit, an rm -r) made on a
    dataset that is then deleted and made anew at its path never land in
    the new dataset's rows, whether it has as many versions as the one
    they were made on or fewer: the deletion is dropped, the edit refused
    and listed by its name, and the new rows show and stay as they
    were."""
    for fewer in (False, True):
        changes_of_a_dataset_made_anew(fewer)


def changes_of_a_dataset_made_anew(fewer):
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        wtool("append", uri, "--rows", 2, "--start", 3)
        mnt = tempfile.mkdtemp(prefix="lancefs-wmnt-")
        try:
            lancefs("mount", "-o", f"staging_dir={staging},name_column=name,"
                    "text_files=caption,commit_delay=600", uri, mnt)
            write(os.path.join(mnt, "row_001", "caption.txt"), "edited")
            # in the second fragment, which the new dataset with fewer
            # versions lacks
            write(os.path.join(mnt, "row_003", "caption.txt"), "edited")
            shutil.rmtree(os.path.join(mnt, "row_002"))
            shutil.rmtree(uri)
            r = lancefs("umount", mnt, check=False)
            expect(not os.path.ismount(mnt) and
                   len(staged_names(staging)) == 3,
                   f"umount with the dataset gone: exit {r.returncode}, "
                   f"{r.stderr.strip()!r}")
        finally:
            if os.path.ismount(mnt):
                subprocess.run(["fusermount3", "-uz", mnt],
                               capture_output=True)
            os.rmdir(mnt)
        # rows at the same places (fragment 0, offsets 1 and 2)
        wtool("make", uri, "--version", "2.0", "--rows", 5 if fewer else 3,
              "--prefix", "other")
        if not fewer:
            wtool("append", uri, "--rows", 2, "--start", 3, "--prefix",
                  "other")
        want = lance_rows(uri)
        expect(oracle(uri)["version"] == (1 if fewer else 2),
               "the new dataset's versions")
        what = "with fewer versions" if fewer else "with as many versions"
        with mounted(uri, staging, "name_column=name",
                     "text_files=caption") as mnt:
            # before any commit: every new row as it is, the edit listed
            # under its own name
            rows = listing(mnt)
            expect(rows == sorted(list(want) + ["row_001", "row_003"]),
                   f"{what}: listed at the mount: {rows}")
            for name in want:
                got = None
                with contextlib.suppress(FileNotFoundError):
                    with open(os.path.join(mnt, name, "caption.txt")) as f:
                        got = f.read()
                expect(got == want[name]["caption"],
                       f"{what}: {name}/caption.txt reads {got!r}")
            r = lancefs("commit", mnt, check=False)
            errs = errors_text(mnt)
            expect(r.returncode == 1 and "row_001" in r.stderr and
                   "row_003" in r.stderr and "row_001" in errs and
                   "row_002" in errs and errs.count("made anew") == 3,
                   f"{what}: lancefs commit: exit {r.returncode}, "
                   f"{r.stderr!r}; errors {errs!r}")
            same_rows(lance_rows(uri), want,
                      f"{what}: the new dataset after commit")
            rows = listing(mnt)
            expect(rows == sorted(list(want) + ["row_001", "row_003"]),
                   f"{what}: listed after the commit: {rows}")
            for name in ("row_001", "row_003"):
                with open(os.path.join(mnt, name, "caption.txt")) as f:
                    got = f.read()
                expect(got == "edited",
                       f"{what}: the refused {name} reads {got!r}")
                shutil.rmtree(os.path.join(mnt, name))
            lancefs("commit", mnt)
        same_rows(lance_rows(uri), want, f"{what}: after umount")


def test_umount_waits_while_others_mount():
    """lancefs umount returns once the daemon let go of its staging folder,
    also while other FUSE mounts come and go meanwhile (the next may take
    the device number the unmounted one freed): a script's next mount on
    that staging works, and every row it copied lands."""
    with workdir() as w:
        a, b = (os.path.join(w, d, "t.lance") for d in ("a", "b"))
        wtool("make", a, "--version", "2.1", "--rows", 1)
        wtool("make", b, "--version", "2.1", "--rows", 1, "--prefix", "b")
        other = os.path.join(w, "other")
        os.mkdir(other)
        stop = os.path.join(w, "stop")
        # a shell loop: mounts from a Python thread came too late to take
        # the freed device number
        churn = subprocess.Popen(
            ["sh", "-c", 'while [ ! -e "$1" ]; do "$0" mount -o '
             '"staging_dir=$2" "$3" "$4" && "$0" umount "$4"; done',
             LANCEFS, stop, os.path.join(w, "sb"), b, other],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mnt = os.path.join(w, "m")
        os.mkdir(mnt)
        try:
            for i in range(12):
                r = lancefs("mount", "-o", f"staging_dir={w}/sa,"
                            "name_column=name,commit_delay=60", a, mnt,
                            check=False)
                expect(r.returncode == 0, f"mount {i} right after the "
                       f"umount before: exit {r.returncode}, {r.stderr!r}")
                os.mkdir(os.path.join(mnt, f"new_{i:02}"))
                write(os.path.join(mnt, f"new_{i:02}", "caption.txt"),
                      f"copy {i}")
                if i == 0:
                    # a refused row stays staged: every umount's commit
                    # reports it, and the daemon's last one tries it again
                    os.mkdir(os.path.join(mnt, "bad"))
                    write(os.path.join(mnt, "bad", "nocolumn.bin"), b"x")
                r = lancefs("umount", mnt, check=False)
                expect(r.returncode == 0 and "bad" in r.stderr,
                       f"umount {i}: exit {r.returncode}, {r.stderr!r}")
        finally:
            write(stop, "")
            churn.wait(timeout=60)
            if os.path.ismount(mnt):
                lancefs("umount", mnt, check=False)
        rows = lance_rows(a)
        expect(all(rows.get(f"new_{i:02}", {}).get("caption") ==
                   f"copy {i}" for i in range(12)),
               f"the copied rows: {sorted(rows)}")


def test_staging_of_another_dataset():
    """A staging folder holding staged rows of one dataset is refused for
    another, naming the first (staged changes are made by row address:
    they must never land in another dataset); once they are gone it
    serves the other. The default staging is found whatever the spelling
    of the dataset's path (a symlink, ./, a trailing slash, file://)."""
    with workdir() as w:
        a, b = (os.path.join(w, d, "t.lance") for d in ("a", "b"))
        wtool("make", a, "--version", "2.1", "--rows", 3)
        wtool("make", b, "--version", "2.1", "--rows", 3, "--prefix", "b")
        want_b = lance_rows(b)
        staging = os.path.join(w, "staging")
        with mounted(a, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            os.mkdir(os.path.join(mnt, "bad"))
            write(os.path.join(mnt, "bad", "nocolumn.bin"), b"x")
        mnt = tempfile.mkdtemp(prefix="lancefs-wmnt-")
        try:
            r = lancefs("mount", "-o", f"staging_dir={staging}", b, mnt,
                        check=False)
            if r.returncode == 0:
                lancefs("umount", mnt, check=False)
            expect(r.returncode != 0 and a in r.stderr,
                   f"mount of another dataset on a staging holding rows: "
                   f"exit {r.returncode}, {r.stderr!r}")
        finally:
            os.rmdir(mnt)
        same_rows(lance_rows(b), want_b, "the other dataset")
        with mounted(a, staging, "name_column=name") as mnt:
            expect("bad" in os.listdir(mnt), "the refused row, remounted")
            shutil.rmtree(os.path.join(mnt, "bad"))
        with mounted(b, staging, "name_column=name") as mnt:
            expect(sorted(os.listdir(mnt)) == sorted(want_b),
                   f"the other dataset on the emptied staging: "
                   f"{sorted(os.listdir(mnt))}")
        # the default staging (XDG_STATE_HOME), by two spellings
        os.symlink(os.path.join(w, "a"), os.path.join(w, "alias"))
        env = dict(os.environ, XDG_STATE_HOME=os.path.join(w, "state"))
        mnt = tempfile.mkdtemp(prefix="lancefs-wmnt-")
        try:
            for source in (a, "file://" + os.path.join(w, "alias", ".",
                                                       "t.lance") + "/"):
                r = subprocess.run(
                    [LANCEFS, "mount", "-o", "name_column=name,"
                     "commit_delay=60", source, mnt], env=env,
                    capture_output=True, text=True, timeout=120)
                expect(r.returncode == 0, f"mount {source}: {r.stderr}")
                try:
                    if source == a:
                        os.mkdir(os.path.join(mnt, "bad2"))
                        write(os.path.join(mnt, "bad2", "nocolumn.bin"),
                              b"x")
                    else:
                        expect("bad2" in os.listdir(mnt),
                               f"the row staged through {a}, mounted as "
                               f"{source}: {os.listdir(mnt)}")
                        shutil.rmtree(os.path.join(mnt, "bad2"))
                finally:
                    lancefs("umount", mnt, check=False)
        finally:
            if os.path.ismount(mnt):
                subprocess.run(["fusermount3", "-uz", mnt])
            os.rmdir(mnt)


def test_stable_row_ids_kept_by_updates():
    """In a dataset with stable row ids (LanceDB's
    new_table_enable_stable_row_ids), a row edited through the mount
    keeps its row id and creation version, as LanceDB's own update does,
    and was last updated at the new version, also where an index covers
    its fragment: LanceDB's query through that index finds it by its new
    value only. A new row takes the next id; rows not touched keep
    theirs; a LanceDB append after goes on from there; every version
    opens."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        src, staging = os.path.join(w, "src"), os.path.join(w, "staging")
        os.makedirs(src)
        wtool("make", uri, "--version", "2.1", "--rows", 4, "--stable")
        wtool("index", uri, "--name", "label")	# covers fragment 0
        wtool("append", uri, "--rows", 2, "--prefix", "more", "--start",
              100)
        history = wtool("versions", uri)
        before = wtool("rowids", uri)
        expect(wtool("where", uri, "--where", "label = 10") == ["row_001"],
               "LanceDB's query before the edit")
        sample(src, "new_000", 130)
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            for row in ("row_001", "more_100"):
                with open(os.path.join(mnt, row, "caption.txt"), "w") as f:
                    f.write(f"edited {row}")
            with open(os.path.join(mnt, "row_001", "meta.json"), "w") as f:
                f.write('{"label": 777}')
            cp("-r", os.path.join(src, "new_000"), mnt)
            shutil.rmtree(os.path.join(mnt, "row_002"))
            v = int(lancefs("commit", mnt).stdout)
        after = wtool("rowids", uri)
        want = {n: dict(r) for n, r in before.items() if n != "row_002"}
        for row in ("row_001", "more_100"):	# one per fragment
            want[row]["updated"] = v
        nxt = max(r["rowid"] for r in before.values()) + 1
        want["new_000"] = {"rowid": nxt, "created": v, "updated": v}
        expect(after == want, f"LanceDB reads row ids and versions "
               f"{after}, expected {want}")
        got = lance_rows(uri)
        expect(got["row_001"]["caption"] == "edited row_001" and
               got["more_100"]["caption"] == "edited more_100" and
               got["row_001"]["label"] == 777,
               f"rows after the edit: {got}")
        for cond, names in (("label = 10", []), ("label = 777", ["row_001"])):
            found = wtool("where", uri, "--where", cond)
            expect(found == names, f"LanceDB's query {cond}: {found}")
        # named by row id, the edited row is still where it was, once
        with mounted(uri, staging) as mnt:
            names = sorted(os.listdir(mnt))
            shown = sorted(f"{r['rowid']:08d}" for r in after.values())
            expect(names == shown, f"row folders {names}, row ids {shown}")
            with open(os.path.join(mnt, f"{before['more_100']['rowid']:08d}",
                                   "meta.json")) as f:
                meta = json.load(f)
            expect(meta.get("name") == "more_100" and
                   meta.get("caption") == "edited more_100",
                   f"row {before['more_100']['rowid']:08d}: {meta}")
        wtool("append", uri, "--rows", 1, "--prefix", "late")
        late = wtool("rowids", uri)
        expect(late.get("late_000", {}).get("rowid") == nxt + 1 and
               all(late[n] == r for n, r in after.items()),
               f"after a LanceDB append: {late}")
        check_versions(uri, history, "2.1", len(want) + 1)


def test_row_folder_copied_back_in():
    """With text_files=, a row folder as the mount shows it (caption.txt,
    and the caption in meta.json too, with the name) copied out, the row
    removed and the copy put back: the row again, with the same values.
    A caption.txt and a meta.json that disagree refuse their row."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        want = lance_rows(uri)
        bad = os.path.join(src, "bad")
        os.makedirs(bad)
        write(os.path.join(bad, "caption.txt"), b"one")
        write(os.path.join(bad, "meta.json"), b'{"caption": "two"}')
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            with open(os.path.join(mnt, "row_001", "meta.json")) as f:
                meta = json.load(f)
            expect(meta.get("caption") == want["row_001"]["caption"],
                   f"meta.json {meta}")
            saved = os.path.join(src, "saved_001")
            cp("-r", os.path.join(mnt, "row_001"), saved)
            shutil.rmtree(os.path.join(mnt, "row_001"))
            cp("-r", saved, bad, mnt)
            commit_now(mnt, refused=True)
            errs = errors_text(mnt)
            expect("bad" in errs and "different values" in errs and
                   "saved_001" not in errs, f".lancefs/errors: {errs!r}")
            shutil.rmtree(os.path.join(mnt, "bad"))
        same_rows(lance_rows(uri), want, "after umount")


def test_nul_in_a_json_string():
    """A string value holding U+0000, which the view writes as \\u0000 in
    meta.json, is taken back from meta.json (it was 'bad JSON')."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 1)
        want = lance_rows(uri)
        row = sample(src, "nul", 140, caption=False)
        meta = os.path.join(src, "nul", "meta.json")
        with open(meta) as f:
            m = json.load(f)
        m["caption"] = "a\u0000b"
        write(meta, json.dumps(m))
        with mounted(uri, staging, "name_column=name") as mnt:
            cp("-r", os.path.join(src, "nul"), mnt)
        row["caption"] = "a\u0000b"
        want.update(plain({"nul": row}))
        same_rows(lance_rows(uri), want, "after umount")
        # a new dataset infers its schema from such a row too
        new = os.path.join(w, "db", "new.lance")
        with mounted(new, staging + "2") as mnt:
            cp("-r", os.path.join(src, "nul"), mnt)
        got = {r["values"]["name"]: r["values"].get("caption")
               for r in oracle(new)["rows"]}
        expect(got == {"nul": "a\u0000b"}, f"new dataset: {got}")


def samples_with_meta(src, rows, seed):
    """Sample folders src/NAME (no caption) whose meta.json also sets the
    values in rows[NAME] (a dict of column: value)."""
    for i, (n, vals) in enumerate(rows.items()):
        sample(src, n, seed + i, caption=False)
        meta = os.path.join(src, n, "meta.json")
        with open(meta) as f:
            m = json.load(f)
        m.update(vals)
        write(meta, json.dumps(m))


def copy_and_commit(mnt, src, names):
    """cp -r of src/NAME for each name into the mount, then a commit;
    returns .lancefs/errors."""
    cp("-r", *[os.path.join(src, n) for n in names], mnt)
    commit_now(mnt)
    return errors_text(mnt)


def test_null_struct_with_a_required_field():
    """A nullable struct holding a field that is not nullable (LanceDB
    makes one from Optional[Inner] with required fields): a row whose
    meta.json sets it null or leaves it out commits in 2.1 and 2.2 (the
    field is null under the null struct, as Arrow allows) and LanceDB
    reads it back null; 2.0, which keeps a null struct as its fields,
    refuses that row, naming it. Either way the other rows land: before,
    such a row failed every commit with an error naming no row."""
    for ver in ("2.0", "2.1", "2.2"):
        with workdir() as w:
            uri = os.path.join(w, "db", "t.lance")
            wtool("structreq", uri, "--version", ver)
            staging = os.path.join(w, "staging")
            rows = {"null_info": {"info": None}, "no_info": {},
                    "full": {"info": {"id": 5, "tag": None}},
                    "no_id": {"info": {"tag": "t"}}}
            with mounted(uri, staging, "name_column=name") as mnt:
                for n, meta in rows.items():
                    os.mkdir(os.path.join(mnt, n))
                    write(os.path.join(mnt, n, "meta.json"),
                          json.dumps(meta))
                commit_now(mnt, refused=True)
                errs = errors_text(mnt)
            refused = {"no_id"} | ({"null_info", "no_info"}
                                   if ver == "2.0" else set())
            for n in rows:
                line = [x for x in errs.splitlines() if f"{n}" in x]
                expect(bool(line) == (n in refused),
                       f"{ver}: {n}: errors {errs!r}")
            expect("'id' is not nullable" in errs or ver != "2.0",
                   f"{ver}: errors {errs!r}")
            got = {r["values"]["name"]: r["values"]["info"]
                   for r in oracle(uri)["rows"]}
            want = {"sr_0": {"id": 1, "tag": "a"},
                    "full": {"id": 5, "tag": None}}
            if ver != "2.0":
                want.update(sr_1=None, null_info=None, no_info=None)
            expect(got == want, f"{ver}: LanceDB reads {got}")


def test_integer_name_column():
    """An integer name column (uint64, values past int64 among them):
    the mount names rows by their values; folders copied in take their
    names as values, past int64 too (a name the mount shows is one it
    takes back); a name that is no such integer is refused, naming the
    row. LanceDB reads the values back."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        wtool("addcol", uri, "--name", "uid", "--sql",
              "arrow_cast(label, 'UInt64') + "
              "arrow_cast('18446744073709551605', 'UInt64')")
        shown = {"18446744073709551605", "18446744073709551615"}
        new = {"9223372036854775808": 3, "42": 4, "-1": 5, "0x10": 6}
        with mounted(uri, staging, "name_column=uid") as mnt:
            expect(set(listing(mnt)) == shown, f"listed {listing(mnt)}")
            for n, label in new.items():
                os.mkdir(os.path.join(mnt, n))
                write(os.path.join(mnt, n, "meta.json"),
                      json.dumps({"label": label}))
            commit_now(mnt, refused=True)
            errs = errors_text(mnt)
            # one line each, though the commit tried them twice
            expect(errs.count("-1/the row name: column 'uid': -1 is out "
                              "of range for uint64") == 1 and
                   errs.count("0x10: the name column 'uid' is uint64 and "
                              "'0x10' is not an integer") == 1,
                   f"errors {errs!r}")
            expect("9223372036854775808" not in errs and "42:" not in errs,
                   f"errors {errs!r}")
            listed = set(listing(mnt))
            expect(shown | {"9223372036854775808", "42"} <= listed,
                   f"listed {sorted(listed)}")
        got = {r["values"]["uid"]: r["values"]["label"]
               for r in oracle(uri)["rows"]}
        expect(got == {18446744073709551605: 0, 18446744073709551615: 10,
                       9223372036854775808: 3, 42: 4},
               f"LanceDB reads {got}")


def test_list_of_strings_column():
    """A LanceDB 2.1 and 2.2 dataset with a list<string> column (added by
    LanceDB, not nullable): rows copied in set it from meta.json (empty
    and long strings, null items, an empty list, two items of 40,000
    bytes); LanceDB reads them back, and the older rows."""
    for ver in ("2.1", "2.2"):
        with workdir() as w:
            uri, staging, src = lancedb_table(w, ver, 2)
            wtool("addcol", uri, "--name", "tags", "--sql",
                  "make_array('a', 'b')")
            lists = {"t0": ["x", "", None, "y" * 300], "t1": [],
                     "t2": ["z"] * 50, "big": ["b" * 40000, "c" * 40000]}
            samples_with_meta(src, {n: {"tags": t} for n, t in
                                    lists.items()}, 150)
            with mounted(uri, staging, "name_column=name") as mnt:
                errs = copy_and_commit(mnt, src, lists)
                expect(errs == "", f"{ver}: .lancefs/errors: {errs!r}")
            got = {r["values"]["name"]: r["values"]["tags"]
                   for r in oracle(uri)["rows"]}
            want = dict(lists, row_000=["a", "b"], row_001=["a", "b"])
            expect(got == want, f"{ver}: tags {sorted(got)}")


def test_nested_columns():
    """A LanceDB 2.0, 2.1 and 2.2 dataset with a list of structs, a list
    of lists, a struct holding a list, a list of vectors, a list of
    large strings, dictionary columns of strings, int64s and doubles and
    (2.2) a map (added by LanceDB): rows copied in set them from
    meta.json (nulls and empty lists at every level); LanceDB reads them
    back, and the older rows."""
    for ver in ("2.0", "2.1", "2.2"):
        with workdir() as w:
            uri, staging, src = lancedb_table(w, ver, 2)
            wtool("addcol", uri, "--name", "pts", "--sql",
                  "make_array(named_struct('x', 1, 's', 'a'))")
            wtool("addcol", uri, "--name", "grid", "--sql",
                  "make_array(make_array(1, 2), make_array(3))")
            wtool("addcol", uri, "--name", "box", "--sql",
                  "named_struct('ids', make_array(7, 8), 'ok', true)")
            wtool("addcol", uri, "--name", "vecs", "--sql",
                  "make_array(arrow_cast(make_array(1.5, 2.5), "
                  "'FixedSizeList(2, Float32)'))")
            wtool("addcol", uri, "--name", "words", "--sql",
                  "make_array(arrow_cast('w', 'LargeUtf8'))")
            wtool("addcol", uri, "--name", "kind", "--sql",
                  "arrow_cast('k', 'Dictionary(Int16, Utf8)')")
            wtool("addcol", uri, "--name", "kn", "--sql",
                  "arrow_cast(CASE WHEN name = '' THEN NULL ELSE 7 END, "
                  "'Dictionary(Int16, Int64)')")
            wtool("addcol", uri, "--name", "kf", "--sql",
                  "arrow_cast(CASE WHEN name = '' THEN NULL ELSE 0.5 END, "
                  "'Dictionary(Int8, Float64)')")
            if ver == "2.2":    # maps need 2.2 (as in Lance)
                wtool("addcol", uri, "--name", "m", "--sql",
                      "map(['k', 'j'], [1, 2])")
            rows = {
                "n0": {"pts": [{"x": 5, "s": "p"}, None,
                               {"x": None, "s": "q" * 300}],
                       "grid": [[1], [], None, [None, 4]],
                       "box": {"ids": [1, None, 3], "ok": False},
                       "vecs": [[0.5, -1], None, [3, 4]],
                       "words": ["a", None, "", "b" * 1000]},
                "n1": {"pts": [], "grid": [],
                       "box": {"ids": [], "ok": None}, "vecs": [],
                       "words": []},
                "n2": {"pts": [None], "grid": [None, None],
                       "box": {"ids": None, "ok": None}, "vecs": [None],
                       "words": [None]},
                "n3": {"pts": [{"x": i, "s": str(i)} for i in range(40)],
                       "grid": [[i] * (i % 4) for i in range(30)],
                       "box": {"ids": [], "ok": True},
                       "vecs": [[i, i / 4] for i in range(50)],
                       "words": [str(i) * i for i in range(60)]},
            }
            for k, n in enumerate(rows):
                rows[n]["kind"] = ("x", "y" * 300, "x", "")[k]
                rows[n]["kn"] = (5, None, 2 ** 40, 5)[k]
                rows[n]["kf"] = (-1.25, 1e300, None, 0.5)[k]
            if ver == "2.2":
                rows["n0"]["m"] = [{"key": "a", "value": 1},
                                   {"key": "b", "value": None}]
                rows["n1"]["m"] = []
                rows["n2"]["m"] = [{"key": "", "value": -5}]
                rows["n3"]["m"] = [{"key": str(i), "value": i}
                                   for i in range(30)]
            if ver == "2.0":    # 2.0 stores a null struct as all-null
                rows["n0"]["pts"][1] = {"x": None, "s": None}
                rows["n2"]["pts"][0] = {"x": None, "s": None}
            samples_with_meta(src, rows, 160)
            with mounted(uri, staging, "name_column=name") as mnt:
                errs = copy_and_commit(mnt, src, rows)
                expect(errs == "", f"{ver}: .lancefs/errors: {errs!r}")
            got = {r["values"]["name"]: {k: r["values"][k] for k in
                                         rows["n0"]}
                   for r in oracle(uri)["rows"]}
            old = {"pts": [{"x": 1, "s": "a"}], "grid": [[1, 2], [3]],
                   "box": {"ids": [7, 8], "ok": True},
                   "vecs": [[1.5, 2.5]], "words": ["w"], "kind": "k",
                   "kn": 7, "kf": 0.5}
            if ver == "2.2":
                old["m"] = [{"key": "k", "value": 1},
                            {"key": "j", "value": 2}]
            want = dict(rows, row_000=old, row_001=old)
            for n in want:
                expect(got.get(n) == want[n],
                       f"{ver} {n}: LanceDB {got.get(n)!r}, "
                       f"expected {want[n]!r}")


def test_every_type_copied_back_in():
    """Rows of the interop fixture "types" (every column type LanceDB
    writes, each with its edge values: the ends of int64 and uint64,
    timestamps at the ends of int64 nanoseconds, decimal256 of 76
    digits, vectors with null items, NaN, empty and null binaries, ...)
    copied out of a mount and back in as new rows with cp -r: LanceDB
    reads every new row equal to the row it came from (a NaN or infinity
    as null: meta.json shows them so, as VIEW.md says), in file versions
    2.0, 2.1 and 2.2. And a file of a committed row overwritten: the row
    keeps its other values exactly, NaN and infinities included."""
    def shown(v):       # dump.js writes NaN and infinities as strings
        if isinstance(v, dict):
            return {k: shown(x) for k, x in v.items()}
        if isinstance(v, list):
            return [shown(x) for x in v]
        return None if v in ("NaN", "Infinity", "-Infinity") else v

    expect(DATA is not None, "test_write.py needs the interop fixtures' "
           "folder as its third argument (ctest passes it)")
    picks = [0, 1, 2, 4, 5, 6, 7, 57, 123, 199]
    for ver in ("2.0", "2.1", "2.2"):
        with workdir() as w:
            uri = os.path.join(w, "types.lance")
            shutil.copytree(os.path.join(DATA, f"v_{ver}", "types.lance"),
                            uri)
            staging = os.path.join(w, "staging")
            src = os.path.join(w, "src")
            os.makedirs(src)
            before = oracle(uri)["rows"]
            copies = [os.path.join(src, f"c{k}") for k in picks]
            with mounted(uri, staging) as mnt:
                for k, c in zip(picks, copies):
                    cp("-r", os.path.join(mnt, f"{k:08d}"), c)
                cp("-r", *copies, mnt)
                commit_now(mnt)
                errs = errors_text(mnt)
                expect(errs == "", f"{ver}: .lancefs/errors: {errs!r}")
            after = oracle(uri)["rows"]
            expect(len(after) == len(before) + len(picks),
                   f"{ver}: LanceDB reads {len(after)} rows, expected "
                   f"{len(before)} + {len(picks)}")
            old = [shown(before[k]["values"]) for k in picks]
            for r in after[len(before):]:
                v = r["values"]
                same = [o for o in old if json.dumps(o, sort_keys=True) ==
                        json.dumps(v, sort_keys=True)]
                if not same:    # the nearest row, for the message
                    near = min(old, key=lambda o: sum(
                        o.get(c) != v.get(c) for c in o))
                    diff = {c: (near.get(c), v.get(c)) for c in near
                            if near.get(c) != v.get(c)}
                    raise AssertionError(f"{ver}: a copied row differs "
                                         f"from row id {near.get('id')} "
                                         f"(was, now): {diff}")
                old.remove(same[0])
            # row 3 (not copied) holds infinities: a file of it rewritten
            before = after
            with mounted(uri, staging) as mnt:
                d = os.path.join(mnt, "00000003")
                f = min(n for n in os.listdir(d) if n != "meta.json")
                write(os.path.join(d, f), b"xyz")
            was = [r["values"] for r in before if r["values"]["id"] == 3]
            now = [r["values"] for r in oracle(uri)["rows"]
                   if r["values"]["id"] == 3]
            expect(len(was) == len(now) == 1, f"{ver}: rows of id 3: "
                   f"{len(was)} before, {len(now)} after")
            changed = sorted(c for c in was[0] if was[0][c] != now[0][c])
            expect(changed == [f.split(".")[0]], f"{ver}: overwriting "
                   f"{f} changed {changed}: "
                   f"{[(was[0][c], now[0][c]) for c in changed][:4]}")


def test_blob_columns():
    """LanceDB datasets whose image column is a blob (v1 in 2.0 and 2.1,
    v2 in 2.2): rows copied in (a 9 MiB image and a row without one among
    them), an edit of a committed row's image and an rm -r, committed;
    LanceDB reads every image back (blob v1 descriptors, fetchBlobs for
    v2), and so does a new mount."""
    for ver, kind in (("2.0", "v1"), ("2.1", "v1"), ("2.2", "v2")):
        with workdir() as w:
            uri = os.path.join(w, "db", "t.lance")
            staging = os.path.join(w, "staging")
            src = os.path.join(w, "src")
            os.makedirs(src)
            wtool("make", uri, "--version", ver, "--rows", 3,
                  "--blob", kind)
            want = lance_rows(uri)
            rows = samples_with_big(src, "new", 3, 170)
            os.makedirs(os.path.join(src, "noimg"))
            write(os.path.join(src, "noimg", "meta.json"), '{"label": 5}')
            edited = jpeg(177)
            with mounted(uri, staging, "name_column=name") as mnt:
                cp("-r", *[os.path.join(src, n) for n in rows],
                   os.path.join(src, "noimg"), mnt)
                write(os.path.join(mnt, "row_001", "image.jpg"), edited)
                shutil.rmtree(os.path.join(mnt, "row_002"))
                commit_now(mnt)
                errs = errors_text(mnt)
                expect(errs == "", f"{ver}: .lancefs/errors: {errs!r}")
            want.update(plain(rows))
            want["noimg"] = {"image": None, "caption": None, "label": 5,
                             "score": None}
            want["row_001"]["image"] = sha256(edited)
            del want["row_002"]
            same_rows(lance_rows(uri), want, f"{ver} blob {kind}")
            with mounted(uri, os.path.join(w, "staging2"),
                         "name_column=name") as mnt:
                for n in ("new_big", "row_001"):
                    with open(os.path.join(mnt, n, "image.jpg"), "rb") as f:
                        got = sha256(f.read())
                    expect(got == want[n]["image"],
                           f"{ver}: {n}/image.jpg read back differs")


def test_nested_blobs_copied_back_in():
    """A blob inside a struct, as LanceDB writes it (v1 in 2.0 and 2.1, v2
    in 2.2; meta.json shows its bytes as hex): rows copied out of a mount
    and back in under new names with cp -r; LanceDB reads each copy's
    blob bytes and its sibling n equal to the original's (a null blob, an
    empty one, a null struct included)."""
    for ver in ("2.0", "2.1", "2.2"):
        with workdir() as w:
            uri = os.path.join(w, "db", "t.lance")
            src = os.path.join(w, "src")
            os.makedirs(src)
            wtool("nestedblob", uri, "--version", ver)
            want = {r["name"]: r for r in wtool("blobs", uri)}
            with mounted(uri, os.path.join(w, "staging"),
                         "name_column=name") as mnt:
                for n in want:
                    cp("-r", os.path.join(mnt, n), os.path.join(src, "c" + n))
                    # meta.json names the row too: the copy's own name
                    meta = os.path.join(src, "c" + n, "meta.json")
                    with open(meta) as f:
                        doc = json.load(f)
                    doc["name"] = "c" + n
                    write(meta, json.dumps(doc))
                cp("-r", *[os.path.join(src, "c" + n) for n in want], mnt)
                commit_now(mnt)
                errs = errors_text(mnt)
                expect(errs == "", f"{ver}: .lancefs/errors: {errs!r}")
            got = {r["name"]: r for r in wtool("blobs", uri)}
            expect(len(got) == 2 * len(want), f"{ver}: LanceDB reads "
                   f"{sorted(got)}")
            for n, r in want.items():
                c = got.get("c" + n, {})
                expect((c.get("n"), c.get("data")) == (r["n"], r["data"]),
                       f"{ver}: LanceDB reads c{n} as {c}, {n} as {r}")


def test_columns_the_writer_cannot_write():
    """A legacy (0.1) dataset (whose files lancefs does not write): new
    rows and edits fail at once with EOPNOTSUPP, saying why in
    .lancefs/errors, not staged rows that no
    commit can take; rm -r still commits, also when an unlink alone (an
    edit) is refused at the same commit."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "legacy", 3)
        want = lance_rows(uri)
        sample(src, "new_000", 121)
        with mounted(uri, staging, "name_column=name",
                     "text_files=caption") as mnt:
            for what, fn in (
                    ("mkdir", lambda: os.mkdir(os.path.join(mnt, "new_000"))),
                    ("root file", lambda: write(os.path.join(mnt, "x.jpg"),
                                                jpeg(5))),
                    ("edit", lambda: write(os.path.join(
                        mnt, "row_001", "caption.txt"), b"edited"))):
                try:
                    fn()
                    expect(False, f"{what}: no error")
                except OSError as e:
                    expect(e.errno == errno.EOPNOTSUPP,
                           f"{what}: {e!r}, not EOPNOTSUPP")
            errs = errors_text(mnt)
            expect("new_000: rows cannot be added" in errs,
                   f"the refused mkdir in .lancefs/errors: {errs!r}")
            shutil.rmtree(os.path.join(mnt, "row_002"))
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 1, f"status writes {st}")
            # an unlink alone (no rmdir after it) is an edit: refused at
            # the commit, which takes the deletion all the same
            os.unlink(os.path.join(mnt, "row_000", "caption.txt"))
            commit_now(mnt, refused=True)
            errs = errors_text(mnt)
            expect("row_000" in errs and "only deleted" in errs,
                   f".lancefs/errors: {errs!r}")
        del want["row_002"]
        same_rows(lance_rows(uri), want, "after umount")


def daemon_peak_kb(mnt):
    """The peak resident memory (VmHWM, KiB) of the mount's daemon."""
    with open(f"/proc/{status(mnt)['pid']}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_committed_file_read_by_range():
    """A read of a few bytes of a large committed file through a writable
    mount reads about what it asks for: the daemon does not hold the
    whole value."""
    big = b"\xff\xd8\xff\xe0" + random.Random(25).randbytes(64 << 20)
    with workdir() as w:
        uri = os.path.join(w, "new.lance")
        staging = os.path.join(w, "staging")
        with mounted(uri, staging) as mnt:
            os.mkdir(os.path.join(mnt, "big"))
            with open(os.path.join(mnt, "big", "image.jpg"), "wb") as f:
                f.write(big)
        with mounted(uri, staging) as mnt:
            before = daemon_peak_kb(mnt)
            with open(os.path.join(mnt, "big", "image.jpg"), "rb") as f:
                f.seek(32 << 20)
                got = f.read(10)
            expect(got == big[32 << 20:(32 << 20) + 10],
                   f"read {got!r} at 32 MiB")
            grew = daemon_peak_kb(mnt) - before
            expect(grew < 16 << 10, f"the daemon grew by {grew} KiB to "
                   f"read 10 bytes of a {len(big) >> 20} MiB file")


def test_refresh_while_listing():
    """A read-only mount with refresh=: LanceDB deletes rows while a
    listing of the root is between two pages, and the mount moves on to
    that version; the listing still shows every row once (as of its
    start), none of those left skipped."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 600)
        mnt = os.path.join(w, "mnt")
        os.mkdir(mnt)
        lancefs("mount", "-o", "ro,refresh=1,name_column=name", uri, mnt)
        try:
            v0 = status(mnt)["version"]
            with os.scandir(mnt) as it:
                got = [next(it).name]
                wtool("delete", uri, "--where", "label < 50")
                wait_for(lambda: status(mnt)["version"] > v0,
                         "refresh to the version with the deletes",
                         timeout=30)
                got += [e.name for e in it]
        finally:
            lancefs("umount", mnt, check=False)
        now = set(lance_rows(uri))
        expect(len(got) == len(set(got)), "a row listed twice")
        missing = sorted(now - set(got))
        expect(not missing and len(got) == 600,
               f"{len(got)} listed; left out: {missing[:5]}")


def test_column_options_where_a_column_is_missing():
    """Column options name columns the mount's own dataset has; other
    members of a database, and older versions, may lack them: a member
    without `caption` still mounts (text_files=caption), and so does an
    @versions entry from before a column was added (text_files=note).
    Rows copied into a member without the name column are refused (their
    names would be lost), not committed nameless."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        db = os.path.dirname(uri)
        with mounted(db, staging, "name_column=name") as mnt:
            os.mkdir(os.path.join(mnt, "plain"))
            os.mkdir(os.path.join(mnt, "plain", "p0"))
            write(os.path.join(mnt, "plain", "p0", "meta.json"),
                  '{"label": 1}')
        wtool("addcol", uri, "--name", "note", "--sql", "'n-' || name")
        with mounted(db, staging + "2", "name_column=name",
                     "text_files=caption") as mnt:
            expect(listing(mnt) == ["plain", "t"], f"lists {listing(mnt)}")
            expect(os.path.isfile(os.path.join(mnt, "t", "row_001",
                                               "caption.txt")),
                   f"t/row_001: {listing(os.path.join(mnt, 't', 'row_001'))}")
            expect(listing(os.path.join(mnt, "plain")) == ["p0"],
                   f"plain: {listing(os.path.join(mnt, 'plain'))}")
        wtool("jsonb", os.path.join(db, "docs.lance"), "--texts", '["1"]')
        with mounted(db, staging + "4", "name_column=name") as mnt:
            os.mkdir(os.path.join(mnt, "docs", "d1"))
            write(os.path.join(mnt, "docs", "d1", "meta.json"),
                  '{"doc": 2}')
            try:
                with open(os.path.join(mnt, "docs", ".lancefs", "commit"),
                          "w") as f:
                    f.write("1")
                raise AssertionError("a nameless row committed")
            except OSError as e:
                expect(e.errno == errno.EINVAL, f"commit: {e}")
            errs = errors_text(os.path.join(mnt, "docs"))
            expect("no column name" in errs, f"docs errors: {errs!r}")
            shutil.rmtree(os.path.join(mnt, "docs", "d1"))
        with mounted(uri, staging + "3", "name_column=name",
                     "text_files=note") as mnt:
            with open(os.path.join(mnt, "row_001", "note.txt")) as f:
                expect(f.read() == "n-row_001", "note.txt")
            old = os.path.join(mnt, "@versions", "1")
            expect(listing(old) == ["row_000", "row_001"],
                   f"@versions/1 lists {listing(old)}")


def test_changes_across_a_new_column():
    """An edit and an rm -r of committed rows staged before LanceDB added
    a computed column (add_columns: a Merge, new values in every row):
    the edit, whose row would keep its other values from before, is
    refused and named in .lancefs/errors; the removal commits."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 3)
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            with open(os.path.join(mnt, "row_001", "caption.txt"),
                      "w") as f:
                f.write("edited")
            shutil.rmtree(os.path.join(mnt, "row_002"))
            wtool("addcol", uri, "--name", "extra", "--sql", "label * 2")
            want = lance_rows(uri)
            extra = {r["values"]["name"]: r["values"]["extra"]
                     for r in oracle(uri)["rows"]}
            commit_now(mnt, refused=True)
            errs = errors_text(mnt)
            expect("row_001" in errs and "row_002" not in errs,
                   f".lancefs/errors: {errs!r}")
        del want["row_002"]
        del extra["row_002"]
        same_rows(lance_rows(uri), want, "after umount")
        got = {r["values"]["name"]: r["values"]["extra"]
               for r in oracle(uri)["rows"]}
        expect(got == extra, f"extra: {got}, want {extra}")


def test_mount_paths_and_one_mount_per_staging():
    """Relative SOURCE@N, mount point and staging_dir= work from the
    folder the mount was started in (the daemon runs in /); SIGTERM of a
    daemon mounted on a relative path unmounts it; a second mount that
    would share a running mount's staging folder is refused before it
    touches it, and the first mount's rows land once."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        wtool("append", uri, "--rows", 1, "--prefix", "late")
        os.makedirs(os.path.join(w, "m1"))
        os.makedirs(os.path.join(w, "m2"))
        rel = os.path.relpath(uri, w)
        # a pinned version, by relative paths
        r = subprocess.run([LANCEFS, "mount", "-o", "name_column=name",
                            f"{rel}@1", "m1"], cwd=w,
                           capture_output=True, text=True, timeout=60)
        expect(r.returncode == 0, f"mount {rel}@1 m1: {r.stderr}")
        try:
            expect(listing(os.path.join(w, "m1")) == ["row_000", "row_001"],
                   f"{rel}@1 lists {listing(os.path.join(w, 'm1'))}")
        finally:
            lancefs("umount", os.path.join(w, "m1"), check=False)
        # relative staging_dir=, and a second mount onto the same one
        r = subprocess.run([LANCEFS, "mount", "-o",
                            "staging_dir=st,commit_delay=60,name_column=name",
                            rel, "m1"], cwd=w, capture_output=True,
                           text=True, timeout=60)
        expect(r.returncode == 0, f"mount -o staging_dir=st: {r.stderr}")
        m1 = os.path.join(w, "m1")
        try:
            os.mkdir(os.path.join(m1, "new_000"))
            write(os.path.join(m1, "new_000", "meta.json"), "{}")
            expect(os.path.isdir(os.path.join(w, "st", "rows")),
                   "staging_dir=st is not under the mount's folder")
            r = subprocess.run([LANCEFS, "mount", "-o", "staging_dir=st",
                                rel, "m2"], cwd=w, capture_output=True,
                               text=True, timeout=60)
            expect(r.returncode != 0 and "in use" in r.stderr and
                   not os.path.ismount(os.path.join(w, "m2")),
                   f"second mount: exit {r.returncode}: {r.stderr!r}")
            expect(status(m1)["writes"]["staged_rows"] == 1 and
                   status(m1)["writes"]["commits"] == 0,
                   f"the second mount touched the first: {status(m1)}")
            # SIGTERM of the daemon (started on relative paths)
            pid = status(m1)["pid"]
            os.kill(pid, signal.SIGTERM)
            # from the mount table: while the mount goes, stat of it
            # fails (ENOTCONN), which ismount takes for "not mounted"
            wait_for(lambda: not in_mount_table(m1), "m1 unmounted",
                     timeout=30)
            expect(os.listdir(m1) == [], f"m1 holds {os.listdir(m1)}")
        finally:
            if os.path.ismount(m1):
                lancefs("umount", m1, check=False)
        names = sorted(lance_rows(uri))
        expect(names.count("new_000") == 1, f"LanceDB rows {names}")


def test_meta_json_sets_what_it_says():
    """A meta.json written into a committed row sets the columns it has
    keys for and leaves the others as they are: a copier that writes a
    row's files in turn, with a commit between caption.txt and a
    meta.json that has no caption (rclone, gsutil -m, a script's
    threads), keeps the caption; a script that writes {"label": N} to
    relabel keeps the score and caption, also written with a byte order
    mark and beside an editor's backup of caption.txt. null clears a
    value."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            row = os.path.join(mnt, "split")
            os.mkdir(row)
            img = jpeg(701)
            write(os.path.join(row, "image.jpg"), img)
            write(os.path.join(row, "caption.txt"), "a split row")
            commit_now(mnt)
            write(os.path.join(row, "meta.json"),
                  json.dumps({"label": 5, "score": 0.25}))
            commit_now(mnt)
            want["split"] = new_row(img, caption="a split row", label=5,
                                    score=0.25)
            same_rows(lance_rows(uri), want, "caption.txt, then meta.json")
            # relabel a row LanceDB made
            write(os.path.join(mnt, "row_000", "meta.json"),
                  json.dumps({"label": 42}))
            want["row_000"]["label"] = 42
            # a byte order mark (Notepad's), and an editor's backup of
            # caption.txt, which sets nothing
            write(os.path.join(mnt, "row_001", "meta.json"),
                  "\ufeff" + json.dumps({"label": 43}))
            write(os.path.join(mnt, "row_001", "caption.txt~"), "old")
            want["row_001"]["label"] = 43
            # null clears, also a caption set by caption.txt
            write(os.path.join(row, "meta.json"),
                  json.dumps({"caption": None}))
            want["split"]["caption"] = None
            commit_now(mnt)
            same_rows(lance_rows(uri), want, "relabel, then a null")
            with open(os.path.join(mnt, "split", "meta.json")) as f:
                got = json.load(f)
            expect(got.get("caption") is None and got.get("label") == 5,
                   f"split/meta.json shows {got}")
            expect(errors_text(mnt) == "", f"errors: {errors_text(mnt)}")


def test_rows_copied_again_change_nothing():
    """cp -r or rsync -a of rows the dataset holds already (a sync run
    again; rsync sends every file, a committed file's time being its
    version's): an update whose files hold its committed row's values (the
    same image bytes, a caption.txt with the string meta.json shows, a
    meta.json with the same values however written: spacing, key order,
    no name) changes nothing: no version, and the rows are no
    longer staged; so does a meta.json that leaves a column out (which
    keeps its value). Rows whose image (same size), caption or label
    differ, or whose meta.json sets a value null, are updated, and only
    they."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        os.makedirs(os.path.dirname(uri))
        src = os.path.join(w, "src")
        want = {f"r{k}": sample(src, f"r{k}", 10 + k) for k in range(6)}
        write(os.path.join(src, "r5", ".DS_Store"), b"junk")
        meta0 = {"label": 7, "score": 3.0}
        write(os.path.join(src, "r0", "meta.json"), json.dumps(meta0))
        want["r0"].update(meta0)
        with mounted(uri, os.path.join(w, "staging"),
                     "commit_delay=60") as mnt:
            cp("-r", src + "/.", mnt)
            commit_now(mnt)
            v1 = oracle(uri)["version"]
            same_rows(lance_rows(uri), plain(want), "first copy")
            # the same rows again, r0's meta.json written another way
            write(os.path.join(src, "r0", "meta.json"),
                  '{ "score" : 3.0, "name": "r0",\n  "label": 7 }\n')
            for tool in (("cp", "-r"), ("rsync", "-a")):
                r = subprocess.run([*tool, src + "/.", mnt + "/"],
                                   capture_output=True, text=True)
                expect(r.returncode == 0, f"{tool}: {r.stderr}")
                expect(status(mnt)["writes"]["staged_rows"] == 6,
                       f"staged after {tool}: {status(mnt)['writes']}")
                junk = os.path.join(mnt, "r5", ".DS_Store")
                os.stat(junk)		# copied again, staged
                commit_now(mnt)
                # what the row held besides its values went with it:
                # gone by every name (unzip -o unlinks what stat finds)
                expect(not os.path.exists(junk) and
                       ".DS_Store" not in os.listdir(os.path.dirname(junk)),
                       f"{tool}: r5/.DS_Store stat {os.path.exists(junk)}, "
                       f"listed {os.listdir(os.path.dirname(junk))}")
                st = status(mnt)["writes"]
                expect(st["staged_rows"] == 0 and
                       oracle(uri)["version"] == v1,
                       f"{tool} of the same rows: version "
                       f"{oracle(uri)['version']} (was {v1}), writes {st}")
            # rsync --inplace rewrites each file in place, the same
            # bytes: nothing is staged but r5's .DS_Store, which the
            # commit drops with its row's update
            r = subprocess.run(["rsync", "-a", "--inplace", src + "/.",
                                mnt + "/"], capture_output=True, text=True)
            expect(r.returncode == 0, f"rsync --inplace: {r.stderr}")
            junk = os.path.join(mnt, "r5", ".DS_Store")
            os.stat(junk)
            commit_now(mnt)
            st = status(mnt)["writes"]
            expect(not os.path.exists(junk) and st["staged_rows"] == 0 and
                   st["staged_bytes"] == 0 and
                   oracle(uri)["version"] == v1,
                   f"rsync --inplace of the same rows: .DS_Store there "
                   f"{os.path.exists(junk)}, writes {st}")
            # a save that writes the same bytes and syncs before its
            # close (vim's :wq, dd conv=fsync): durable as it is
            path = os.path.join(mnt, "r0", "image.jpg")
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            os.write(fd, want["r0"]["bytes"])
            os.fsync(fd)
            os.close(fd)
            commit_now(mnt)
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 0 and oracle(uri)["version"] == v1,
                   f"same bytes synced before close: version "
                   f"{oracle(uri)['version']} (was {v1}), writes {st}")
            # and what is written after such an fsync still commits
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            os.write(fd, want["r0"]["bytes"])
            os.fsync(fd)
            img = bytearray(want["r0"]["bytes"])
            img[100] ^= 0xff
            os.pwrite(fd, img[100:101], 100)
            os.close(fd)
            commit_now(mnt)
            want["r0"]["bytes"] = bytes(img)
            want["r0"]["image"] = sha256(bytes(img))
            write(os.path.join(src, "r0", "image.jpg"), bytes(img))
            v1 += 1
            expect(oracle(uri)["version"] == v1, "a change after a no-op "
                   f"fsync: version {oracle(uri)['version']}, not {v1}")
            same_rows(lance_rows(uri), plain(want), "change after fsync")
            # now four rows differ, each in one way
            last_frag = max(f["id"] for f in oracle(uri)["fragments"])
            img = bytearray(want["r1"]["bytes"])
            img[len(img) // 2] ^= 0xff
            write(os.path.join(src, "r1", "image.jpg"), bytes(img))
            want["r1"]["image"] = sha256(bytes(img))
            write(os.path.join(src, "r2", "caption.txt"), "changed")
            want["r2"]["caption"] = "changed"
            write(os.path.join(src, "r3", "meta.json"),
                  json.dumps({"label": 1, "score": want["r3"]["score"]}))
            want["r3"]["label"] = 1
            write(os.path.join(src, "r4", "meta.json"),
                  json.dumps({"label": want["r4"]["label"], "score": None}))
            want["r4"]["score"] = None
            write(os.path.join(src, "r5", "meta.json"),
                  json.dumps({"label": want["r5"]["label"]}))
            cp("-r", src + "/.", mnt)
            commit_now(mnt)
            orc = oracle(uri)
            expect(orc["version"] == v1 + 1 and
                   status(mnt)["writes"]["staged_rows"] == 0,
                   f"version {orc['version']} (was {v1}), writes "
                   f"{status(mnt)['writes']}")
            new = [f for f in orc["fragments"] if f["id"] > last_frag]
            expect(sum(f["physical_rows"] for f in new) == 4,
                   f"fragments after the update: {orc['fragments']}")
        same_rows(lance_rows(uri), plain(want), "after the updates")


def test_file_renamed_while_open():
    """A file renamed while still open for writing inside its row folder
    (Python's NamedTemporaryFile(delete=False) replaced onto meta.json
    before it is closed) keeps what is written after the rename, in a new
    row and in an update of a committed one; moving it to another row
    while open is EBUSY (before, the rename inside the row was too)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            for row, label in (("fresh", 5), ("row_001", 6)):
                d = os.path.join(mnt, row)
                if not os.path.isdir(d):
                    os.mkdir(d)
                f = tempfile.NamedTemporaryFile(dir=d, delete=False,
                                                mode="w", suffix=".tmp")
                f.write('{"label": ')
                f.flush()
                os.replace(f.name, os.path.join(d, "meta.json"))
                try:
                    os.rename(os.path.join(d, "meta.json"),
                              os.path.join(mnt, "row_000", "moved.json"))
                    raise AssertionError(f"{row}: an open file moved to "
                                         "another row")
                except OSError as e:
                    expect(e.errno == errno.EBUSY, f"{row}: {e!r}")
                f.write(f"{label}}}")
                f.close()
                expect(row != "fresh" or os.listdir(d) == ["meta.json"],
                       f"{row}: {os.listdir(d)}")
                with open(os.path.join(d, "meta.json")) as g:
                    expect(json.load(g)["label"] == label,
                           f"{row}: meta.json reads back wrong")
            # a committed file opened to append, renamed, closed
            # unwritten: it stays under its new name (not taken back as
            # the committed file of its old one, which the rename
            # removed), and renamed back the row is as it was
            d = os.path.join(mnt, "row_000")
            fd = os.open(os.path.join(d, "meta.json"),
                         os.O_WRONLY | os.O_APPEND)
            os.rename(os.path.join(d, "meta.json"),
                      os.path.join(d, "meta.old"))
            os.close(fd)
            names = os.listdir(d)
            expect("meta.old" in names and "meta.json" not in names,
                   f"row_000 after the rename and close: {names}")
            os.rename(os.path.join(d, "meta.old"),
                      os.path.join(d, "meta.json"))
            commit_now(mnt)
        got = lance_rows(uri)
        want["fresh"] = {"image": None, "caption": None, "label": 5,
                         "score": None}
        # meta.json sets the label; the caption and score it has no key
        # for stay
        want["row_001"] = dict(want["row_001"], label=6)
        same_rows(got, want, "after the renames")


def test_update_and_replace_rows():
    """Without text_files: a rewritten meta.json and a new caption.txt
    update committed rows; rm -r of a committed row and cp -r of a folder
    of the same name replaces it (listed at once); a staged row removed
    before its commit, and a committed row updated and then removed, never
    reach LanceDB."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.2", 6)
        want = lance_rows(uri)
        soft = Soft()
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            p = os.path.join(mnt, "row_000", "meta.json")
            with open(p) as f:
                meta = json.load(f)
            meta["label"] = 999
            write(p, json.dumps(meta))
            want["row_000"] = dict(want["row_000"], label=999)

            write(os.path.join(mnt, "row_004", "caption.txt"), "new ✓ 4")
            want["row_004"] = dict(want["row_004"], caption="new ✓ 4")

            subprocess.run(["rm", "-r", os.path.join(mnt, "row_001")],
                           check=True)
            repl = sample(src, "row_001", 97)
            cp("-r", os.path.join(src, "row_001"), mnt)
            want["row_001"] = plain1(repl)
            soft.check(lambda: expect("row_001" in listing(mnt),
                                      "a staged row named like a removed "
                                      f"one is not listed: {listing(mnt)}"))
            soft.check(lambda: expect(
                sorted(os.listdir(os.path.join(mnt, "row_001"))) ==
                ["caption.txt", "image.jpg", "meta.json"],
                f"row_001 lists {os.listdir(os.path.join(mnt, 'row_001'))}"))
            soft.check(lambda: expect(
                file_sha(os.path.join(mnt, "row_001", "image.jpg")) ==
                repl["image"], "replaced row_001 reads other bytes"))

            sample(src, "gone", 98)
            cp("-r", os.path.join(src, "gone"), mnt)
            subprocess.run(["rm", "-r", os.path.join(mnt, "gone")],
                           check=True)
            soft.check(lambda: expect("gone" not in listing(mnt),
                                      "removed staged row still listed"))

            img = jpeg(99)
            write(os.path.join(mnt, "row_002", "image.jpg"), img)
            subprocess.run(["rm", "-r", os.path.join(mnt, "row_002")],
                           check=True)
            del want["row_002"]

            r = lancefs("commit", mnt, check=False)
            soft.check(lambda: expect(r.returncode == 0,
                                      f"lancefs commit: {r.stderr}"))
            soft.check(lambda: expect(listing(mnt) == sorted(want),
                                      f"after the commit: {listing(mnt)}"))
        soft.check(same_rows, lance_rows(uri), want, "after umount")
        soft.done()


def test_commit_over_lancedb_commits():
    """LanceDB commits while rows are staged in the mount (its append is
    the version lancefs meant to write): lancefs's commit rebases, and
    LanceDB then holds both sides' rows; a row deleted on both sides is
    gone once, and nothing else is lost or doubled."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 5)
        want = lance_rows(uri)
        soft = Soft()
        rows = {f"reb_{k:03d}": sample(src, f"reb_{k:03d}", 110 + k)
                for k in range(2)}
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            cp("-r", *[os.path.join(src, n) for n in rows], mnt)
            subprocess.run(["rm", "-r", os.path.join(mnt, "row_001")],
                           check=True)
            img = jpeg(115)
            write(os.path.join(mnt, "row_003", "image.jpg"), img)
            wtool("append", uri, "--rows", 2, "--prefix", "other",
                  "--start", 300)
            got = lance_rows(uri)
            other = {n: r for n, r in got.items() if n.startswith("other_")}
            expect(len(other) == 2, f"LanceDB append: {sorted(got)}")
            r = lancefs("commit", mnt, check=False)
            soft.check(lambda: expect(r.returncode == 0, "lancefs commit "
                                      f"after LanceDB's: {r.stderr}"))
            want.update(other)
            want.update(plain(rows))
            del want["row_001"]
            want["row_003"] = dict(want["row_003"], image=sha256(img))
            soft.check(same_rows, lance_rows(uri), want, "after the rebase")
            soft.check(lambda: expect(listing(mnt) == sorted(want),
                                      f"the mount lists {listing(mnt)}"))

            # the same row deleted by both
            subprocess.run(["rm", "-r", os.path.join(mnt, "row_002")],
                           check=True)
            wtool("delete", uri, "--where", "name = 'row_002'")
            del want["row_002"]
            r = lancefs("commit", mnt, check=False)
            soft.check(same_rows, lance_rows(uri), want,
                       f"after a double delete (commit exit "
                       f"{r.returncode}: {r.stderr.strip()})")
        soft.check(same_rows, lance_rows(uri), want, "after umount")
        soft.check(check_versions, uri, {"versions": []}, "2.1", len(want))
        soft.done()


def test_owner_checks_permissions():
    """A writable mount only its owner may use checks permissions itself
    (lancefs.1, default_permissions): for an owner other than root, access(2)
    tells what will work (a committed file can be written, not run; the
    status file cannot be written, EROFS; the commit file written, not
    read); chown to another user is EPERM; root is kept out; cp -r of a
    folder costs no permission requests; LanceDB reads what was copied."""
    if os.geteuid() != 0:
        print("  (not root: the owner is this user)")
    owner = 65534 if os.geteuid() == 0 else os.geteuid()
    run_as = (["setpriv", f"--reuid={owner}", f"--regid={owner}",
               "--clear-groups"] if os.geteuid() == 0 else [])
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.2", 2)
        want = lance_rows(uri)
        n, per = 20, 3      # folders, files each (image, meta, caption)
        rows = {f"own_{k:02d}": sample(src, f"own_{k:02d}", 300 + k)
                for k in range(n)}
        mnt = os.path.join(w, "mnt")
        os.mkdir(mnt)
        for root, dirs, files in os.walk(w):
            for x in [root] + [os.path.join(root, d) for d in dirs] + \
                     [os.path.join(root, f) for f in files]:
                os.chown(x, owner, owner)
        os.chmod(w, 0o755)
        dev = os.stat("/dev/fuse").st_mode & 0o777
        try:
            if run_as:      # fusermount3 would do, if /dev/fuse let it
                os.chmod("/dev/fuse", dev | 0o666)
            r = subprocess.run(run_as + [LANCEFS, "mount", "-o",
                                         f"staging_dir={staging},"
                                         "name_column=name", uri, mnt],
                               capture_output=True, text=True, timeout=120)
        finally:
            if run_as:
                os.chmod("/dev/fuse", dev)
        expect(r.returncode == 0, f"mount as {owner}: {r.stderr.strip()}")
        probe = r"""
import errno, json, os, subprocess, sys, time
mnt, src, names = sys.argv[1], sys.argv[2], sys.argv[3:]
row = sorted(x for x in os.listdir(mnt) if not x.startswith("."))[0]
f = os.path.join(mnt, row, "image.jpg")
ctl = os.path.join(mnt, ".lancefs")
out = {"file_w": os.access(f, os.W_OK), "file_x": os.access(f, os.X_OK),
       "row_x": os.access(os.path.join(mnt, row), os.X_OK),
       "status_w": os.access(os.path.join(ctl, "status"), os.W_OK),
       "commit_r": os.access(os.path.join(ctl, "commit"), os.R_OK),
       "commit_w": os.access(os.path.join(ctl, "commit"), os.W_OK)}
try:
    open(os.path.join(ctl, "status"), "w")
except OSError as e:
    out["status_open_w"] = e.errno
for uid in (os.getuid(), 0):
    try:
        os.chown(f, uid, -1)
        out[f"chown_{uid}"] = 0
    except OSError as e:
        out[f"chown_{uid}"] = e.errno
def requests():
    time.sleep(1.1)     # status is made afresh at most once a second
    with open(os.path.join(ctl, "status")) as s:
        return json.load(s)["mount"]["requests"]
before = requests()
subprocess.run(["cp", "-r"] + [os.path.join(src, x) for x in names] + [mnt],
               check=True)
out["cp_requests"] = requests() - before
print(json.dumps(out))
"""
        try:
            r = subprocess.run(run_as + [sys.executable, "-c", probe, mnt,
                                         src, *rows],
                               capture_output=True, text=True, timeout=300)
            expect(r.returncode == 0, f"as {owner}: {r.stderr.strip()}")
            got = json.loads(r.stdout)
            expect(got["file_w"] and not got["file_x"] and got["row_x"],
                   f"access(2) of a committed row: {got}")
            expect(not got["status_w"] and
                   got.get("status_open_w") == errno.EROFS,
                   f"access(2) and open of .lancefs/status for writing: {got}")
            expect(got["commit_w"] and not got["commit_r"],
                   f"access(2) of .lancefs/commit: {got}")
            expect(got[f"chown_{owner}"] == 0, f"chown to oneself: {got}")
            if owner != 0:
                expect(got["chown_0"] == errno.EPERM,
                       f"chown to root by {owner}: {got}")
                try:
                    os.listdir(mnt)
                    expect(False, "root lists a mount it may not use")
                except PermissionError:
                    pass
            # a folder: the lookups of cp's stat and mkdir, the mkdir, a
            # lookup, create and write a file (flush and release are not
            # counted), cp's stat of the folder at the end; the kernel's
            # own check would ask a getattr more per file
            most = n * (4 + 3 * per) + 20
            expect(got["cp_requests"] <= most,
                   f"cp -r of {n} folders: {got['cp_requests']} requests, "
                   f"want at most {most}")
        finally:
            r = subprocess.run(run_as + [LANCEFS, "umount", mnt],
                               capture_output=True, text=True, timeout=300)
            if os.path.ismount(mnt):
                subprocess.run(["fusermount3", "-uz", mnt],
                               capture_output=True)
        expect(r.returncode == 0, f"umount: {r.stderr.strip()}")
        want.update(plain(rows))
        same_rows(lance_rows(uri), want, "after the owner's cp -r")


def test_commit_rows_limit():
    """-o commit_rows=5 with commit_delay=60: a copy that stages 5 rows
    or more is committed without waiting out the delay, once its rows
    settle; a second copy of 5 makes a second commit; rows under the
    limit (one that closed just as the first commit was planned) wait
    for the delay or the unmount. Rows a commit refused and the user
    then removed count no more (before those copies)."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        rows = {f"cr_{k:03d}": sample(src, f"cr_{k:03d}", 120 + k,
                                      size=(16, 16)) for k in range(11)}
        names = sorted(rows)
        bad = [f"cr_bad_{k}" for k in range(3)]
        for k, n in enumerate(bad):
            os.mkdir(os.path.join(src, n))
            write(os.path.join(src, n, "image.jpg"), jpeg(140 + k))
            write(os.path.join(src, n, "meta.json"), '{"label": "seven"}')

        def landed():
            return sum(1 for x in lance_rows(uri) if x.startswith("cr_"))

        with mounted(uri, staging, "name_column=name", "commit_delay=60",
                     "commit_rows=5") as mnt:
            def commits():
                return status(mnt)["writes"]["commits"]

            cp("-r", *[os.path.join(src, n) for n in bad], mnt)
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode != 0 and commits() == 0,
                   f"rows with a text label committed: {r}")
            for n in bad:
                shutil.rmtree(os.path.join(mnt, n))
            cp("-r", *[os.path.join(src, n) for n in names[:6]], mnt)
            wait_for(lambda: commits() >= 1, lambda: "6 rows staged, no "
                     f"commit with commit_rows=5: {status(mnt)['writes']}",
                     20)
            first = landed()
            expect(first >= 5, f"{first} of 6 rows in the first commit")
            cp("-r", *[os.path.join(src, n) for n in names[6:]], mnt)
            wait_for(lambda: commits() >= 2, lambda: "5 more rows staged, "
                     f"no second commit: {status(mnt)['writes']}", 20)
            expect(landed() >= first + 5,
                   f"{landed() - first} of 5 rows in the second commit")
        want.update(plain(rows))
        same_rows(lance_rows(uri), want, "after umount")


def test_commit_bytes_batches():
    """-o commit_bytes=1M with commit_delay=600, 30 folders of ~200 KB
    copied one by one over ~2 s: the copy commits in batches of about
    1 MiB as it goes (each waits for its rows to settle), not one
    version per folder closed after the limit; every row arrives."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.0", 2)
        want = lance_rows(uri)
        rng = random.Random(77)
        rows = {}
        for k in range(30):
            img = b"\xff\xd8\xff\xe0" + rng.randbytes(200 << 10)
            rows[f"cb_{k:03d}"] = sample(src, f"cb_{k:03d}", 300 + k,
                                         img=img)
        total = sum(len(r["bytes"]) for r in rows.values())
        before = wtool("versions", uri)["latest"]
        with mounted(uri, staging, "name_column=name", "commit_delay=600",
                     "commit_bytes=1M") as mnt:
            for n in sorted(rows):
                cp("-r", os.path.join(src, n), mnt)
                time.sleep(0.06)
            early = status(mnt)["writes"]["commits"]
            lancefs("commit", mnt)
        want.update(plain(rows))
        same_rows(lance_rows(uri), want, "after umount")
        new = wtool("versions", uri)["latest"] - before
        most = total // (1 << 20) + 2
        expect(early >= 1, "no commit during the copy: commit_bytes=1M "
               f"did not start one ({total} bytes staged)")
        expect(new <= most, f"{new} versions for {total} bytes in "
               f"batches of 1 MiB (at most {most})")
        print(f"  {total >> 10} KiB in {new} versions, {early} during "
              "the copy")


def spares_left(staging):
    """Files the staging left in its row folders as spares (staging.h:
    empty, STAGING_SPARE_NSEC nanoseconds in their mtime)."""
    n = 0
    rows = os.path.join(staging, "rows")
    for d in os.listdir(rows):
        try:    # the cleaner renames folders meanwhile
            for f in os.scandir(os.path.join(rows, d)):
                st = f.stat(follow_symlinks=False)
                n += (f.is_file(follow_symlinks=False) and
                      st.st_size == 0 and
                      st.st_mtime_ns % 1000000000 == 999999998)
        except FileNotFoundError:
            pass
    return n


def test_landed_folders_reused():
    """Once a copy landed, the next copy's rows take the landed rows'
    folders, their files left in them emptied: a file named like one
    left there is that file, and one the new row lacks stays a spare
    that no commit reads (a folder copied without meta.json or
    caption.txt gets no label, score or caption). LanceDB reads exactly
    what was copied."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        want = lance_rows(uri)
        first = {f"ra_{k:03d}": sample(src, f"ra_{k:03d}", 400 + k,
                                       size=(16, 16)) for k in range(80)}
        second = {}
        for k in range(80):
            n = f"rb_{k:03d}"
            second[n] = sample(src, n, 500 + k, size=(16, 16),
                               caption=k % 2 == 0)
            if k % 3 == 0:
                os.remove(os.path.join(src, n, "meta.json"))
                second[n].update(label=None, score=None)
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            cp("-r", *[os.path.join(src, n) for n in sorted(first)], mnt)
            lancefs("commit", mnt)
            wait_for(lambda: spares_left(staging) >= 3 * len(first),
                     lambda: f"{spares_left(staging)} files left as "
                     "spares in the landed rows' folders", 30)
            before = spares_left(staging)
            cp("-r", *[os.path.join(src, n) for n in sorted(second)], mnt)
            after = spares_left(staging)
            expect(after < before, f"{before} spares left before the "
                   f"second copy, {after} after: no file was one of them")
            expect(listing(mnt) == sorted(set(want) | set(first) |
                                          set(second)),
                   f"the mount lists {len(listing(mnt))} rows")
            lancefs("commit", mnt)
        want.update(plain(first))
        want.update(plain(second))
        same_rows(lance_rows(uri), want, "after umount")


def test_meta_json_edit_with_text_files():
    """With text_files=caption a row shows its caption twice (caption.txt
    and meta.json). Editing it in meta.json alone updates it: what the
    user wrote wins over the committed caption.txt the update keeps."""
    with workdir() as w:
        uri, staging, _ = lancedb_table(w, "2.1", 3)
        want = lance_rows(uri)
        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            p = os.path.join(mnt, "row_001", "meta.json")
            with open(p) as f:
                meta = json.load(f)
            # a program working in the row (a shell after cd row_001)
            cwd = os.open(os.path.join(mnt, "row_001"), os.O_RDONLY)
            meta["caption"] = "edited in meta.json"
            meta["label"] = 4242
            write(p, json.dumps(meta))
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 0, f"lancefs commit: {r.stderr}")
            with open(os.path.join(mnt, "row_001", "caption.txt")) as f:
                shown = f.read()
            expect(shown == "edited in meta.json",
                   f"caption.txt shows {shown!r} after the commit")
            # its folder was rewritten: ESTALE, as over NFS, and no harm
            try:
                os.close(os.open("caption.txt", os.O_RDONLY, dir_fd=cwd))
                expect(False, "the rewritten row's old folder still opens "
                       "its files")
            except OSError as e:
                expect(e.errno == errno.ESTALE,
                       f"open in the rewritten row's old folder: {e}")
            finally:
                os.close(cwd)
            expect(status(mnt)["writes"]["commits"] == 1,
                   f"status after the stale open: {status(mnt)}")
        want["row_001"] = dict(want["row_001"], caption="edited in meta.json",
                               label=4242)
        same_rows(lance_rows(uri), want, "after umount")



def test_text_file_and_meta_json_edits():
    """With text_files=caption, the meta.json shown keeps the committed
    caption until the commit: a caption.txt written or removed, and then
    (or before) another key edited in meta.json, commits the file's
    caption, or null, with the edit; a caption changed in meta.json to
    another string than caption.txt's is refused."""
    with workdir() as w:
        uri, staging, _ = lancedb_table(w, "2.1", 5)
        want = lance_rows(uri)

        def edit_meta(mnt, row, key, value):
            p = os.path.join(mnt, row, "meta.json")
            with open(p) as f:
                meta = json.load(f)
            meta[key] = value
            tmp = os.path.join(mnt, row, ".meta.json.swp")
            write(tmp, json.dumps(meta))
            os.rename(tmp, p)	# as sed -i and editors save

        def edit_label(mnt, row, label):
            edit_meta(mnt, row, "label", label)

        def txt_then_label(mnt, txt, label):
            """row_000's TXT removed, row_001's written, then each row's
            label edited in meta.json to LABEL and LABEL + 1"""
            os.unlink(os.path.join(mnt, "row_000", txt))
            edit_label(mnt, "row_000", label)
            write(os.path.join(mnt, "row_001", txt), "written")
            edit_label(mnt, "row_001", label + 1)

        with mounted(uri, staging, "name_column=name", "text_files=caption",
                     "commit_delay=60") as mnt:
            txt_then_label(mnt, "caption.txt", 100)
            edit_label(mnt, "row_002", 102)		# the other order
            os.unlink(os.path.join(mnt, "row_002", "caption.txt"))
            edit_label(mnt, "row_003", 103)
            write(os.path.join(mnt, "row_003", "caption.txt"), "written 3")
            edit_meta(mnt, "row_004", "caption", "in meta.json")
            write(os.path.join(mnt, "row_004", "caption.txt"), "in the file")
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 1 and "row_004" in r.stderr and
                   "different values" in r.stderr and
                   "row_00" not in r.stderr.replace("row_004", ""),
                   f"lancefs commit: exit {r.returncode}, {r.stderr!r}")
            shutil.rmtree(os.path.join(mnt, "row_004"))
        want["row_000"] = dict(want["row_000"], caption=None, label=100)
        want["row_001"] = dict(want["row_001"], caption="written", label=101)
        want["row_002"] = dict(want["row_002"], caption=None, label=102)
        want["row_003"] = dict(want["row_003"], caption="written 3",
                               label=103)
        del want["row_004"]
        same_rows(lance_rows(uri), want, "after umount")
    # a column whose file the view names otherwise (c%2Fap.txt)
    with workdir() as w:
        uri, staging, _ = lancedb_table(w, "2.1", 3)
        wtool("rename", uri, "--name", "caption", "--to", "c/ap")
        with mounted(uri, staging, "name_column=name", "text_files=c/ap",
                     "commit_delay=60") as mnt:
            txt_then_label(mnt, "c%2Fap.txt", 200)
            # and edited in meta.json alone: the committed file gives way
            edit_meta(mnt, "row_002", "c/ap", "in meta.json")
            r = lancefs("commit", mnt, check=False)
            expect(r.returncode == 0, f"lancefs commit of c/ap edits: "
                   f"exit {r.returncode}, {r.stderr!r}")
        got = {r["values"]["name"]: (r["values"]["c/ap"],
                                     r["values"]["label"])
               for r in oracle(uri)["rows"]}
        expect(got == {"row_000": (None, 200), "row_001": ("written", 201),
                       "row_002": ("in meta.json", 20)},
               f"c/ap and label after umount: {got}")


def test_meta_json_edit_no_epoch():
    """The same as a kernel before 6.16 runs it (LANCEFS_NO_EPOCH=1: no
    FUSE_NOTIFY_INC_EPOCH, so the kernel keeps its entry of the row for
    a second): the row the commit rewrote answers ESTALE, the kernel
    looks the path up again, and the new caption shows at once."""
    os.environ["LANCEFS_NO_EPOCH"] = "1"
    try:
        test_meta_json_edit_with_text_files()
    finally:
        del os.environ["LANCEFS_NO_EPOCH"]

def test_rename_editor_and_junk_files_no_epoch():
    """The same without FUSE_NOTIFY_INC_EPOCH: the kernel still holds
    junk_000's entry of the staged folder when it is listed right after
    the commit; opendir answers ESTALE, so the kernel looks the path up
    again and lists the committed row (a failed readdir would not)."""
    os.environ["LANCEFS_NO_EPOCH"] = "1"
    try:
        test_rename_editor_and_junk_files()
    finally:
        del os.environ["LANCEFS_NO_EPOCH"]


def per_version(fn):
    tests = []
    for ver in FILE_VERSIONS:
        def t(ver=ver):
            fn(ver)
        t.__name__ = f"test_{fn.__name__}_{ver.replace('.', '_')}"
        tests.append(t)
    return tests


def test_rows_staged_for_a_dropped_dataset():
    """Rows staged in a database mount for a dataset dropped meanwhile
    (its folder deleted, as LanceDB's dropTable does) are said at the
    next mount and in .lancefs/errors (they were kept unseen), and a
    mkdir of its name shows them at once (they showed only once a file
    was written there); they commit into the new dataset."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 2)
        db = os.path.dirname(uri)
        sample(src, "late", 5)
        with mounted(db, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            cp("-r", os.path.join(src, "late"), os.path.join(mnt, "t"))
            shutil.rmtree(uri)
            r = lancefs("umount", mnt, check=False)
            expect(r.returncode == 2 and "deleted since" in r.stderr,
                   f"umount: exit {r.returncode}, {r.stderr!r}")
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
            r = subprocess.run([LANCEFS, "mount", "-o",
                                f"staging_dir={staging},name_column=name",
                                db, mnt], capture_output=True, text=True)
            expect(r.returncode == 0 and
                   "1 staged row of dataset t.lance" in r.stderr,
                   f"remount: exit {r.returncode}, {r.stderr!r}")
            expect(listing(mnt) == [], f"listed {listing(mnt)}")
            os.mkdir(os.path.join(mnt, "t"))
            expect(listing(os.path.join(mnt, "t")) == ["late"],
                   f"after mkdir t: {listing(os.path.join(mnt, 't'))}")
            lancefs("commit", mnt)
        expect(list(lance_rows(uri)) == ["late"],
               f"LanceDB: {list(lance_rows(uri))}")


def test_database_members_odd_and_broken():
    """A database mount with odd folders in it: one member whose manifest
    cannot be read is left out, said in .lancefs/errors and by lancefs
    ls, and the others show (the whole database failed); ..lance and
    ...lance are no datasets (their names made staging paths outside
    staging_dir); folders that hold no dataset, made before the mount,
    stay after it (they were removed); mkdir over a file of the name is
    EEXIST (ENOENT), up to 249 bytes works (EINVAL past 200), past that
    ENAMETOOLONG; a read error names its dataset; version= is refused
    for a database (each dataset numbers its own)."""
    with workdir() as w:
        uri, _, _ = lancedb_table(w, "2.1", 3)
        db = os.path.dirname(uri)
        for odd in ("..lance", "...lance"):
            shutil.copytree(uri, os.path.join(db, odd))
        shutil.copytree(uri, os.path.join(db, "cut.lance"))
        data = os.path.join(db, "cut.lance", "data")
        f = os.path.join(data, sorted(os.listdir(data))[0])
        with open(f, "r+b") as fh:      # its footer's offsets broken
            fh.seek(os.path.getsize(f) - 40)
            fh.write(b"\xff" * 8)
        os.makedirs(os.path.join(db, "half.lance", "_versions"))
        write(os.path.join(db, "half.lance", "_versions", "1.manifest"),
              b"{}")
        os.mkdir(os.path.join(db, "reserved.lance"))
        os.mkdir(os.path.join(db, "junk.lance"))
        write(os.path.join(db, "junk.lance", "readme.txt"), b"mine\n")
        write(os.path.join(db, "f.lance"), b"a file\n")
        r = lancefs("ls", db)
        expect(r.stdout.split() == ["cut", "t"] and
               "half.lance: left out: " in r.stderr,
               f"lancefs ls: {r.stdout!r}, {r.stderr!r}")
        r = lancefs("ls", "-o", "version=1", db, check=False)
        expect(r.returncode and "each dataset numbers" in r.stderr,
               f"ls -o version=1 of a database: exit {r.returncode}, "
               f"{r.stderr!r}")
        r = lancefs("ls", "-o", "version=1", os.path.join(db, "typo.lance"),
                    check=False)
        expect(r.returncode and "typo.lance" in r.stderr and
               "each dataset numbers" not in r.stderr,
               f"ls -o version=1 of no dataset: {r.stderr!r}")
        # a database whose every dataset is left out fails, saying why
        only = os.path.join(w, "only")
        shutil.copytree(os.path.join(db, "half.lance"),
                        os.path.join(only, "half.lance"))
        r = lancefs("ls", only, check=False)
        expect(r.returncode and "half.lance: left out: " in r.stderr,
               f"ls of a database of one unreadable dataset: exit "
               f"{r.returncode}, {r.stderr!r}")
        staging = os.path.join(w, "st", "inner")
        os.makedirs(staging)
        with mounted(db, staging) as mnt:
            shown = listing(mnt)
            expect(shown == ["cut", "junk", "reserved", "t"],
                   f"database lists {shown}")
            outside = os.listdir(os.path.join(w, "st"))
            expect(outside == ["inner"], f"outside staging_dir: {outside}")
            expect(errno_of(os.mkdir, os.path.join(mnt, "f")) ==
                   errno.EEXIST, "mkdir over f.lance, a file")
            os.mkdir(os.path.join(mnt, "x" * 249))
            expect(errno_of(os.mkdir, os.path.join(mnt, "y" * 250)) ==
                   errno.ENAMETOOLONG, "mkdir of 250 bytes")
            # another writer's dataset, made since the mount looked: a
            # mkdir of it is EEXIST, and it is listed from then on
            shutil.copytree(uri, os.path.join(db, "late.lance"))
            expect(errno_of(os.mkdir, os.path.join(mnt, "late")) ==
                   errno.EEXIST, "mkdir of a dataset made meanwhile")
            expect("late" in listing(mnt) and
                   len(listing(os.path.join(mnt, "late"))) == 3,
                   f"after it: {listing(mnt)}")
            row = listing(os.path.join(mnt, "cut"))[0]
            expect(errno_of(lambda p: open(p).read(),
                            os.path.join(mnt, "cut", row, "meta.json")) ==
                   errno.EIO, "a read of the broken data file")
            errs = errors_text(os.path.join(mnt, "t"))
            expect(f"cut/{row}/meta.json\t" in errs and
                   "half\thalf.lance: left out: " in errs,
                   f"errors: {errs!r}")
        for kept in ("reserved.lance", "junk.lance"):
            expect(os.path.isdir(os.path.join(db, kept)),
                   f"{kept} removed at unmount")
        expect(not os.path.exists(os.path.join(db, "x" * 249 + ".lance")),
               "the empty dataset mkdir made is left")
        r = subprocess.run([LANCEFS, "mount", "-o", "version=1", db,
                            tempfile.gettempdir()], capture_output=True,
                           text=True)
        expect(r.returncode and "each dataset numbers" in r.stderr,
               f"mount -o version=1 of a database: exit {r.returncode}, "
               f"{r.stderr!r}")


def test_database_mount_writes():
    """A writable database mount: mkdir makes a new dataset (cp -r fills
    it), cp -r and rm -r change an existing member, each member commits
    its own versions; LanceDB reads both; an empty folder mounts as an
    empty database; what a database root refuses."""
    with workdir() as w:
        uri, staging, src = lancedb_table(w, "2.1", 6)
        db = os.path.dirname(uri)
        before = lance_rows(uri)
        gone = sorted(before)[1]
        new = {f"dog_{k:02d}": sample(src, f"dog_{k:02d}", 70 + k)
               for k in range(3)}
        add = {"cat_x": sample(src, "cat_x", 90)}
        with mounted(db, staging, "name_column=name",
                     "commit_delay=0.2") as mnt:
            expect(listing(mnt) == ["t"], f"database lists {listing(mnt)}")
            os.mkdir(os.path.join(mnt, "pets"))
            expect(listing(mnt) == ["pets", "t"],
                   f"after mkdir: {listing(mnt)}")
            expect(listing(os.path.join(mnt, "pets")) == [],
                   "a new dataset is not empty")
            cp("-r", *[os.path.join(src, n) for n in new],
               os.path.join(mnt, "pets"))
            cp("-r", os.path.join(src, "cat_x"), os.path.join(mnt, "t"))
            shutil.rmtree(os.path.join(mnt, "t", gone))
            for name, errno_want in (("pets", errno.EEXIST),
                                     ("t", errno.EEXIST)):
                try:
                    os.mkdir(os.path.join(mnt, name))
                    raise AssertionError(f"mkdir {name} again succeeded")
                except OSError as e:
                    expect(e.errno == errno_want,
                           f"mkdir {name} again: {e}")
            for bad in ("new one", "ünï", "a:b"):
                try:
                    os.mkdir(os.path.join(mnt, bad))
                    raise AssertionError(f"mkdir {bad!r}: LanceDB opens "
                                         "no table of that name")
                except OSError as e:
                    expect(e.errno == errno.EINVAL, f"mkdir {bad!r}: {e}")
            try:
                open(os.path.join(mnt, "loose.jpg"), "wb").close()
                raise AssertionError("a file at the database root")
            except OSError as e:
                expect(e.errno == errno.EPERM, f"file at root: {e}")
            try:
                os.rename(os.path.join(mnt, "t", sorted(before)[0]),
                          os.path.join(mnt, "pets", "moved"))
                raise AssertionError("a row moved between datasets")
            except OSError as e:
                expect(e.errno in (errno.EXDEV, errno.EPERM),
                       f"rename across datasets: {e}")
            # a database keeps .lancefs/ in each dataset's folder;
            # lancefs commit of the database commits each one
            got = lancefs("commit", mnt).stdout.split()
            read_back(os.path.join(mnt, "pets"), new, text_files=False)
            st = status(os.path.join(mnt, "t"))["writes"]
            expect(set(st) == {"pets", "t"}, f"status writes {st}")
            expect(st["pets"]["last_version"] == 1 and
                   st["t"]["last_version"] > 1, f"status writes {st}")
            expect(sorted(zip(got[::2], got[1::2])) ==
                   [("pets", "1"), ("t", str(st["t"]["last_version"]))],
                   f"lancefs commit of the database printed {got}")
            # a row one dataset refuses: the other's still lands, each
            # dataset's version printed, the refusal said once, by the
            # dataset's name, and only the one of this commit
            os.mkdir(os.path.join(mnt, "pets", "bad"))
            write(os.path.join(mnt, "pets", "bad", "meta.json"),
                  '{"nope": 1}')
            cp("-r", os.path.join(src, "dog_00"),
               os.path.join(mnt, "t", "dog_again"))
            r = lancefs("commit", mnt, check=False)
            v = oracle(uri)["version"]
            expect(r.returncode == 1 and
                   sorted(r.stdout.split()) == sorted(["pets", "1", "t",
                                                        str(v)]) and
                   r.stderr.count("pets: bad/meta.json: no column named "
                                  "'nope'") == 1 and
                   r.stderr.count("\n  ") == 1,
                   f"commit with a refused row: exit {r.returncode}, "
                   f"{r.stdout!r}, {r.stderr!r}")
            shutil.rmtree(os.path.join(mnt, "pets", "bad"))
            add["dog_again"] = new["dog_00"]
            # one dataset's store fails: the other's change lands, and
            # its version is printed; the failure names its dataset
            cp("-r", os.path.join(src, "dog_01"),
               os.path.join(mnt, "pets", "late"))
            shutil.rmtree(os.path.join(mnt, "t", "dog_again"))
            r = commit_with_versions_away(uri, mnt)
            expect(r.returncode == 2 and "pets 2" in r.stdout and
                   "t: commit: " in r.stderr,
                   f"commit with t's store failing: exit {r.returncode}, "
                   f"{r.stdout!r}, {r.stderr!r}")
            lancefs("commit", mnt)
            del add["dog_again"]
            new["late"] = new["dog_01"]
            # a commit asked of one dataset is the database's: every
            # dataset's version is said (it printed t's alone, pets's
            # new row landing unsaid)
            cp("-r", os.path.join(src, "dog_02"),
               os.path.join(mnt, "pets", "later"))
            new["later"] = new["dog_02"]
            got = lancefs("commit", os.path.join(mnt, "t") + "/").stdout
            expect(sorted(got.split("\n")) ==
                   ["", "pets 3", f"t {oracle(uri)['version']}"],
                   f"lancefs commit MNT/t/ printed {got!r}")
            os.mkdir(os.path.join(mnt, "unused"))
            expect(os.path.isdir(os.path.join(db, "unused.lance")),
                   "mkdir made no folder")
        # a dataset that got nothing leaves nothing (LanceDB would list
        # a table it cannot open)
        expect(not os.path.exists(os.path.join(db, "unused.lance")),
               "unused.lance is left after the unmount")
        want = {n: r for n, r in before.items() if n != gone}
        want.update(plain(add))
        same_rows(lance_rows(uri), want, "member t")
        pets = os.path.join(db, "pets.lance")
        orc = oracle(pets)
        expect(orc["schema"][0]["name"] == "name",
               f"new dataset's first column {orc['schema'][0]['name']}")
        same_rows(lance_rows(pets), plain(new), "new dataset pets")
        with mounted(db, staging, "ro") as mnt:
            expect(listing(mnt) == ["pets", "t"], f"remount {listing(mnt)}")
            read_back(os.path.join(mnt, "pets"), new, text_files=False)
            try:
                os.mkdir(os.path.join(mnt, "more"))
                raise AssertionError("mkdir in a read-only mount")
            except OSError as e:
                expect(e.errno == errno.EROFS, f"ro mkdir: {e}")
    with workdir() as w:
        db = os.path.join(w, "empty")
        os.mkdir(db)
        src = os.path.join(w, "src")
        os.mkdir(src)
        rows = {"a": sample(src, "a", 11)}
        with mounted(db, os.path.join(w, "staging")) as mnt:
            expect(listing(mnt) == [], f"empty database {listing(mnt)}")
            os.mkdir(os.path.join(mnt, "first"))
            cp("-r", os.path.join(src, "a"), os.path.join(mnt, "first"))
        same_rows(lance_rows(os.path.join(db, "first.lance")), plain(rows),
                  "first dataset of an empty database")


def passthrough_expected():
    """Whether this kernel and user get FUSE passthrough: root, and a
    kernel built with CONFIG_FUSE_PASSTHROUGH (None: its config is not
    to be found)."""
    if os.geteuid() != 0:
        return False
    for path in ("/proc/config.gz", f"/boot/config-{os.uname().release}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                return "CONFIG_FUSE_PASSTHROUGH=y" in f.read()
        except OSError:
            continue
    return None


@contextlib.contextmanager
def environ(**kv):
    old = {k: os.environ.get(k) for k in kv}
    os.environ.update(kv)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_big_file_written_past_the_daemon():
    """A 24 MiB image written into a new row and read back before the
    commit. Where the kernel takes passthrough (.lancefs/status says so;
    root, on Linux 6.9 or later built with it) the writes and reads go
    straight to the staged file: the mount's request count grows by a
    handful, not by one per write. With LANCEFS_NO_PASSTHROUGH=1 every
    write is a request. Either way the bytes read back through the mount
    and LanceDB's after the commit are the ones written, and a staged
    file opened twice at once (a reader beside its writer) reads the
    same."""
    expected = passthrough_expected()
    big = b"\xff\xd8\xff\xe0" + random.Random(24).randbytes(24 << 20)
    for off in (False, True):
        with workdir() as w:
            uri = os.path.join(w, "new.lance")
            with environ(**({"LANCEFS_NO_PASSTHROUGH": "1"} if off else {})), \
                    mounted(uri, os.path.join(w, "staging"),
                            "commit_delay=600") as mnt:
                before = status(mnt)["mount"]["requests"]
                os.mkdir(os.path.join(mnt, "big"))
                path = os.path.join(mnt, "big", "image.jpg")
                with open(path, "wb") as f:
                    for k in range(0, len(big), 1 << 20):
                        f.write(big[k:k + (1 << 20)])
                    f.flush()
                    with open(path, "rb") as r:
                        expect(sha256(r.read()) == sha256(big),
                               "a reader beside the writer")
                expect(file_sha(path) == sha256(big), "read back staged")
                time.sleep(1.1)     # status is made at most once a second
                st = status(mnt)
                n = st["mount"]["requests"] - before
                # what the mount found, once it opened a staged file
                on = st["passthrough"]
                if off:
                    expect(not on, "passthrough with LANCEFS_NO_PASSTHROUGH")
                elif expected is not None:
                    expect(on == expected, f"passthrough {on}, want "
                           f"{expected} (euid {os.geteuid()})")
                if on:
                    expect(n < 40, f"{n} requests for a 24 MiB file "
                           "written and read through passthrough")
                else:
                    expect(n >= 96, f"{n} requests for a 24 MiB file "
                           "written without passthrough (want one per "
                           "write of at most 256 KiB)")
            got = lance_rows(uri)
            expect(got.get("big", {}).get("image") == sha256(big),
                   f"LanceDB's image of big (passthrough {on})")


def ring_threads(mnt):
    pid = status(mnt)["pid"]
    return sum(1 for t in os.listdir(f"/proc/{pid}/task")
               if open(f"/proc/{pid}/task/{t}/comm").read().strip() ==
               "lancefs ring")


def test_cp_over_io_uring():
    """Where the kernel has FUSE over io_uring and it is turned on (this
    test turns it on for its mounts, as root, and back after): a mount's
    requests come through one ring per thread, threads= of them shared
    out among the CPUs (status io_uring, the "lancefs ring" threads);
    with LANCEFS_NO_IO_URING=1 through /dev/fuse. Either way cp -r of
    folders (one with a 9 MiB image: a read of a committed file fills a
    whole ring buffer), reading back staged and committed rows, rm -r of
    a row, and LanceDB reading what was committed."""
    with with_io_uring.enabled() as why:
        if why:
            print(f"  skipped: {why}")
            return
        cpus = os.cpu_count()
        for off in (False, True):
            with workdir() as w:
                uri = os.path.join(w, "new.lance")
                src = os.path.join(w, "src")
                os.makedirs(src)
                rows = samples_with_big(src, "r", 40, 90)
                env = {"LANCEFS_NO_IO_URING": "1"} if off else {}
                with environ(**env), mounted(
                        uri, os.path.join(w, "staging"), "commit_delay=0.3",
                        f"threads={2 * cpus}") as mnt:
                    cp("-r", *[os.path.join(src, n) for n in rows], mnt)
                    for n in ("r_000", "r_big"):     # staged
                        expect(file_sha(os.path.join(mnt, n, "image.jpg"))
                               == rows[n]["image"], f"staged {n}/image.jpg")
                    wait_committed(mnt)
                    read_back(mnt, rows, text_files=False)
                    shutil.rmtree(os.path.join(mnt, "r_001"))
                    st = status(mnt)
                    n = ring_threads(mnt)
                    expect(st["io_uring"] == (not off),
                           f"io_uring {st['io_uring']} with "
                           f"LANCEFS_NO_IO_URING {'set' if off else 'unset'}")
                    if off:
                        expect(n == 0, f"{n} ring threads without io_uring")
                    else:
                        expect(n >= 2 * cpus, f"{n} ring threads for "
                               f"threads={2 * cpus} on {cpus} CPUs")
                del rows["r_001"]
                same_rows(lance_rows(uri), plain(rows),
                          f"io_uring {'off' if off else 'on'}")


def dictionary_keys(ver):
    """A dictionary column whose keys are int8 (LanceDB's list<dictionary
    <int8, utf8>>, wtool dictlist): 200 rows bring 201 distinct values in
    one commit, and the commit spreads them over data files LanceDB reads
    (one file holding them all is one LanceDB cannot read: "Dictionary
    key bigger than the key type"); a row that alone holds 200 distinct
    values is refused, named in .lancefs/errors, and stays listed, while
    the others land."""
    with workdir() as w:
        uri = os.path.join(w, "t.lance")
        staging = os.path.join(w, "staging")
        wtool("dictlist", uri, "--version", ver)
        want = {r["values"]["name"]: r["values"]["tags"]
                for r in oracle(uri)["rows"]}
        with mounted(uri, staging, "name_column=name",
                     "commit_delay=60") as mnt:
            # first in the commit, and repeating a value: what the
            # refused row's values were counted must not stay counted
            os.mkdir(os.path.join(mnt, "huge"))
            write(os.path.join(mnt, "huge", "meta.json"),
                  json.dumps({"tags": ["x"] * 100 +
                              [f"h{k}" for k in range(200)]}).encode())
            # then rows of 100 and 60 values: 160 in all, two files
            for name, n in (("a100", 100), ("b060", 60)):
                tags = [f"{name}_{k}" for k in range(n)]
                os.mkdir(os.path.join(mnt, name))
                write(os.path.join(mnt, name, "meta.json"),
                      json.dumps({"tags": tags}).encode())
                want[name] = tags
            for i in range(200):
                tags = [f"t{i}", "red"] if i % 3 else [f"t{i}"]
                os.mkdir(os.path.join(mnt, f"r{i:03d}"))
                write(os.path.join(mnt, f"r{i:03d}", "meta.json"),
                      json.dumps({"tags": tags}).encode())
                want[f"r{i:03d}"] = tags
            commit_now(mnt, refused=True)
            errs = errors_text(mnt)
            expect("huge" in errs and "tags" in errs,
                   f"{ver}: .lancefs/errors names neither the row nor "
                   f"the column: {errs!r}")
            expect("huge" in listing(mnt), f"{ver}: the refused row is "
                   "no longer listed")
        got = {}
        for r in oracle(uri)["rows"]:
            got[r["values"]["name"]] = r["values"]["tags"]
        expect(got == want, f"{ver}: LanceDB reads "
               f"{sorted(set(got) ^ set(want))[:5]} differently, or "
               f"{[k for k in want if got.get(k) != want[k]][:5]}")


def test_row_over_a_writer_limit_refused_alone():
    """A row the writer cannot store (in 2.1 and 2.2, more empty inner
    lists before a value than a mini-block chunk's levels hold: 9,000 in
    2.1, 33,000 in 2.2) is refused, named in .lancefs/errors, and stays
    listed; the rows copied with it land (before, the whole commit failed
    and every row stayed staged). A new dataset made by cp -r, read by
    LanceDB. So is an update of a committed row to such a value: the row
    stays as it was, and another row's update in the same commit lands."""
    for ver, empties in (("2.1", 9000), ("2.2", 33000)):
        with workdir() as w:
            uri = os.path.join(w, "db", "t.lance")
            os.makedirs(os.path.dirname(uri))
            src = os.path.join(w, "src")
            rows = {"good1": [[1, 2], [3]], "wide": [[]] * empties + [[5]],
                    "good2": [[4]]}
            for name, ll in rows.items():
                os.makedirs(os.path.join(src, name))
                write(os.path.join(src, name, "meta.json"),
                      json.dumps({"ll": ll}).encode())
            with mounted(uri, os.path.join(w, "staging"),
                         f"format_version={ver}", "commit_delay=60") as mnt:
                cp("-r", src + "/.", mnt)
                commit_now(mnt, refused=True)
                errs = errors_text(mnt)
                expect("wide" in errs and "ll.item" in errs and
                       "good" not in errs, f"{ver}: .lancefs/errors: {errs!r}")
                expect(sorted(listing(mnt)) == ["good1", "good2", "wide"],
                       f"{ver}: the mount lists {listing(mnt)}")
                # updates: one the writer cannot store, refused, keeps
                # its row as it was; the other lands
                write(os.path.join(mnt, "good1", "meta.json"),
                      json.dumps({"ll": rows["wide"]}).encode())
                write(os.path.join(mnt, "good2", "meta.json"),
                      json.dumps({"ll": [[7]]}).encode())
                commit_now(mnt, refused=True)
                errs = errors_text(mnt)
                expect("good1" in errs and "good2" not in errs,
                       f"{ver}: .lancefs/errors after the updates: {errs!r}")
                # a commit whose only update is refused deletes nothing
                write(os.path.join(mnt, "good2", "meta.json"),
                      json.dumps({"ll": rows["wide"]}).encode())
                commit_now(mnt, refused=True)
            got = {r["values"]["name"]: r["values"]["ll"]
                   for r in oracle(uri)["rows"]}
            expect(got == {"good1": rows["good1"], "good2": [[7]]},
                   f"{ver}: LanceDB reads {got}")


def test_rows_over_a_writer_limit_together():
    """In 2.1, a value over 10,176 bytes in a list under a struct that is
    null in another row cannot go in one page with that row (LanceDB 0.39
    misreads the layout it would need): neither row is at fault alone, so
    both land, in separate data files, and the commit names no row
    (before, the whole commit failed)."""
    with workdir() as w:
        uri = os.path.join(w, "db", "t.lance")
        os.makedirs(os.path.dirname(uri))
        src = os.path.join(w, "src")
        rows = {"a": None, "b": {"l": ["x" * 11000, "y"]},
                "c": {"l": ["z"]}}
        for name, v in rows.items():
            os.makedirs(os.path.join(src, name))
            write(os.path.join(src, name, "meta.json"),
                  json.dumps({"s": v}).encode())
        with mounted(uri, os.path.join(w, "staging"), "format_version=2.1",
                     "commit_delay=60") as mnt:
            cp("-r", src + "/.", mnt)
            commit_now(mnt)
            errs = errors_text(mnt)
            expect(errs == "", f".lancefs/errors: {errs!r}")
        got = {r["values"]["name"]: r["values"]["s"]
               for r in oracle(uri)["rows"]}
        expect(got == rows, f"LanceDB reads {str(got)[:200]}")


TESTS = (per_version(edit_cycle) + per_version(interleaved_appends) +
         per_version(bf16_vectors) + per_version(json_column) +
         per_version(dictionary_keys) +
         [test_new_dataset_from_cp_r,
          test_new_dataset_inferred_from_what_commits,
          test_rows_committed_while_listed,
          test_database_mount_writes,
          test_row_over_a_writer_limit_refused_alone,
          test_rows_over_a_writer_limit_together,
          test_big_file_written_past_the_daemon, test_cp_over_io_uring,
          test_fsync_commits_now, test_close_during_a_forced_commit,
          test_file_of_a_column_under_another_name,
          test_committed_file_open_past_its_fsync, test_dd_oflag_direct,
          test_tar_with_xattrs, test_meta_json_sets_what_it_says,
          test_hard_links_are_copies,
          test_staged_file_open_past_its_commit,
          test_fallocate_and_symlink,
          test_closed_files_reach_the_disk,
          test_staged_rows_visible_at_once, test_commit_file_and_command,
          test_failed_commit_says_why,
          test_quiet_period_batches_commits,
          test_bad_input_refused_then_fixed,
          test_rename_editor_and_junk_files,
          test_rename_editor_and_junk_files_no_epoch,
          test_root_files_renamed_and_hidden,
          test_files_unlinked_while_open,
          test_more_fragments_than_descriptors,
          test_row_times_of_later_versions,
          test_staged_file_times_not_in_the_future,
          test_rows_copied_again_change_nothing,
          test_file_renamed_while_open,
          test_row_names_a_file_system_takes,
          test_versions_listed_after_commit_no_epoch,
          test_touch_changes_no_row,
          test_remove_while_listing,
          test_commit_while_listing,
          test_changes_across_a_new_column,
          test_committed_file_read_by_range,
          test_refresh_while_listing,
          test_column_options_where_a_column_is_missing,
          test_edit_of_a_row_lancedb_deleted,
          test_new_row_keeps_its_name_over_another_writers,
    test_staging_of_another_dataset,
    test_umount_waits_while_others_mount,
    test_changes_of_a_dataset_made_anew,
    test_dataset_made_anew_with_nothing_staged,
    test_busy_umount_commits_the_last_close,
    test_kill_while_a_refused_update_is_filled,
    test_daemon_stopped_while_a_file_is_written,
    test_database_members_odd_and_broken,
    test_rows_staged_for_a_dropped_dataset,
    test_descriptor_open_across_an_overwrite,
    test_deletions_over_a_replaced_table,
    test_edit_refused_after_columns_renamed,
    test_edit_lands_after_a_null_column_dropped,
    test_deletion_of_a_row_compacted_then_restored,
    test_status_shows_commit_delay_as_given,
    test_users_staging_dir_stays,
    test_explicit_commits_take_settled_rows,
          test_stable_row_ids_kept_by_updates,
          test_list_of_strings_column, test_nested_columns,
          test_null_struct_with_a_required_field,
          test_integer_name_column,
          test_blob_columns, test_every_type_copied_back_in,
          test_nested_blobs_copied_back_in,
          test_columns_the_writer_cannot_write,
          test_nul_in_a_json_string,
          test_row_folder_copied_back_in,
          test_row_names_with_percent_signs,
          test_mount_paths_and_one_mount_per_staging,
          test_update_and_replace_rows,
          test_commit_over_lancedb_commits, test_commit_rows_limit,
          test_commit_bytes_batches, test_landed_folders_reused,
          test_owner_checks_permissions,
          test_meta_json_edit_with_text_files,
    test_text_file_and_meta_json_edits,
          test_meta_json_edit_no_epoch])


def main():
    only = os.environ.get("ONLY")
    if not os.path.exists("/dev/fuse"):
        print("FAIL: /dev/fuse is missing; the mount tests need FUSE")
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for t in TESTS:
        if only and only not in t.__name__:
            continue
        t0 = time.time()
        try:
            t()
            passed += 1
            print(f"PASS {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
