"""Responses that carry query results: a page held in memory, or a stream closed whatever happens.

Why a subclass of ``StreamingResponse``: when a client leaves mid-stream,
Starlette stops iterating but leaves the body generator suspended until the
garbage collector finds it, holding an engine connection open meanwhile.
:class:`ResultStream` closes the query as soon as the response ends, for any
reason, on a worker thread (closing may wait for the engine) and shielded
from the cancellation that ended the response.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from typing import Any

import anyio
import pyarrow as pa
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Send

from daap.query.engine import QueryResult
from daap.servers.rest.formats import Format

log = logging.getLogger(__name__)
VERSIONS_HEADER = "X-Daap-Versions"


def versions_header(versions: Mapping[str, int]) -> dict[str, str]:
    """``X-Daap-Versions: orders=3,titles=1``: the version of every product the response read."""
    return {VERSIONS_HEADER: ",".join(f"{p}={v}" for p, v in sorted(versions.items()))}


def envelope(versions: Mapping[str, int], following: str | None = None) -> dict[str, Any]:
    """The JSON body's fields after ``rows``; ``version`` only when one product was read."""
    single = next(iter(versions.values())) if len(versions) == 1 else None
    return {"next": following, "version": single, "versions": dict(versions)}


def page_response(rows: pa.Table, fmt: Format, meta: dict[str, Any], headers: dict[str, str]) -> Response:
    """A page (at most ``_size`` rows, already read): sent whole, with a Content-Length."""
    body = b"".join(fmt.encoder(rows.schema, rows.to_batches(), meta))
    return Response(body, media_type=fmt.media_type, headers=headers)


def stream_response(
    result: QueryResult, fmt: Format, meta: dict[str, Any], headers: dict[str, str]
) -> Response:
    """Stream ``result``; the first batch is read here so that early engine errors still get a status."""
    batches: Iterable[pa.RecordBatch]
    try:
        batches = itertools.chain([result.reader.read_next_batch()], result.reader)
    except StopIteration:
        batches = ()
    except BaseException:
        result.close()
        raise
    try:
        chunks = fmt.encoder(result.schema, batches, meta)
    except BaseException:
        result.close()
        raise
    return ResultStream(chunks, result.close, fmt.media_type, headers)


class ResultStream(StreamingResponse):
    """Sends ``chunks`` (made on worker threads), then calls ``close`` however the response ended."""

    def __init__(
        self, chunks: Iterator[bytes], close: Callable[[], None], media_type: str, headers: dict[str, str]
    ) -> None:
        self._pump = _pump(chunks)
        self._close = close
        super().__init__(self._pump, media_type=media_type, headers=headers)

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._pump.aclose()
                await run_in_threadpool(self._close)


async def _pump(chunks: Iterator[bytes]) -> AsyncGenerator[bytes, None]:
    """Each chunk computed on a worker thread: the engine never runs on the event loop."""
    try:
        while True:
            chunk = await run_in_threadpool(next, chunks, None)
            if chunk is None:
                return
            if chunk:
                yield chunk
    except Exception:
        log.exception("a streamed response failed after it started; the client gets a truncated body")
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_close_generator, chunks)


def _close_generator(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
