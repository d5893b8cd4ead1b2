"""The library API: ``import skprune``, argument validation, reports without the CLI."""

from __future__ import annotations

import pytest

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
