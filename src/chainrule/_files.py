"""Files a user names: opened only when they are regular files, read within stated bounds, written atomically.

A path may name a FIFO (reading blocks until someone writes), a device such as /dev/zero (a read
never ends) or a directory; ``open_regular`` refuses those before reading a byte. Readers then
compare what a header declares with the file's size and with a limit before they allocate, and
``atomic_write`` replaces a file only once the new contents are safely on disk.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path, what: str):
    """Open ``path`` for binary reading if it is a regular file (a link to one is fine).

    Raises FileNotFoundError when nothing is there and ValueError, naming the path and its
    kind, for anything else. The check is made on the opened file itself (``fstat``), so
    the file read is the file checked.

    Example:
        >>> with open_regular("data.csv", "a CSV file") as f:
        ...     head = f.read(100)
    """
    path = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer, before fstat can look.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file; expected {what}") from None
    except IsADirectoryError:  # Windows cannot open a directory at all
        raise ValueError(f"{path}: is a directory, not a file; expected {what}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ValueError(f"{path}: is a directory, not a file; expected {what}")
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise ValueError(
            f"{path}: is {kind}, not a regular file; expected {what}. chainrule reads only regular "
            "files (reading a pipe or a device could block or never end); copy the data into a file"
        )
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def file_size(f) -> int:
    """The size in bytes of an open regular file."""
    return os.fstat(f.fileno()).st_size


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on every platform
        return None


def format_bytes(n: int) -> str:
    """``4000000000000`` -> ``'4,000,000,000,000 bytes (3.6 TiB)'``; exact up to 2**80, then a power of two."""
    if n >= 2**80:  # sizes from corrupt headers: the digits would say nothing (and a float overflows)
        return f"about 2**{n.bit_length() - 1} bytes"
    if n < 1024:
        return f"{n:,} bytes"
    k = min((n.bit_length() - 1) // 10, 6)
    return f"{n:,} bytes ({n / 1024**k:.1f} {'KMGTPE'[k - 1]}iB)"


STALE_TEMPORARY_SECONDS = 60


def _remove_stale_temporaries(directory, name):
    """Delete what saves of `name` killed mid-write left behind (``name.XXXXXXXX.tmp``, a file or a directory).

    Only those older than a minute: a younger one may belong to a save still running.
    """
    now = time.time()
    for entry in os.scandir(directory):
        if entry.name.startswith(name + ".") and entry.name.endswith(".tmp"):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMPORARY_SECONDS:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
            except OSError:
                pass


def _create_temporary(path):
    """A private directory ``name.XXXXXXXX.tmp`` beside ``path`` and a new file in it; returns (fd, file).

    The file gets ``path``'s permission bits if it exists, else open()'s default (0o666 minus the
    umask; mkstemp's 0o600 would make every checkpoint private to its owner). A directory, not just a
    file: the safetensors package writes through a temp file of its own (``.tmpXXXXXX``), which a kill
    would leave behind where no later save could tell whose it was.
    """
    directory, name = os.path.split(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = None
    while True:
        private = os.path.join(directory, f"{name}.{os.urandom(4).hex()}.tmp")
        try:
            os.mkdir(private, 0o700)
            break
        except FileExistsError:
            continue
    tmp = os.path.join(private, name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    if mode is not None and hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, mode)
        except OSError:
            pass
    return fd, tmp


def atomic_write(path, chunks=(), *, fill=None, what: str = "save") -> None:
    """Write ``chunks`` (bytes-like) to a temp file beside ``path``, fsync, then rename it over ``path``.

    ``fill(temp_path)``, when given, writes the temp file itself instead (the safetensors package
    writes straight from the arrays, without a copy of them in memory). A crash, a kill or a full
    disk mid-write leaves the previous file intact, never a half-written one. The new file keeps
    the previous file's permission bits. A full disk (ENOSPC, EDQUOT) is an OSError with a one-line
    message saying so.

    Example:
        >>> atomic_write("cache.npz", [buffer.getvalue()])
    """
    path = os.fspath(path)
    fd, tmp = _create_temporary(path)
    try:
        try:
            if fill is not None:
                # The package replaces the temp file with a new one (mode 0o600): reopen it to give it
                # the mode chosen above and to fsync what was written.
                mode = stat.S_IMODE(os.fstat(fd).st_mode)
                os.close(fd)
                fd = -1
                fill(tmp)
                fd = os.open(tmp, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, mode)
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:  # os.write may write less than asked
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        shutil.rmtree(os.path.dirname(tmp), ignore_errors=True)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise OSError(
                e.errno,
                f"{what}: no space left on the device for {path} (the disk or quota is full); "
                "the previous file is unchanged. Free some space or write elsewhere",
            ) from None
        raise
    shutil.rmtree(os.path.dirname(tmp), ignore_errors=True)  # empty now; a failure here loses nothing
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(directory, os.path.basename(path))
    try:  # persist the rename itself; not every platform lets a directory be opened
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
