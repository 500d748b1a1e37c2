#!/usr/bin/python3
"""lancefs on S3, end to end, against a real S3 server (Ceph RGW), with
LanceDB 0.39 (tests/interop/s3tool.js) as the oracle.

    test_s3.py LANCEFS INTEROP_SRC_DIR ENV_FILE

ENV_FILE has S3_ENDPOINT=http://127.0.0.1:PORT, S3_ACCESS_KEY=,
S3_SECRET_KEY= lines (the s3server fixture writes it). Every test makes
its own bucket (boto3, Debian's python3-boto3), staging folder and
XDG_STATE_HOME; proxies (tests/harness/s3proxy.py) are started and stopped
by the test that uses them. Ends with "N passed, M failed"; exit 1 on any
failure; ONLY=substring picks tests, KEEP=1 keeps the buckets,
EXTRA_OPTS=a=b,c=d adds mount options to every s3:// and oss:// mount,
TEST_TIMEOUT=S (default 600) is the watchdog's limit per test.
"""
import concurrent.futures
import contextlib
import errno
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

LANCEFS, INTEROP, ENV_FILE = (os.path.abspath(a) for a in sys.argv[1:4])
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import s3util  # noqa: E402

ENV = s3util.load_env(ENV_FILE)
S3 = s3util.client(ENV)
STATE = tempfile.mkdtemp(prefix="lancefs-s3state-")
os.environ["XDG_STATE_HOME"] = STATE
# lancefs gets its keys from these unless a test says otherwise; nothing
# from the machine's own AWS setup may leak in
for k in list(os.environ):
    if k.startswith(("AWS_", "OSS_", "ALIBABA_CLOUD_")):
        del os.environ[k]
os.environ["AWS_ACCESS_KEY_ID"] = ENV["S3_ACCESS_KEY"]
os.environ["AWS_SECRET_ACCESS_KEY"] = ENV["S3_SECRET_KEY"]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(STATE, "none")
os.environ["AWS_CONFIG_FILE"] = os.path.join(STATE, "none")
STORAGE_VERSIONS = ["legacy", "2.0", "2.1", "2.2"]
WRITE_VERSIONS = ["2.0", "2.1", "2.2"]
CMD_TIMEOUT = 120     # a hung lancefs command fails the test, never the run
TEST_TIMEOUT = int(os.environ.get("TEST_TIMEOUT", 600))  # then kill_our_daemons()
MNT_PREFIX = f"lancefs-s3mnt-{os.getpid()}-"


# ------------------------------------------------------------ helpers

