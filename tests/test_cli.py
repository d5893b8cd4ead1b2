"""The command line: stdout, stderr and exit codes, flag by flag."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import TREE, load_plain, save
from skprune_cli.cli import app


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0 and result.stdout.startswith("skprune ")
    for command in ("inspect", "shrink"):
        result = run(runner, command, "--help")
        assert result.exit_code == 0 and "Example: skprune" in result.stdout


def test_inspect_table_lists_heaviest_first(runner, tmp_path, text_svd):
    path = save(text_svd, tmp_path / "m.skops")
    result = run(runner, "inspect", path, "--top", 3)
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "steps." in line]
    assert len(lines) == 3
    assert "truncatedsvd.components_" in lines[0]
    assert "showing the top 3" in result.stdout
    assert result.stderr == ""


def test_inspect_json_parses_and_is_alone_on_stdout(runner, tmp_path, text_svd):
    path = save(text_svd, tmp_path / "m.skops")
    result = run(runner, "inspect", path, "--json")
    doc = json.loads(result.stdout)
    assert doc["schema"] == "skprune.inspect/1"
    first = doc["arrays"][0]
    assert first["path"] == "steps.truncatedsvd.components_"
    assert {"path", "dtype", "shape", "bytes", "owner", "dtype_after"} <= set(first)
    assert first["dtype_after"] == "float32" and doc["total_bytes"] > doc["total_bytes_after"]
    assert doc["model"]["format"] == "skops"


def test_inspect_with_cast_reports_float16_savings(runner, tmp_path, text_svd):
    path = save(text_svd, tmp_path / "m.skops")
    doc = json.loads(run(runner, "inspect", path, "--json", "--cast", "float64=float16").stdout)
    assert doc["arrays"][0]["dtype_after"] == "float16"
    assert doc["arrays"][0]["bytes_after"] * 4 == doc["arrays"][0]["bytes"]


def test_shrink_writes_a_plain_skops_file(runner, tmp_path, text_svd, docs):
    source = save(text_svd, tmp_path / "m.skops")
    out = tmp_path / "lite.skops"
    result = run(runner, "shrink", source, "-o", out, "--zip", "--cast", "float64=float16")
    assert result.exit_code == 0, result.stderr
    assert "on disk:" in result.stdout and "sio.load" in result.stdout
    assert out.stat().st_size < source.stat().st_size / 4
    model = load_plain(out)
    ref, new = text_svd.transform(docs[:50]), model.transform(docs[:50])
    assert np.abs(new - ref).max() / np.abs(ref).max() < 1e-3
    with zipfile.ZipFile(out) as archive:
        # --zip: DEFLATE, and tuned LZMA for big numeric members; both read by plain zipfile/skops
        assert all(i.compress_type in (zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA) for i in archive.infolist())


def test_shrink_json_report(runner, tmp_path, text_svd):
    source = save(text_svd, tmp_path / "m.skops")
    out = tmp_path / "lite.skops"
    result = run(runner, "shrink", source, "-o", out, "--json", "--zip")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema"] == "skprune.shrink/1"
    assert doc["input"]["path"] == str(source) and doc["output"]["path"] == str(out)
    assert doc["output"]["bytes"] == out.stat().st_size
    entry = next(a for a in doc["arrays"] if a["path"] == "steps.truncatedsvd.components_")
    # the default tries float16 and keeps it because the check passes
    assert (entry["dtype_before"], entry["dtype_after"]) == ("float64", "float16")
    assert entry["bytes_after"] * 4 == entry["bytes_before"]
    assert doc["check"]["passed"] is True and "documents drawn from" in doc["check"]["data_source"]
    assert doc["load_command"].startswith("python -c")
    assert result.stderr == ""


def test_pickle_with_svc_shrinks_to_both_formats(runner, tmp_path, svc_pipe, iris):
    X = iris[0]
    source = save(svc_pipe, tmp_path / "svc.pkl")
    for name in ("lite.pkl", "lite.skops", "lite.pkl.gz"):
        out = tmp_path / name
        result = run(runner, "shrink", source, "-o", out)
        assert result.exit_code == 0, result.stderr
        if name.endswith(".gz"):
            import gzip
            with gzip.open(out) as handle:
                model = pickle.load(handle)
        else:
            model = load_plain(out)
        np.testing.assert_array_equal(model.predict(X), svc_pipe.predict(X))


def test_keep_pattern_leaves_arrays_alone(runner, tmp_path, text_svd):
    source = save(text_svd, tmp_path / "m.skops")
    doc = json.loads(run(runner, "shrink", source, "--dry-run", "--json", "--keep", "*.components_").stdout)
    entry = next(a for a in doc["arrays"] if a["path"].endswith("components_"))
    assert entry["dtype_after"] == "float64" and "--keep" in entry["reason"]


def test_dry_run_writes_nothing(runner, tmp_path, logreg):
    source = save(logreg, tmp_path / "m.skops")
    out = tmp_path / "never.skops"
    result = run(runner, "shrink", source, "-o", out, "--dry-run")
    assert result.exit_code == 0 and "dry run" in result.stdout
    assert not out.exists()


def test_preset_exact_changes_no_prediction_bit(runner, tmp_path, logreg, iris):
    source = save(logreg, tmp_path / "m.skops")
    out = tmp_path / "exact.skops"
    assert run(runner, "shrink", source, "-o", out, "--preset", "exact").exit_code == 0
    model = load_plain(out)
    np.testing.assert_array_equal(model.predict_proba(iris[0]), logreg.predict_proba(iris[0]))


def test_quiet_prints_nothing(runner, tmp_path, logreg):
    source = save(logreg, tmp_path / "m.skops")
    result = run(runner, "shrink", source, "-o", tmp_path / "q.skops", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_exit_2_usage_errors(runner, tmp_path, logreg):
    source = save(logreg, tmp_path / "m.skops")
    missing = run(runner, "shrink", tmp_path / "nope.skops", "-o", tmp_path / "x.skops")
    assert missing.exit_code == 2 and "nope.skops: no such file" in missing.stderr and missing.stdout == ""
    bad_cast = run(runner, "shrink", source, "-o", tmp_path / "x.skops", "--cast", "float16=float64")
    assert bad_cast.exit_code == 2 and "narrower" in bad_cast.stderr
    bad_preset = run(runner, "shrink", source, "-o", tmp_path / "x.skops", "--preset", "tiny")
    assert bad_preset.exit_code == 2 and "preset" in bad_preset.stderr
    no_output = run(runner, "shrink", source)
    assert no_output.exit_code == 2 and "-o" in no_output.stderr
    bad_option = run(runner, "shrink", source, "--frobnicate")
    assert bad_option.exit_code == 2
    zipped_pickle = run(runner, "shrink", source, "-o", tmp_path / "x.pkl", "--zip")
    assert zipped_pickle.exit_code == 2 and ".gz" in zipped_pickle.stderr
    assert not (tmp_path / "x.skops").exists() and not (tmp_path / "x.pkl").exists()


def test_exit_3_untrusted_then_trust(runner, tmp_path, iris):
    """A class from outside scikit-learn needs --trust; scikit-learn's KD-tree (reviewed) does not."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from trust_helpers import FOREIGN, Rescale

    X, y = iris
    knn = make_pipeline(Rescale(), KNeighborsClassifier(algorithm="kd_tree")).fit(X, y)
    kd = "sklearn.neighbors._kd_tree.KDTree"
    source = save(knn, tmp_path / "knn.skops")
    refused = run(runner, "shrink", source, "--dry-run")
    assert refused.exit_code == 3
    assert refused.stderr.count("\n") == 1 and FOREIGN in refused.stderr and str(source) in refused.stderr
    assert f"--trust {FOREIGN}" in refused.stderr and kd not in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    out = tmp_path / "lite.skops"
    result = run(runner, "shrink", source, "-o", out, "--trust", FOREIGN)
    assert result.exit_code == 0, result.stderr
    assert kd in result.stdout and FOREIGN in result.stdout  # the load command names what the reader must trust
    trusted = __import__("skops.io", fromlist=["x"]).get_untrusted_types(file=out)
    np.testing.assert_array_equal(load_plain(out, trusted).predict(X), knn.predict(X))


