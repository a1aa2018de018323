"""Deterministic synthetic data for the streaming-media demo mesh.

``python generate.py [WORKSPACE]`` (or ``daap demo``) writes:
- titles/data/generated/titles.csv: the title catalogue (a legacy export, for now a CSV);
- playback_events/data/generated/events-YYYY-MM-DD.ndjson: one file per day of playback events;
- customers/data/generated/customers.csv: billing's customer accounts (the viewers), with personal data.

Same seed, same bytes: re-running changes nothing, so a rebuild publishes nothing new.

``python generate.py [WORKSPACE] --add-day`` writes one more day of playback events
after the last one there, touching nothing else: what a new delivery looks like.
Every :data:`BAD_EVERY`-th day after the first week comes from a device with a clock
bug: a few events have negative watch durations, which the contract's quality rules
catch (the build is quarantined). ``--fix`` re-delivers such days corrected.
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
REGIONS = {
    "NL": "EU",
    "DE": "EU",
    "FR": "EU",
    "GB": "EU",
    "US": "NA",
    "BR": "LATAM",
    "IN": "APAC",
    "JP": "APAC",
}
DIALING = {"NL": "31", "DE": "49", "FR": "33", "GB": "44", "US": "1", "BR": "55", "IN": "91", "JP": "81"}
FIRST_NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kenji",
               "Lucia", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Yuki"]  # fmt: skip
LAST_NAMES = ["Jansen", "Müller", "Martin", "Smith", "Silva", "Sharma", "Tanaka", "de Vries", "Dubois",
              "Brown", "Costa", "Patel", "Sato", "Bakker", "Schmidt", "Garcia"]  # fmt: skip
PLANS = ["basic", "standard", "premium"]
VIEWERS = 5000
FIRST_DAY = date(2026, 11, 1)
#: every BAD_EVERY-th day after the first week has the clock bug (the 8th day is the first)
BAD_EVERY = 7
#: one event in this many reports a negative duration on a bad day
BAD_RATE = 400


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


def customers(rng: random.Random, count: int = VIEWERS) -> list[dict[str, object]]:
    """Billing's accounts: one per viewer id the playback events use (v00001 ...)."""
    out = []
    for i in range(1, count + 1):
        first, last, country = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.choice(COUNTRIES)
        handle = f"{first}.{last}".lower().replace(" ", "").replace("ü", "ue")
        born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 58 * 365))
        out.append(
            {
                "customer_id": f"v{i:05d}",
                "email": f"{handle}{i}@example.com",
                "full_name": f"{first} {last}",
                "phone": f"+{DIALING[country]}{rng.randint(10**8, 10**9 - 1)}" if rng.random() < 0.8 else "",
                "birth_date": born.isoformat(),
                "country": country,
                "region": REGIONS[country],
                "plan": rng.choice(PLANS),
                "signed_up": (date(2019, 1, 1) + timedelta(days=rng.randint(0, 2860))).isoformat(),
            }
        )
    return out


def is_bad(day: date) -> bool:
    """Whether the delivery of ``day`` comes with the device clock bug."""
    offset = (day - FIRST_DAY).days
    return offset >= 7 and offset % BAD_EVERY == 0


def events(rng: random.Random, catalogue: list[dict[str, object]], day: date, count: int, bad: bool = False):
    # Popularity follows a long tail: a few titles get most of the plays.
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(catalogue))]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for n in range(count):
        title = rng.choices(catalogue, weights)[0]
        runtime = int(title["runtime_minutes"]) * 60  # type: ignore[call-overload]
        watched = min(runtime, int(rng.expovariate(1 / (runtime * 0.6))) + 30)
        clock_bug = rng.random() < 1 / BAD_RATE  # drawn every day, so a fixed day keeps its other values
        if bad and clock_bug:
            watched = -watched
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
    wanted = set()
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        lines = (json.dumps(e, separators=(",", ":")) for e in events(rng, catalogue, day, per_day))
        target = out / f"events-{day}.ndjson"
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        wanted.add(target)
    for stale in set(out.glob("events-*.ndjson")) - wanted:  # days added since: the demo starts over
        stale.unlink()
    accounts = customers(random.Random(seed + 101))  # its own stream: titles and events stay as they were
    out = workspace / "customers" / "data" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "customers.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(accounts[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(accounts)


def add_day(workspace: Path, per_day: int = 8000, seed: int = 7) -> Path:
    """One more day of playback events after the newest file; returns the file written."""
    out = workspace / "playback_events" / "data" / "generated"
    days = _days(out)
    day = days[-1] + timedelta(days=1) if days else FIRST_DAY
    return _deliver(out, day, is_bad(day), per_day, seed)


def fix_days(workspace: Path, per_day: int = 8000, seed: int = 7) -> list[Path]:
    """Re-deliver every bad day there, corrected; returns the files rewritten."""
    out = workspace / "playback_events" / "data" / "generated"
    return [_deliver(out, day, False, per_day, seed) for day in _days(out) if is_bad(day)]


def _days(out: Path) -> list[date]:
    return sorted(day_of(p) for p in out.glob("events-*.ndjson"))


def day_of(path: Path) -> date:
    return date.fromisoformat(path.stem.removeprefix("events-"))


def _deliver(out: Path, day: date, bad: bool, per_day: int, seed: int) -> Path:
    catalogue = titles(random.Random(seed))
    rng = random.Random(f"{seed}-{day}")
    lines = (json.dumps(e, separators=(",", ":")) for e in events(rng, catalogue, day, per_day, bad))
    target = out / f"events-{day}.ndjson"
    out.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--add-day", "--fix")]
    root = Path(args[0]) if args else Path(__file__).parent
    if "--add-day" in sys.argv[1:]:
        written = add_day(root)
        print(f"wrote {written}" + (" (with the device clock bug)" if is_bad(day_of(written)) else ""))
    elif "--fix" in sys.argv[1:]:
        fixed = fix_days(root)
        print("\n".join(f"re-delivered {p}, corrected" for p in fixed) or "no bad day to fix")
    else:
        generate(root)
