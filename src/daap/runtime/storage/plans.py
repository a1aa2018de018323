"""A cache of snapshot file plans, kept outside the table store adapter.

A snapshot never changes, so its plan (the files to read) can be cached
forever; it is dropped only when a file it names has gone (expiry). Reading
through the cache means a query of a known version needs no catalog at all,
which keeps ``daap query`` fast to start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from daap.runtime.storage import FilePlan


class PlanCache:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _path(self, table: str, snapshot_id: int) -> Path:
        return self._directory / table / f"{snapshot_id}.json"

    def get(self, table: str, snapshot_id: int) -> FilePlan | None:
        try:
            data: dict[str, Any] = json.loads(self._path(table, snapshot_id).read_text())
        except (OSError, ValueError):
            return None
        paths = tuple(str(p) for p in data["paths"])
        if not all(os.path.exists(p) for p in paths):
            return None
        return FilePlan(paths=paths, has_deletes=bool(data["has_deletes"]))

    def put(self, table: str, snapshot_id: int, plan: FilePlan) -> None:
        """Write atomically: a reader sees the old file, the new one, or none."""
        path = self._path(table, snapshot_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"paths": plan.paths, "has_deletes": plan.has_deletes}))
        os.replace(tmp, path)
