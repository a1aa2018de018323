"""Access policies in the one query path: a principal reads a port only if it may ``read`` its product.

:class:`ReadPolicy` is the query service's rewrite hook. Every product a query
reads (tables, subqueries, CTEs, joins, named queries expanded, schema probes:
the refs the query guard found) is decided for the caller by the products'
Cedar policies before anything runs or any cached result is served. The local
caller (authentication off) reads everything. A refusal names the product and
the principal and nothing of the data.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from daap.errors import PermissionDenied
from daap.mesh.policy.authn import Caller
from daap.mesh.policy.cedar import PolicyEngine
from daap.query.guard import PortRef
from daap.spec.model import ProductSpec


class ReadPolicy:
    """Refuse a query reading a product its caller may not ``read``."""

    def __init__(self, specs: Callable[[str], ProductSpec], engine: PolicyEngine | None = None) -> None:
        self.specs = specs
        self.engine = engine or PolicyEngine()

    def __call__(self, tree: exp.Query, refs: tuple[PortRef, ...], caller: Caller) -> exp.Query:
        principal = caller.principal
        if principal is None:
            return tree
        for product in sorted({r.product for r in refs}):
            decision = self.engine.decide(principal, self.specs(product), "read")
            if not decision.allowed:
                raise PermissionDenied(
                    f"permission denied: {caller.name} may not read {product}",
                    hint=f"its owners grant access in {product}/access.cedar; "
                    f"`daap access explain {product} --as {caller.name}` shows why",
                )
        return tree


__all__ = ["ReadPolicy"]
