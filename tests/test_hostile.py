"""Hostile and broken model files: refused safely (exit 3), nothing lost, time and memory bounded.

For every crafted input in ``hostile_payloads.CASES`` and every command
(``inspect``, ``shrink -o OUT``, ``check`` with the file first and second):

* the exit code is the case's (3, input refused);
* stderr is exactly one line, ``skprune: <path>: <reason>``, stdout is empty and
  there is no traceback anywhere;
* the payload never ran: the sentinel's folder is still empty;
* the input's bytes and its folder are unchanged, and after ``shrink`` OUT's
  folder is empty (no OUT, no ``.OUT.*.skprune-tmp``).

Light cases run through ``CliRunner`` in a forked copy of the test process
(``run_forked``): cheap, yet a segfault (a crafted tree reaching
``predict``) or a hang (a tree cycle) fails one test instead of the whole run;
peak RSS growth is measured by resetting the high-water mark
(``/proc/self/clear_refs``). Heavy cases (bombs, deep nesting, 20 MiB buffers,
FIFOs, ``/dev/zero``) and a sample of the light ones run as
``python -m skprune_cli`` subprocesses, with a timeout, the child's own peak
RSS (its ``VmHWM``) and CPU time, and a 16 GiB address-space cap (far above every bound
asserted, so a missing limit fails the RSS assertion instead of exhausting the
machine). The payloads are proven live, and positive controls and the
``--max-size`` / ``--max-ratio`` options are checked at the end.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import faulthandler
import gzip
import hashlib
import io
import json
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import scipy.sparse as sp
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_selection import VarianceThreshold
from typer.testing import CliRunner

import hostile_payloads as hp
import hostile_joblib as hj
from conftest import save
from hostile_payloads import CASES, GiB, MiB, Case
from skprune_cli import load_model
from skprune_cli.cli import app

# Far above every bound asserted (so a missing limit shows as a failed RSS assertion, not as a MemoryError
# that the cap itself caused) yet below the machine's memory, so that it never takes the machine down.
ADDRESS_SPACE_CAP = min(16 * GiB, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 2 // 3)
COMMANDS = ("inspect", "shrink", "check-first", "check-second")
LIGHT = [case for case in CASES if not case.heavy]
HEAVY = [case for case in CASES if case.heavy]
BOMBS = [case for case in HEAVY if case.max_seconds <= 10]  # time-bounded: run alone, after the others


# --------------------------------------------------------------------------- running skprune

@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int | None = None  # bytes; None when it cannot be measured
    timed_out: bool = False
    cpu_seconds: float | None = None  # the child's own user + system time; None when not a subprocess


def cli_args(command: str, path: Path, valid: Path, out: Path, trust: tuple[str, ...] = ()) -> list[str]:
    args = {
        "inspect": ["inspect", path],
        "shrink": ["shrink", path, "-o", out],
        "check-first": ["check", path, valid],
        "check-second": ["check", valid, path],
    }[command]
    for name in trust:
        args += ["--trust", name]
    return [str(a) for a in args]


def _status(key: str) -> int | None:
    with contextlib.suppress(OSError), open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def python_default_warnings() -> Iterator[None]:
    """The warning filters of a fresh ``python`` process, so stderr is judged as a user would see it."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        yield


def run_in_process(args: list[str]) -> Outcome:
    """CliRunner in this process; peak RSS growth from the reset high-water mark."""
    with python_default_warnings():
        before = _status("VmRSS")
        measured = before is not None and _reset_peak_rss()
        start = time.monotonic()
        result = CliRunner().invoke(app, args, env={"SKPRUNE_DEBUG": None})
        seconds = time.monotonic() - start
        peak = _status("VmHWM") if measured else None
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))  # shows up as a Traceback
    return Outcome(result.exit_code, result.stdout, stderr, seconds,
                   None if peak is None or before is None else peak - before)


