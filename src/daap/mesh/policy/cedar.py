"""Product access decisions in Cedar: the entity model, policy checks, and the cached engine.

The only module that imports ``cedarpy``. A product's ``access.cedar`` (see
:mod:`daap.mesh.policy.policies`) is evaluated together with daap's built-in
policies; as in Cedar, nothing is allowed unless a policy permits it, and a
``forbid`` beats every ``permit``.

Entity model (namespace ``Daap``)::

    Daap::Principal::"<name>"   name: String, kind: String ("person" | "service"),
                                roles: Set<String>, domain: String ("" if none),
                                purposes: Set<String>,
                                attributes: {<key>: String, ...}  (e.g. principal.attributes.region)
    Daap::Product::"<name>"     name: String, domain: String ("" if none),
                                owner_team: String (the descriptor's team.name, "" if none),
                                team_members: Set<String> (its team.members[].username)
    Daap::Action::"discover" | "read" | "read_unmasked" | "write_input" | "administer"
    context                     {classification: String} for read_unmasked (asked once per
                                ODCS classification), {} for the other actions

Built-in policies, added to every product's policy set:

- ``daap.owner``: the owner team may do everything. A principal is in it when
  its name is one of the descriptor's team members, or when it has the role
  ``owner`` and its domain is the product's domain.
- ``daap.governance``: a principal with the role ``governance`` may
  ``discover``, ``read`` and ``read_unmasked`` every product.

A product may still ``forbid`` either. Policy ids name what decided:
``daap.owner``, ``daap.governance``, ``<product>/access.cedar#<n>`` (the n-th
policy of the file) or ``<product>/access.cedar#<id>`` when the policy has an
``@id("<id>")`` annotation.

Validation (:func:`check_policies`) parses the text and type-checks it against
a Cedar schema of this model, so unknown actions, attributes and entity types
are reported at ``daap validate`` time, each at its file and line (cedarpy
gives no positions; the line is that of the policy, or of the name it reports).
Principal attributes are open-ended: the schema declares the ones a policy
names as strings.

Two rules keep decisions safe where Cedar alone would not:

- a policy file with any problem denies every action on the product (the
  problems are the decision's errors) until it is fixed;
- a ``forbid`` that fails to evaluate for a principal (say it reads
  ``principal.attributes.clearance`` and the principal has none) denies: Cedar
  skips a policy in error, which for a prohibition would allow.

:class:`PolicyEngine` caches decisions per principal (name and every field of
it), product, policy version, action and classification. Each decision checks
the policy file and the descriptor with ``stat``; a change of either, or a
file written within the last two seconds (too recent to trust its timestamp),
makes it read them again, and a change of their content drops the product's
cached decisions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import cedarpy
import orjson

from daap.errors import Diagnostic, SpecError
from daap.mesh.policy.policies import (
    ACTIONS,
    PER_CLASSIFICATION,
    POLICY_FILE,
    OwnerTeam,
    Statement,
    check_request,
    classifications,
    owner_team,
    read_policy_text,
    statements,
)
from daap.spec.mesh import PrincipalSpec
from daap.spec.model import ProductSpec

PRINCIPAL_TYPE = "Daap::Principal"
PRODUCT_TYPE = "Daap::Product"
ACTION_TYPE = "Daap::Action"

BUILTIN_POLICIES = """\
@id("daap.owner")
permit (principal, action, resource)
when {
  resource.team_members.contains(principal.name) ||
  (principal.roles.contains("owner") && principal.domain != "" && principal.domain == resource.domain)
};