def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def s3tool(*args, endpoint=None, timeout=300):
    env = dict(os.environ, S3_ENDPOINT=endpoint or ENV["S3_ENDPOINT"],
               S3_ACCESS_KEY=ENV["S3_ACCESS_KEY"],
               S3_SECRET_KEY=ENV["S3_SECRET_KEY"], S3_REGION=ENV["S3_REGION"])
    r = subprocess.run(["node", os.path.join(INTEROP, "s3tool.js"),
                        *map(str, args)], cwd=INTEROP, env=env,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        raise AssertionError(f"s3tool.js {' '.join(map(str, args))}: exit "
                             f"{r.returncode}: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout)


def lance_rows(uri):
    """name -> {image sha256 or None, caption, label, score} in LanceDB's
    latest version; a name twice is a failure (a commit applied twice)."""
    out = {}
    for r in s3tool("dump", uri)["rows"]:
        expect(r["name"] not in out, f"LanceDB holds row {r['name']!r} twice")
        out[r["name"]] = {"image": r["image"]["sha256"] if r["image"] else
                          None, "caption": r.get("caption"),
                          "label": r.get("label"), "score": r.get("score")}
    return out


def same_rows(got, want, what):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    diffs = [f"LanceDB lacks {missing[:8]}"] if missing else []
    if extra:
        diffs.append(f"LanceDB has extra {extra[:8]}")
    for n in sorted(set(want) & set(got)):
        for c, v in want[n].items():
            if got[n].get(c) != v:
                diffs.append(f"row {n}: {c} is {got[n].get(c)!r}, "
                             f"expected {v!r}")
    expect(not diffs, f"{what}: " + "; ".join(diffs[:12]))


def all_versions_open(uri):
    """Every version LanceDB lists checks out and scans; returns the dump."""
    d = s3tool("dump", uri, "--versions")
    vs = [v["version"] for v in d["versions"]]
    expect(vs == list(range(1, d["latest"] + 1)), f"versions {vs}")
    return d


def run(args, timeout=CMD_TIMEOUT, env=None, check=True, cwd=None):
    t0 = time.monotonic()
    try:
        r = subprocess.run(args, capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{' '.join(args)}: no answer after {timeout} s")
    r.elapsed = time.monotonic() - t0
    if check and r.returncode:
        raise AssertionError(f"{' '.join(args)}: exit {r.returncode}: "
                             f"{r.stderr.strip()}")
    return r


def lancefs(*args, **kw):
    return run([LANCEFS, *args], **kw)


def s3_opts(endpoint=None, region=None, allow_http=True):
    extra = [o for o in os.environ.get("EXTRA_OPTS", "").split(",") if o]
    return ([f"endpoint={endpoint or ENV['S3_ENDPOINT']}"] +
            (["allow_http=true"] if allow_http else []) +
            [f"region={region or ENV['S3_REGION']}"] + extra)


def unmount(mnt):
    r = lancefs("umount", mnt, check=False, timeout=300)
    if os.path.ismount(mnt):
        subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
    return r


@contextlib.contextmanager
def mounted(source, *opts, endpoint=None, staging=None, env=None,
            allow_http=True, cwd=None):
    """lancefs mount -o endpoint=...,OPTS SOURCE MNT (run in cwd); at the
    end `lancefs umount` (which commits and waits), which must succeed if
    the body did. staging=None mounts read-only."""
    mnt = tempfile.mkdtemp(prefix=MNT_PREFIX)
    o = s3_opts(endpoint, allow_http=allow_http) + list(opts)
    o.append(f"staging_dir={staging}" if staging else "ro")
    try:
        lancefs("mount", "-o", ",".join(o), source, mnt, env=env, cwd=cwd)
    except BaseException:
        os.rmdir(mnt)
        raise
    ok = False
    try:
        yield mnt
        ok = True
    finally:
        r = unmount(mnt)
        with contextlib.suppress(OSError):
            os.rmdir(mnt)
        if ok:
            expect(r.returncode == 0, f"lancefs umount: exit {r.returncode}: "
                   f"{r.stderr.strip()}")


@contextlib.contextmanager
def workdir():
    d = tempfile.mkdtemp(prefix="lancefs-s3test-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def bucket():
    name = s3util.new_bucket(S3)
    try:
        yield name
    finally:
        if not os.environ.get("KEEP"):
            with contextlib.suppress(Exception):
                s3util.empty_bucket(S3, name)


def status(mnt):
    with open(os.path.join(mnt, ".lancefs", "status")) as f:
        return json.load(f)


def wait_for(cond, what, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        time.sleep(0.1)
    # `what` may be a function: the state then, not when the wait began
    raise AssertionError(f"timed out after {timeout} s: "
                         f"{what() if callable(what) else what}")


def wait_committed(mnt, timeout=90):
    wait_for(lambda: status(mnt)["writes"]["staged_rows"] == 0,
             lambda: f"{mnt}: rows still staged: {status(mnt)['writes']}",
             timeout)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def jpeg(seed, w=None, h=None):
    """A real JPEG of noise (each one differs), made with Debian's PIL."""
    from PIL import Image
    rng = random.Random(seed)
    w = w or rng.randint(24, 200)
    h = h or rng.randint(24, 160)
    im = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def sample(parent, name, seed, size=None):
    """A folder parent/name with image.jpg and meta.json; returns the row
    LanceDB must read back (caption is not written: null)."""
    d = os.path.join(parent, name)
    os.makedirs(d)
    img = jpeg(seed, *(size or (None, None)))
    write(os.path.join(d, "image.jpg"), img)
    meta = {"label": 1000 + seed, "score": seed + 0.5}
    write(os.path.join(d, "meta.json"), json.dumps(meta))
    return {"image": sha256(img), "caption": None, "label": meta["label"],
            "score": meta["score"]}


def image_bytes(label):
    """The same bytes as imageBytes() in s3tool.js (race rows)."""
    n = 3000 + label % 5000
    out = bytearray(n)
    x = (label * 2654435761 + 1) & 0xffffffff
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xffffffff
        out[i] = x >> 24
    out[0:3] = b"\xff\xd8\xff"
    return bytes(out)


def cp(*args):
    r = subprocess.run(["cp", *args], capture_output=True, text=True,
                       timeout=300)
    expect(r.returncode == 0, f"cp {' '.join(args)}: {r.stderr.strip()}")


def tree(root):
    """relative path -> ("d",) or ("f", size, sha256) for everything
    listed under root."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirs:
            out[os.path.normpath(os.path.join(rel, d))] = ("d",)
        for f in files:
            p = os.path.join(dirpath, f)
            data = read(p)
            expect(os.stat(p).st_size == len(data),
                   f"{p}: st_size {os.stat(p).st_size}, read {len(data)}")
            out[os.path.normpath(os.path.join(rel, f))] = ("f", len(data),
                                                           sha256(data))
    return out


def same_tree(got, want, what):
    diffs = []
    for p in sorted(set(got) | set(want)):
        if got.get(p) != want.get(p):
            diffs.append(f"{p}: {got.get(p)} vs {want.get(p)}")
    expect(not diffs, f"{what}: {len(diffs)} paths differ: {diffs[:8]}")


def check_named_view(mnt, dump, what):
    """A name_column=name mount shows LanceDB's rows: one folder per name,
    image.jpg with the stored bytes (none for a null), meta.json with the
    other values."""
    rows = {r["name"]: r for r in dump["rows"]}
    names = sorted(os.listdir(mnt))
    expect(names == sorted(rows), f"{what}: the mount lists {names[:6]}..., "
           f"LanceDB {sorted(rows)[:6]}...")
    for n, r in rows.items():
        d = os.path.join(mnt, n)
        files = set(os.listdir(d))
        if r["image"] is None:
            expect("image.jpg" not in files, f"{what}: {n}: image for a null")
        else:
            data = read(os.path.join(d, "image.jpg"))
            expect(len(data) == r["image"]["size"] and
                   sha256(data) == r["image"]["sha256"],
                   f"{what}: {n}/image.jpg: {len(data)} bytes, LanceDB "
                   f"{r['image']['size']}; or the bytes differ")
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
        for c in ("label", "score", "caption"):
            expect(meta.get(c) == r[c], f"{what}: {n}/meta.json {c}: "
                   f"{meta.get(c)!r}, LanceDB {r[c]!r}")


def file_versions(local_dataset):
    """The storage version of the latest manifest's data files, from a
    local copy (wtool.js versions)."""
    r = subprocess.run(["node", os.path.join(INTEROP, "wtool.js"),
                        "versions", local_dataset], cwd=INTEROP,
                       capture_output=True, text=True, timeout=300)
    expect(r.returncode == 0, f"wtool versions: {r.stderr.strip()}")
    return json.loads(r.stdout)


# ------------------------------------------------------------ reads

def read_every_version(ver):
    """LanceDB writes a dataset in storage version VER to the server (two
    appends, a delete, images from 170 B to 430 KB); lancefs mounts
    s3://: every row matches LanceDB's values byte for byte, and the whole
    tree (every path, size and byte, row-number names) equals the mount of
    a local copy of the same objects; `lancefs ls` and `cat` on s3:// too."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", ver, "--rows", 20, "--big")
        s3tool("append", uri, "--rows", 7, "--prefix", "more", "--big")
        s3tool("delete", uri, "--where", "name IN ('row_004', 'more_001')")
        s3tool("append", uri, "--rows", 4, "--prefix", "last", "--start", 2,
               "--big")
        dump = s3tool("dump", uri)
        expect(len(dump["rows"]) == 29 and dump["latest"] == 4,
               f"LanceDB made {len(dump['rows'])} rows, v{dump['latest']}")
        local = os.path.join(w, "t.lance")
        expect(s3util.mirror(S3, b, "db/t.lance/", local) > 0, "mirror")
        fv = file_versions(local)
        want_fv = "0.1" if ver == "legacy" else ver
        expect(fv["data_format"] == want_fv, f"LanceDB wrote "
               f"{fv['data_format']} ({fv['file_versions']}) for {ver}")
        with mounted(uri, "name_column=name") as mnt:
            check_named_view(mnt, dump, f"{ver} by name")
        mnt_local = tempfile.mkdtemp(prefix=MNT_PREFIX)
        try:
            lancefs("mount", "-o", "ro", local, mnt_local)
            want_tree = tree(mnt_local)
        finally:
            unmount(mnt_local)
            os.rmdir(mnt_local)
        expect(len(want_tree) > 29 * 2, f"local mount: {len(want_tree)}")
        with mounted(uri) as mnt:
            same_tree(tree(mnt), want_tree, f"{ver}: s3:// vs local copy")
            st = status(mnt)
            expect(st["rows"] == 29, f"status rows {st.get('rows')}")
        # the CLI without a mount
        o = ",".join(s3_opts())
        ls = lancefs("ls", "-o", o, uri).stdout.split()
        expect(sorted(ls) == sorted(p for p in want_tree if "/" not in p),
               f"lancefs ls: {ls[:5]}")
        info = json.loads(lancefs("info", "--json", "-o", o, uri).stdout)
        expect(info["rows"] == 29, f"lancefs info -o: {info.get('rows')}")
        big = max((p for p, v in want_tree.items() if v[0] == "f"),
                  key=lambda p: want_tree[p][1])
        r = subprocess.run([LANCEFS, "cat", "-o", o, uri, big],
                           capture_output=True, timeout=CMD_TIMEOUT)
        expect(r.returncode == 0 and sha256(r.stdout) == want_tree[big][2],
               f"lancefs cat {big}: exit {r.returncode}, "
               f"{len(r.stdout)} bytes, {r.stderr[-300:]!r}")


def test_database_mount():
    """A prefix holding datasets of several storage versions (and other
    objects) mounts as one folder per dataset: the tree equals the mount
    of a local copy and every image is one LanceDB holds; mounted -o ro it
    refuses writes. Mounted writable, rows copied into a dataset's folder
    and into a new one (mkdir) are committed by umount: LanceDB lists the
    new dataset and reads every row."""
    with bucket() as b, workdir() as w:
        made = {"a": "2.0", "b": "2.2", "c": "legacy"}
        for name, ver in made.items():
            s3tool("make", f"s3://{b}/db/{name}.lance", "--version", ver,
                   "--rows", 5 + len(name) * 3, "--prefix", name, "--big")
        S3.put_object(Bucket=b, Key="db/notes.txt", Body=b"not a dataset")
        S3.put_object(Bucket=b, Key="db/other/x.bin", Body=b"x")
        tables = s3tool("tables", f"s3://{b}/db")["tables"]
        expect(tables == sorted(made), f"LanceDB lists {tables}")
        local = os.path.join(w, "db")
        s3util.mirror(S3, b, "db/", local)
        mnt_local = tempfile.mkdtemp(prefix=MNT_PREFIX)
        try:
            lancefs("mount", "-o", "ro", local, mnt_local)
            want_tree = tree(mnt_local)
        finally:
            unmount(mnt_local)
            os.rmdir(mnt_local)
        with mounted(f"s3://{b}/db") as mnt:
            expect(sorted(os.listdir(mnt)) == tables,
                   f"database mount lists {sorted(os.listdir(mnt))}")
            got = tree(mnt)
            same_tree(got, want_tree, "s3:// database vs local copy")
            for t in tables:
                shas = sorted(v[2] for p, v in got.items()
                              if p.startswith(t + "/") and p.endswith(".jpg"))
                lance = sorted(r["image"]["sha256"] for r in
                               s3tool("dump", f"s3://{b}/db/{t}.lance")["rows"]
                               if r["image"])
                expect(shas == lance, f"{t}: images differ from LanceDB's")
            try:
                os.mkdir(os.path.join(mnt, tables[0], "newrow"))
                raise AssertionError("mkdir in a read-only mount worked")
            except OSError as e:
                expect(e.errno == errno.EROFS, f"mkdir: {e}")
        # writable: rows into a.lance and a new dataset
        src = os.path.join(w, "src")
        os.makedirs(src)
        want_a = lance_rows(f"s3://{b}/db/a.lance")
        new_a = {f"na_{k:03d}": sample(src, f"na_{k:03d}", 600 + k)
                 for k in range(3)}
        new_d = {f"nd_{k:03d}": sample(src, f"nd_{k:03d}", 700 + k)
                 for k in range(3)}
        with mounted(f"s3://{b}/db", "name_column=name",
                     staging=os.path.join(w, "stg")) as mnt:
            cp("-r", *[os.path.join(src, n) for n in new_a],
               os.path.join(mnt, "a"))
            os.mkdir(os.path.join(mnt, "fresh"))
            cp("-r", *[os.path.join(src, n) for n in new_d],
               os.path.join(mnt, "fresh"))
        want_a.update(new_a)
        same_rows(lance_rows(f"s3://{b}/db/a.lance"), want_a,
                  "a.lance after the database mount's commit")
        same_rows(lance_rows(f"s3://{b}/db/fresh.lance"), new_d,
                  "fresh.lance made by the database mount")
        tables = s3tool("tables", f"s3://{b}/db")["tables"]
        expect(tables == sorted(list(made) + ["fresh"]),
               f"LanceDB lists {tables}")


# ------------------------------------------------------------ writes

def edit_cycle(ver):
    """cp -r of folders, images copied to the root, rm -r of committed
    rows and an overwritten image.jpg through s3://; `lancefs umount`
    commits; LanceDB reads exactly the expected rows, every version opens,
    and a fresh mount reads the same bytes."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        staging = os.path.join(w, "staging")
        s3tool("make", uri, "--version", ver, "--rows", 6)
        want = lance_rows(uri)
        src = os.path.join(w, "src")
        os.makedirs(src)
        new = {f"new_{k:03d}": sample(src, f"new_{k:03d}", 10 + k,
                                      size=(640, 480) if k == 0 else None)
               for k in range(3)}
        # a row whose data file is more than one part of an upload
        # (multipart above 8 MiB)
        big = b"\xff\xd8\xff" + random.Random(ver).randbytes(9 << 20)
        os.makedirs(os.path.join(src, "big_000"))
        write(os.path.join(src, "big_000", "image.jpg"), big)
        new["big_000"] = {"image": sha256(big), "caption": None,
                          "label": None, "score": None}
        drops = {}
        for k in range(2):
            img = jpeg(50 + k)
            write(os.path.join(src, f"drop_{k:03d}.jpg"), img)
            drops[f"drop_{k:03d}"] = {"image": sha256(img), "caption": None,
                                      "label": None, "score": None}
        with mounted(uri, "name_column=name", "commit_delay=0.2",
                     staging=staging) as mnt:
            cp("-r", *[os.path.join(src, n) for n in new], mnt)
            cp(*[os.path.join(src, n + ".jpg") for n in drops], mnt)
            wait_committed(mnt)
            want.update(new)
            want.update(drops)
            same_rows(lance_rows(uri), want, f"{ver}: after cp")
            subprocess.run(["rm", "-r", os.path.join(mnt, "row_001"),
                            os.path.join(mnt, "row_002")], check=True)
            del want["row_001"], want["row_002"]
            img = jpeg(77)
            write(os.path.join(src, "new.jpg"), img)
            cp(os.path.join(src, "new.jpg"),
               os.path.join(mnt, "row_003", "image.jpg"))
            want["row_003"] = dict(want["row_003"], image=sha256(img))
            expect(sha256(read(os.path.join(mnt, "row_003", "image.jpg")))
                   == sha256(img), "the overwritten image reads old bytes")
        same_rows(lance_rows(uri), want, f"{ver}: after umount")
        d = all_versions_open(uri)
        expect(d["versions"][0]["rows"] == 6, "version 1 changed")
        with mounted(uri, "name_column=name") as mnt:
            check_named_view(mnt, s3tool("dump", uri), f"{ver}: remount")
        # the same bytes as LanceDB wrote them, straight from the bucket
        keys = s3util.list_keys(S3, b, "db/t.lance/")
        expect(any("/_versions/" in k for k in keys) and
               any("/data/" in k for k in keys), f"keys {sorted(keys)[:5]}")


def test_two_mounts_and_lancedb_race():
    """Two writable mounts of one s3:// dataset and a LanceDB appender
    commit at the same time (cp -r in several batches each, one-row
    LanceDB appends): no row is lost or doubled, every version opens."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.1", "--rows", 4)
        want = lance_rows(uri)
        srcs = []
        for m in range(2):
            src = os.path.join(w, f"src{m}")
            os.makedirs(src)
            for k in range(18):
                want[f"m{m}_{k:03d}"] = sample(src, f"m{m}_{k:03d}",
                                               100 * m + k)
            srcs.append(src)
        for i in range(8):
            want[f"ldb_{i:03d}"] = {"image": sha256(image_bytes(5000 + i)),
                                    "caption": None, "label": 5000 + i,
                                    "score": None}
        mnts = []
        try:
            for m in range(2):
                mnt = tempfile.mkdtemp(prefix=MNT_PREFIX)
                mnts.append(mnt)
                lancefs("mount", "-o", ",".join(s3_opts() + [
                    "name_column=name", "commit_delay=0.1",
                    f"staging_dir={os.path.join(w, f'stg{m}')}"]), uri, mnt)
            start = int(time.time() * 1000) + 8000
            env = dict(os.environ, S3_ENDPOINT=ENV["S3_ENDPOINT"],
                       S3_ACCESS_KEY=ENV["S3_ACCESS_KEY"],
                       S3_SECRET_KEY=ENV["S3_SECRET_KEY"],
                       S3_REGION=ENV["S3_REGION"])
            ldb = subprocess.Popen(
                ["node", os.path.join(INTEROP, "s3tool.js"), "race", uri,
                 "--prefix", "ldb", "--count", "8", "--label", "5000",
                 "--gap", "150", "--at", str(start)], cwd=INTEROP, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            errs = []

            def copier(m):
                try:
                    time.sleep(max(0, start / 1000 - time.time()))
                    names = sorted(os.listdir(srcs[m]))
                    for i in range(0, len(names), 3):
                        cp("-r", *[os.path.join(srcs[m], n)
                                   for n in names[i:i + 3]], mnts[m])
                        time.sleep(0.15)
                    wait_committed(mnts[m], 180)
                except Exception as e:   # reported below
                    errs.append(f"mount {m}: {e}")
            ts = [threading.Thread(target=copier, args=(m,)) for m in (0, 1)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            out, err = ldb.communicate(timeout=300)
            expect(ldb.returncode == 0, f"LanceDB appender: {err[-1000:]}")
            expect(not errs, "; ".join(errs))
        finally:
            for mnt in mnts:
                r = unmount(mnt)
                with contextlib.suppress(OSError):
                    os.rmdir(mnt)
                expect(r.returncode == 0, f"umount: {r.stderr.strip()}")
        same_rows(lance_rows(uri), want, "after the race")
        d = all_versions_open(uri)
        counts = [v["rows"] for v in d["versions"]]
        expect(counts == sorted(counts), f"a version lost rows: {counts}")


# ------------------------------------------------------------ errors

def expect_mount_fails(source, opts, pattern, what, env=None):
    """`lancefs mount` exits non-zero within the command timeout, says
    something matching `pattern`, and leaves nothing mounted."""
    mnt = tempfile.mkdtemp(prefix=MNT_PREFIX)
    try:
        r = lancefs("mount", "-o", ",".join(opts + ["ro"]), source, mnt,
                    env=env, check=False, timeout=90)
        expect(r.returncode != 0, f"{what}: mount succeeded")
        expect(re.search(pattern, r.stderr, re.I),
               f"{what}: unclear error {r.stderr.strip()!r} (want "
               f"/{pattern}/)")
        expect(not os.path.ismount(mnt), f"{what}: left a mount")
        return r
    finally:
        unmount(mnt)
        os.rmdir(mnt)


def test_errors_are_clear_and_quick():
    """Wrong keys, wrong region (through a proxy that checks it as AWS
    does), missing bucket, missing dataset and a dead endpoint: a clear
    message, a non-zero exit, no hang. Keys given as options or in a
    credentials file work (the same mount, so the failures are the
    keys')."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.2", "--rows", 3)
        env = dict(os.environ)
        bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong-secret")
        expect_mount_fails(uri, s3_opts(),
                           r"SignatureDoesNotMatch|signature", "wrong secret",
                           env=bad)
        bad = dict(env, AWS_ACCESS_KEY_ID="NOSUCHKEY")
        expect_mount_fails(uri, s3_opts(),
                           r"InvalidAccessKeyId|access key", "unknown key",
                           env=bad)
        with s3util.Proxy("fault", ENV, require_region=ENV["S3_REGION"]) as p:
            r = expect_mount_fails(uri, s3_opts(p.endpoint, "eu-west-3"),
                                   r"region", "wrong region")
            expect(ENV["S3_REGION"] in r.stderr or "eu-west-3" in r.stderr,
                   f"the region error names neither region: {r.stderr!r}")
        nob = f"s3test-missing-{os.getpid()}"
        expect_mount_fails(f"s3://{nob}/db/t.lance", s3_opts(),
                           rf"NoSuchBucket|{nob}", "missing bucket")
        expect_mount_fails(f"s3://{b}/db/nope.lance", s3_opts(),
                           r"nope\.lance", "missing dataset")
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        expect_mount_fails(uri, s3_opts(dead) + ["connect_timeout=2",
                                                 "max_retries=1"],
                           r"connect|refused|127\.0\.0\.1", "dead endpoint")
        # the keys as options, and in a credentials file
        nokeys = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        nokeys["AWS_EC2_METADATA_DISABLED"] = "true"
        with mounted(uri, f"access_key_id={ENV['S3_ACCESS_KEY']}",
                     f"secret_access_key={ENV['S3_SECRET_KEY']}",
                     env=nokeys) as mnt:
            expect(len(os.listdir(mnt)) == 3, "keys as -o options")
        cred = os.path.join(w, "credentials")
        write(cred, "[default]\naws_access_key_id = "
              f"{ENV['S3_ACCESS_KEY']}\naws_secret_access_key = "
              f"{ENV['S3_SECRET_KEY']}\n")
        with mounted(uri, f"credentials_file={cred}", env=nokeys) as mnt:
            expect(len(os.listdir(mnt)) == 3, "keys in credentials_file=")
        expect_mount_fails(uri, s3_opts(),
                           r"credential|access key|denied|anonymous|403",
                           "no keys at all", env=nokeys)


# ------------------------------------------------------------ TLS

def self_signed(d, name):
    """A throwaway self-signed certificate for IP 127.0.0.1 (openssl CLI)
    in D: (cert.pem, key.pem)."""
    cert = os.path.join(d, f"{name}.pem")
    key = os.path.join(d, f"{name}.key")
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext",
             "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
            check=False)
    expect(r.returncode == 0, f"openssl req: {r.stderr.strip()}")
    return cert, key


def test_https_ca_file():
    """An https endpoint: s3proxy.py terminates TLS with a throwaway
    self-signed certificate for 127.0.0.1 in front of the server. Without
    ca_file= the mount fails at once with a message naming the certificate
    problem, the endpoint, the bucket and ca_file=; so does ca_file= naming
    another certificate, and the right one reached as localhost (a name
    the certificate does not hold); none of them sent a request. A missing
    or non-PEM ca_file= is named. With ca_file= (and no allow_http) the
    mount shows LanceDB's rows byte for byte, also read by 8 threads at
    once with ca_file= relative to the folder `lancefs mount` ran in (the
    daemon, in /, opens new connections then); a cp -r commits through
    https and LanceDB reads it back; `lancefs ls`/`cat` work too."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.2", "--rows", 10, "--big")
        dump = s3tool("dump", uri)
        want = lance_rows(uri)
        cert, key = self_signed(w, "server")
        other, _ = self_signed(w, "other")
        with s3util.Proxy("fault", ENV, tls=(cert, key)) as p:
            ep = p.endpoint
            expect(ep.startswith("https://"), f"proxy endpoint {ep}")
            opts = s3_opts(ep, allow_http=False)
            r = expect_mount_fails(uri, opts, r"certificate", "no ca_file=")
            expect(r.elapsed < 20, f"no ca_file=: took {r.elapsed:.0f} s")
            for part in (ep, b, "ca_file="):
                expect(part in r.stderr, f"no ca_file=: the error does not "
                       f"name {part}: {r.stderr.strip()!r}")
            r = expect_mount_fails(uri, opts + [f"ca_file={other}"],
                                   r"certificate", "another CA's ca_file=")
            expect(r.elapsed < 20 and ep in r.stderr and other in r.stderr,
                   f"another CA: {r.elapsed:.0f} s, {r.stderr.strip()!r}")
            r = expect_mount_fails(
                uri, s3_opts(f"https://localhost:{p.port}", allow_http=False)
                + [f"ca_file={cert}"], r"subject name.*localhost",
                "a name the certificate does not hold")
            expect(r.elapsed < 20, f"localhost: took {r.elapsed:.0f} s")
            # the two unknown CAs are refused in the handshake (the name
            # is checked after it, and that connection just closes)
            wait_for(lambda: len(p.ctl.log()) >= 2, "the proxy saw fewer "
                     "than two refused handshakes", 20)
            log = p.ctl.log()
            expect(all(e.get("tls_error") for e in log),
                   "a request got through a refused handshake: " +
                   str([(e["method"], e["target"]) for e in log
                        if not e.get("tls_error")][:4]))
            missing = os.path.join(w, "nope", "ca.pem")
            expect_mount_fails(uri, opts + [f"ca_file={missing}"],
                               re.escape(f"ca_file={missing}: No such file"),
                               "missing ca_file=")
            junk = os.path.join(w, "junk.pem")
            write(junk, "not a certificate\n")
            expect_mount_fails(uri, opts + [f"ca_file={junk}"],
                               re.escape(f"ca_file={junk}: no PEM "
                                         "certificate"), "non-PEM ca_file=")
            # trusted: reads, a commit, the CLI
            p.ctl.clear()
            tls = ("name_column=name", f"ca_file={cert}")
            with mounted(uri, "name_column=name", "ca_file=server.pem",
                         endpoint=ep, allow_http=False, cwd=w) as mnt:
                imgs = {r["name"]: r["image"]["sha256"] for r in dump["rows"]
                        if r["image"]}
                with concurrent.futures.ThreadPoolExecutor(8) as ex:
                    got = dict(zip(imgs, ex.map(
                        lambda n: sha256(read(os.path.join(mnt, n,
                                                           "image.jpg"))),
                        imgs)))
                expect(got == imgs, "parallel reads over https: "
                       f"{[n for n in imgs if got[n] != imgs[n]][:6]} differ")
                check_named_view(mnt, dump, "https with ca_file=")
            src = os.path.join(w, "src")
            os.makedirs(src)
            new = {f"tls_{k:03d}": sample(src, f"tls_{k:03d}", 900 + k)
                   for k in range(3)}
            with mounted(uri, *tls, "commit_delay=0.2", endpoint=ep,
                         allow_http=False,
                         staging=os.path.join(w, "stg")) as mnt:
                cp("-r", *[os.path.join(src, n) for n in new], mnt)
                wait_committed(mnt)
            want.update(new)
            same_rows(lance_rows(uri), want, "after a commit through https")
            o = ",".join(opts + list(tls))
            ls = lancefs("ls", "-o", o, uri).stdout.split()
            expect(sorted(ls) == sorted(want), f"lancefs ls: {ls[:6]}")
            img = read(os.path.join(src, "tls_001", "image.jpg"))
            r = subprocess.run([LANCEFS, "cat", "-o", o, uri,
                                "tls_001/image.jpg"], capture_output=True,
                               timeout=CMD_TIMEOUT)
            expect(r.returncode == 0 and r.stdout == img,
                   f"lancefs cat: exit {r.returncode}, {len(r.stdout)} "
                   f"bytes of {len(img)}, {r.stderr[-300:]!r}")
            log = p.ctl.log()
            expect(not [e for e in log if e.get("tls_error")],
                   "a handshake failed with ca_file=: " +
                   str([e["tls_error"] for e in log if e.get("tls_error")]))
            expect(any(e["method"] == "PUT" and
                       re.search(r"/_versions/\d+\.manifest$", e["target"])
                       for e in log), "no manifest PUT through https")
            expect(any(e["method"] == "GET" and "/data/" in e["target"]
                       for e in log), "no data GET through https")
            # AWS_CA_BUNDLE stands for ca_file= (which wins over it)
            bundle = dict(os.environ, AWS_CA_BUNDLE=cert)
            ob = ",".join(opts + ["name_column=name"])
            ls = lancefs("ls", "-o", ob, uri, env=bundle).stdout.split()
            expect(sorted(ls) == sorted(want),
                   f"lancefs ls with AWS_CA_BUNDLE: {ls[:6]}")
            bundle["AWS_CA_BUNDLE"] = other
            r = expect_mount_fails(uri, opts, r"certificate",
                                   "another CA's AWS_CA_BUNDLE", env=bundle)
            expect(f"AWS_CA_BUNDLE={other}" in r.stderr, "a refused "
                   f"AWS_CA_BUNDLE is not named: {r.stderr.strip()!r}")
            bundle["AWS_CA_BUNDLE"] = missing
            expect_mount_fails(uri, opts, re.escape(
                f"AWS_CA_BUNDLE={missing}: No such file"),
                "missing AWS_CA_BUNDLE", env=bundle)
            ls = lancefs("ls", "-o", ob + f",ca_file={cert}", uri,
                         env=bundle).stdout.split()
            expect(sorted(ls) == sorted(want),
                   "ca_file= does not win over AWS_CA_BUNDLE")


# ------------------------------------------------------------ faults

def read_until_taken(ctl, mnt, names, rows, what):
    """Reads image.jpg of rows from `names` (consumed in order), each
    checked against LanceDB, until the armed fault has been taken."""
    while names:
        n = names.pop(0)
        if rows[n]["image"] is None:
            continue
        data = read(os.path.join(mnt, n, "image.jpg"))
        expect(sha256(data) == rows[n]["image"]["sha256"],
               f"{what}: {n}/image.jpg has wrong bytes")
        if not ctl.armed():
            return
    raise AssertionError(f"{what}: no read met the armed fault")


def retried_after(log, fault):
    """Each request that met `fault` was sent again and answered 2xx."""
    hit = [e for e in log if e["fault"] == fault]
    expect(hit, f"no request met {fault}")
    for e in hit:
        path = e["target"]
        later = [x for x in log if x["n"] > e["n"] and x["target"] == path and
                 x["method"] == e["method"] and x["status"] and
                 200 <= x["status"] < 300]
        expect(later, f"{e['method']} {path} met {fault} and was not "
               f"retried: {[(x['n'], x['method'], x['status']) for x in log if x['target'] == path]}")


def test_read_faults_retry_or_eio():
    """Through the fault proxy: 503 SlowDown, a reset and a truncated body
    mid-body, a stall past the timeout on data reads are retried and read
    the right bytes; a server that keeps failing gives EIO (never wrong
    bytes), and the same files read right once it recovers."""
    with bucket() as b, s3util.Proxy("fault", ENV) as p:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.1", "--rows", 30, "--big")
        for k in range(4):
            s3tool("append", uri, "--rows", 12, "--prefix", f"a{k}", "--big")
        rows = {r["name"]: r for r in s3tool("dump", uri)["rows"]}
        # bigger images first: they cannot all come with one request
        names = sorted(rows, key=lambda n: -(rows[n]["image"] or
                                             {"size": 0})["size"])
        ctl = p.ctl
        data_get = r"/data/[^?]+\.lance"
        with mounted(uri, "name_column=name", "timeout=2", "max_retries=4",
                     endpoint=p.endpoint) as mnt:
            ctl.clear()
            for fault, kw in (("503", {"count": 2}), ("reset", {}),
                              ("truncate", {}),
                              ("stall", {"seconds": 30})):
                ctl.arm(fault, match=data_get, method="GET", **kw)
                t0 = time.monotonic()
                read_until_taken(ctl, mnt, names, rows, fault)
                expect(time.monotonic() - t0 < 25, f"{fault}: the read "
                       "waited for the stall to end")
            log = ctl.log()
            for fault in ("503", "reset", "truncate", "stall"):
                retried_after(log, fault)
            expect(len(names) >= 6, f"only {len(names)} rows left unread")
            ctl.arm("503", match=data_get, method="GET", count=100000)
            # rows never read: a lookup, a listing and meta.json fail
            # with EIO (or work from what is cached), never ENOENT
            fresh = [n for n in names if rows[n]["image"]][:6]
            for n in fresh:
                d = os.path.join(mnt, n)
                for what, f in (("stat image.jpg", lambda: os.stat(
                                    os.path.join(d, "image.jpg"))),
                                ("ls", lambda: os.listdir(d)),
                                ("meta.json", lambda: read(
                                    os.path.join(d, "meta.json")))):
                    try:
                        got = f()
                        expect(what != "ls" or "image.jpg" in got,
                               f"{n}: ls shows {got} while the server "
                               "fails")
                    except OSError as e:
                        expect(e.errno == errno.EIO,
                               f"{n}: {what}: {e}, expected EIO")
            failed = []
            for n in names:
                if rows[n]["image"] is None:
                    continue
                t0 = time.monotonic()
                try:
                    data = read(os.path.join(mnt, n, "image.jpg"))
                    expect(sha256(data) == rows[n]["image"]["sha256"],
                           f"{n}: wrong bytes while the server fails")
                except OSError as e:
                    expect(e.errno == errno.EIO, f"{n}: {e}, expected EIO")
                    failed.append(n)
                expect(time.monotonic() - t0 < 60, f"{n}: the failing read "
                       f"took {time.monotonic() - t0:.0f} s")
            expect(failed, "no read failed while every data GET got 503")
            expect(sorted(os.listdir(mnt)) == sorted(rows),
                   "the listing changed while the server failed")
            ctl.clear()
            for n in failed:
                data = read(os.path.join(mnt, n, "image.jpg"))
                expect(sha256(data) == rows[n]["image"]["sha256"],
                       f"{n}: wrong bytes after the server recovered")
            # nothing of the failure stays: no miss the kernel remembers
            for n in fresh:
                d = os.path.join(mnt, n)
                expect("image.jpg" in os.listdir(d), f"{n}: ls after the "
                       "server recovered lacks image.jpg")
                expect(os.stat(os.path.join(d, "image.jpg")).st_size ==
                       rows[n]["image"]["size"], f"{n}: image.jpg size "
                       "after the server recovered")
                meta = json.loads(read(os.path.join(d, "meta.json")))
                expect(meta.get("label") == rows[n]["label"],
                       f"{n}/meta.json after the server recovered")


def test_lost_data_file_is_eio():
    """A data file the manifest lists that the server no longer has (404:
    removed by a cleanup, or not visible yet): on read-only and writable
    mounts, a row's image.jpg (stat, open), meta.json and listing fail
    with EIO, never ENOENT (the file is there; the kernel would also
    remember the miss); the root listing stays. Put back, the same mount
    shows every file right. Rows have canonical names, so the data file
    is first opened by these reads."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.1", "--rows", 6)
        rows = {f"{r['offset']:08d}": r for r in s3tool("dump", uri)["rows"]}
        keys = [o["Key"] for o in S3.list_objects_v2(
            Bucket=b, Prefix="db/t.lance/data/")["Contents"]]
        expect(len(keys) == 1, f"data files: {keys}")
        body = S3.get_object(Bucket=b, Key=keys[0])["Body"].read()
        for staging in (None, os.path.join(w, "staging")):
            kind = "writable" if staging else "read-only"
            S3.delete_object(Bucket=b, Key=keys[0])
            try:
                with mounted(uri, staging=staging) as mnt:
                    expect(sorted(os.listdir(mnt)) == sorted(rows),
                           f"{kind}: the mount lists {os.listdir(mnt)}")
                    for n in rows:
                        d = os.path.join(mnt, n)
                        for what, f in (
                                ("stat image.jpg", lambda: os.stat(
                                    os.path.join(d, "image.jpg"))),
                                ("open image.jpg", lambda: read(
                                    os.path.join(d, "image.jpg"))),
                                ("meta.json", lambda: read(
                                    os.path.join(d, "meta.json"))),
                                ("ls", lambda: os.listdir(d))):
                            try:
                                f()
                                raise AssertionError(
                                    f"{kind}: {n}: {what} worked without "
                                    "its data file")
                            except OSError as e:
                                expect(e.errno == errno.EIO,
                                       f"{kind}: {n}: {what}: {e}, "
                                       "expected EIO")
                    expect(sorted(os.listdir(mnt)) == sorted(rows),
                           f"{kind}: the listing changed")
                    S3.put_object(Bucket=b, Key=keys[0], Body=body)
                    for n, r in rows.items():
                        d = os.path.join(mnt, n)
                        files = os.listdir(d)
                        expect("meta.json" in files and
                               ("image.jpg" in files) == bool(r["image"]),
                               f"{kind}: {n}: ls {files} once the file is "
                               "back")
                        if r["image"]:
                            data = read(os.path.join(d, "image.jpg"))
                            expect(sha256(data) == r["image"]["sha256"],
                                   f"{kind}: {n}/image.jpg once the file "
                                   "is back")
            finally:
                S3.put_object(Bucket=b, Key=keys[0], Body=body)


def small_dataset(b, w, version, rows):
    """A dataset LanceDB makes in bucket b, its rows, and an empty folder
    in w for the row folders a test copies in."""
    uri = f"s3://{b}/db/t.lance"
    s3tool("make", uri, "--version", version, "--rows", rows)
    src = os.path.join(w, "src")
    os.makedirs(src)
    return uri, lance_rows(uri), src


def commit_phase(mnt, src, want, tag, seed):
    names = []
    for k in range(2):
        n = f"{tag}_{k:03d}"
        want[n] = sample(src, n, seed + k)
        names.append(n)
    cp("-r", *[os.path.join(src, n) for n in names], mnt)


def test_commit_faults_retry_or_stay_staged():
    """Commits through the fault proxy: 503s on data, listing and manifest
    requests are retried; a manifest PUT that landed but whose answer was
    lost (reset, or a stall past the timeout) is not committed twice; a
    server refusing every PUT leaves the rows staged and the dataset as it
    was, and `lancefs commit` lands them once it recovers."""
    with bucket() as b, workdir() as w, s3util.Proxy("fault", ENV) as p:
        uri, want, src = small_dataset(b, w, "2.2", 3)
        ctl = p.ctl
        manifest = r"/_versions/\d+\.manifest$"
        phases = [("m503", "503", manifest, "PUT", {"count": 2}),
                  ("d503", "503", r"/data/", "PUT", {"count": 2}),
                  ("l503", "503", r"list-type=2", "GET", {"count": 2}),
                  ("mreset", "reset", manifest, "PUT", {}),
                  ("mstall", "stall", manifest, "PUT",
                   {"seconds": 20, "forward": True})]
        with mounted(uri, "name_column=name", "commit_delay=0.2", "timeout=3",
                     "max_retries=4", endpoint=p.endpoint,
                     staging=os.path.join(w, "stg")) as mnt:
            for i, (tag, fault, match, method, kw) in enumerate(phases):
                ctl.clear()
                ctl.arm(fault, match=match, method=method, **kw)
                commit_phase(mnt, src, want, tag, 10 * i)
                wait_committed(mnt, 120)
                expect(not ctl.armed(), f"{tag}: the commit never met the "
                       f"fault ({ctl.armed()})")
                if fault != "reset" and fault != "stall":
                    retried_after(ctl.log(), fault)
                same_rows(lance_rows(uri), want, f"after {tag}")
            # every PUT fails: rows stay staged, the dataset is unchanged
            before = all_versions_open(uri)
            ctl.clear()
            ctl.arm("503", match=r".", method="PUT", count=100000)
            staged = dict(want)
            commit_phase(mnt, src, want, "down", 100)
            wait_for(lambda: status(mnt)["writes"]["last_error"],
                     lambda: "no commit error shown: "
                     f"{status(mnt)['writes']}", 120)
            st = status(mnt)["writes"]
            expect(st["staged_rows"] == 2, f"staged rows {st}")
            for n in ("down_000", "down_001"):
                expect(os.path.isdir(os.path.join(mnt, n)),
                       f"staged row {n} not shown")
            same_rows(lance_rows(uri), staged, "while the server fails")
            after = all_versions_open(uri)
            expect(after["latest"] == before["latest"],
                   f"a version appeared: {before['latest']} -> "
                   f"{after['latest']}")
            ctl.clear()
            lancefs("commit", mnt, timeout=180)
            wait_committed(mnt, 120)
            st = status(mnt)["writes"]
            expect(st["last_error"] is None,
                   f"the outage's error stays after a commit: {st}")
        same_rows(lance_rows(uri), want, "after the server recovered")
        all_versions_open(uri)


def test_late_manifest_lands_once():
    """A manifest PUT that times out (max_retries=0: no retry of the
    request itself) and lands just after lancefs gave up on it: the proxy
    holds it until the client hangs up, then forwards it. The commit's
    next attempt, under the same transaction, finds it: the rows are in
    LanceDB once, not a second time under a new transaction."""
    with bucket() as b, workdir() as w, s3util.Proxy("fault", ENV) as p:
        uri, want, src = small_dataset(b, w, "2.1", 2)
        with mounted(uri, "name_column=name", "commit_delay=0.2", "timeout=2",
                     "max_retries=0", endpoint=p.endpoint,
                     staging=os.path.join(w, "stg")) as mnt:
            p.ctl.clear()
            p.ctl.arm("late", match=r"/_versions/\d+\.manifest$",
                      method="PUT", after=0.2)
            commit_phase(mnt, src, want, "late", 500)
            wait_committed(mnt, 120)
            expect(not p.ctl.armed(), "the commit never met the fault")
            # the held PUT reached the server after lancefs gave up on it:
            # it landed (200), or the retry had taken its name (412)
            def held():
                late = [e for e in p.ctl.log() if e.get("fault") == "late"]
                return late and late[0].get("upstream_status")
            wait_for(held, "the held manifest PUT was never forwarded", 30)
            expect(held() in (200, 412), f"the held PUT got {held()}")
            same_rows(lance_rows(uri), want, "after the late manifest")
        same_rows(lance_rows(uri), want, "after unmount")
        all_versions_open(uri)


def test_late_manifest_after_retries_ran_out():
    """The first manifest PUT is held and lands only after the commit's
    same-transaction retries (each stalled past the timeout) have all
    run out. Its rows wait as an attempt of unknown outcome; a later
    commit of the same mount finds the late version by the transaction
    id and settles them: LanceDB holds them once, in one new version."""
    manifest = r"/_versions/\d+\.manifest$"
    with bucket() as b, workdir() as w, s3util.Proxy("fault", ENV) as p:
        uri, want, src = small_dataset(b, w, "2.1", 2)
        before = s3tool("dump", uri)["latest"]
        with mounted(uri, "name_column=name", "commit_delay=0.2", "timeout=2",
                     "max_retries=0", endpoint=p.endpoint,
                     staging=os.path.join(w, "stg")) as mnt:
            p.ctl.clear()
            p.ctl.arm("late", match=manifest, method="PUT", after=20)
            p.ctl.arm("stall", match=manifest, method="PUT", count=100,
                      seconds=3)

            def log(fault):
                return [e for e in p.ctl.log() if e.get("fault") == fault]
            commit_phase(mnt, src, want, "held", 800)
            # the first attempt's four retries all went unanswered
            wait_for(lambda: len(log("stall")) >= 5,
                     "the commit did not retry past its first attempt", 90)
            expect(not log("late")[0].get("upstream_status"),
                   "the held PUT landed before the retries ran out")
            # its rows may have landed as they were: no change to them
            # until that is known (it would be lost if they had)
            for what, change in (
                    ("a new file", lambda: write(os.path.join(
                        mnt, "held_000", "caption.txt"), b"later")),
                    ("rm -r", lambda: shutil.rmtree(
                        os.path.join(mnt, "held_001")))):
                try:
                    change()
                    raise AssertionError(f"{what} in a pending row taken")
                except OSError as e:
                    expect(e.errno == errno.EBUSY,
                           f"{what} in a pending row: {e}")
            wait_for(lambda: log("late")[0].get("upstream_status"),
                     "the held manifest PUT was never forwarded", 60)
            expect(log("late")[0]["upstream_status"] == 200,
                   f"the held PUT got {log('late')[0]['upstream_status']}")
            wait_committed(mnt, 120)
            p.ctl.clear()
            same_rows(lance_rows(uri), want, "after the late manifest")
            latest = s3tool("dump", uri)["latest"]
            expect(latest == before + 1,
                   f"versions {before} -> {latest}: the rows were "
                   f"committed again")
            expect(status(mnt)["writes"]["last_version"] == latest,
                   f"status: {status(mnt)['writes']}")
        same_rows(lance_rows(uri), want, "after unmount")
        all_versions_open(uri)


def test_crash_late_manifest_lands_once():
    """The daemon is killed (kill -9) while the proxy holds its manifest
    PUT. The next mount does not find that transaction and commits the
    rows again at once, but the proxy stalls that commit's data upload,
    so the held PUT lands first. The commit's own manifest PUT then
    finds the version taken, by its own transaction: LanceDB holds the
    rows once, not a second time under a new transaction."""
    manifest = r"/_versions/\d+\.manifest$"
    with bucket() as b, workdir() as w, s3util.Proxy("fault", ENV) as p:
        uri, want, src = small_dataset(b, w, "2.1", 2)
        opts = ",".join(s3_opts(p.endpoint) + [
            "name_column=name", "commit_delay=0.2", "timeout=60",
            f"staging_dir={os.path.join(w, 'stg')}"])
        mnt = tempfile.mkdtemp(prefix=MNT_PREFIX)
        try:
            lancefs("mount", "-o", opts, uri, mnt)
            pid = status(mnt)["pid"]
            p.ctl.clear()
            p.ctl.arm("late", match=manifest, method="PUT", after=4)
            commit_phase(mnt, src, want, "crash", 700)
            wait_for(lambda: not p.ctl.armed(),
                     "the commit never sent its manifest", 60)
            os.kill(pid, 9)
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
            p.ctl.arm("stall", match=r"/data/", method="PUT", seconds=10)
            lancefs("mount", "-o", opts, uri, mnt)
            wait_committed(mnt, 120)

            def puts(fault):
                return [e for e in p.ctl.log() if e.get("fault") == fault]
            expect(puts("late") and puts("late")[0].get(
                       "upstream_status") == 200,
                   f"the held manifest PUT did not land first: {puts('late')}")
            expect(puts("stall"), "the next mount's commit sent no data")
            same_rows(lance_rows(uri), want, "after the late manifest")
        finally:
            r = unmount(mnt)
            with contextlib.suppress(OSError):
                os.rmdir(mnt)
        expect(r.returncode == 0, f"lancefs umount: {r.stderr.strip()}")
        same_rows(lance_rows(uri), want, "after unmount")
        all_versions_open(uri)


# ------------------------------------------------------------ OSS

def test_oss_virtual_hosted_and_forbid_overwrite():
    """oss:// through a proxy that answers as Alibaba OSS does: every
    request is virtual-hosted, ranged reads ask for standard range
    behaviour and read LanceDB's bytes; commits use
    x-oss-forbid-overwrite (never If-None-Match) and LanceDB, appending
    at the same time straight to the server, loses nothing."""
    with bucket() as b, workdir() as w, s3util.Proxy("oss", ENV) as p:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.1", "--rows", 12, "--big")
        dump = s3tool("dump", uri)
        want = lance_rows(uri)
        src = os.path.join(w, "src")
        os.makedirs(src)
        endpoint = f"http://localhost:{p.port}"
        with mounted(f"oss://{b}/db/t.lance", "name_column=name",
                     "commit_delay=0.2", endpoint=endpoint,
                     staging=os.path.join(w, "stg")) as mnt:
            check_named_view(mnt, dump, "oss:// read")
            start = int(time.time() * 1000) + 6000
            env = dict(os.environ, S3_ENDPOINT=ENV["S3_ENDPOINT"],
                       S3_ACCESS_KEY=ENV["S3_ACCESS_KEY"],
                       S3_SECRET_KEY=ENV["S3_SECRET_KEY"],
                       S3_REGION=ENV["S3_REGION"])
            ldb = subprocess.Popen(
                ["node", os.path.join(INTEROP, "s3tool.js"), "race", uri,
                 "--prefix", "ldb", "--count", "5", "--label", "7000",
                 "--gap", "200", "--at", str(start)], cwd=INTEROP, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(5):
                want["ldb_%03d" % i] = {"image": sha256(image_bytes(7000 + i)),
                                        "caption": None, "label": 7000 + i,
                                        "score": None}
            time.sleep(max(0, start / 1000 - time.time()))
            for k in range(4):
                commit_phase(mnt, src, want, f"oss{k}", 300 + 10 * k)
                time.sleep(0.3)
            wait_committed(mnt, 120)
            out, err = ldb.communicate(timeout=300)
            expect(ldb.returncode == 0, f"LanceDB appender: {err[-1000:]}")
        same_rows(lance_rows(uri), want, "oss:// commits next to LanceDB")
        all_versions_open(uri)
        log = p.ctl.log()
        refused = [e for e in log if e["status"] in (403, 501)]
        expect(not refused, f"requests OSS refuses: "
               f"{[(e['method'], e['target'], e['status']) for e in refused[:5]]}")
        ranged = [e for e in log if e["method"] == "GET" and
                  "range" in e["headers"]]
        expect(ranged, "no ranged GET")
        expect(all(e["headers"].get("x-oss-range-behavior") == "standard"
                   for e in ranged), "a ranged GET without "
               "x-oss-range-behavior: standard")
        mputs = [e for e in log if e["method"] == "PUT" and
                 re.search(r"/_versions/\d+\.manifest$", e["target"])]
        expect(mputs, "no manifest PUT through the proxy")
        expect(all(e["headers"].get("x-oss-forbid-overwrite") == "true"
                   for e in mputs), "a manifest PUT without "
               "x-oss-forbid-overwrite: true")


# ------------------------------------------------------------ cache

def test_cache_dir_serves_second_mount():
    """A fresh mount with the cache_dir= of an earlier one reads every file
    with the same bytes and sends no data-file GET (counted by a logging
    proxy)."""
    with bucket() as b, workdir() as w, s3util.Proxy("fault", ENV) as p:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.2", "--rows", 24, "--big")
        s3tool("append", uri, "--rows", 10, "--prefix", "b", "--big")
        cache = os.path.join(w, "cache")
        opts = (f"cache_dir={cache}", "cache_size=1G")
        with mounted(uri, *opts, endpoint=p.endpoint) as mnt:
            first = tree(mnt)
        cold = [e for e in p.ctl.log() if e["method"] == "GET" and
                "/data/" in e["target"]]
        expect(cold, "the first mount read no data file")
        p.ctl.clear()
        with mounted(uri, *opts, endpoint=p.endpoint) as mnt:
            second = tree(mnt)
        same_tree(second, first, "second mount")
        warm = [e for e in p.ctl.log() if e["method"] == "GET" and
                "/data/" in e["target"]]
        expect(not warm, f"{len(warm)} data GETs with a warm cache_dir "
               f"({len(cold)} cold)")


def walk_stat(mnt):
    """relative path -> ("d",) or ("f", size), by listing and stat alone."""
    out = {}
    for dirpath, dirs, files in os.walk(mnt):
        rel = os.path.relpath(dirpath, mnt)
        for n in dirs + files:
            st = os.stat(os.path.join(dirpath, n))
            out[os.path.normpath(os.path.join(rel, n))] = (
                ("d",) if n in dirs else ("f", st.st_size))
    return out


def test_walk_of_a_later_mount_reads_no_images():
    """A file's name carries its type, sniffed from the value's first
    bytes. A later mount with the same cache_dir= knows the types the
    first one learned (cache_dir/kinds): walking it (ls -lR, os.walk and
    stat) shows the same tree and reads under a tenth of the image bytes
    from the cache, where sniffing again reads a block of every image."""
    with bucket() as b, workdir() as w:
        uri = f"s3://{b}/db/t.lance"
        s3tool("bench", uri, "--version", "2.0", "--rows", 60)
        cache = os.path.join(w, "cache")
        opts = (f"cache_dir={cache}",)
        with mounted(uri, *opts) as mnt:
            first = tree(mnt)
        images = sum(v[1] for k, v in first.items()
                     if v[0] == "f" and not k.endswith("meta.json"))
        want = {k: v[:2] for k, v in first.items()}
        walked = {}
        for kinds in (True, False):
            if not kinds:
                shutil.rmtree(os.path.join(cache, "kinds"))
            with mounted(uri, *opts) as mnt:
                walked[kinds] = walk_stat(mnt)
                read = status(mnt)["store"]["disk_hits"]
            same_tree(walked[kinds], want, f"a walk (kinds {kinds})")
            if kinds:
                expect(read * 10 < images, f"a walk read {read} bytes "
                       f"of the cache for {images} bytes of images")
            else:
                expect(read * 10 >= images, f"without cache_dir/kinds a "
                       f"walk read only {read} of {images} bytes: the "
                       "check above proves nothing")


def data_gets(p):
    return [e for e in p.ctl.log() if e["method"] == "GET" and
            "/data/" in e["target"]]


def test_warmup_fills_cache_dir():
    """lancefs warmup --wait on a writable mount, and -o warmup on a
    read-only one, put every data file of the version in cache_dir=
    before anything is read: afterwards reading every file sends no
    data-file GET and gives LanceDB's bytes; a read-only mount refuses
    the command and says to use -o warmup."""
    with bucket() as b, workdir() as w, s3util.Proxy("fault", ENV) as p:
        uri = f"s3://{b}/db/t.lance"
        s3tool("make", uri, "--version", "2.1", "--rows", 20, "--big")
        dump = s3tool("dump", uri)
        cache = os.path.join(w, "cache")
        opts = (f"cache_dir={cache}", "name_column=name")
        with mounted(uri, *opts, endpoint=p.endpoint,
                     staging=os.path.join(w, "stg")) as mnt:
            r = lancefs("warmup", "--wait", mnt)
            st = status(mnt)["store"]
            expect(st["warm_pending"] == 0 and st["warm_total"] > 0 and
                   st["warm_done"] == st["warm_total"],
                   f"after warmup --wait: {st}")
            expect(f"{st['warm_total']} of {st['warm_total']} bytes" in
                   r.stdout, f"warmup printed {r.stdout!r}")
            expect(data_gets(p), "warmup fetched no data file")
            p.ctl.clear()
            check_named_view(mnt, dump, "after warmup")
            expect(not data_gets(p), f"{len(data_gets(p))} data GETs "
                   "after warmup")
        with mounted(uri, f"cache_dir={os.path.join(w, 'c2')}",
                     "name_column=name", "warmup",
                     endpoint=p.endpoint) as mnt:
            wait_for(lambda: status(mnt)["store"]["warm_total"] > 0 and
                     status(mnt)["store"]["warm_pending"] == 0,
                     lambda: "-o warmup never finished: "
                     f"{status(mnt)['store']}")
            p.ctl.clear()
            check_named_view(mnt, dump, "after -o warmup")
            expect(not data_gets(p), f"{len(data_gets(p))} data GETs "
                   "after -o warmup")
            r = lancefs("warmup", mnt, check=False)
            expect(r.returncode == 1 and "-o warmup" in r.stderr,
                   f"warmup of a read-only mount: {r.returncode} "
                   f"{r.stderr.strip()}")


TESTS = ([lambda v=v: read_every_version(v) for v in STORAGE_VERSIONS] +
         [lambda v=v: edit_cycle(v) for v in WRITE_VERSIONS] +
         [test_database_mount, test_two_mounts_and_lancedb_race,
          test_errors_are_clear_and_quick, test_https_ca_file,
          test_read_faults_retry_or_eio, test_lost_data_file_is_eio,
          test_commit_faults_retry_or_stay_staged,
          test_late_manifest_lands_once,
          test_late_manifest_after_retries_ran_out,
          test_crash_late_manifest_lands_once,
          test_oss_virtual_hosted_and_forbid_overwrite,
          test_cache_dir_serves_second_mount,
          test_walk_of_a_later_mount_reads_no_images,
          test_warmup_fills_cache_dir])
NAMES = ([f"test_read_every_version_{v.replace('.', '_')}"
          for v in STORAGE_VERSIONS] +
         [f"test_edit_cycle_{v.replace('.', '_')}" for v in WRITE_VERSIONS])
for t, n in zip(TESTS, NAMES):
    t.__name__ = n


def kill_our_daemons():
    """SIGKILL the lancefs daemons of this run's mount points (a hung
    daemon blocks the test in a read forever) and detach the mounts."""
    base = os.path.join(tempfile.gettempdir(), MNT_PREFIX)
    with open("/proc/mounts") as f:
        mnts = [ln.split()[1] for ln in f if ln.split()[1].startswith(base)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[0].endswith("lancefs") and \
                "mount" in argv and any(m in argv for m in mnts):
            with contextlib.suppress(OSError):
                os.kill(int(pid), 9)
    for m in mnts:
        subprocess.run(["fusermount3", "-uz", m], capture_output=True)
    return mnts


def watchdog(name, done):
    if not done.wait(TEST_TIMEOUT):
        mnts = kill_our_daemons()
        print(f"WATCHDOG {name}: still running after {TEST_TIMEOUT} s; "
              f"killed the daemons of {mnts}", flush=True)


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
        done = threading.Event()
        threading.Thread(target=watchdog, args=(t.__name__, done),
                         daemon=True).start()
        try:
            t()
            passed += 1
            print(f"PASS {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            done.set()
    print(f"{passed} passed, {failed} failed")
    shutil.rmtree(STATE, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
