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

Batch workers (forked by ``--jobs``) get their own watchdog; a signal makes
a worker remove its temp file and exit at once, and the parent sends SIGTERM to
its workers when it is stopped (and, on Linux, they get it too if the parent is
killed), so no worker goes on to write after the parent said it was interrupted.
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
    worker = False  # a forked batch worker: a signal removes its temp files and ends it at once
    pipe: tuple[int, int] | None = None
    received: int | None = None
    pending: int | None = None
    defer = 0
    announced = False
    children = False  # worker processes were stopped: they may have finished outputs
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
    if _State.children:
        tail = "outputs finished before the signal are complete, the others were not written"
    elif not done:
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
    _arm()
    os.register_at_fork(after_in_child=_forget)


def _arm() -> None:
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
        _State.pipe = (read_fd, write_fd)
        threading.Thread(target=_watch, args=(read_fd,), name="skprune-signal-watchdog", daemon=True).start()
    _State.installed_pid = os.getpid()


def _forget() -> None:
    """A forked batch worker: its own wake-up pipe and watchdog, and it ends when its parent does."""
    old = _State.pipe
    _State.worker, _State.pipe = True, None
    _State.received = _State.pending = None
    _State.defer = 0
    _State.announced = _State.children = False
    _State.lock = threading.Lock()
    try:
        _arm()
    except ValueError:  # forked from a thread other than the main one: Python's defaults
        _State.installed_pid = None
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for fd in old or ():
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(Exception):  # Linux: SIGTERM when the parent dies, even by SIGKILL
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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
    _stop_children()
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
    _stop(signum)


def _stop(signum: int) -> None:
    if _State.worker:  # the parent reports; a worker only removes what it was writing
        from .formats.atomic import discard_live_temps

        discard_live_temps()
        os._exit(128 + signum)
    _stop_children()
    raise Interrupted(signum)


def _stop_children() -> None:
    """SIGTERM the batch's worker processes, so that none goes on to write an output."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:
        return
    for child in multiprocessing.active_children():
        _State.children = True
        with contextlib.suppress(Exception):
            child.terminate()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold an installed handler's action until the block is done (a few bookkeeping steps)."""
    _State.defer += 1
    try:
        yield
    finally:
        _State.defer -= 1
        if not _State.defer and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            _stop(signum)


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
    if not _State.worker:
        _stop_children()
        if sys.stderr.isatty():  # a progress bar may be half drawn, with the cursor hidden
            with contextlib.suppress(Exception):
                sys.stderr.write("\r\x1b[2K\x1b[?25h")
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
