"""The one query path every protocol uses.

A :class:`QueryRequest` (SQL, parameters, a version or time, the caller) goes
through the read-only guard, the policy rewrite hook, version resolution and
the result cache, then DuckDB, and comes back as Arrow record batches. REST,
GraphQL, Flight SQL, the PostgreSQL wire protocol and the CLI all call
:meth:`QueryService.execute`; none of them talks to DuckDB itself, so every
protocol sees the same data under the same rules.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
from sqlglot import exp

from daap.errors import NotFound, PermissionDenied
from daap.mesh.metadata import ACCESS_PROTOCOLS, AccessEntry
from daap.mesh.policy.access import AccessControl
from daap.mesh.policy.accesslog import AccessRecorder, NoAccessLog
from daap.mesh.policy.authn import Caller as Caller  # who asks; defined beside authentication
from daap.mesh.policy.authn import is_anonymous, no_credentials
from daap.mesh.policy.restrict import Restriction
from daap.mesh.workspace import PortData, SpecCache, Workspace
from daap.query import calls
from daap.query.cache import ResultCache
from daap.query.engine import AtSpec, QueryEngine, QueryResult
from daap.query.guard import PortRef, needs_rewrite, parameters, parse_query
from daap.query.named import bind_arguments
from daap.query.policy import Plan, ReadDenied, ReadPolicy
from daap.runtime.engine import Relation
from daap.spec.model import NamedQuery, ProductSpec

Params = Sequence[Any] | Mapping[str, Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryRequest:
    sql: str
    params: Params = ()
    at: AtSpec = None
    caller: Caller = field(default_factory=Caller)
    #: who carried it ("rest", "graphql", "flight", "pgwire", "cli"): a label of the query metrics
    protocol: str = "sql"
    #: read each product's quarantined build instead of its latest version, where it has one
    quarantined: bool = False


class Metrics(Protocol):
    """Where the service reports each query (:class:`daap.mesh.observe.metrics.QueryMetrics`)."""

    def observe(self, protocol: str, ports: Sequence[PortRef], seconds: float, *, cached: bool) -> None: ...
    def failed(self, protocol: str, error: BaseException) -> None: ...


class NoMetrics:
    """Keeps nothing: for one-shot callers (the CLI) that never expose metrics."""

    def observe(self, protocol: str, ports: Sequence[PortRef], seconds: float, *, cached: bool) -> None:
        return None

    def failed(self, protocol: str, error: BaseException) -> None:
        return None


#: a policy rewrite: (parsed query, the ports it reads, the caller) -> the query to run, or a
#: plan with the restricted relations that take the place of some ports
Rewrite = Callable[[exp.Query, tuple[PortRef, ...], Caller], exp.Query | Plan]


def no_rewrite(tree: exp.Query, refs: tuple[PortRef, ...], caller: Caller) -> exp.Query:
    return tree


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: pa.DataType
    nullable: bool = True
    description: str | None = None


@dataclass(frozen=True)
class TableInfo:
    """A published output port as a table: what catalogs and schemas are built from."""

    product: str
    port: str
    version: int
    columns: tuple[ColumnInfo, ...]
    description: str | None = None


class QueryService:
    """Runs requests for every protocol; safe to share between threads."""

    def __init__(
        self,
        ws: Workspace,
        *,
        cache_bytes: int = 256 << 20,
        rewrite: Rewrite = no_rewrite,
        metrics: Metrics | None = None,
    ) -> None:
        self.ws = ws
        if metrics is None:  # prometheus_client costs ~70 ms to import: only when metrics are kept
            from daap.mesh.observe.metrics import QueryMetrics

            metrics = QueryMetrics()
        self.metrics: Metrics = metrics
        self.engine = QueryEngine(ws)
        self.cache = ResultCache(cache_bytes)
        self.rewrite = rewrite
        #: the access control in force, once :meth:`enforce_policies` was called
        self.access: AccessControl | None = None
        #: where decisions about authenticated callers are logged
        self.recorder: AccessRecorder = NoAccessLog()
        self._lock = threading.RLock()
        self._specs = SpecCache(ws)

    def enforce_policies(
        self, control: AccessControl | None = None, recorder: AccessRecorder | None = None
    ) -> AccessControl:
        """Decide every query by the products' access policies, restricted by their row filters
        and masks (see :mod:`daap.query.policy`), and log the decisions; returns the access
        control in force."""
        control = control or AccessControl.for_mesh(self.ws.config)
        self.rewrite = ReadPolicy(self.product_spec, control)
        self.access = control
        if recorder is not None:
            self.recorder = recorder
        return control

    def execute(self, request: QueryRequest, *, probe: bool = False) -> QueryResult:
        """Run ``request``; results small enough are cached.

        Args:
            request: the query.
            probe: a look at the result's columns (a ``LIMIT 0`` wrapper), not a
                query of its own: left out of the query metrics.

        Raises:
            QueryRefused, NotFound, QueryError: with the protocol-independent message.
        """
        start = time.perf_counter()
        try:
            result, refs = self._execute(request)
        except Exception as exc:
            if not probe:
                self.metrics.failed(request.protocol, exc)
            raise
        if not probe:
            elapsed = time.perf_counter() - start
            self.metrics.observe(request.protocol, refs, elapsed, cached=result.from_cache)
        return result

    def _execute(self, request: QueryRequest) -> tuple[QueryResult, tuple[PortRef, ...]]:
        """The result, ready to read, and the ports the query reads."""
        tree, refs = parse_query(request.sql)
        if is_anonymous(request.caller) and (self.access is None or not refs):
            raise no_credentials()  # a request without a token reads public products, nothing else
        if request.caller.principal is not None and self.access is not None:
            for product in dict.fromkeys(r.product for r in refs):
                try:
                    self.product_spec(product, request.caller)  # one it may not discover is unknown
                except NotFound:
                    self._note(request, product, "discover", False, ())
                    raise
        expanded = bool(calls.calls(tree))
        if expanded:
            tree, called = calls.expand(tree, lambda p, n: self.named_query(p, n, request.caller))
            refs = refs + tuple(r for r in called if r not in refs)
        with self._lock:  # one metadata connection serves the version lookups
            ports = [self.ws.port_data(r.product, r.port, _at_for(request.at, r)) for r in refs]
            if request.quarantined:
                ports = [self._held(p) for p in ports]
        versions = {f"{p.product}.{p.port}": p.version.version for p in ports}
        try:
            planned = self.rewrite(tree, refs, request.caller)
        except ReadDenied as exc:
            self._note(request, exc.product, "read", False, exc.policies)
            raise
        plan = planned if isinstance(planned, Plan) else Plan(planned)
        for product, policies in plan.reads.items():
            self._note(request, product, "read", True, policies)
        if plan.restrictions:
            ports = [_restricted(p, plan.restrictions.get(PortRef(p.product, p.port))) for p in ports]
        unchanged = plan.tree is tree and not expanded and not needs_rewrite(tree)
        sql = request.sql if unchanged else plan.tree.sql("duckdb")
        key = (
            tree.sql("duckdb"),
            _freeze(request.params),
            request.caller.fingerprint,
            _freeze(versions),
            request.quarantined,
            tuple(sorted((str(r), v.signature) for r, v in plan.restrictions.items())),
        )
        cached = self.cache.get(key) if self.cache.capacity else None
        if cached is not None:
            reader = pa.RecordBatchReader.from_batches(cached.schema, cached.to_batches())
            return QueryResult(reader, _by_product(versions), from_cache=True), refs
        result = self.engine.run(sql, ports, request.params)
        running = QueryResult(
            self._caching(result.reader, key),
            _by_product(versions),
            _con=result._con,
            _release=result._release,
        )
        return running, refs

    def _note(self, request: QueryRequest, product: str, action: str, allowed: bool, policies: Any) -> None:
        """Put a decision about an authenticated caller in the access log."""
        if request.caller.principal is None:
            return
        protocol = request.protocol
        if protocol not in ACCESS_PROTOCOLS:  # never fail a query for the log
            log.warning("access log: unknown protocol %r, recorded as sql", protocol)
            protocol = "sql"
        entry = AccessEntry(
            datetime.now(UTC), request.caller.name, product, None, action, allowed, tuple(policies), protocol
        )
        self.recorder.record(entry)

    def _held(self, data: PortData) -> PortData:
        """The port as the product's quarantined build has it (its staged files), if it has one."""
        held = self.ws.metadata.quarantined(data.product)
        info = held.ports.get(data.port) if held is not None else None
        if info is None:
            return data
        return replace(data, relation=Relation.parquet(info["files"]))

    def schema(self, request: QueryRequest) -> pa.Schema:
        """The result's columns without reading data (prepared statements): parameters as NULL.

        Not counted as a query; its errors are (the client sees them).
        """
        try:
            tree, _ = parse_query(request.sql)
            params = _null_params(request.params) if request.params else _nulls_for(parameters(tree))
            probe = f"SELECT * FROM ({request.sql.strip().rstrip(';')}) AS q LIMIT 0"
            probing = QueryRequest(probe, params, request.at, request.caller, request.protocol)
            result = self.execute(probing, probe=True)
        except Exception as exc:
            self.metrics.failed(request.protocol, exc)
            raise
        try:
            return result.schema
        finally:
            result.close()

    def _caching(self, reader: pa.RecordBatchReader, key: Any) -> pa.RecordBatchReader:
        """Pass batches through; keep the whole result if it stays under the entry limit."""
        limit = self.cache.max_entry

        def batches() -> Iterator[pa.RecordBatch]:
            kept: list[pa.RecordBatch] | None = []
            size = 0
            for batch in reader:
                if kept is not None:
                    size += batch.nbytes
                    kept = [*kept, batch] if size <= limit else None
                yield batch
            if kept is not None:
                self.cache.put(key, pa.Table.from_batches(kept, reader.schema))

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    # -- named queries and tables ------------------------------------------------

    def named(
        self,
        product: str,
        name: str,
        args: Mapping[str, Any],
        at: AtSpec = None,
        caller: Caller | None = None,
        protocol: str = "sql",
    ) -> QueryRequest:
        """The request for a product's named query with ``args`` checked and typed.

        Raises:
            NotFound: no such product or query.
            QueryError: a missing, unknown or mistyped argument.
        """
        query = self.named_query(product, name, caller)
        return QueryRequest(query.sql, bind_arguments(query, args), at, caller or Caller(), protocol)

    def named_query(self, product: str, name: str, caller: Caller | None = None) -> NamedQuery:
        spec = self.product_spec(product, caller)
        query = spec.query(name)
        if query is None:
            known = ", ".join(q.name for q in spec.queries) or "none"
            raise NotFound(f"{product} has no named query {name!r} (queries: {known})")
        return query

    def product_spec(self, product: str, caller: Caller | None = None) -> ProductSpec:
        """The spec of ``product``, if ``caller`` may discover it.

        Raises:
            NotFound: no such product; for a caller under policies, also a product it may not
                discover, with the same message (its existence is not given away).
        """
        if caller is not None and is_anonymous(caller) and self.access is None:
            raise no_credentials()
        if caller is None or caller.principal is None or self.access is None:
            return self._specs.find(product)
        try:
            spec = self._specs.find(product)
        except NotFound:
            spec = None
        if spec is None or not self.visible(caller, spec):
            if is_anonymous(caller):
                raise no_credentials()
            raise NotFound(f"no product {product!r}", hint="`GET /api/tables` lists the products you may see")
        return spec

    def require(self, caller: Caller, product: str, action: str) -> ProductSpec:
        """The spec of ``product`` if ``caller`` may do ``action`` on it.

        Raises:
            NotFound: as :meth:`product_spec`.
            PermissionDenied: it may discover the product but not do ``action``.
        """
        spec = self.product_spec(product, caller)
        principal = caller.principal
        if principal is not None and self.access is not None and not self.may(caller, spec, action):
            if is_anonymous(caller):
                raise no_credentials()
            raise PermissionDenied(
                f"permission denied: {caller.name} may not {action} {product}",
                hint=f"`daap access explain {product} --as {caller.name}` shows why",
            )
        return spec

    def may(self, caller: Caller, spec: ProductSpec, action: str) -> bool:
        """Whether ``caller`` may do ``action`` on ``spec`` (always, without policies)."""
        if caller.principal is None or self.access is None:
            return True
        return self.access.decide(caller.principal, spec, action).allowed

    def visible_products(
        self, caller: Caller, specs: Sequence[ProductSpec] | None = None
    ) -> frozenset[str] | None:
        """The names of the products (``specs``, default the workspace's) ``caller`` may discover;
        None when no policy restricts it (every product). An anonymous caller without policies may
        discover nothing."""
        if is_anonymous(caller) and self.access is None:
            return frozenset()
        if caller.principal is None or self.access is None:
            return None
        return frozenset(
            s.name for s in (self.products() if specs is None else specs) if self.visible(caller, s)
        )

    def visible(self, caller: Caller, spec: ProductSpec) -> bool:
        """Whether ``caller`` may discover ``spec`` (``read`` implies ``discover``)."""
        principal = caller.principal
        if principal is None or self.access is None:
            return True
        decide = self.access.decide
        return decide(principal, spec, "discover").allowed or decide(principal, spec, "read").allowed

    def products(self) -> list[ProductSpec]:
        """The workspace's products whose descriptors are valid.

        Parsed specs are kept while none of their files changed (modification
        times), so named-query calls and catalog refreshes do not re-read YAML.
        """
        specs = []
        for folder in self.ws.product_folders():
            try:
                specs.append(self._specs.load(folder))
            except Exception:  # an invalid product is not served; its build reports why
                continue
        return specs

    def tables(self, caller: Caller | None = None) -> list[TableInfo]:
        """Every published output port, at its latest version, with its columns.

        For a caller under policies, only the products it may discover.
        """
        specs = {s.name: s for s in self.products()}
        found = []
        with self._lock:
            published = {p: sorted(self.ws.version(p).ports) for p in self.ws.metadata.products()}
        if caller is not None and is_anonymous(caller) and self.access is None:
            raise no_credentials()
        if caller is not None and caller.principal is not None and self.access is not None:
            published = {
                p: ports for p, ports in published.items() if p in specs and self.visible(caller, specs[p])
            }
            if not published and is_anonymous(caller):
                raise no_credentials()  # no public product: say what is missing rather than list nothing
        for product, ports in published.items():
            for port in ports:
                found.append(self.table(product, port, specs.get(product)))
        return found

    def table(self, product: str, port: str, spec: ProductSpec | None = None, at: AtSpec = None) -> TableInfo:
        with self._lock:
            data = self.ws.port_data(product, port, _at_for(at, PortRef(product, port)))
        schema = self.engine.relation_schema(data.relation)
        output = spec.output_port(port) if spec else None
        contract = output.contract if output else None
        columns = []
        for f in schema:
            column = contract.column(f.name) if contract else None
            required = column is not None and (column.required or column.primary_key)
            description = column.description if column else None
            columns.append(ColumnInfo(f.name, f.type, not required, description))
        description = output.description if output else None
        return TableInfo(product, port, data.version.version, tuple(columns), description)


def _restricted(data: PortData, restriction: Restriction | None) -> PortData:
    """The port as its reader sees it: the restricted relation in place of the port's own."""
    if restriction is None:
        return data
    return replace(data, relation=replace(data.relation, select=restriction.relation))


def _at_for(at: AtSpec, ref: PortRef) -> Any:
    if isinstance(at, Mapping):
        return at.get(ref.product)
    return at


def _by_product(versions: Mapping[str, int]) -> dict[str, int]:
    return {ref.split(".", 1)[0]: v for ref, v in versions.items()}


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _nulls_for(found: list[str] | int) -> Params:
    return {name: None for name in found} if isinstance(found, list) else [None] * found


def _null_params(params: Params) -> Params:
    if isinstance(params, Mapping):
        return {k: None for k in params}
    return [None] * len(params)
