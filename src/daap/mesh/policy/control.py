"""The control port: a product's access policies and row filters, read and changed as one versioned document.

A product's control is its two files, ``access.cedar`` (who may do what) and
``access.yaml`` (row filters and masks). :meth:`ControlPlane.change` checks a
new pair completely (Cedar against the entity model, the filters against the
product's ports and columns) before it writes anything: a bad change is
refused with every problem positioned, and the files in force stay. An
accepted change replaces each file atomically and is stored as the product's
next control version with its author and note (metadata
``daap_control_versions``); the files are the truth the query path reads.

A change made to the files directly (an editor, git) is recorded as a
version by ``files`` the next time the control port reads them, so the
history has every state that was in force.
"""

from __future__ import annotations

import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from daap.errors import DaapError, Diagnostic, SpecError
from daap.mesh.metadata._control import ControlVersion, control_digest
from daap.mesh.policy.cedar import policy_diagnostics
from daap.mesh.policy.policies import POLICY_FILE, policy_path, read_policy_text
from daap.mesh.policy.restrict import access_file_problems
from daap.spec.access import ACCESS_FILE, access_path
from daap.spec.model import ProductSpec

#: the author of a version found in the files rather than made through the control port
FILES = "files"


class ControlStore(Protocol):
    def save_control(
        self, product: str, policies: str, access: str, author: str, at: datetime, note: str | None = None
    ) -> ControlVersion: ...
    def control_versions(self, product: str) -> list[ControlVersion]: ...
    def control_version(self, product: str, version: int | None = None) -> ControlVersion | None: ...


class ControlConflict(DaapError):
    """The change was made against a version that is no longer the newest."""

    exit_code = 3


class ControlPlane:
    """Reads and changes products' control (thread-safe; one change at a time per process)."""

    def __init__(self, store: ControlStore, mesh_masks: dict[str, str] | None = None) -> None:
        self.store = store
        self.mesh_masks = mesh_masks or {}
        self._lock = threading.Lock()

    def current(self, product: ProductSpec) -> ControlVersion:
        """The control in force: the files, recorded as a version if they changed outside the port."""
        policies, access = _read(product)
        with self._lock:
            newest = self.store.control_version(product.name)
            if newest is not None and newest.digest == control_digest(policies, access):
                return newest
            note = "the files changed outside the control port" if newest is not None else "first seen"
            return self.store.save_control(product.name, policies, access, FILES, _now(), note)

    def history(self, product: ProductSpec) -> list[ControlVersion]:
        self.current(product)
        return self.store.control_versions(product.name)

    def problems(self, product: ProductSpec, policies: str, access: str) -> list[Diagnostic]:
        """Every problem of the pair, positioned in files named ``<product>/access.cedar`` and ``.yaml``."""
        found = list(policy_diagnostics(policies, f"{product.name}/{POLICY_FILE}"))
        if not access.strip():
            return found
        with tempfile.TemporaryDirectory(prefix="daap-control-") as tmp:
            path = Path(tmp) / ACCESS_FILE
            path.write_text(access, encoding="utf-8")
            return found + access_file_problems(
                product, path, f"{product.name}/{ACCESS_FILE}", self.mesh_masks
            )

    def change(
        self,
        product: ProductSpec,
        *,
        author: str,
        policies: str | None = None,
        access: str | None = None,
        note: str | None = None,
        expected: int | None = None,
    ) -> ControlVersion:
        """Check and put in force a new control; a part left None stays as it is.

        Args:
            author: who makes the change (the caller's name).
            expected: the version the change was made against; refused if no longer the newest.

        Raises:
            SpecError: the new policies or filters have problems (nothing is written).
            ControlConflict: ``expected`` is not the newest version.
        """
        current = self.current(product)
        if expected is not None and expected != current.version:
            raise ControlConflict(
                f"the control of {product.name} is at version {current.version}, not {expected}",
                hint="read it again (GET .../control), apply your change to that version, and send it again",
            )
        new_policies = current.policies if policies is None else policies
        new_access = current.access if access is None else access
        problems = self.problems(product, new_policies, new_access)
        if problems:
            raise SpecError(problems, hint="nothing was changed; the control in force stays")
        with self._lock:
            _write({policy_path(product.folder): new_policies, access_path(product.folder): new_access})
            return self.store.save_control(product.name, new_policies, new_access, author, _now(), note)


def _read(product: ProductSpec) -> tuple[str, str]:
    policies = read_policy_text(policy_path(product.folder))
    try:
        access = access_path(product.folder).read_text(encoding="utf-8")
    except FileNotFoundError:
        access = ""
    return policies, access


def _write(files: dict[Path, str]) -> None:
    """Put every file's new text in place; an empty text removes the file.

    Every new text is written and synced first, then each file is replaced by a rename: a full
    disk or a failed write leaves the control in force as it was, never one file new and one old.
    """
    staged: dict[Path, str] = {}
    try:
        for path, text in files.items():
            if not text.strip():
                continue
            fd, staged[path] = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for path, text in files.items():
            if path in staged:
                os.replace(staged.pop(path), path)
            elif not text.strip():
                path.unlink(missing_ok=True)
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = ["FILES", "ControlConflict", "ControlPlane"]
