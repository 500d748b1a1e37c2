"""A directory read a page at a time, as ls reads a big one: the tests
change a dataset between two getdents64(2) calls."""
import ctypes

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_GETDENTS64 = 217  # x86-64


def getdents(fd, size=600):
    """One getdents64(2) call of `size` bytes on `fd`: the names it
    returned ([] at the end)."""
    buf = ctypes.create_string_buffer(size)
    n = _libc.syscall(_SYS_GETDENTS64, fd, buf, size)
    if n < 0:
        raise OSError(ctypes.get_errno(), "getdents64")
    names, pos = [], 0
    while pos < n:
        reclen = int.from_bytes(buf.raw[pos + 16:pos + 18], "little")
        names.append(buf.raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
                     .decode())
        pos += reclen
    return names


def rest(fd, size=600):
    """The names of the rest of the listing, a call at a time."""
    names = []
    while True:
        page = getdents(fd, size)
        if not page:
            return names
        names += page
