"""The fidelity check, in one place: does the pruned model still predict like the original?

- ``probes``: inputs synthesised from the model itself (no user data needed);
- ``data``: the user's data (``--data``);
- ``compare``: reference outputs of the original and the comparison metric;
- ``search``: the fallback search that keeps only the casts the check allows;
- ``jobs``: the ``check`` job (two models, or two files) used by ``skprune check``.
"""

from __future__ import annotations

from .compare import BundleReference, Reference, check_against, reference_outputs, rejudge, worst
from .jobs import check, check_files, load_check_data
from .probes import Probes, synthesize

__all__ = [
    "BundleReference", "Reference", "check_against", "reference_outputs", "rejudge", "worst",
    "check", "check_files", "load_check_data", "Probes", "synthesize",
]
