"""``python -m benchmarks [--quick] [--only NAME] [--json FILE]``: run and report."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    audit_verify,
    authz,
    backbone,
    build_1e7,
    build_raw_csv,
    catalog_page,
    catalog_search,
    change_set,
    event_latency,
    flight_doget,
    lineage_graph,
    openlineage_ingest,
    pgwire_fetch,
    policy_query,
    quality,
    query_aggregate,
    registry,
    rest_latency,
)
from benchmarks.data import WORK
from benchmarks.runner import Outcome, Settings, log, machine, report, save_json

BENCHMARKS: dict[str, Callable[[Settings], Outcome]] = {
    build_raw_csv.NAME: build_raw_csv.run,
    query_aggregate.NAME: query_aggregate.run,
    build_1e7.NAME: build_1e7.run,
    rest_latency.NAME: rest_latency.run,
    flight_doget.NAME: flight_doget.run,
    pgwire_fetch.NAME: pgwire_fetch.run,
    change_set.NAME: change_set.run,
    audit_verify.NAME: audit_verify.run,
    backbone.NAME: backbone.run,
    event_latency.NAME: event_latency.run,
    registry.NAME: registry.run,
    quality.NAME: quality.run,
    authz.NAME: authz.run,
    policy_query.NAME: policy_query.run,
    catalog_search.NAME: catalog_search.run,
    catalog_page.NAME: catalog_page.run,
    lineage_graph.NAME: lineage_graph.run,
    openlineage_ingest.NAME: openlineage_ingest.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also save the results as JSON")
    parser.add_argument("--reps", type=int, help="repetitions per measurement (default 7, quick 3)")
    parser.add_argument("--profile", action="store_true", help="add a cProfile of daap's side")
    parser.add_argument("--clean", action="store_true", help="also delete the cached generated data")
    args = parser.parse_args(argv)
    os.environ.pop("DAAP_HOME", None)  # every workspace keeps its state in its own .daap
    runs = WORK / "runs"
    settings = Settings(args.quick, args.reps or (3 if args.quick else 7), runs, args.profile)
    info = machine()
    outcomes: dict[str, Outcome] = {}
    failed = []
    for name in args.only or list(BENCHMARKS):
        try:
            outcomes[name] = BENCHMARKS[name](settings)
        except Exception:
            failed.append(name)
            log(f"{name} failed:\n{traceback.format_exc()}")
        finally:
            shutil.rmtree(runs / name, ignore_errors=True)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(report(outcomes, info))
    if args.json:
        save_json(args.json, outcomes, info, sys.argv[1:] if argv is None else argv)
    shutil.rmtree(WORK if args.clean else runs, ignore_errors=True)
    if failed:
        log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
