"""Input port reading another product's output port (``<product>.<port>[@version]``)."""

from __future__ import annotations

from daap.errors import InputError
from daap.runtime.inputs import ResolvedInput, UpstreamResolver
from daap.spec.model import InputPortSpec, ProductSource, ProductSpec


def resolve_product(product: ProductSpec, port: InputPortSpec, upstream: UpstreamResolver) -> ResolvedInput:
    """Resolve to the pinned version, or the upstream's latest published one.

    The upstream's build id makes the fingerprint change exactly when the
    upstream publishes.

    Raises:
        InputError: the upstream has no published version (or not the pinned one).
    """
    source = port.source
    assert isinstance(source, ProductSource)
    data = upstream(source)
    if data is None and source.version:
        raise InputError(
            f"pins {source.ref} version {source.version}, which does not exist or has expired",
            product=product.name,
            port=port.name,
            hint=f"pin a version listed by `daap snapshots {source.product}`, or remove the pin",
        )
    if data is None:
        raise InputError(
            f"reads {source.ref}, which has no published version",
            product=product.name,
            port=port.name,
            hint=f"build {source.product} first (daap build {source.product})",
        )
    return ResolvedInput(
        name=port.name,
        relation=data.relation,
        fingerprint=f"{source.ref}@{data.version}:{data.build_id}"
        + (f":restricted:{data.restriction}" if data.restriction else ""),
        upstream_version=data.version,
        upstream_ref=source.ref,
    )
