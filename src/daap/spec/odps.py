"""Typed models of the Bitol Open Data Product Standard (ODPS) v1.1 descriptor.

Field names, nesting and required fields follow the official JSON schema
(``schema/odps-json-schema-v1.1.0.json`` in bitol-io/open-data-product-standard);
like it, every object forbids fields it does not define, which is how a typo
such as ``ouputPorts`` is caught. These models check the *shape* of a
``dataproduct.yaml``; what daap makes of it (names, sources, the
transformation) is :mod:`daap.spec.product`'s job.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthoritativeDefinition(_Strict):
    id: str | None = None
    type: str
    url: str
    description: str | None = None


class CustomProperty(_Strict):
    id: str | None = None
    property: str
    value: Any
    description: str | None = None


class Synonym(_Strict):
    id: str | None = None
    synonym: str
    description: str | None = None
    locale: str | None = None
    source: str | None = None
    status: str | None = None
    customProperties: list[CustomProperty] | None = None


class _Element(_Strict):
    """Fields most ODPS objects share."""

    id: str | None = None
    tags: list[str] | None = None
    customProperties: list[CustomProperty] | None = None
    authoritativeDefinitions: list[AuthoritativeDefinition] | None = None


class VerifiedStatement(_Element):
    question: str
    answer: str | None = None


class Constraint(_Element):
    constraint: str


class Context(_Strict):
    """AI and semantic guidance (RFC-0038), at product and output-port level."""

    instructions: str | None = None
    verifiedStatements: list[VerifiedStatement] | None = None
    constraints: list[Constraint] | None = None


class Description(_Strict):
    purpose: str | None = None
    limitations: str | None = None
    usage: str | None = None
    authoritativeDefinitions: list[AuthoritativeDefinition] | None = None
    customProperties: list[CustomProperty] | None = None


class InputPort(_Element):
    deprecated: bool = False
    name: str
    version: str | None = None
    contractId: str | None = None


class SBOM(_Strict):
    id: str | None = None
    type: str = "external"
    url: str | None = None


class InputContract(_Strict):
    id: str
    version: str


class OutputPort(_Element):
    deprecated: bool = False
    name: str
    description: str | None = None
    type: str | None = None
    version: str | None = None
    contractId: str | None = None
    sbom: list[SBOM] | None = None
    inputContracts: list[InputContract] | None = None
    synonyms: list[Synonym] | None = None
    context: Context | None = None


class ManagementPort(_Element):
    deprecated: bool = False
    name: str
    content: str
    type: str = "rest"
    url: str | None = None
    channel: str | None = None
    description: str | None = None


class Support(_Element):
    channel: str
    url: str
    description: str | None = None
    tool: str | None = None
    scope: str | None = None
    invitationUrl: str | None = None


class TeamMember(_Element):
    username: str
    name: str | None = None
    description: str | None = None
    role: str | None = None
    dateIn: str | None = None
    dateOut: str | None = None
    replacedByUsername: str | None = None


class Team(_Strict):
    name: str | None = None
    description: str | None = None
    members: list[TeamMember] | None = None
    tags: list[str] | None = None
    customProperties: list[CustomProperty] | None = None
    authoritativeDefinitions: list[AuthoritativeDefinition] | None = None


class DataProduct(_Strict):
    """The whole ``dataproduct.yaml``."""

    apiVersion: Literal["v1.1.0", "v1.0.0", "v0.9.0"]
    kind: Literal["DataProduct"]
    id: str
    name: str | None = None
    deprecated: bool = False
    synonyms: list[Synonym] | None = None
    version: str | None = None
    status: str | None = None
    domain: str | None = None
    type: str | None = None
    context: Context | None = None
    tenant: str | None = None
    authoritativeDefinitions: list[AuthoritativeDefinition] | None = None
    description: Description | None = None
    customProperties: list[CustomProperty] | None = None
    tags: list[str] | None = None
    inputPorts: list[InputPort] | None = None
    outputPorts: list[OutputPort] | None = None
    managementPorts: list[ManagementPort] | None = None
    support: list[Support] | None = None
    team: Team | None = None
    productCreatedTs: str | None = None
