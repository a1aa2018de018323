"""Where daap's OpenLineage events go: a file (one JSON line per event), HTTP (Marquez's API), or
nowhere, as ``mesh.yaml``'s ``openlineage:`` says."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from daap.spec.mesh import MeshConfig, OpenLineageConfig

Event = dict[str, Any]
DEFAULT_FILE = Path("openlineage") / "events.ndjson"


class Transport(Protocol):
    """Where events go."""

    def send(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` in order.

        Raises:
            OSError: they could not be delivered (the caller turns it into a warning).
        """
        ...


@dataclass(frozen=True)
class FileTransport:
    """Appends one JSON line per event to ``path``, all of a build's events in one write."""

    path: Path

    def send(self, events: Sequence[Event]) -> None:
        data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: builds of other products, in other processes, append to the same file
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


@dataclass(frozen=True)
class HttpTransport:
    """POSTs each event as JSON to ``url``/``endpoint`` (Marquez's ``/api/v1/lineage``), in order."""

    url: str
    endpoint: str = "api/v1/lineage"
    timeout: float = 5.0

    def send(self, events: Sequence[Event]) -> None:
        target = f"{self.url.rstrip('/')}/{self.endpoint}"
        for event in events:
            request = urllib.request.Request(
                target, data=orjson.dumps(event), headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
            except urllib.error.HTTPError as exc:  # the server's answer says why
                detail = exc.read(300).decode("utf-8", "replace").strip()
                raise OSError(f"{target} answered {exc.code} {exc.reason}: {detail}") from None
            except urllib.error.URLError as exc:
                raise OSError(f"{target}: {exc.reason}") from None


class NoTransport:
    """``transport: none``: events are not sent anywhere."""

    def send(self, events: Sequence[Event]) -> None:
        return None


#: ``openlineage.transport`` -> the transport, given the settings and the mesh's home
TRANSPORTS: dict[str, Callable[[OpenLineageConfig, Path], Transport]] = {
    "file": lambda settings, home: FileTransport(settings.path or home / DEFAULT_FILE),
    "http": lambda settings, home: HttpTransport(settings.url or "", settings.endpoint, settings.timeout),
    "none": lambda settings, home: NoTransport(),
}


def transport(config: MeshConfig) -> Transport:
    return TRANSPORTS[config.openlineage.transport](config.openlineage, config.home)


__all__ = ["DEFAULT_FILE", "FileTransport", "HttpTransport", "NoTransport", "Transport", "transport"]
