#!/usr/bin/python3
"""Real mounts of the interop fixtures, checked the way users read them.

    test_mount.py LANCEFS DATA_DIR INTEROP_SRC_DIR

Run with Debian's own python3 (torch, torchvision and PIL from Debian).
Every expected value comes from LanceDB through tests/interop/dump.js.
Ends with "N passed, M failed" and exits 1 on any failure.
"""
import contextlib
import errno
import functools
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from dirpages import getdents, rest

LANCEFS, DATA, INTEROP = (os.path.abspath(a) for a in sys.argv[1:4])
# Mounts are writable by default and keep a staging folder per dataset:
# ours go to a private place, never into the user's state folder.
STATE = tempfile.mkdtemp(prefix="lancefs-state-")
os.environ["XDG_STATE_HOME"] = STATE
VERSIONS = ["v_legacy", "v_2.0", "v_2.1", "v_2.2"]
PIL_EXTS = {"png", "jpg", "gif", "bmp", "webp", "tif"}


def oracle(source, version=None):
    args = ["node", os.path.join(INTEROP, "dump.js"), source]
    if version:
        args += ["--version", str(version)]
    out = subprocess.run(args, cwd=INTEROP, check=True, capture_output=True)
    return json.loads(out.stdout)


def lancefs(*args, check=True):
    r = subprocess.run([LANCEFS, *args], capture_output=True, text=True,
                       timeout=60)
    if check and r.returncode:
        raise AssertionError(f"lancefs {' '.join(args)}: exit "
                             f"{r.returncode}: {r.stderr.strip()}")
    return r


@contextlib.contextmanager
def mounted(source, *opts):
    mnt = tempfile.mkdtemp(prefix="lancefs-test-")
    args = ["mount"] + (["-o", ",".join(opts)] if opts else [])
    lancefs(*args, source, mnt)
    try:
        yield mnt
    finally:
        lancefs("umount", mnt, check=False)
        os.rmdir(mnt)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def ext_of(row_dir, column):
    names = [n for n in os.listdir(row_dir) if n.startswith(column + ".")]
    return names[0] if names else None


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def lancedb_dataset(tmp, rows):
    """A 2.1 dataset of `rows` rows made by LanceDB (wtool.js make) in
    folder tmp, and an empty mount point beside it: (uri, wtool, mnt)."""
    uri = os.path.join(tmp, "db", "t.lance")
    wtool = os.path.join(INTEROP, "wtool.js")
    subprocess.run(["node", wtool, "make", uri, "--version", "2.1",
                    "--rows", str(rows)], cwd=INTEROP, check=True,
                   capture_output=True)
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    return uri, wtool, mnt


def status_of(mnt):
    with open(os.path.join(mnt, ".lancefs", "status")) as f:
        return json.load(f)


# ------------------------------------------------------------------ tests

def test_dataloader():
    """A map-style Dataset over the mount, iterated by DataLoader with two
    workers: every sample's image bytes and meta.json equal LanceDB's."""
    import torch
    from PIL import Image

    class RowFolders(torch.utils.data.Dataset):
        def __init__(self, root):
            self.root = root
            self.rows = sorted(os.listdir(root))

        def __len__(self):
            return len(self.rows)

        def __getitem__(self, i):
            d = os.path.join(self.root, self.rows[i])
            with open(os.path.join(d, "meta.json")) as f:
                meta = json.load(f)
            sample = {"row": self.rows[i], "meta": meta, "files": {}}
            for name in os.listdir(d):
                if name == "meta.json":
                    continue
                p = os.path.join(d, name)
                sample["files"][name] = sha256(p)
                if name.rsplit(".", 1)[1] in PIL_EXTS:
                    try:
                        with Image.open(p) as im:
                            im.load()
                            sample.setdefault("sizes", {})[name] = im.size
                    except Exception:
                        # the fixtures hold a few bare magic numbers
                        # (a 2-byte "BM"); real images must decode
                        if os.path.getsize(p) >= 64:
                            raise
            return sample

    for v in VERSIONS:
        src = os.path.join(DATA, v, "images.lance")
        orc = oracle(src)
        want = {r["name"]: r for r in orc["rows"]}
        decoded = 0
        with mounted(src) as mnt:
            dl = torch.utils.data.DataLoader(RowFolders(mnt), batch_size=None,
                                             num_workers=2)
            seen = 0
            for s in dl:
                seen += 1
                row = want[s["row"]]
                expect(s["meta"]["id"] == row["values"]["id"],
                       f"{v} {s['row']}: id {s['meta']['id']}")
                expect(s["meta"]["label"] == row["values"]["label"],
                       f"{v} {s['row']}: label")
                for col in ("image", "thumb"):
                    val = row["values"][col]
                    got = [n for n in s["files"] if n.startswith(col + ".")]
                    if val is None:
                        expect(not got, f"{v} {s['row']}: {col} is null")
                        continue
                    expect(len(got) == 1, f"{v} {s['row']}: {col} missing")
                    expect(s["files"][got[0]] == val["sha256"],
                           f"{v} {s['row']}/{got[0]}: bytes differ")
                decoded += len(s.get("sizes", {}))
            expect(seen == len(want), f"{v}: {seen} samples, "
                   f"LanceDB has {len(want)} rows")
        expect(decoded > 0, f"{v}: PIL decoded no image")


def test_scanners_see_only_rows():
    src = os.path.join(DATA, "v_2.2", "versions.lance")
    orc = oracle(src)
    names = sorted(r["name"] for r in orc["rows"])
    with mounted(src) as mnt:
        expect(sorted(e.name for e in os.scandir(mnt)) == names, "scandir")
        expect(sorted(os.path.basename(p) for p in glob.glob(mnt + "/*"))
               == names, "glob")
        expect(sorted(os.listdir(mnt)) == names, "listdir")
        found = subprocess.run(["find", mnt, "-maxdepth", "1", "-mindepth",
                                "1", "-printf", "%f\n"], check=True,
                               capture_output=True, text=True).stdout.split()
        expect(sorted(found) == names, f"find lists {found[:5]}")
        # hidden entries resolve by name
        expect(os.path.isdir(os.path.join(mnt, "@versions")), "@versions")
        versions = sorted(int(x) for x in os.listdir(mnt + "/@versions"))
        expect(versions == [x["version"] for x in orc["versions"]],
               f"@versions lists {versions}")
        for tag, ver in orc["tags"].items():
            t = oracle(src, ver)
            expect(sorted(os.listdir(f"{mnt}/@tags/{tag}")) ==
                   sorted(r["name"] for r in t["rows"]), f"@tags/{tag}")
        status = json.load(open(os.path.join(mnt, ".lancefs", "status")))
        expect(status["version"] == orc["version"], "status version")
        expect(status["rows"] == len(orc["rows"]), "status rows")