@id("daap.governance")
permit (
  principal,
  action in [Daap::Action::"discover", Daap::Action::"read", Daap::Action::"read_unmasked"],
  resource
)
when { principal.roles.contains("governance") };
"""

#: a file written this recently may change again within its timestamp's granularity
_RACY_NS = 2_000_000_000
_POLICY_ID = re.compile(r"policy `([^`]+)`")
_NAMED = re.compile(r"^[A-Za-z0-9_.:-]+$")
_ATTRIBUTES = {".": {"left": {"Var": "principal"}, "attr": "attributes"}}


@dataclass(frozen=True)
class Decision:
    """Whether a principal may do an action on a product, and why.

    ``reasons`` are the ids of the policies that decided (the permits that
    allowed, or the forbids that denied; empty when nothing permitted);
    ``errors`` are problems met on the way (a policy that failed to evaluate,
    a policy file that does not validate).
    """

    allowed: bool
    reasons: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheInfo:
    """Decisions served from the cache (hits) and evaluated by Cedar (misses), and how many are kept."""

    hits: int
    misses: int
    size: int


# ---- validation --------------------------------------------------------------------------------


def check_policies(text: str, path: str | Path) -> list[str]:
    """Every problem of the Cedar policy ``text`` read from ``path``, as ``path:line:col: message``.

    Parse errors, policy templates, and what the schema of the entity model
    rejects: unknown actions, entity types and attributes, ill-typed conditions.
    """
    return [str(d) for d in policy_diagnostics(text, path)]


def policy_diagnostics(text: str, path: str | Path) -> list[Diagnostic]:
    """:func:`check_policies` as :class:`Diagnostic` objects (for a :class:`SpecError`)."""
    shown, parts = str(path), statements(text)
    try:
        est = _est(text)
    except ValueError as exc:
        return _parse_problems(shown, text, parts, str(exc))
    found = [
        _at(shown, text, parts, int(pid[6:]), "templates (policies with a ?principal or ?resource "
            "slot) are not supported in access.cedar; name the principal or use a condition")
        for pid in est.get("templates", {})
    ]  # fmt: skip
    result = cedarpy.validate_policies(text, _schema(frozenset(_attribute_names(est))))
    unknown_action = {e.policy_id for e in result.errors if "unrecognized action" in e.error}
    for error in result.errors:
        if error.policy_id in unknown_action and "unable to find an applicable action" in error.error:
            continue  # it follows from the unknown action reported already
        found.append(_validation_problem(shown, text, parts, error.policy_id, error.error))
    return sorted(found)


def product_policy_problems(folder: Path, shown: str | None = None) -> list[Diagnostic]:
    """The problems of the ``access.cedar`` in a product folder (none without one).

    Args:
        folder: the product folder.
        shown: how to name the file in messages (default: its path).
    """
    path = folder / POLICY_FILE
    try:
        text = read_policy_text(path)
    except SpecError as exc:
        return list(exc.diagnostics)
    return policy_diagnostics(text, shown or path)


def _parse_problems(shown: str, text: str, parts: list[Statement], whole: str) -> list[Diagnostic]:
    """Cedar names no position: parse each policy alone to find the ones that fail."""
    found = []
    for part in parts:
        try:
            cedarpy.policies_to_json_str(part.text)
        except ValueError as exc:
            message = f"policy #{part.index + 1} does not parse: {exc}"
            found.append(Diagnostic(shown, part.line, part.col, message))
    return found or [Diagnostic(shown, 0, 0, f"the policies do not parse: {whole}")]


def _validation_problem(shown: str, text: str, parts: list[Statement], pid: str, error: str) -> Diagnostic:
    message = re.sub(r"^for policy `[^`]*`, ", "", error)
    index = int(pid[6:]) if pid.startswith("policy") and pid[6:].isdigit() else -1
    action = re.search(r'unrecognized action `(?:[\w:]*::)?Action::"([^"]*)"`', message)
    if action:
        message += f" (the actions are {', '.join(ACTIONS)})"
    attribute = re.search(r"attribute `([^`]+)`", message)
    fragment = f'"{action.group(1)}"' if action else f".{attribute.group(1)}" if attribute else ""
    return _at(shown, text, parts, index, message, fragment)


def _at(
    shown: str, text: str, parts: list[Statement], index: int, message: str, fragment: str = ""
) -> Diagnostic:
    if not 0 <= index < len(parts):
        return Diagnostic(shown, 0, 0, message)
    part = parts[index]
    line, col = part.position(fragment, text) if fragment else (part.line, part.col)
    return Diagnostic(shown, line, col, f"policy #{index + 1}: {message}")


def _est(text: str) -> dict[str, Any]:
    """The policies as Cedar's JSON (EST), ids ``policy0``, ``policy1``, ... in order.

    Raises:
        ValueError: the text does not parse.
    """
    parsed: dict[str, Any] = json.loads(cedarpy.policies_to_json_str(text))
    return parsed


def _attribute_names(node: Any) -> set[str]:
    """The keys read from ``principal.attributes`` (``.key``, ``["key"]``, ``has key``) in an EST."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for op in (".", "has"):
                inner = item.get(op)
                if isinstance(inner, dict) and inner.get("left") == _ATTRIBUTES:
                    found.add(str(inner.get("attr")))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def schema(attribute_names: Iterable[str] = ()) -> dict[str, Any]:
    """The Cedar schema (JSON form) of the entity model; principal attributes as named."""
    text: dict[str, Any] = {"type": "String"}
    texts = {"type": "Set", "element": text}
    record = {"type": "Record", "attributes": {name: text for name in sorted(attribute_names)}}
    principal = {"name": text, "kind": text, "roles": texts, "domain": text, "purposes": texts}
    product = {"name": text, "domain": text, "owner_team": text, "team_members": texts}
    classified = {"type": "Record", "attributes": {"classification": text}}

    def applies(action: str) -> dict[str, Any]:
        scope: dict[str, Any] = {"principalTypes": ["Principal"], "resourceTypes": ["Product"]}
        if action == PER_CLASSIFICATION:
            scope["context"] = classified
        return {"appliesTo": scope}

    shapes = {
        "Principal": {"shape": {"type": "Record", "attributes": {**principal, "attributes": record}}},
        "Product": {"shape": {"type": "Record", "attributes": product}},
    }
    return {"Daap": {"entityTypes": shapes, "actions": {a: applies(a) for a in ACTIONS}}}


