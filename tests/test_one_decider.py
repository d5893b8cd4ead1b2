"""``inspect`` predicts what ``shrink`` does: one decision function serves both.

For every zoo model and the float32 and float16 presets without a check,
the per-array ``dtype_after`` that ``inspect`` lists (from the live object and
from a ``.skops`` file's schema) must equal the dtype ``shrink`` then gives
that array; arrays ``inspect`` marks as dropped must be gone after ``shrink``.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import skops.io as sio

from skprune_cli.inspection import inspect_model
from skprune_cli.options import PruneOptions
from skprune_cli.pruning import prune_model
from zoo import fitted_zoo

ZOO = {f.name: f for f in fitted_zoo() if f.name != "Birch"}  # skops cannot save Birch


def shrunk_dtypes(model, preset: str) -> dict[str, str]:
    result = prune_model(copy.deepcopy(model), PruneOptions.build(preset, check=False))
    return {c.path: c.dtype_after for c in result.changes}


def predicted(report) -> dict[str, str]:
    return {a.path: a.dtype_after.replace(" (sparse)", "") for a in report.arrays}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_inspect_predicts_shrink(name, tmp_path):
    model = ZOO[name].estimator
    path = tmp_path / "m.skops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sio.dump(model, path)
        trust = sio.get_untrusted_types(file=path)
        for preset in ("float32", "float16"):
            done = shrunk_dtypes(model, preset)
            for source in (model, path):
                said = predicted(inspect_model(source, preset=preset, trust=trust))
                dropped = {p for p, d in said.items() if d == "dropped"}
                assert not dropped & set(done), (preset, source)
                kept = {p: d for p, d in said.items() if d != "dropped"}
                assert kept == done, (preset, "schema" if source is path else "object")


def test_big_float_arrays_get_grid_rungs_only_under_a_check(tmp_path):
    """The absolute-grid rungs are lossy beyond float16: ``--no-check`` never applies them."""
    import numpy as np
    from sklearn.decomposition import TruncatedSVD

    X = np.random.default_rng(0).random((400, 800))
    svd = TruncatedSVD(200, random_state=0).fit(X)
    assert svd.components_.nbytes >= 1 << 20
    said = {a.path: a.dtype_after for a in inspect_model(svd, preset="float16").arrays}
    done = shrunk_dtypes(svd, "float16")
    assert said["components_"] == done["components_"] == "float16"
    result = prune_model(copy.deepcopy(svd), PruneOptions.build("float16", check=False))
    components = next(d for d in result.decisions if d.ref.path == "components_")
    assert components.lossy[0].grid is not None and components.final.plain
