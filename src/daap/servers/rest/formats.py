"""Response formats: chosen by ``?_format=`` or ``Accept``, each an encoder of record batches to bytes.

Every encoder is a generator over Arrow batches, so a response of any size
streams in pieces of one batch (64k rows) and never exists whole in memory.
Adding a format is one entry in :data:`FORMATS` (STYLE habit 5).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from daap.servers.rest import jsonrows
from daap.servers.rest.errors import InvalidRequest

Encoder = Callable[[pa.Schema, Iterable[pa.RecordBatch], dict[str, Any]], Iterator[bytes]]


class _Chunks(io.RawIOBase):
    """A write-only file whose bytes are taken out after each batch (what the writers write to)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def _json(schema: pa.Schema, batches: Iterable[pa.RecordBatch], meta: dict[str, Any]) -> Iterator[bytes]:
    """``{"rows": [...], <meta>}``: the rows stream first, ``next`` and versions follow."""
    yield b'{"rows":['
    separator = b""
    for batch in batches:
        text = jsonrows.lines(batch, ",")
        if text:
            yield separator + text[:-1]
            separator = b","
    yield b"]" + (b"," + jsonrows.dumps(meta)[1:].encode() if meta else b"}")


def _ndjson(schema: pa.Schema, batches: Iterable[pa.RecordBatch], meta: dict[str, Any]) -> Iterator[bytes]:
    for batch in batches:
        yield jsonrows.lines(batch, "\n")


def _streamed(
    open_writer: Callable[[Any, pa.Schema], Any], schema: pa.Schema, batches: Iterable[pa.RecordBatch]
) -> Iterator[bytes]:
    """Bytes of a batch-at-a-time writer (CSV, Arrow IPC), handed on as each batch is written."""
    sink = _Chunks()
    with open_writer(sink, schema) as writer:
        yield sink.take()
        for batch in batches:
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def _csv(schema: pa.Schema, batches: Iterable[pa.RecordBatch], meta: dict[str, Any]) -> Iterator[bytes]:
    return _streamed(pacsv.CSVWriter, schema, batches)


def _arrow(schema: pa.Schema, batches: Iterable[pa.RecordBatch], meta: dict[str, Any]) -> Iterator[bytes]:
    return _streamed(ipc.new_stream, schema, batches)


def _parquet(schema: pa.Schema, batches: Iterable[pa.RecordBatch], meta: dict[str, Any]) -> Iterator[bytes]:
    """One row group per batch; the footer (and so a readable file) comes with the last chunk."""
    sink = _Chunks()
    with pq.ParquetWriter(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def _flat_only(name: str, schema: pa.Schema) -> None:
    nested = [f"{f.name} ({f.type})" for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise InvalidRequest(
            "_format",
            f"{name} cannot hold the nested column(s) {', '.join(nested)}",
            hint="ask for json, ndjson, arrow or parquet",
        )


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    encode: Encoder
    #: other media types an Accept header may name it by
    aliases: tuple[str, ...] = ()
    check: Callable[[str, pa.Schema], None] | None = None

    def encoder(
        self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], meta: dict[str, Any]
    ) -> Iterator[bytes]:
        """Check the schema fits (before any byte is sent), then the encoder."""
        if self.check is not None:
            self.check(self.name, schema)
        return self.encode(schema, batches, meta)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("json", "application/json", _json),
        Format("ndjson", "application/x-ndjson", _ndjson, ("application/ndjson", "application/jsonl")),
        Format("csv", "text/csv; charset=utf-8", _csv, ("text/csv",), _flat_only),
        Format("arrow", "application/vnd.apache.arrow.stream", _arrow),
        Format("parquet", "application/vnd.apache.parquet", _parquet, ("application/x-parquet",)),
    )
}
DEFAULT = FORMATS["json"]
DESCRIPTION = (
    "Response format: json (an object with rows, next and versions), ndjson (one JSON object per line, "
    "streamed), csv (a header row; values as Arrow's CSV writer prints them, timestamps with a space "
    "before the time), arrow (Arrow IPC stream), parquet. Overrides the Accept header "
    "(application/json, application/x-ndjson, text/csv, application/vnd.apache.arrow.stream, "
    "application/vnd.apache.parquet). " + jsonrows.ENCODING
)


def _by_media_type() -> dict[str, Format]:
    found = {}
    for f in FORMATS.values():
        for media in (f.media_type.split(";")[0], *f.aliases):
            found[media] = f
    return found


def choose(requested: str | None, accept: str | None) -> Format:
    """The format ``?_format=`` names, else the first acceptable one, else JSON.

    Raises:
        InvalidRequest: ``_format`` names no format.
    """
    if requested:
        found = FORMATS.get(requested.strip().lower())
        if found is None:
            raise InvalidRequest(
                "_format", f"unknown format {requested!r}", hint=f"use one of {', '.join(FORMATS)}"
            )
        return found
    known = _by_media_type()
    for media in _preferred(accept or ""):
        if media in known:
            return known[media]
    return DEFAULT


def _preferred(accept: str) -> list[str]:
    """Media types of an Accept header, highest quality first (ties keep their order)."""
    ranked = []
    for position, item in enumerate(accept.split(",")):
        media, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, position, media.lower()))
    return [media for _, _, media in sorted(ranked)]
