"""The zoo sweep: every estimator that fits on a small numeric table survives ``prune(preset="float32")``.

Every output method that ran before still runs, predicted labels are
identical, and the pruned model passes through both formats: a plain
``pickle`` file that skprune's allowlist reads back, and a ``.skops`` archive.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import skops.io as sio

from skprune_cli import load_model, prune, save_model
from skprune_cli.formats.skops_io import VALIDATED_TYPES
from zoo import candidates, fitted_zoo, outputs

ZOO = {f.name: f for f in fitted_zoo()}
SKOPS_UNSUPPORTED = {"Birch"}  # skops refuses to save Birch's cyclic CF-tree


def test_the_zoo_is_broad():
    assert len(ZOO) >= 150, sorted(set(n for n, _ in candidates()) - set(ZOO))


def labels_like(values: np.ndarray) -> bool:
    return not np.issubdtype(values.dtype, np.floating)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_float32_keeps_methods_and_labels(name):
    fitted = ZOO[name]
    before = outputs(fitted.estimator, fitted.X_test)
    pruned = prune(fitted.estimator, preset="float32")
    after = outputs(pruned, fitted.X_test)
    for method, ref in before.items():
        if isinstance(ref, Exception):
            continue
        new = after[method]
        assert not isinstance(new, Exception), f"{method} now raises {new!r}"
        assert new.shape == ref.shape
        if method == "predict" and labels_like(ref):
            np.testing.assert_array_equal(new, ref)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_pruned_model_round_trips_both_formats(name, tmp_path):
    fitted = ZOO[name]
    pruned = prune(fitted.estimator, preset="float32")
    expected = outputs(pruned, fitted.X_test)
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(pruned, protocol=5))
    targets = [path] if name in SKOPS_UNSUPPORTED else [path, tmp_path / "m.skops"]
    if len(targets) == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            save_model(pruned, targets[1])
    for target in targets:
        # we wrote this file ourselves, so we may trust what skops does not trust by default,
        # except the tree types skprune validates instead: those must load with no flag at all
        untrusted = sio.get_untrusted_types(file=target) if target.suffix == ".skops" else []
        loaded = load_model(target, trust=[t for t in untrusted if t not in VALIDATED_TYPES])
        again = outputs(loaded, fitted.X_test)
        for method, ref in expected.items():
            if isinstance(ref, Exception):
                continue
            np.testing.assert_array_equal(again[method], ref, err_msg=f"{target.suffix} {method}")
