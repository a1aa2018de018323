"""Load a product folder into a :class:`ProductSpec`, reporting every problem at once.

A product folder holds ``dataproduct.yaml`` (ODPS v1.1), one
``contracts/<port>.odcs.yaml`` (ODCS v3.2) per output port and, usually, its
transformation. Checking happens in layers, all of which run even when an
earlier one found problems, so one ``daap validate`` shows everything:

1. the ODPS shape (:mod:`daap.spec.odps`), with typo suggestions;
2. daap's settings and input sources (:mod:`daap.spec.settings`,
   :mod:`daap.spec.sources`);
3. names, duplicates, and what raw and derived products may do;
4. each output port's contract (:mod:`daap.spec.contract`).

The parts are read leniently from the raw data: a part whose shape layer 1
already reported is skipped, not reported twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daap.errors import Diagnostic, SpecError
from daap.spec.contract import contract_path, load_contract
from daap.spec.diagnose import check_identifier, validate
from daap.spec.model import InputPortSpec, OutputPortSpec, ProductSource, ProductSpec
from daap.spec.odps import DataProduct
from daap.spec.settings import Settings, read_settings
from daap.spec.sources import read_source
from daap.spec.yamlpos import Loc, YamlDoc, load_yaml

DESCRIPTOR = "dataproduct.yaml"
DEFAULT_VERSION = "0.1.0"


def load_product(folder: Path) -> ProductSpec:
    """Read, validate and resolve the product in ``folder``.

    Raises:
        SpecError: listing every problem in the descriptor and all contracts,
            each at its file, line and column.
    """
    root = folder.resolve()
    if not (root / DESCRIPTOR).is_file():
        raise SpecError(
            [Diagnostic(str(folder / DESCRIPTOR), 0, 0, "file not found")],
            hint=f"{folder} is not a product folder; 'daap init' creates one",
        )
    doc = load_yaml(root / DESCRIPTOR, str(folder / DESCRIPTOR))
    validate(DataProduct, doc)
    _require(doc)
    settings = read_settings(doc, root)
    inputs = _input_ports(doc)
    outputs, problems = _output_ports(doc, folder, root)
    _check_type(doc, settings, inputs)
    problems.extend(doc.diagnostics)
    if problems:
        raise SpecError(problems)
    return _spec(doc, root, settings, inputs, outputs)


def _require(doc: YamlDoc) -> None:
    """What daap needs beyond the ODPS required fields."""
    for key in ("name", "status"):
        if doc.get((key,)) is None:
            doc.report((key,), f"missing required field '{key}'", at="key")
    for key, why in (("inputPorts", "to get data from"), ("outputPorts", "to serve data")):
        ports = doc.get((key,))
        if ports is None:
            doc.report((key,), f"missing required field '{key}': a product needs a port {why}")
        elif ports == []:
            doc.report((key,), f"'{key}' is empty: a product needs a port {why}", at="key")
    name = doc.get(("name",))
    if isinstance(name, str):
        check_identifier(doc, ("name",), "product name", name)


def _named_ports(doc: YamlDoc, key: str, what: str) -> list[tuple[Loc, str, bool]]:
    """``(loc, name, repeated)`` of each well-named port; reports bad and repeated names."""
    ports = doc.get((key,))
    first: dict[str, Loc] = {}
    named: list[tuple[Loc, str, bool]] = []
    for index, port in enumerate(ports if isinstance(ports, list) else []):
        name = port.get("name") if isinstance(port, dict) else None
        loc: Loc = (key, index)
        if not isinstance(name, str) or not check_identifier(doc, (*loc, "name"), what, name):
            continue
        if name in first:
            line = doc.position((*first[name], "name"))[0]
            doc.report((*loc, "name"), f"duplicate {what} '{name}' (first at line {line})")
        named.append((loc, name, name in first))
        first.setdefault(name, loc)
    return named


def _input_ports(doc: YamlDoc) -> list[tuple[Loc, InputPortSpec]]:
    """Each input port with the loc of its source value."""
    inputs = []
    for loc, name, _ in _named_ports(doc, "inputPorts", "input port"):
        found = read_source(doc, loc)
        if found is not None and found.source is not None:
            inputs.append((found.loc, InputPortSpec(name, found.source, found.description)))
    return inputs


def _output_ports(doc: YamlDoc, folder: Path, root: Path) -> tuple[list[OutputPortSpec], list[Diagnostic]]:
    """Each output port with its contract; contract problems are returned, not raised."""
    outputs, problems = [], []
    for loc, name, repeated in _named_ports(doc, "outputPorts", "output port"):
        if repeated:
            continue  # its contract is checked once, for the first port of that name
        try:
            port = _output_port(doc, loc, name, folder, root)
        except SpecError as exc:
            problems.extend(exc.diagnostics)
            continue
        if port is not None:
            outputs.append(port)
    return outputs, problems


def _output_port(doc: YamlDoc, loc: Loc, name: str, folder: Path, root: Path) -> OutputPortSpec | None:
    """The port and its contract; ``None`` if the contract file is missing.

    Raises:
        SpecError: the contract's own problems.
    """
    shown = contract_path(folder, name)
    if not contract_path(root, name).is_file():
        expected = shown.relative_to(folder).as_posix()
        doc.report((*loc, "name"), f"no contract for output port '{name}': expected {expected}")
        return None
    contract = load_contract(contract_path(root, name), name, str(shown))
    contract_id = doc.get((*loc, "contractId"))
    if isinstance(contract_id, str) and contract_id != contract.id:
        doc.report(
            (*loc, "contractId"),
            f"contractId {contract_id!r} differs from the id {contract.id!r} in {shown}",
        )
    description, version = doc.get((*loc, "description")), doc.get((*loc, "version"))
    return OutputPortSpec(name, contract, _text(description), _text(version))


def _check_type(doc: YamlDoc, settings: Settings, inputs: list[tuple[Loc, InputPortSpec]]) -> None:
    """What each product type may do with its inputs and transformation."""
    if settings.type_invalid:
        return
    given = settings.transformation_loc is not None
    if settings.product_type == "derived" and not given:
        doc.report(
            settings.product_type_loc or (),
            "a derived product needs a transformation: add the custom property "
            "'transformation' (transform.sql or transform.py:function)",
        )
    if settings.product_type != "raw":
        return
    ports = doc.get(("inputPorts",))
    if not given and isinstance(ports, list) and len(ports) > 1:
        doc.report(
            ("inputPorts",),
            f"a raw product without a transformation publishes its one input port as is, "
            f"but this one has {len(ports)}: add a transformation",
            at="key",
        )
    for loc, port in inputs:
        if isinstance(port.source, ProductSource):
            doc.report(
                loc,
                f"raw products are source-aligned and cannot read product port "
                f"'{port.source.ref}'; use productType: derived to build on other products",
            )


def _spec(
    doc: YamlDoc,
    root: Path,
    settings: Settings,
    inputs: list[tuple[Loc, InputPortSpec]],
    outputs: list[OutputPortSpec],
) -> ProductSpec:
    data = doc.data
    description = data.get("description") or {}
    team = data.get("team") or {}
    return ProductSpec(
        folder=root,
        descriptor_path=root / DESCRIPTOR,
        id=data["id"],
        name=data["name"],
        version=data.get("version") or DEFAULT_VERSION,
        status=data["status"],
        domain=data.get("domain"),
        product_type=settings.product_type,
        input_ports=tuple(port for _, port in inputs),
        output_ports=tuple(outputs),
        transformation=settings.transformation,
        purpose=description.get("purpose"),
        usage=_text(description.get("usage")),
        limitations=_text(description.get("limitations")),
        business_objective=settings.business_objective,
        consumer_personas=settings.personas,
        team=team.get("name"),
        tags=tuple(data.get("tags") or ()),
        retention=settings.retention,
        queries=settings.queries,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
