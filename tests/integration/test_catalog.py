"""The central catalog as the platform feeds it: builds register, search ranks and filters by
permission, a product page shows samples through the query path, deleted products are marked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import httpx
import pytest

from daap.mesh.policy.authn import Authenticator
from daap.mesh.policy.identity import Identities
from daap.query.service import QueryService
from fixtures.http import run_pasted, serve_every_port

ORDERS = "id,customer,email,amount\n1,c1,a@x.eu,10\n2,c2,b@x.us,20\n3,c1,a@x.eu,5\n"


def shop(mesh, principals: bool = False):
    if principals:
        (mesh.root / "mesh.yaml").write_text(
            "principals:\n  - {name: ana, roles: [analyst]}\n  - {name: dan, roles: [intern]}\n"
        )
    orders = mesh.product(
        "orders",
        [("id", "integer", {"description": "the order number"}), ("customer", "string"),
         ("email", "string", {"classification": "pii"}), ("amount", "number")],
        pk=["id"], inputs={"s": {"path": "d.csv"}}, files={"d.csv": ORDERS},
    )  # fmt: skip
    descriptor = json.loads((orders / "dataproduct.yaml").read_text())
    descriptor["tags"] = ["sales", "orders"]
    descriptor["description"] = {"purpose": "Every order of the web shop, as it was placed."}
    descriptor["customProperties"].append(
        {"property": "businessObjective", "value": "Know revenue per customer, daily."}
    )
    (orders / "dataproduct.yaml").write_text(json.dumps(descriptor))
    grant = (
        'permit(principal, action == Daap::Action::"read", resource) '
        'when {{ principal.roles.contains("{}") }};\n'
    )
    (orders / "access.cedar").write_text(grant.format("analyst") + grant.format("product"))
    mesh.product(
        "revenue",
        [("customer", "string"), ("total", "number")],
        pk=["customer"], product_type="derived", inputs={"orders": "orders.orders"},
        transform="SELECT customer, sum(amount) AS total FROM orders GROUP BY customer",
    )  # fmt: skip
    mesh.build_ok()
    return orders


def test_builds_register_products_and_search_ranks_and_facets(mesh):
    shop(mesh)
    ws = mesh.workspace()
    try:
        page = ws.metadata.search_catalog("revenue")
        assert next(h.entry.name for h in page.items) == "revenue"  # its name beats orders' objective
        assert {h.entry.name for h in page.items} == {"revenue", "orders"}
        orders = ws.metadata.catalog_entry("orders")
        assert orders is not None and orders.latest_version == 1 and orders.classifications == ("pii",)
        assert orders.business_objective == "Know revenue per customer, daily." and "sales" in orders.tags
        revenue = ws.metadata.catalog_entry("revenue")
        assert revenue is not None and revenue.document["upstream"] == ["orders.orders"]
        assert dict(ws.metadata.search_catalog(None).facets["product_type"]) == {"raw": 1, "derived": 1}
        assert ws.metadata.search_catalog('"orders" OR (*').total >= 1  # FTS syntax is just text
    finally:
        ws.close()


def test_a_deleted_product_is_marked_not_forgotten(mesh):
    shop(mesh)
    shutil.rmtree(mesh.root / "revenue")
    mesh.build_ok()
    ws = mesh.workspace()
    try:
        gone = ws.metadata.catalog_entry("revenue")
        assert gone is not None and gone.status == "deleted"
        assert [
            h.entry.name for h in ws.metadata.search_catalog(None, facets={"status": ["deleted"]}).items
        ] == ["revenue"]
    finally:
        ws.close()


@pytest.fixture
def served(mesh):
    shop(mesh, principals=True)
    ws = mesh.workspace()
    ids = Identities(ws)
    tokens = {n: ids.create_token(n)[1] for n in ("ana", "dan")}
    service = QueryService(ws)
    service.enforce_policies()
    try:
        with serve_every_port(service, Authenticator.for_workspace(ws)) as ports:
            yield {"tokens": tokens, **ports}
    finally:
        ws.close()


def get(served: dict[str, Any], who: str, path: str, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {served['tokens'][who]}"}
    return httpx.get(f"{served['url']}/api{path}", headers=headers, params=params)


def test_the_discovery_port_filters_by_permission_and_samples_through_the_query_path(served):
    found = get(served, "ana", "/products", q="order").json()
    assert [i["name"] for i in found["items"]] == ["orders"] and found["total"] == 1
    by_email = get(served, "ana", "/products", q="emails").json()["items"][0]["snippet"]  # plural: email
    start, end = by_email["spans"][0]
    assert by_email["text"][start:end] == "email"  # where it matched, for the UI to mark
    assert found["facets"]["domain"] == {"test": 1}
    assert get(served, "dan", "/products", q="order").json()["total"] == 0
    page = get(served, "ana", "/products/orders").json()
    assert page["business_objective"] == "Know revenue per customer, daily."
    samples = page["samples"]["orders"]["rows"]
    assert len(samples) == 3 and all(r["email"] == "***" for r in samples)  # pii: redacted for ana
    assert page["lineage"] == {"upstream": ["file:d.csv"], "downstream": []}  # ana may not discover revenue
    assert "orders.orders" in page["connect"]["psql"] and "user=ana" in page["connect"]["psql"]
    contract = page["document"]["contracts"]["orders"]
    assert (contract["subject"], contract["schema_version"]) == ("daap.orders.orders-value", 1)
    assert contract["id"] and contract["version"]  # the ODCS contract's own id and version
    hidden = get(served, "dan", "/products/orders")
    unknown = get(served, "dan", "/products/nosuch")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["message"] == "no product 'orders'"
    assert get(served, "dan", "/lineage", node="orders").status_code == 404
    assert get(served, "ana", "/lineage", node="orders").json()["edges"] == [
        {"from": "file:orders/d.csv", "to": "orders"}
    ]  # revenue: ana may not discover it


def test_lineage_around_a_node_with_depth_capped_and_pages(mesh):
    shop(mesh)
    ws = mesh.workspace()
    service = QueryService(ws)
    try:
        with serve_every_port(service, Authenticator.for_workspace(ws)) as ports:
            url = f"{ports['url']}/api/lineage"
            one = httpx.get(url, params={"node": "revenue"}).json()
            assert one["edges"] == [{"from": "orders", "to": "revenue"}] and one["depth"] == 1
            two = httpx.get(url, params={"node": "revenue", "depth": 2}).json()
            assert {"from": "file:orders/d.csv", "to": "orders"} in two["edges"] and two["total"] == 2
            deep = httpx.get(url, params={"node": "orders.orders", "depth": 10_000}).json()
            assert deep["capped"] and deep["depth"] == 10 and deep["total"] == 2
            first = httpx.get(url, params={"node": "orders", "limit": 1}).json()
            assert len(first["edges"]) == 1 and first["total"] == 2 and "offset=1" in first["next"]
            rest = httpx.get(first["next"]).json()
            assert rest["next"] is None and rest["edges"] != first["edges"]
            for bad, status in (
                ({"node": "nosuch"}, 404),
                ({"node": "file:nope"}, 404),
                ({"node": "orders", "depth": 0}, 422),
            ):
                assert httpx.get(url, params=bad).status_code == status
    finally:
        ws.close()


def test_the_cli_searches_shows_and_follows_impact(mesh):
    shop(mesh)

    def daap(*args: str) -> str:
        cmd = [sys.executable, "-m", "daap", "-w", str(mesh.root), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    assert "orders" in daap("catalog", "search", "web shop")
    shown = json.loads(daap("catalog", "show", "orders", "--json"))
    assert shown["downstream"] == ["revenue"] and shown["latest_version"] == 1
    impacted = json.loads(daap("catalog", "impact", "orders.orders.amount", "--json"))
    assert {(i["node"], i["kind"]) for i in impacted} >= {
        ("revenue", "product"),
        ("revenue.revenue.total", "derived"),
    }


def ol_event(job: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    """A run event as openlineage-python builds and serialises it."""
    import uuid

    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
    from openlineage.client.generated.base import EventType
    from openlineage.client.serde import Serde

    built = RunEvent(
        eventType=EventType.COMPLETE,
        eventTime="2026-11-24T10:00:00.000Z",
        producer="https://github.com/apache/airflow",
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="airflow", name=job),
        inputs=[InputDataset(namespace=n, name=d) for n, d in inputs],
        outputs=[OutputDataset(namespace=n, name=d) for n, d in outputs],
    )
    data: dict[str, Any] = Serde.to_dict(built)
    return data


BAD_EVENTS = [
    ("[]", "a JSON object, got a list"),
    ("{not json", "not JSON"),
    ('{"eventType": "DONE"}', "eventType must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"),
    ('{"eventType": "START", "eventTime": "yesterday"}', "eventTime must be an ISO 8601 time"),
    ('{"eventType": "START", "eventTime": "2026-11-24T10:00:00"}', "eventTime must have a time zone"),
]


def test_outside_jobs_post_openlineage_events_and_join_the_graph(mesh):
    shop(mesh)
    ws = mesh.workspace()
    service = QueryService(ws)
    try:
        with serve_every_port(service, Authenticator.for_workspace(ws)) as ports:
            sink, graph = f"{ports['url']}/api/v1/lineage", f"{ports['url']}/api/lineage"
            mesh_ns = f"daap://{mesh.root.name}"
            event = ol_event(
                "load_orders", [("postgres://shop-db", "public.orders")], [(mesh_ns, "orders.orders")]
            )
            posted = httpx.post(sink, json=event)
            assert posted.status_code == 201 and posted.json()["job"] == "job:airflow/load_orders"
            report = ol_event("weekly_report", [(mesh_ns, "revenue.revenue")], [("s3://bi", "weekly.csv")])
            assert httpx.post(sink, json=report).status_code == 201
            around = httpx.get(graph, params={"node": "orders", "depth": 3}).json()
            edges = {(e["from"], e["to"]) for e in around["edges"]}
            assert ("dataset:postgres://shop-db/public.orders", "job:airflow/load_orders") in edges
            assert ("job:airflow/load_orders", "orders") in edges and ("orders", "revenue") in edges
            assert ("revenue", "job:airflow/weekly_report") in edges
            assert ("job:airflow/weekly_report", "dataset:s3://bi/weekly.csv") in edges
            job = httpx.get(graph, params={"node": "job:airflow/load_orders"}).json()
            assert job["total"] == 2  # what it read and what it wrote

            before = len(ws.metadata.lineage_events(limit=1000))
            missing = {k: v for k, v in event.items() if k != "job"}
            wrong_run = {**event, "run": {"runId": "not-a-uuid"}}
            bad_input = {**event, "inputs": [{"namespace": "x"}]}
            bad = [
                *BAD_EVENTS,
                (json.dumps(missing), "job must be an object"),
                (json.dumps(wrong_run), "run.runId must be a UUID"),
                (json.dumps(bad_input), "inputs[0].name must be a non-empty string"),
            ]
            for body, message in bad:
                refused = httpx.post(sink, content=body, headers={"content-type": "application/json"})
                assert refused.status_code == 400 and message in refused.json()["error"]["message"], body
            huge = httpx.post(sink, content=b" " * (2 << 20), headers={"content-type": "application/json"})
            assert (
                huge.status_code == 400
                and "the most accepted is 1,048,576" in huge.json()["error"]["message"]
            )
            assert len(ws.metadata.lineage_events(limit=1000)) == before  # nothing half-stored
            assert httpx.get(graph, params={"node": "job:nope/x"}).status_code == 404
    finally:
        ws.close()


ORDERS_V2 = "id,customer,email,amount\n1,c1,a@x.eu,10\n2,c2,b@x.us,25\n3,c1,a@x.eu,5\n4,c3,c@x.eu,7\n"


def test_versions_and_change_events_of_a_product(mesh):
    orders = shop(mesh)
    (orders / "d.csv").write_text(ORDERS_V2)  # order 2 changes its amount, order 4 is new
    mesh.build_ok()
    ws = mesh.workspace()
    try:
        service = QueryService(ws)
        with serve_every_port(service, Authenticator.for_workspace(ws)) as served:
            base = f"{served['url']}/api/products"
            versions = httpx.get(f"{base}/orders/versions").json()
            assert [v["version"] for v in versions["items"]] == [2, 1] and versions["total"] == 2
            newest = versions["items"][0]
            assert newest["changes"]["orders"] == {"inserted": 1, "updated": 1, "deleted": 0}
            assert newest["ports"]["orders"]["rows"] == 4 and newest["events"] == "done"
            assert versions["items"][1]["changes"]["orders"] == {"inserted": 3, "updated": 0, "deleted": 0}
            assert [v["version"] for v in httpx.get(f"{base}/orders/versions?limit=1").json()["items"]] == [2]
            changes = httpx.get(f"{base}/orders/changes", params={"limit": 2}).json()
            assert changes["withheld"] is None
            got = {(c["op"], c["key"]["id"], c["version"]) for c in changes["items"]}
            assert got == {("update", 2, 2), ("insert", 4, 2)}  # the last two events, newest first
            update = next(c for c in changes["items"] if c["op"] == "update")
            assert (update["before"]["amount"], update["after"]["amount"]) == (20, 25)
            offsets = [c["offset"] for c in changes["items"]]
            assert offsets == sorted(offsets, reverse=True)
            assert httpx.get(f"{base}/nope/versions").status_code == 404
            assert httpx.get(f"{base}/orders/changes", params={"limit": 0}).status_code == 422
    finally:
        ws.close()


def test_change_events_are_withheld_from_a_reader_who_sees_masked_rows(served):
    changes = get(served, "ana", "/products/orders/changes")
    assert changes.status_code == 200
    body = changes.json()
    assert body["items"] == [] and "masked" in body["withheld"] and "ana" in body["withheld"]
    assert get(served, "ana", "/products/orders/versions").json()["items"][0]["version"] == 1
    assert get(served, "dan", "/products/orders/versions").status_code == 404  # may not discover it
    assert get(served, "dan", "/products/orders/changes").status_code == 404
    assert httpx.get(f"{served['url']}/api/products/orders/changes").status_code == 401  # anonymous


def test_the_overview_counts_what_the_caller_may_discover(served, mesh):
    seen = get(served, "ana", "/overview").json()
    assert seen["products"] == 1 and seen["domains"] == {"test": {"count": 1, "products": ["orders"]}}
    assert seen["edges"] == [] and seen["by_type"] == {"raw": 1}  # revenue is not ana's to see
    assert [r["name"] for r in seen["recent"]] == ["orders"]
    assert get(served, "dan", "/overview").json()["products"] == 0
    ws = mesh.workspace()
    try:
        with serve_every_port(QueryService(ws), Authenticator(None)) as local:
            everything = httpx.get(f"{local['url']}/api/overview").json()
    finally:
        ws.close()
    assert everything["products"] == 2 and everything["edges"] == [{"from": "orders", "to": "revenue"}]
    assert everything["by_type"] == {"raw": 1, "derived": 1}


def test_the_psql_snippet_of_a_product_page_runs_as_pasted(served):
    snippet = get(served, "ana", "/products/orders").json()["connect"]["psql"]
    assert f"port={served['pg']}" in snippet
    done = run_pasted(snippet, served["tokens"]["ana"], "-At")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3 and "***" in done.stdout  # ana's rows: emails masked


def test_the_web_ui_is_served_with_a_policy_that_keeps_it_offline(served):
    page = httpx.get(f"{served['url']}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert 'src="/ui/' in page.text and "http://" not in page.text and "https://" not in page.text
    script = httpx.get(f"{served['url']}/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "content-security-policy" in script.headers
    assert httpx.get(f"{served['url']}/ui/../pyproject.toml").status_code == 404
    missing = httpx.get(f"{served['url']}/api/no-such-route")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"


def test_a_build_registers_the_health_of_what_it_built_and_keeps_the_others(mesh):
    shop(mesh)
    ws = mesh.workspace()
    try:
        entry = ws.metadata.catalog_entry("orders")
        assert entry is not None and entry.quality_status == "passed" and "health" in entry.document
    finally:
        ws.close()
    mesh.build_ok("revenue")  # a build of revenue alone: orders keeps its health
    ws = mesh.workspace()
    try:
        kept = ws.metadata.catalog_entry("orders")
        assert kept is not None and kept.quality_status == "passed" and "health" in kept.document
    finally:
        ws.close()


def column_edges(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["from"], e["to"], e["kind"]) for e in body["edges"]}


def test_column_lineage_is_kept_per_version_and_served(mesh):
    shop(mesh)
    transform = mesh.root / "revenue" / "transform.sql"
    transform.write_text("SELECT customer, max(amount) + 1 AS total FROM orders WHERE amount > 0 GROUP BY 1")
    mesh.build_ok()
    ws = mesh.workspace()
    try:
        assert ws.metadata.column_lineage_versions("revenue") == [1, 2]
        first = {(link.target, link.source, link.kind) for link in ws.metadata.column_lineage("revenue", 1)}
        assert ("revenue.revenue.total", "orders.orders.amount", "derived") in first
        assert ("revenue.revenue", "orders.orders.amount", "filter") not in first  # v1 had no WHERE
        with serve_every_port(QueryService(ws), Authenticator(None)) as served:
            url = f"{served['url']}/api/lineage"
            around = httpx.get(url, params={"node": "revenue", "level": "column"}).json()
            assert around["level"] == "column" and column_edges(around) == {
                ("orders.orders.customer", "revenue.revenue.customer", "direct"),
                ("orders.orders.amount", "revenue.revenue.total", "derived"),
                ("orders.orders.amount", "revenue.revenue", "filter"),  # v2's WHERE decides its rows
                ("orders.orders.customer", "revenue.revenue", "filter"),
            }
            assert {"revenue.revenue.customer", "revenue.revenue.total"} <= set(around["nodes"])
            two = httpx.get(url, params={"node": "orders.orders.amount", "depth": 2}).json()
            assert column_edges(two) == {
                ("file:orders/d.csv.amount", "orders.orders.amount", "direct"),
                ("orders.orders.amount", "revenue.revenue.total", "derived"),
                ("orders.orders.amount", "revenue.revenue", "filter"),
            }
            paged = httpx.get(url, params={"node": "revenue", "level": "column", "limit": 3}).json()
            assert len(paged["edges"]) == 3 and paged["total"] == 4 and paged["next"] is not None
            rest = httpx.get(paged["next"]).json()
            assert column_edges(paged) | column_edges(rest) == column_edges(around)
            missing = httpx.get(url, params={"node": "revenue.revenue.nope"})
            assert missing.status_code == 404 and "revenue.revenue.nope" in missing.json()["error"]["message"]
            assert httpx.get(url, params={"node": "nope.port.column"}).status_code == 404
            assert httpx.get(url, params={"node": "revenue", "level": "rows"}).status_code == 422
    finally:
        ws.close()


def test_column_lineage_shows_only_what_the_caller_may_discover(served):
    body = get(served, "ana", "/lineage", node="orders.orders.amount", depth=3).json()
    assert column_edges(body) == {
        ("file:orders/d.csv.amount", "orders.orders.amount", "direct")
    }  # no revenue
    assert get(served, "dan", "/lineage", node="orders.orders.amount").status_code == 404
