"""The human report at 80 and 120 columns: readable paths, short dtype names, grouped rows, bars, tree."""

from __future__ import annotations

import pytest
from rich.console import Console
from sklearn.ensemble import RandomForestClassifier

from conftest import save
from skprune_cli.cli import app
from skprune_cli.inspection import inspect_model
from skprune_cli.render import render_inspect, render_shrink, short_dtype
from skprune_cli.shrinking import shrink


@pytest.fixture(scope="module")
def forest100(tmp_path_factory, iris):
    X, y = iris
    model = RandomForestClassifier(n_estimators=100, max_depth=2, random_state=0).fit(X, y)
    return save(model, tmp_path_factory.mktemp("forest") / "rf100.skops")


@pytest.fixture(scope="module")
def forest100_report(forest100):
    return shrink(forest100, dry_run=True, check=False)  # the layout is the topic here, not the check


def _text(render, report, width: int, **kwargs) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)
    render(report, console, **kwargs)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120])
def test_forest_shrink_report_is_readable(forest100_report, width):
    text = _text(render_shrink, forest100_report, width)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    nodes = next(line for line in lines if "estimators_.*.tree_.nodes" in line)
    assert "×100" in nodes and "tree nodes" in nodes
    assert "estimators_.*.tree_.values" in text and "'names'" not in text and "left_child" not in text
    rows = [line for line in lines if "estimators_." in line and "×" in line]
    assert len(rows) < 10  # not 200 near-identical rows


def test_verbose_lists_every_tree(forest100_report):
    text = _text(render_shrink, forest100_report, 120, verbose=True)
    assert "estimators_.99.tree_.nodes" in text and "estimators_.0.tree_.values" in text
    assert sum("tree_.nodes" in line for line in text.splitlines()) == 100 and "×100" not in text


@pytest.mark.parametrize("width", [80, 120])
def test_inspect_shows_shares_as_bars_and_a_tree(forest100, width):
    report = inspect_model(forest100)
    text = _text(render_inspect, report, width, tree=True)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    nodes = next(line for line in text.splitlines() if "estimators_.*.tree_.nodes" in line)
    assert "█" in nodes and "%" in nodes
    assert "RandomForestClassifier" in text and "(DecisionTreeClassifier) ×100" in text and "tree_ (Tree) ×100" in text


def test_short_dtype_names():
    assert short_dtype("{'names': ['left_child', 'right_child'], 'formats': ['<i8', '<i8']}") == "tree nodes"
    assert short_dtype("[('a', '<f8'), ('b', '<i4')]") == "record"
    assert short_dtype("float64 (sparse)") == "float64 (sparse)"
    assert short_dtype("{'names': ['left_child'], 'itemsize': 64} arrays are never cast") == "tree nodes arrays are never cast"


def test_unchecked_run_says_so_prominently(runner, tmp_path, logreg):
    source = save(logreg, tmp_path / "m.skops")
    result = runner.invoke(app, ["shrink", str(source), "--dry-run", "--no-check"])
    assert result.exit_code == 0 and "NO FIDELITY CHECK RAN" in result.stdout
    checked = runner.invoke(app, ["shrink", str(source), "--dry-run"])
    assert "NO FIDELITY CHECK" not in checked.stdout and "check passed" in checked.stdout
