"""The mesh workspace: its optional ``mesh.yaml`` and the product folders in it.

A workspace is a folder with one sub-folder per product and, optionally, a
``mesh.yaml`` at its root choosing shared backends. State lives in
``<workspace>/.daap`` unless ``DAAP_HOME`` says otherwise. Settings resolve
in layers: built-in defaults, then ``mesh.yaml``, then the environment::

    name: streaming-media
    metadata: postgresql://daap@db/daap     # default: sqlite (in the home)
    warehouse: /data/warehouse              # default: <home>/warehouse
    backbone: nats://127.0.0.1:4222         # default: embedded (in the metadata database)
    eventFormat: json                       # default: avro (the Confluent wire format)
    openlineage: {transport: none}          # default: file (<home>/openlineage/events.ndjson)
    principals:                             # who may use the mesh (also: daap principal add)
      - {name: ana, kind: person, roles: [analyst], domain: content,
         purposes: [marketing], attributes: {region: EU}}
    governance:                             # the global rules' severities, over the defaults
      rules: {descriptions: off, personal-data-classified: error}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from daap.errors import ConfigError, SpecError
from daap.spec.access import check_masks
from daap.spec.diagnose import suggest, validate
from daap.spec.product import DESCRIPTOR
from daap.spec.yamlpos import YamlDoc, load_yaml

MESH_FILE = "mesh.yaml"
HOME_VARIABLE = "DAAP_HOME"
MEMORY_VARIABLE = "DAAP_BUILD_MEMORY"
#: the engine's size syntax: 512MB, 4GB, 1.5GiB
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
#: folders never searched for products, besides hidden ones
SKIPPED = frozenset({"node_modules", "__pycache__"})
#: accepted spellings of a PostgreSQL URL scheme; all are stored as ``postgresql``
POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


@dataclass(frozen=True)
class OpenLineageConfig:
    """Where builds send their OpenLineage run events (see :mod:`daap.mesh.observe.lineage`)."""

    #: ``file``: one JSON line per event appended to ``path``; ``http``: each event POSTed to
    #: ``url`` + ``endpoint`` (Marquez's API); ``none``: nowhere
    transport: Literal["file", "http", "none"] = "file"
    #: the file transport's file; None means ``<home>/openlineage/events.ndjson``
    path: Path | None = None
    #: the http transport's server, e.g. ``http://127.0.0.1:5000``
    url: str | None = None
    endpoint: str = "api/v1/lineage"
    #: seconds to wait for the server, per event
    timeout: float = 5.0


#: a principal's name: it is also a PostgreSQL user name, so plain and short
PRINCIPAL_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
PRINCIPAL_KINDS = ("person", "service")
#: the principal of a request without credentials (reserved: nobody may be declared so)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class PrincipalSpec:
    """A person or service that uses the mesh: roles, a domain, purposes of use, attributes."""

    name: str
    kind: Literal["person", "service", "anonymous"] = "person"
    roles: tuple[str, ...] = ()
    domain: str | None = None
    purposes: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: where it is declared: ``mesh.yaml`` or ``daap principal add``
    source: str = "mesh.yaml"


#: the global governance rules daap ships (see :mod:`daap.mesh.policy.governance`)
GOVERNANCE_RULES: tuple[str, ...] = (
    "owner-team",
    "business-objective",
    "consumer-personas",
    "contract-primary-key",
    "descriptions",
    "quality-rule",
    "freshness-sla",
    "personal-data-classified",
    "classified-masked",
    "compatibility-backward",
)
#: what a rule's finding does: ``error`` refuses the build, ``warning`` reports, ``off`` skips the rule
GOVERNANCE_SEVERITIES: tuple[str, ...] = ("error", "warning", "off")


@dataclass(frozen=True)
class GovernanceConfig:
    """``governance:`` in ``mesh.yaml``: each rule's severity, where it differs from the default."""

    #: rule id -> ``error``, ``warning`` or ``off``
    rules: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MeshConfig:
    """Where the mesh keeps its state, resolved from defaults, mesh.yaml and env.

    ``metadata_url`` is ``sqlite:///<path>`` or ``postgresql://...``;
    ``catalog_url`` is the SQLAlchemy URL of the Iceberg SQL catalog, in the
    same database as the metadata when that is PostgreSQL.
    """

    workspace: Path
    home: Path
    metadata_url: str
    catalog_url: str
    warehouse: Path
    name: str | None = None
    #: the engine's memory limit in builds; past it, work spills to ``<home>/tmp``
    build_memory: str = "4GB"
    #: where change events go: ``sqlite:///...`` (embedded), ``nats://...`` or ``kafka://...``
    backbone_url: str = ""
    #: how change events are encoded on the backbone: ``avro`` or ``jsonschema`` (the Confluent
    #: wire format with Avro or JSON Schema) or plain ``json``
    event_format: str = "avro"
    #: where each build's OpenLineage run events go
    openlineage: OpenLineageConfig = OpenLineageConfig()
    #: the principals ``mesh.yaml`` declares
    principals: tuple[PrincipalSpec, ...] = ()
    #: classification -> mask for every product (``masks:``), over the built-ins
    masks: Mapping[str, str] = field(default_factory=dict)
    #: the severities of the global governance rules (``governance:``)
    governance: GovernanceConfig = GovernanceConfig()