@cache
def _schema(attribute_names: frozenset[str]) -> cedarpy.Schema:
    return cedarpy.Schema.from_json_str(json.dumps(schema(attribute_names)))


@cache
def _builtin_est() -> dict[str, Any]:
    """The built-in policies keyed by their ``@id``."""
    policies = _est(BUILTIN_POLICIES)["staticPolicies"].values()
    return {policy["annotations"]["id"]: policy for policy in policies}


# ---- compiling a product's policy set ----------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    """A product's policies ready to evaluate (``policies`` None when there are problems)."""

    version: str
    policies: cedarpy.PolicySet | None
    forbids: frozenset[str]
    problems: tuple[str, ...]
    resource: dict[str, str]
    #: the product entity, parsed once; each principal is added to it
    entities: cedarpy.Entities


def policy_version(text: str) -> str:
    """The version of a product's policies: a hash of its policy text and the built-in policies."""
    return hashlib.sha256(f"{BUILTIN_POLICIES}\0{text}".encode()).hexdigest()[:16]


def policy_ids(est: dict[str, Any], product: str) -> dict[str, str]:
    """Cedar's positional ids (``policy0``) to daap's readable ones (``<product>/access.cedar#1``)."""
    prefix = f"{product}/{POLICY_FILE}#"
    policies = {**est.get("staticPolicies", {}), **est.get("templates", {})}
    given = [str(p.get("annotations", {}).get("id", "")) for p in policies.values()]
    names = {}
    for pid, policy in policies.items():
        label = str(policy.get("annotations", {}).get("id", ""))
        usable = _NAMED.match(label) and not label.isdigit() and given.count(label) == 1
        names[pid] = prefix + (label if usable else str(int(pid[6:]) + 1))
    return names


