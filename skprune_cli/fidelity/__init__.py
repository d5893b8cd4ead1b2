"""The fidelity check, in one place: does the pruned model still predict like the original?

- ``checker``: the ``Checker`` used by ``shrink``, ``skprune check`` and ``prune()``: reference
  outputs of a model or bundle, comparison, invariants, fallback search, layout trial;
- ``probes``: inputs synthesised from the model itself (no user data needed);
- ``data``: the user's data (``--data``);
- ``compare``: running a model on the inputs and the comparison metric;
- ``invariants``: properties of an array a cast must keep, tested before any output;
- ``search``: the fallback search that keeps only the casts the check allows;
- ``jobs``: the ``check`` job (two models, or two files) used by ``skprune check``.
"""

from __future__ import annotations

from .checker import Checker, make_reference
from .compare import BundleReference, Reference, check_against, reference_outputs, rejudge, worst
from .jobs import check, check_files, load_check_data
from .probes import Probes, synthesize

__all__ = [
    "Checker", "make_reference", "BundleReference", "Reference", "check_against", "reference_outputs", "rejudge",
    "worst", "check", "check_files", "load_check_data", "Probes", "synthesize",
]
