"""Faults of a run itself: signals, SIGKILL, a full / read-only / vanished folder, concurrent writers.

Every case drives the real command (``python -m skprune_cli``) in a subprocess
on a forest big enough (~9 MB) that a signal lands mid-run, and asserts what a
user sees: the exit code, stderr, the output folder's contents, the input's
hash and an existing output's bytes. ``SKPRUNE_TEST_PAUSE_AT=phase:GATE``
(``signals.pause_for_tests``) holds a run at the start of a phase so that a
signal or a change to the folder lands at a known point.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import ExtraTreesRegressor

from skprune_cli import signals
from skprune_cli.formats import atomic

TREE = "sklearn.tree._tree.Tree"
OLD = b"the previous output, which --force was about to replace\n"
GRACE_BOUND = 5.0  # seconds from the signal to the exit: the watchdog's 1.5 s plus a loaded machine's slack


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20000, 8)), rng.normal(size=20000)
    model = ExtraTreesRegressor(n_estimators=3, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("model") / "forest.skops"
    sio.dump(model, path)
    assert path.stat().st_size > 8 << 20
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def env(pause: str | None = None) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).parents[1]), out.get("PYTHONPATH", "")] if p)
    out.pop("SKPRUNE_DEBUG", None)
    out.pop("SKPRUNE_TEST_PAUSE_AT", None)
    if pause:
        out["SKPRUNE_TEST_PAUSE_AT"] = pause
    return out


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test() -> Iterator[None]:
    """A failed assertion must not leave paused runs behind (they wait for their gate forever)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def start(source: Path, out: Path | None, *extra: str, pause: str | None = None) -> subprocess.Popen[str]:
    target = ["-o", str(out)] if out is not None else []
    proc = subprocess.Popen([sys.executable, "-m", "skprune_cli", "shrink", str(source), *target, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(pause))
    _started.append(proc)
    return proc


def wait_paused(proc: subprocess.Popen[str], gate: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not Path(f"{gate}.paused").exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before pausing: {proc.returncode} {proc.communicate()[1]}")
        assert time.monotonic() < deadline, "the run never reached its pause"
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str, str]:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, stdout, stderr


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(atomic.SUFFIX))


# -- 1. signals ---------------------------------------------------------------------------------------

# compressing happens while writing (member by member); test_signal_inside_a_long_compression_call
# covers a signal that lands inside one long compression call
CASES = [("loading", signal.SIGINT), ("checking", signal.SIGTERM), ("writing", signal.SIGINT),
         ("writing", signal.SIGTERM)]


def test_signal_at_each_phase_leaves_old_output_and_no_temp(model_file: Path, tmp_path: Path) -> None:
    """All cases run side by side (one run's cost), each in its own folder with an old output."""
    before = digest(model_file)
    runs = []
    for i, (phase, sig) in enumerate(CASES):
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        out = folder / "lite.skops"
        out.write_bytes(OLD)
        gate = tmp_path / f"gate{i}"
        runs.append((phase, sig, folder, out, gate, start(model_file, out, "--force", pause=f"{phase}:{gate}")))
    for phase, sig, folder, out, gate, proc in runs:
        wait_paused(proc, gate)
        if phase == "writing":  # the temp file exists: the signal must remove it
            assert len(temps(folder)) == 1
        sent = time.monotonic()
        proc.send_signal(sig)
        code, stdout, stderr = finish(proc)
        took = time.monotonic() - sent
        name = signal.Signals(sig).name
        where = f"{name} at {phase}"
        assert code == 128 + sig, f"{where}: exit {code}, stderr {stderr!r}"
        assert stderr == f"skprune: interrupted by {name}; nothing was written\n", where
        assert stdout == "" or "Traceback" not in stdout, where
        assert took < GRACE_BOUND, f"{where}: took {took:.1f} s"
        assert sorted(p.name for p in folder.iterdir()) == ["lite.skops"], where
        assert out.read_bytes() == OLD, where
    assert digest(model_file) == before


def test_signal_inside_a_long_compression_call(model_file: Path, tmp_path: Path) -> None:
    """xz compresses each tree's node array in one C call of a second or more: a Python handler
    waits for it to return, so the watchdog ends the run (the bound holds on either path)."""
    out = tmp_path / "lite.pkl.xz"
    out.write_bytes(OLD)
    gate = tmp_path / "gate"
    proc = start(model_file, out, "--force", "--no-check", pause=f"writing:{gate}")
    wait_paused(proc, gate)
    gate.touch()
    time.sleep(1.0)  # inside lzma by now: xz runs at ~1.5 MB/s and the pickle is ~9 MB
    assert proc.poll() is None, "the run finished before the signal: the model is too small to test this"
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code, _, stderr = finish(proc)
    took = time.monotonic() - sent
    assert code == 143 and stderr == "skprune: interrupted by SIGTERM; nothing was written\n"
    assert took < GRACE_BOUND, f"took {took:.1f} s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate", "gate.paused", "lite.pkl.xz"]
    assert out.read_bytes() == OLD


