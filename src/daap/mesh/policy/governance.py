"""Federated computational governance: the mesh's global rules, checked on every product.

The rules are what every product of the mesh owes its consumers, whichever
team owns it. daap ships a standard set (:data:`RULES`); ``mesh.yaml`` sets
each rule's severity (``error`` refuses the build, ``warning`` reports,
``off`` skips the rule)::

    governance:
      rules:
        descriptions: off
        personal-data-classified: error

Each rule is a pure function of what it looks at (a :class:`Subject`: the
product, its owner team, its masks, the registry's compatibility levels and a
sample of each text column's values) returning :class:`Issue` s: what is
wrong and how to fix it. :func:`check` runs the rules; :func:`govern` gathers
a subject from a workspace first (its I/O: the descriptor, ``access.yaml``, the
registry, DuckDB over the rows to sample). A build governs its staged rows
before anything is committed (:mod:`daap.mesh.builder`); ``daap govern check``
the latest published version.

Personal data is found from column names (``email``, ``customer_name``,
``birth_date``, ...) and from sampled values (emails, phone numbers, IBANs,
street addresses, ...): a text column is personal data when at least half of
its sampled values look like one kind.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daap.errors import GovernanceRefused, SpecError
from daap.mesh.policy.policies import OwnerTeam, owner_team
from daap.mesh.registry import odcs
from daap.mesh.registry.compat import DEFAULT_LEVEL
from daap.runtime import engine
from daap.spec.access import ACCESS_FILE, MASKS, UNMASKED, AccessSpec, load_access, mask_for
from daap.spec.mesh import GOVERNANCE_RULES, GovernanceConfig
from daap.spec.model import ColumnSpec, OutputPortSpec, ProductSpec

if TYPE_CHECKING:
    from daap.mesh.workspace import Workspace

#: the compatibility levels under which consumers can read what a new version writes
BACKWARD_LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
#: non-null values sampled from each text column
SAMPLE_SIZE = 1000
#: how many of a text column's sampled values (a share) must look like personal data for it to count
MATCH_SHARE = 0.5


@dataclass(frozen=True)
class Issue:
    """What a rule found wrong, where, and how to fix it."""

    message: str
    fix: str
    port: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Finding:
    """An issue of one rule on one product, at the rule's severity."""

    rule: str
    severity: str
    product: str
    message: str
    fix: str
    port: str | None = None
    column: str | None = None

    def describe(self) -> str:
        """``owner-team: product events has no owner team: add `team: ...` to events/dataproduct.yaml``."""
        return f"{self.rule}: {self.message}: {self.fix}"

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "product": self.product,
            "port": self.port,
            "column": self.column,
            "message": self.message,
            "fix": self.fix,
        }


#: port -> column -> sampled non-null values
Samples = Mapping[str, Mapping[str, Sequence[str]]]


@dataclass(frozen=True)
class Subject:
    """Everything the rules look at for one product."""

    product: ProductSpec
    team: OwnerTeam
    access: AccessSpec = field(default_factory=AccessSpec)
    #: why ``access.yaml`` could not be read; None when it could (or there is none)
    access_error: str | None = None
    #: classification -> mask, from ``mesh.yaml``
    mesh_masks: Mapping[str, str] = field(default_factory=dict)
    #: port -> the registry's compatibility level for its change events (when the contract sets none)
    levels: Mapping[str, str] = field(default_factory=dict)
    values: Samples = field(default_factory=dict)

    @property
    def descriptor(self) -> str:
        return shown(self.product, self.product.descriptor_path)

    def contract(self, port: OutputPortSpec) -> str:
        return shown(self.product, port.contract.path)


def shown(product: ProductSpec, path: Path) -> str:
    """A product file as messages show it: ``events/contracts/events.odcs.yaml``."""
    try:
        return path.relative_to(product.folder.parent).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Rule:
    """One global rule: a stable id, its default severity, and the check itself."""

    id: str
    severity: str
    summary: str
    check: Callable[[Subject], Iterable[Issue]]


@dataclass(frozen=True)
class RuleResult:
    rule: str
    severity: str
    summary: str
    findings: tuple[Finding, ...] = ()

    @property
    def passed(self) -> bool | None:
        """None for a rule that is ``off`` (not run)."""
        return None if self.severity == "off" else not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "passed": self.passed,
            "findings": [f.as_json() for f in self.findings],
        }


