"""A real ``daap build`` killed with SIGKILL at each point of a build loses nothing.

The process is killed by the ``DAAP_CRASH_AT`` hook at an exact point, and
once more at a random moment of a longer build. Afterwards the last published
version is intact and queryable, and the next build succeeds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

COLUMNS = [("id", "integer"), ("v", "string")]


def daap(mesh, env, *args, crash=None, check=True):
    env = dict(env)
    if crash:
        env["DAAP_CRASH_AT"] = crash
    proc = subprocess.run(
        [sys.executable, "-m", "daap", "-w", str(mesh.root), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"daap {args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def rows(mesh, env, at=None):
    extra = ["--at", str(at)] if at else []
    out = daap(mesh, env, "query", "SELECT id, v FROM things.things ORDER BY id", "--format", "json", *extra)
    return json.loads(out.stdout)


def versions(mesh, env):
    out = daap(mesh, env, "snapshots", "things", "--json")
    return [v["version"] for v in json.loads(out.stdout)]


@pytest.fixture
def published(mesh, daap_env):
    mesh.product(
        "things", COLUMNS, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": "id,v\n1,old\n"}
    )
    daap(mesh, daap_env, "build")
    (mesh.root / "things" / "d.csv").write_text("id,v\n1,new\n2,new\n")
    return mesh


@pytest.mark.parametrize("point", ["transformed", "staged", "committing"])
def test_killed_before_commit_rolls_back(published, daap_env, point):
    killed = daap(published, daap_env, "build", crash=point, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert rows(published, daap_env) == [{"id": 1, "v": "old"}]
    assert versions(published, daap_env) == [1]
    result = json.loads(daap(published, daap_env, "build", "--json").stdout)
    assert [(r["status"], r["version"]) for r in result] == [("published", 2)]
    assert rows(published, daap_env) == [{"id": 1, "v": "new"}, {"id": 2, "v": "new"}]
    assert rows(published, daap_env, at=1) == [{"id": 1, "v": "old"}]
    staged = list((published.root / ".daap" / "warehouse" / "things" / "things" / "data").iterdir())
    assert len(staged) == 2, "the killed build's staged files were not cleaned up"


def test_killed_after_table_commit_rolls_forward(published, daap_env):
    killed = daap(published, daap_env, "build", crash="committed:things", check=False)
    assert killed.returncode == -signal.SIGKILL
    # committed but never published: consumers still read version 1
    assert rows(published, daap_env) == [{"id": 1, "v": "old"}]
    result = json.loads(daap(published, daap_env, "build", "--json").stdout)
    # the next build finishes the interrupted one (version 2), then finds nothing new to do
    assert [(r["status"], r["version"]) for r in result] == [("unchanged", 2)]
    assert "interrupted after commit: published as version 2" in result[0]["warnings"][0]
    assert versions(published, daap_env) == [1, 2]
    assert rows(published, daap_env) == [{"id": 1, "v": "new"}, {"id": 2, "v": "new"}]


def test_killed_at_random_moments_never_half_publishes(mesh, daap_env):
    big = "id,v\n" + "".join(f"{i},x{i}\n" for i in range(300_000))
    mesh.product(
        "things", COLUMNS, pk=["id"], inputs={"src": {"path": "d.csv"}}, files={"d.csv": "id,v\n1,old\n"}
    )
    daap(mesh, daap_env, "build")
    (mesh.root / "things" / "d.csv").write_text(big)
    for delay in (0.3, 0.8, 1.3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "daap", "-w", str(mesh.root), "build"],
            env=daap_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        count = daap(
            mesh, daap_env, "query", "SELECT count(*) AS n FROM things.things", "--format", "csv"
        ).stdout
        assert count.split() in (["n", "1"], ["n", "300000"]), count
    daap(mesh, daap_env, "build")
    assert daap(
        mesh, daap_env, "query", "SELECT count(*) AS n FROM things.things", "--format", "csv"
    ).stdout.split() == ["n", "300000"]
    listed = versions(mesh, daap_env)
    assert listed == list(range(1, len(listed) + 1)) and len(listed) == 2


# -- publishing the change events: outbox, audit log, backbone ---------------------------


def events(mesh, env):
    out = daap(mesh, env, "events", "tail", "things", "--from-beginning", "--no-follow", "--json")
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize("point", ["published", "audited:things", "sent:things"])
def test_killed_while_publishing_events_loses_and_doubles_nothing(published, daap_env, point):
    killed = daap(published, daap_env, "build", crash=point, check=False)
    assert killed.returncode == -signal.SIGKILL
    # the version is published: consumers read it, whatever happened to its events
    assert versions(published, daap_env) == [1, 2]
    assert rows(published, daap_env) == [{"id": 1, "v": "new"}, {"id": 2, "v": "new"}]
    result = json.loads(daap(published, daap_env, "build", "--json").stdout)
    assert [(r["status"], r["version"]) for r in result] == [("unchanged", 2)]
    assert any("sent the change events an earlier build left pending" in w for w in result[0]["warnings"])
    got = events(published, daap_env)
    assert [(e["offset"], e["value"]["op"], e["value"]["source"]["version"], e["key"]) for e in got] == [
        (1, "c", 1, {"id": 1}),
        (2, "c", 2, {"id": 2}),
        (3, "u", 2, {"id": 1}),
    ]
    assert len({e["event_id"] for e in got}) == 3
    verified = daap(published, daap_env, "audit", "verify", "things")
    assert "OK things: 3 entries" in verified.stdout
    # and nothing is left to send
    again = daap(published, daap_env, "events", "publish")
    assert "nothing waiting" in again.stderr