def test_shell_tools():
    """find, du -b, stat, cp -r out of the mount, as a user would."""
    src = os.path.join(DATA, "v_2.1", "images.lance")
    orc = oracle(src)
    with mounted(src) as mnt, tempfile.TemporaryDirectory() as out:
        files = subprocess.run(["find", mnt, "-type", "f"], check=True,
                               capture_output=True, text=True).stdout.split()
        want_files = sum(1 + sum(1 for c in ("image", "thumb")
                                 if r["values"][c] is not None)
                         for r in orc["rows"])
        expect(len(files) == want_files, f"find: {len(files)} files, "
               f"expected {want_files}")
        du = subprocess.run(["du", "-sb", mnt], check=True,
                            capture_output=True, text=True).stdout.split()[0]
        total = sum(os.stat(p).st_size for p in files)
        expect(int(du) == total, f"du -b {du}, sum of sizes {total}")
        subprocess.run(["cp", "-r", mnt + "/.", out], check=True)
        for r in orc["rows"]:
            for c in ("image", "thumb"):
                val = r["values"][c]
                if val is None:
                    continue
                name = ext_of(os.path.join(out, r["name"]), c)
                expect(name, f"cp -r: {r['name']}/{c} missing")
                p = os.path.join(out, r["name"], name)
                expect(sha256(p) == val["sha256"], f"cp -r: {p} differs")
                st = subprocess.run(["stat", "-c", "%s", os.path.join(
                    mnt, r["name"], name)], check=True, capture_output=True,
                    text=True).stdout.strip()
                expect(int(st) == val["size"], f"stat size {st}")
        expect(not os.path.exists(os.path.join(out, "@versions")),
               "cp -r copied a hidden entry")


def test_mount_errors():
    mnt = tempfile.mkdtemp(prefix="lancefs-test-")
    try:
        r = lancefs("mount", "/nonexistent/x.lance", mnt, check=False)
        expect(r.returncode == 1 and "/nonexistent" in r.stderr,
               f"missing dataset: exit {r.returncode} {r.stderr!r}")
        r = lancefs("mount", "-o", "name_column=nosuch",
                    os.path.join(DATA, "v_2.2", "images.lance"), mnt,
                    check=False)
        expect(r.returncode == 1 and "nosuch" in r.stderr, "bad option")
        for bad in ("commit_bytes=-1", "commit_rows=99999999999999999999",
                    "threads=8x", "threads=4294967300",
                    "format_version=next", "cache_size=1X",
                    "connect_timeout=abc", "cache_threads=q",
                    "commit_rows=+5", "cache_size= 1M",
                    "cache_entries=1.5"):
            r = lancefs("mount", "-o", bad,
                        os.path.join(DATA, "v_2.2", "images.lance"), mnt,
                        check=False)
            expect(r.returncode == 1 and bad in r.stderr and
                   not os.path.ismount(mnt),
                   f"-o {bad}: exit {r.returncode} {r.stderr!r}")
        r = lancefs("mount", "-o", "text_files=id",
                    os.path.join(DATA, "v_2.2", "images.lance"), mnt,
                    check=False)
        expect(r.returncode == 1 and "not a string column" in r.stderr,
               f"text_files= of an integer column: {r.stderr!r}")
        r = lancefs("mount", os.path.join(DATA, "v_2.2", "images.lance"),
                    mnt + "/nope", check=False)
        expect(r.returncode == 1 and "nope: No such file" in r.stderr,
               f"missing mount point: {r.stderr!r}")
        r = lancefs("umount", mnt, check=False)
        expect(r.returncode == 1 and
               r.stderr.strip() == f"lancefs: {mnt}: not a mount point",
               f"umount of a folder: exit {r.returncode} {r.stderr!r}")
        if os.geteuid() == 0:
            # another file system's mount point is left alone (as root,
            # fusermount3 unmounts anything)
            subprocess.run(["mount", "-t", "tmpfs", "none", mnt],
                           check=True)
            try:
                r = lancefs("umount", mnt, check=False)
                expect(r.returncode == 1 and os.path.ismount(mnt) and
                       "not a lancefs mount" in r.stderr,
                       f"umount of a tmpfs: exit {r.returncode} "
                       f"{r.stderr!r}, mounted {os.path.ismount(mnt)}")
            finally:
                subprocess.run(["umount", mnt], capture_output=True)
            # nor is a mount made over a mount point of the same device
            # (a folder bound onto itself)
            subprocess.run(["mount", "--bind", mnt, mnt], check=True)
            try:
                r = lancefs("mount", "-o", "ro",
                            os.path.join(DATA, "v_2.2", "images.lance"),
                            mnt, check=False)
                expect(r.returncode == 1 and "already a mount point" in
                       r.stderr, f"mount over a bind mount: exit "
                       f"{r.returncode} {r.stderr!r}")
            finally:
                subprocess.run(["umount", mnt], capture_output=True)
        afile = os.path.join(mnt, "afile")
        open(afile, "w").close()
        r = lancefs("mount", "-o", "ro",
                    os.path.join(DATA, "v_2.2", "images.lance"), afile,
                    check=False)
        mounted_on_file = subprocess.run(
            ["fusermount3", "-uz", afile], capture_output=True).returncode == 0
        os.unlink(afile)
        expect(r.returncode == 1 and "not a folder" in r.stderr and
               not mounted_on_file,
               f"a file as mount point: exit {r.returncode} {r.stderr!r}")
        src = os.path.join(DATA, "v_2.2", "images.lance")
        with mounted(src) as busy:
            r = lancefs("mount", src, busy, check=False)
            expect(r.returncode != 0, "mounting on a mounted folder")
            expect(os.listdir(busy), "first mount broke")
    finally:
        os.rmdir(mnt)


def test_killed_daemon():
    """kill -9 leaves ENOTCONN; lancefs umount clears it."""
    src = os.path.join(DATA, "v_2.0", "images.lance")
    mnt = tempfile.mkdtemp(prefix="lancefs-test-")
    try:
        lancefs("mount", src, mnt)
        pid = subprocess.run(["pgrep", "-f", f"lancefs mount {src} {mnt}"],
                             capture_output=True, text=True).stdout.split()
        expect(pid, "daemon not found")
        os.kill(int(pid[0]), signal.SIGKILL)
        time.sleep(0.3)
        try:
            os.listdir(mnt)
            raise AssertionError("listing a dead mount worked")
        except OSError as e:
            expect(e.errno == 107, f"expected ENOTCONN, got {e}")
        lancefs("umount", mnt)
        expect(not os.path.ismount(mnt), "still mounted")
        expect(os.listdir(mnt) == [], "mount point not empty")
    finally:
        subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        os.rmdir(mnt)


