"""``[tool.skprune]`` in the nearest pyproject.toml: discovery, flags win, unknown keys, --no-config."""

from __future__ import annotations

import json

import pytest

from conftest import save
from skprune_cli.cli import app
from skprune_cli.config import load_config
from skprune_cli.errors import UsageError


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def project(tmp_path, monkeypatch, logreg):
    """A project whose pyproject.toml asks for the exact preset; the CLI runs from a subfolder."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.skprune]\npreset = "exact"\nkeep = ["*.coef_"]\n'
        'label_tolerance = 0.0\ntrust = []\n'
    )
    sub = tmp_path / "models" / "deep"
    sub.mkdir(parents=True)
    save(logreg, sub / "m.skops")
    monkeypatch.chdir(sub)
    return tmp_path


def test_config_found_from_a_subfolder_and_named_in_reports(runner, project):
    result = run(runner, "shrink", "m.skops", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["preset"] == "exact" and doc["config"] == str(project / "pyproject.toml")
    coef = next(a for a in doc["arrays"] if a["path"].endswith("coef_"))
    assert coef["dtype_after"] == "float64" and "keep" in coef["reason"]
    human = run(runner, "shrink", "m.skops", "--dry-run")
    assert f"options from {project / 'pyproject.toml'}" in human.stdout
    inspect = json.loads(run(runner, "inspect", "m.skops", "--json").stdout)
    assert inspect["preset"] == "exact" and inspect["config"] == str(project / "pyproject.toml")


def test_flags_win_and_no_config_ignores_the_file(runner, project):
    flagged = json.loads(run(runner, "shrink", "m.skops", "--dry-run", "--json", "--preset", "float32").stdout)
    assert flagged["preset"] == "float32" and flagged["config"] == str(project / "pyproject.toml")
    ignored = json.loads(run(runner, "shrink", "m.skops", "--dry-run", "--json", "--no-config").stdout)
    assert ignored["preset"] == "auto" and ignored["config"] is None
    coef = next(a for a in ignored["arrays"] if a["path"].endswith("coef_"))
    assert "keep" not in coef["reason"]


def test_unknown_key_and_wrong_type_are_usage_errors(runner, project):
    toml = project / "pyproject.toml"
    toml.write_text('[tool.skprune]\npreset = "exact"\ntolerence = 0.01\n')
    result = run(runner, "shrink", "m.skops", "--dry-run")
    assert result.exit_code == 2 and "'tolerence'" in result.stderr and str(toml) in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert run(runner, "shrink", "m.skops", "--dry-run", "--no-config").exit_code == 0
    toml.write_text('[tool.skprune]\ntolerance = "small"\n')
    wrong = run(runner, "inspect", "m.skops")
    assert wrong.exit_code == 2 and "tolerance" in wrong.stderr and "a number" in wrong.stderr
    toml.write_text('[tool.skprune]\ncompression = "zstd"\n')
    assert "one of none, deflate" in run(runner, "inspect", "m.skops").stderr


def test_nearest_file_with_a_table_wins_and_paths_are_relative_to_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.skprune]\ndata = "rows.npy"\njobs = 3\n')
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "no-table-here"\n')
    config = load_config(inner)
    assert config.path == tmp_path / "pyproject.toml"
    assert config.values == {"data": tmp_path / "rows.npy", "jobs": 3}
    (inner / "pyproject.toml").write_text("[tool.skprune\n")
    with pytest.raises(UsageError, match="TOML"):
        load_config(inner)
    assert load_config(tmp_path / "pkg" / "..").path == tmp_path / "pyproject.toml"
