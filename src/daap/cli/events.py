"""``daap events``: watch a product's change events, and send those still waiting.

``tail`` reads the backbone the way any consumer would, under a consumer group of
its own that never commits, so it disturbs nobody. It follows new events until
Ctrl-C (or, with ``--no-follow``, stops once it has caught up).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from daap.cli import output
from daap.cli.main import cli, handle_errors
from daap.errors import NotFound, UsageError

if TYPE_CHECKING:
    from daap.mesh.backbone import Event, Start, Subscription
    from daap.mesh.workspace import Workspace

#: how long one poll waits when nothing arrives; the loop re-polls every topic in turn
POLL_SECONDS = 0.25


@cli.group()
def events() -> None:
    """Change events of products: tail them, publish what is waiting."""


@events.command()
@click.argument("target", metavar="PRODUCT[.PORT]")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest event retention keeps.")
@click.option("--from-offset", type=click.IntRange(min=1), help="Start at this offset (one port only).")
@click.option("--since", metavar="TIME", help="Start at the first event stored at or after TIME (ISO 8601).")
@click.option(
    "--full-load",
    is_flag=True,
    help="Start with every row of the latest published version (op r), then its later events.",
)
@click.option("--follow/--no-follow", default=True, show_default=True, help="Keep waiting for new events.")
@click.option("--max", "max_events", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, per line.")
@click.pass_context
@handle_errors
def tail(
    ctx: click.Context,
    target: str,
    from_beginning: bool,
    from_offset: int | None,
    since: str | None,
    full_load: bool,
    follow: bool,
    max_events: int | None,
    as_json: bool,
) -> None:
    """Print the change events of PRODUCT (every port) or PRODUCT.PORT as they come.

    Without a start option only new events are shown, like tail -f.
    """
    from daap.mesh.workspace import Workspace

    chosen = [name for name, given in _starts(from_beginning, from_offset, since, full_load) if given]
    if len(chosen) > 1:
        raise UsageError(f"choose one start: {', '.join(chosen)} were all given")
    ws = Workspace.open(ctx.find_root().obj)
    try:
        product, ports = _ports(ws, target)
        if from_offset is not None and len(ports) != 1:
            raise UsageError(
                f"--from-offset needs one port; {product} has {len(ports)}",
                hint=f"name it: {', '.join(f'{product}.{p}' for p in ports)}",
            )
        from daap.mesh.wire import Decoder

        printer = _Printer(as_json, max_events, Decoder(ws.registry.schema_by_id))
        reader = _Readers(ws, product, ports)
        try:
            if full_load:
                reader.full_load(printer)
            else:
                reader.subscribe(_start(from_beginning, from_offset, since))
            reader.follow(printer, follow)
        except KeyboardInterrupt:
            pass
        finally:
            reader.close()
    finally:
        ws.close()


def _starts(*given: object) -> list[tuple[str, bool]]:
    names = ("--from-beginning", "--from-offset", "--since", "--full-load")
    return [(name, value not in (None, False)) for name, value in zip(names, given, strict=True)]


def _ports(ws: Workspace, target: str) -> tuple[str, list[str]]:
    """The product and the ports to read: the named one, or all of its latest version."""
    product, _, port = target.partition(".")
    version = ws.version(product)
    ports = sorted(version.ports)
    if port:
        if port not in ports:
            raise NotFound(f"{product} has no output port {port!r} (ports: {', '.join(ports)})")
        return product, [port]
    return product, ports


def _start(from_beginning: bool, from_offset: int | None, since: str | None) -> Start:
    from daap.mesh.backbone import Start

    if from_beginning:
        return Start.earliest()
    if from_offset is not None:
        return Start.offset(from_offset)
    if since is not None:
        return Start.time(int(_parse_time(since).timestamp() * 1000))
    return Start.latest()


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not an ISO 8601 time", hint="e.g. --since 2026-11-24T10:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Readers:
    """The tail's readers, one per port, under a consumer group of their own that never
    commits; closing deletes the group, so a tail leaves nothing on the backbone."""

    def __init__(self, ws: Workspace, product: str, ports: list[str]) -> None:
        from daap.mesh.backbone import topic_for

        self.ws = ws
        self.product = product
        self.topics = {port: topic_for(product, port) for port in ports}
        self.group = f"daap-tail-{uuid.uuid4().hex[:12]}"
        self.subscriptions: list[Subscription] = []

    def subscribe(self, start: Start) -> None:
        for topic in self.topics.values():
            self.subscriptions.append(self.ws.backbone.subscribe(topic, self.group, start))

    def full_load(self, printer: _Printer) -> None:
        """Print each port's full load, then read on right after the version it came from."""
        from daap.mesh.feed import full_load

        for port, topic in self.topics.items():
            load = full_load(self.ws, self.product, port)
            version = load.version.version
            output.note(f"full load of {self.product}.{port} version {version}: {load.rows:,} rows (op r)")
            for event in load.events(self.ws):
                printer.show(event)
            self.subscriptions.append(self.ws.backbone.subscribe(topic, self.group, load.resume))

    def follow(self, printer: _Printer, follow: bool) -> None:
        """Poll every topic in turn; without ``follow``, stop after a round that brought nothing."""
        wait = POLL_SECONDS / max(len(self.subscriptions), 1)
        while not printer.done:
            got = 0
            for sub in self.subscriptions:
                for event in sub.poll(max_events=500, timeout=wait):
                    printer.show(event)
                    got += 1
                    if printer.done:
                        return
            if not got and not follow:
                return

    def close(self) -> None:
        from daap.errors import BackboneError

        for sub in self.subscriptions:
            sub.close()
        for topic in self.topics.values():
            with contextlib.suppress(BackboneError):
                self.ws.backbone.delete_group(topic, self.group)