@dataclass(frozen=True)
class GovernanceReport:
    """Every rule's result for one product."""

    product: str
    results: tuple[RuleResult, ...]
    #: where the sampled values came from (``the rows of build b-…``, ``version 3``); None: names only
    sampled: str | None = None
    checked_at: datetime | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def as_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "checked_at": None if self.checked_at is None else self.checked_at.isoformat(),
            "sampled": self.sampled,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "passed": sum(1 for r in self.results if r.passed),
            "failed": sum(1 for r in self.results if r.passed is False),
            "rules": [r.as_json() for r in self.results],
            "findings": [f.as_json() for f in self.findings],
        }

    def refusal(self) -> GovernanceRefused:
        return GovernanceRefused(self.product, [f.describe() for f in self.errors])


# -- the rules ---------------------------------------------------------------------


def _owner_team(s: Subject) -> Iterable[Issue]:
    name, members = s.team.name, s.team.members
    if not name and not members:
        yield Issue(
            f"product {s.product.name} has no owner team",
            f"add `team: {{name: ..., members: [{{username: ..., role: owner}}]}}` to {s.descriptor}",
        )
    elif not name:
        yield Issue(
            f"the team of product {s.product.name} has no name",
            f"add `name:` under `team:` in {s.descriptor}",
        )
    elif not members:
        yield Issue(
            f"team {name} of product {s.product.name} has no current member",
            f"add `members: [{{username: ..., role: owner}}]` under `team:` in {s.descriptor}",
        )


def _business_objective(s: Subject) -> Iterable[Issue]:
    if not (s.product.business_objective or "").strip():
        yield Issue(
            f"product {s.product.name} states no business objective",
            "add `{property: businessObjective, value: <what it is for>}` to customProperties in "
            + s.descriptor,
        )


def _consumer_personas(s: Subject) -> Iterable[Issue]:
    if not s.product.consumer_personas:
        yield Issue(
            f"product {s.product.name} names no consumer personas",
            "add `{property: consumerPersonas, value: [{name: analyst, description: ..., skills: [sql]}]}` "
            f"to customProperties in {s.descriptor}",
        )


def _primary_key(s: Subject) -> Iterable[Issue]:
    for port in s.product.output_ports:
        if not port.contract.primary_key:
            yield Issue(
                f"output port {port.name} has no primary key",
                f"mark its key column(s) `primaryKey: true` (with `primaryKeyPosition` for a composite key) "
                f"in {s.contract(port)}",
                port.name,
            )


def _descriptions(s: Subject) -> Iterable[Issue]:
    for port in s.product.output_ports:
        if not _port_description(port):
            yield Issue(
                f"output port {port.name} has no description",
                f"add `description:` to output port {port.name} in {s.descriptor}",
                port.name,
            )
        bare = [c.name for c in port.contract.columns if not (c.description or "").strip()]
        if bare:
            yield Issue(
                f"column(s) of {port.name} without a description: {', '.join(bare)}",
                f"add `description:` to each of them in {s.contract(port)}",
                port.name,
            )


def _port_description(port: OutputPortSpec) -> bool:
    """The ODPS port's description, else its ODCS schema object's, else the contract's purpose."""
    if (port.description or "").strip():
        return True
    model = port.contract.odcs
    objects = getattr(model, "schema_", None) or []
    texts = [getattr(o, "description", None) for o in objects if getattr(o, "name", None) == port.name]
    texts.append(getattr(getattr(model, "description", None), "purpose", None))
    return any(isinstance(t, str) and t.strip() for t in texts)


def _quality_rule(s: Subject) -> Iterable[Issue]:
    for port in s.product.output_ports:
        if not port.contract.quality:
            yield Issue(
                f"output port {port.name} has no quality rule",
                f"add a `quality:` list to its schema object or a column in {s.contract(port)}, "
                "e.g. `quality: [{metric: rowCount, mustBeGreaterThan: 0}]`",
                port.name,
            )


def _freshness_sla(s: Subject) -> Iterable[Issue]:
    for port in s.product.output_ports:
        if "latency" not in port.contract.sla:
            yield Issue(
                f"output port {port.name} has no freshness SLA",
                f"add `slaProperties: [{{property: latency, value: 1, unit: d}}]` to {s.contract(port)}",
                port.name,
            )


