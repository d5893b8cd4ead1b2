"""``best``'s time budget: the strongest settings only while the job stays within a multiple of ``--zip``'s time.

``best`` picks each kind of member's method by its gain per second on a
sample, and a forest's node records at strong LZMA (~1.5 MB/s) can then take
4-5x the time ``--zip`` takes for the same command. The budget weighs both
modes on the same footing: the work before the first member (imports when the
CLI passes its start, loading, pruning, checking) costs both alike, and
compression costs ``--zip`` its fast method's seconds per byte, timed on the
same samples. With ``W`` threads compressing, the job should keep

    before + best_seconds / W  <=  factor * (before + zip_seconds / W) + free

(``free``: a couple of seconds any run may add; below that nobody waits).

What is left of that bound, against what the bytes still to come (the
archive's expected size less what was written) would cost at full strength at
the rate seen so far, is the share of full strength the rest can afford. A
member gets the strongest step of its kind's ladder costing at most that
share of its strongest step, or ``--zip``'s own method; the allowance a member
leaves unused raises the share for the next ones, so the output mixes steps
(an ExtraTreesRegressor(40) from the command line: LZMA 6 instead of strong
LZMA for about half its node records). Seconds are CPU seconds of the
compressing thread, so other processes do not count; sampling counts as spent,
and each member's projected seconds are settled against its measured ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence, TypeVar

# bench_models (command line): at 3.5 ExtraTrees(40) took 3.66x; at 3.0 2.67x, but RandomForest(100) lost its
# full strength on a few members (4.959 -> 4.993 MB); one machine's timings drift by ~15%
BEST_TIME_FACTOR = 3.25
BEST_FREE_SECONDS = 2.0  # wall seconds best may always add: a small model's wait does not matter

Step = TypeVar("Step")


@dataclass
class TimeBudget:
    started: float  # time.perf_counter() when the job began
    total: int | None = None  # bytes the archive's members are expected to hold (None: each member alone)
    factor: float = BEST_TIME_FACTOR
    free: float = BEST_FREE_SECONDS
    workers: int = 1
    before: float | None = None  # wall seconds from the start to the first member
    zip_seconds: float = 0.0  # what --zip's method would have spent on the members so far
    spent: float = 0.0  # what best spent (or has committed to) on them, sampling included
    seen: int = 0  # bytes of the members so far
    produced: int = 0  # bytes skops produced, in the units of ``total``,
    written: int = 0  # and what they became in the archive (packed tree nodes are 3/4 of the memory's)
    full: float = 0.0  # what the members so far would cost at their kinds' strongest steps
    held_back: int = 0  # members given a faster step than their kind's strongest

    def __post_init__(self) -> None:
        if self.factor < 1.0:
            raise ValueError(f"factor={self.factor}: best cannot take less time than --zip")

    def pick(self, steps: Sequence[tuple[Step, float]], nbytes: int) -> tuple[Step, float]:
        """The strongest step (weakest first, with seconds per byte) the budget affords, and its projected seconds.

        The first step is ``--zip``'s own method: its rate is the yardstick.

        Not thread-safe: the caller holds the lock that guards this budget.
        """
        if self.before is None:
            self.before = max(time.perf_counter() - self.started, 0.0)
        self.seen += nbytes
        self.zip_seconds += nbytes * steps[0][1]
        self.full += nbytes * steps[-1][1]
        expected = (self.total or 0) * (self.written / self.produced if self.produced else 1.0)
        coming = max(int(expected) - self.seen, 0) + nbytes  # this member and those expected after it
        zip_all = self.zip_seconds + (coming - nbytes) * self.zip_seconds / self.seen
        allowance = self.factor * zip_all + ((self.factor - 1.0) * self.before + self.free) * self.workers
        # the share of full strength the rest can afford, the members to come costing what those so far did;
        # a step no slower than --zip's own method is always affordable
        share = (allowance - self.spent) / max(coming * self.full / self.seen, 1e-12)
        limit = max(share * steps[-1][1], steps[0][1])
        index = next((i for i in range(len(steps) - 1, 0, -1) if steps[i][1] <= limit), 0)
        if index < len(steps) - 1:
            self.held_back += 1
        projected = nbytes * steps[index][1]
        self.spent += projected
        return steps[index][0], projected

    def encoded(self, produced: int, written: int) -> None:
        self.produced += produced
        self.written += written

    def charge(self, seconds: float) -> None:
        self.spent += seconds

    def settle(self, projected: float, actual: float) -> None:
        self.spent += actual - projected


def best_budget(mode: str | None, started: float | None = None, total: int | None = None) -> TimeBudget | None:
    """The budget for a ``best`` archive of about ``total`` bytes, begun at ``started`` (default now).

    None for the other modes.
    """
    if mode != "best":
        return None
    return TimeBudget(time.perf_counter() if started is None else started, total, BEST_TIME_FACTOR,
                      BEST_FREE_SECONDS)


def held_back_note(budget: TimeBudget | None) -> list[str]:
    """The report's note when the budget gave members a faster method (nothing when it did not)."""
    if budget is None or not budget.held_back:
        return []
    return [f"compression best: {budget.held_back} member(s) got a faster method of their kind than the "
            f"strongest, to keep the run within {budget.factor:g}x the time of --zip"]
