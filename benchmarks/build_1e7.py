"""build_1e7: time and peak memory of ``daap build`` of 1e7 rows, in a child process.

Ours: ``python -m daap -w ROOT build --json --defer-events`` on a fresh workspace
(the version; its 1e7 change events stay queued, build_raw_csv times events). Its peak
resident set size is its ``ru_maxrss``, read with ``getrusage(RUSAGE_CHILDREN)``
by a small launcher process. That peak, less the RSS of an idle ``daap``
process, is compared with the size of the data as one Arrow table (measured by
streaming the built Parquet files batch by batch) to say how many "copies of
the data" the build holds at peak; the goal is at most 2. The raw baseline of
build_raw_csv runs in a child process too, for time and memory.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks import data
from benchmarks.build_raw_csv import FIRST_PHASE, daap_build
from benchmarks.runner import (
    Measure,
    Outcome,
    Sample,
    Settings,
    alternate,
    log,
    median,
    python,
    spread,
    subprocess_env,
)

NAME = "build_1e7"
COPIES_GOAL = 2.0
#: a small engine memory limit, to show the build's peak follows it and not the data
CAPPED = "1GB"
MB = 1e6
_MARK = "phases: "
LAUNCHER = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); code = subprocess.call(sys.argv[2:]); "
    "t = time.perf_counter() - t; usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {t}'); sys.exit(code)"
)
BASELINE = (
    "import sys; from pathlib import Path; from benchmarks.build_raw_csv import raw_baseline; "
    "raw_baseline(Path(sys.argv[1]), Path(sys.argv[2]))"
)


def child(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[Sample, bytes]:
    """Run ``cmd``; its wall time, its peak RSS in bytes (``extra['rss']``) and its stdout.

    A fresh small Python launches ``cmd`` and reads its ``ru_maxrss``: Linux
    carries the forking process's peak RSS over ``exec`` into the child's, so
    a child forked straight from this (big) process would report ours.
    """
    report = cwd / "launcher.txt"
    launch = [python(), "-c", LAUNCHER, str(report), *cmd]
    done = subprocess.run(launch, cwd=cwd, env={**subprocess_env(), **(env or {})}, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    max_rss_kib, seconds = report.read_text().split()
    return Sample(float(seconds), extra={"rss": float(max_rss_kib) * 1024}), done.stdout


def phase_memory(root: Path, csv: Path) -> None:
    """In a child: one in-process build; prints ``phases: {phase: [seconds, peak RSS bytes]}``."""
    current = [FIRST_PHASE]
    peaks: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peaks[current[0]] = max(peaks.get(current[0], 0.0), _rss())
            done.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result = daap_build(root, csv, lambda phase: current.__setitem__(0, phase), send_events=False)
    done.set()
    thread.join()
    phases = {name: [secs, peaks.get(name, 0.0)] for name, secs in result.phases.items()}
    print(f"\n{_MARK}{json.dumps(phases)}")  # on its own line: DuckDB may draw a progress bar


def _rss() -> float:
    """Resident set size of this process now, in bytes (Linux; 0 elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), "VmRSS: 0 kB")
    return float(line.split()[1]) * 1024


def _phase_lines(root: Path, csv: Path, work: Path, rows: int) -> list[str]:
    data.workspace(root, csv)
    code = (
        "import sys; from pathlib import Path; from benchmarks.build_1e7 import phase_memory; "
        "phase_memory(Path(sys.argv[1]), Path(sys.argv[2]))"
    )
    _, stdout = child([python(), "-c", code, str(root), str(csv)], work)
    line = next(ln for ln in stdout.decode().splitlines() if ln.startswith(_MARK))
    phases: dict[str, list[float]] = json.loads(line.removeprefix(_MARK))
    lines = [f"one in-process daap build of {rows:,} rows: seconds and peak RSS per phase"]
    lines += [f"  {name:<28} {secs:8.3f} s  {rss / MB:8,.0f} MB" for name, (secs, rss) in phases.items()]
    return lines


