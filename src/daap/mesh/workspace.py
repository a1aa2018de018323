"""A mesh workspace: product folders, their state in ``.daap/``, and the stores.

The workspace is the one object the CLI and servers hold. It opens the
metadata store and the table store named in ``mesh.yaml`` (lazily, once),
resolves "product X's port Y at version V or time T" to something the engine
reads, and finishes builds that a killed process left half-done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from daap.errors import BuildError, DaapError, NotFound
from daap.mesh.metadata import MetadataStore, PortState, ProductVersion, open_metadata_store
from daap.runtime.engine import Relation
from daap.runtime.inputs import UpstreamData
from daap.runtime.storage import TableStore, open_table_store
from daap.runtime.storage.plans import PlanCache
from daap.spec import find_products, load_mesh_config, load_product
from daap.spec.mesh import MeshConfig
from daap.spec.model import ProductSource, ProductSpec

if TYPE_CHECKING:
    from daap.mesh.audit import AuditLog
    from daap.mesh.backbone import Backbone
    from daap.mesh.registry.service import SchemaRegistry

#: a version number, a point in time, or None for the latest
At = int | datetime | None


@dataclass(frozen=True)
class PortData:
    product: str
    port: str
    version: ProductVersion
    relation: Relation


class Workspace:
    """The mesh rooted at ``root`` (the folder holding ``mesh.yaml``, if any)."""

    def __init__(self, config: MeshConfig) -> None:
        self.config = config

    @classmethod
    def open(cls, root: Path | None = None) -> Workspace:
        """The workspace at ``root`` as given, or the one the current folder belongs to."""
        return cls(load_mesh_config(root.resolve() if root is not None else find_root(Path.cwd())))

    @property
    def root(self) -> Path:
        return self.config.workspace

    @cached_property
    def metadata(self) -> MetadataStore:
        return open_metadata_store(self.config.metadata_url)

    @cached_property
    def tables(self) -> TableStore:
        return open_table_store(self.config.catalog_url, self.config.warehouse)

    @cached_property
    def plans(self) -> PlanCache:
        return PlanCache(self.config.home / "cache" / "plans")

    @cached_property
    def backbone(self) -> Backbone:
        """The event backbone change events go to (``backbone`` in ``mesh.yaml``)."""
        from daap.mesh.backbone import open_backbone

        return open_backbone(self.config.backbone_url)

    @cached_property
    def registry(self) -> SchemaRegistry:
        """The mesh's schema registry, over the metadata store (one object: parsed schemas are kept)."""
        from daap.mesh.registry.service import SchemaRegistry

        return SchemaRegistry(self.metadata)

    @cached_property
    def audit(self) -> AuditLog:
        """The change audit log, in the home (``audit.db``, signing key in ``keys/``)."""
        from daap.mesh.audit import AuditLog

        return AuditLog.open(self)

    def close(self) -> None:
        self.__dict__.pop("registry", None)  # it lives on the metadata store
        for name in ("metadata", "backbone", "audit"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()

    # -- products ----------------------------------------------------------

    def product_folders(self) -> list[Path]:
        return find_products(self.root)

    def load(self, folder: Path) -> ProductSpec:
        return load_product(folder)

    # -- versions ----------------------------------------------------------

    def version(self, product: str, at: At = None) -> ProductVersion:
        """The published version of ``product`` at ``at``.

        Raises:
            NotFound: no such product, version, or nothing published by then.
        """
        if isinstance(at, int):
            found = self.metadata.get_version(product, at)
            if found is not None and found.expired:
                raise NotFound(f"version {at} of {product} has expired and is no longer readable")
        elif isinstance(at, datetime):
            found = self.metadata.version_at(product, at)
        else:
            found = self.metadata.latest_version(product)
        if found is None:
            raise NotFound(self._missing(product, at))
        return found

    def _missing(self, product: str, at: At) -> str:
        versions = self.metadata.list_versions(product)
        if not versions:
            known = ", ".join(self.metadata.products()) or "none yet"
            return f"product {product!r} has no published version (published products: {known})"
        span = f"{versions[0].version}..{versions[-1].version}"
        if isinstance(at, datetime):
            first = versions[0].published_at.isoformat()
            return f"{product} had no published version at {at.isoformat()} (first: {first})"
        return f"{product} has no version {at} (versions: {span})"

    def port_data(self, product: str, port: str, at: At = None) -> PortData:
        """What the engine reads for ``product.port`` at ``at``."""
        version = self.version(product, at)
        state = version.ports.get(port)
        if state is None:
            ports = ", ".join(sorted(version.ports))
            raise NotFound(f"{product} has no output port {port!r} (ports: {ports})")
        return PortData(product, port, version, self.relation(state))

    def relation(self, state: PortState) -> Relation:
        snapshot = state.snapshot_ids[-1]
        plan = self.plans.get(state.table, snapshot)
        if plan is None:
            plan = self.tables.plan(state.table, snapshot)
            self.plans.put(state.table, snapshot, plan)
        if plan.has_deletes:
            return Relation(arrow=self.tables.read_arrow(state.table, snapshot))
        return Relation.parquet(plan.paths)

    def upstream(self, source: ProductSource) -> UpstreamData | None:
        """The resolver input ports use to read another product."""
        try:
            data = self.port_data(source.product, source.port, source.version)
        except NotFound:
            return None
        return UpstreamData(data.version.version, data.version.build_id, data.relation)

    # -- locking -----------------------------------------------------------

    @contextmanager
    def lock(self, product: str) -> Iterator[None]:
        """Only one build of a product at a time, across processes."""
        import fcntl

        path = self.config.home / "locks" / f"{product}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BuildError(
                    f"another build of {product} is running",
                    hint=f"wait for it to finish (lock: {path})",
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield


class SpecCache:
    """Parsed product specs, kept while none of the files they were read from changes
    (modification times), so callers that look often (servers, the watcher) do not re-read
    YAML. Builds load fresh (:meth:`Workspace.load`): a spec used to publish is never stale.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._specs: dict[Path, tuple[tuple[int, ...], ProductSpec]] = {}
        #: product name -> the folder it was last found in: a lookup by name walks the workspace
        #: only when the product is new or moved
        self._folders: dict[str, Path] = {}

    def load(self, folder: Path) -> ProductSpec:
        """The spec of ``folder``; raises SpecError as :meth:`Workspace.load` does."""
        cached = self._specs.get(folder)
        if cached is not None and cached[0] == _mtimes(cached[1]):
            return cached[1]
        spec = self.ws.load(folder)
        self._specs[folder] = (_mtimes(spec), spec)
        self._folders[spec.name] = folder
        return spec

    def find(self, product: str) -> ProductSpec:
        """The spec of the product named ``product``.

        Raises:
            NotFound: no valid product of that name (the hint lists the products, and the
                folders whose descriptor does not load, as one of them may be it).
        """
        folder = self._folders.get(product)
        if folder is not None:
            with suppress(DaapError):
                spec = self.load(folder)
                if spec.name == product:
                    return spec
        names, broken = [], []
        for folder in self.ws.product_folders():
            try:
                spec = self.load(folder)
            except DaapError:
                broken.append(folder.name)
                continue
            if spec.name == product:
                return spec
            names.append(spec.name)
        hint = f"products: {', '.join(sorted(names)) or 'none'}"
        if broken:
            hint += (
                f"; these folders' descriptors do not load (`daap validate` says why): {', '.join(broken)}"
            )
        raise NotFound(f"no product {product!r} in the workspace", hint=hint)


def _mtimes(spec: ProductSpec) -> tuple[int, ...]:
    """Modification times of the files a spec was read from (-1 for a missing one)."""
    found = []
    for path in spec.source_files():
        try:
            found.append(path.stat().st_mtime_ns)
        except OSError:
            found.append(-1)
    return tuple(found)


def find_root(start: Path) -> Path:
    """The workspace ``start`` belongs to: the nearest folder upward holding
    ``mesh.yaml``; else, inside a product folder, the folder holding that
    product; else ``start`` itself.

    So ``cd sales/data && daap query …`` finds the mesh built from the folder
    above ``sales``. Stray state higher up (a ``.daap`` in /tmp) is never taken
    for a workspace.
    """
    start = start.resolve()
    folders = (start, *start.parents)
    for folder in folders:
        if (folder / "mesh.yaml").is_file():
            return folder
    for folder in folders:
        if (folder / "dataproduct.yaml").is_file():
            return folder.parent
    return start