class OpenLineageFile(BaseModel):
    """``openlineage:`` in ``mesh.yaml``: ``{transport: file, path: ...}`` or ``{transport: none}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transport: Literal["file", "http", "none"] = "file"
    path: str | None = None
    url: str | None = None
    endpoint: str = "api/v1/lineage"
    timeout: float = 5.0


class PrincipalFile(BaseModel):
    """One entry of ``principals:`` in ``mesh.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["person", "service"] = "person"
    roles: list[str] = []
    domain: str | None = None
    purposes: list[str] = []
    attributes: dict[str, str] = {}


class GovernanceFile(BaseModel):
    """``governance:`` in ``mesh.yaml``: ``{rules: {<rule id>: error | warning | off}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[str, Any] = {}


class MeshFile(BaseModel):
    """The fields of ``mesh.yaml`` (backbone, principals, policies come later)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    metadata: str = "sqlite"
    warehouse: str | None = None
    buildMemory: str | None = None
    backbone: str | None = None
    eventFormat: Literal["avro", "jsonschema", "json"] = "avro"
    openlineage: OpenLineageFile | None = None
    principals: list[PrincipalFile] = []
    #: classification -> mask, over the built-ins (see :mod:`daap.spec.access`)
    masks: dict[str, Any] = {}
    governance: GovernanceFile | None = None


def load_mesh_config(workspace: Path, env: Mapping[str, str] | None = None) -> MeshConfig:
    """Resolve the workspace's configuration.

    Args:
        workspace: the mesh folder; ``mesh.yaml`` in it is optional.
        env: environment variables (``os.environ`` if not given).

    Raises:
        SpecError: ``mesh.yaml`` is invalid (every problem, positioned).
    """
    env = os.environ if env is None else env
    root = workspace.resolve()
    home = _home(root, env)
    doc = _mesh_doc(root, workspace)
    settings = (validate(MeshFile, doc) if doc else None) or MeshFile()
    metadata = _metadata_url(doc, home)
    memory = _build_memory(doc, env, settings.buildMemory)
    backbone = _backbone_url(doc, metadata, home)
    openlineage = _openlineage(doc, root, settings.openlineage)
    principals = _principals(doc, settings.principals)
    masks = check_masks(doc, ("masks",), settings.masks) if doc is not None else {}
    governance = _governance(doc, settings.governance)
    if doc is not None and doc.diagnostics:
        raise SpecError(doc.diagnostics)
    return MeshConfig(
        workspace=root,
        home=home,
        metadata_url=metadata,
        catalog_url=_catalog_url(metadata, home),
        warehouse=_warehouse(root, home, settings.warehouse),
        name=settings.name,
        build_memory=memory,
        backbone_url=backbone,
        event_format=settings.eventFormat,
        openlineage=openlineage,
        principals=principals,
        masks=masks,
        governance=governance,
    )


