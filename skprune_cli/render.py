"""Rich tables for the report dataclasses; used by the CLI only.

Readable at 80 columns: structured dtypes get short names (``tree nodes``),
the path column never shrinks below a readable width (it wraps instead), and
rows that differ only by an estimator's index (``estimators_.17.tree_.nodes``)
are grouped into one row with a count and totals unless ``verbose``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from .progress import Reporter
from .report import ArrayChange, ArrayEntry, CheckReport, InspectReport, ShrinkReport


class RichReporter(Reporter):
    """Draws the library's progress steps as transient Rich bars on stderr."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(TextColumn("{task.description:<18}"), BarColumn(), TaskProgressColumn(),
                                  TimeElapsedColumn(), console=console, transient=True)
        self._tasks: list[TaskID] = []
        self._started = False

    def begin(self, step: str, total: float | None = None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._tasks.append(self._progress.add_task(step, total=total))

    def advance(self, amount: float = 1.0) -> None:
        if self._tasks:
            self._progress.advance(self._tasks[-1], amount)

    def end(self) -> None:
        if self._tasks:
            self._progress.remove_task(self._tasks.pop())

    def close(self) -> None:
        if self._started:
            self._progress.stop()


if TYPE_CHECKING:
    from .batch import BatchReport

PATH_MIN_WIDTH = 26  # a grouped forest path (estimators_.*.tree_.nodes) fits on one line
WIDE = 110  # below this, shape and owner columns give way to the path
BAR_WIDTH = 10
_STRUCT = re.compile(r"\{'names': \[.*?\}|\[\('[^\]]*\)\]")
_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)|\[\d+\]")


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def short_dtype(text: str) -> str:
    """A structured dtype's repr (hundreds of characters) as a name a person reads."""
    if _STRUCT.fullmatch(text):
        return "tree nodes" if "left_child" in text else "record"
    return _STRUCT.sub(lambda m: "tree nodes" if "left_child" in m.group(0) else "record", text)


def _shape(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape) or "()"


def group_key(path: str) -> str:
    """``estimators_.17.tree_.nodes`` -> ``estimators_.*.tree_.nodes``: one row for every tree."""
    return _INDEX.sub("*", path)


@dataclass
class Row:
    """One line of a table: an array, or every array sharing a grouped path."""

    path: str
    count: int
    shape: str
    before: str
    after: str
    bytes_before: int
    bytes_after: int
    why: str
    owner: str = ""


def _one(values: Iterable[str], mixed: str = "mixed") -> str:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else mixed


def rows(items: Sequence[ArrayChange | ArrayEntry], verbose: bool) -> list[Row]:
    """Rows heaviest first; grouped by :func:`group_key` unless ``verbose``."""
    groups: dict[str, list[ArrayChange | ArrayEntry]] = {}
    for item in items:
        groups.setdefault(item.path if verbose else group_key(item.path), []).append(item)
    out = []
    for key, members in groups.items():
        changes = [m for m in members if isinstance(m, ArrayChange)]
        entries = [m for m in members if isinstance(m, ArrayEntry)]
        if changes:
            before = _one(short_dtype(c.dtype_before) for c in changes)
            after = _one(short_dtype(c.dtype_after) if c.action != "kept" else "kept" for c in changes)
            sizes = (sum(c.bytes_before for c in changes), sum(c.bytes_after for c in changes))
            why = _one((short_dtype(c.reason) for c in changes), "various reasons (--verbose lists each)")
        else:
            before = _one(short_dtype(e.dtype) for e in entries)
            after = _one(short_dtype(e.dtype_after) if e.dtype_after != e.dtype.split(" ")[0] else "kept"
                         for e in entries)
            sizes = (sum(e.bytes for e in entries), sum(e.bytes_after for e in entries))
            why = _one((short_dtype(e.note) for e in entries), "various reasons")
        shape = _one((_shape(m.shape) for m in members), "various")
        owner = _one(m.owner for m in members)
        out.append(Row(key, len(members), shape, before, after, sizes[0], sizes[1], why, owner))
    return sorted(out, key=lambda r: (-r.bytes_before, r.path))


