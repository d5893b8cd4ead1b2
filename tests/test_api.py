"""The library API: ``import skprune``, argument validation, reports without the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from setuptools import find_packages

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from skprune_cli import UsageError, prune
from skprune_cli.options import PruneOptions, WriteOptions
from skprune_cli.shrinking import ShrinkRequest


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": "1e-3"}, "tolerance"),
        ({"tolerance": float("nan")}, "tolerance"),
        ({"preset": "tiny"}, "preset"),
        ({"keep": 3}, "keep"),
        ({"cast": ["float64"]}, "float64"),
    ],
)
def test_prune_refuses_bad_arguments_by_name(logreg, kwargs, names):
    with pytest.raises(UsageError, match=names):
        prune(logreg, **kwargs)


def test_label_tolerance_and_compression_are_validated():
    with pytest.raises(UsageError, match="label_tolerance"):
        PruneOptions(label_tolerance=2)
    with pytest.raises(UsageError, match="compression='zstd'"):
        WriteOptions(compression="zstd")


def test_flat_request_is_sorted_into_stages(tmp_path):
    request = ShrinkRequest(tmp_path / "a.skops", tmp_path / "b.skops", preset="exact", zip=True,
                            trust=["x.Y"], tolerance=0.01, cast=["float64=float32"], data=tmp_path / "d.npy")
    assert request.prune.preset == "exact" and request.prune.tolerance == 0.01
    assert [str(c) for c in request.prune.casts] == ["float64=float32"]
    assert request.load.trust == ("x.Y",) and request.write.zip and request.output == tmp_path / "b.skops"
    assert request.data.data == tmp_path / "d.npy"
    with pytest.raises(UsageError, match="unknown option 'colour'"):
        ShrinkRequest(tmp_path / "a.skops", colour="red")


# ``pip install`` maps skprune_cli/_alias/skprune to the top-level package ``skprune``; the tests run
# from the source tree, so they put that folder on the path the same way.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "skprune_cli" / "_alias") not in sys.path:
    sys.path.append(str(ROOT / "skprune_cli" / "_alias"))


def test_packaging_installs_skprune_from_the_alias_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = {name for where in config["where"] for name in find_packages(str(ROOT / where), include=config["include"])}
    assert {"skprune", "skprune_cli", "skprune_cli.formats", "skprune_cli.fidelity"} <= found
    assert not any(name.startswith("skprune_cli._alias") for name in found)


def test_skprune_and_skprune_cli_are_one_module():
    import skprune
    import skprune.options
    import skprune.report
    import skprune_cli
    import skprune_cli.report

    assert skprune is skprune_cli and skprune.report is skprune_cli.report
    assert skprune_cli.report.__spec__.name == "skprune_cli.report"
    assert skprune.options.PruneOptions is PruneOptions
    from skprune import check, inspect_model, load_model, prune as prune2, save_model  # noqa: F401

    assert prune2 is prune


def test_seed_snippet_and_the_call_that_saves_like_the_cli(tmp_path, monkeypatch, text_svd, docs):
    monkeypatch.chdir(tmp_path)
    pipe = text_svd
    # the seed's snippet, verbatim apart from its data
    import skops.io

    from skprune import prune
    skops.io.dump(prune(pipe), "lite.skops")
    # ... and the call the README leads to
    from skprune import save_model
    save_model(prune(pipe), "small.skops", compression="lzma")

    skops.io.dump(pipe, "plain.skops")
    plain, seed, small = (Path(n).stat().st_size for n in ("plain.skops", "lite.skops", "small.skops"))
    assert seed < plain and small < seed / 2
    ref = pipe.transform(docs[:40])
    for name in ("lite.skops", "small.skops"):
        new = skops.io.load(name).transform(docs[:40])
        assert np.abs(new - ref).max() / np.abs(ref).max() < 1e-3


def test_prune_report_is_the_report_the_cli_prints(text_svd, docs):
    from skprune import prune_report

    model, report = prune_report(text_svd, X=docs[:60])
    assert model is not text_svd and report.check is not None and report.check.passed
    assert "60 rows given by the caller" in report.check.data_source
    assert report.memory_bytes_after < report.memory_bytes_before
    doc = json.loads(report.to_json())
    assert doc["schema"] == "skprune.shrink/1" and doc["input"]["format"] == "object"
    ref = text_svd.transform(docs[:60])
    assert np.abs(model.transform(docs[:60]) - ref).max() / np.abs(ref).max() < 1e-3
    with pytest.raises(UsageError, match="tolerance"):
        prune_report(text_svd, tolerance=-0.5)