def test_signal_stops_a_batch_and_its_workers(model_file: Path, tmp_path: Path) -> None:
    """``--jobs 2``: SIGTERM to the parent alone (a CI cancel) also stops the forked workers mid-write."""
    sources = tmp_path / "in"
    sources.mkdir()
    for name in ("a.skops", "b.skops"):
        shutil.copy(model_file, sources / name)
    folder, gate = tmp_path / "out", tmp_path / "gate"
    proc = start(sources / "a.skops", None, str(sources / "b.skops"), "-d", str(folder), "--jobs", "2",
                 "--no-check", pause=f"writing:{gate}")
    deadline = time.monotonic() + 240
    while len(temps(folder) if folder.exists() else []) < 2:  # both workers are writing
        assert proc.poll() is None and time.monotonic() < deadline, proc.poll()
        time.sleep(0.05)
    workers = [int(atomic.STALE.match(name)[1]) for name in temps(folder)]  # type: ignore[index]
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code, _, stderr = finish(proc)
    assert time.monotonic() - sent < GRACE_BOUND
    assert code == 143
    assert stderr == ("skprune: interrupted by SIGTERM; outputs finished before the signal are complete, "
                      "the others were not written\n")
    deadline = time.monotonic() + GRACE_BOUND
    while any(atomic._start_time(pid) is not None for pid in workers):  # exited (or zombies reaped by init)
        assert time.monotonic() < deadline, f"workers {workers} outlived their parent"
        time.sleep(0.05)
    assert list(folder.iterdir()) == []