def _personal_data_classified(s: Subject) -> Iterable[Issue]:
    for port in s.product.output_ports:
        values = s.values.get(port.name, {})
        for column in port.contract.columns:
            why = personal_data(column, values.get(column.name, ()))
            if why is None:
                continue
            where = f"column {port.name}.{column.name} looks like personal data ({why})"
            fix = f"add `classification: pii` (or restricted) to property {column.name} in {s.contract(port)}"
            if column.classification is None:
                yield Issue(f"{where} but has no classification", fix, port.name, column.name)
            elif column.classification.lower() in UNMASKED:
                yield Issue(
                    f"{where} but is classified {column.classification!r}, which is not masked by default",
                    fix.replace("add", "set", 1),
                    port.name,
                    column.name,
                )


def _classified_masked(s: Subject) -> Iterable[Issue]:
    if s.access_error is not None:
        yield Issue(
            f"{ACCESS_FILE} of product {s.product.name} cannot be read: {s.access_error}",
            f"fix it (`daap validate {s.product.folder.name}` shows every problem)",
        )
        return
    for port in s.product.output_ports:
        for column in port.contract.columns:
            level = column.classification
            if level is None or level.lower() in UNMASKED:
                continue
            if mask_for(port.name, column, s.access, s.mesh_masks) != "none":
                continue
            yield Issue(
                f"column {port.name}.{column.name} is classified {level!r} but its mask is none, "
                "so every reader sees its values",
                _unmask_fix(s, port.name, column.name, level),
                port.name,
                column.name,
            )


def _unmask_fix(s: Subject, port: str, column: str, level: str) -> str:
    access = s.access.path or f"{s.product.folder.name}/{ACCESS_FILE}"
    masks = ", ".join(m for m in MASKS if m != "none")
    if f"{port}.{column}" in s.access.columns:
        return f"give `{port}.{column}` under `columns:` in {access} a mask ({masks}), not none"
    if level in s.access.masks:
        return f"give classification {level!r} under `masks:` in {access} a mask ({masks}), not none"
    return f"give classification {level!r} under `masks:` in mesh.yaml a mask ({masks}), not none"


def _compatibility(s: Subject) -> Iterable[Issue]:
    for port in s.product.output_ports:
        own = port.contract.compatibility
        level = own or s.levels.get(port.name, DEFAULT_LEVEL)
        if level in BACKWARD_LEVELS:
            continue
        source = (
            "set in its contract"
            if own
            else f"the registry's level for {odcs.value_subject(s.product.name, port.name)}"
        )
        yield Issue(
            f"output port {port.name}'s schema compatibility is {level} ({source}), so a new version may "
            "break its consumers",
            "set the custom property `{property: compatibility, value: BACKWARD}` (or FULL) in "
            f"{s.contract(port)}; the next build sets it in the registry",
            port.name,
        )


#: the rules, in report order, with their default severities
RULES: tuple[Rule, ...] = (
    Rule("owner-team", "error", "an owner team with at least one member", _owner_team),
    Rule("business-objective", "warning", "a business objective", _business_objective),
    Rule("consumer-personas", "warning", "consumer personas", _consumer_personas),
    Rule("contract-primary-key", "warning", "every output port's contract has a primary key", _primary_key),
    Rule("descriptions", "warning", "every output port and column is described", _descriptions),
    Rule("quality-rule", "warning", "every output port has a quality rule", _quality_rule),
    Rule("freshness-sla", "warning", "every output port has a freshness (latency) SLA", _freshness_sla),
    Rule(
        "personal-data-classified",
        "warning",
        "columns that look like personal data are classified",
        _personal_data_classified,
    ),
    Rule("classified-masked", "warning", "classified columns are masked by default", _classified_masked),
    Rule(
        "compatibility-backward",
        "warning",
        "schema compatibility is BACKWARD, FULL or transitive",
        _compatibility,
    ),
)
assert tuple(r.id for r in RULES) == GOVERNANCE_RULES  # mesh.yaml accepts exactly these ids


def severity(rule: Rule, config: GovernanceConfig) -> str:
    """``mesh.yaml``'s severity for the rule, else its default."""
    return config.rules.get(rule.id, rule.severity)


def check(
    subject: Subject,
    config: GovernanceConfig | None = None,
    sampled: str | None = None,
    at: datetime | None = None,
) -> GovernanceReport:
    """Run every rule that is not ``off`` on ``subject``. Pure."""
    config = config or GovernanceConfig()
    results = []
    for rule in RULES:
        level = severity(rule, config)
        issues = () if level == "off" else tuple(rule.check(subject))
        findings = tuple(
            Finding(rule.id, level, subject.product.name, i.message, i.fix, i.port, i.column) for i in issues
        )
        results.append(RuleResult(rule.id, level, rule.summary, findings))
    return GovernanceReport(subject.product.name, tuple(results), sampled, at)


