"""Write-behind over a :class:`StateStore`: state is committed only after outputs are durable.

An agent applies a batch to a ``BufferedStore``, publishes what the batch produced, waits for
the broker to acknowledge it, and only then commits the state. A crash in between replays
the batch and re-publishes the same events (same ids, so sinks keep one copy); it can never
record state whose outputs were lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the monitor layers its own trials on one (monitors/drift_monitor.py)
    from monitors.drift_monitor import StateStore

_DELETED = object()


class BufferedStore:
    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self._pending: dict[bytes, bytes | object] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self._pending:
            value = self._pending[key]
            return None if value is _DELETED else value  # type: ignore[return-value]
        return self.inner.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self._pending[key] = value

    def delete(self, key: bytes) -> None:
        self._pending[key] = _DELETED

    def commit(self) -> int:
        """Apply buffered writes in the order they were first made; return how many."""
        count = len(self._pending)
        for key, value in self._pending.items():
            if value is _DELETED:
                self.inner.delete(key)
            else:
                self.inner.set(key, value)  # type: ignore[arg-type]
        self._pending.clear()
        return count