def find_products(workspace: Path) -> list[Path]:
    """Every folder under ``workspace`` holding a ``dataproduct.yaml``, sorted.

    Hidden folders (``.daap``, ``.git``, ``.venv``) and ``node_modules`` are
    not searched: they hold state and tooling, never products.
    """
    found = []
    for folder, subfolders, files in os.walk(workspace):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in SKIPPED]
        if DESCRIPTOR in files:
            found.append(Path(folder))
    return sorted(found)


def _home(root: Path, env: Mapping[str, str]) -> Path:
    value = env.get(HOME_VARIABLE)
    home = Path(value).expanduser().absolute() if value else root / ".daap"
    if home.exists() and not home.is_dir():
        source = f"{HOME_VARIABLE}={value}" if value else str(home)
        raise ConfigError(f"{source} is not a folder", hint="daap keeps the mesh's state in that folder")
    return home


def _mesh_doc(root: Path, workspace: Path) -> YamlDoc | None:
    """The parsed ``mesh.yaml``; a missing file, or one with only comments, means defaults."""
    path = root / MESH_FILE
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        return None
    return load_yaml(path, str(workspace / MESH_FILE))


def _metadata_url(doc: YamlDoc | None, home: Path) -> str:
    """``sqlite`` → a file in the home; a PostgreSQL URL → itself, normalised."""
    value = doc.get(("metadata",), "sqlite") if doc else "sqlite"
    sqlite = f"sqlite:///{home / 'metadata.db'}"
    if value == "sqlite" or not isinstance(value, str):
        return sqlite  # a non-string was reported by the MeshFile model
    for scheme in POSTGRES_SCHEMES:
        if value.startswith(scheme) and len(value) > len(scheme):
            return "postgresql://" + value[len(scheme) :]
    assert doc is not None
    doc.report(("metadata",), f"metadata must be 'sqlite' or a postgresql:// URL, got {value!r}")
    return sqlite


#: backbone URL schemes ``mesh.yaml`` accepts besides ``embedded``
BACKBONE_SCHEMES = ("sqlite://", "nats://", "kafka://")


def _backbone_url(doc: YamlDoc | None, metadata: str, home: Path) -> str:
    """``embedded`` → the metadata database when it is SQLite (else a file in the home);
    a ``nats://``, ``kafka://`` or ``sqlite:///abs/path`` URL → itself."""
    value = doc.get(("backbone",), "embedded") if doc else "embedded"
    embedded = metadata if metadata.startswith("sqlite://") else f"sqlite:///{home / 'backbone.db'}"
    if value == "embedded" or not isinstance(value, str):
        return embedded  # a non-string was reported by the MeshFile model
    if value.startswith(BACKBONE_SCHEMES) and len(value.split("://", 1)[1]) > 0:
        return value
    assert doc is not None
    doc.report(
        ("backbone",),
        f"backbone must be 'embedded', a nats:// or kafka:// URL, or sqlite:///abs/path, got {value!r}",
    )
    return embedded


def _openlineage(doc: YamlDoc | None, root: Path, value: OpenLineageFile | None) -> OpenLineageConfig:
    """``{transport: file}`` writes to ``path`` (relative to the workspace) or a file in the home."""
    if value is None:
        return OpenLineageConfig()
    assert doc is not None
    if value.transport == "http":
        return _openlineage_http(doc, value)
    if value.url is not None:
        doc.report(
            ("openlineage", "url"),
            f"openlineage url is only read with transport: http, not {value.transport!r}",
        )
    if value.path is not None and value.transport != "file":
        doc.report(
            ("openlineage", "path"),
            f"openlineage path is only read with transport: file, not {value.transport!r}",
        )
    elif value.path is not None and not value.path.strip():
        doc.report(
            ("openlineage", "path"),
            "openlineage path is empty (leave it out for <home>/openlineage/events.ndjson)",
        )
    elif value.path is not None:
        return OpenLineageConfig(value.transport, root / Path(value.path).expanduser())
    return OpenLineageConfig(value.transport)