def test_corrupt_file_is_eio_only_there():
    """A damaged data file gives EIO for the rows it holds, a line in
    .lancefs/errors naming it (also for a listing of such a row);
    other fragments keep working."""
    src = os.path.join(DATA, "v_2.2", "frags.lance")
    orc = oracle(src)
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "frags.lance")
        shutil.copytree(src, copy)
        # a data file the latest version reads (not one of a fragment
        # whose rows were all deleted)
        info = json.loads(lancefs("info", "--json", copy).stdout)
        data = [os.path.basename(info["fragments"][0]["files"][0]["path"])]
        victim = os.path.join(copy, "data", data[0])
        with open(victim, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(size - 8)
            f.write(b"\0" * 8)		# the footer's version and magic
        with mounted(copy) as mnt:
            bad, good = [], 0
            for r in orc["rows"]:
                try:
                    json.load(open(os.path.join(mnt, r["name"],
                                                "meta.json")))
                    good += 1
                except OSError as e:
                    expect(e.errno == 5, f"{r['name']}: {e}")
                    bad.append(r["name"])
            expect(bad and good > 0, f"{len(bad)} bad and {good} good rows")
            errors = open(os.path.join(mnt, ".lancefs", "errors")).read()
            expect(data[0] in errors, f"errors file: {errors[:300]!r}")
        with mounted(copy) as mnt:	# a listing first
            failed = []
            for r in orc["rows"]:
                try:
                    os.listdir(os.path.join(mnt, r["name"]))
                except OSError:
                    failed.append(r["name"])
            errors = open(os.path.join(mnt, ".lancefs", "errors")).read()
            expect(failed and failed[-1] in errors and data[0] in errors,
                   f"listings failed for {failed[:3]}, errors file: "
                   f"{errors[:300]!r}")
        # the data file gone (a store that fails alike): a file opened by
        # its path, no listing first, fails at its lookup, and that is a
        # failure listed and counted too (it was only logged)
        os.rename(victim, victim + ".away")
        with mounted(copy) as mnt:
            # a binary column's file (its extension is sniffed from
            # the bytes, which are gone)
            row = next(r for r in orc["rows"] if r["name"] == bad[0])
            names = [f"{c}.bin" for c, v in row["values"].items()
                     if isinstance(v, dict) and "sha256" in v]
            try:
                open(os.path.join(mnt, bad[0], names[0]), "rb").close()
                raise AssertionError(f"{bad[0]}/{names[0]} opened")
            except OSError as e:
                expect(e.errno == 5, f"{bad[0]}/{names[0]}: {e}")
            errors = open(os.path.join(mnt, ".lancefs", "errors")).read()
            st = json.load(open(os.path.join(mnt, ".lancefs", "status")))
            expect(f"{bad[0]}/{names[0]}\t" in errors and
                   data[0] in errors and st["errors"] >= 1,
                   f"errors file: {errors[:300]!r}, status errors "
                   f"{st['errors']}")


REFRESH_WRITER = """
const lancedb = require('@lancedb/lancedb');
(async () => {
  const t = await (await lancedb.connect(process.argv[1])).openTable('t');
  if (process.argv[2] === 'add') await t.add([{id: 9000n, label: 'late',
      image: Buffer.from('89504e470d0a1a0a', 'hex'), thumb: null}]);
  else await t.delete('id < 3');
})().catch((e) => { console.error(e); process.exit(1); });
"""


def lancedb_write(copy, op):
    """LanceDB appends a row to the copy of images.lance named t (op
    "add"), or deletes the rows with id < 3 ("delete")."""
    subprocess.run(["node", "-e", REFRESH_WRITER, os.path.dirname(copy), op],
                   cwd=INTEROP, check=True, capture_output=True)


def wait_for(cond, what):
    for _ in range(100):
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"refresh: {what}")


