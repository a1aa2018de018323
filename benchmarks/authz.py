"""authz: one authorization decision of the product policy engine (``PolicyEngine.decide``).

A product folder with a contract and an ``access.cedar`` of six policies
(permits on role, purpose, attribute and classification, two forbids), plus
daap's two built-in policies; a principal with three roles, two purposes and
three attributes asking ``read`` (which one of the permits allows).

- Warm: the same decision asked again, served from the decision cache (the
  policy file and descriptor still ``stat``-ed on every call). The files are
  dated a minute back: a file written in the last two seconds is read again on
  every decision, since its timestamp cannot be trusted yet; that case is
  measured too (500 decisions right after an edit), for information. Goal:
  p50 < 50 µs, so the baseline column holds the goal.
- Cold: a principal the cache has not seen (a new name each call), so Cedar
  evaluates. Baseline: a raw ``cedarpy.is_authorized`` of the same request,
  with the same policies pre-parsed into a ``PolicySet`` and the same entities
  as JSON; for information.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.runner import Measure, Outcome, Settings, log

NAME = "authz"
GOAL_US = 50.0

POLICY = """\
@id("eu-analysts")
permit (principal, action in [Daap::Action::"discover", Daap::Action::"read"], resource)
when { principal.roles.contains("analyst") && principal.attributes.region == "EU" };
@id("marketing-discovers")
permit (principal, action == Daap::Action::"discover", resource)
when { principal.purposes.contains("marketing") };
@id("public-unmasked")
permit (principal, action == Daap::Action::"read_unmasked", resource)
when { context.classification == "public" };
@id("fraud-unmasked")
permit (principal, action == Daap::Action::"read_unmasked", resource)
when { principal.purposes.contains("fraud") && principal.attributes.clearance == "high" };
@id("no-contractors")
forbid (principal, action, resource)
when { principal.attributes has contractor && principal.attributes.contractor == "yes" };
@id("frozen")
forbid (principal, action == Daap::Action::"write_input", resource)
when { resource.domain == "archive" };
"""


def _product(root: Path) -> Path:
    folder = root / "customers"
    (folder / "contracts").mkdir(parents=True)
    descriptor = {
        "apiVersion": "v1.1.0", "kind": "DataProduct", "id": "customers-id", "name": "customers",
        "status": "active", "domain": "crm", "team": {"name": "crm", "members": [{"username": "olga"}]},
        "inputPorts": [
            {"name": "raw", "customProperties": [{"property": "source", "value": {"path": "c.csv"}}]}
        ],
        "outputPorts": [{"name": "customers"}],
        "customProperties": [{"property": "productType", "value": "raw"}],
    }  # fmt: skip
    contract = {
        "apiVersion": "v3.2.0", "kind": "DataContract", "id": "customers-v1", "version": "1.0.0",
        "status": "active",
        "schema": [{"name": "customers", "properties": [
            {"name": "id", "logicalType": "integer", "primaryKey": True},
            {"name": "email", "logicalType": "string", "classification": "pii"},
            {"name": "region", "logicalType": "string", "classification": "public"},
        ]}],
    }  # fmt: skip
    (folder / "dataproduct.yaml").write_text(json.dumps(descriptor))
    (folder / "contracts" / "customers.odcs.yaml").write_text(json.dumps(contract))
    (folder / "access.cedar").write_text(POLICY)
    return folder


def _age(folder: Path) -> None:
    past = time.time() - 60
    for name in ("access.cedar", "dataproduct.yaml"):
        os.utime(folder / name, (past, past))


def _per_call_us(call: Callable[[int], object], count: int) -> list[float]:
    gc.collect()
    times = []
    clock = time.perf_counter_ns
    for i in range(count):
        start = clock()
        call(i)
        times.append((clock() - start) / 1000)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(settings: Settings) -> Outcome:
    import cedarpy

    from daap.mesh.policy.cedar import BUILTIN_POLICIES, PolicyEngine, principal_entity
    from daap.spec.mesh import PrincipalSpec
    from daap.spec.product import load_product

    root = settings.work / NAME
    folder = _product(root)
    _age(folder)
    product = load_product(folder)
    attributes = {"region": "EU", "clearance": "low", "team": "emea"}
    ana = PrincipalSpec("ana", roles=("analyst", "viewer", "reporter"), domain="crm",
                        purposes=("marketing", "reporting"), attributes=attributes)  # fmt: skip
    count = 5_000 if settings.quick else 20_000
    log(f"{NAME}: {count:,} decisions per measurement, {settings.reps} rounds")

    engine = PolicyEngine()  # the default cache size: cold decisions also evict old ones, as in use
    assert engine.decide(ana, product, "read").reasons == ("customers/access.cedar#eu-analysts",)
    names = iter(range(1 << 40))
    fresh = [PrincipalSpec(f"p{next(names)}", "person", ana.roles, ana.domain, ana.purposes, attributes)
             for _ in range(count * settings.reps)]  # fmt: skip
    pending = iter(fresh)

    # the raw call: the same request, policies and entities as the engine evaluates
    policies = cedarpy.PolicySet.from_str(BUILTIN_POLICIES + POLICY)
    resource = {"type": "Daap::Product", "id": "customers"}
    product_entity = json.dumps({"uid": resource, "parents": [], "attrs": {
        "name": "customers", "domain": "crm", "owner_team": "crm", "team_members": ["olga"]}})  # fmt: skip
    entities = f"[{principal_entity(ana)},{product_entity}]"
    request = {
        "principal": {"type": "Daap::Principal", "id": "ana"},
        "action": {"type": "Daap::Action", "id": "read"},
        "resource": resource,
        "context": {},
    }
    assert cedarpy.is_authorized(request, policies, entities).allowed

    warm: list[float] = []
    cold: list[float] = []
    raw: list[float] = []
    jobs: list[tuple[list[float], Callable[[int], object]]] = [
        (warm, lambda _: engine.decide(ana, product, "read")),
        (cold, lambda _: engine.decide(next(pending), product, "read")),
        (raw, lambda _: cedarpy.is_authorized(request, policies, entities)),
    ]
    for rep in range(settings.reps):
        for into, call in jobs if rep % 2 == 0 else jobs[::-1]:
            into += _per_call_us(call, count)
    # every cold decision is evaluated; the warm one again at most once a round, after the cold
    # ones of the round before pushed it out of the cache
    info = engine.cache_info()
    if not 0 <= info.misses - (1 + count * settings.reps) <= settings.reps:
        raise RuntimeError(f"expected every cold decision and no warm one to be evaluated, got {info}")

    # an edit just now: the policy file is read again on every decision while its timestamp is recent
    edited = time.monotonic()
    with (folder / "access.cedar").open("a") as policy:
        policy.write("// edited\n")
    engine.decide(ana, product, "read")  # compiles the edited policies
    racy = _per_call_us(lambda _: engine.decide(ana, product, "read"), 500)
    if time.monotonic() - edited > 1.5:
        raise RuntimeError("the decisions after the edit took too long to all fall in the 2 s window")

    warm50, cold50, raw50 = (statistics.median(v) for v in (warm, cold, raw))
    return Outcome([
        Measure(NAME, "decision p50, warm cache", warm50, GOAL_US, "µs", 1.0,
                note=f"{len(warm):,} decisions; p99 {_pct(warm, 0.99):.1f} µs; raw cedarpy.is_authorized "
                f"of the same request {raw50:.1f} µs (ours / raw = {warm50 / raw50:.2f})"),
        Measure(NAME, "decision p50, cold cache (Cedar evaluates)", cold50, raw50, "µs", None,
                note=f"{len(cold):,} decisions, a new principal each; p99 {_pct(cold, 0.99):.1f} µs; "
                f"baseline: raw cedarpy.is_authorized, pre-parsed PolicySet, p99 {_pct(raw, 0.99):.1f} µs"),
        Measure(NAME, "decision p50, warm cache, policy file < 2 s old", statistics.median(racy), GOAL_US,
                "µs", None, note=f"{len(racy):,} decisions right after an edit, each reading the file again"),
    ])  # fmt: skip