def _openlineage_http(doc: YamlDoc, value: OpenLineageFile) -> OpenLineageConfig:
    """``{transport: http, url: http://host:5000}``: a server that takes ``POST /api/v1/lineage``."""
    if value.url is None or not value.url.startswith(("http://", "https://")):
        shown = "missing" if value.url is None else repr(value.url)
        doc.report(
            ("openlineage", "url"),
            f"openlineage transport http needs a url like http://127.0.0.1:5000, got {shown}",
        )
    if value.path is not None:
        doc.report(("openlineage", "path"), "openlineage path is only read with transport: file, not 'http'")
    if not value.timeout > 0:
        doc.report(
            ("openlineage", "timeout"),
            f"openlineage timeout must be a positive number of seconds, got {value.timeout}",
        )
    return OpenLineageConfig("http", url=value.url, endpoint=value.endpoint.strip("/"), timeout=value.timeout)


def _principals(doc: YamlDoc | None, entries: list[PrincipalFile]) -> tuple[PrincipalSpec, ...]:
    """Each declared principal; bad names and names given twice are reported where they are."""
    found: dict[str, PrincipalSpec] = {}
    for index, entry in enumerate(entries):
        assert doc is not None
        where = ("principals", index, "name")
        if not PRINCIPAL_NAME.match(entry.name):
            rule = "lowercase letters, digits, _ . - (start with a letter, at most 63 characters)"
            doc.report(where, f"principal name {entry.name!r} must be {rule}")
        elif entry.name == ANONYMOUS:
            doc.report(where, f"the principal name {ANONYMOUS!r} is reserved for requests without a token")
        elif entry.name in found:
            doc.report(where, f"principal {entry.name!r} is declared twice")
        else:
            found[entry.name] = PrincipalSpec(
                entry.name,
                entry.kind,
                tuple(entry.roles),
                entry.domain,
                tuple(entry.purposes),
                dict(entry.attributes),
            )
    return tuple(found.values())


def _governance(doc: YamlDoc | None, value: GovernanceFile | None) -> GovernanceConfig:
    """Each rule's severity; unknown rules and severities are reported where they are."""
    if value is None:
        return GovernanceConfig()
    assert doc is not None
    found: dict[str, str] = {}
    for rule, severity in value.rules.items():
        loc = ("governance", "rules", rule)
        if rule not in GOVERNANCE_RULES:
            doc.report(
                loc,
                f"unknown governance rule {rule!r}{suggest(rule, GOVERNANCE_RULES)} "
                f"(rules: {', '.join(GOVERNANCE_RULES)})",
                at="key",
            )
            continue
        # YAML 1.1 readers take a bare `off` for false; say what was meant
        shown = "off" if severity is False else severity
        if not isinstance(shown, str) or shown.lower() not in GOVERNANCE_SEVERITIES:
            doc.report(
                loc,
                f"governance rule {rule!r}: unknown severity {shown!r}"
                f"{suggest(str(shown), GOVERNANCE_SEVERITIES)} (one of {', '.join(GOVERNANCE_SEVERITIES)})",
            )
            continue
        found[rule] = shown.lower()
    return GovernanceConfig(found)


def _build_memory(doc: YamlDoc | None, env: Mapping[str, str], value: str | None) -> str:
    """``DAAP_BUILD_MEMORY`` over ``buildMemory`` over a quarter of the machine's memory."""
    if env.get(MEMORY_VARIABLE):
        chosen = env[MEMORY_VARIABLE].strip()
        if not _SIZE.match(chosen):
            raise ConfigError(
                f"{MEMORY_VARIABLE}={chosen!r} is not a size", hint="write it like 512MB, 4GB or 1.5GiB"
            )
        return chosen
    if value is not None:
        if _SIZE.match(value.strip()):
            return value.strip()
        assert doc is not None
        doc.report(("buildMemory",), f"buildMemory {value!r} is not a size (write it like 512MB or 4GB)")
    return _quarter_of_memory()


def _quarter_of_memory() -> str:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "4GB"
    return f"{max(total // 4 // 2**20, 256)}MB"


def _catalog_url(metadata: str, home: Path) -> str:
    """The Iceberg catalog shares PostgreSQL with the metadata, else its own SQLite file."""
    if metadata.startswith("postgresql://"):
        return "postgresql+psycopg://" + metadata.removeprefix("postgresql://")
    return f"sqlite:///{home / 'catalog.db'}"


def _warehouse(root: Path, home: Path, value: str | None) -> Path:
    if value is None:
        return home / "warehouse"
    return root / Path(value).expanduser()
