"""Access policies in the one query path: who may read a port, and what of it they see.

:class:`ReadPolicy` is the query service's rewrite hook. Every product a query
reads (tables, subqueries, CTEs, joins, named queries expanded, schema probes:
the refs the query guard found) is decided for the caller by the products'
Cedar policies before anything runs or any cached result is served. A refusal
names the product and the principal and nothing of the data.

For a port the caller may read, the plan carries its
:class:`~daap.mesh.policy.restrict.Restriction`: the service puts that
filtered, masked relation in place of the port, so that no query shape sees
anything else under its name. The local caller (authentication off) reads
everything as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from daap.errors import PermissionDenied, QueryRefused, SpecError
from daap.mesh.policy.access import AccessControl
from daap.mesh.policy.authn import Caller, is_anonymous, no_credentials
from daap.mesh.policy.restrict import FilterError, Restriction
from daap.query.guard import PortRef
from daap.spec.model import ProductSpec


@dataclass(frozen=True)
class Plan:
    """The query to run and, for each port whose reader sees less than all of it, what it sees."""

    tree: exp.Query
    restrictions: Mapping[PortRef, Restriction] = field(default_factory=dict)
    #: product -> the policies that allowed the caller to read it (for the access log)
    reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class ReadDenied(PermissionDenied):
    """The caller may not ``read`` a product the query reads."""

    def __init__(
        self, message: str, *, product: str, policies: tuple[str, ...], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.product = product
        self.policies = policies


class ReadPolicy:
    """Refuse a query reading a product its caller may not ``read``; restrict the ports it may."""

    def __init__(self, specs: Callable[[str], ProductSpec], control: AccessControl) -> None:
        self.specs = specs
        self.control = control

    def __call__(self, tree: exp.Query, refs: tuple[PortRef, ...], caller: Caller) -> Plan:
        principal = caller.principal
        if principal is None:
            return Plan(tree)
        specs = {product: self.specs(product) for product in sorted({r.product for r in refs})}
        reads = {}
        for product, spec in specs.items():
            decision = self.control.decide(principal, spec, "read")
            if not decision.allowed and is_anonymous(caller):
                raise no_credentials()
            if not decision.allowed:
                raise ReadDenied(
                    f"permission denied: {caller.name} may not read {product}",
                    product=product,
                    policies=decision.reasons,
                    hint=f"its owners grant access in {product}/access.cedar; "
                    f"`daap access explain {product} --as {caller.name}` shows why",
                )
            reads[product] = decision.reasons
        restrictions = {}
        for ref in refs:
            try:
                restriction = self.control.restriction(principal, specs[ref.product], ref.port)
            except (FilterError, SpecError) as exc:  # fails closed: nothing is read
                raise QueryRefused(
                    f"{ref.product}'s access rules cannot be applied: {exc}",
                    hint=f"its owners fix {ref.product}/access.yaml (`daap validate` shows the problem)",
                ) from exc
            if restriction.restricts:
                restrictions[ref] = restriction
        return Plan(tree, restrictions, reads)


__all__ = ["Plan", "ReadDenied", "ReadPolicy"]