def test_valid_forest_loads_without_trust(runner, tmp_path, forest, iris):
    source = save(forest, tmp_path / "forest.skops")
    out = tmp_path / "lite.skops"
    result = run(runner, "shrink", source, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert any("5 Tree object(s) validated" in n for n in doc["notes"])
    assert any(TREE in n and "without --trust" in n for n in doc["notes"])
    assert doc["trusted_types"] == [TREE] and f"trusted=['{TREE}']" in doc["load_command"]
    np.testing.assert_array_equal(load_plain(out, [TREE]).predict(iris[0]), forest.predict(iris[0]))


def test_exit_3_malicious_pickle(runner, tmp_path):
    sentinel = tmp_path / "pwned"
    from test_formats import evil_pickle

    source = tmp_path / "evil.pkl"
    source.write_bytes(evil_pickle(sentinel))
    out = tmp_path / "out.skops"
    result = run(runner, "shrink", source, "-o", out)
    assert result.exit_code == 3 and "system" in result.stderr and "Traceback" not in result.stderr
    assert not sentinel.exists() and not out.exists()


def test_exit_4_output_exists_or_is_the_input(runner, tmp_path, logreg):
    source = save(logreg, tmp_path / "m.skops")
    before = source.read_bytes()
    same = run(runner, "shrink", source, "-o", source, "--force")
    assert same.exit_code == 4 and "input" in same.stderr
    out = tmp_path / "exists.skops"
    out.write_bytes(b"keep me")
    exists = run(runner, "shrink", source, "-o", out)
    assert exists.exit_code == 4 and "--force" in exists.stderr
    assert out.read_bytes() == b"keep me" and source.read_bytes() == before
    assert run(runner, "shrink", source, "-o", out, "--force").exit_code == 0
    assert out.read_bytes() != b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.skops", "m.skops"]


def test_debug_shows_traceback(tmp_path, logreg, monkeypatch):
    source = save(logreg, tmp_path / "m.skops")
    env = {"SKPRUNE_DEBUG": "1", "PATH": ""}
    result = subprocess.run([sys.executable, "-m", "skprune_cli", "shrink", str(source), "-o", str(source), "--force"],
                            capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_module_entry_point(tmp_path, logreg):
    source = save(logreg, tmp_path / "m.skops")
    result = subprocess.run([sys.executable, "-m", "skprune_cli", "inspect", str(source), "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout)["root"] == "Pipeline"
    assert "\x1b[" not in result.stdout  # no colour codes when not a terminal


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_messages_never_reach_stdout(runner, tmp_path, logreg, flag):
    source = save(logreg, tmp_path / "m.skops")
    result = run(runner, "shrink", source, "-o", tmp_path / "o.skops", flag)
    assert "wrote" not in result.stdout


def test_ci_gate_fails_an_unpruned_forest_and_passes_its_pruned_output(runner, tmp_path, iris):
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(*iris)
    source = save(forest, tmp_path / "forest.skops")
    gate = ("--dry-run", "--zip", "--fail-above-savings", "0.2")
    failed = run(runner, "shrink", source, *gate)
    assert failed.exit_code == 6, failed.stderr
    assert failed.stderr.count("\n") == 1 and str(source) in failed.stderr and "smaller on disk" in failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forest.skops"]  # a dry run leaves nothing behind
    lite = tmp_path / "forest.lite.skops"
    assert run(runner, "shrink", source, "-o", lite, "--zip").exit_code == 0
    passed = run(runner, "shrink", lite, *gate, "--json")
    assert passed.exit_code == 0, passed.stderr
    doc = json.loads(passed.stdout)
    assert doc["dry_run"] is True and doc["disk_ratio"] > 0.8
    hooks = (Path(__file__).parents[1] / ".pre-commit-hooks.yaml").read_text()
    entry = next(line.split(":", 1)[1].split() for line in hooks.splitlines() if line.strip().startswith("entry:"))
    assert entry[:2] == ["skprune", "shrink"]
    both = run(runner, *entry[1:], source, lite)  # what the pre-commit hook runs on two staged files
    assert both.exit_code == 6 and both.stderr.count("\n") == 1 and both.stdout == ""
    assert run(runner, "shrink", lite, "--dry-run", "--fail-above-savings", "1.5").exit_code == 2


def _help_text(runner, *command):
    """The help as one line of words, without the boxes Rich draws around options."""
    result = run(runner, *command, "--help")
    assert result.exit_code == 0
    return " ".join(w for w in result.stdout.replace("│", " ").split() if w.strip("╭╮╰╯─"))


def test_help_lists_choices_flags_and_examples(runner):
    top = _help_text(runner)
    assert "Examples:" in top and "skprune shrink models/ -d lite/" in top and "6 CI gate" in top
    shrink = _help_text(runner, "shrink")
    assert "best" in shrink and "deflate" in shrink and "lzma" in shrink
    assert "required unless -d or --dry-run" in shrink and "--output-dir" in shrink
    assert ".csv (numbers only" in shrink and ".jsonl" in shrink
    for flag in ("--zip", "--dry-run", "--force", "--json", "--no-check"):
        line = next(line for line in run(runner, "shrink", "--help").stdout.splitlines() if flag + " " in line)
        assert "<bool>" not in line, line
    for command in ("inspect", "shrink", "check"):
        assert "Example: skprune " + command in _help_text(runner, command)
