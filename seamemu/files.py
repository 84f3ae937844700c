# SPDX-License-Identifier: MIT
"""The user's files: reads bounded in size, writes and directories that fail in one line.

Every file a user names (assembly sources, platform files, reproducers) is read through
`read_bytes`/`read_text`, which refuse a directory and stop at a size limit instead of
reading `/dev/zero` until memory runs out; a FIFO without a writer reads as empty instead of
blocking.  Every output a user names (`--out`, `--log`, ...) is written through
`write_text`/`write_bytes`/`output_dir`, so a directory, an empty name, a full device or an
unwritable place is one InputError naming the option, never a traceback.  The limits are
documented in docs/limits.md.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from seamemu.errors import InputError, LimitError

KiB = 1 << 10
MiB = 1 << 20

# What a user may hand seamemu, by kind of file (docs/limits.md).  Kernel .S files are tens of
# KiB (the largest under arch/x86 are a few hundred); platform files and reproducers are a few
# KiB of TOML/JSON.
SOURCE_LIMIT = 1 * MiB          # one assembly source or included file
SOURCES_TOTAL_LIMIT = 8 * MiB   # every file one assembly reads, includes counted each time
PLATFORM_LIMIT = 1 * MiB
REPRODUCER_LIMIT = 4 * MiB
OBJECT_LIMIT = 16 * MiB         # an ELF object (gcc -c, kbuild): a few hundred KiB, debug info too
MODULE_IMAGE_LIMIT = 16 * MiB   # Intel's TDX module (libtdx.so) is about 450 KiB
# The largest file of each kind, by the name the error message gives it.
LIMITS = {
    "assembly source": SOURCE_LIMIT,
    "object file": OBJECT_LIMIT,
    "TDX module image": MODULE_IMAGE_LIMIT,
    "platform file": PLATFORM_LIMIT,
    "reproducer": REPRODUCER_LIMIT,
}

_CHUNK = 1 * MiB


def size_text(n: int) -> str:
    """`1 MiB`, `512 KiB`, `100 bytes`: a limit as people write it."""
    for unit, size in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower() if exc.errno != errno.ENOSPC else "no space left on the device"


def read_bytes(path: str | os.PathLike[str], what: str, kind: str) -> bytes:
    """The bytes of a file the user named, or InputError `WHAT PATH: reason` when it is
    missing, a directory, unreadable, or larger than the limit for its `kind` (a key of
    LIMITS; reading stops there)."""
    limit = LIMITS[kind]
    name = os.fspath(path)
    if not name:
        raise InputError(f"{what}: empty file name" if what else "empty file name")
    if "\0" in name:
        raise InputError(f"{_where(what, repr(name))}: a file name cannot contain a NUL byte")
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{_where(what, name)}: cannot read: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{_where(what, name)}: is a directory, not a file")
        if stat.S_ISFIFO(mode):
            os.set_blocking(fd, True)  # opened without blocking so a writerless FIFO is empty
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise LimitError(f"{_where(what, name)}: larger than {size_text(limit)}, the limit "
                                 f"for {_article(kind)} (docs/limits.md)")
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"{_where(what, name)}: cannot read: {_reason(exc)}") from None
    finally:
        os.close(fd)


def _where(what: str, name: str) -> str:
    return f"{what} {name}" if what else name


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def read_text(path: str | os.PathLike[str], what: str, kind: str) -> str:
    """read_bytes() decoded as UTF-8; a file that is not text is an InputError."""
    data = read_bytes(path, what, kind)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{_where(what, os.fspath(path))}: not UTF-8 text (byte {exc.start} is "
                         f"0x{data[exc.start]:02x})") from None


def _target(path: str | os.PathLike[str], what: str) -> Path:
    name = os.fspath(path)
    if not name:
        raise InputError(f"{what}: empty file name")
    if "\0" in name:
        raise InputError(f"{what} {name!r}: a file name cannot contain a NUL byte")
    return Path(name)


def output_file(path: str | os.PathLike[str], what: str, *, parents: bool = False) -> Path:
    """Check, before any work is spent, that `path` can be a file seamemu writes: not empty,
    not a directory, in a directory that exists (with `parents`, created now if absent)."""
    target = _target(path, what)
    if target.is_dir():
        raise InputError(f"{what} {target}: is a directory; give a file name")
    parent = target.parent
    if not parent.exists():
        if not parents:
            raise InputError(f"{what} {target}: the directory {parent} does not exist")
        output_dir(parent, what)
    elif not parent.is_dir():
        raise InputError(f"{what} {target}: {parent} is not a directory")
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes, what: str, *,
                parents: bool = False) -> Path:
    """Write a file the user named; InputError `WHAT PATH: cannot write: reason` on failure
    (a regular file left half-written is removed).  `parents`: create missing directories."""
    target = output_file(path, what, parents=parents)
    existed = target.exists()
    try:
        with open(target, "wb") as out:
            out.write(data)
    except OSError as exc:
        if not existed and target.is_file():
            target.unlink(missing_ok=True)
        raise InputError(f"{what} {target}: cannot write: {_reason(exc)}") from None
    return target


def write_text(path: str | os.PathLike[str], text: str, what: str, *,
               parents: bool = False) -> Path:
    """write_bytes() of UTF-8 text."""
    return write_bytes(path, text.encode("utf-8"), what, parents=parents)


def output_dir(path: str | os.PathLike[str], what: str) -> Path:
    """A directory the user named for outputs, created (with its parents) if absent;
    InputError when it names a file or cannot be created or written."""
    target = _target(path, what)
    if target.exists() and not target.is_dir():
        raise InputError(f"{what} {target}: exists and is not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} {target}: cannot create the directory: {_reason(exc)}") from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise InputError(f"{what} {target}: the directory is not writable")
    return target


__all__ = [
    "KiB",
    "LIMITS",
    "MiB",
    "PLATFORM_LIMIT",
    "REPRODUCER_LIMIT",
    "SOURCES_TOTAL_LIMIT",
    "SOURCE_LIMIT",
    "output_dir",
    "output_file",
    "read_bytes",
    "read_text",
    "size_text",
    "write_bytes",
    "write_text",
]