def _compile(text: str, shown: str, product: ProductSpec, team: OwnerTeam, problems: list[str]) -> _Compiled:
    resource = {"type": PRODUCT_TYPE, "id": product.name}
    attrs = {
        "name": product.name,
        "domain": product.domain or "",
        "owner_team": team.name,
        "team_members": list(team.members),
    }
    entity = orjson.dumps([{"uid": resource, "attrs": attrs, "parents": []}]).decode()
    entities = cedarpy.Entities.from_json_str(entity)
    version = policy_version(text)
    problems = [*problems, *check_policies(text, shown)]
    if problems:
        return _Compiled(version, None, frozenset(), tuple(problems), resource, entities)
    names = policy_ids(est := _est(text), product.name)
    static = {**_builtin_est(), **{names[k]: v for k, v in est["staticPolicies"].items()}}
    combined = {"staticPolicies": static, "templates": {}, "templateLinks": []}
    policies = cedarpy.PolicySet.from_json_str(json.dumps(combined))
    forbids = frozenset(k for k, v in static.items() if v.get("effect") == "forbid")
    return _Compiled(version, policies, forbids, (), resource, entities)


def _evaluate(
    compiled: _Compiled, entities: cedarpy.Entities, principal: str, action: str, classification: str | None
) -> Decision:
    assert compiled.policies is not None
    request = {
        "principal": {"type": PRINCIPAL_TYPE, "id": principal},
        "action": {"type": ACTION_TYPE, "id": action},
        "resource": compiled.resource,
        "context": {"classification": classification} if classification is not None else {},
    }
    result = cedarpy.is_authorized(request, compiled.policies, entities)
    errors = tuple(result.diagnostics.errors)
    failed = {m.group(1) for e in errors if (m := _POLICY_ID.search(e))}
    if broken := sorted(compiled.forbids & failed):
        return Decision(False, tuple(broken), errors)  # an unverifiable prohibition holds
    return Decision(result.allowed, tuple(sorted(result.diagnostics.reasons)), errors)


def principal_entity(principal: PrincipalSpec) -> str:
    """The principal as a Cedar entity (JSON)."""
    attrs = {
        "name": principal.name,
        "kind": principal.kind,
        "roles": list(principal.roles),
        "domain": principal.domain or "",
        "purposes": list(principal.purposes),
        "attributes": {str(k): str(v) for k, v in principal.attributes.items()},
    }
    uid = {"type": PRINCIPAL_TYPE, "id": principal.name}
    return orjson.dumps({"uid": uid, "attrs": attrs, "parents": []}).decode()


# ---- the engine --------------------------------------------------------------------------------

_Signature = tuple[int, int, int, int, int] | None
_Key = tuple[Any, ...]


@dataclass(frozen=True)
class _Read:
    """One file as last read: its ``stat`` signature, whether that can be trusted, its bytes."""

    signature: _Signature
    settled: bool
    content: bytes | None
    error: str | None = None

    def holds(self, signature: _Signature) -> bool:
        return self.settled and self.signature == signature


@dataclass
class _Product:
    """What the engine holds for one product folder: its compiled policies and cached decisions."""

    paths: tuple[str, str]
    #: (name, domain, team) of the ProductSpec the policies were compiled for
    identity: tuple[str, str | None, str | None]
    policy_file: _Read
    descriptor: _Read
    #: what was compiled: the policy text, the problems reading it, the owner team, the problems
    #: reading that
    source: tuple[str, tuple[str, ...], OwnerTeam, tuple[str, ...]]
    #: epoch seconds when a team member's dateOut removes it (the team must be read again)
    expires: float | None
    compiled: _Compiled
    decisions: OrderedDict[_Key, Decision] = field(default_factory=OrderedDict)
    #: each principal's entities (the product's plus its own), parsed once
    entities: OrderedDict[_Key, cedarpy.Entities] = field(default_factory=OrderedDict)

    def current(self, product: ProductSpec, signatures: tuple[_Signature, _Signature]) -> bool:
        return (
            self.policy_file.holds(signatures[0])
            and self.descriptor.holds(signatures[1])
            and self.identity == (product.name, product.domain, product.team)
            and (self.expires is None or time.time() < self.expires)
        )


