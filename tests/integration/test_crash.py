#!/usr/bin/python3
"""The write path under kill -9 and concurrent writers, checked by LanceDB.

    test_crash.py LANCEFS INTEROP_SRC_DIR

Run with Debian's own python3. Every check reads the dataset back through
LanceDB (tests/interop/crash_lancedb.js). Ends with "N passed, M failed"
and exits 1 on any failure.

Environment:
  CRASH_SEED    seed of every random choice (sizes, bytes, kill moments);
                printed, so a failure reproduces with the same value
  CRASH_ROUNDS  kill -9 rounds of test_kill_during_cp (default 5)
  ONLY          run only the tests whose name contains it
  KEEP          keep the temporary folder (its path is printed)

What "finished" means: cp -v prints a file's line *before* copying it
(coreutils copy_internal calls emit_verbose before copy_reg), so a printed
line only says the copy started. A file counts as finished when cp printed
it and cp's stderr does not name it: once the daemon is dead every later
open, write or close (FUSE FLUSH) fails and cp reports that file. A row
folder is finished when both of its files are. Those rows were closed by
cp before the kill, so the next mount must commit them (WRITES.md: nothing
a user copied in and closed is ever lost, nothing is committed twice).
"""
import collections
import contextlib
import errno
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import with_io_uring

