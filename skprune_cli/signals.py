"""Ending a run on SIGINT or SIGTERM: promptly, with one line, and nothing left behind.

``install()`` (called by the CLI, never by the library on its own) turns both
signals into ``Interrupted``, a ``KeyboardInterrupt``: the library's broad
``except Exception`` clauses (which turn malformed input into a refusal) let it
through, and ``atomic_write`` removes its temp file on the way out. The CLI
maps it to 128 + the signal number (130, 143).

Python runs a signal handler only between bytecodes of the main thread, so a
long C call (LZMA over a 100 MB array, a big ``pickle.dump``) would delay it by
minutes. A watchdog thread therefore also learns of the signal through
``signal.set_wakeup_fd`` (written by the C-level handler, whatever the main
thread is doing); if the run has not ended ``GRACE`` seconds later, it removes
the live temp files, prints the same line and ends the process with
``os._exit``. A second signal during the clean-up is ignored: the clean-up
finishes and the watchdog still bounds the time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator

GRACE = 1.5  # seconds the orderly path gets before the watchdog ends the process

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    installed_pid: int | None = None
    received: int | None = None
    pending: int | None = None
    defer = 0
    announced = False
    lock = threading.Lock()


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (a plain ``KeyboardInterrupt`` too), 143 for SIGTERM."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


def message(exc: KeyboardInterrupt | None = None, signum: int | None = None) -> str:
    """The single stderr line; says which outputs, if any, were already complete."""
    if signum is None:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    from .formats.atomic import published_paths  # atomic imports this module

    done = published_paths()
    if not done:
        tail = "nothing was written"
    elif len(done) == 1:
        tail = f"{done[0]} was already complete"
    else:
        tail = f"{len(done)} outputs were already complete, the last {done[-1]}"
    return f"skprune: interrupted by {signal.Signals(signum).name}; {tail}"


def announce(line: str) -> bool:
    """Print the line once per process, whoever gets there first (main thread or watchdog)."""
    with _State.lock:
        if _State.announced:
            return False
        _State.announced = True
    print(line, file=sys.stderr, flush=True)
    return True


def install() -> None:
    """Route SIGINT and SIGTERM through ``Interrupted`` and start the watchdog (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or _State.installed_pid == os.getpid():
        return
    for signum in HANDLED:
        signal.signal(signum, _handler)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # not the main interpreter: the handlers alone must do
        os.close(read_fd)
        os.close(write_fd)
    else:
        threading.Thread(target=_watch, args=(read_fd,), name="skprune-signal-watchdog", daemon=True).start()
    _State.installed_pid = os.getpid()
    os.register_at_fork(after_in_child=_forget)


def _forget() -> None:
    """A forked worker starts with Python's defaults, and no shared wake-up pipe with its parent."""
    _State.installed_pid = None
    _State.received = _State.pending = None
    _State.defer = 0
    _State.announced = False
    _State.lock = threading.Lock()
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # forked from a thread other than the main one
        pass


def run(entry: Callable[[], object]) -> None:
    """Run the command line with the handlers installed; a signal always ends in 128 + its number.

    Covers the moments outside the command's own error handling (option parsing,
    rendering), where Typer would turn ``KeyboardInterrupt`` into a silent 130.
    """
    from .formats.atomic import discard_live_temps

    install()
    code: object = 0
    try:
        entry()
    except SystemExit as exc:
        code = exc.code
    if _State.received is None:
        raise SystemExit(code)
    announce(message(signum=_State.received))
    discard_live_temps()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # the interpreter's own shutdown (freeing sklearn, scipy, the model) takes seconds on a
    # busy machine; everything that matters is done, and the watchdog cannot act during it
    os._exit(128 + _State.received)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.received is not None:
        return  # already stopping: let the clean-up finish
    _State.received = signum
    if _State.defer:
        _State.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold an installed handler's exception until the block is done (a few bookkeeping steps)."""
    _State.defer += 1
    try:
        yield
    finally:
        _State.defer -= 1
        if not _State.defer and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise Interrupted(signum)


def _watch(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        signums = [b for b in data if b in HANDLED]
        if signums:
            break
    from .formats.atomic import discard_live_temps

    first = _State.received or signums[0]
    time.sleep(GRACE)
    discard_live_temps()
    announce(message(signum=first))
    os._exit(128 + first)


def pause_for_tests(phase: str) -> None:
    """Test-only hook: ``SKPRUNE_TEST_PAUSE_AT=phase:GATE`` makes a run wait at the start of ``phase``.

    The run creates ``GATE.paused`` and waits (in interruptible sleeps) until
    ``GATE`` exists, so tests can send a signal, or change the output folder, at
    a known point of the run. Unset in normal use; costs one environment lookup.
    """
    spec = os.environ.get("SKPRUNE_TEST_PAUSE_AT")
    if not spec:
        return
    wanted, _, gate = spec.partition(":")
    if wanted != phase or not gate:
        return
    Path(gate + ".paused").touch()
    while not os.path.exists(gate):
        time.sleep(0.01)
