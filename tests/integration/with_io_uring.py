#!/usr/bin/env python3
"""Runs a command with FUSE over io_uring on: the fuse module's
enable_uring set to Y for the command's run, and back to what it was
after. Every lancefs mount the command makes then takes its requests
through io_uring. Where this kernel has no FUSE over io_uring (before
Linux 6.14, or built without it), io_uring is turned off, or this user
may not set it, prints why and exits SKIPPED (77, which ctest reports
as a skip) without running the command.

  with_io_uring.py COMMAND [ARG...]

The command runs with LANCEFS_EXPECT_IO_URING=1, and the tests' mount
helpers then check each writable mount with not_through_ring(): a
suite whose mounts quietly fell back to /dev/fuse fails. The tests use
enabled() for mounts of their own.
"""
import contextlib
import json
import os
import subprocess
import sys
import time

PARAM = "/sys/module/fuse/parameters/enable_uring"
EXPECT = "LANCEFS_EXPECT_IO_URING"
SKIPPED = 77


@contextlib.contextmanager
def enabled():
    """enable_uring on for the body, as it was after. Yields None, or
    (changing nothing) why it cannot be turned on here."""
    try:
        with open(PARAM) as f:
            was = f.read().strip()
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            disabled = f.read().strip() != "0"
    except OSError as e:
        yield f"no FUSE over io_uring here ({e})"
        return
    if disabled:
        yield "io_uring is turned off (kernel.io_uring_disabled)"
        return
    try:
        with open(PARAM, "w") as f:
            f.write("Y")
    except OSError as e:
        yield f"{PARAM} cannot be set here ({e.strerror})"
        return
    try:
        yield None
    finally:
        with open(PARAM, "w") as f:
            f.write(was)


def not_through_ring(mnt):
    """Under with_io_uring.py, why the mount at MNT takes its requests
    through /dev/fuse, or None. Read-only mounts, and mounts told to
    (LANCEFS_NO_IO_URING, LANCEFS_NO_PASSTHROUGH in this environment),
    are not checked, nor a database mount with no dataset yet (its
    status files are in its datasets' folders). The status file's own
    reads are requests, and it is made at most once a second: up to
    3 s."""
    if not os.environ.get(EXPECT) or os.environ.get("LANCEFS_NO_IO_URING") \
            or os.environ.get("LANCEFS_NO_PASSTHROUGH"):
        return None
    path = os.path.join(mnt, ".lancefs", "status")
    if not os.path.exists(path):
        found = [p for p in (os.path.join(mnt, d, ".lancefs", "status")
                             for d in sorted(os.listdir(mnt)))
                 if os.path.exists(p)]
        if not found:
            return None
        path = found[0]
    t_end = time.time() + 3
    while True:
        with open(path) as f:
            st = json.load(f)
        if not st.get("writable") or st.get("io_uring"):
            return None
        if time.time() > t_end:
            return (f"{mnt}: requests come through /dev/fuse, not "
                    f"io_uring (status io_uring {st.get('io_uring')})")
        time.sleep(0.2)


def main():
    with enabled() as why:
        if why:
            print(f"skipped: {why}")
            return SKIPPED
        return subprocess.call(sys.argv[1:], env=dict(os.environ,
                                                      **{EXPECT: "1"}))


if __name__ == "__main__":
    sys.exit(main())