def arrow_bytes(paths: tuple[str, ...]) -> int:
    """Size of the data as Arrow (the contract's types), read one batch at a time."""
    return sum(
        batch.nbytes for path in paths for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 16)
    )


def run(settings: Settings) -> Outcome:
    rows = 2_000_000 if settings.quick else 10_000_000
    reps = min(settings.reps, 3)
    csv = data.csv_file(rows)
    work = settings.work / NAME
    root = work / "ws"
    log(f"{NAME}: {rows:,} rows, {reps} repetitions (+1 warm-up) each, in child processes")

    def ours(env: dict[str, str] | None = None) -> Sample:
        data.workspace(root, csv)
        # --defer-events: the version, not its 1e7 change events (build_raw_csv times those)
        cmd = [python(), "-m", "daap", "-w", str(root), "build", "--json", "--defer-events"]
        sample, stdout = child(cmd, work, env)
        [result] = json.loads(stdout)
        if result["status"] != "published":
            raise RuntimeError(f"daap build did not publish: {result['message']}")
        return Sample(sample.seconds, {"in-process build": float(result["seconds"])}, sample.extra)

    def baseline() -> Sample:
        return child([python(), "-c", BASELINE, str(csv), str(work / "baseline")], work)[0]

    work.mkdir(parents=True, exist_ok=True)
    mine, theirs = alternate(ours, baseline, reps)
    capped = ours({"DAAP_BUILD_MEMORY": CAPPED})
    idle = child([python(), "-m", "daap", "--version"], work)[0].extra["rss"]
    arrow = arrow_bytes(_files(root))
    peak = max(s.extra["rss"] for s in mine)
    base_peak = max(s.extra["rss"] for s in theirs)
    in_process = median([Sample(s.phases["in-process build"]) for s in mine])
    csv_mb = csv.stat().st_size / MB
    details = _phase_lines(root, csv, work, rows) if settings.profile else []
    return Outcome(
        [
            Measure(
                NAME,
                f"build {rows:,} rows, `daap build` process",
                median(mine),
                median(theirs),
                "s",
                note=f"median of {reps}: ours {spread(mine)} (in-process build {in_process:.2f} s), "
                f"baseline {spread(theirs)} (raw DuckDB + pyiceberg script in its own process)",
            ),
            Measure(
                NAME,
                "peak RSS above idle / data as Arrow",
                (peak - idle) / MB,
                arrow / MB,
                "MB",
                COPIES_GOAL,
                note=f"ratio = copies of the data the build holds at peak (max of {reps}), above the "
                f"{idle / MB:,.0f} MB of an idle `daap --version`; whole process {peak / MB:,.0f} MB = "
                f"{peak / arrow:.2f} copies = {peak / MB / csv_mb:.2f}x the {csv_mb:,.0f} MB CSV",
            ),
            Measure(
                NAME,
                f"peak RSS above idle, buildMemory {CAPPED} / data",
                (capped.extra["rss"] - idle) / MB,
                arrow / MB,
                "MB",
                note=f"one build with DAAP_BUILD_MEMORY={CAPPED}: {capped.seconds:.2f} s "
                f"(vs {median(mine):.2f} s uncapped); past the limit the engine spills to disk, "
                "so the peak follows the limit, not the size of the data",
            ),
            Measure(
                NAME,
                "peak RSS, daap vs raw baseline",
                peak / MB,
                base_peak / MB,
                "MB",
                note=f"the baseline holds the whole Arrow table: {base_peak / arrow:.2f} copies "
                f"({(base_peak - idle) / arrow:.2f} above idle daap)",
            ),
        ],
        details,
    )


def _files(root: Path) -> tuple[str, ...]:
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(root)
    try:
        state = ws.version(data.PRODUCT).ports[data.PRODUCT]
        return tuple(ws.tables.plan(state.table, state.snapshot_ids[-1]).paths)
    finally:
        ws.close()
