"""Progress bars: on a terminal for big files, never with --quiet or --json, never on stdout.

stderr is attached to a pseudo-terminal (as a user's shell would be) while
stdout stays a pipe, so both can be checked separately.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from conftest import save
from corpus import documents

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    """An ~18 MB .skops text model, over the 10 MB threshold for progress bars."""
    docs = documents(1500, lines_per_doc=40)
    model = make_pipeline(TfidfVectorizer(), TruncatedSVD(120, random_state=0)).fit(docs)
    path = save(model, tmp_path_factory.mktemp("big") / "big.skops")
    assert path.stat().st_size > 10 << 20
    return path


def run_with_tty_stderr(args):
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "skprune_cli", *args], stdout=subprocess.PIPE,
                            stderr=terminal, env={**os.environ, "COLUMNS": "100"})
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    stdout, _ = proc.communicate(timeout=120)
    os.close(controller)
    return proc.returncode, stdout.decode(), ANSI.sub(b"", b"".join(chunks)).decode(errors="replace")


def test_progress_on_a_terminal(big_model, tmp_path):
    code, stdout, stderr = run_with_tty_stderr(["shrink", str(big_model), "-o", str(tmp_path / "o.skops"), "--zip"])
    assert code == 0
    for step in ("loading", "checking", "writing"):
        assert step in stderr, stderr[-500:]
    assert "loading" not in stdout and "on disk:" in stdout


def test_no_progress_with_json_or_quiet(big_model, tmp_path):
    code, stdout, stderr = run_with_tty_stderr(["shrink", str(big_model), "-o", str(tmp_path / "j.skops"), "--json"])
    assert code == 0
    assert json.loads(stdout)["schema"] == "skprune.shrink/1"
    assert "loading" not in stderr and "writing" not in stderr
    code, stdout, stderr = run_with_tty_stderr(["shrink", str(big_model), "-o", str(tmp_path / "q.skops"), "-q"])
    assert code == 0 and stdout == "" and "loading" not in stderr


def test_no_progress_when_stderr_is_not_a_terminal(big_model, tmp_path):
    result = subprocess.run([sys.executable, "-m", "skprune_cli", "shrink", str(big_model), "-o",
                             str(tmp_path / "p.skops")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
