#!/usr/bin/env python3
"""Runs a command with FUSE over io_uring on: the fuse module's
enable_uring set to Y for the command's run, and back to what it was
after. Every lancefs mount the command makes then takes its requests
through io_uring. Where this kernel has no FUSE over io_uring (before
Linux 6.14, or built without it), io_uring is turned off, or this user
may not set it, prints why and exits 0 without running the command.

  with_io_uring.py COMMAND [ARG...]

The tests use enabled() for mounts of their own.
"""
import contextlib
import os
import subprocess
import sys

PARAM = "/sys/module/fuse/parameters/enable_uring"


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
    if not os.access(PARAM, os.W_OK):
        yield f"{PARAM} is not writable (not root)"
        return
    with open(PARAM, "w") as f:
        f.write("Y")
    try:
        yield None
    finally:
        with open(PARAM, "w") as f:
            f.write(was)


def main():
    with enabled() as why:
        if why:
            print(f"skipped: {why}")
            return 0
        return subprocess.call(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
