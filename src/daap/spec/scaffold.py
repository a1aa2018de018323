"""Files ``daap init`` writes: a product folder that builds as it stands.

Pure: returns relative path -> text; the CLI writes them. Only the types
daap can build are scaffolded; the others are refused with the reason.
"""

from __future__ import annotations

import uuid

from daap.errors import SpecError
from daap.spec.model import IDENTIFIER, SUPPORTED_TYPES

_SAMPLE_CSV = """\
order_id,customer_id,country,amount,ordered_at
1001,c-001,NL,19.90,2026-01-05 09:12:00
1002,c-002,DE,5.00,2026-01-05 10:40:00
1003,c-001,NL,42.50,2026-01-06 16:03:00
1004,c-003,FR,12.25,2026-01-07 08:55:00
1005,c-002,DE,7.75,2026-01-07 19:21:00
"""

_DESCRIPTOR = """\
# Bitol Open Data Product Standard (ODPS) v1.1 — see docs/reference/descriptor.md
apiVersion: v1.1.0
kind: DataProduct
id: {id}
name: {name}
version: 0.1.0
status: draft
domain: {domain}
description:
  purpose: {purpose}
team:
  name: {domain}-team
  members:
    - username: owner
      role: owner
inputPorts:
  - name: orders
    version: 0.1.0
    customProperties:
      - property: source
        value:
          path: data/*.csv
          format: csv
outputPorts:
  - name: {name}
    version: 0.1.0
    type: tables
    description: {port_description}
customProperties:
  - property: productType
    value: {product_type}
  - property: businessObjective
    value: {objective}
  - property: consumerPersonas
    value:
      - name: analyst
        description: answers business questions with SQL and BI tools
        skills: [sql]
{transformation}"""

_TRANSFORMATION = """\
  - property: transformation
    value:
      sql: transform.sql
"""

_DERIVED_SQL = """\
-- Each input port is a table by its name. The last query is the output port.
SELECT
    country,
    count(*)              AS orders,
    sum(amount)           AS revenue,
    max(ordered_at)       AS last_order_at
FROM orders
GROUP BY country
"""

_RAW_CONTRACT = """\
# Bitol Open Data Contract Standard (ODCS) v3.2 — the promise of output port {name}
apiVersion: v3.2.0
kind: DataContract
id: {name}-{name}
name: {name}
version: 0.1.0
status: draft
schema:
  - name: {name}
    logicalType: object
    properties:
      - name: order_id
        logicalType: integer
        primaryKey: true
        primaryKeyPosition: 1
        required: true
      - name: customer_id
        logicalType: string
        required: true
        classification: restricted
      - name: country
        logicalType: string
      - name: amount
        logicalType: number
        physicalType: decimal(10,2)
      - name: ordered_at
        logicalType: timestamp
"""

_DERIVED_CONTRACT = """\
# Bitol Open Data Contract Standard (ODCS) v3.2 — the promise of output port {name}
apiVersion: v3.2.0
kind: DataContract
id: {name}-{name}
name: {name}
version: 0.1.0
status: draft
schema:
  - name: {name}
    logicalType: object
    properties:
      - name: country
        logicalType: string
        primaryKey: true
        primaryKeyPosition: 1
      - name: orders
        logicalType: integer
        required: true
      - name: revenue
        logicalType: number
        physicalType: decimal(12,2)
      - name: last_order_at
        logicalType: timestamp
"""


def scaffold(name: str, product_type: str, domain: str | None) -> dict[str, str]:
    """The files of a new ``product_type`` product called ``name``.

    Raises:
        SpecError: ``name`` is not an identifier or the type cannot be built yet.
    """
    if not IDENTIFIER.match(name):
        fixed = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
        raise SpecError.single(name, f"product name {name!r} must match {IDENTIFIER.pattern}; try {fixed!r}")
    if product_type not in SUPPORTED_TYPES:
        raise SpecError.single(
            name,
            f"product type {product_type!r} is not supported yet: daap builds "
            f"{' and '.join(SUPPORTED_TYPES)} products for now",
        )
    derived = product_type == "derived"
    descriptor = _DESCRIPTOR.format(
        id=uuid.uuid4(),
        name=name,
        domain=domain or "sales",
        product_type=product_type,
        purpose="Revenue by country, for the sales team." if derived else "Every order as recorded.",
        port_description="one row per country" if derived else "one row per order",
        objective="Know where revenue comes from." if derived else "Make orders available to the mesh.",
        transformation=_TRANSFORMATION if derived else "",
    )
    files = {
        "dataproduct.yaml": descriptor,
        f"contracts/{name}.odcs.yaml": (_DERIVED_CONTRACT if derived else _RAW_CONTRACT).format(name=name),
        "data/orders.csv": _SAMPLE_CSV,
    }
    if derived:
        files["transform.sql"] = _DERIVED_SQL
    return files
