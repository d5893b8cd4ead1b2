"""Real text without a network: the source files of numpy, scipy and scikit-learn, in chunks.

Used by the text-model tests, the bundled fixture and the benchmarks. The
files are read in sorted order, so a given set of installed versions always
gives the same documents.
"""

from __future__ import annotations

import importlib
from pathlib import Path

PACKAGES = ("sklearn", "numpy", "scipy")


def labelled_documents(
    n_docs: int, lines_per_doc: int = 40, packages: tuple[str, ...] = PACKAGES
) -> tuple[list[str], list[str]]:
    """Documents and, as a label, the subpackage each came from (``sklearn.linear_model``...)."""
    docs: list[str] = []
    labels: list[str] = []
    for name in packages:
        root = Path(importlib.import_module(name).__file__).parent  # type: ignore[arg-type]
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts
            label = f"{name}.{parts[0]}" if len(parts) > 1 else name
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            for start in range(0, len(lines), lines_per_doc):
                chunk = "\n".join(lines[start : start + lines_per_doc]).strip()
                if len(chunk) > 200:
                    docs.append(chunk)
                    labels.append(label)
                    if len(docs) == n_docs:
                        return docs, labels
    return docs, labels


def documents(n_docs: int, lines_per_doc: int = 40, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    return labelled_documents(n_docs, lines_per_doc, packages)[0]