def test_sigkill_keeps_old_output_and_next_run_removes_only_dead_temps(model_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "lite.skops"
    out.write_bytes(OLD)
    gate = tmp_path / "gate"
    proc = start(model_file, out, "--force", pause=f"writing:{gate}")
    wait_paused(proc, gate)
    (left,) = temps(folder)
    assert left.startswith(f".lite.skops.{proc.pid}-")  # recognisable: the target, the writer's pid
    proc.kill()
    assert finish(proc)[0] == -signal.SIGKILL
    assert out.read_bytes() == OLD and temps(folder) == [left]

    me, started = os.getpid(), atomic._start_time(os.getpid())
    gone = _dead_pid()
    live = f".other.skops.{me}-{started}-aaaaaaaa{atomic.SUFFIX}"  # a writer still running: kept
    reused = f".other.skops.{me}-{started + 1}-bbbbbbbb{atomic.SUFFIX}"  # same pid, another process: removed
    locked = f".other.skops.{gone}-1-cccccccc{atomic.SUFFIX}"  # pid unknown here, file locked: kept
    foreign = ".notes.txt.swp"  # not ours: never touched
    for name in (live, reused, locked, foreign):
        (folder / name).write_bytes(b"x")
    with open(folder / locked, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, stderr = finish(start(model_file, out, "--force", "--no-check", "-q"))
    assert code == 0, stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted([foreign, live, locked, "lite.skops"])
    assert sio.load(out, trusted=[TREE]).predict(np.zeros((1, 8))).shape == (1,)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# -- 2. durability ------------------------------------------------------------------------------------

def test_temp_is_fsynced_before_the_rename_and_the_folder_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "folder" if os.path.isdir(f"/proc/self/fd/{fd}") else f"file of {os.fstat(fd).st_size} bytes"
        calls.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(a: object, b: object) -> None:
        calls.append("rename")
        real_replace(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    target = tmp_path / "m.bin"
    with atomic.atomic_write(target, force=True) as handle:
        handle.write(b"z" * 100_000)  # still in the handle's buffer until flushed
    assert calls == ["fsync file of 100000 bytes", "rename", "fsync folder"]
    assert target.read_bytes() == b"z" * 100_000


def test_a_signal_during_bookkeeping_is_held_until_the_block_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between creating the temp file and registering it, or renaming and recording it, a signal waits."""
    monkeypatch.setattr(signals._State, "received", None)
    monkeypatch.setattr(signals._State, "pending", None)
    monkeypatch.setattr(signals, "_stop_children", lambda: None)  # this process's children are not ours to stop
    steps = []
    with pytest.raises(signals.Interrupted) as info:
        with signals.deferred():
            signals._handler(signal.SIGTERM, None)  # what Python calls when SIGTERM arrives here
            steps.append("bookkeeping done")
    assert steps == ["bookkeeping done"] and info.value.exit_code == 143
    signals._handler(signal.SIGINT, None)  # a second signal while stopping changes nothing


def test_message_names_an_output_completed_before_the_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "_published", [])
    assert signals.message(signals.Interrupted(signal.SIGINT)).endswith("; nothing was written")
    with atomic.atomic_write(tmp_path / "m.bin") as handle:
        handle.write(b"done")
    line = signals.message(signals.Interrupted(signal.SIGTERM))
    assert line == f"skprune: interrupted by SIGTERM; {tmp_path / 'm.bin'} was already complete"


# -- 3. a full disk, a read-only or vanished folder ----------------------------------------------------

@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``folder``, or a skip saying why it cannot be mounted here."""
    folder.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs to fill ({exc}); needs root and mount(8)")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill: {done.stderr.strip() or done.returncode} (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_full_disk_exits_4_naming_the_folder_and_leaves_nothing(model_file: Path, tmp_path: Path) -> None:
    before = digest(model_file)
    with tmpfs(tmp_path / "small", "size=1m") as folder:
        out = folder / "lite.skops"
        code, stdout, stderr = finish(start(model_file, out, "--no-check"))
        assert code == 4, stderr
        assert stderr == f"skprune: {out}: could not write in {folder}: no space left on device\n"
        assert stdout == "" and list(folder.iterdir()) == []
    assert digest(model_file) == before


def test_read_only_folder_is_refused_before_any_work(model_file: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permission bits: only a read-only mount stops it
        context = tmpfs(tmp_path / "ro", "ro,size=1m")
        reason = "read-only file system"
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        context = contextlib.nullcontext(tmp_path / "ro")
        reason = "permission denied"
    with context as folder:
        out = folder / "lite.skops"
        code, _, stderr = finish(start(model_file, out))
        assert code == 4 and stderr == f"skprune: {out}: cannot write in {folder}: {reason}\n"
        assert list(folder.iterdir()) == []


def test_folder_that_vanishes_while_the_temp_file_is_written(model_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    gate = tmp_path / "gate"
    out = folder / "lite.skops"
    proc = start(model_file, out, "--no-check", pause=f"writing:{gate}")
    wait_paused(proc, gate)
    shutil.rmtree(folder)
    gate.touch()
    code, _, stderr = finish(proc)
    assert code == 4 and stderr == f"skprune: {out}: could not write in {folder}: the folder no longer exists\n"
    assert not folder.exists()


# -- 4. concurrent writers ----------------------------------------------------------------------------

def test_concurrent_writers_leave_one_complete_model(model_file: Path, tmp_path: Path) -> None:
    """Four runs with --force released together at the write; two without --force race for a new name."""
    folder = tmp_path / "out"
    folder.mkdir()
    forced, fresh = folder / "lite.skops", folder / "fresh.skops"
    forced.write_bytes(OLD)
    gate = tmp_path / "gate"
    procs = [start(model_file, forced, "--force", "--no-check", pause=f"writing:{gate}") for _ in range(4)]
    procs += [start(model_file, fresh, "--no-check", pause=f"writing:{gate}") for _ in range(2)]
    deadline = time.monotonic() + 240
    while len(temps(folder)) < len(procs):  # every run holds its temp file: all are at the write
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
            [finish(p) for p in procs if p.poll() is not None]
        time.sleep(0.05)
    gate.touch()
    results = [finish(p) for p in procs]
    assert [r[0] for r in results[:4]] == [0, 0, 0, 0], results
    assert sorted(r[0] for r in results[4:]) == [0, 4], results
    loser = next(r for r in results[4:] if r[0] == 4)
    assert loser[2] == f"skprune: {fresh}: output exists; pass --force to replace it\n"
    assert sorted(p.name for p in folder.iterdir()) == ["fresh.skops", "lite.skops"]
    original = sio.load(model_file, trusted=[TREE])
    rows = np.random.default_rng(1).normal(size=(200, 8)).astype(np.float32)
    for path in (forced, fresh):
        pruned = sio.load(path, trusted=[TREE])
        np.testing.assert_allclose(pruned.predict(rows), original.predict(rows), rtol=1e-3, atol=1e-3)
