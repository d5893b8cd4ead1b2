"""Files saved by another scikit-learn: one note instead of warnings, or one refusal naming the version.

The fixtures in fixtures/old/ were saved by older scikit-learn releases
(fixtures/make_old_fixtures.py). Whether a file must load is decided the way a
user would find out: by loading it with the standard loader in this
environment. The same tests run in CI's oldest-supported environment, where
different files load.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
import sklearn

from typer.testing import CliRunner

from skprune_cli.cli import app
from skprune_cli.formats.versions import saved_versions

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "old"
FILES = sorted(p for p in OLD.iterdir() if p.suffix in (".pkl", ".skops", ".joblib"))


def _version(path: Path) -> str:
    return path.name.split("_")[0].removeprefix("sklearn")


def _loads_plainly(path: Path) -> bool:
    """Can this environment's scikit-learn load the file at all? (These files are ours.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if path.suffix == ".skops":
                sio.load(path, trusted=sio.get_untrusted_types(file=path))
            elif path.suffix == ".joblib":
                joblib.load(path)
            else:
                with open(path, "rb") as handle:
                    pickle.load(handle)
        except Exception:  # noqa: BLE001 - any failure means scikit-learn cannot load it here
            return False
    return True


def _shrink(path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """A real process: what reaches stderr is what a user sees."""
    return subprocess.run([sys.executable, "-m", "skprune_cli", "shrink", str(path), "-o", str(out), *extra],
                          capture_output=True, text=True, env=dict(os.environ))


def _shrink_here(path: Path, out: Path, *extra: str) -> Result:
    """The same command in this process (fast); the caller records any warning that escapes."""
    result = CliRunner().invoke(app, ["shrink", str(path), "-o", str(out), *extra])
    return Result(result.exit_code, result.stdout, result.stderr)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def test_fixtures_record_their_versions():
    assert FILES and {_version(p) for p in FILES} >= {"1.2.2", "1.5.2"}
    for path in FILES:
        assert saved_versions(path) == {_version(path)}, path.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_old_files_load_where_scikit_learn_can_and_say_so(tmp_path, path):
    out = tmp_path / f"lite{path.suffix}"
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        result = _shrink_here(path, out, "--json")
    assert not [w for w in leaked if "Version" in w.category.__name__]
    assert "InconsistentVersionWarning" not in result.stderr and "Traceback" not in result.stderr
    saved = _version(path)
    if _loads_plainly(path):
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        notes = [n for n in doc["notes"] if "saved with scikit-learn" in n]
        if saved == sklearn.__version__:
            assert not notes
        else:
            assert notes == [f"saved with scikit-learn {saved}, written by {sklearn.__version__} — run skprune "
                             "in the environment that serves the model to keep its version"]
        held = np.load(OLD / "held_out.npy")
        expected = np.load(OLD / f"{path.stem}.predict.npy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.suffix == ".skops":
                pruned = sio.load(out, trusted=doc["trusted_types"])
            elif path.suffix == ".joblib":
                pruned = joblib.load(out)
            else:
                pruned = pickle.load(open(out, "rb"))
        np.testing.assert_array_equal(pruned.predict(held), expected)
    else:
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.stderr.count("\n") == 1 and str(path) in result.stderr
        assert f"saved with scikit-learn {saved}, which the installed scikit-learn {sklearn.__version__} " \
               "cannot load" in result.stderr
        assert f"run skprune in an environment with scikit-learn {saved}" in result.stderr
        assert result.stdout == "" and not out.exists()


def test_human_report_carries_the_version_line(tmp_path):
    path = next(p for p in FILES if _version(p) != sklearn.__version__ and p.name.endswith("_logreg.pkl")
                and _loads_plainly(p))
    result = _shrink(path, tmp_path / "lite.pkl")
    assert result.returncode == 0, result.stderr
    shown = " ".join((result.stdout + result.stderr).split())
    assert f"saved with scikit-learn {_version(path)}, written by {sklearn.__version__}" in shown
    assert "InconsistentVersionWarning" not in result.stderr


def test_pre_1_4_scorers_load_where_scikit_learn_still_has_them(tmp_path):
    """_PredictScorer (scikit-learn <= 1.3) is on the allowlist wherever it exists."""
    from sklearn.metrics import _scorer

    path = OLD / "sklearn1.2.2_grid.pkl"
    result = _shrink_here(path, tmp_path / "lite.pkl")
    if hasattr(_scorer, "_PredictScorer"):
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 3 and "_PredictScorer no longer exists" in result.stderr
