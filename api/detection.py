"""On-demand drift detection over two uploaded tables (CSV or Parquet).

Reads the files with pyarrow, profiles the reference with :func:`drift.build_profile` and
judges the current table with :func:`drift.compare`, the same core the stream worker and
``driftline detect`` use, so the JSON is ``DatasetReport.to_dict()`` unchanged.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Literal

import numpy as np
import pyarrow as pa

from drift import DriftPolicy, build_profile, compare

Kind = Literal["numeric", "categorical"]


class DetectionError(ValueError):
    """The files or options cannot be compared; the message says which and why."""


class UploadSlots:
    """At most ``size`` uploads parsed and compared at once: each holds its two tables in
    memory, so the cap (not the request rate) bounds the API's memory under concurrent
    uploads. A request that finds no free slot is told to retry, never queued unboundedly."""

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)

    @contextlib.contextmanager
    def claim(self) -> Iterator[bool]:
        """Yields whether a slot was free; frees it (and the memory used) afterwards."""
        got = self._slots.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self._slots.release()
                release_memory()


def release_memory() -> None:
    """Hand freed memory back to the OS: Arrow's pool and glibc's arenas keep it otherwise,
    and an API that parsed a few large uploads would hold its peak for good."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def read_table(data: BinaryIO, filename: str | None, label: str) -> pa.Table:
    """A table from an uploaded file, read from its (spooled) file object as it is: no
    second copy of the upload in memory."""
    name = (filename or "").lower()
    head = data.read(4)
    data.seek(0)
    parquet = name.endswith((".parquet", ".pq")) or head == b"PAR1"
    try:
        if parquet:
            import pyarrow.parquet as pq

            return pq.read_table(data)
        import pyarrow.csv as pacsv

        return pacsv.read_csv(data)
    except (pa.ArrowException, OSError, ValueError) as exc:
        kind = "Parquet" if parquet else "CSV"
        raise DetectionError(f"{label}: not a readable {kind} file: {str(exc)[:200]}") from None


def column_kind(column: pa.ChunkedArray) -> Kind | None:
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
            or pa.types.is_dictionary(t) or pa.types.is_null(t)):
        return "categorical"
    return None


def values(column: pa.ChunkedArray, kind: Kind) -> Any:
    if kind == "numeric":
        return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return [None if v is None else str(v) for v in column.to_pylist()]


def detect(reference: pa.Table, current: pa.Table, *, alpha: float = 0.05,
           features: Sequence[str] = (), categorical: Sequence[str] = ()) -> dict[str, Any]:
    names = list(features) or [c for c in reference.column_names if c in current.column_names]
    if not names:
        raise DetectionError("the two files have no column in common")
    for name in [*names, *categorical]:
        for label, table in (("reference", reference), ("current", current)):
            if name not in table.column_names:
                raise DetectionError(f"{label}: no column {name!r}")
    profiles, current_values = {}, {}
    for name in names:
        kind: Kind | None = "categorical" if name in categorical else column_kind(reference[name])
        if kind is None:
            if features:
                raise DetectionError(f"column {name!r} of type {reference[name].type} is neither "
                                     "numeric nor categorical")
            continue
        profiles[name] = build_profile(values(reference[name], kind), kind)
        current_values[name] = values(current[name], kind)
    if not profiles:
        raise DetectionError("no numeric or categorical column to compare")
    try:
        report = compare(profiles, current_values, DriftPolicy(alpha=alpha))
    except (ValueError, TypeError) as exc:
        raise DetectionError(str(exc)) from None
    return _finite(report.to_dict())


def _finite(obj: Any) -> Any:
    """JSON has no NaN or infinity: such statistics are reported as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
