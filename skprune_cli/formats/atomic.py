"""Atomic output: a temp file beside the target, flushed and fsync'ed, then one rename.

A crash, a signal or a full disk leaves the target as it was (the old file or
nothing) and, except after SIGKILL or a power cut, no temp file behind.
Without ``force`` the final step is a hard link, which fails if the target
appeared meanwhile, so an existing file is never replaced by a race.

Temp files are named ``.<target>.<pid>-<start>-<random>.skprune-tmp`` (the
writer's pid and its start time, in clock ticks since boot) and are locked
with ``flock`` while written. A later run in the same folder removes those
whose writer is gone: the pid is not running, or is running but started at
another time (reused), and the lock can be taken. A live writer's file is never
touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import OutputError
from ..signals import deferred

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, the pid check alone decides
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".skprune-tmp"
STALE = re.compile(r"^\..+\.(\d+)-(\d+)-[A-Za-z0-9_]+" + re.escape(SUFFIX) + "$")
REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "the folder no longer exists",
    errno.EFBIG: "file too large for this file system",
}

_live: set[Path] = set()  # temp files this process is writing, for the signal watchdog
_published: list[str] = []  # outputs this process completed, for the interruption message


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
    parent = _folder(target)
    if not parent.is_dir():
        raise OutputError(f"folder {parent} does not exist", str(target))
    if not os.access(parent, os.W_OK | os.X_OK):  # say so now, not after minutes of work
        raise OutputError(f"cannot write in {parent}: {_unwritable_reason(parent)}", str(target))


@contextlib.contextmanager
def atomic_write(target: Path, force: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary handle; on a clean exit the target holds exactly what was written."""
    parent = _folder(target)
    remove_stale_temps(parent)
    tmp: Path | None = None
    lock_fd = -1
    try:
        with deferred():  # a signal here must not orphan a file it cannot name
            fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.{os.getpid()}-{_start_time(os.getpid())}-",
                                            suffix=SUFFIX)
            tmp = Path(tmp_name)
            _live.add(tmp)
        with os.fdopen(fd, "wb") as handle:
            lock_fd = os.dup(fd)  # the lock lives as long as this descriptor, past the handle's close
            if fcntl is not None:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        with deferred():
            _publish(tmp, target, force)
            _live.discard(tmp)
            _published.append(str(target))
        _fsync_folder(parent)
    except OSError as exc:
        _discard(tmp)
        verb = "cannot create a file in" if tmp is None else "could not write in"
        reason = REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
        raise OutputError(f"{verb} {parent}: {reason}", str(target)) from None
    except BaseException:
        _discard(tmp)
        raise
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove temp files left in ``folder`` by killed runs; return what was removed."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = STALE.match(name)
        if match is None or _writer_alive(int(match[1]), int(match[2])):
            continue
        path = folder / name
        if _unlink_if_unlocked(path):
            removed.append(path)
    return removed


def discard_live_temps() -> None:
    """Remove the temp files being written right now (the signal watchdog's last act)."""
    for tmp in list(_live):
        _discard(tmp)


def published_paths() -> list[str]:
    return list(_published)


def _writer_alive(pid: int, start: int) -> bool:
    if pid == os.getpid():
        return True  # ours: a live atomic_write, or one the owner will clean up
    now = _start_time(pid)
    if now is None:
        return False
    if now == 0 or start == 0:
        return True  # running, and no start time to tell a reused pid apart
    return now == start  # a different start time: the pid now belongs to a later process


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None if not running, 0 if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except FileNotFoundError:
        return None
    except (OSError, IndexError, ValueError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass
    return 0


def _unlink_if_unlocked(path: Path) -> bool:
    """Unlink ``path`` only while holding its lock: a writer in another pid namespace keeps it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink()
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


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


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; file systems that cannot fsync a folder are let be."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unwritable_reason(folder: Path) -> str:
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):
        pass
    return "permission denied"


def _folder(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


def _discard(tmp: Path | None) -> None:
    if tmp is None:
        return
    _live.discard(tmp)
    with contextlib.suppress(OSError):
        tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
