"""Input ports: where a product's data comes from.

Each input port resolves to a :class:`ResolvedInput`: a relation the engine
reads (and that a Python transformation receives as Arrow), plus the
fingerprint that tells whether the input changed since the last build.
Readers are chosen by the source's type from ``READERS``; the mesh injects an
:class:`UpstreamResolver` for ports that read another product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from daap.runtime.engine import Relation
from daap.spec.model import InputPortSpec, ProductSource, ProductSpec


@dataclass(frozen=True)
class ResolvedInput:
    """One input port, ready to read.

    Attributes:
        name: the port name; the transformation sees the data under it.
        relation: how the engine reads it.
        fingerprint: changes whenever the data read would change.
        files: local files read (to name them in errors).
        upstream_version: for another product's port, the version read.
    """

    name: str
    relation: Relation
    fingerprint: str
    files: tuple[Path, ...] = field(default=())
    upstream_version: int | None = None
    upstream_ref: str | None = None
    #: read this instead when ``relation`` cannot bind (a typed column is missing)
    fallback: Relation | None = None


@dataclass(frozen=True)
class UpstreamData:
    """A published version of another product's output port."""

    version: int
    build_id: str
    relation: Relation
    #: what the reading product's access policies restrict of it (row filters, masks), as a
    #: digest; empty when it reads everything. Part of the fingerprint: a changed policy rebuilds
    restriction: str = ""


#: returns None when the product, port or pinned version does not exist
UpstreamResolver = Callable[[ProductSource], UpstreamData | None]


def resolve_inputs(
    product: ProductSpec,
    upstream: UpstreamResolver,
    column_types: dict[str, str] | None = None,
) -> list[ResolvedInput]:
    """Resolve every input port of ``product``.

    Args:
        upstream: reads another product's port at the pinned or latest version.
        column_types: for a raw product without transformation, the contract's
            types by column, so a bad cell is reported where it stands in the file.

    Raises:
        InputError: a file is missing, unreadable, or an upstream has no version.
    """
    from daap.runtime.inputs.files import resolve_files
    from daap.runtime.inputs.product import resolve_product

    resolved = []
    for port in product.input_ports:
        if isinstance(port.source, ProductSource):
            resolved.append(resolve_product(product, port, upstream))
        else:
            resolved.append(resolve_files(product, port, column_types))
    return resolved


__all__ = [
    "InputPortSpec",
    "ResolvedInput",
    "UpstreamData",
    "UpstreamResolver",
    "resolve_inputs",
]
