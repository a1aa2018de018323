"""Accepting OpenLineage run events from jobs outside daap (Airflow, Spark, dbt), as Marquez does.

:func:`parse_event` checks what the lineage graph relies on and names the first
problem by its path in the event (``run.runId``, ``inputs[2].name``); a bad
event is refused whole, so nothing of it is kept. The event is stored as sent,
facets and all. Its datasets join the graph: a dataset in a daap namespace
(``daap://<mesh>``) named ``<product>.<port>`` is that product; any other is a
node of its own, ``dataset:<namespace>/<name>``, and the job is ``job:<namespace>/<name>``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from daap.mesh.metadata import LineageEvent

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
#: the largest event accepted, in bytes
MAX_EVENT_BYTES = 1 << 20
DAAP_NAMESPACE = "daap://"


class EventError(ValueError):
    """An event daap cannot accept; the message names the field."""


def parse_event(data: Any) -> LineageEvent:
    """The event's lineage, checked.

    Raises:
        EventError: not a run event, or a field the graph needs is missing or of the wrong kind.
    """
    if not isinstance(data, dict):
        raise EventError(f"an OpenLineage run event is a JSON object, got {_kind(data)}")
    if "run" not in data and ("dataset" in data or ("job" in data and "eventType" not in data)):
        raise EventError("only run events are accepted (this looks like a dataset or job event)")
    kind = data.get("eventType", "OTHER")
    if kind not in EVENT_TYPES:
        raise EventError(f"eventType must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")
    when = _text(data, "eventTime")
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise EventError(f"eventTime must be an ISO 8601 time, got {when!r}") from None
    if moment.tzinfo is None:
        raise EventError(f"eventTime must have a time zone (Z or +hh:mm), got {when!r}")
    _text(data, "producer")
    run = _object(data, "run")
    run_id = _text(run, "runId", "run.")
    try:
        uuid.UUID(run_id)
    except ValueError:
        raise EventError(f"run.runId must be a UUID, got {run_id!r}") from None
    job = _object(data, "job")
    namespace, name = _text(job, "namespace", "job."), _text(job, "name", "job.")
    inputs = _datasets(data, "inputs")
    outputs = _datasets(data, "outputs")
    return LineageEvent(when, kind, namespace, name, run_id, inputs, outputs, data)


def dataset_node(namespace: str, name: str) -> str:
    """A dataset as a lineage node: the daap product it is, or ``dataset:<namespace>/<name>``."""
    if namespace.startswith(DAAP_NAMESPACE) and name.count(".") == 1:
        return name.split(".")[0]
    return f"dataset:{namespace}/{name}"


def job_node(namespace: str, name: str) -> str:
    return f"job:{namespace}/{name}"


def _datasets(data: dict[str, Any], key: str) -> tuple[tuple[str, str], ...]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise EventError(f"{key} must be a list of datasets, got {_kind(value)}")
    found = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise EventError(f"{where} must be an object with namespace and name, got {_kind(item)}")
        found.append((_text(item, "namespace", f"{where}."), _text(item, "name", f"{where}.")))
    return tuple(found)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise EventError(f"{key} must be an object, got {_kind(value)}")
    return value


def _text(data: dict[str, Any], key: str, prefix: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise EventError(f"{prefix}{key} must be a non-empty string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return kinds.get(type(value), "a number")


__all__ = ["EVENT_TYPES", "MAX_EVENT_BYTES", "EventError", "dataset_node", "job_node", "parse_event"]