def test_refresh_follows_writer(opts="refresh=1"):
    """-o refresh: rows LanceDB appends appear and deleted ones vanish;
    an open file keeps reading its version."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "db", "t.lance")
        shutil.copytree(os.path.join(DATA, "v_2.2", "images.lance"), copy)
        n0 = len(oracle(copy)["rows"])
        writer = functools.partial(lancedb_write, copy)

        with mounted(copy, opts) as mnt:
            first = sorted(os.listdir(mnt))[0]
            held = open(os.path.join(mnt, first, "meta.json"))
            # a reader walks the mount the whole time the writer commits:
            # rows may vanish between listing and reading (ENOENT), but
            # nothing else may fail and every meta.json must parse
            import threading
            stop = threading.Event()
            walk_errors, walks = [], [0]

            def walker():
                while not stop.is_set():
                    for r in os.listdir(mnt):
                        try:
                            with open(os.path.join(mnt, r,
                                                   "meta.json")) as f:
                                json.load(f)
                        except FileNotFoundError:
                            pass
                        except Exception as e:
                            walk_errors.append(f"{r}: {e!r}")
                    walks[0] += 1
            th = threading.Thread(target=walker)
            th.start()
            try:
                expect(len(os.listdir(mnt)) == n0, "initial rows")
                expect(not os.path.exists(os.path.join(mnt, "%08d" % n0)),
                       "row exists early")
                writer("add")
                wait_for(lambda: len(os.listdir(mnt)) == n0 + 1,
                         "no new row")
                meta = json.load(open(os.path.join(mnt, "%08d" % n0,
                                                   "meta.json")))
                expect(meta["id"] == 9000, f"new row meta {meta}")
                writer("delete")
                wait_for(lambda: not os.path.exists(os.path.join(mnt,
                                                                 first)),
                         "deleted row still there")
                expect(json.load(held)["id"] == 0, "open file changed")
                held.close()
            finally:
                stop.set()
                th.join()
            expect(not walk_errors, f"walker: {walk_errors[:3]}")
            expect(walks[0] > 2, f"walker made only {walks[0]} passes")


def test_refresh_read_only():
    """The same on a read-only mount, which lets the kernel keep entries
    for a day: the refresh makes it look the rows up again."""
    test_refresh_follows_writer("ro,refresh=1")


def test_refresh_read_only_no_epoch():
    """And as a kernel before 6.16 runs it (LANCEFS_NO_EPOCH=1): a row's
    entry is then kept only for the refresh interval."""
    os.environ["LANCEFS_NO_EPOCH"] = "1"
    try:
        test_refresh_follows_writer("ro,refresh=1")
    finally:
        del os.environ["LANCEFS_NO_EPOCH"]

def test_refresh_of_a_database(opts="ro,refresh=1"):
    """refresh= on a database mount: each dataset follows its writers
    (rows LanceDB appends appear, deleted ones vanish, the others stay
    as they are) and a dataset made in the database since appears."""
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "db")
        src = os.path.join(DATA, "v_2.2", "images.lance")
        shutil.copytree(src, os.path.join(db, "t.lance"))
        shutil.copytree(src, os.path.join(db, "u.lance"))
        n0 = len(oracle(os.path.join(db, "t.lance"))["rows"])
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        lancefs("mount", "-o", opts, db, mnt)
        try:
            expect(sorted(os.listdir(mnt)) == ["t", "u"],
                   f"members {os.listdir(mnt)}")
            t, u = os.path.join(mnt, "t"), os.path.join(mnt, "u")
            first = sorted(os.listdir(t))[0]
            expect(len(os.listdir(t)) == n0 and len(os.listdir(u)) == n0,
                   "initial rows")
            lancedb_write(os.path.join(db, "t.lance"), "add")
            wait_for(lambda: len(os.listdir(t)) == n0 + 1, "no new row in t")
            with open(os.path.join(t, "%08d" % n0, "meta.json")) as f:
                meta = json.load(f)
            expect(meta["id"] == 9000, f"new row meta {meta}")
            lancedb_write(os.path.join(db, "t.lance"), "delete")
            wait_for(lambda: not os.path.exists(os.path.join(t, first)),
                     "a row LanceDB deleted is still in t")
            expect(len(os.listdir(u)) == n0, f"u: {len(os.listdir(u))} rows")
            # a new dataset, whole at once (a half-copied one is not shown)
            shutil.copytree(src, os.path.join(db, "v.tmp"))
            os.rename(os.path.join(db, "v.tmp"), os.path.join(db, "v.lance"))
            wait_for(lambda: "v" in os.listdir(mnt), "dataset v not listed")
            expect(len(os.listdir(os.path.join(mnt, "v"))) == n0,
                   "rows of v")
            st = status_of(os.path.join(mnt, "v"))
            expect(st["mount"]["refresh"] == 1, f"status {st['mount']}")
            # a dataset whose folder goes is no longer shown, and its
            # refreshes fail no more; it comes back with its folder
            shutil.rmtree(os.path.join(db, "u.lance"))
            wait_for(lambda: "u" not in os.listdir(mnt), "u still listed")
            expect(not os.path.exists(u), "u still found")
            status = os.path.join(mnt, "t", ".lancefs", "status")

            def failed():
                with open(status) as f:
                    return json.load(f)["mount"]["failed_requests"]
            before = failed()
            time.sleep(3.5)
            expect(failed() == before,
                   f"failed requests {before} -> {failed()} with u gone")
            shutil.copytree(src, os.path.join(db, "u.tmp"))
            os.rename(os.path.join(db, "u.tmp"), os.path.join(db, "u.lance"))
            wait_for(lambda: "u" in os.listdir(mnt), "u not back")
            expect(len(os.listdir(u)) == n0, f"u back: {len(os.listdir(u))}")
            # the database's folder itself deleted: none is shown
            shutil.rmtree(db)
            wait_for(lambda: not os.listdir(mnt),
                     "datasets listed with their database deleted")
        finally:
            lancefs("umount", mnt, check=False)


def test_database_listed_while_a_dataset_comes():
    """A listing of a database root (refresh=) read a page at a time,
    while a dataset that sorts first appears between two pages: every
    dataset is listed once, none skipped."""
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "db")
        src = os.path.join(DATA, "v_2.2", "images.lance")
        members = [f"a{k:02d}" for k in range(40)]
        for name in members:
            shutil.copytree(src, os.path.join(db, name + ".lance"))
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        lancefs("mount", "-o", "ro,refresh=1", db, mnt)
        try:
            fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
            try:
                seen = getdents(fd)
                expect(0 < len(seen) < len(members), f"first page {seen}")
                shutil.copytree(src, os.path.join(db, "0new.tmp"))
                os.rename(os.path.join(db, "0new.tmp"),
                          os.path.join(db, "0new.lance"))
                wait_for(lambda: os.path.exists(os.path.join(mnt, "0new")),
                         "dataset 0new not seen")
                seen += rest(fd)
            finally:
                os.close(fd)
            names = [n for n in seen if n not in (".", "..")]
            expect(len(names) == len(set(names)),
                   f"listed twice: {sorted(n for n in set(names) if names.count(n) > 1)}")
            expect(set(members) <= set(names),
                   f"not listed: {sorted(set(members) - set(names))}")
        finally:
            lancefs("umount", mnt, check=False)


def test_row_deleted_while_listed():
    """ls of a big root (refresh=) read a page at a time while LanceDB
    deletes a row the listing has not reached: the pages after the
    refresh come from the version the listing began in (it lists every
    row once), but the deleted row is gone as soon as the listing ends.
    Before, a kernel with FUSE epochs (Linux 6.16 and later) kept its
    entry from that late page for a day; older kernels keep entries of
    a refresh= mount that many seconds, and pass either way."""
    with tempfile.TemporaryDirectory() as tmp:
        uri, wtool, mnt = lancedb_dataset(tmp, 300)
        lancefs("mount", "-o", "ro,refresh=1,name_column=name", uri, mnt)

        def version():
            return status_of(mnt)["version"]
        try:
            v0 = version()
            fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
            try:
                seen = getdents(fd)
                expect("row_299" not in seen, f"first page {seen}")
                subprocess.run(["node", wtool, "delete", uri, "--where",
                                "name = 'row_299'"], cwd=INTEROP,
                               check=True, capture_output=True)
                wait_for(lambda: version() > v0, "no new version")
                seen += rest(fd)
            finally:
                os.close(fd)
            expect(seen.count("row_299") == 1 and seen.count("row_000") == 1,
                   f"listed {len(seen)} names")
            expect(not os.path.exists(os.path.join(mnt, "row_299")),
                   "row_299 deleted by LanceDB is still there")
            expect(os.path.exists(os.path.join(mnt, "row_298", "meta.json")),
                   "row_298 is gone")
        finally:
            lancefs("umount", mnt, check=False)


def test_status_read_while_refreshing():
    """Reads of .lancefs/status on a read-only refresh= mount while
    LanceDB appends, each an open and a read to the end: each read is one
    whole JSON object, and the last shows LanceDB's last version. Before,
    the kernel's stat between a reader's reads (it asks before each)
    could make a longer status (a new version, counters grown), and the
    reader got the tail of that after the whole of the old one ("Extra
    data"), in about half of the mounts."""
    with tempfile.TemporaryDirectory() as tmp:
        uri, wtool, mnt = lancedb_dataset(tmp, 2)
        status = os.path.join(mnt, ".lancefs", "status")
        bad, reads, version = [], 0, 1
        for _ in range(3):
            lancefs("mount", "-o", "ro,refresh=1", uri, mnt)
            appender = subprocess.Popen(
                ["sh", "-c", f"for i in 1 2 3; do sleep 0.5; node {wtool} "
                 f"append {uri} --rows 1 --start {version * 10}$i || "
                 "exit 1; done"], cwd=INTEROP, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True)
            try:
                while appender.poll() is None:
                    with open(status) as f:
                        text = f.read()
                    reads += 1
                    try:
                        json.loads(text)
                    except ValueError as e:
                        bad.append(f"{e}: ...{text[-60:]!r}")
                expect(appender.returncode == 0,
                       f"wtool append: {appender.stderr.read().strip()}")
                version += 3
                wait_for(lambda: status_of(mnt)["version"] == version,
                         f"the status never shows version {version}, "
                         "LanceDB's last")
            finally:
                if appender.poll() is None:
                    appender.kill()
                appender.wait()
                lancefs("umount", mnt, check=False)
        expect(not bad, f"{len(bad)} of {reads} reads not one JSON object: "
               f"{bad[:2]}")


def test_refresh_of_a_writable_database():
    """The same on a writable database mount."""
    test_refresh_of_a_database("refresh=1")


def test_refresh_keeps_unchanged_rows(epochs=True):
    """A refresh to a version that only appended keeps every old row's
    inode numbers, so the kernel keeps their pages: reading them again
    costs the daemon nothing. @versions lists the new version. After a
    delete, what is left still reads LanceDB's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "db", "t.lance")
        shutil.copytree(os.path.join(DATA, "v_2.2", "images.lance"), copy)
        n0 = len(oracle(copy)["rows"])
        writer = functools.partial(lancedb_write, copy)

        def files(mnt):
            """{path: (inode, bytes)} of every file of every row."""
            out = {}
            for r in sorted(os.listdir(mnt)):
                for f in sorted(os.listdir(os.path.join(mnt, r))):
                    p = os.path.join(r, f)
                    with open(os.path.join(mnt, p), "rb") as fh:
                        out[p] = (os.fstat(fh.fileno()).st_ino, fh.read())
            return out

        def daemon_bytes(mnt):
            """The daemon's bytes_read, and the bytes this read of the
            status adds to it (the status is rendered anew each second)."""
            time.sleep(1.1)
            with open(os.path.join(mnt, ".lancefs", "status"), "rb") as f:
                raw = f.read()
            return json.loads(raw)["mount"]["bytes_read"], len(raw)

        with mounted(copy, "ro,refresh=1") as mnt:
            rows = {r: os.stat(os.path.join(mnt, r)).st_ino
                    for r in os.listdir(mnt)}
            before = files(mnt)
            versions = set(os.listdir(os.path.join(mnt, "@versions")))
            expect(len(rows) == n0, f"{len(rows)} rows, LanceDB {n0}")
            # a pinned version looked into stays put, and changes nothing
            pinned = os.path.join(mnt, "@versions", max(versions, key=int))
            pinned_rows = sorted(os.listdir(pinned))
            expect(not os.path.exists(os.path.join(pinned, ".lancefs")),
                   f"{pinned} shows the root's hidden entries")
            writer("add")
            wait_for(lambda: len(os.listdir(mnt)) == n0 + 1, "no new row")
            for r, ino in rows.items():
                now = os.stat(os.path.join(mnt, r)).st_ino
                expect(now == ino, f"{r}: inode {ino} became {now}")
            b0, status_len = daemon_bytes(mnt)
            after = files(mnt)
            b1, _ = daemon_bytes(mnt)
            for p, (ino, data) in before.items():
                expect(after[p] == (ino, data),
                       f"{p}: inode or bytes changed by an append")
            new = [p for p in after if p not in before]
            expect(new and all(p.startswith("%08d/" % n0) for p in new),
                   f"new files {new}")
            old_bytes = sum(len(d) for _, d in before.values())
            fetched = (b1 - b0 - status_len -
                       sum(len(after[p][1]) for p in new))
            # the new row's files reach the daemon, the old ones stay in
            # the kernel's page cache: all of them without this (a VM may
            # reclaim a few pages meanwhile, so a quarter is allowed)
            expect(0 <= fetched < old_bytes / 4,
                   f"re-reading {old_bytes} unchanged bytes fetched "
                   f"{fetched} of them from the daemon")
            expect(sorted(os.listdir(pinned)) == pinned_rows,
                   f"{pinned} changed")
            listed = set(os.listdir(os.path.join(mnt, "@versions")))
            expect(len(listed - versions) == 1,
                   f"@versions {sorted(versions)} -> {sorted(listed)}")
            writer("delete")
            want = oracle(copy)["rows"]
            wait_for(lambda: len(os.listdir(mnt)) == len(want),
                     "deleted rows still there")
            metas = sorted(json.load(open(os.path.join(mnt, r, "meta.json")))
                           ["id"] for r in os.listdir(mnt))
            expect(metas == sorted(r["values"]["id"] for r in want),
                   f"rows after delete: {metas}")


def test_refresh_keeps_unchanged_rows_no_epoch():
    """The same as a kernel before 6.16 runs it: entries expire after
    refresh= seconds and the lookups again find the same inodes."""
    os.environ["LANCEFS_NO_EPOCH"] = "1"
    try:
        test_refresh_keeps_unchanged_rows()
    finally:
        del os.environ["LANCEFS_NO_EPOCH"]


def test_dataset_deleted_under_mount():
    """Removing the dataset gives ENOENT/EIO for data files not opened
    yet (those already open stay readable, as on any POSIX file system);
    the daemon stays up and unmounts cleanly."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "frags.lance")
        shutil.copytree(os.path.join(DATA, "v_2.0", "frags.lance"), copy)
        with mounted(copy) as mnt:
            rows = sorted(os.listdir(mnt))
            first = open(os.path.join(mnt, rows[0], "meta.json")).read()
            shutil.rmtree(copy)
            failed = 0
            for r in rows[1:]:
                try:
                    open(os.path.join(mnt, r, "meta.json")).read()
                except OSError as e:
                    expect(e.errno in (2, 5), f"{r}: {e}")
                    failed += 1
            expect(failed > 0, "every row still readable after rm -rf")
            expect(open(os.path.join(mnt, rows[0], "meta.json")).read() ==
                   first, "a cached file changed")
            json.load(open(os.path.join(mnt, ".lancefs", "status")))


def test_mount_helpers():
    """mount.lancefs (mount -t lancefs, fstab) and mount.fuse3 -t lancefs
    (mount -t fuse.lancefs) both mount, with lancefs options."""
    src = os.path.join(DATA, "v_2.2", "images.lance")
    orc = oracle(src)
    labels = [r["values"]["label"] for r in orc["rows"]]
    with tempfile.TemporaryDirectory() as bin_dir:
        helper = os.path.join(bin_dir, "mount.lancefs")
        os.symlink(LANCEFS, helper)
        os.symlink(LANCEFS, os.path.join(bin_dir, "lancefs"))
        env = dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"])
        for cmd in ([helper, src, "MNT", "-o", "ro,name_column=label"],
                    [helper, src, "MNT", "-o", "ro", "-o",
                     "name_column=label"],
                    ["mount.fuse3", src, "MNT", "-t", "lancefs", "-o",
                     "ro,nosuid,name_column=label"]):
            mnt = tempfile.mkdtemp(prefix="lancefs-test-")
            try:
                r = subprocess.run([mnt if a == "MNT" else a for a in cmd],
                                   env=env, capture_output=True, text=True,
                                   timeout=60)
                expect(r.returncode == 0, f"{cmd[0]}: {r.stderr}")
                names = os.listdir(mnt)
                expect(len(names) == len(labels), f"{cmd[0]}: {names[:4]}")
                expect(all(n.split("~")[0] in labels for n in names),
                       f"{cmd[0]}: name_column not applied: {names[:4]}")
                try:
                    os.mkdir(os.path.join(mnt, "new"))
                    raise AssertionError(f"{cmd}: -o ro not applied")
                except OSError as e:
                    expect(e.errno == errno.EROFS, f"{cmd}: mkdir: {e}")
            finally:
                lancefs("umount", mnt, check=False)
                os.rmdir(mnt)


def test_pinned_versions_ro_statfs_times():
    """-o version= and -o tag= pin a version; pinned and -o ro mounts
    are read-only;
    statfs counts rows; file times are the commit time of the version
    that added the row."""
    import datetime
    import errno
    src = os.path.join(DATA, "v_2.2", "versions.lance")
    orc = oracle(src)
    stamps = {v["version"]: datetime.datetime.fromisoformat(
        v["timestamp"].replace("Z", "+00:00")).timestamp()
        for v in orc["versions"]}
    for opt, ver in [("version=2", 2)] + [(f"tag={t}", v)
                                           for t, v in orc["tags"].items()]:
        want = sorted(r["name"] for r in oracle(src, ver)["rows"])
        with mounted(src, opt) as mnt:
            expect(sorted(os.listdir(mnt)) == want, f"-o {opt}")
    for opts in (("allow_other", "ro"), ("version=2",)):
        with mounted(src, *opts) as mnt:
            names = sorted(os.listdir(mnt))
            for bad in (lambda: open(os.path.join(mnt, names[0], "x.bin"),
                                     "w"),
                        lambda: os.mkdir(os.path.join(mnt, "new")),
                        lambda: os.unlink(os.path.join(mnt, names[0],
                                                       "meta.json"))):
                try:
                    bad()
                    raise AssertionError(f"-o {','.join(opts)}: a write "
                                         "to the mount worked")
                except OSError as e:
                    expect(e.errno == errno.EROFS, f"expected EROFS: {e}")
    with mounted(src, "allow_other", "ro") as mnt:
        names = sorted(os.listdir(mnt))
        sv = os.statvfs(mnt)
        expect(sv.f_files == len(orc["rows"]),
               f"statfs files {sv.f_files}, rows {len(orc['rows'])}")
        # the first fragment came with version 1; later rows with later
        # versions, each exactly a version's commit time (ms precision)
        first = os.stat(os.path.join(mnt, names[0], "meta.json")).st_mtime
        last = os.stat(os.path.join(mnt, names[-1], "meta.json")).st_mtime
        expect(abs(first - stamps[1]) < 0.002,
               f"row {names[0]}: mtime {first}, version 1 at {stamps[1]}")
        expect(last > stamps[1] and min(abs(last - t) for t in
                                        stamps.values()) < 0.002,
               f"row {names[-1]}: mtime {last} is no version's time")


def test_cli_info_and_exit_codes():
    """lancefs info --json agrees with LanceDB; exit status is 0 on
    success, 1 for a user error, 2 for a data error."""
    src = os.path.join(DATA, "v_2.2", "versions.lance")
    orc = oracle(src)
    info = json.loads(lancefs("info", "--json", src).stdout)
    expect(info["version"] == orc["version"], "info version")
    expect(info["versions"] == [v["version"] for v in orc["versions"]],
           f"info versions {info['versions']}")
    expect(info["tags"] == orc["tags"], f"info tags {info['tags']}")
    expect(info["rows"] == len(orc["rows"]), "info rows")
    expect([f["name"] for f in info["schema"]] ==
           [f["name"] for f in orc["schema"]], "info schema")
    expect(info["data_format"] == orc["storage_version"], "info format")
    expect([f["physical_rows"] for f in info["fragments"]] ==
           [f["physical_rows"] for f in orc["fragments"]], "fragments")
    # -o as ls takes it: version= shows an older version
    old = orc["versions"][0]["version"]
    info1 = json.loads(lancefs("info", "--json", "-o", f"version={old}",
                               src).stdout)
    expect(info1["version"] == old and info1["versions"] == info["versions"],
           f"info -o version={old}: {info1['version']}")
    r = lancefs("info", "-o", "bogus=1", src, check=False)
    expect(r.returncode == 1 and "bogus=1" in r.stderr,
           f"info -o bogus=1: exit {r.returncode} {r.stderr!r}")
    for args in (["help"], ["--help"], ["info", "--help"],
                 ["mount", "--help"], ["ls", "-h"],
                 ["help", os.path.dirname(src)]):	# not a mount
        r = lancefs(*args, check=False)
        expect(r.returncode == 0 and "lancefs info" in r.stdout,
               f"lancefs {' '.join(args)}: exit {r.returncode} "
               f"{r.stderr[-200:]!r}")
    text = lancefs("info", src).stdout
    expect(f"rows: {len(orc['rows'])}" in text, "info text")
    for f in info["fragments"]:
        for d in f["files"]:
            expect(f"{d['path']} (file version {d['file_version']}, "
                   f"{d['size']} bytes)" in text,
                   f"info text lacks data file {d['path']}: {text}")
    # a database's: each dataset's under its name, not a line of JSON
    text = lancefs("info", os.path.dirname(src)).stdout
    expect("\n  versions:\n    version: " in text and
           "datasets: {" not in text,
           f"info of a database: {text[:300]!r}")
    # ls -l of @versions: each version's commit time, to the second
    for line in lancefs("ls", "-l", src, "@versions").stdout.splitlines():
        mode, size, when, name = line.split()
        v = next(v for v in orc["versions"] if v["version"] == int(name))
        expect(when == v["timestamp"][:19] + "Z",
               f"ls -l @versions: {line!r}, LanceDB {v['timestamp']}")
    expect(lancefs("ls", src, "99999999", check=False).returncode == 1,
           "missing row: exit 1")
    expect(lancefs("cat", src, orc["rows"][0]["name"],
                   check=False).returncode == 1, "cat of a folder: exit 1")
    expect(lancefs("ls", "/nonexistent.lance", check=False).returncode == 1,
           "missing dataset: exit 1")
    r = lancefs("ls", "ftp://host/x.lance", check=False)
    expect(r.returncode == 1 and "unsupported URI scheme" in r.stderr,
           f"ftp:// URI: exit {r.returncode} {r.stderr!r}")
    expect(lancefs("ls", "-o", "bogus=1", src, check=False).returncode == 1,
           "unknown option: exit 1")
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "v.lance")
        shutil.copytree(src, copy)
        for f in os.listdir(os.path.join(copy, "data")):
            with open(os.path.join(copy, "data", f), "r+b") as fh:
                fh.seek(-4, 2)
                fh.write(b"XXXX")		# no LANC magic
        r = lancefs("cat", copy, orc["rows"][0]["name"] + "/meta.json",
                    check=False)
        expect(r.returncode == 2 and "LANC" in r.stderr and
               ".lance" in r.stderr, f"corrupt file: {r.returncode} "
               f"{r.stderr!r}")
        # tags that cannot be listed fail info, not leave them out
        with open(os.path.join(copy, "_refs", "tags", "bad.json"),
                  "w") as f:
            f.write("[1")
        r = lancefs("info", copy, check=False)
        expect(r.returncode == 2 and "bad.json" in r.stderr,
               f"info with a bad tag: {r.returncode} {r.stderr!r}")
    # output that cannot be written is an error
    with open("/dev/full", "w") as full:
        r = subprocess.run([LANCEFS, "ls", src], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    expect(r.returncode == 2 and "standard output" in r.stderr,
           f"ls > /dev/full: {r.returncode} {r.stderr!r}")


def test_database_status_per_dataset():
    """In a read-only database mount each member's .lancefs/status is its
    own, also when read right after another member's."""
    db = os.path.join(DATA, "v_2.2")
    want = {name: oracle(os.path.join(db, name + ".lance"))
            for name in ("versions", "frags", "images")}
    with mounted(db, "ro") as mnt:
        for name, orc in want.items():
            st = status_of(os.path.join(mnt, name))
            expect(st["version"] == orc["version"] and
                   st["rows"] == len(orc["rows"]) and
                   st["source"] == os.path.join(db, name + ".lance"),
                   f"{name}/.lancefs/status: version {st['version']}, "
                   f"rows {st['rows']}, source {st['source']}; "
                   f"LanceDB: {orc['version']}, "
                   f"{len(orc['rows'])}")
        r = lancefs("commit", mnt, check=False)
        expect(r.returncode == 1 and "a read-only mount: nothing to commit" in
               r.stderr, f"commit of a read-only database: exit "
               f"{r.returncode} {r.stderr!r}")
        # lancefs status of the database: each member under its name
        every = json.loads(lancefs("status", "--json", mnt).stdout)
        lines = [" ".join(line.split()) for line in
                 lancefs("status", mnt).stdout.splitlines()]
        for name, orc in want.items():
            expect(every.get(name, {}).get("version") == orc["version"],
                   f"lancefs status --json of the database: {name}: "
                   f"{every.get(name)}")
            expect(f"{name}.version {orc['version']}" in lines,
                   f"lancefs status of the database: no {name}.version "
                   f"line in {lines[:5]}")


def test_secrets_hidden_from_ps():
    """The daemon's command line (ps, /proc/PID/cmdline, readable by
    every user) holds no secret given with -o; the mount works. Nor does
    lancefs cat's."""
    src = os.path.join(DATA, "v_2.2", "images.lance")
    with mounted(src, "ro", "aws_secret_access_key=Sekrit1234",
                 "session_token=Tok5678", "region=us-east-1") as mnt:
        pid = status_of(mnt)["pid"]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        expect(b"Sekrit1234" not in cmdline and b"Tok5678" not in cmdline
               and b"us-east-1" in cmdline,
               f"daemon's cmdline: {cmdline!r}")
        expect(len(os.listdir(mnt)) == len(oracle(src)["rows"]), "rows")
    # lancefs cat -o of a big file: its command line too, while it runs
    # (its reader has not drained the first MiB)
    big = os.path.join(DATA, "v_2.2", "big_values.lance")
    cat = subprocess.Popen([LANCEFS, "cat", "-o", "secret_access_key="
                            "Sekrit1234,region=us-east-1", big,
                            "00000000/payload.bin"], stdout=subprocess.PIPE)
    try:
        first = cat.stdout.read(1)
        with open(f"/proc/{cat.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        expect(first and b"Sekrit1234" not in cmdline and
               b"us-east-1" in cmdline, f"lancefs cat's cmdline: {cmdline!r}")
    finally:
        cat.kill()
        cat.wait()
        cat.stdout.close()


def test_long_column_names():
    """A column whose name would make file names over 255 bytes shows
    its files under a cut name that fits (cp -r of the row works), read
    and written (by the column's name, not its place); an ext.COLUMN=
    over 16 bytes is refused."""
    with tempfile.TemporaryDirectory() as tmp:
        script = """
const arrow = require('apache-arrow');
const lancedb = require('@lancedb/lancedb');
(async () => {
  const db = await lancedb.connect(process.argv[1]);
  const c = 'c'.repeat(300), d = 'c'.repeat(299) + 'd', s = 's'.repeat(300);
  const schema = new arrow.Schema([
    new arrow.Field('b0', new arrow.Binary(), true),
    new arrow.Field(c, new arrow.Binary(), true),
    new arrow.Field(d, new arrow.Binary(), true),
    new arrow.Field(s, new arrow.Utf8(), true)]);
  await db.createTable('t', [{b0: null, [c]: Buffer.from('hello'),
                              [d]: Buffer.from('world'), [s]: 'v'},
                             {b0: null, [c]: Buffer.from('x1'),
                              [d]: null, [s]: null}],
                       {schema});
})();
"""
        subprocess.run(["node", "-e", script, tmp], cwd=INTEROP, check=True,
                       capture_output=True)
        src = os.path.join(tmp, "t.lance")
        with mounted(src, "ro", "text_files=all") as mnt:
            row = os.path.join(mnt, sorted(os.listdir(mnt))[0])
            names = sorted(os.listdir(row))
            expect(len(names) == 4 and
                   all(len(n.encode()) <= 255 for n in names),
                   f"files of the row: {[len(n) for n in names]}")
            got = sorted(open(os.path.join(row, n), "rb").read()
                         for n in names if n != "meta.json")
            expect(got == [b"hello", b"v", b"world"], f"values {got}")
            copy = os.path.join(tmp, "copy")
            shutil.copytree(row, copy)
            expect(sorted(os.listdir(copy)) == names, "cp -r of the row")
        # and written: a file under the cut name sets its column, by
        # its name: also when another writer dropped a column before it
        # meanwhile (b0, null in the row: no file, no key in meta.json),
        # never the column that moved into its place
        with mounted(src, "staging_dir=" + os.path.join(tmp, "st"),
                     "commit_delay=60") as mnt:
            row = os.path.join(mnt, sorted(os.listdir(mnt))[1])
            cut = [n for n in os.listdir(row) if n.endswith(".bin")]
            expect(len(cut) == 1 and re.search(r"^c{200,}~[0-9a-f]{8}\.bin$",
                                               cut[0]),
                   f"files of row 1: {os.listdir(row)}")
            with open(os.path.join(row, cut[0]), "wb") as f:
                f.write(b"again")
            subprocess.run(["node", "-e", """
const lancedb = require('@lancedb/lancedb');
(async () => {
  const db = await lancedb.connect(process.argv[1]);
  await (await db.openTable('t')).dropColumns(['b0']);
})();
""", tmp], cwd=INTEROP, check=True, capture_output=True)
        got = {k[-1]: v for k, v in oracle(src)["rows"][1]["values"].items()}
        expect((got["c"] or {}).get("head") == b"again".hex() and
               got["d"] is None and
               "0" not in got, f"row 1 after writing {cut[0]}: {got}")
        r = lancefs("mount", "-o", "ro,ext." + "c" * 300 + "=" + "x" * 17,
                    src, tmp, check=False)
        expect(r.returncode == 1 and "16 bytes" in r.stderr,
               f"a long ext: exit {r.returncode} {r.stderr[-200:]!r}")


def test_tag_folders_are_their_own():
    """@tags/T and @versions/N of its version are two folders (and so
    are the row folders below): a process working in one keeps its cwd
    when another lists the other, and du counts both."""
    tmp = tempfile.mkdtemp(prefix="lancefs-tags-")
    src = os.path.join(tmp, "versions.lance")
    shutil.copytree(os.path.join(DATA, "v_2.2", "versions.lance"), src)
    # tags on one version: once, two names that hashed alike shared
    # their folders
    subprocess.run(["node", "-e", """
const lancedb = require('@lancedb/lancedb');
(async () => {
  const db = await lancedb.connect(process.argv[1]);
  const tags = await (await db.openTable('versions')).tags();
  for (const t of ['v37', 'v88', 'v39']) await tags.create(t, 2);
})();
""", tmp], cwd=INTEROP, check=True, capture_output=True)
    tags = oracle(src)["tags"]
    expect(len(tags) > 3, f"tags {tags}")
    with mounted(src, "ro") as mnt:
        on2 = [os.stat(os.path.join(mnt, "@tags", t)).st_ino
               for t, v in tags.items() if v == 2]
        expect(len(on2) >= 3 and len(set(on2)) == len(on2),
               f"tags of version 2: inodes {on2}")
        for tag, version in tags.items():
            v = os.path.join(mnt, "@versions", str(version))
            t = os.path.join(mnt, "@tags", tag)
            row = sorted(os.listdir(v))[0]
            for a, b in ((v, t), (os.path.join(v, row),
                                  os.path.join(t, row))):
                expect(os.stat(a).st_ino != os.stat(b).st_ino,
                       f"{b} is {a} (inode {os.stat(a).st_ino})")
            here = os.getcwd()
            os.chdir(v)
            try:
                os.listdir(t)
                expect(os.getcwd() == v, f"cwd {v} became {os.getcwd()}")
                expect(sorted(os.listdir("..")) ==
                       sorted(os.listdir(os.path.join(mnt, "@versions"))),
                       f".. of {v}: {os.listdir('..')}")
            finally:
                os.chdir(here)
        du = subprocess.run(["du", "-s", "--apparent-size", "-B1",
                             os.path.join(mnt, "@versions"),
                             os.path.join(mnt, "@tags")],
                            capture_output=True, text=True, check=True)
        sizes = [int(line.split()[0]) for line in du.stdout.splitlines()]
        expect(len(sizes) == 2 and sizes[1] > 0,
               f"du of @versions and @tags: {du.stdout!r}")
    shutil.rmtree(tmp)


def test_umount_names_and_stacks():
    """lancefs umount finds the mount a path reaches: through a link and
    through "..", also a dead daemon's; a tmpfs moved on top of a lancefs
    mount is refused (it reaches the tmpfs); a bind mount of one is
    unmounted without waiting for the daemon, which still serves the
    first."""
    if os.geteuid() != 0:
        print("  (not root: no tmpfs or bind mounts; skipped)")
        return
    src = os.path.join(DATA, "v_2.2", "images.lance")
    with tempfile.TemporaryDirectory() as tmp:
        m = os.path.join(tmp, "m")
        os.mkdir(m)
        os.symlink(m, os.path.join(tmp, "link"))
        lancefs("mount", "-o", "ro", src, m)
        r = lancefs("umount", os.path.join(tmp, "link"), check=False)
        expect(r.returncode == 0 and not os.path.ismount(m),
               f"umount through a link: exit {r.returncode} {r.stderr!r}")
        # a dead daemon's, named through ".."
        lancefs("mount", "-o", "ro", src, m)
        pid = status_of(m)["pid"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        r = lancefs("umount", os.path.join(m, "..", "m"), check=False)
        expect(r.returncode == 0 and not os.path.ismount(m),
               f"umount of a dead mount via '..': exit {r.returncode} "
               f"{r.stderr!r}")
        # a bind mount of it
        b = os.path.join(tmp, "b")
        os.mkdir(b)
        lancefs("mount", "-o", "ro", src, m)
        try:
            subprocess.run(["mount", "--bind", m, b], check=True)
            t0 = time.time()
            r = lancefs("umount", b, check=False)
            expect(r.returncode == 0 and not os.path.ismount(b) and
                   time.time() - t0 < 20 and os.listdir(m),
                   f"umount of a bind mount: exit {r.returncode} after "
                   f"{time.time() - t0:.1f} s, first mount listed "
                   f"{len(os.listdir(m))}")
            # a tmpfs moved on top
            p = os.path.join(tmp, "p")
            os.mkdir(p)
            subprocess.run(["mount", "-t", "tmpfs", "none", p], check=True)
            subprocess.run(["mount", "--move", p, m], check=True)
            try:
                r = lancefs("umount", m, check=False)
                expect(r.returncode == 1 and "not a lancefs mount" in
                       r.stderr, f"umount of a tmpfs moved on top: exit "
                       f"{r.returncode} {r.stderr!r}")
            finally:
                subprocess.run(["umount", m], capture_output=True)
        finally:
            subprocess.run(["umount", b], capture_output=True)
            lancefs("umount", m, check=False)


def test_branch_tags_not_shown():
    """A tag on a branch names a version of that branch, not of the main
    line lancefs shows: @tags leaves it out, and -o tag= of it is refused
    naming the branch."""
    src = os.path.join(DATA, "v_2.2", "versions.lance")
    orc = oracle(src)
    with tempfile.TemporaryDirectory(prefix="lancefs-test-") as tmp:
        copy = os.path.join(tmp, "versions.lance")
        shutil.copytree(src, copy)
        with open(os.path.join(copy, "_refs", "tags", "exp.json"), "w") as f:
            json.dump({"branch": "exp", "version": 1}, f)
        with mounted(copy, "ro") as mnt:
            tags = sorted(os.listdir(os.path.join(mnt, "@tags")))
            expect(tags == sorted(orc["tags"]), f"@tags lists {tags}")
            expect(not os.path.exists(os.path.join(mnt, "@tags", "exp")),
                   "@tags/exp resolves")
        mnt = tempfile.mkdtemp(prefix="lancefs-test-")
        try:
            r = lancefs("mount", "-o", "tag=exp", copy, mnt, check=False)
            expect(r.returncode != 0 and "branch exp" in r.stderr,
                   f"mount -o tag=exp: exit {r.returncode}: {r.stderr!r}")
        finally:
            if os.path.ismount(mnt):
                lancefs("umount", mnt, check=False)
            os.rmdir(mnt)


def test_umount_of_a_mount_with_peers():
    """A writable mount under a shared mount that has a peer (systemd
    makes / shared) shows at both places; lancefs umount removes both and
    waits for the daemon as for any mount: the next mount on its staging
    folder works at once."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("  (not root, or no unshare: skipped)")
        return
    src = os.path.join(DATA, "v_2.2", "images.lance")
    with tempfile.TemporaryDirectory() as tmp:
        ds = os.path.join(tmp, "t.lance")
        shutil.copytree(src, ds)
        # in a mount namespace of its own, which goes with the shell
        script = r"""
set -e
cd "$1"
mkdir p1 p2
mount -t tmpfs tmpfs p1
mount --make-shared p1
mount --bind p1 p2
mkdir p1/m
for i in 1 2 3 4 5; do
    "$0" mount -o staging_dir=st t.lance p1/m
    test -d p2/m/.lancefs
    "$0" umount p1/m
done
"$0" mount -o staging_dir=st t.lance p1/m
"$0" umount p1/m
"""
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "sh", "-c", script, LANCEFS, tmp],
                           capture_output=True, text=True, timeout=300)
        expect(r.returncode == 0, f"mount, umount and mount again with a "
               f"peer: exit {r.returncode}, {r.stderr!r}")


def test_umount_busy():
    """lancefs umount of a mount in use detaches it at once and says so
    (it waited five minutes, then reported success); the daemon exits
    once the last user lets go."""
    src = os.path.join(DATA, "v_2.0", "images.lance")
    mnt = tempfile.mkdtemp(prefix="lancefs-test-")
    user = None
    try:
        lancefs("mount", src, mnt)
        pid = json.load(open(os.path.join(mnt, ".lancefs", "status")))["pid"]
        user = subprocess.Popen(["sleep", "60"], cwd=mnt)
        t0 = time.time()
        r = lancefs("umount", mnt, check=False)
        expect(r.returncode == 0 and "busy" in r.stderr and
               time.time() - t0 < 30,
               f"umount: exit {r.returncode} after {time.time() - t0:.0f} "
               f"s: {r.stderr!r}")
        expect(not os.path.ismount(mnt), "still mounted")
        user.kill()
        user.wait()
        user = None
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.1)
        expect(not os.path.exists(f"/proc/{pid}"), "the daemon lives on")
    finally:
        if user:
            user.kill()
            user.wait()
        subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        os.rmdir(mnt)


TESTS = [test_dataloader, test_scanners_see_only_rows, test_shell_tools,
         test_mount_errors, test_killed_daemon,
         test_corrupt_file_is_eio_only_there, test_refresh_follows_writer,
         test_refresh_read_only, test_refresh_read_only_no_epoch,
         test_refresh_of_a_database,
         test_refresh_of_a_writable_database,
         test_database_listed_while_a_dataset_comes,
         test_row_deleted_while_listed, test_status_read_while_refreshing,
         test_refresh_keeps_unchanged_rows,
         test_refresh_keeps_unchanged_rows_no_epoch,
         test_dataset_deleted_under_mount, test_mount_helpers,
         test_pinned_versions_ro_statfs_times,
         test_cli_info_and_exit_codes, test_database_status_per_dataset,
         test_secrets_hidden_from_ps, test_long_column_names,
         test_tag_folders_are_their_own, test_umount_names_and_stacks,
         test_umount_of_a_mount_with_peers,
         test_branch_tags_not_shown, test_umount_busy]


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
            print(f"PASS {t.__name__} ({time.time() - t0:.1f} s)")
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    shutil.rmtree(STATE, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