class _Printer:
    """Events as lines: readable, or JSON with ``--json``."""

    def __init__(self, as_json: bool, limit: int | None, decode: Callable[[bytes | None], Any]) -> None:
        self.as_json = as_json
        self.limit = limit
        self.count = 0
        self.decode = decode  # wire format (schema from the registry) or JSON

    @property
    def done(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def show(self, event: Event) -> None:
        if self.done:
            return
        self.count += 1
        from daap.mesh.feed import plain

        key = plain(self.decode(event.key))
        value = plain(self.decode(event.value))
        if self.as_json:
            line = {
                "topic": event.topic,
                "offset": event.offset,
                "event_id": event.event_id,
                "timestamp_ms": event.timestamp_ms,
                "key": key,
                "value": value,
            }
            sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
        else:
            sys.stdout.write(_describe(event, key, value) + "\n")
        sys.stdout.flush()


_OPS = {"c": "insert", "u": "update", "d": "delete", "r": "read"}


def _describe(event: Event, key: Any, value: dict[str, Any] | None) -> str:
    """``daap.titles.titles@12 update v3 {"title_id":7} title: 'A' -> 'B'``."""
    from daap.runtime.contract import show

    where = f"{event.topic}@{event.offset}" if event.offset is not None else event.topic
    ident = json.dumps(key, separators=(",", ":"))
    if value is None:
        return f"{where} tombstone {ident}"
    op = _OPS.get(value.get("op", ""), value.get("op", "?"))
    version = f"v{value.get('source', {}).get('version', '?')}"
    before, after = value.get("before") or {}, value.get("after") or {}
    if op == "update":
        changed = [f"{c}: {show(before.get(c))} -> {show(v)}" for c, v in after.items() if before.get(c) != v]
        detail = "; ".join(changed)
    else:
        row = after or before
        detail = ", ".join(f"{c}={show(v)}" for c, v in row.items() if c not in (key or {}))
    return f"{where} {op} {version} {ident} {detail}".rstrip()


@events.command()
@click.pass_context
@handle_errors
def publish(ctx: click.Context) -> None:
    """Send the change events of published versions that are still waiting (e.g. the backbone was down)."""
    from daap.errors import BackboneError
    from daap.mesh.publication import publish_all_pending
    from daap.mesh.workspace import Workspace

    ws = Workspace.open(ctx.find_root().obj)
    started = time.monotonic()
    try:
        drained = publish_all_pending(ws)
    finally:
        ws.close()
    for item in drained:
        for line in item.describe():
            output.out.print(f"published {line}", markup=False)
    problems = [p for p in (item.problem() for item in drained) if p]
    for problem in problems:
        output.error(problem)
    if not drained:
        output.note("nothing waiting: every published version's change events are out")
    else:
        output.note(f"done in {time.monotonic() - started:.2f}s")
    if problems:
        errors = [item.error for item in drained if item.error is not None]
        sys.exit(errors[0].exit_code if errors else BackboneError.exit_code)