def run_forked(args: list[str], timeout: float = 30.0) -> Outcome:
    """``run_in_process`` in a forked copy of this process: a segfault or a hang fails one test, not the run."""
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: run, report through the pipe, leave without any cleanup
        try:
            faulthandler.disable()  # a crash is reported as a signal below, not as a dump on the terminal
            os.close(read_fd)
            data = pickle.dumps(run_in_process(args))
        except BaseException:  # noqa: BLE001 - report whatever happened
            data = pickle.dumps(Outcome(99, "", traceback.format_exc(), time.monotonic() - start))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
        os._exit(0)
    os.close(write_fd)
    chunks, timed_out = [], False
    with os.fdopen(read_fd, "rb") as pipe:
        while True:
            remaining = timeout - (time.monotonic() - start)
            if remaining <= 0 or not select.select([pipe], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)  # our own fork
                timed_out = True
                break
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status, _ = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    if chunks and not timed_out:
        return pickle.loads(b"".join(chunks))
    code = os.waitstatus_to_exitcode(status)
    what = f"killed after {timeout:.0f} s" if timed_out else f"died: exit status {code}"
    if code < 0:
        what += f" ({signal.Signals(-code).name})"
    return Outcome(code, "", f"[the forked run {what}; no result]", seconds, None, timed_out)


# The child reports its own high-water mark as it exits. ``wait4``'s ru_maxrss cannot be used: Linux
# carries the parent's peak across fork+exec, so a big pytest worker made every child look 500 MiB.
_CHILD_BOOTSTRAP = """
import atexit, os, runpy, sys
def _report_peak(path=os.environ.pop("SKPRUNE_TEST_HWM")):
    with open("/proc/self/status") as status, open(path, "w") as out:
        out.write(next((line.split()[1] for line in status if line.startswith("VmHWM:")), ""))
atexit.register(_report_peak)
sys.argv[0] = "skprune"
runpy.run_module("skprune_cli", run_name="__main__", alter_sys=True)
"""


def _read_peak(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text()) * 1024
    return None


