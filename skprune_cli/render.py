"""Rich tables for the report dataclasses; used by the CLI only."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .progress import Reporter
from .report import CheckReport, InspectReport, ShrinkReport


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


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _shape(shape: list[int]) -> str:
    return "×".join(str(n) for n in shape) or "()"


def render_inspect(report: InspectReport, console: Console) -> None:
    title = report.model.path if report.model else report.root
    table = Table(title=f"{title}: heaviest arrays", title_justify="left")
    for name, justify in (("path", "left"), ("owner", "left"), ("dtype", "left"), ("shape", "right"),
                          ("bytes", "right"), ("share", "right"), (f"{report.preset} would give", "left"),
                          ("saving", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "path")  # type: ignore[arg-type]
    for e in report.arrays:
        after = e.dtype_after if e.dtype_after != e.dtype.split(" ")[0] else "kept"
        table.add_row(e.path, e.owner, e.dtype, _shape(e.shape), human(e.bytes), f"{e.share:.1%}",
                      after, human(e.saving) if e.saving else "")
    console.print(table)
    saved = report.total_bytes - report.total_bytes_after
    shown = len(report.arrays)
    console.print(
        f"{report.total_arrays} arrays, {human(report.total_bytes)} in memory"
        + (f" (showing the top {shown})" if shown < report.total_arrays else "")
        + f"; preset {report.preset} would save {human(saved)} before compression"
        + (f"; file on disk {human(report.model.bytes)}" if report.model else "")
        + (f"; schema.json {human(report.schema_bytes)} (parameters, vocabularies)" if report.schema_bytes else "")
    )


def render_shrink(report: ShrinkReport, console: Console, limit: int = 25) -> None:
    table = Table(title=f"{report.input.path}: what changed", title_justify="left")
    for name, justify in (("path", "left"), ("shape", "right"), ("before", "left"), ("after", "left"),
                          ("bytes before", "right"), ("bytes after", "right"), ("why", "left")):
        table.add_column(name, justify=justify, no_wrap=name != "path",  # type: ignore[arg-type]
                         overflow="ellipsis", max_width=60 if name == "why" else None)
    ranked = sorted(report.arrays, key=lambda c: -(c.bytes_before))
    for c in ranked[:limit]:
        table.add_row(c.path, _shape(c.shape), c.dtype_before, c.dtype_after if c.action != "kept" else "kept",
                      human(c.bytes_before), human(c.bytes_after), c.reason)
    console.print(table)
    if len(ranked) > limit:
        console.print(f"... and {len(ranked) - limit} smaller arrays (see --json for all)")
    for t in report.transformed:
        console.print(f"{t.path}: {t.detail} (exact)")
    for d in report.dropped:
        console.print(f"dropped {d.path} ({human(d.bytes)}): {d.reason}")
    held = [c for c in report.arrays if c.action == "held back"]
    if held:
        console.print(f"held back {len(held)} array(s) the check would not accept narrower:")
        for c in held:
            console.print(f"  {c.path}: {c.reason}")
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
        console.print(f"load with: {report.load_command}", soft_wrap=True)
    elif report.dry_run:
        console.print("dry run: nothing written")
    for note in report.notes:
        console.print(note)


def render_check(report: CheckReport, console: Console) -> None:
    table = Table(title=f"fidelity check on {report.data_source}, tolerance {report.tolerance:g}",
                  title_justify="left")
    for name in ("method", "status", "labels", "max abs error", "max rel error", "note"):
        table.add_column(name)
    for m in report.methods:
        labels = "" if m.labels_equal is None else ("identical" if m.labels_equal else f"{m.label_agreement:.2%} agree")
        table.add_row(m.method, m.status, labels,
                      "" if m.max_abs_error is None else f"{m.max_abs_error:.3g}",
                      "" if m.max_rel_error is None else f"{m.max_rel_error:.3g}",
                      m.error or (f"{m.new_nonfinite} new NaN/inf" if m.new_nonfinite else ""))
    console.print(table)
    console.print("check passed" if report.passed else "check FAILED")
