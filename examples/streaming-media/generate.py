"""Deterministic synthetic data for the streaming-media demo mesh.

``python generate.py [WORKSPACE]`` (or ``daap demo``) writes:
- titles/data/generated/titles.csv: the title catalogue (a legacy export, for now a CSV);
- playback_events/data/generated/events-YYYY-MM-DD.ndjson: one file per day of playback events.

Same seed, same bytes: re-running changes nothing, so a rebuild publishes nothing new.

``python generate.py [WORKSPACE] --add-day`` writes one more day of playback events
after the last one there, touching nothing else: what a new delivery looks like.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

GENRES = ["drama", "comedy", "documentary", "thriller", "animation", "sci-fi", "romance", "crime"]
WORDS = [
    "Silent",
    "River",
    "Last",
    "Empire",
    "Midnight",
    "Garden",
    "Broken",
    "Signal",
    "Northern",
    "Paper",
    "Glass",
    "Summer",
    "Echo",
    "Hidden",
    "Orbit",
    "Wild",
    "Second",
    "Harbor",
]
DEVICES = ["tv", "mobile", "web", "tablet", "console"]
COUNTRIES = ["NL", "DE", "FR", "GB", "US", "BR", "IN", "JP"]
RATINGS = ["G", "PG", "PG-13", "R"]


def titles(rng: random.Random, count: int = 300) -> list[dict[str, object]]:
    out = []
    for i in range(1, count + 1):
        kind = "series" if rng.random() < 0.35 else "movie"
        out.append(
            {
                "title_id": f"t{i:04d}",
                "title": f"The {rng.choice(WORDS)} {rng.choice(WORDS)}",
                "kind": kind,
                "genre": rng.choice(GENRES),
                "release_year": rng.randint(1985, 2026),
                "runtime_minutes": rng.randint(22, 60) if kind == "series" else rng.randint(75, 170),
                "maturity_rating": rng.choice(RATINGS),
            }
        )
    return out


def events(rng: random.Random, catalogue: list[dict[str, object]], day: date, count: int):
    # Popularity follows a long tail: a few titles get most of the plays.
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(catalogue))]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for n in range(count):
        title = rng.choices(catalogue, weights)[0]
        runtime = int(title["runtime_minutes"]) * 60  # type: ignore[call-overload]
        watched = min(runtime, int(rng.expovariate(1 / (runtime * 0.6))) + 30)
        yield {
            "event_id": f"{day:%Y%m%d}-{n:06d}",
            "viewer_id": f"v{rng.randint(1, 5000):05d}",
            "title_id": title["title_id"],
            "event_time": (start + timedelta(seconds=rng.randint(0, 86399)))
            .isoformat()
            .replace("+00:00", "Z"),
            "device": rng.choice(DEVICES),
            "country": rng.choice(COUNTRIES),
            "watch_seconds": watched,
            "completed": watched >= runtime * 0.9,
        }


def generate(workspace: Path, days: int = 7, per_day: int = 8000, seed: int = 7) -> None:
    rng = random.Random(seed)
    catalogue = titles(rng)
    out = workspace / "titles" / "data" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "titles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(catalogue[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(catalogue)
    out = workspace / "playback_events" / "data" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    first = date(2026, 11, 1)
    for offset in range(days):
        day = first + timedelta(days=offset)
        lines = (json.dumps(e, separators=(",", ":")) for e in events(rng, catalogue, day, per_day))
        (out / f"events-{day}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")


def add_day(workspace: Path, per_day: int = 8000, seed: int = 7) -> Path:
    """One more day of playback events after the newest file; returns the file written."""
    out = workspace / "playback_events" / "data" / "generated"
    days = sorted(date.fromisoformat(p.stem.removeprefix("events-")) for p in out.glob("events-*.ndjson"))
    day = days[-1] + timedelta(days=1) if days else date(2026, 11, 1)
    catalogue = titles(random.Random(seed))
    rng = random.Random(f"{seed}-{day}")
    lines = (json.dumps(e, separators=(",", ":")) for e in events(rng, catalogue, day, per_day))
    target = out / f"events-{day}.ndjson"
    out.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--add-day"]
    root = Path(args[0]) if args else Path(__file__).parent
    if "--add-day" in sys.argv[1:]:
        print(f"wrote {add_day(root)}")
    else:
        generate(root)
