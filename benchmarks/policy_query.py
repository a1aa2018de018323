"""policy_query: a query under a row filter and two masks, against the same query unrestricted.

The product ``p`` (data.py's eight columns; 1e7 rows, 1e6 with --quick) is
built by daap; its contract classifies ``c2`` as ``pii`` (masked by the keyed
hash) and ``c8`` as ``restricted`` (masked to its last four characters), and
its ``access.yaml`` has one row filter, ``c3 < CAST(principal.quota AS
INTEGER)``, which keeps half the rows for the principal ``ana`` (quota 500).
Ours: ``QueryService.execute`` as ``ana`` with policies enforced (Cedar
decision, the filtered, masked relation in place of the port). Baseline: the
same service, the same SQL, as the local caller (no policies). Both with the
result cache off, on a service opened once as ``daap up`` holds it.
Goal: ours <= 1.15x.
"""

from __future__ import annotations

import json
import os

import pyarrow as pa

from benchmarks import data
from benchmarks.runner import Measure, Outcome, Settings, alternate, log, median, profile_lines, spread, timed

NAME = "policy_query"
GOAL = 1.15
#: two masks that keep each row's cost low (the year of a date, a redacted timestamp)
SQL = (
    "SELECT c7, count(*) AS n, min(c5) AS first_c5, max(c6) AS last_c6, avg(c4) AS avg_c4 "
    "FROM p.p GROUP BY c7 ORDER BY c7"
)
#: the two string masks: a keyed SHA-256 of every kept c2, the last four characters of c8
HASHED_SQL = (
    "SELECT c7, count(*) AS n, count(DISTINCT c2) AS customers, max(c8) AS last_c8 "
    "FROM p.p GROUP BY c7 ORDER BY c7"
)
MESH = "name: bench\nprincipals:\n  - {name: ana, roles: [analyst], attributes: {quota: '900'}}\n"
POLICY = (
    'permit(principal, action == Daap::Action::"read", resource) '
    'when { principal.roles.contains("analyst") };\n'
)
CLASSES = {"c2": "pii", "c5": "pii", "c6": "confidential", "c8": "restricted"}
ACCESS = """rowFilters:
  - name: quota
    where: c3 < CAST(principal.quota AS INTEGER)
masks:
  pii: hash
  confidential: redact
  restricted: last4
columns:
  p.c5: year
"""


def run(settings: Settings) -> Outcome:
    from daap.mesh.builder import build_mesh
    from daap.mesh.policy.authn import Authenticator
    from daap.mesh.policy.identity import Identities
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryRequest, QueryService

    rows = 1_000_000 if settings.quick else 10_000_000
    reps = settings.reps * 2
    root = settings.work / NAME
    folder = data.workspace(root, data.csv_file(rows))
    (root / "mesh.yaml").write_text(MESH)
    contract_path = folder / "contracts" / f"{data.PRODUCT}.odcs.yaml"
    contract = json.loads(contract_path.read_text())
    for prop in contract["schema"][0]["properties"]:
        prop["classification"] = CLASSES.get(prop["name"], "public")
    contract_path.write_text(json.dumps(contract, indent=2))
    (folder / "access.cedar").write_text(POLICY)
    (folder / "access.yaml").write_text(ACCESS)
    log(f"{NAME}: {rows:,} rows, {reps} queries (+1 warm-up) each, two query shapes")
    ws = Workspace.open(root)
    try:
        outcomes = build_mesh(ws, [folder])
        if [o.status for o in outcomes] != ["published"]:
            raise RuntimeError(f"daap build did not publish: {[o.message for o in outcomes]}")
        service = QueryService(ws, cache_bytes=0)
        service.enforce_policies()
        ana = Authenticator(Identities(ws), required=True).principal_caller("ana")
        measured = []
        for sql in (SQL, HASHED_SQL):

            def restricted(sql: str = sql) -> pa.Table:
                return service.execute(QueryRequest(sql, caller=ana)).read_all()

            def unrestricted(sql: str = sql) -> pa.Table:
                return service.execute(QueryRequest(sql)).read_all()

            _check(restricted(), unrestricted(), rows)
            measured.append(alternate(timed(restricted), timed(unrestricted), reps))
        details = profile_lines("one restricted query", lambda: service.execute(
            QueryRequest(SQL, caller=ana)).read_all()) if settings.profile else []  # fmt: skip
    finally:
        ws.close()
    (mine, theirs), (hashed, plain) = measured
    common = (
        f"median of {reps} queries, alternating, after one warm-up each; the filter keeps 90% of the rows"
    )
    measures = [
        Measure(
            NAME,
            f"GROUP BY over {rows:,} rows, 1 row filter + 2 masks (year, redact)",
            median(mine) * 1e3,
            median(theirs) * 1e3,
            "ms",
            GOAL,
            note=f"{common}; ours {spread(mine, 1e3, 'ms')}, baseline {spread(theirs, 1e3, 'ms')}; "
            f"{os.cpu_count()} CPUs",
        ),
        Measure(
            NAME,
            "same, the string masks (keyed SHA-256 hash, last 4)",
            median(hashed) * 1e3,
            median(plain) * 1e3,
            "ms",
            note=f"{common}; for information: SHA-256 of every kept c2 is the cost (DuckDB's own sha256), "
            f"not daap; ours {spread(hashed, 1e3, 'ms')}, baseline {spread(plain, 1e3, 'ms')}",
        ),
    ]
    return Outcome(measures, details)


def _check(ours: pa.Table, theirs: pa.Table, rows: int) -> None:
    """The restricted result has the filter's rows and masked values; the unrestricted one all rows."""
    kept, every = sum(ours.column("n").to_pylist()), sum(theirs.column("n").to_pylist())
    if every != rows or not 0.85 * rows < kept < 0.95 * rows:
        raise RuntimeError(f"expected {rows} rows unrestricted and about 90% restricted: {every}, {kept}")
    if "last_c6" in ours.column_names and any(v is not None for v in ours.column("last_c6").to_pylist()):
        raise RuntimeError("c6 is not redacted for ana")
    if "last_c8" in ours.column_names and not all(
        str(v).startswith("***") for v in ours.column("last_c8").to_pylist()
    ):
        raise RuntimeError("c8 is not masked for ana")
    if "first_c5" in ours.column_names and any(
        v.month != 1 or v.day != 1 for v in ours.column("first_c5").to_pylist()
    ):
        raise RuntimeError("c5 is not cut to its year for ana")
