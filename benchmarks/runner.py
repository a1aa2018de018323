"""Timing, results and the report: what every benchmark module shares."""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.data import REPO


@dataclass(frozen=True)
class Settings:
    quick: bool
    reps: int
    work: Path
    profile: bool = False


@dataclass(frozen=True)
class Sample:
    """One timed run: wall seconds and, optionally, seconds per phase."""

    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    """One line of the report: ours against a baseline (or a reference) and the goal."""

    benchmark: str
    metric: str
    ours: float
    baseline: float
    unit: str
    goal: float | None = None  # largest acceptable ours / baseline; None = for information
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return "info"
        return "met" if self.ratio <= self.goal else "MISSED"


@dataclass
class Outcome:
    measures: list[Measure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


Timed = Callable[[], Sample]


def alternate(ours: Timed, baseline: Timed, reps: int) -> tuple[list[Sample], list[Sample]]:
    """Warm each up once, then run ``reps`` pairs, swapping which goes first every pair."""
    ours()
    baseline()
    mine: list[Sample] = []
    theirs: list[Sample] = []
    for rep in range(reps):
        pair = ((ours, mine), (baseline, theirs))
        for run, into in pair if rep % 2 == 0 else pair[::-1]:
            gc.collect()
            into.append(run())
    return mine, theirs


def median(samples: Sequence[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def percentile(values: Sequence[float], q: float = 0.95) -> float:
    """The ``q`` quantile of ``values`` by nearest rank (p95 by default)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def spread(samples: Sequence[Sample], scale: float = 1.0, unit: str = "s") -> str:
    """``min..max`` of the samples, for the notes."""
    low, high = min(s.seconds for s in samples) * scale, max(s.seconds for s in samples) * scale
    return f"{low:.3g}..{high:.3g} {unit}"


def phase_medians(samples: Sequence[Sample]) -> dict[str, float]:
    names = list(dict.fromkeys(p for s in samples for p in s.phases))
    return {n: statistics.median(s.phases.get(n, 0.0) for s in samples) for n in names}


def split_lines(title: str, phases: dict[str, float]) -> list[str]:
    total = sum(phases.values()) or 1.0
    parts = [f"  {name:<28} {secs:8.3f} s  {secs / total:5.1%}" for name, secs in phases.items()]
    return [f"{title} (median per phase):", *parts]


def stopwatch() -> Callable[[], float]:
    start = time.perf_counter()
    return lambda: time.perf_counter() - start


def timed(work: Callable[[], object]) -> Timed:
    """A :data:`Timed` that measures one call of ``work``."""

    def sample() -> Sample:
        clock = stopwatch()
        work()
        return Sample(clock())

    return sample


def profile_lines(title: str, run: Callable[[], object], top: int = 20) -> list[str]:
    """cProfile of one call of ``run``: daap's ``top`` functions by cumulative time.

    Engine work shows as the time of the daap function that executes the statement.
    """
    profiler = cProfile.Profile()
    profiler.runcall(run)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"/daap/", top)
    body = [ln.replace(str(REPO / "src") + "/", "") for ln in out.getvalue().splitlines() if ln.strip()]
    return [f"profile of {title}:", *("  " + ln for ln in body[2:] if "List reduced" not in ln)]


def subprocess_env() -> dict[str, str]:
    """The environment for child processes: no shared DAAP_HOME, repo importable."""
    env = {k: v for k, v in os.environ.items() if k != "DAAP_HOME"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def machine() -> dict[str, Any]:
    import duckdb
    import pyarrow
    import pyiceberg

    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in _lines("/proc/cpuinfo") if ln.startswith("model name")), "?"
    )
    mem_kb = next((int(ln.split()[1]) for ln in _lines("/proc/meminfo") if ln.startswith("MemTotal")), 0)
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "pyiceberg": pyiceberg.__version__,
        "commit": _git_commit(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"
    return f"{head}{' (src modified)' if dirty else ''}"


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.3f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def report(outcomes: dict[str, Outcome], info: dict[str, Any]) -> str:
    head = ("benchmark", "metric", "ours", "baseline", "ratio", "goal", "verdict")
    rows = [head]
    for outcome in outcomes.values():
        for m in outcome.measures:
            goal = f"<= {m.goal:.2f}x" if m.goal is not None else "-"
            ours, base = _fmt(m.ours, m.unit), _fmt(m.baseline, m.unit)
            rows.append((m.benchmark, m.metric, ours, base, f"{m.ratio:.2f}x", goal, m.verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    table.insert(1, "  ".join("-" * w for w in widths))
    cpu, mem = info["cpus"], info["memory_gib"]
    load = " ".join(f"{x:.2f}" for x in info["load_average_at_start"])
    lines = [
        f"machine: {cpu} CPUs ({info['cpu']}), {mem} GiB; duckdb {info['duckdb']}, "
        f"pyiceberg {info['pyiceberg']}, pyarrow {info['pyarrow']}; daap {info['commit']}",
        f"load average at start: {load}; end: {' '.join(f'{x:.2f}' for x in info['load_average_at_end'])}",
        "",
        *table,
    ]
    for outcome in outcomes.values():
        notes = [f"  {m.metric}: {m.note}" for m in outcome.measures if m.note]
        if notes or outcome.details:
            name = outcome.measures[0].benchmark if outcome.measures else "?"
            lines += ["", f"[{name}]", *notes, *outcome.details]
    return "\n".join(lines)


def save_json(path: Path, outcomes: dict[str, Outcome], info: dict[str, Any], argv: list[str]) -> None:
    results = [
        {**asdict(m), "ratio": round(m.ratio, 4), "verdict": m.verdict}
        for outcome in outcomes.values()
        for m in outcome.measures
    ]
    details = {name: o.details for name, o in outcomes.items()}
    doc = {"machine": info, "argv": argv, "results": results, "details": details}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def python() -> str:
    return sys.executable


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
