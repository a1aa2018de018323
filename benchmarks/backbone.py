"""backbone: events/s through the event backbone, embedded and on NATS JetStream.

Embedded: ``open_backbone("sqlite:///...")``, 200-byte events published in
batches of 1,000 (one ``BEGIN IMMEDIATE`` each) and consumed by one group with
``poll(max_events=1000)``; 1e5 events (2e4 with --quick). Reported as µs per
event against the 20 µs of the goal (>= 50k events/s), both ways.

NATS: the adapter's ``publish`` (sync call, hop to its event-loop thread,
pipelined ``publish_async`` with ``Nats-Msg-Id`` and the key and time headers)
against raw nats-py doing the same pipelined, deduplicated publishes from its
own event loop, to a fresh stream each run, alternating. Goal: ours takes at
most 1.25x the raw time, that is at least 0.8x its throughput. Skipped with a
note when no server answers at ``DAAP_BENCH_NATS`` (default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from benchmarks.runner import Measure, Outcome, Sample, Settings, alternate, log, median, spread, stopwatch

NAME = "backbone"
EMBEDDED_GOAL_US = 20.0  # 50k events/s
NATS_GOAL = 1.25  # time ratio; throughput ratio >= 0.8
BATCH = 1000
PAYLOAD = b"x" * 200
SERVER = os.environ.get("DAAP_BENCH_NATS", "nats://127.0.0.1:4222")


def _events(topic: str, count: int, tag: str) -> list[Any]:
    from daap.mesh.backbone import Event

    return [Event(topic, b"key-%d" % (i % 100), PAYLOAD, event_id=f"{tag}-{i}") for i in range(count)]


def _embedded(settings: Settings, count: int) -> tuple[list[Sample], list[Sample]]:
    from daap.mesh.backbone import Start, open_backbone

    root = settings.work / NAME
    root.mkdir(parents=True, exist_ok=True)
    pub: list[Sample] = []
    sub: list[Sample] = []
    for rep in range(settings.reps + 1):  # the first one warms up
        backbone = open_backbone(f"sqlite://{root}/backbone-{rep}.db")
        try:
            topic = "daap.bench.embedded"
            batch = _events(topic, count, f"r{rep}")
            clock = stopwatch()
            for start in range(0, count, BATCH):
                backbone.publish(topic, batch[start : start + BATCH])
            published = clock()
            reader, got, clock = backbone.subscribe(topic, "bench", Start.earliest()), 0, stopwatch()
            while got < count:
                got += len(reader.poll(max_events=BATCH, timeout=1.0))
            consumed = clock()
        finally:
            backbone.close()
        if rep:
            pub.append(Sample(published / count * 1e6))
            sub.append(Sample(consumed / count * 1e6))
    return pub, sub


def _nats(settings: Settings, count: int) -> tuple[list[Sample], list[Sample]]:
    import nats

    from daap.mesh.backbone import open_backbone
    from daap.mesh.backbone.jetstream import NatsBackbone

    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    ours = open_backbone(f"{SERVER}?stream_prefix={prefix}")
    assert isinstance(ours, NatsBackbone)
    loop = asyncio.new_event_loop()
    nc = loop.run_until_complete(nats.connect(SERVER))
    js = nc.jetstream()
    runs = iter(range(10_000))

    def adapter() -> Sample:
        topic = f"daap.bench.ours{next(runs)}"
        batch = _events(topic, count, "o")
        ours.publish(topic, batch[:1])  # creates the stream, as raw's add_stream does outside the clock
        clock = stopwatch()
        for start in range(0, count, BATCH):
            ours.publish(topic, batch[start : start + BATCH])
        seconds = clock()
        ours.delete_topic(topic)
        return Sample(seconds / count * 1e6)

    async def raw_publish(subject: str) -> None:
        for start in range(0, count, BATCH):
            futures = [
                await js.publish_async(subject, PAYLOAD, headers={"Nats-Msg-Id": f"r-{i}"})
                for i in range(start, min(start + BATCH, count))
            ]
            await asyncio.gather(*futures)

    def raw() -> Sample:
        stream = f"{prefix}raw{next(runs)}"
        loop.run_until_complete(js.add_stream(name=stream, subjects=[stream], duplicate_window=86400))
        clock = stopwatch()
        loop.run_until_complete(raw_publish(stream))
        seconds = clock()
        loop.run_until_complete(js.delete_stream(stream))
        return Sample(seconds / count * 1e6)

    try:
        return alternate(adapter, raw, settings.reps)
    finally:
        ours.close()
        loop.run_until_complete(nc.close())
        loop.close()


def run(settings: Settings) -> Outcome:
    count = 20_000 if settings.quick else 100_000
    log(f"{NAME}: {count:,} events of {len(PAYLOAD)} bytes, {settings.reps} runs (+1 warm-up) each")
    pub, sub = _embedded(settings, count)
    measures = [
        Measure(
            NAME, "embedded publish, per event", median(pub), EMBEDDED_GOAL_US, "µs", 1.0,
            note=f"{1e6 / median(pub):,.0f} events/s; batches of {BATCH}; {spread(pub, unit='µs')}",
        ),
        Measure(
            NAME, "embedded consume, per event", median(sub), EMBEDDED_GOAL_US, "µs", 1.0,
            note=f"{1e6 / median(sub):,.0f} events/s; poll(max_events={BATCH}); {spread(sub, unit='µs')}",
        ),
    ]  # fmt: skip
    details: list[str] = []
    try:
        ours, raw = _nats(settings, count // 2)
    except Exception as exc:  # no server: report, do not fail the embedded numbers
        details.append(f"NATS part skipped: {SERVER}: {type(exc).__name__}: {exc}")
        return Outcome(measures, details)
    measures.append(
        Measure(
            NAME, "NATS publish, per event (adapter vs raw nats-py)", median(ours), median(raw), "µs",
            NATS_GOAL,
            note=f"adapter {1e6 / median(ours):,.0f} events/s, raw {1e6 / median(raw):,.0f} events/s; "
            f"{count // 2:,} events per run, pipelined in batches of {BATCH}",
        )
    )  # fmt: skip
    return Outcome(measures, details)
