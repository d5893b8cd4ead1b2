"""Atomic output: a temp file beside the target, then one rename.

A crash, Ctrl-C or full disk leaves the target untouched and no temp file
behind. Without ``force`` the final step is a hard link, which fails if the
target appeared meanwhile, so an existing file is never replaced by a race.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import OutputError


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_target(target: Path, force: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse before any work is done: input as output, existing output, missing folder."""
    for source in inputs:
        if same_file(source, target):
            raise OutputError("refusing to overwrite the input file; choose another output name", str(target))
    if target.exists() and not force:
        raise OutputError("output exists; pass --force to replace it", str(target))
    if target.exists() and target.is_dir():
        raise OutputError("output is a directory", str(target))
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"folder {parent} does not exist", str(target))


@contextlib.contextmanager
def atomic_write(target: Path, force: bool = False) -> Iterator[BinaryIO]:
    parent = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".skprune-tmp")
    except OSError as exc:
        raise OutputError(f"cannot create a file in {parent}: {exc.strerror}", str(target)) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        _publish(tmp, target, force)
    except OSError as exc:
        _discard(tmp)
        reason = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise OutputError(f"could not write: {reason}", str(target)) from None
    except BaseException:
        _discard(tmp)
        raise


def _publish(tmp: Path, target: Path, force: bool) -> None:
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputError("output exists; pass --force to replace it", str(target)) from None
    except OSError:  # file systems without hard links: the check before the work must do
        if target.exists():
            raise OutputError("output exists; pass --force to replace it", str(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