# -- personal data -----------------------------------------------------------------

#: kind of personal data -> a column name (in snake case) that says it
NAME_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("an email address", r"(^|_)e_?mail(_?addr(ess)?)?(e?s)?$"),
        (
            "a phone number",
            r"(^|_)(phone|tele?phone|tel|mobile|cell_?phone|fax|msisdn)(_?(no|nr|num|number))?s?$",
        ),
        (
            "a person's name",
            r"(^|_)(first|last|given|family|middle|maiden|full|nick|sur|fore|legal|customer|client|contact"
            r"|person|user|viewer|subscriber|member|employee|patient|cardholder|holder)_?names?$",
        ),
        ("an IP address", r"(^|_)ip_?(v[46]_?)?addr(ess)?(es)?$"),
        (
            "a postal address",
            r"(^|_)(street|addr|address(_?line(_?\d+)?)?|post_?code|postal_?code|zip(_?code)?)(e?s)?$",
        ),
        ("a birth date", r"(^|_)(birth_?(date|day|year)|date_of_birth|dob|born(_on)?)$"),
        (
            "a national id",
            r"(^|_)(ssn|social_security(_(no|number))?|national_?(id|insurance)(_(no|number))?|nino"
            r"|passport(_(no|number))?|tax_?id|id_?card(_(no|number))?|drivers?_?licen[cs]e(_(no|number))?)$",
        ),
        (
            "a bank account",
            r"(^|_)(iban|bank_?account(_(no|number))?|account_?number|credit_?card(_?number)?|card_?number)$",
        ),
    )
)
#: logical types that never hold personal data in themselves (``email_verified: boolean``)
_NOT_PERSONAL = ("boolean",)

_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_CARD = re.compile(r"^\d{4}([ -]\d{4}){3}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_STREET = re.compile(
    r"^\d{1,5}[A-Za-z]?,?\s+([\w'.-]+\s+){0,4}(street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln"
    r"|drive|dr|court|ct|way|place|pl|square|sq|terrace|rue|via|calle)\b"  # 221B Baker Street
    # Hauptstraße 5
    r"|^[\w'. -]*?(stra(ss|ß)e|str\.|weg|straat|laan|gasse|platz|gatan|vej)\s+\d{1,5}[a-z]?\b",
    re.IGNORECASE,
)
_PHONES = (
    re.compile(r"^\+[1-9][\d ().-]{6,18}\d$"),  # international: +44 20 7946 0958
    re.compile(r"^\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}$"),  # North American: (555) 123-4567
    re.compile(r"^0\d{1,4}([ /-]\d{2,8}){1,3}$"),  # national, with a trunk prefix: 030 1234567
)


