"""The mesh watcher: products rebuild when their files change or their upstream publishes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from daap.mesh.backbone import Start, topic_for
from daap.mesh.watch import MeshWatcher, group_for

ORDERS = [("order_id", "integer"), ("country", "string"), ("amount", "number")]
TOTALS = [("country", "string"), ("total", "number")]
TOTALS_SQL = "SELECT country, sum(amount) AS total FROM orders GROUP BY country"


@pytest.fixture
def two_products(mesh):
    mesh.product(
        "orders",
        ORDERS,
        pk=["order_id"],
        inputs={"src": {"path": "data/*.csv"}},
        files={"data/a.csv": "order_id,country,amount\n1,NL,10\n2,DE,5\n"},
    )
    mesh.product(
        "totals",
        TOTALS,
        pk=["country"],
        product_type="derived",
        inputs={"orders": {"product": "orders", "port": "orders"}},
        transform=TOTALS_SQL,
    )
    return mesh


def versions(mesh, product):
    ws = mesh.workspace()
    try:
        return [v.version for v in ws.metadata.list_versions(product)]
    finally:
        ws.close()


def settle(watcher, rounds=30):
    """Step until a few rounds in a row build nothing; returns every outcome built."""
    built, quiet = [], 0
    for _ in range(rounds):
        outcomes = [o for o in watcher.step(wait=0.05) if o.status != "unchanged"]
        built += outcomes
        quiet = 0 if outcomes else quiet + 1
        if quiet >= 3:
            break
    return built


@pytest.fixture
def watcher(two_products):
    ws = two_products.workspace()
    w = MeshWatcher(ws, interval=0)
    w._send_pending()
    w._scan(force=True)
    w._build(list(w.watched))
    yield w
    w.close()
    ws.close()


def test_start_builds_everything_in_dependency_order(watcher, two_products):
    assert versions(two_products, "orders") == [1] and versions(two_products, "totals") == [1]
    assert settle(watcher) == []  # the events of that first build change nothing more


def test_a_changed_input_file_rebuilds_the_product_then_its_downstream(watcher, two_products):
    settle(watcher)
    (two_products.root / "orders" / "data" / "b.csv").write_text("order_id,country,amount\n3,NL,7\n")
    built = settle(watcher)
    assert [(o.product, o.version) for o in built] == [("orders", 2), ("totals", 2)]
    assert two_products.query("SELECT country, total FROM totals.totals ORDER BY country") == [
        {"country": "DE", "total": 5.0},
        {"country": "NL", "total": 17.0},
    ]
    assert built[1].events["totals"]["updated"] == 1


def test_a_burst_of_upstream_versions_makes_one_downstream_build(watcher, two_products):
    settle(watcher)
    for i in range(3):  # built elsewhere, before the watcher looks again
        (two_products.root / "orders" / "data" / f"x{i}.csv").write_text(
            f"order_id,country,amount\n{10 + i},FR,1\n"
        )
        two_products.build_ok("orders")
    assert versions(two_products, "orders") == [1, 2, 3, 4]
    built = [o for o in settle(watcher) if o.product == "totals"]
    assert [(o.version, o.status) for o in built] == [(2, "published")]
    ws = two_products.workspace()
    try:
        assert ws.version("totals").inputs == {"orders.orders": 4}
        # the group's position is committed past every event that triggered the build
        sub = ws.backbone.subscribe(topic_for("orders", "orders"), group_for("totals"), Start.committed())
        assert sub.poll(timeout=0.1) == []
    finally:
        ws.close()


def test_a_broken_descriptor_is_reported_once_and_builds_nothing(two_products):
    notes = []
    ws = two_products.workspace()
    w = MeshWatcher(ws, report=notes.append, interval=0)
    try:
        w._scan(force=True)
        (two_products.root / "totals" / "dataproduct.yaml").write_text("name: [totals\n")
        w._scan()
        w._scan()
        assert len([n for n in notes if n.startswith("totals: not built")]) == 1
        assert "totals" not in w.watched
    finally:
        w.close()
        ws.close()


def test_daap_watch_rebuilds_downstream_when_a_file_changes(two_products, daap_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "daap", "-w", str(two_products.root), "watch", "--interval", "0.2"],
        env=daap_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while versions(two_products, "totals") != [1] and time.monotonic() < deadline:
            time.sleep(0.2)
        (two_products.root / "orders" / "data" / "a.csv").write_text(
            "order_id,country,amount\n1,NL,12\n2,DE,5\n"
        )
        while versions(two_products, "totals") != [1, 2] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert versions(two_products, "totals") == [1, 2]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "published totals version 2" in out
    assert "daap watch stopped" in err
    args = ["events", "tail", "totals", "--from-offset", "3", "--no-follow", "--json"]
    tail = subprocess.run(
        [sys.executable, "-m", "daap", "-w", str(two_products.root), *args],
        env=daap_env,
        capture_output=True,
        text=True,
        check=True,
    )
    [event] = [json.loads(line) for line in tail.stdout.splitlines()]
    assert event["value"]["op"] == "u" and event["value"]["after"] == {"country": "NL", "total": 12.0}
