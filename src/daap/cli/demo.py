"""``daap demo``: generate, build and query the streaming-media demo mesh."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import ConfigError

DEMO = Path("examples") / "streaming-media"

QUERIES = (
    (
        "Top 10 titles by hours watched",
        "SELECT popularity_rank AS rank, title, genre, plays, viewers, hours_watched, "
        "round(completion_rate * 100, 1) AS completed_pct "
        "FROM title_popularity.popularity ORDER BY popularity_rank LIMIT 10",
    ),
    (
        "Hours watched by genre",
        "SELECT genre, sum(hours_watched) AS hours, sum(plays) AS plays "
        "FROM title_popularity.popularity GROUP BY genre ORDER BY hours DESC",
    ),
    (
        "Playback by device (raw events joined with the catalogue)",
        "SELECT e.device, count(*) AS plays, count(DISTINCT e.viewer_id) AS viewers, "
        "round(sum(e.watch_seconds) / 3600.0, 1) AS hours "
        "FROM playback_events.events e JOIN titles.titles t USING (title_id) "
        "GROUP BY e.device ORDER BY hours DESC",
    ),
)


def find_demo(start: Path) -> Path:
    """``examples/streaming-media`` from ``start`` upward, or beside the source tree."""
    here = Path(__file__).resolve()
    for folder in (start.resolve(), *start.resolve().parents, *here.parents):
        if (folder / DEMO / "mesh.yaml").is_file():
            return folder / DEMO
    raise ConfigError(
        "cannot find the demo mesh (examples/streaming-media)",
        hint="run `daap demo` inside the daap repository, or pass --path",
    )


@cli.command()
@click.option("--path", type=click.Path(file_okay=False, path_type=Path), help="The demo mesh folder.")
@click.option("--days", default=7, show_default=True, help="Days of playback events to generate.")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Then serve it (as `daap up`).")
@handle_errors
def demo(path: Path | None, days: int, serve: bool) -> None:
    """Generate the streaming-media demo mesh, build it, query it and serve it."""
    from daap.mesh.builder import build_mesh
    from daap.mesh.workspace import Workspace
    from daap.query.service import QueryRequest, QueryService

    root = path or find_demo(Path.cwd())
    _generate(root, days)
    ws = Workspace.open(root)
    try:
        with output.progress(True) as report:
            outcomes = build_mesh(ws, None, report)
        output.print_outcomes(outcomes)
        if any(o.status in ("failed", "skipped") for o in outcomes):
            sys.exit(1)
        service = QueryService(ws)
        for title, sql in QUERIES:
            output.out.print(f"\n[bold]{title}[/]", markup=True)
            output.out.print(f'  daap -w {root} query "{sql}"', style="dim")
            result = service.execute(QueryRequest(sql))
            output.write_arrow(result.reader, "table", None, None)
            result.close()
        tokens = _principals(ws, root, service)
        _bad_delivery(ws, root, service, tokens)
        if serve:
            from daap.cli.up import Ports, serve_mesh

            _print_try_changes(root)
            _print_browse(tokens)
            serve_mesh(service, Ports("127.0.0.1", 8080, 8815, 5433), None)
    finally:
        ws.close()


#: the demo's principals whose tokens are printed, and what each shows
ROLES = (
    ("ana", "content analyst in the EU: customers of the EU only, personal data masked"),
    ("priya", "governance (privacy officer): every customer, personal data unmasked"),
)
COLUMNS = "customer_id, email, full_name, phone, birth_date, region"
CUSTOMERS_SQL = f"SELECT {COLUMNS} FROM customers.customers ORDER BY 1 LIMIT 3"


def _principals(ws: Any, root: Path, service: Any) -> dict[str, str]:
    """A fresh token for each demo principal (``mesh.yaml``), printed with what its principal sees."""
    from datetime import timedelta

    from daap.mesh.policy.authn import Authenticator
    from daap.mesh.policy.identity import Identities
    from daap.query.service import QueryRequest

    ids = Identities(ws)
    names = [p.name for p in ids.principals()]
    if not names:
        return {}
    tokens = {name: ids.create_token(name, timedelta(days=30), "daap demo")[1] for name in names}
    service.enforce_policies()
    callers = Authenticator(ids, required=True)
    output.out.print("\n[bold]Principals and their tokens[/] (valid 30 days; shown once):", markup=True)
    for name in names:
        output.out.print(f"  {name:<6} {tokens[name]}", markup=False, highlight=False)
    tokens_file = ws.config.home / "demo-tokens.env"
    tokens_file.write_text(
        "".join(f"DAAP_TOKEN_{n.upper()}={t}\n" for n, t in tokens.items()), encoding="utf-8"
    )
    tokens_file.chmod(0o600)
    output.note(f"  (also in {tokens_file}, for scripts: `source` it)")
    for name, who in ROLES:
        if name not in tokens:
            continue
        output.out.print(f"\n[bold]customers as {name}[/], {who}:", markup=True)
        result = service.execute(QueryRequest(CUSTOMERS_SQL, caller=callers.principal_caller(name)))
        output.write_arrow(result.reader, "table", None, None)
        result.close()
        output.out.print(
            f'  psql "host=127.0.0.1 port=5433 dbname=daap user={name} password=$DAAP_TOKEN_{name.upper()}"'
            f' -c "{CUSTOMERS_SQL}"',
            style="dim",
            markup=False,
            highlight=False,
        )
    output.out.print(
        f"  daap -w {root} govern check   # the mesh's global rules, product by product", style="dim"
    )
    output.out.print(f"  daap -w {root} access explain customers --as ana", style="dim")
    return tokens


def _bad_delivery(ws: Any, root: Path, service: Any, tokens: dict[str, str] | None = None) -> None:
    """Deliver the next day, which has the device clock bug: the quality gate quarantines it."""
    from daap.mesh.builder import build_mesh
    from daap.query.service import QueryRequest

    module = _generator(root)
    written = module.add_day(root)
    output.out.print(
        f"\n[bold]A bad delivery[/]: {written.name} arrives, with a few negative watch durations", markup=True
    )
    [outcome] = build_mesh(ws, [root / "playback_events"])
    output.print_outcomes([outcome])
    sql = "SELECT count(*) AS events, max(event_time) AS newest FROM playback_events.events"
    result = service.execute(QueryRequest(sql))
    output.out.print("Consumers still read the last good version:", markup=False)
    output.write_arrow(result.reader, "table", None, None)
    result.close()
    output.out.print(
        f"  daap -w {root} check playback_events   # every rule, the monitors and SLOs", style="dim"
    )
    output.out.print(
        f'  daap -w {root} query --quarantined "SELECT * FROM playback_events.events WHERE watch_seconds<0"',
        style="dim",
        markup=False,
    )
    bearer = ' -H "Authorization: Bearer $DAAP_TOKEN_JOE"' if tokens and "joe" in tokens else ""
    output.out.print(
        f"  curl -s{bearer} localhost:8080/api/products/playback_events/observation",
        style="dim",
        markup=False,
    )
    output.out.print(
        f"  python {root}/generate.py {root} --fix   # re-deliver the day, corrected", style="dim"
    )


def _print_try_changes(root: Path) -> None:
    """How to watch the mesh react while it is served."""
    lines = [
        "",
        "[bold]Watch it react[/] (the mesh rebuilds by itself while it is served). In another terminal:",
        f"  daap -w {root} events tail title_popularity   # change events as they come",
        f"  sed -i 's/^t0001,[^,]*/t0001,The Midnight Encore/' {root}/titles/data/generated/titles.csv",
        f"  python {root}/generate.py {root} --fix       # re-deliver the quarantined day, corrected",
        f"  python {root}/generate.py {root} --add-day   # a new day of playback events",
        "titles, playback_events and then title_popularity publish new versions; the tail shows each change.",
        "",
    ]
    for line in lines:
        output.out.print(line, markup=True, highlight=False)


def _print_browse(tokens: dict[str, str]) -> None:
    """Links that open the web UI signed in as a demo principal (the token stays in the browser tab)."""
    output.out.print("[bold]Browse the mesh[/] in a web browser, signed in as:", markup=True)
    for name, shows in ROLES:
        if name in tokens:
            link = f"http://127.0.0.1:8080/#token={tokens[name]}"
            output.out.print(f"  {name:<6} {link}", markup=False, highlight=False)
            output.out.print(f"         {shows}", style="dim", markup=False)
    output.out.print("  or http://127.0.0.1:8080/ to browse the public titles anonymously\n", markup=False)


def _generate(root: Path, days: int) -> None:
    _generator(root).generate(root, days=days)


def _generator(root: Path) -> Any:
    spec = importlib.util.spec_from_file_location("daap_demo_generate", root / "generate.py")
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {root / 'generate.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
