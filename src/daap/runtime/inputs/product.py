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
    if data is None:
        wanted = f"version {source.version}" if source.version else "a published version"
        raise InputError(
            f"reads {source.ref}, which has no {wanted}",
            product=product.name,
            port=port.name,
            hint=f"build {source.product} first (daap build {source.product})",
        )
    return ResolvedInput(
        name=port.name,
        relation=data.relation,
        fingerprint=f"{source.ref}@{data.version}:{data.build_id}",
        upstream_version=data.version,
        upstream_ref=source.ref,
    )
