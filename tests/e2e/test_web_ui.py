"""The web UI in headless Chromium, as a user meets it on the demo mesh.

A new user opens the UI, finds a product by searching for what they need, sees who owns it and why
it exists, runs a named query, opens the lineage graph and copies a connection snippet that works.
Permissions hold in the browser as on the API: ana sees masked customers, an anonymous visitor
only the public titles. A screenshot of each page is kept in ``test-artifacts/ui/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from daap.mesh.metadata import CatalogEntry
from daap.mesh.policy.authn import Authenticator
from daap.query.service import QueryService
from fixtures.browser import screenshot
from fixtures.demo import served_demo
from fixtures.http import run_pasted, serve_every_port

#: how long the UI may take to show a view (a wait, not a timing assertion)
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with served_demo(tmp_path_factory.mktemp("ui"), ("ana", "priya")) as served:
        yield served


def open_as(page: Any, demo: dict[str, Any], who: str | None, route: str = "") -> None:
    """Open the UI signed in as ``who`` (None: anonymous) through the sign-in link, at ``route``."""
    token = f"token={demo['tokens'][who]}" if who else ""
    page.goto(f"{demo['url']}/#{token}")
    page.wait_for_selector('body[data-ready="search"]', timeout=WAIT_MS)
    if route:
        page.goto(f"{demo['url']}/#{route}")


def ready(page: Any, view: str) -> None:
    page.wait_for_selector(f'body[data-ready="{view}"]', timeout=WAIT_MS)


def no_problems(page: Any) -> None:
    assert page.problems == [], page.problems


def test_a_user_finds_a_product_by_what_they_need(page, demo):
    open_as(page, demo, "ana")
    assert "ana" in page.get_by_test_id("whoami").inner_text()
    assert "#token=" not in page.url  # the sign-in link leaves no token in the address bar
    page.get_by_test_id("search-input").fill("licensing budget")
    results = page.get_by_test_id("result")
    expect(results).to_have_count(1, timeout=WAIT_MS)  # the one whose objective speaks of the budget
    expect(results).to_have_attribute("data-name", "title_popularity")
    page.get_by_test_id("search-input").fill("devices")  # playback_events' objective says "device"
    expect(results).to_have_count(1, timeout=WAIT_MS)
    expect(results.locator(".result-objective mark")).to_have_text("device")  # where it matched
    page.get_by_test_id("search-input").fill("which titles do viewers finish")  # asked as a question
    expect(page.get_by_test_id("result-total")).to_contain_text("some of", timeout=WAIT_MS)
    expect(results.first).to_have_attribute("data-name", "title_popularity")
    page.get_by_test_id("search-input").fill("")
    expect(results).to_have_count(4, timeout=WAIT_MS)  # every product ana may discover
    page.locator('[data-testid="facet"][data-facet="domain"][data-value="billing"]').click()
    expect(results).to_have_count(1, timeout=WAIT_MS)
    expect(results).to_have_attribute("data-name", "customers")
    assert "1" in page.get_by_test_id("result-total").inner_text()
    screenshot(page, "search")
    no_problems(page)


def test_a_product_page_says_why_it_exists_and_who_owns_it_first(page, demo):
    open_as(page, demo, "ana")
    page.locator('[data-testid="result"][data-name="title_popularity"] a').first.click()
    ready(page, "product")
    assert page.get_by_test_id("product-name").inner_text().strip() == "title_popularity"
    objective = page.get_by_test_id("product-objective")
    assert "licensing budget" in objective.inner_text()
    assert "content-analytics" in page.get_by_test_id("product-owner").inner_text()
    snippet = page.locator('[data-testid="snippet"][data-kind="psql"]')
    assert objective.bounding_box()["y"] < snippet.bounding_box()["y"]  # the why before the how
    assert "content strategist" in page.content()  # its persona
    contract = page.get_by_test_id("contract").first.inner_text()
    assert "daap.title_popularity.popularity-value version 1 in the registry" in contract
    screenshot(page, "product")
    no_problems(page)


def test_the_copied_psql_snippet_works(page, demo, browser):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo["url"])
    open_as(page, demo, "ana", "/product/title_popularity")
    ready(page, "product")
    block = page.locator('[data-testid="snippet"][data-kind="psql"]')
    block.locator("xpath=..").get_by_role("button", name="Copy").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == block.inner_text().strip()
    done = run_pasted(copied, demo["tokens"]["ana"], "-At")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 10  # LIMIT 10 rows of title_popularity


def test_run_a_named_query_from_the_page(page, demo):
    open_as(page, demo, "ana", "/product/title_popularity")
    ready(page, "product")
    form = page.locator('[data-testid="query-form"][data-query="top_titles"]')
    form.get_by_label("genre").fill("drama")
    form.get_by_label("top").fill("2")
    form.get_by_test_id("query-run").click()
    result = page.get_by_test_id("query-result")
    result.wait_for(timeout=WAIT_MS)
    shown = result.locator("tbody tr")
    assert shown.count() == 2
    api = httpx.get(
        f"{demo['url']}/api/products/title_popularity/queries/top_titles",
        params={"genre": "drama", "top": 2},
        headers={"Authorization": f"Bearer {demo['tokens']['ana']}"},
    ).json()["rows"]
    assert api[0]["title_id"] in shown.first.inner_text()
    screenshot(page, "query")
    form.get_by_label("top").fill("-1")
    form.get_by_test_id("query-run").click()
    error = page.get_by_test_id("query-error")
    error.wait_for(timeout=WAIT_MS)
    assert "negative" in error.inner_text()  # the server's reason, shown where the query was run
    no_problems(page)


def test_the_lineage_graph_shows_a_products_sources(page, demo):
    open_as(page, demo, "priya", "/lineage?node=title_popularity&depth=2")
    ready(page, "lineage")
    graph = page.get_by_test_id("lineage-graph")
    assert graph.is_visible()
    nodes = {n.get_attribute("data-node") for n in page.get_by_test_id("lineage-node").all()}
    assert {"title_popularity", "titles", "playback_events"} <= nodes
    assert any(n.startswith("file:") for n in nodes)
    page.locator('[data-testid="lineage-node"][data-node="titles"]').click()
    assert "titles" in page.locator("body").inner_text()
    screenshot(page, "lineage")
    no_problems(page)


def test_permissions_hold_in_the_browser(page, demo):
    open_as(page, demo, None)  # anonymous: the public titles only
    page.wait_for_selector('[data-testid="result"]', timeout=WAIT_MS)
    assert {r.get_attribute("data-name") for r in page.get_by_test_id("result").all()} == {"titles"}
    page.goto(f"{demo['url']}/#/product/customers")
    page.get_by_test_id("page-error").wait_for(timeout=WAIT_MS)
    screenshot(page, "anonymous")
    open_as(page, demo, "ana", "/product/customers")
    ready(page, "product")
    raw = httpx.get(
        f"{demo['url']}/api/products/customers",
        headers={"Authorization": f"Bearer {demo['tokens']['priya']}"},
    ).json()["samples"]["customers"]["rows"]
    shown = page.locator("body").inner_text()
    assert "@example.com" in str(raw)  # priya sees the emails ...
    assert "@example.com" not in shown  # ... ana's page shows them masked


def test_an_unknown_product_is_said_so(page, demo):
    open_as(page, demo, "ana", "/product/no_such_product")
    error = page.get_by_test_id("page-error")
    error.wait_for(timeout=WAIT_MS)
    assert "no_such_product" in error.inner_text()


def test_the_mesh_overview(page, demo):
    open_as(page, demo, "priya", "/overview")
    ready(page, "overview")
    text = page.get_by_test_id("overview").inner_text()
    for domain in ("billing", "content", "playback"):
        assert domain in text
    screenshot(page, "overview")
    no_problems(page)


def test_the_column_lineage_graph(page, demo):
    open_as(page, demo, "priya", "/lineage?node=title_popularity&depth=2&level=column")
    ready(page, "lineage")
    nodes = {n.get_attribute("data-node") for n in page.get_by_test_id("lineage-node").all()}
    # viewers counts distinct viewer ids of the playback events, which come from the event files
    assert {"title_popularity.popularity.viewers", "playback_events.events.viewer_id"} <= nodes
    assert any(n.startswith("file:playback_events/") and n.endswith(".viewer_id") for n in nodes)
    assert "title_popularity" not in nodes  # the product is its columns here
    screenshot(page, "lineage-columns")
    no_problems(page)


LAYERS, WIDTH = 10, 50  # a mesh of 500 products, each reading one to three of the layer before


@pytest.fixture
def big_mesh(mesh: Any) -> Iterator[str]:
    """500 products registered in the catalog with their lineage (no data: the graph only)."""
    ws = mesh.workspace()
    try:
        for layer in range(LAYERS):
            for n in range(WIDTH):
                name = f"p{layer}_{n}"
                ws.metadata.upsert_catalog(CatalogEntry(name, domain=f"d{n % 5}", product_type="derived"))
                reads = [f"p{layer - 1}_{(n + k * 7) % WIDTH}.out" for k in range(1 + n % 3)] if layer else []
                ws.metadata.set_product_lineage(name, reads)
        with serve_every_port(QueryService(ws), Authenticator(None)) as served:
            yield served["url"]
    finally:
        ws.close()


def test_the_lineage_graph_draws_hundreds_of_nodes(page, big_mesh):
    page.goto(f"{big_mesh}/#/lineage")  # no node: the whole mesh
    ready(page, "lineage")
    graph = page.get_by_test_id("lineage-graph")
    assert graph.get_attribute("data-nodes") == str(LAYERS * WIDTH)
    assert page.get_by_test_id("lineage-node").count() == LAYERS * WIDTH
    edges = sum(1 + n % 3 for n in range(WIDTH)) * (LAYERS - 1)
    assert graph.get_attribute("data-edges") == str(edges)
    page.locator('[data-testid="lineage-node"][data-node="p5_7"]').click()
    expect(page.locator("body")).to_contain_text("p4_7")  # what it reads, in the details
    screenshot(page, "lineage-500")
    no_problems(page)


def test_sign_in_by_pasting_a_token_and_out_again(page, demo):
    open_as(page, demo, None)
    results = page.get_by_test_id("result")
    expect(results).to_have_count(1, timeout=WAIT_MS)  # anonymous: the public titles
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("signin-token").fill("daap_not_a_real_token")
    page.get_by_test_id("signin-form").get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signin-form")).to_contain_text("token", timeout=WAIT_MS)  # refused, said why
    assert "anonymous" in page.get_by_test_id("whoami").inner_text()
    page.get_by_test_id("signin-token").fill(demo["tokens"]["ana"])
    page.get_by_test_id("signin-form").get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("whoami")).to_contain_text("ana", timeout=WAIT_MS)
    expect(results).to_have_count(4, timeout=WAIT_MS)  # what ana may discover
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("whoami")).to_contain_text("anonymous", timeout=WAIT_MS)
    assert page.evaluate("sessionStorage.getItem('daap.token')") is None
