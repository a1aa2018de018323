"""``daap watch``: keep the mesh built as files, code and upstream products change.

The same loop runs inside ``daap up`` (unless ``--no-watch``); this command runs
it alone, for a mesh served by something else or for a terminal to watch.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors

if TYPE_CHECKING:
    from pathlib import Path

    from daap.mesh.builder import BuildOutcome


@cli.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between two looks at the product folders.",
)
@click.pass_context
@handle_errors
def watch(ctx: click.Context, interval: float) -> None:
    """Build the mesh, then rebuild each product when its files or an upstream product change.

    A product reading another product rebuilds when that product publishes a new
    version (its change events arrive), in dependency order. Stop with Ctrl-C.
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    output.note("watching the mesh; stop with Ctrl-C")
    run_watcher(ctx.obj, stop, interval)
    output.note("daap watch stopped")


def run_watcher(workspace: Path | None, stop: threading.Event, interval: float = 1.0) -> None:
    """Run :class:`~daap.mesh.watch.MeshWatcher` on its own workspace until ``stop`` is set."""
    from daap.mesh.watch import MeshWatcher
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(workspace)
    watcher = MeshWatcher(ws, on_outcome=_print, report=_report, interval=interval)
    try:
        watcher.run(stop)
    finally:
        watcher.close()
        ws.close()


def watch_in_thread(
    workspace: Path | None, interval: float = 1.0
) -> tuple[threading.Thread, threading.Event]:
    """The watcher in a daemon thread (``daap up``); set the event to stop it."""
    stop = threading.Event()

    def target() -> None:
        try:
            run_watcher(workspace, stop, interval)
        except Exception as exc:  # the servers keep serving; say why the mesh stopped updating
            output.error(f"the mesh watcher stopped: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=target, name="daap-watch", daemon=True)
    thread.start()
    return thread, stop


def _print(outcome: BuildOutcome) -> None:
    if outcome.status == "unchanged":
        return  # a look that found nothing new is not news
    output.print_outcomes([outcome])
    for port, events in outcome.events.items():
        output.note(f"  events: {port}: {_counts(events)}")


def _counts(events: dict[str, Any]) -> str:
    return f"+{events['inserted']} ~{events['updated']} -{events['deleted']} on {events['topic']}" + (
        f" (offsets {events['first_offset']}..{events['last_offset']})" if events["first_offset"] else ""
    )


def _report(line: str) -> None:
    output.note(line)
