"""Dependency order between products, from their input ports (and their quality rules' relationships)."""

from __future__ import annotations

from collections.abc import Sequence

from daap.spec.model import ProductSpec


def order_products(specs: Sequence[ProductSpec]) -> tuple[list[ProductSpec], list[list[str]]]:
    """Order ``specs`` so every product comes after the products it reads (and, where no
    cycle forbids it, after those its quality rules check relationships against).

    Only edges between the given products count: an upstream outside the set
    is read at its latest published version. Products on a cycle (and those
    downstream of one) are left out of the order.

    Returns:
        (ordered products, cycles) where each cycle is a list of names whose
        first and last element are the same product, e.g. ``["a", "b", "a"]``.
    """
    by_name = {s.name: s for s in specs}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    ordered: list[ProductSpec] = []
    cycles: list[list[str]] = []
    cyclic: set[str] = set()

    def visit(name: str, path: list[str]) -> bool:
        """Depth-first; False when ``name`` is on or below a cycle."""
        if state.get(name) == 2:
            return name not in cyclic
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            cycles.append(cycle)
            cyclic.update(cycle)
            return False
        state[name] = 1
        ok = True
        for source in sorted({s.product for s in by_name[name].upstream()}):
            if source in by_name:
                ok = visit(source, [*path, name]) and ok
        # a relationship only orders builds: one that would close a cycle is not followed
        for target in by_name[name].referenced():
            if target in by_name and state.get(target) is None:
                visit(target, [*path, name])
        state[name] = 2
        if ok:
            ordered.append(by_name[name])
        else:
            cyclic.add(name)
        return ok

    for name in sorted(by_name):
        visit(name, [])
    return ordered, cycles
