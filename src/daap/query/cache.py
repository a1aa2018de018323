"""Result cache: small results kept as Arrow, bounded by bytes, least recently used out.

The key holds everything that decides a result: the normalised SQL, the
parameters, the caller's policy fingerprint and the version of every product
read. A new version or another caller's policy is another key, so the cache
can never serve stale data or someone else's rows; nothing ever needs to be
invalidated.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import pyarrow as pa


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0
    capacity: int = 0


class ResultCache:
    """Thread-safe LRU of Arrow tables, at most ``capacity`` bytes in all.

    Args:
        capacity: bytes for all entries; 0 turns the cache off.
        max_entry: the largest result kept (default: an eighth of ``capacity``).
    """

    def __init__(self, capacity: int, max_entry: int | None = None) -> None:
        self.capacity = capacity
        self.max_entry = capacity // 8 if max_entry is None else max_entry
        self._entries: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: Hashable) -> pa.Table | None:
        with self._lock:
            table = self._entries.get(key)
            if table is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return table

    def put(self, key: Hashable, table: pa.Table) -> bool:
        """Keep ``table`` if it fits; returns whether it was kept."""
        size = table.nbytes
        if size > self.max_entry or size > self.capacity:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = table
            self._bytes += size
            while self._bytes > self.capacity:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
        return True

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self._bytes, self.capacity)
