"""Many files in one call: ``shrink A B C -d OUTDIR``, folders as inputs, ``--jobs``, one JSON document."""

from __future__ import annotations

import gzip
import json
import pickle

import numpy as np

from conftest import load_plain, save
from skprune_cli.cli import app


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def _three_and_a_broken_one(tmp_path, logreg, svc_pipe, forest):
    src = tmp_path / "models"
    src.mkdir()
    a = save(logreg, src / "a.skops")
    b = save(svc_pipe, src / "b.pkl")
    c = src / "c.pkl.gz"
    with gzip.open(c, "wb") as handle:
        pickle.dump(forest, handle, protocol=5)
    broken = src / "d.skops"
    broken.write_bytes(b"PK\x03\x04 this is not a zip archive")
    return a, b, c, broken


def test_three_formats_and_a_broken_file(runner, tmp_path, logreg, svc_pipe, forest, iris):
    a, b, c, broken = _three_and_a_broken_one(tmp_path, logreg, svc_pipe, forest)
    out = tmp_path / "lite"
    result = run(runner, "shrink", a, b, c, broken, "-d", out, "--json", "--jobs", 1)
    assert result.exit_code == 3, result.stderr  # the worst: the broken file is refused
    doc = json.loads(result.stdout)  # exactly one document
    assert doc["schema"] == "skprune.batch/1" and doc["command"] == "shrink" and doc["exit_code"] == 3
    by_name = {entry["input"].rsplit("/", 1)[-1]: entry for entry in doc["files"]}
    assert [e["input"] for e in doc["files"]] == [str(a), str(b), str(c), str(broken)]
    for name in ("a.skops", "b.pkl", "c.pkl.gz"):
        entry = by_name[name]
        assert entry["exit_code"] == 0 and entry["error"] is None
        assert entry["report"]["schema"] == "skprune.shrink/1"
        assert entry["output"] == str(out / name) and (out / name).stat().st_size == entry["report"]["output"]["bytes"]
    assert by_name["d.skops"]["exit_code"] == 3 and by_name["d.skops"]["report"] is None
    assert str(broken) in by_name["d.skops"]["error"] and not (out / "d.skops").exists()
    assert result.stderr.count("\n") == 1 and str(broken) in result.stderr
    X = iris[0]
    np.testing.assert_array_equal(load_plain(out / "a.skops").predict(X), logreg.predict(X))
    np.testing.assert_array_equal(load_plain(out / "b.pkl").predict(X), svc_pipe.predict(X))
    with gzip.open(out / "c.pkl.gz") as handle:
        np.testing.assert_array_equal(pickle.load(handle).predict(X), forest.predict(X))


def test_folder_input_with_worker_processes_and_format(runner, tmp_path, logreg, svc_pipe, forest):
    a, b, c, broken = _three_and_a_broken_one(tmp_path, logreg, svc_pipe, forest)
    broken.unlink()
    (tmp_path / "models" / "notes.txt").write_text("not a model")
    out = tmp_path / "lite"
    result = run(runner, "shrink", tmp_path / "models", "-d", out, "--format", "skops", "--zip", "--jobs", 2)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.skops", "b.skops", "c.skops"]
    assert "3 of 3 done" in result.stdout and "notes.txt" not in result.stdout
    for name in ("a.skops", "b.skops", "c.skops"):
        assert load_plain(out / name, trusted=None if name != "c.skops" else ["sklearn.tree._tree.Tree"]) is not None


def test_batch_usage_errors(runner, tmp_path, logreg):
    a = save(logreg, tmp_path / "a.skops")
    b = save(logreg, tmp_path / "b.skops")
    several_to_one = run(runner, "shrink", a, b, "-o", tmp_path / "x.skops")
    assert several_to_one.exit_code == 2 and "-d OUTDIR" in several_to_one.stderr
    nowhere = run(runner, "shrink", a, b)
    assert nowhere.exit_code == 2 and "-d OUTDIR" in nowhere.stderr
    both = run(runner, "shrink", a, "-o", tmp_path / "x.skops", "-d", tmp_path / "out")
    assert both.exit_code == 2 and "not both" in both.stderr
    same_name = save(logreg, tmp_path / "a.pkl")
    clash = run(runner, "shrink", a, same_name, "-d", tmp_path / "out", "--format", "skops")
    assert clash.exit_code == 2 and "both be written" in clash.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(runner, "shrink", empty, "-d", tmp_path / "out").exit_code == 2
    assert not (tmp_path / "out").exists()


def test_existing_outputs_fail_alone_and_input_folder_is_untouched(runner, tmp_path, logreg):
    a = save(logreg, tmp_path / "a.skops")
    b = save(logreg, tmp_path / "b.skops")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.skops").write_bytes(b"keep me")
    result = run(runner, "shrink", a, b, "-d", out, "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 4 and [f["exit_code"] for f in doc["files"]] == [4, 0]
    assert (out / "a.skops").read_bytes() == b"keep me" and (out / "b.skops").exists()
    into_itself = run(runner, "shrink", a, "-d", tmp_path)
    assert into_itself.exit_code == 4  # the output would be the input


def test_inspect_several_files(runner, tmp_path, logreg, forest):
    a = save(logreg, tmp_path / "a.skops")
    b = save(forest, tmp_path / "b.pkl")
    result = run(runner, "inspect", a, b, tmp_path / "missing.skops", "--json")
    doc = json.loads(result.stdout)
    assert doc["schema"] == "skprune.batch/1" and doc["command"] == "inspect"
    assert [f["exit_code"] for f in doc["files"]] == [0, 0, 2] and result.exit_code == 2
    assert doc["files"][0]["report"]["schema"] == "skprune.inspect/1"
    human = run(runner, "inspect", a, b)
    assert human.exit_code == 0 and "a.skops" in human.stdout and "b.pkl" in human.stdout


def test_check_each_original_against_its_shrunk_file(runner, tmp_path, logreg, svc_pipe):
    src = tmp_path / "models"
    src.mkdir()
    save(logreg, src / "a.skops")
    save(svc_pipe, src / "b.pkl")
    out = tmp_path / "lite"
    assert run(runner, "shrink", src, "-d", out).exit_code == 0
    result = run(runner, "check", src, "-d", out, "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert doc["command"] == "check" and [f["report"]["passed"] for f in doc["files"]] == [True, True]
    (out / "b.pkl").unlink()
    missing = run(runner, "check", src, "-d", out)
    assert missing.exit_code == 2 and "b.pkl" in missing.stderr and "1 of 2 done" in missing.stdout
    assert run(runner, "check", src / "a.skops").exit_code == 2