LANCEFS, INTEROP = (os.path.abspath(a) for a in sys.argv[1:3])
SEED = int(os.environ.get("CRASH_SEED", "20261121"))
ROUNDS = int(os.environ.get("CRASH_ROUNDS", "5"))
ROWS_PER_ROUND = 300
TMP = None			# the test's temporary folder (main sets it)
STARTED = set()			# daemon pids this test saw start
MOUNTS = {}			# mount point -> the pid of its last daemon


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def lancefs(*args, check=True, timeout=60):
    r = subprocess.run([LANCEFS, *args], capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode:
        raise AssertionError(f"lancefs {' '.join(args)}: exit "
                             f"{r.returncode}: {r.stderr.strip()}")
    return r


def lancedb(*args, timeout=300):
    """crash_lancedb.js; returns its parsed JSON output (rows) or text."""
    r = subprocess.run(["node", os.path.join(INTEROP, "crash_lancedb.js"),
                        *args], cwd=INTEROP, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        raise AssertionError(f"crash_lancedb.js {' '.join(args)}: exit "
                             f"{r.returncode}: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout) if args[0] == "rows" else r.stdout


def daemon_pid(mnt):
    """The daemon's pid: .lancefs/status "pid", else pgrep."""
    try:
        with open(os.path.join(mnt, ".lancefs", "status")) as f:
            pid = json.load(f).get("pid")
        if pid:
            return int(pid)
    except (OSError, ValueError):
        pass
    out = subprocess.run(["pgrep", "-f", f"lancefs mount .*{mnt}$"],
                         capture_output=True, text=True).stdout.split()
    expect(len(out) == 1, f"daemon of {mnt}: pgrep found {out}")
    return int(out[0])


def mount(uri, mnt, *opts):
    lancefs("mount", "-o", ",".join(opts), uri, mnt)
    why = with_io_uring.not_through_ring(mnt)
    expect(why is None, why)
    pid = daemon_pid(mnt)
    MOUNTS[mnt] = pid
    STARTED.add(pid)
    return pid


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for init to reap it is dead for our purpose, once
    # its other threads are gone too: they hold its descriptors (the
    # staging lock) until then (lc_pid_running)
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0] != "Z" or int(fields[17]) > 1
    except (OSError, IndexError, ValueError):
        return False


def kill9(pid):
    os.kill(pid, signal.SIGKILL)
    for _ in range(500):
        if not alive(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"daemon {pid} survived kill -9 for 5 s")


def umount(mnt, timeout=300):
    """lancefs umount: commits, unmounts and waits for the daemon."""
    r = lancefs("umount", mnt, check=False, timeout=timeout)
    expect(r.returncode == 0, f"lancefs umount {mnt}: exit {r.returncode}: "
           f"{r.stderr.strip()}")
    expect(not os.path.ismount(mnt), f"{mnt} still mounted after umount")


def mounted(mnt):
    """From the mount table: a stat of a dead mount can hang."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


def abort_connection(mnt):
    """Abort the FUSE connection of MNT through fusectl (mounting it if
    needed): what releases processes a dead mount left hanging."""
    minor = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == mnt:
                minor = fields[2].split(":")[1]
    conns = "/sys/fs/fuse/connections"
    if minor is None or not os.path.isdir(conns):
        return
    if not os.listdir(conns):
        subprocess.run(["mount", "-t", "fusectl", "none", conns],
                       capture_output=True)
    with contextlib.suppress(OSError):
        with open(os.path.join(conns, minor, "abort"), "w") as f:
            f.write("1")


def cleanup():
    for mnt, pid in MOUNTS.items():
        if not mounted(mnt):
            continue
        if not alive(pid):
            abort_connection(mnt)
        lancefs("umount", mnt, check=False, timeout=120)
        subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
    for pid in STARTED:
        if alive(pid):
            print(f"  cleanup: daemon {pid} still running, killing it")
            os.kill(pid, signal.SIGKILL)
    MOUNTS.clear()
    STARTED.clear()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def jpeg_like(rng, lo=20_000, hi=60_000):
    """Pseudo-random bytes behind a JPEG signature (never decoded)."""
    n = rng.randint(lo, hi)
    return b"\xff\xd8\xff\xe0" + rng.randbytes(n - 6) + b"\xff\xd9"


def lancedb_image(label):
    """crash_lancedb.js imageBytes(label), for the rows LanceDB writes."""
    n = 3000 + label % 5000
    x = (label * 2654435761 + 1) % 2**32
    b = bytearray(n)
    for i in range(n):
        x = (x * 1103515245 + 12345) % 2**32
        b[i] = x >> 24
    b[0:3] = b"\xff\xd8\xff"
    return bytes(b)


def workspace(name, dataset):
    """TMP/NAME with a db/ folder for DATASET, a staging folder and a
    mount point: (base, uri, staging, mnt)."""
    base = os.path.join(TMP, name)
    uri = os.path.join(base, "db", dataset)
    staging = os.path.join(base, "staging")
    mnt = os.path.join(base, "mnt")
    os.makedirs(mnt)
    os.makedirs(os.path.dirname(uri))
    return base, uri, staging, mnt


def make_sources(root, prefix, n, rng, label0):
    """n row folders PREFIX_000.. with image.jpg and meta.json
    {"label": label0 + i}; returns name -> {sha256, size, label}."""
    os.makedirs(root)
    want = {}
    for i in range(n):
        name = f"{prefix}_{i:03d}"
        d = os.path.join(root, name)
        os.mkdir(d)
        img = jpeg_like(rng)
        with open(os.path.join(d, "image.jpg"), "wb") as f:
            f.write(img)
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"label": label0 + i}, f)
        want[name] = {"sha256": sha(img), "size": len(img),
                      "label": label0 + i}
    return want


def cp_finished(src, out, err):
    """Row folders of SRC whose every file cp -v printed and its stderr
    does not name (see the module docstring)."""
    printed = collections.defaultdict(set)
    for line in out.splitlines():
        m = re.match(r"^'([^']*)' -> '([^']*)'$", line)
        if not m:
            continue
        rel = os.path.relpath(m.group(1), src)
        if "/" in rel:
            row, f = rel.split("/", 1)
            printed[row].add(f)
    done = set()
    for row, files in printed.items():
        if files != {"image.jpg", "meta.json"}:
            continue
        if re.search(re.escape(row) + r"['/]", err):
            continue
        done.add(row)
    return done


def put_row(mnt, name, img, label):
    """A row folder made through the mount: image.jpg and meta.json."""
    os.mkdir(os.path.join(mnt, name))
    with open(os.path.join(mnt, name, "image.jpg"), "wb") as f:
        f.write(img)
    with open(os.path.join(mnt, name, "meta.json"), "w") as f:
        f.write(json.dumps({"label": label}))


def committed_by_next_mount(uri, mnt, opts):
    """What LanceDB reads (every version checked) once a mount after a
    kill -9 (its dead mount cleared) has committed what was left."""
    umount(mnt)
    mount(uri, mnt, *opts)
    umount(mnt)
    return lancedb("rows", uri, "--versions")


def staged_leftovers(staging):
    return [os.path.join(dp, f) for dp, _, fs in os.walk(staging)
            for f in fs if f in ("image.jpg", "meta.json")]


def check_rows(got, want, required, allowed_extra=(), where=""):
    """got: crash_lancedb.js rows output. want: name -> {sha256, size,
    label} (or a list of such: any one may match, None = that value may
    be null). required: names that must be present with exactly want's
    values. Every row present must be a name of `want` (or
    allowed_extra), at most once, and its image and label either null or
    exactly a wanted value: never a truncated image."""
    counts = collections.Counter(r["name"] for r in got["rows"])
    dups = sorted(n for n, c in counts.items() if c > 1)
    expect(not dups, f"{where}: rows present more than once: {dups[:10]} "
           f"({len(dups)} names)")
    by_name = {r["name"]: r for r in got["rows"]}
    missing = sorted(n for n in required if n not in by_name)
    expect(not missing, f"{where}: {len(missing)} rows cp finished before "
           f"the kill are missing: {missing[:10]}")
    problems = []
    for name, r in by_name.items():
        if name in allowed_extra:
            continue
        if name not in want:
            problems.append(f"{name}: a row nobody wrote")
            continue
        options = want[name] if isinstance(want[name], list) else \
            [want[name]]
        if name in required:
            ok = [w for w in options if w is not None and
                  r["sha256"] == w["sha256"] and r["label"] == w["label"]]
            if not ok:
                problems.append(f"{name}: image {r['size']} B "
                                f"{(r['sha256'] or 'null')[:12]}, label "
                                f"{r['label']}; expected "
                                f"{options[0]['size']} B "
                                f"{options[0]['sha256'][:12]}, label "
                                f"{options[0]['label']}")
            continue
        shas = {w["sha256"] if w else None for w in options} | {None}
        labels = {w["label"] if w else None for w in options} | {None}
        if r["sha256"] not in shas:
            sizes = sorted(w["size"] for w in options if w)
            problems.append(f"{name}: image of {r['size']} B matches no "
                            f"file written ({sizes} B): truncated or mixed")
        if r["label"] not in labels:
            problems.append(f"{name}: label {r['label']} was never written")
    expect(not problems, f"{where}: {len(problems)} bad rows: " +
           "; ".join(problems[:8]))
    return by_name


class Cp:
    """cp -rv SRC/* MNT/ (the shell's sorted glob) in the background; its
    output goes to files, not pipes, so a full pipe never stalls it."""

    def __init__(self, src, mnt, tag):
        self.out_path = os.path.join(TMP, f"cp-{tag}.out")
        self.err_path = os.path.join(TMP, f"cp-{tag}.err")
        with open(self.out_path, "w") as out, \
                open(self.err_path, "w") as err:
            self.p = subprocess.Popen(["cp", "-rv",
                                       *sorted(glob.glob(src + "/*")),
                                       mnt + "/"], stdout=out, stderr=err)

    def wait(self, timeout=600):
        """(exit status, stdout, stderr)"""
        self.p.wait(timeout=timeout)
        with open(self.out_path) as out, open(self.err_path) as err:
            return self.p.returncode, out.read(), err.read()


# ------------------------------------------------------------------ tests

def test_crash_before_first_commit():
    """A new dataset URI (its folder does not exist; its parent must): one
    row written and closed, a second row's image left half-written and
    open, kill -9 before any commit. The next mount with the same
    staging_dir commits the closed row exactly once; the half-written
    image is dropped, and its row (whose copy the crash cut) is held:
    listed in the mount, named in .lancefs/errors, not committed, until
    a file in it is written again or touched (lancefs(1), "Staging and
    crashes"); after `touch` it commits without the image."""
    rng = random.Random(SEED)
    base, uri, staging, mnt = workspace("first", "new.lance")
    img, half = jpeg_like(rng), jpeg_like(rng)
    opts = (f"staging_dir={staging}", "commit_delay=600")
    pid = mount(uri, mnt, *opts)
    put_row(mnt, "done", img, 7)
    os.mkdir(os.path.join(mnt, "torn"))
    with open(os.path.join(mnt, "torn", "meta.json"), "w") as f:
        f.write('{"label": 8}')
    torn = open(os.path.join(mnt, "torn", "image.jpg"), "wb")
    torn.write(half[:len(half) // 2])
    torn.flush()
    expect(not os.path.exists(os.path.join(uri, "_versions")),
           "committed although commit_delay=600")
    kill9(pid)
    with contextlib.suppress(OSError):
        torn.close()
    umount(mnt)
    mount(uri, mnt, *opts)
    names = sorted(os.listdir(mnt))
    expect("done" in names and "torn" in names,
           f"after remount the mount lists {names}")
    with open(os.path.join(mnt, ".lancefs", "errors")) as f:
        errors = f.read()
    expect("torn" in errors, f"the held row is not named: {errors!r}")
    umount(mnt)
    got = lancedb("rows", uri, "--versions")
    expect(not got.get("missing"), "no dataset after remount and umount")
    want = {"done": {"sha256": sha(img), "size": len(img), "label": 7}}
    check_rows(got, want, {"done"}, where="first commit")
    expect({"name", "image", "label"} <= set(got["columns"]),
           f"inferred columns {got['columns']}")
    expect("torn" not in {r["name"] for r in got["rows"]},
           "torn: committed although its copy was cut by the crash")
    # the user looks at it and decides it is fine as it is
    mount(uri, mnt, *opts)
    expect("torn" in os.listdir(mnt), "the held row is not listed")
    subprocess.run(["touch", os.path.join(mnt, "torn", "meta.json")],
                   check=True)
    umount(mnt)
    got = lancedb("rows", uri, "--versions")
    torn = [r for r in got["rows"] if r["name"] == "torn"]
    expect(len(torn) == 1 and torn[0]["sha256"] is None and
           torn[0]["label"] == 8,
           f"torn after touch: {torn} (want once, no image, label 8)")
    left = staged_leftovers(staging)
    expect(not left, f"staging still holds {left[:3]} after umount")


def test_kill_during_cp():
    """A new dataset, first filled by one uninterrupted cp -r (which also
    times the copy), then CRASH_ROUNDS rounds of: cp -rv of 300 fresh
    row folders (names rN_000.., never colliding) with kill -9 of the
    daemon at a random moment: 70 % of draws uniform over the copy's
    expected duration, the rest between its end and the end of the
    commits that would follow it; clear the dead mount, remount with
    the same staging_dir, umount (commits and waits), and check with
    LanceDB. A last round copies round 0's names again with new bytes and
    labels (cp onto committed rows = updates) and is killed the same way:
    finished rows then hold the new values, others old or new, never a
    mix inside one file, never twice."""
    rng = random.Random(SEED + 1)
    base, uri, staging, mnt = workspace("kill", "photos.lance")
    opts = (f"staging_dir={staging}", "commit_delay=0.3")
    want, required = {}, set()

    # the dataset, made by a copy nobody interrupts; its time sets the
    # window the kills are drawn from
    src = os.path.join(base, "src_c")
    want.update(make_sources(src, "c", ROWS_PER_ROUND, rng, 100000))
    mount(uri, mnt, *opts)
    t0 = time.time()
    rc, out, err = Cp(src, mnt, "c").wait()
    t_cp = time.time() - t0
    expect(rc == 0, f"uninterrupted cp: exit {rc}: {err[:500]}")
    t0 = time.time()
    umount(mnt)
    t_umount = time.time() - t0
    required |= set(want)
    got = lancedb("rows", uri)
    check_rows(got, want, required, where="uninterrupted cp")
    print(f"  seed {SEED}: cp -r of {ROWS_PER_ROUND} folders {t_cp:.2f} s,"
          f" umount {t_umount:.2f} s, version {got['latest']}")
    # most kills land while cp runs, the rest in the quiet period and the
    # commits after it (each draw is printed)
    after = t_cp + 0.3 + 1.0 + t_umount

    rounds = [(r, f"r{r}") for r in range(ROUNDS)] + [(ROUNDS, "update")]
    for r, kind in rounds:
        if kind == "update":
            # round 0's names again, new bytes and labels
            src = os.path.join(base, "src_update")
            new = make_sources(src, "r0", ROWS_PER_ROUND, rng, 50000)
            before = {row["name"]: row for row in lancedb("rows",
                                                          uri)["rows"]}
            for name, w in new.items():
                old = before.get(name)
                prev = {"sha256": old["sha256"], "size": old["size"],
                        "label": old["label"]} if old else None
                want[name] = [w, prev]
                required.discard(name)
        else:
            src = os.path.join(base, f"src_{r}")
            new = make_sources(src, f"r{r}", ROWS_PER_ROUND, rng,
                               1000 * (r + 1))
            want.update(new)
        if rng.random() < 0.7:
            t_kill = rng.uniform(0.02, t_cp)
        else:
            t_kill = rng.uniform(t_cp, after)
        pid = mount(uri, mnt, *opts)
        t0 = time.time()
        cp = Cp(src, mnt, str(r))
        time.sleep(max(0.0, t0 + t_kill - time.time()))
        cp_done = cp.p.poll() is not None
        kill9(pid)
        _, out, err = cp.wait()
        done = cp_finished(src, out, err)
        umount(mnt)			# the dead mount
        mount(uri, mnt, *opts)
        listed = set(os.listdir(mnt))
        lost = sorted(done - listed)
        umount(mnt)
        got = lancedb("rows", uri)
        print(f"  round {r} ({kind}): kill at {t_kill:.2f} s "
              f"({'after' if cp_done else 'during'} cp), {len(done)} of "
              f"{ROWS_PER_ROUND} folders finished, {len(got['rows'])} "
              f"rows, version {got['latest']}, "
              f"{len(staged_leftovers(staging))} files left staged")
        expect(not lost, f"round {r}: after remount {len(lost)} finished "
               f"folders are not listed: {lost[:10]}")
        for name in done:
            if kind == "update":
                want[name] = new[name]
        required |= done
        check_rows(got, want, required, where=f"round {r} ({kind})")
        if kind == "update":
            # an update never loses the row it rewrites
            gone = sorted(n for n in new if before.get(n) and n not in
                          {row["name"] for row in got["rows"]})
            expect(not gone, f"update round: rows deleted: {gone[:10]}")
    # rows still staged (a row whose file was cut by the kill may wait
    # for the user) must never be committed a second time: one more
    # mount and umount, then every version
    mount(uri, mnt, *opts)
    umount(mnt)
    got = lancedb("rows", uri, "--versions")
    check_rows(got, want, required, where="every version")
    for v in got["versions"]:
        dups = [n for n, c in collections.Counter(v["names"]).items()
                if c > 1]
        expect(not dups, f"version {v['version']}: {dups[:5]} twice")


def test_kill_during_commit():
    """Rows closed and complete, committed by `lancefs commit` (no quiet
    period: commit_delay=600), and the daemon killed while that commit
    runs: round 0 times the commit (on a new dataset), then 8 rounds kill
    at a random moment in its second half or just after it (where the
    manifest may be written but the staging not yet cleared). Whether the version landed or not, the
    next mount must end with every row exactly once (the staging batch
    record tells recovery whether its transaction is in the dataset)."""
    rng = random.Random(SEED + 3)
    base, uri, staging, mnt = workspace("commit", "k.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    want = {}
    t_commit = None
    for r in range(9):
        src = os.path.join(base, f"src_{r}")
        want.update(make_sources(src, f"k{r}", ROWS_PER_ROUND, rng,
                                 10000 * (r + 1)))
        pid = mount(uri, mnt, *opts)
        rc, _, err = Cp(src, mnt, f"k{r}").wait()
        expect(rc == 0, f"round {r}: cp: exit {rc}: {err[:300]}")
        t0 = time.time()
        commit = subprocess.Popen([LANCEFS, "commit", mnt],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        if t_commit is None:
            out, err = commit.communicate(timeout=300)
            t_commit = time.time() - t0
            expect(commit.returncode == 0, f"lancefs commit: exit "
                   f"{commit.returncode}: {err.strip()}")
            t_kill = t_commit
        else:
            t_kill = rng.uniform(0.4 * t_commit, 1.1 * t_commit)
            time.sleep(max(0.0, t0 + t_kill - time.time()))
        kill9(pid)
        out, err = commit.communicate(timeout=120)
        said = (out.strip() or err.strip().split(": ")[-1])[:60]
        landed = len(glob.glob(os.path.join(uri, "_versions",
                                            "*.manifest")))
        umount(mnt)			# the dead mount
        mount(uri, mnt, *opts)
        umount(mnt)
        got = lancedb("rows", uri)
        print(f"  round {r}: commit takes {t_commit:.2f} s, kill at "
              f"{t_kill:.2f} s (lancefs commit said {said!r}; "
              f"{landed} versions at the kill), {len(got['rows'])} rows, "
              f"version {got['latest']}")
        check_rows(got, want, set(want), where=f"kill during commit {r}")
    got = lancedb("rows", uri, "--versions")
    for v in got["versions"]:
        dups = [n for n, c in collections.Counter(v["names"]).items()
                if c > 1]
        expect(not dups, f"version {v['version']}: {dups[:5]} twice")


# Looks up new names in a folder until the mount fails (prints the errno).
PROBE = """
import os, sys
i = 0
while True:
    i += 1
    try:
        os.stat(os.path.join(sys.argv[1], "probe_%d_%d" % (os.getpid(), i)))
    except FileNotFoundError:
        pass
    except OSError as e:
        print(e.errno)
        sys.exit(0)
"""


def test_kill_with_lookups_in_flight():
    """kill -9 while a commit's new version lands and other processes keep
    looking names up in the mount's root (what readers of a dataset do).
    Every process using the mount must get an error at once: nobody may
    hang on the dead mount. (Telling the kernel to drop a changed name,
    FUSE_NOTIFY_INVAL_ENTRY, waits for the folder's lock, which a lookup
    in flight holds; a kill then left an unkillable thread, the device
    open and every user hanging: 6 rounds of 8 hung that way.) Each round
    kills at a random moment in the 0.2 s after the commit's manifest
    appears (when the mount tells the kernel); every other round runs the
    daemon with LANCEFS_NO_EPOCH=1, as on a kernel before 6.16. The next
    mount must hold every row once."""
    rng = random.Random(SEED + 7)
    base, uri, staging, mnt = workspace("lookups", "p.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    versions = os.path.join(uri, "_versions")
    want, hung = {}, []
    for r in range(ROUNDS):
        src = os.path.join(base, f"src_{r}")
        want.update(make_sources(src, f"p{r}", 200, rng, 50000 * (r + 1)))
        if r % 2:
            os.environ["LANCEFS_NO_EPOCH"] = "1"
        try:
            pid = mount(uri, mnt, *opts)
        finally:
            os.environ.pop("LANCEFS_NO_EPOCH", None)
        rc, _, err = Cp(src, mnt, f"p{r}").wait()
        expect(rc == 0, f"round {r}: cp: exit {rc}: {err[:300]}")
        before = len(os.listdir(versions)) if os.path.isdir(versions) \
            else 0
        probes = [subprocess.Popen([sys.executable, "-c", PROBE, mnt],
                                   stdout=subprocess.PIPE, text=True)
                  for _ in range(4)]
        commit = subprocess.Popen([LANCEFS, "commit", mnt],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        while commit.poll() is None and (not os.path.isdir(versions) or
                                         len(os.listdir(versions)) ==
                                         before):
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.2))
        with open(os.path.join(mnt, ".lancefs", "status")) as f:
            ring = json.load(f).get("io_uring")
        kill9(pid)
        users = probes + [commit]
        t_end = time.time() + 20
        while time.time() < t_end and any(p.poll() is None for p in users):
            time.sleep(0.05)
        stuck = sum(p.poll() is None for p in users)
        if stuck:
            hung.append(r)
            abort_connection(mnt)
        said = [p.communicate(timeout=60)[0].strip() for p in probes]
        commit.communicate(timeout=60)
        umount(mnt)			# the dead mount
        print(f"  round {r}{' (no epochs)' if r % 2 else ''}: {stuck} of "
              f"{len(users)} processes hung after the kill; the lookups "
              f"failed with {sorted(set(said))}")
        # what the lookups see: the mount's end, not some other error
        # (over io_uring only, a request in a ring's hands when its
        # daemon died ends ECANCELED)
        gone = {str(errno.ENOTCONN), str(errno.ECONNABORTED)}
        if ring:
            gone.add(str(errno.ECANCELED))
        expect(stuck or set(said) <= gone, f"round {r}: lookups after the "
               f"kill failed with errno {said}, not the mount's end "
               f"({'io_uring' if ring else '/dev/fuse'})")
    expect(not hung, f"processes using the mount hung after kill -9 in "
           f"rounds {hung} (released by aborting the connection)")
    mount(uri, mnt, *opts)
    umount(mnt)
    check_rows(lancedb("rows", uri), want, set(want),
               where="kill with lookups in flight")


def test_concurrent_writers():
    """One LanceDB-made dataset; two lancefs mounts of it (own mount
    points and staging dirs, commit_delay=0.1, commit_rows=10) each
    receive cp -r of 50 folders, one at a time, while LanceDB appends 20
    rows one by one. After both umounts LanceDB sees every row exactly
    once, and every version opens with no name twice."""
    rng = random.Random(SEED + 2)
    base = os.path.join(TMP, "conc")
    uri = os.path.join(base, "db", "t.lance")
    os.makedirs(os.path.dirname(uri))
    lancedb("make", uri, "10", "init")
    want = {f"init_{i:03d}": {"label": 900000 + i} for i in range(10)}
    for i in range(20):
        want[f"w_{i:03d}"] = {"label": 5000 + i}
    for w in want.values():
        img = lancedb_image(w["label"])
        w.update(sha256=sha(img), size=len(img))
    mnts, srcs = [], []
    for k, prefix in enumerate(("a", "b")):
        src = os.path.join(base, f"src_{prefix}")
        want.update(make_sources(src, prefix, 50, rng, 2000 + 1000 * k))
        mnt = os.path.join(base, f"mnt_{prefix}")
        os.makedirs(mnt)
        mount(uri, mnt, "name_column=name",
              f"staging_dir={os.path.join(base, 'staging_' + prefix)}",
              "commit_delay=0.1", "commit_rows=10")
        mnts.append(mnt)
        srcs.append(src)
    copier = ("import glob, subprocess, sys, time\n"
              "for d in sorted(glob.glob(sys.argv[1] + '/*')):\n"
              "    subprocess.run(['cp', '-r', d, sys.argv[2] + '/'],"
              " check=True)\n"
              "    time.sleep(0.05)\n")
    procs = [subprocess.Popen([sys.executable, "-c", copier, s, m],
                              stderr=subprocess.PIPE, text=True)
             for s, m in zip(srcs, mnts)]
    writer = subprocess.Popen(["node", os.path.join(INTEROP,
                                                    "crash_lancedb.js"),
                               "append", uri, "20", "w", "5000", "100"],
                              cwd=INTEROP, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    errors = []
    for p, what in zip(procs, ("cp -r into mount a", "cp -r into mount b")):
        _, err = p.communicate(timeout=600)
        if p.returncode:
            errors.append(f"{what}: exit {p.returncode}: {err[-500:]}")
    out, err = writer.communicate(timeout=600)
    if writer.returncode:
        errors.append(f"LanceDB writer: exit {writer.returncode}: "
                      f"{err[-1000:]}")
    for m in mnts:
        umount(m)
    expect(not errors, "; ".join(errors))
    got = lancedb("rows", uri, "--versions")
    check_rows(got, want, set(want), where="concurrent writers")
    expect(len(got["rows"]) == len(want),
           f"{len(got['rows'])} rows, expected {len(want)}")
    prev = 0
    for v in got["versions"]:
        dups = [n for n, c in collections.Counter(v["names"]).items()
                if c > 1]
        expect(not dups, f"version {v['version']}: {dups[:5]} twice")
        expect(v["rows"] >= prev, f"version {v['version']} has {v['rows']}"
               f" rows, fewer than the version before ({prev}): only "
               "appends happened")
        prev = v["rows"]
    print(f"  {len(got['versions'])} versions, {len(got['rows'])} rows")


def test_landed_batch_finished_at_mount():
    """The state a kill leaves right after a commit landed: the batch
    record and a row it names are still in the staging. The next mount
    finds the transaction in the dataset and drops the row (before its
    daemon forks): the row is shown and committed once, the unmount ends
    quickly, and nothing of the staging is left."""
    rng = random.Random(SEED + 5)
    base, uri, staging, mnt = workspace("landed", "l.lance")
    src = os.path.join(base, "src")
    want = make_sources(src, "l", 2, rng, 500)
    opts = (f"staging_dir={staging}", "commit_delay=600")
    mount(uri, mnt, *opts)
    subprocess.run(["cp", "-r", *[os.path.join(src, n) for n in want], mnt],
                   check=True, timeout=60)
    lancefs("commit", mnt)
    umount(mnt)
    expect(not os.path.exists(staging), "staging left after a clean "
           "unmount")
    txns = os.listdir(os.path.join(uri, "_transactions"))
    expect(len(txns) == 1, f"transactions: {txns}")
    read_version, uuid = txns[0][:-len(".txn")].split("-", 1)
    # staging.h's layout: a row folder named by .name, the batch record
    row = os.path.join(staging, "rows", "R%016x" % 7)
    os.makedirs(row)
    shutil.copy(os.path.join(src, "l_000", "image.jpg"), row)
    os.chmod(os.path.join(row, "image.jpg"), 0o644)
    with open(os.path.join(row, ".name"), "w") as f:
        f.write("l_000")
    os.makedirs(os.path.join(staging, "batches"))
    with open(os.path.join(staging, "batches", uuid), "w") as f:
        f.write(f"lancefs-batch 1\n{uuid}\n{read_version}\n{7:016x}\n")
    mount(uri, mnt, *opts)
    listed = sorted(os.listdir(mnt))
    expect(listed == sorted(want), f"the mount lists {listed}")
    t0 = time.time()
    umount(mnt, timeout=60)
    expect(time.time() - t0 < 30, f"umount took {time.time() - t0:.0f} s")
    expect(not os.path.exists(staging), "staging left: " +
           str([os.path.join(dp, f) for dp, ds, fs in os.walk(staging)
                for f in ds + fs][:6]))
    got = lancedb("rows", uri)
    check_rows(got, want, set(want), where="landed batch at mount")


def test_kill_while_redirected_output_is_written():
    """A shell writes a staged file through a redirection: it opens the
    file, gives it to its commands as their output and closes its own
    descriptor (a close of the file before anything is written), and
    each command that exits closes its copy. kill -9 of the daemon
    between two commands' writes: the next mount must not commit what
    was written by then as the file, which is dropped, its row held like
    any row whose copy a crash cut. A file the shell had finished before
    the crash commits."""
    base, uri, staging, mnt = workspace("redirect", "new.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    pid = mount(uri, mnt, *opts)
    os.mkdir(os.path.join(mnt, "done"))
    subprocess.run(["sh", "-c", 'for i in 1 2 3; do /bin/echo "$i"; done '
                    '> "$1"', "sh", os.path.join(mnt, "done", "label.txt")],
                   check=True)
    os.mkdir(os.path.join(mnt, "cut"))
    mark = os.path.join(base, "two_written")
    # /bin/echo: a command of its own, which exits after its write
    shell = subprocess.Popen(
        ["sh", "-c", 'for i in 1 2 3 4 5 6; do /bin/echo "$i"; '
         '[ "$i" = 2 ] && : > "$1"; sleep 0.5; done > "$2"', "sh", mark,
         os.path.join(mnt, "cut", "label.txt")], stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not os.path.exists(mark):
        expect(time.time() - t0 < 30, "the shell wrote nothing in 30 s")
        time.sleep(0.02)
    time.sleep(0.2)     # in the sleep after the second command
    kill9(pid)
    shell.wait(timeout=60)
    umount(mnt)
    mount(uri, mnt, *opts)
    names = sorted(os.listdir(mnt))
    expect("done" in names and "cut" in names,
           f"after remount the mount lists {names}")
    left = os.listdir(os.path.join(mnt, "cut"))
    expect(left == [], f"cut/ holds {left} after the crash (want its "
           "half-written file dropped)")
    umount(mnt)
    got = lancedb("rows", uri, "--versions")
    names = [r["name"] for r in got["rows"]]
    expect(names == ["done"], f"LanceDB has rows {names}, want ['done']")


def test_kill_while_a_root_file_is_written():
    """Files copied to the root (each a row of its own) when a kill -9
    comes: one half-written and open, one whose row the staging holds
    without the file (as a crash between making the row and creating its
    file leaves it). The next mount drops both with their rows (nothing
    of them is left to commit) and commits the row folder finished
    before."""
    rng = random.Random(SEED + 1)
    base, uri, staging, mnt = workspace("rootfile", "new.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    pid = mount(uri, mnt, *opts)
    img, half = jpeg_like(rng), jpeg_like(rng)
    put_row(mnt, "done", img, 7)
    with open(os.path.join(mnt, "early.jpg"), "wb") as f:
        f.write(img)
    torn = open(os.path.join(mnt, "photo.jpg"), "wb")
    torn.write(half[:len(half) // 2])
    torn.flush()
    kill9(pid)
    with contextlib.suppress(OSError):
        torn.close()
    umount(mnt)
    early = glob.glob(os.path.join(staging, "**", "early.jpg"),
                      recursive=True)
    expect(len(early) == 1, f"early.jpg staged as {early}")
    os.unlink(early[0])
    mount(uri, mnt, *opts)
    names = sorted(os.listdir(mnt))
    expect(names == ["done"], f"after remount the mount lists {names}")
    umount(mnt)
    got = lancedb("rows", uri, "--versions")
    names = [r["name"] for r in got.get("rows", [])]
    expect(names == ["done"], f"LanceDB has rows {names}, want ['done']")
    left = staged_leftovers(staging)
    expect(not left, f"staging still holds {left[:3]} after umount")


def test_kill_after_a_truncate_before_close():
    """A file written, closed once through a duplicate descriptor (a
    FLUSH, which marks it complete), cut with ftruncate and then closed,
    is complete: after a kill -9 the next mount commits it as cut.
    Without passthrough, so that every write and cut reaches the
    daemon."""
    rng = random.Random(SEED + 2)
    base, uri, staging, mnt = workspace("truncate", "new.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    os.environ["LANCEFS_NO_PASSTHROUGH"] = "1"
    try:
        pid = mount(uri, mnt, *opts)
    finally:
        del os.environ["LANCEFS_NO_PASSTHROUGH"]
    img = jpeg_like(rng)
    os.mkdir(os.path.join(mnt, "cut"))
    with open(os.path.join(mnt, "cut", "meta.json"), "w") as f:
        f.write('{"label": 9}')
    fd = os.open(os.path.join(mnt, "cut", "image.jpg"),
                 os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, img + b"tail")
    os.close(os.dup(fd))
    os.ftruncate(fd, len(img))
    os.close(fd)
    kill9(pid)
    got = committed_by_next_mount(uri, mnt, opts)
    want = {"cut": {"sha256": sha(img), "size": len(img), "label": 9}}
    check_rows(got, want, {"cut"}, where="after the kill")


def test_kill_while_an_update_is_filled():
    """A committed row whose image was overwritten: to commit it, lancefs
    writes the row's other committed files into its staging folder. A
    kill -9 in the middle of that leaves the file being written there
    (planted here, as the fill writes it); the next mount still commits
    the row, instead of holding it back as a file the user left half
    written."""
    rng = random.Random(SEED + 3)
    base, uri, staging, mnt = workspace("fill", "new.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    pid = mount(uri, mnt, *opts)
    img, img2 = jpeg_like(rng), jpeg_like(rng)
    put_row(mnt, "r", img, 5)
    lancefs("commit", mnt)
    with open(os.path.join(mnt, "r", "image.jpg"), "wb") as f:
        f.write(img2)
    kill9(pid)
    umount(mnt)
    staged = [p for p in glob.glob(os.path.join(staging, "**", "image.jpg"),
                                   recursive=True)
              if open(p, "rb").read() == img2]
    expect(len(staged) == 1, f"the new image staged as {staged}")
    # as the fill makes it: 0600, not yet marked complete
    fd = os.open(os.path.join(os.path.dirname(staged[0]), "..fill.tmp"),
                 os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"label": ')
    os.close(fd)
    mount(uri, mnt, *opts)
    umount(mnt)
    got = lancedb("rows", uri, "--versions")
    want = {"r": {"sha256": sha(img2), "size": len(img2), "label": 5}}
    check_rows(got, want, {"r"}, where="after the kill")
    left = staged_leftovers(staging)
    expect(not left, f"staging still holds {left[:3]} after umount")


def test_kill_after_writes_past_an_fsync():
    """fsync of a file still open commits its row at once; what is
    written through the descriptor after it, closed, is a change of that
    row, recorded on disk, so a kill -9 before it commits loses nothing:
    the next mount commits it, and the row is there once."""
    rng = random.Random(SEED + 5)
    base, uri, staging, mnt = workspace("fsync", "new.lance")
    opts = (f"staging_dir={staging}", "commit_delay=600")
    pid = mount(uri, mnt, *opts)
    img = jpeg_like(rng)
    put_row(mnt, "r", img, 1)
    fd = os.open(os.path.join(mnt, "r", "meta.json"), os.O_WRONLY)
    try:
        os.fsync(fd)
        got = lancedb("rows", uri)
        expect([x["label"] for x in got["rows"]] == [1],
               f"after the fsync LanceDB reads {got['rows']}")
        later = json.dumps({"label": 2}).encode()
        os.pwrite(fd, later, 0)
        os.ftruncate(fd, len(later))
    finally:
        os.close(fd)
    kill9(pid)
    got = committed_by_next_mount(uri, mnt, opts)
    want = {"r": {"sha256": sha(img), "size": len(img), "label": 2}}
    check_rows(got, want, {"r"}, where="after the kill")


def kill_at(pid, syscalls, nth):
    """strace kills daemon PID at the NTH call (counted over its threads)
    of any of SYSCALLS, which does not run (it fails, then SIGKILL): a
    kill -9 between two steps of one request. Returns once attached."""
    p = subprocess.Popen(
        ["strace", "-f", "-o", "/dev/null", "-p", str(pid),
         "-e", "trace=" + ",".join(syscalls),
         "-e", f"inject={','.join(syscalls)}:error=EIO:signal=KILL:"
         f"when={nth}"], stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "attached" in line:
            return p
    raise AssertionError(f"strace did not attach to {pid}")


def test_kill_inside_a_removal():
    """rm of an edited file of a committed row, mv of one to another row,
    and a create of a committed file removed before, killed (strace)
    between the request's steps on disk: the mark that removes the
    committed file and the staged file's unlink, move, link or
    completion at close. After a remount the rows are as before the
    request or as after it, never with the committed file back; what
    the mount then shows is what LanceDB reads after umount."""
    rng = random.Random(SEED + 4)
    renames = ("rename", "renameat", "renameat2")
    cases = [("rm", renames, 1), ("rm", ("unlink", "unlinkat"), 1),
             ("mv", renames, 1), ("mv", renames, 2),
             ("create", ("link", "linkat"), 1), ("create", renames, 1),
             ("create", None, 0),	# kill -9 while the file is open
             # mv of a committed file over an edited one: the old code's
             # link of a new file after the edit's unlink (none now)
             ("mvc", ("link", "linkat"), 1), ("mvc", renames, 1)]
    for k, (op, calls, nth) in enumerate(cases):
        where = (f"{op} killed at {calls[0]} #{nth}" if calls else
                 f"{op} killed before its close")
        base, uri, staging, mnt = workspace(f"rm{k}", "new.lance")
        opts = (f"staging_dir={staging}", "commit_delay=600")
        pid = mount(uri, mnt, *opts)
        img, img2, other = jpeg_like(rng), jpeg_like(rng), jpeg_like(rng)
        put_row(mnt, "r", img, 1)
        put_row(mnt, "s", other, 2)
        lancefs("commit", mnt)
        if op == "create":
            os.unlink(os.path.join(mnt, "r", "image.jpg"))
        elif op == "mvc":
            with open(os.path.join(mnt, "s", "image.jpg"), "wb") as f:
                f.write(img2)
        else:
            with open(os.path.join(mnt, "r", "image.jpg"), "wb") as f:
                f.write(img2)
        if op == "mv":	# s's update is staged before the move
            with open(os.path.join(mnt, "s", "meta.json"), "w") as f:
                f.write(json.dumps({"label": 3}))
        tracer = kill_at(pid, calls, nth) if calls else None
        try:
            if op == "rm":
                os.unlink(os.path.join(mnt, "r", "image.jpg"))
            elif op == "create":
                with open(os.path.join(mnt, "r", "image.jpg"), "wb") as f:
                    f.write(img2)
                    f.flush()
                    if not tracer:
                        kill9(pid)
            else:
                os.rename(os.path.join(mnt, "r", "image.jpg"),
                          os.path.join(mnt, "s", "image.jpg"))
        except OSError:
            pass	# the daemon died under it
        for _ in range(300):
            if not alive(pid):
                break
            time.sleep(0.01)
        if alive(pid):	# no such step (a spare reused, say): done whole
            print(f"  {where}: not reached, the request was done whole")
            tracer.terminate()
        if tracer:
            tracer.wait(timeout=30)
        umount(mnt)
        mount(uri, mnt, *opts)

        def image(row):
            try:
                with open(os.path.join(mnt, row, "image.jpg"), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None
        shown = (image("r"), image("s"))
        if op == "mvc":	# before, after, or copied, not yet removed
            expect(shown in ((img, img2), (None, img), (img, img)),
                   f"{where}: r and s hold "
                   f"{[sha(x)[:8] if x else None for x in shown]}; before "
                   f"{sha(img)[:8]}, {sha(img2)[:8]}; after None, "
                   f"{sha(img)[:8]} (committed s {sha(other)[:8]})")
        elif op != "mv":
            ok = (None, img2)
            expect(shown[0] in ok, f"{where}: r/image.jpg holds "
                   f"{'the committed image' if shown[0] == img else shown[0]!r:.40}")
        else:
            expect(shown in ((img2, other), (None, img2)),
                   f"{where}: r and s hold "
                   f"{[sha(x)[:8] if x else None for x in shown]}; before "
                   f"{sha(img2)[:8]}, {sha(other)[:8]}; after None, "
                   f"{sha(img2)[:8]} (committed r {sha(img)[:8]})")
        # a create cut short leaves its row waiting until touched
        os.utime(os.path.join(mnt, "r"))
        umount(mnt)
        got = lancedb("rows", uri, "--versions")
        want = {row: {"sha256": sha(x) if x is not None else None,
                      "label": label}
                for row, x, label in (("r", shown[0], 1),
                                      ("s", shown[1], 3 if op == "mv" else 2))}
        by_name = {r["name"]: r for r in got["rows"]}
        for name, w in want.items():
            r = by_name.get(name)
            expect(r is not None and r["sha256"] == w["sha256"] and
                   r["label"] == w["label"],
                   f"{where}: LanceDB reads {name} as {r}; the mount "
                   f"showed {w}")


TESTS = [test_crash_before_first_commit, test_kill_during_cp,
         test_kill_during_commit, test_kill_with_lookups_in_flight,
         test_landed_batch_finished_at_mount, test_concurrent_writers,
         test_kill_while_redirected_output_is_written,
         test_kill_while_a_root_file_is_written,
         test_kill_after_a_truncate_before_close,
         test_kill_while_an_update_is_filled,
         test_kill_inside_a_removal,
         test_kill_after_writes_past_an_fsync]


def main():
    global TMP
    only = os.environ.get("ONLY")
    if not os.path.exists("/dev/fuse"):
        print("FAIL: /dev/fuse is missing; the mount tests need FUSE")
        print("0 passed, 1 failed")
        return 1
    print(f"seed {SEED} (CRASH_SEED={SEED} reproduces), {ROUNDS} rounds")
    passed = failed = 0
    for t in TESTS:
        if only and only not in t.__name__:
            continue
        TMP = tempfile.mkdtemp(prefix="lancefs-crash-")
        t0 = time.time()
        try:
            t()
            passed += 1
            print(f"PASS {t.__name__} ({time.time() - t0:.1f} s)")
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__} (CRASH_SEED={SEED})")
            traceback.print_exc()
        finally:
            cleanup()
            if os.environ.get("KEEP"):
                print(f"  kept {TMP}")
            else:
                shutil.rmtree(TMP, ignore_errors=True)
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