def _path_cell(row: Row) -> str:
    return row.path


def _count(row: Row) -> str:
    return f"×{row.count}" if row.count > 1 else ""


def _bar(share: float, width: int = BAR_WIDTH) -> str:
    filled = round(share * width)
    return "█" * filled + "·" * (width - filled) + f" {share:4.0%}"


def _arrow(before: str, after: str) -> str:
    return before if after in ("kept", before) else f"{before} → {after}"


def render_inspect(report: InspectReport, console: Console, *, top: int | None = None, verbose: bool = False,
                   tree: bool = False) -> None:
    title = report.model.path if report.model else report.root
    wide = console.width >= WIDE
    table = Table(title=f"{title}: heaviest arrays", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("path", min_width=PATH_MIN_WIDTH, overflow="fold", ratio=3)
    table.add_column("n", justify="right", no_wrap=True)
    if wide:
        table.add_column("owner", overflow="fold", ratio=1)
    table.add_column(f"dtype → {report.preset}", overflow="fold", min_width=10)
    if wide:
        table.add_column("shape", justify="right", overflow="fold")
    table.add_column("bytes", justify="right", no_wrap=True)
    table.add_column("share", no_wrap=True)
    table.add_column("saving", justify="right", no_wrap=True)
    ranked = rows(report.arrays, verbose)
    for r in ranked[:top] if top else ranked:
        share = r.bytes_before / report.total_bytes if report.total_bytes else 0.0
        saving = human(r.bytes_before - r.bytes_after) if r.bytes_before > r.bytes_after else ""
        cells = [_path_cell(r), _count(r)] + ([r.owner] if wide else []) + [_arrow(r.before, r.after)] + \
            ([r.shape] if wide else []) + [human(r.bytes_before), _bar(share, BAR_WIDTH if wide else 5), saving]
        table.add_row(*cells)
    console.print(table)
    saved = report.total_bytes - report.total_bytes_after
    shown = min(len(ranked), top or len(ranked))
    console.print(
        f"{report.total_arrays} arrays, {human(report.total_bytes)} in memory"
        + (f" (showing the top {shown} rows)" if shown < len(ranked) else "")
        + f"; preset {report.preset} would save {human(saved)} before compression"
        + (f"; file on disk {human(report.model.bytes)}" if report.model else "")
        + (f"; schema.json {human(report.schema_bytes)} (parameters, vocabularies)" if report.schema_bytes else "")
    )
    if tree:
        console.print(estimator_tree(report))
    _config_line(report.config, console)


def estimator_tree(report: InspectReport) -> Tree:
    """The model as nested estimators with the bytes each holds; a list of similar ones is one node."""
    totals: dict[tuple[str, ...], int] = {}
    members: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    owners: dict[tuple[str, ...], str] = {}
    for e in report.arrays:
        concrete = tuple(e.path.split("."))[:-1]  # the last part is the attribute
        grouped = tuple(group_key(e.path).split("."))[:-1]
        owners.setdefault(grouped, e.owner)
        for depth in range(1, len(grouped) + 1):
            totals[grouped[:depth]] = totals.get(grouped[:depth], 0) + e.bytes
            members.setdefault(grouped[:depth], set()).add(concrete[:depth])
    root = Tree(f"[bold]{owners.get((), report.root)}[/]  {human(sum(e.bytes for e in report.arrays))}")
    nodes: dict[tuple[str, ...], Tree] = {(): root}
    for parts in sorted(totals, key=lambda p: (len(p), -totals[p])):
        owner = f" ({owners[parts]})" if parts in owners else ""
        many = len(members[parts])
        label = f"{parts[-1]}{owner}" + (f" ×{many}" if many > 1 else "") + f"  {human(totals[parts])}"
        nodes[parts] = nodes.get(parts[:-1], root).add(label)
    return root


def _config_line(config: str | None, console: Console) -> None:
    if config:
        console.print(f"options from {config} ([tool.skprune])")


def _no_check_warning(report: ShrinkReport) -> str | None:
    """When nothing verified the model, the human report says so where nobody can miss it."""
    if report.check is not None:
        return None
    if any(c.action == "held back" and "could be checked" in c.reason for c in report.arrays):
        return ("NO FIDELITY CHECK COULD RUN: no output method of this model could be called on probe "
                "inputs, so only exact changes were taken. Give --data FILE to check lossy casts.")
    if report.preset != "exact" or report.casts:
        return ("NO FIDELITY CHECK RAN (--no-check): lossy casts were applied without comparing "
                "predictions. Run skprune check ORIGINAL PRUNED before using the result.")
    return None


def render_shrink(report: ShrinkReport, console: Console, limit: int = 25, *, verbose: bool = False) -> None:
    wide = console.width >= WIDE
    table = Table(title=f"{report.input.path}: what changed", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("path", min_width=PATH_MIN_WIDTH, overflow="fold", ratio=3)
    table.add_column("n", justify="right", no_wrap=True)
    if wide:
        table.add_column("shape", justify="right", overflow="fold", max_width=14)
    table.add_column("dtype", overflow="fold", min_width=10)
    table.add_column("bytes", justify="right", overflow="fold", min_width=9)
    table.add_column("why", overflow="fold", ratio=2, min_width=12)
    ranked = rows(report.arrays, verbose)
    shown = ranked if verbose else ranked[:limit]
    for r in shown:
        sizes = human(r.bytes_before) if r.bytes_after == r.bytes_before else \
            f"{human(r.bytes_before)} → {human(r.bytes_after)}"
        table.add_row(_path_cell(r), _count(r), *([r.shape] if wide else []), _arrow(r.before, r.after), sizes, r.why)
    console.print(table)
    if len(ranked) > len(shown):
        console.print(f"... and {len(ranked) - len(shown)} smaller rows (--verbose or --json for all)")
    transformed = rows_of(report.transformed, verbose)
    for text, count in transformed:
        console.print(text + (f" (×{count})" if count > 1 else ""))
    for d_path, d_bytes, d_reason, count in dropped_rows(report, verbose):
        console.print(f"dropped {d_path}{f' ×{count}' if count > 1 else ''} ({human(d_bytes)}): {d_reason}")
    held = [c for c in report.arrays if c.action == "held back"]
    if held:
        console.print(f"held back {len(held)} array(s) the check would not accept narrower:")
        for r in rows(held, verbose):
            console.print(f"  {_path_cell(r)} {_count(r)}: {r.why}")
    warning = _no_check_warning(report)
    if warning:
        console.print(Panel(warning, title="not checked", border_style="bold red"), style="bold")
    if report.check is not None:
        render_check(report.check, console)
    console.print(f"in memory: {human(report.memory_bytes_before)} -> {human(report.memory_bytes_after)}")
    if report.output is not None:
        ratio = ""
        if report.disk_ratio:
            factor = f"{1 / report.disk_ratio:.1f}x smaller" if report.disk_ratio < 1 else "larger"
            ratio = f" ({report.disk_ratio:.3f} of the input, {factor})"
        console.print(f"on disk:   {human(report.input.bytes)} -> {human(report.output.bytes)}{ratio}"
                      f"  [{report.output.format}, compression {report.compression}]")
        if report.best_saving_estimate:
            console.print(f"--compression best would likely save at least {human(report.best_saving_estimate)} more "
                          "(estimated from samples; LZMA gains more on whole arrays; slower to write)")
        if report.format_advice is not None:
            console.print(report.format_advice.message, soft_wrap=True)
        if report.dry_run:
            console.print("dry run: measured by writing to a temporary file; nothing kept")
        else:
            console.print(f"load with: {report.load_command}", soft_wrap=True)
    elif report.dry_run:
        console.print("dry run: nothing written")
    for note in report.notes:
        console.print(note)
    _config_line(report.config, console)


def rows_of(transformed: Sequence, verbose: bool) -> list[tuple[str, int]]:
    counted: dict[str, int] = {}
    for t in transformed:
        counted[f"{t.path if verbose else group_key(t.path)}: {t.detail} (exact)"] = \
            counted.get(f"{t.path if verbose else group_key(t.path)}: {t.detail} (exact)", 0) + 1
    return list(counted.items())


def dropped_rows(report: ShrinkReport, verbose: bool) -> list[tuple[str, int, str, int]]:
    grouped: dict[tuple[str, str], list[int]] = {}
    for d in report.dropped:
        grouped.setdefault((d.path if verbose else group_key(d.path), d.reason), []).append(d.bytes)
    return [(path, sum(sizes), reason, len(sizes)) for (path, reason), sizes in grouped.items()]


def render_check(report: CheckReport, console: Console) -> None:
    table = Table(title=f"fidelity check on {report.data_source}, tolerance {report.tolerance:g}",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("method", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("labels", overflow="fold")
    table.add_column("max abs error", justify="right", no_wrap=True)
    table.add_column("max rel error", justify="right", no_wrap=True)
    table.add_column("note", overflow="fold")
    for m in report.methods:
        labels = "" if m.labels_equal is None else ("identical" if m.labels_equal else f"{m.label_agreement:.2%} agree")
        table.add_row(m.method, m.status, labels,
                      "" if m.max_abs_error is None else f"{m.max_abs_error:.3g}",
                      "" if m.max_rel_error is None else f"{m.max_rel_error:.3g}",
                      m.error or (f"{m.new_nonfinite} new NaN/inf" if m.new_nonfinite else ""))
    console.print(table)
    console.print("check passed" if report.passed else "check FAILED")
    _config_line(report.config, console)


def render_batch(report: "BatchReport", console: Console) -> None:
    """One line per file; the full per-file reports are in ``--json`` (or ``--verbose``)."""
    table = Table(title=f"{report.command}: {len(report.files)} files", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("file", min_width=PATH_MIN_WIDTH, overflow="fold", ratio=2)
    table.add_column("result", overflow="fold", ratio=2)
    before_name, after_name = ("in memory", "after rules") if report.command == "inspect" else ("input", "output")
    table.add_column(before_name, justify="right", no_wrap=True)
    table.add_column(after_name, justify="right", no_wrap=True)
    table.add_column("saving", justify="right", no_wrap=True)
    for o in report.files:
        before = after = saving = ""
        r = o.report
        if isinstance(r, ShrinkReport):
            before = human(r.input.bytes)
            if r.output is not None:
                after = human(r.output.bytes)
                saving = f"{1 - r.output.bytes / r.input.bytes:.0%}" if r.input.bytes else ""
        elif isinstance(r, InspectReport):
            before, after = human(r.total_bytes), human(r.total_bytes_after)
            saving = f"{1 - r.total_bytes_after / r.total_bytes:.0%}" if r.total_bytes else ""
        if isinstance(r, CheckReport) and r.pruned is not None:
            before, after = human(r.original.bytes) if r.original else "", human(r.pruned.bytes)
        result = "ok" + (f" -> {o.output}" if o.output else "") if o.exit_code == 0 else \
            f"exit {o.exit_code}: {o.error}"
        table.add_row(o.input, result, before, after, saving)
    console.print(table)
    failed = sum(1 for o in report.files if o.exit_code)
    console.print(f"{len(report.files) - failed} of {len(report.files)} done"
                  + (f"; {failed} failed (exit {report.exit_code})" if failed else ""))
    _config_line(report.config, console)
