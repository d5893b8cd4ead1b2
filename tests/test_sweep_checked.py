"""The checked default on the whole zoo, judged on held-out rows the probes never saw.

For every estimator that fits on a small numeric table: the default (checked)
prune keeps every output method running, predicted labels identical and
continuous outputs within 1e-3 relative error on held-out data, and the
result loads with plain ``pickle`` and plain ``skops.io.load``.
"""

from __future__ import annotations

import io
import pickle
import warnings
from collections import Counter

import numpy as np
import pytest
import skops.io as sio

from skprune_cli.pruning import PruneOptions, prune_model
from zoo import fitted_zoo, outputs, relative_error

ZOO = {f.name: f for f in fitted_zoo()}
SKOPS_UNSUPPORTED = {"Birch"}
TOLERANCE = 1e-3


def labels_like(estimator, method, values):
    from sklearn.base import is_regressor

    return method == "predict" and not is_regressor(estimator) and values.dtype.kind not in "fc" or (
        method == "predict" and hasattr(estimator, "classes_") and not is_regressor(estimator)
    )


def pruned(name):
    import copy

    fitted = ZOO[name]
    model = copy.deepcopy(fitted.estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the zoo's models are tiny: by default no lossy cast is worth the risk, so the threshold is
        # lifted (as --cast does) to hold the check itself to the held-out rows
        result = prune_model(model, PruneOptions(min_lossy_bytes=0))
    return fitted, result


def assert_faithful(fitted, model):
    before = outputs(fitted.estimator, fitted.X_test)
    after = outputs(model, fitted.X_test)
    for method, ref in before.items():
        if isinstance(ref, Exception):
            continue
        new = after[method]
        assert not isinstance(new, Exception), f"{method} raises {new!r}"
        if labels_like(fitted.estimator, method, ref):
            np.testing.assert_array_equal(new, ref, err_msg=method)
        else:
            assert relative_error(ref, new) <= TOLERANCE, f"{method}: {relative_error(ref, new):.2e}"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_checked_default_is_faithful_on_held_out_rows(name):
    fitted, result = pruned(name)
    assert_faithful(fitted, result.model)
    buffer = io.BytesIO()
    pickle.dump(result.model, buffer, protocol=5)
    assert_faithful(fitted, pickle.loads(buffer.getvalue()))
    if name not in SKOPS_UNSUPPORTED:
        data = sio.dumps(result.model)
        loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        assert_faithful(fitted, loaded)


def test_summary_of_the_zoo(capsys):
    """How many estimators end with float16, float32 or unchanged arrays (printed with -s)."""
    tally: Counter[str] = Counter()
    saved = total = 0
    for name in sorted(ZOO):
        _, result = pruned(name)
        dtypes = {c.dtype_after for c in result.changes if c.dtype_before == "float64"}
        tally["float16" if "float16" in dtypes else "float32" if "float32" in dtypes else "unchanged"] += 1
        saved += result.bytes_before - result.bytes_after
        total += result.bytes_before
    with capsys.disabled():
        print(f"\nzoo: {len(ZOO)} estimators; with float16 arrays: {tally['float16']}, float32 at best: "
              f"{tally['float32']}, unchanged: {tally['unchanged']}; memory {total / 1e6:.2f} MB -> "
              f"{(total - saved) / 1e6:.2f} MB")
    assert tally["float16"] > len(ZOO) / 3
