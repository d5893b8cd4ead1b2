"""``inspect`` lists a .skops file without building it, under the paths ``shrink`` reports.

For every zoo estimator the schema-only listing must name the same arrays,
with the same dtypes, shapes and owners, as the walker that ``shrink`` uses
on the loaded model; and listing must not import scikit-learn or skops.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
import skops.io as sio

from conftest import save
from skprune_cli.formats.schema_inspect import list_arrays
from skprune_cli.walk import walk
from zoo import fitted_zoo

ZOO = {f.name: f for f in fitted_zoo() if f.name != "Birch"}  # skops cannot save Birch


@pytest.mark.parametrize("name", sorted(ZOO))
def test_schema_listing_matches_the_walker(name, tmp_path):
    model = ZOO[name].estimator
    path = tmp_path / "m.skops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sio.dump(model, path)
    trust = sio.get_untrusted_types(file=path)  # we wrote it; e.g. SelectKBest's f_classif needs trust
    listed = {a.path: (str(a.dtype), a.shape, a.owner_class, a.attr)
              for a in list_arrays(str(path), trust=trust).arrays}
    walked = {r.path: (str(r.dtype), r.shape, r.owner_class, r.attr) for r in walk(model)}
    assert listed == walked


def test_inspect_builds_nothing_and_imports_no_sklearn(tmp_path, text_svd):
    path = save(text_svd, tmp_path / "m.skops")
    code = ("import sys, json; from skprune_cli.inspection import inspect_model; "
            f"r = inspect_model({str(path)!r}); "
            "print(json.dumps([r.arrays[0].path, 'sklearn' in sys.modules, 'skops' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, sklearn_loaded, skops_loaded = json.loads(out.stdout)
    assert first == "steps.truncatedsvd.components_"
    assert not sklearn_loaded and not skops_loaded


def test_inspect_estimates_from_dtypes_and_registry(tmp_path, forest, runner):
    from skprune_cli.cli import app

    path = save(forest, tmp_path / "forest.skops")
    doc = json.loads(runner.invoke(app, ["inspect", str(path), "--json"]).stdout)
    by_path = {a["path"]: a for a in doc["arrays"]}
    nodes = by_path["estimators_.0.tree_.nodes"]
    assert nodes["dtype_after"] == nodes["dtype"] and "Tree" in nodes["note"]
    assert by_path["classes_"]["dtype_after"] == by_path["classes_"]["dtype"]
    assert doc["schema_bytes"] > 0