def run_subprocess(args: list[str], timeout: float = 60.0) -> Outcome:
    """``python -m skprune_cli ARGS`` with a timeout; peak RSS is the child's own VmHWM (None if it was killed)."""
    with tempfile.TemporaryDirectory() as scratch, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        hwm = Path(scratch) / "vmhwm"
        env = {k: v for k, v in os.environ.items() if k != "SKPRUNE_DEBUG"} | {"SKPRUNE_TEST_HWM": str(hwm)}
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", _CHILD_BOOTSTRAP, *args], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env=env, start_new_session=True)
        with contextlib.suppress(OSError):
            resource.prlimit(proc.pid, resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                os.killpg(proc.pid, signal.SIGKILL)  # the child leads its own session: only what we started
                _, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Outcome(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                       seconds, _read_peak(hwm), timed_out, usage.ru_utime + usage.ru_stime)


# --------------------------------------------------------------------------- built inputs

@dataclass
class Built:
    case: Case
    path: Path
    sentinel: Path
    digest: str | None  # sha256 of a regular input
    listing: list[str] = field(default_factory=list)  # the input folder, sentinels aside

    def reset_sentinel(self) -> None:
        for item in self.sentinel.parent.iterdir():
            item.unlink()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_listing(built: Built) -> list[str]:
    folder = built.sentinel.parent.parent
    return sorted(p.name for p in folder.iterdir() if p != built.sentinel.parent)


class CaseFiles:
    """Each case built at most once per session and flavour (in-process / subprocess)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[tuple[str, str], Built] = {}

    def get(self, case: Case, flavour: str = "inproc") -> Built:
        key = (case.name, flavour)
        if key not in self.built:
            folder = self.root / flavour / case.name
            (folder / "sentinels").mkdir(parents=True)
            sentinel = folder / "sentinels" / "pwned"
            path = case.build(folder, sentinel)
            built = Built(case, path, sentinel, sha256(path) if case.regular else None)
            built.listing = folder_listing(built)
            self.built[key] = built
        return self.built[key]


@pytest.fixture(scope="session")
def case_files(tmp_path_factory: pytest.TempPathFactory) -> CaseFiles:
    return CaseFiles(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def valid_skops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The well-formed partner file of the ``check`` runs."""
    return save(hp.small_logreg(), tmp_path_factory.mktemp("valid") / "valid.skops")


def assert_refused(built: Built, outcome: Outcome, out_dir: Path) -> None:
    """The contract for one run on a hostile input; the worst breach is reported first."""
    case = built.case
    shown = f"exit {outcome.exit_code}\nstdout: {outcome.stdout[:1500]!r}\nstderr: {outcome.stderr[-3000:]!r}"
    assert hp.sentinel_fired(built.sentinel) == [], f"{case.name}: THE PAYLOAD RAN\n{shown}"
    assert not outcome.timed_out, f"{case.name}: still running after {outcome.seconds:.0f} s (killed)"
    assert "Traceback" not in outcome.stdout + outcome.stderr, shown
    assert outcome.exit_code == case.exit_code, shown
    assert outcome.stdout == "", shown
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, shown
    line = lines[0]
    assert line.startswith("skprune: ") and str(built.path) in line, shown
    assert len(line.split(str(built.path), 1)[1].strip(" :")) >= 3, f"no reason given: {line!r}"
    if built.digest is not None:
        assert sha256(built.path) == built.digest, "the input file was modified"
        assert folder_listing(built) == built.listing, "files appeared or vanished beside the input"
    assert sorted(p.name for p in out_dir.iterdir()) == [], "output or temp file left behind"


def assert_bounded(case: Case, outcome: Outcome) -> None:
    if sys.platform == "linux":  # /proc gives the figure; elsewhere the bound goes unchecked
        assert outcome.peak_rss is not None, f"{case.name}: peak RSS was not measured"
    if outcome.peak_rss is not None:
        assert outcome.peak_rss < case.max_rss, \
            f"{case.name}: peak RSS {outcome.peak_rss / MiB:.0f} MiB >= {case.max_rss / MiB:.0f} MiB"
    # CPU time, not wall time: the work a bomb makes us do, whatever else shares the machine (a CI runner
    # under load took 15 s of wall time for 4 s of CPU). Wall time is still capped by the run's timeout.
    spent = outcome.seconds if outcome.cpu_seconds is None else outcome.cpu_seconds
    assert spent < case.max_seconds, f"{case.name}: took {spent:.1f} s of CPU ({outcome.seconds:.1f} s wall)"


# --------------------------------------------------------------------------- the payloads are real

def test_payloads_are_live(tmp_path: Path) -> None:
    """Each ``live`` payload fires under the format's standard loader, so "no sentinel" means something."""
    live = [case for case in CASES if case.live]
    jobs = []
    for case in live:
        folder = tmp_path / case.name
        (folder / "sentinels").mkdir(parents=True)
        jobs.append((case.live, str(case.build(folder, folder / "sentinels" / "pwned"))))
    script = textwrap.dedent("""
        import gzip, joblib, json, lzma, pickle, sys, skops.io as sio
        for loader, path in json.loads(sys.argv[1]):
            try:
                if loader == "joblib":
                    joblib.load(path)
                elif loader == "pickle":
                    opener = gzip.open if path.endswith(".gz") else lzma.open if path.endswith(".xz") else open
                    with opener(path, "rb") as handle:
                        pickle.load(handle)
                else:
                    sio.load(path, trusted=sio.get_untrusted_types(file=path))
            except Exception as exc:
                print(path, type(exc).__name__, exc, file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script, json.dumps(jobs)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    dead = [case.name for case in live if not hp.sentinel_fired(tmp_path / case.name / "sentinels" / "pwned")]
    assert dead == [], f"payloads that did not fire: {dead}\n{done.stderr}"


def test_bomb_builders_make_what_they_claim(tmp_path: Path, case_files: CaseFiles) -> None:
    """Small versions decode to all-zero data of the declared size; the real ones declare 4 GiB in a few MB."""
    small = hp.zip_bomb(tmp_path, tmp_path / "s", n_bytes=8 * MiB)
    with zipfile.ZipFile(small) as archive:
        schema = json.loads(archive.read("schema.json"))
        member = archive.read(hp.attribute(schema, "coef_")["file"])
    array = np.load(io.BytesIO(member))
    assert array.shape == (1, MiB) and array.dtype == np.float64 and not array.any()
    data = pickle.loads(gzip.decompress(hp.gzip_bomb(tmp_path, tmp_path / "s", n_bytes=8 * MiB).read_bytes()))
    assert len(data) == 8 * MiB and not any(data[:: 4096])

    bomb = case_files.get(hp.CASES_BY_NAME["skops_zip_bomb"], "subprocess").path
    with zipfile.ZipFile(bomb) as archive:
        assert max(info.file_size for info in archive.infolist()) >= 4 * GiB
    assert bomb.stat().st_size < 8 * MiB
    assert case_files.get(hp.CASES_BY_NAME["pkl_gz_bomb"], "subprocess").path.stat().st_size < 8 * MiB


@pytest.mark.parametrize("codec", hj.CODECS)
def test_joblib_bombs_are_real(codec: str, tmp_path: Path, case_files: CaseFiles) -> None:
    """joblib.load reads a small bomb (8 MiB of zeros) as the model with that coef_; the real one is a few MB."""
    import joblib

    small = hj.write_zero_bomb(tmp_path / f"small.{codec}", codec, n_bytes=8 * MiB, chunk=MiB)
    model = joblib.load(small)
    assert model.coef_.shape == (1, MiB) and not model.coef_.any()
    bomb = case_files.get(hp.CASES_BY_NAME[f"joblib_bomb_{codec}"], "subprocess").path
    assert bomb.stat().st_size < 8 * MiB


# --------------------------------------------------------------------------- in-process bulk

@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", LIGHT, ids=lambda case: case.name)
def test_refused_in_process(case: Case, command: str, case_files: CaseFiles, valid_skops: Path,
                            tmp_path: Path) -> None:
    built = case_files.get(case)
    built.reset_sentinel()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    outcome = run_forked(cli_args(command, built.path, valid_skops, out_dir / "lite.skops", case.trust))
    assert_refused(built, outcome, out_dir)
    assert_bounded(case, outcome)


# --------------------------------------------------------------------------- subprocesses

SUBPROCESS_PLAN = (
    [(case, command) for case in BOMBS for command in ("inspect", "shrink", "check-second")]
    + [(case, command) for case in HEAVY if case not in BOMBS for command in ("inspect", "shrink")]
    + [(case, "inspect") for case in LIGHT if case.sample]
)


@dataclass
class PlannedRun:
    built: Built
    out_dir: Path
    outcome: Outcome


@pytest.fixture(scope="session")
def subprocess_runs(case_files: CaseFiles, valid_skops: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], PlannedRun]:
    """Every planned subprocess run, two at a time; the bombs afterwards, alone, so their timing is clean."""
    root = tmp_path_factory.mktemp("subprocess_out")
    runs: dict[tuple[str, str], PlannedRun] = {}

    def run(case: Case, command: str) -> None:
        built = case_files.get(case, "subprocess")
        out_dir = root / f"{case.name}-{command}"
        out_dir.mkdir()
        args = cli_args(command, built.path, valid_skops, out_dir / "lite.skops", case.trust)
        runs[(case.name, command)] = PlannedRun(built, out_dir, run_subprocess(args, timeout=max(case.max_seconds, 60)))

    for case, _ in SUBPROCESS_PLAN:
        case_files.get(case, "subprocess")  # build everything first, in this thread
    shared = [(case, command) for case, command in SUBPROCESS_PLAN if case not in BOMBS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: run(*job), shared))
    for case, command in SUBPROCESS_PLAN:
        if case in BOMBS:
            run(case, command)
    return runs


@pytest.mark.parametrize("case, command", SUBPROCESS_PLAN, ids=[f"{c.name}-{cmd}" for c, cmd in SUBPROCESS_PLAN])
def test_refused_in_subprocess(case: Case, command: str, subprocess_runs: dict[tuple[str, str], PlannedRun]) -> None:
    planned = subprocess_runs[(case.name, command)]
    assert_refused(planned.built, planned.outcome, planned.out_dir)
    assert_bounded(case, planned.outcome)


def test_subprocess_harness_measures_a_normal_run(tmp_path: Path) -> None:
    """Positive control for the harness: a legit shrink through a subprocess, exit 0, RSS measured and sane."""
    source = save(hp.small_logreg(), tmp_path / "m.skops")
    ballast = bytearray(700 * MiB)  # this process's peak must not leak into the child's figure
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    del ballast
    outcome = run_subprocess(["shrink", str(source), "-o", str(tmp_path / "lite.skops")])
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.peak_rss is not None and 20 * MiB < outcome.peak_rss < 600 * MiB
    assert outcome.cpu_seconds is not None and 0.2 < outcome.cpu_seconds  # importing sklearn alone costs more
    assert (tmp_path / "lite.skops").exists()


# --------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("command", COMMANDS)
def test_missing_file_is_a_usage_error(command: str, valid_skops: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.skops"
    outcome = run_forked(cli_args(command, missing, valid_skops, tmp_path / "lite.skops"))
    assert outcome.exit_code == 2 and outcome.stdout == "" and "Traceback" not in outcome.stderr
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("skprune: ") and str(missing) in lines[0]
    assert not (tmp_path / "lite.skops").exists()


@pytest.mark.parametrize("option, value", [("--max-size", "banana"), ("--max-size", "12Q"), ("--max-ratio", "abc")])
def test_nonsense_limits_are_usage_errors(option: str, value: str, valid_skops: Path) -> None:
    outcome = run_forked(["inspect", str(valid_skops), option, value])
    assert outcome.exit_code == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr and outcome.stdout == ""


# --------------------------------------------------------------------------- limits

def test_max_size_refuses_a_small_model_and_the_default_accepts_it(valid_skops: Path, tmp_path: Path) -> None:
    """--max-size 1K refuses a ~7 KB archive (exit 3, one line, nothing written); the default and 16G load it."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "lite.skops"
    for args in (["inspect", valid_skops], ["shrink", valid_skops, "-o", out], ["check", valid_skops, valid_skops]):
        outcome = run_forked([str(a) for a in args] + ["--max-size", "1K"])
        assert outcome.exit_code == 3, outcome.stderr
        assert outcome.stdout == "" and len(outcome.stderr.splitlines()) == 1, outcome.stderr
        assert str(valid_skops) in outcome.stderr
        assert list(out_dir.iterdir()) == []
    assert run_forked(["inspect", str(valid_skops)]).exit_code == 0
    for size in ("500M", "16G"):
        assert run_forked(["inspect", str(valid_skops), "--max-size", size]).exit_code == 0
    assert run_forked(["check", str(valid_skops), str(valid_skops), "--max-size", "16G",
                           "--max-ratio", "1000000"]).exit_code == 0
    outcome = run_forked(["shrink", str(valid_skops), "-o", str(out), "--max-size", "500M", "--max-ratio", "5000"])
    assert outcome.exit_code == 0, outcome.stderr
    assert out.exists()


@pytest.fixture(scope="module")
def zeros_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A legit model with one 128 MiB all-zero member, DEFLATE-compressed about 1000:1."""
    X = sp.csr_matrix(([1.0], ([1], [0])), shape=(2, 1 << 24))
    model = VarianceThreshold().fit(X)
    path = tmp_path_factory.mktemp("zeros") / "zeros.skops"
    sio.dump(model, path, compression=zipfile.ZIP_DEFLATED)
    return path


def test_max_ratio_refuses_and_raising_it_accepts(zeros_model: Path) -> None:
    """A lowered --max-ratio refuses a highly compressible member; raising the limit explicitly loads it."""
    outcome = run_forked(["inspect", str(zeros_model), "--max-ratio", "10"])
    assert outcome.exit_code == 3, outcome.stderr
    assert len(outcome.stderr.splitlines()) == 1 and str(zeros_model) in outcome.stderr
    outcome = run_forked(["inspect", str(zeros_model), "--max-ratio", "1000000"])
    assert outcome.exit_code == 0, outcome.stderr


# --------------------------------------------------------------------------- positive controls

@pytest.fixture()
def hgb(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    X, y = iris
    return HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)


@pytest.mark.parametrize("suffix", [".skops", ".pkl"])
@pytest.mark.parametrize("name", ["forest", "hgb"])
def test_valid_trees_load_without_trust(name: str, suffix: str, request: pytest.FixtureRequest, tmp_path: Path,
                                        iris: tuple[np.ndarray, np.ndarray]) -> None:
    """Well-formed Tree / TreePredictor content is validated and accepted without --trust, unchanged."""
    model = request.getfixturevalue(name)
    source = save(model, tmp_path / f"m{suffix}")
    outcome = run_forked(["inspect", str(source)])
    assert outcome.exit_code == 0, outcome.stderr
    loaded = load_model(source)
    np.testing.assert_array_equal(loaded.predict_proba(iris[0]), model.predict_proba(iris[0]))


@pytest.mark.parametrize("suffix", [".skops", ".pkl", ".pkl.gz"])
@pytest.mark.parametrize("name", ["logreg", "svc_pipe", "text_nb"])
def test_normal_models_still_shrink(name: str, suffix: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model = request.getfixturevalue(name)
    source = tmp_path / f"m{suffix}"
    if suffix == ".pkl.gz":
        source.write_bytes(gzip.compress(pickle.dumps(model, protocol=5), mtime=0))
    else:
        save(model, source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    outcome = run_forked(["shrink", str(source), "-o", str(out_dir / "lite.skops")])
    assert outcome.exit_code == 0, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert [p.name for p in out_dir.iterdir()] == ["lite.skops"]
