"""Keeping a mesh built as its sources change: files, code, and upstream products.

:class:`MeshWatcher` runs the mesh the way ``daap up`` and ``daap watch`` do:

- a product whose folder, input files or code change is rebuilt (a cheap
  stat of the files each round; the build itself decides from content hashes
  whether anything really changed);
- a product reading another product's port subscribes to that port's topic
  under its own consumer group (``daap-build-<product>``), and is rebuilt when
  change events arrive. However many events a burst brings, from one upstream
  version or several, they make one build, which reads the latest upstream
  version; the group's offset is committed after that build, so a crash before
  it means the build runs again, never that it is skipped;
- downstream products rebuild in dependency order by construction: a product
  is rebuilt only once its upstream's new version is published, since that is
  what puts the events on the topic;
- change events a build could not publish (backbone down) are retried every
  ``interval`` (every 5 s after a failure) until they go out.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from daap.errors import BackboneError, DaapError, SpecError
from daap.mesh import publication
from daap.mesh.backbone import OffsetOutOfRange, Start, Subscription, topic_for
from daap.mesh.builder import BuildOutcome, build_mesh
from daap.mesh.workspace import SpecCache, Workspace
from daap.spec.model import FileSource, ProductSpec

#: a stat signature of the files a product's build reads
Signature = frozenset[tuple[str, int, int]]
Report = Callable[[str], None]


def group_for(product: str) -> str:
    """The consumer group through which ``product`` follows its upstream ports."""
    return f"daap-build-{product}"


@dataclass
class _Watched:
    spec: ProductSpec
    signature: Signature
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # topic -> reader
    pending: dict[str, int] = field(default_factory=dict)  # topic -> highest offset seen, not committed


class MeshWatcher:
    """Rebuilds products when their sources change (see the module docstring).

    Args:
        ws: the workspace; the watcher builds through it (use one of its own, not a server's).
        on_outcome: called with every build outcome.
        report: called with notes for the user (subscriptions, retries).
        interval: seconds between two looks at the files.
    """

    def __init__(
        self,
        ws: Workspace,
        on_outcome: Callable[[BuildOutcome], None] = lambda o: None,
        report: Report = lambda line: None,
        interval: float = 1.0,
    ) -> None:
        self.ws = ws
        self.on_outcome = on_outcome
        self.report = report
        self.interval = interval
        self.watched: dict[str, _Watched] = {}
        self.specs = SpecCache(ws)  # a look every interval re-reads no unchanged YAML
        self._last_scan = 0.0
        self._retry_at = 0.0
        self._broken: dict[Path, Signature] = {}  # folders whose descriptor does not load

    # -- the loop ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Build everything once, then follow changes until ``stop`` is set."""
        self._send_pending()
        self._scan(force=True)
        self._build(list(self.watched))
        while not stop.is_set():
            self.step(wait=min(0.1, self.interval))

    def step(self, wait: float = 0.1) -> list[BuildOutcome]:
        """One round: look at the files (every ``interval``), read the topics, build what changed."""
        dirty = self._scan() if time.monotonic() - self._last_scan >= self.interval else set()
        dirty |= self._poll(wait)
        outcomes = self._build(sorted(dirty)) if dirty else []
        if time.monotonic() >= self._retry_at:
            self._send_pending()
            for watched in self.watched.values():  # topics that could not be followed before
                self._follow(watched.spec, watched.subscriptions)
        return outcomes

    def close(self) -> None:
        for watched in self.watched.values():
            for sub in watched.subscriptions.values():
                sub.close()
        self.watched.clear()

    # -- files ------------------------------------------------------------------

    def _scan(self, force: bool = False) -> set[str]:
        """Products whose files changed since the last scan (all of them when ``force``)."""
        self._last_scan = time.monotonic()
        changed: set[str] = set()
        seen: set[str] = set()
        for folder in self.ws.product_folders():
            try:
                spec = self.specs.load(folder)
            except SpecError as exc:
                self._invalid(folder, exc)
                continue
            self._broken.pop(folder, None)
            seen.add(spec.name)
            signature = _signature(spec)
            known = self.watched.get(spec.name)
            if known is not None and known.signature == signature and not force:
                continue
            subscriptions = known.subscriptions if known else {}
            if known is None or known.spec.upstream() != spec.upstream():
                self._follow(spec, subscriptions)
            self.watched[spec.name] = _Watched(spec, signature, subscriptions, known.pending if known else {})
            changed.add(spec.name)
        for gone in set(self.watched) - seen:
            for sub in self.watched.pop(gone).subscriptions.values():
                sub.close()
        return changed

    def _invalid(self, folder: Path, exc: SpecError) -> None:
        """A descriptor that does not load: say so once per change of its folder."""
        stamp = _folder_signature(folder)
        if self._broken.get(folder) != stamp:
            self._broken[folder] = stamp
            self.report(f"{folder.name}: not built: {exc}")

    # -- topics -----------------------------------------------------------------

    def _follow(self, spec: ProductSpec, current: dict[str, Subscription]) -> None:
        """Subscribe ``current`` to exactly the upstream ports ``spec`` reads now (unpinned)."""
        wanted = {topic_for(s.product, s.port) for s in spec.upstream() if s.version is None}
        for topic in set(current) - wanted:
            current.pop(topic).close()
        for topic in sorted(wanted - set(current)):
            try:
                current[topic] = self.ws.backbone.subscribe(topic, group_for(spec.name))
            except OffsetOutOfRange:
                self.report(
                    f"{spec.name}: fell behind {topic} past its retention; rebuilding from the latest"
                )
                current[topic] = self.ws.backbone.subscribe(topic, group_for(spec.name), Start.latest())
            except BackboneError as exc:
                self.report(f"{spec.name}: cannot follow {topic} yet: {exc}")

    def _poll(self, wait: float) -> set[str]:
        """Products whose upstream topics brought events (which are then pending a commit)."""
        dirty = set()
        readers = [
            (name, topic, sub) for name, w in self.watched.items() for topic, sub in w.subscriptions.items()
        ]
        each = wait / len(readers) if readers else 0.0
        for name, topic, sub in readers:
            try:
                got = sub.poll(max_events=10_000, timeout=each)
            except OffsetOutOfRange:
                self.report(f"{name}: fell behind {topic} past its retention; rebuilding from the latest")
                sub.close()
                self.watched[name].subscriptions[topic] = self.ws.backbone.subscribe(
                    topic, group_for(name), Start.latest()
                )
                dirty.add(name)
                continue
            except BackboneError as exc:
                self.report(f"{name}: cannot read {topic}: {exc}")
                continue
            if got:
                last = max(e.offset or 0 for e in got)
                pending = self.watched[name].pending
                pending[topic] = max(pending.get(topic, 0), last)
                dirty.add(name)
        if not readers and wait:
            time.sleep(wait)
        return dirty

    # -- building ---------------------------------------------------------------

    def _build(self, names: Iterable[str]) -> list[BuildOutcome]:
        folders = [self.watched[n].spec.folder for n in names if n in self.watched]
        if not folders:
            return []
        outcomes = build_mesh(self.ws, folders)
        for outcome in outcomes:
            self.on_outcome(outcome)
            watched = self.watched.get(outcome.product)
            if watched is not None and outcome.status in ("published", "unchanged", "failed"):
                self._commit(outcome.product, watched)
        return outcomes

    def _commit(self, name: str, watched: _Watched) -> None:
        """The events that triggered a finished build are handled (a failed build counts:
        it stays failed until something changes again)."""
        for topic, offset in list(watched.pending.items()):
            sub = watched.subscriptions.get(topic)
            if sub is None:
                continue
            try:
                sub.commit(offset)
                del watched.pending[topic]
            except BackboneError as exc:
                self.report(f"{name}: cannot commit {topic} offset {offset}: {exc}")

    def _send_pending(self) -> None:
        try:
            drained = publication.publish_all_pending(self.ws)
        except DaapError as exc:
            self.report(f"cannot publish waiting change events: {exc}")
            drained = []
        for item in drained:
            for line in item.describe():
                self.report(f"published the change events of {line}")
        failed = any(item.error is not None for item in drained)
        self._retry_at = time.monotonic() + (5.0 if failed else self.interval)


def _signature(spec: ProductSpec) -> Signature:
    """Path, size and modification time of every file the product's build reads."""
    files = set(spec.source_files())
    for port in spec.input_ports:
        if isinstance(port.source, FileSource):
            files.update(p for p in spec.folder.glob(port.source.path) if p.is_file())
    return frozenset(_stat(p) for p in files if p.exists())


def _folder_signature(folder: Path) -> Signature:
    stamps: set[tuple[str, int, int]] = set()
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        stamps.update(_stat(Path(root) / f) for f in files)
    return frozenset(stamps)


def _stat(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return (str(path), info.st_size, info.st_mtime_ns)


__all__ = ["MeshWatcher", "group_for"]