def _phone(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return 8 <= digits <= 15 and any(p.match(value) for p in _PHONES)


def _iban(value: str) -> bool:
    compact = value.replace(" ", "")
    if not _IBAN.match(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


#: kind of personal data -> whether one value looks like it (bare digits never do: they are ids)
VALUE_KINDS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("email addresses", lambda v: _EMAIL.match(v) is not None),
    ("phone numbers", _phone),
    ("IBANs", _iban),
    ("payment card numbers", lambda v: _CARD.match(v) is not None and _luhn(re.sub(r"\D", "", v))),
    ("social security numbers", lambda v: _SSN.match(v) is not None),
    ("street addresses", lambda v: _STREET.match(v) is not None),
)


def snake(name: str) -> str:
    """``emailAddress`` -> ``email_address``, ``Date-Of-Birth`` -> ``date_of_birth``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def name_kind(column: ColumnSpec) -> str | None:
    """The kind of personal data the column's name says it holds, or None."""
    if column.logical_type in _NOT_PERSONAL:
        return None
    name = snake(column.name)
    return next((kind for kind, pattern in NAME_KINDS if pattern.search(name)), None)


def value_kind(values: Sequence[str]) -> tuple[str, int] | None:
    """The kind of personal data most sampled values look like, and how many do, when at least
    :data:`MATCH_SHARE` of them look like some kind; else None."""
    counts: Counter[str] = Counter()
    matched = 0
    for value in values:
        text = value.strip()
        kind = next((k for k, looks in VALUE_KINDS if looks(text)), None)
        if kind is not None:
            counts[kind] += 1
            matched += 1
    if not values or matched < MATCH_SHARE * len(values):
        return None
    kind, count = counts.most_common(1)[0]
    return kind, count


def personal_data(column: ColumnSpec, values: Sequence[str] = ()) -> str | None:
    """Why the column looks like personal data (its name, or its sampled values), or None."""
    by_name = name_kind(column)
    if by_name is not None:
        return f"its name says {by_name}"
    by_values = value_kind(values)
    if by_values is not None:
        kind, count = by_values
        return f"{count} of {len(values)} sampled values are {kind}"
    return None


# -- gathering a subject -------------------------------------------------------------


def sample_values(
    product: ProductSpec,
    rows: Mapping[str, engine.Relation],
    temp_dir: Path | None = None,
    limit: int = SAMPLE_SIZE,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Up to ``limit`` non-null values of each text column of each port in ``rows``.

    Args:
        rows: port -> its rows (the staged files of a build, or a published version).
    """
    con = engine.connect(temp_dir)
    try:
        found: dict[str, dict[str, tuple[str, ...]]] = {}
        for port in product.output_ports:
            if port.name not in rows:
                continue
            view = engine.quote(f"__governance_{port.name}")
            engine.register(con, f"__governance_{port.name}", rows[port.name])
            present = {name for name, _ in engine.columns(con, view)}
            found[port.name] = {
                column.name: _sample(con, view, column.name, limit)
                for column in port.contract.columns
                if column.logical_type == "string" and column.name in present
            }
        return found
    finally:
        con.close()


def _sample(con: Any, view: str, column: str, limit: int) -> tuple[str, ...]:
    name = engine.quote(column)
    rows = con.execute(
        f"SELECT CAST({name} AS VARCHAR) FROM {view} WHERE {name} IS NOT NULL LIMIT {int(limit)}"
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


def local_subject(
    product: ProductSpec,
    *,
    mesh_masks: Mapping[str, str] | None = None,
    levels: Mapping[str, str] | None = None,
    values: Samples | None = None,
) -> Subject:
    """What the rules look at, from the product's own files (its team, ``access.yaml``) and
    what the mesh says (``mesh_masks``, the registry's ``levels`` per port, sampled ``values``)."""
    try:
        access = load_access(product.folder, shown(product, product.folder / ACCESS_FILE))
        access_error = None
    except SpecError as exc:
        access, access_error = AccessSpec(), "; ".join(str(d) for d in exc.diagnostics) or exc.message
    return Subject(
        product, owner_team(product), access, access_error, mesh_masks or {}, levels or {}, values or {}
    )


def subject(ws: Workspace, product: ProductSpec, values: Samples | None = None) -> Subject:
    """What the rules look at for ``product`` in ``ws``: its team, masks, registry levels, ``values``."""
    levels = {
        port.name: ws.registry.level_of(odcs.value_subject(product.name, port.name))
        for port in product.output_ports
        if port.contract.compatibility is None
    }
    return local_subject(product, mesh_masks=ws.config.masks, levels=levels, values=values)


def govern(
    ws: Workspace,
    product: ProductSpec,
    rows: Mapping[str, engine.Relation] | None = None,
    sampled: str | None = None,
    temp_dir: Path | None = None,
) -> GovernanceReport:
    """Check ``product`` against the mesh's rules, sampling ``rows`` (port -> relation) if given."""
    values = sample_values(product, rows, temp_dir) if rows else {}
    at = datetime.now(UTC)
    return check(subject(ws, product, values), ws.config.governance, sampled if rows else None, at)


def latest_rows(ws: Workspace, product: ProductSpec) -> tuple[dict[str, engine.Relation], str | None]:
    """The ports of the product's latest published version, and ``version N``; nothing if none."""
    latest = ws.metadata.latest_version(product.name)
    if latest is None:
        return {}, None
    rows = {port: ws.relation(state) for port, state in latest.ports.items()}
    return rows, f"version {latest.version}"


__all__ = [
    "RULES",
    "Finding",
    "GovernanceReport",
    "Issue",
    "Rule",
    "RuleResult",
    "Subject",
    "check",
    "govern",
    "latest_rows",
    "local_subject",
    "name_kind",
    "personal_data",
    "sample_values",
    "subject",
    "value_kind",
]
