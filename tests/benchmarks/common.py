"""Measuring helpers for the benchmarks: sizes, wall time and peak memory of a command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

MB = 1e6


@dataclass
class Run:
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str
    returncode: int


def timed_python(code: str) -> Run:
    """Run a Python snippet under /usr/bin/time -v to get its own peak memory."""
    proc_start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True)
    seconds = time.perf_counter() - proc_start
    return Run(seconds, _peak(proc.stderr), proc.stdout, proc.stderr, proc.returncode)


def timed_command(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    proc_start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - proc_start
    return Run(seconds, _peak(proc.stderr), proc.stdout, proc.stderr, proc.returncode)


def _peak(stderr: str) -> float:
    for line in stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.split(":")[-1]) / 1024
    return float("nan")


def size_mb(path: Path) -> float:
    return path.stat().st_size / MB


def rel_error(ref, new) -> float:
    ref = ref.toarray() if sp.issparse(ref) else np.asarray(ref, dtype=np.float64)
    new = new.toarray() if sp.issparse(new) else np.asarray(new, dtype=np.float64)
    scale = np.abs(ref).max()
    return float(np.abs(new - ref).max() / scale) if scale else float(np.abs(new - ref).max())


def skprune(*args: str) -> Run:
    return timed_command([sys.executable, "-m", "skprune_cli", *args])


def report_json(run_: Run) -> dict:
    return json.loads(run_.stdout)