class PolicyEngine:
    """Decides what principals may do with products, from their ``access.cedar`` and the built-ins.

    Args:
        max_decisions: how many decisions (and principals' entities) to keep per product; the
            oldest go first.
    """

    def __init__(self, max_decisions: int = 4096) -> None:
        self._products: dict[Path, _Product] = {}
        self._lock = threading.Lock()
        self._max = max(1, max_decisions)
        self._hits = 0
        self._misses = 0

    def decide(
        self, principal: PrincipalSpec, product: ProductSpec, action: str, classification: str | None = None
    ) -> Decision:
        """May ``principal`` do ``action`` on ``product``?

        Args:
            principal: who asks.
            product: the product asked about; its folder's ``access.cedar`` holds its policies.
            action: one of :data:`~daap.mesh.policy.policies.ACTIONS`.
            classification: the ODCS classification, for ``read_unmasked`` only (ignored otherwise).

        Raises:
            UsageError: an unknown action, or ``read_unmasked`` without a classification.
        """
        classification = check_request(action, classification)
        state = self._state(product)
        who = principal_key(principal)
        key = (who, action, classification)
        found = state.decisions.get(key)
        if found is not None:
            self._hits += 1
            return found
        self._misses += 1
        compiled = state.compiled
        if compiled.policies is None:
            decision = Decision(False, (), compiled.problems)
        else:
            entities = state.entities.get(who)
            if entities is None:
                entities = compiled.entities.with_added_json_str(f"[{principal_entity(principal)}]")
                _keep(state.entities, who, entities, self._max, self._lock)
            decision = _evaluate(compiled, entities, principal.name, action, classification)
        _keep(state.decisions, key, decision, self._max, self._lock)
        return decision

    def explain(self, principal: PrincipalSpec, product: ProductSpec) -> dict[str, Any]:
        """What ``principal`` may do with ``product`` and which policies decided, as JSON-ready data.

        One row per action; ``read_unmasked`` has one row per classification
        found in the product's contracts (none if no column is classified)::

            {"principal": "ana", "product": "sales", "policy_file": ".../access.cedar",
             "policy_version": "3f2a...", "owner_team": {"name": "sales-team", "members": [...]},
             "classifications": ["pii"], "problems": [],
             "decisions": [{"action": "read", "classification": null, "allowed": true,
                            "policies": ["sales/access.cedar#eu-read"], "errors": []}, ...]}
        """
        state = self._state(product)
        found = classifications(product)
        rows = []
        for action in ACTIONS:
            for classification in found if action == PER_CLASSIFICATION else (None,):
                decision = self.decide(principal, product, action, classification)
                rows.append({
                    "action": action,
                    "classification": classification,
                    "allowed": decision.allowed,
                    "policies": list(decision.reasons),
                    "errors": list(decision.errors),
                })  # fmt: skip
        team = state.source[2]
        return {
            "principal": principal.name,
            "product": product.name,
            "policy_file": state.paths[0] if state.policy_file.signature is not None else None,
            "policy_version": state.compiled.version,
            "owner_team": {"name": team.name, "members": list(team.members)},
            "classifications": list(found),
            "problems": list(state.compiled.problems),
            "decisions": rows,
        }

    def policy_version(self, product: ProductSpec) -> str:
        """The version of the product's policies in force (see :func:`policy_version`)."""
        return self._state(product).compiled.version

    def cache_info(self) -> CacheInfo:
        size = sum(len(p.decisions) for p in list(self._products.values()))
        return CacheInfo(self._hits, self._misses, size)

    def clear(self) -> None:
        """Forget every product's policies and decisions (the counters stay)."""
        with self._lock:
            self._products.clear()

    def _state(self, product: ProductSpec) -> _Product:
        """The product's policies, read again when its files or its spec changed."""
        state = self._products.get(product.folder)
        paths = state.paths if state else (str(product.folder / POLICY_FILE), str(product.descriptor_path))
        signatures = (file_signature(paths[0]), file_signature(paths[1]))
        if state is not None and state.current(product, signatures):
            return state
        with self._lock:
            return self._refresh(product, paths, signatures, state)

    def _refresh(
        self, product: ProductSpec, paths: tuple[str, str], signatures: tuple[_Signature, _Signature],
        old: _Product | None,
    ) -> _Product:  # fmt: skip
        """Read what changed (or may have), and compile again only if the content differs."""
        read_at = time.time_ns()
        old_reads = (old.policy_file, old.descriptor) if old else (None, None)
        policy_file, descriptor = (
            _reread(*args, read_at) for args in zip(old_reads, paths, signatures, strict=True)
        )
        text, text_problems = _policy_text(policy_file, paths[0])
        same_team = old is not None and old.expires is None and old.descriptor.content == descriptor.content
        team, team_problems = old.source[2:] if old and same_team else _team(product, descriptor)
        identity = (product.name, product.domain, product.team)
        source = (text, text_problems, team, team_problems)
        if old is not None and (old.identity, old.source) == (identity, source):
            old.policy_file, old.descriptor = policy_file, descriptor
            old.expires = _midnight(team.changes_on)
            return old
        compiled = _compile(text, paths[0], product, team, [*text_problems, *team_problems])
        state = _Product(
            paths, identity, policy_file, descriptor, source, _midnight(team.changes_on), compiled
        )
        self._products[product.folder] = state
        return state


