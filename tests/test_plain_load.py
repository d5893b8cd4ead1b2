"""Pruned files load with the formats' standard loaders in a process where skprune is not importable."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neural_network import MLPClassifier

from conftest import save
from skprune_cli.cli import app
from zoo import data

X, y, y_reg, X_test = data()

LOADER = textwrap.dedent('''
    import importlib.util, json, pickle, sys
    sys.path.append({site!r})          # site-packages without its .pth files: no editable skprune
    assert importlib.util.find_spec("skprune_cli") is None, "skprune is importable here"
    import numpy as np
    path, trusted, X = sys.argv[1], json.loads(sys.argv[2]), np.array(json.loads(sys.argv[3]))
    if path.endswith(".skops"):
        import skops.io as sio
        model = sio.load(path, trusted=trusted or None)
    elif path.endswith(".xz"):
        import lzma
        with lzma.open(path) as handle:
            model = pickle.load(handle)
    else:
        with open(path, "rb") as handle:
            model = pickle.load(handle)
    out = {{m: getattr(model, m)(X).tolist() for m in ("predict", "predict_proba") if hasattr(model, m)}}
    assert not [name for name in sys.modules if name.startswith("skprune")]
    print(json.dumps(out))
''').format(site=sysconfig.get_paths()["purelib"])

MODELS = {
    "forest": lambda: RandomForestClassifier(20, random_state=0).fit(X, y),
    "gradient_boosting": lambda: GradientBoostingRegressor(n_estimators=30, random_state=0).fit(X, y_reg),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y),
    "mlp": lambda: MLPClassifier((32,), max_iter=300, random_state=0).fit(X, y),
}


def load_elsewhere(path, trusted, tmp_path):
    result = subprocess.run([sys.executable, "-S", "-c", LOADER, str(path), json.dumps(trusted),
                             json.dumps(X_test.tolist())], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("suffix", [".skops", ".pkl", ".pkl.xz"])
def test_pruned_file_loads_without_skprune(name, suffix, tmp_path, runner):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MODELS[name]()
    source = save(model, tmp_path / "model.pkl")
    out = tmp_path / f"lite{suffix}"
    flags = [] if suffix == ".pkl" else ["--compression", "best"]
    result = runner.invoke(app, ["shrink", str(source), "-o", str(out), "--json", *flags])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    outputs = load_elsewhere(out, report["trusted_types"], tmp_path)
    if hasattr(model, "classes_"):
        np.testing.assert_array_equal(outputs["predict"], model.predict(X_test))
    else:
        ref = model.predict(X_test)
        assert np.abs(np.array(outputs["predict"]) - ref).max() <= 1e-3 * np.abs(ref).max()
    # only types skops already knows: what it asks to trust are its own documented untrusted types
    assert set(report["trusted_types"]) <= {"sklearn.tree._tree.Tree",
                                            "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
                                            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer"}
