"""Session commands, answered without touching data: SET, SHOW, RESET, transactions, DISCARD.

Transactions are trivially read-only, so ``BEGIN``/``COMMIT``/``ROLLBACK`` only move the
transaction status clients see in ReadyForQuery. Settings are remembered per session
and reported back by ``SHOW`` and ``current_setting()``; one of them matters to daap:

``daap.at`` — time travel. ``SET daap.at = '3'`` reads every product at version 3,
``SET daap.at = '2026-11-24T10:00:00Z'`` as published at that time, ``RESET daap.at``
(or ``''``, ``'latest'``) the latest version again. Also as a startup option:
``PGOPTIONS='-c daap.at=3' psql ...`` or ``options=-c daap.at=3`` in a connection string.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import MutableMapping
from dataclasses import dataclass

import pyarrow as pa

from daap.mesh.workspace import At
from daap.servers.pgwire.errors import PgError

_SET = re.compile(
    r"^SET\s+(?:SESSION\s+|LOCAL\s+)?([\w.\"]+)\s*(?:=|\s+TO\s+|\s)\s*(.*?)\s*;?\s*$", re.I | re.S
)
_SET_TIME_ZONE = re.compile(r"^SET\s+(?:SESSION\s+|LOCAL\s+)?TIME\s+ZONE\s+(.*?)\s*;?\s*$", re.I | re.S)
_TAGS = {
    "begin": "BEGIN",
    "start": "BEGIN",
    "commit": "COMMIT",
    "end": "COMMIT",
    "rollback": "ROLLBACK",
    "abort": "ROLLBACK",
    "discard": "DISCARD ALL",
    "deallocate": "DEALLOCATE",
    "close": "CLOSE CURSOR",
    "listen": "LISTEN",
    "unlisten": "UNLISTEN",
    "reset": "RESET",
    "savepoint": "SAVEPOINT",
    "release": "RELEASE",
}


@dataclass(frozen=True)
class Answer:
    tag: str
    table: pa.Table | None = None


def run(sql: str, settings: MutableMapping[str, str], defaults: MutableMapping[str, str]) -> Answer:
    """Apply one session command to ``settings``.

    Raises:
        PgError: 22023 for an invalid ``daap.at``; 42704 for SHOW of an unknown setting.
    """
    verb = sql.split(None, 1)[0].lower()
    if verb == "set":
        _set(sql, settings)
        return Answer("SET")
    if verb == "show":
        return _show(sql, settings)
    if verb == "reset":
        name = sql.split(None, 1)[1].strip().rstrip(";").strip('"') if len(sql.split()) > 1 else "all"
        for key in list(settings) if name.lower() == "all" else [name]:
            settings[key] = defaults.get(key, "")
    return Answer(_TAGS.get(verb, verb.upper()))


def _set(sql: str, settings: MutableMapping[str, str]) -> None:
    zone = _SET_TIME_ZONE.match(sql)
    found = _SET.match(sql)
    if zone:
        settings["TimeZone"] = _unquote(zone.group(1))
    elif found and found.group(1).lower() not in ("transaction", "session", "constraints", "role"):
        name, value = found.group(1).strip('"'), _unquote(found.group(2))
        if name.lower() == "daap.at":
            parse_at(value)  # refuse a bad value now, not at the next query
        key = next((k for k in settings if k.lower() == name.lower()), name)
        settings[key] = value


def _show(sql: str, settings: MutableMapping[str, str]) -> Answer:
    name = " ".join(sql.split()[1:]).rstrip(";").strip().strip('"')
    if name.lower() == "all":
        names, values = list(settings), list(settings.values())
        return Answer("SHOW", pa.table({"name": names, "setting": values}))
    aliases = {"transaction isolation level": "transaction_isolation", "time zone": "TimeZone"}
    name = aliases.get(name.lower(), name)
    key = next((k for k in settings if k.lower() == name.lower()), None)
    if key is None:
        raise PgError("42704", f'unrecognized configuration parameter "{name}"')
    return Answer("SHOW", pa.table({name.lower(): [settings[key]]}))


def _unquote(value: str) -> str:
    value = value.strip()
    if value.upper() == "DEFAULT":
        return ""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace(value[0] * 2, value[0])
    return value


def parse_at(value: str) -> At:
    """``daap.at`` as a version number, a time, or None (latest).

    Raises:
        PgError: 22023 when it is neither.
    """
    text = value.strip()
    if text.lower() in ("", "latest", "default"):
        return None
    if text.isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise PgError(
            "22023",
            f"invalid value for daap.at: {value!r}",
            hint="use a version number ('3'), an ISO time ('2026-11-24T10:00:00Z') or 'latest'",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def startup_options(options: str) -> dict[str, str]:
    """``-c name=value`` pairs from the startup ``options`` parameter (``--name=value`` too)."""
    found = re.findall(r"(?:-c\s*|--)([\w.]+)=((?:\\ |\S)+)", options)
    return {name: value.replace("\\ ", " ") for name, value in found}