def _keep(cache: OrderedDict[_Key, Any], key: _Key, value: Any, limit: int, lock: threading.Lock) -> None:
    """Keep ``value``, dropping the oldest entry when full (an OrderedDict pops its first in O(1);
    a dict whose first entries were popped scans them on every ``next(iter(...))``)."""
    with lock:
        if len(cache) >= limit:
            cache.popitem(last=False)
        cache[key] = value


def principal_key(principal: PrincipalSpec) -> _Key:
    """Every field of the principal a policy can read: a change of any is another cache entry."""
    attributes = tuple(sorted(principal.attributes.items()))
    return (principal.name, principal.kind, principal.roles, principal.domain, principal.purposes, attributes)


def file_signature(path: str) -> _Signature:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


def _read(path: str, signature: _Signature, read_at: int) -> _Read:
    """The file's bytes (None if there is no file).

    Its signature was taken before reading, so a write in between shows as a
    changed signature next time. A signature younger than the timestamps'
    granularity is not trusted: the file is read again on the next decision.
    """
    try:
        content: bytes | None = Path(path).read_bytes()
        error = None
    except FileNotFoundError:
        content, error = None, None
    except OSError as exc:
        content, error = None, f"{path}: cannot read the file: {exc}"
    if signature is None:
        settled = content is None and error is None
    else:
        settled = content is not None and read_at - signature[0] > _RACY_NS
    return _Read(signature, settled, content, error)


def _policy_text(read: _Read, path: str) -> tuple[str, tuple[str, ...]]:
    if read.error is not None:
        return "", (read.error,)
    if read.content is None:
        return "", ()
    try:
        return read.content.decode("utf-8"), ()
    except UnicodeDecodeError as exc:
        return "", (f"{path}: cannot read the policy file: {exc}",)


def _reread(previous: _Read | None, path: str, signature: _Signature, read_at: int) -> _Read:
    if previous is not None and previous.holds(signature):
        return previous
    return _read(path, signature, read_at)


def _team(product: ProductSpec, descriptor: _Read) -> tuple[OwnerTeam, tuple[str, ...]]:
    if descriptor.error is not None:
        return OwnerTeam(product.team or "", ()), (descriptor.error,)
    try:
        return owner_team(product), ()
    except SpecError as exc:  # the descriptor broke since the product was loaded
        return OwnerTeam(product.team or "", ()), tuple(str(d) for d in exc.diagnostics)


def _midnight(day: dt.date | None) -> float | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()


__all__ = [
    "ACTION_TYPE",
    "BUILTIN_POLICIES",
    "PRINCIPAL_TYPE",
    "PRODUCT_TYPE",
    "CacheInfo",
    "Decision",
    "PolicyEngine",
    "check_policies",
    "file_signature",
    "policy_diagnostics",
    "policy_ids",
    "policy_version",
    "principal_entity",
    "principal_key",
    "product_policy_problems",
    "schema",
]
