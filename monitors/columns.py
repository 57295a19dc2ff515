"""A batch's feature values as columns, built once and sliced per window and per detector.

The monitor used to walk every observation once per feature for each window chunk it wrote
and again for each detector's array. :class:`Columns` reads each feature of a batch in one
pass per feature: numeric features into one float64 array (NaN = missing) straight from the
values when they are all numbers or missing (the common case, checked by type in C), value
by value otherwise; categorical features as their text. Windows and detectors then take rows
by index. What the monitor counts per row (values of the wrong type, features the reference
did not have) is kept per row, so only the rows a window takes are counted — as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitors.state import Chunk

_NUMBER_TYPES = frozenset({float, int, type(None)})


def category_text(value: Any) -> str | None:
    """How a value reads as a category; numbers that are whole read without a decimal point."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numeric_column(values: Sequence[Any]) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
    """(float64 array with NaN for missing, per-row 1 where a value was not a number — or
    None when every value was a number or missing)."""
    if set(map(type, values)) <= _NUMBER_TYPES:  # bool is not int here: type(), not isinstance
        return np.array(values, dtype=np.float64), None
    column = np.full(len(values), np.nan)
    wrong = np.zeros(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        if is_number(value):
            column[i] = value
        elif value is not None:
            wrong[i] = 1
    return column, wrong


def _transposed(features: Sequence[Mapping[str, Any]],
                names: tuple[str, ...]) -> dict[str, Sequence[Any]] | None:
    """Each name's values, row by row, read in C — or None when some row lacks a name (then
    the caller reads ``get`` by ``get``)."""
    if not names:
        return {}
    try:
        rows = list(map(itemgetter(*names), features))
    except KeyError:
        return None
    if len(names) == 1:
        return {names[0]: rows}
    return dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {
        name: () for name in names}


@dataclass
class Columns:
    numeric: dict[str, NDArray[np.float64]]
    categorical: dict[str, list[str | None]]
    #: per row: values of the wrong type (None: none at all), features not in the reference
    mismatches: NDArray[np.int64] | None
    unknown: NDArray[np.int64] | None

    @classmethod
    def build(cls, features: Sequence[Mapping[str, Any]], kinds: Mapping[str, str]) -> Columns:
        numeric: dict[str, NDArray[np.float64]] = {}
        categorical: dict[str, list[str | None]] = {}
        mismatches: NDArray[np.int64] | None = None
        names = tuple(kinds)
        columns = _transposed(features, names)
        for name, kind in kinds.items():
            values = columns[name] if columns is not None else [f.get(name) for f in features]
            if kind == "numeric":
                numeric[name], wrong = numeric_column(values)
                if wrong is not None:
                    mismatches = wrong if mismatches is None else mismatches + wrong
            else:
                categorical[name] = [v if type(v) is str else category_text(v) for v in values]
        if columns is not None:  # every row has every name: what else it has is unknown
            extra = [size - len(names) for size in map(len, features)]
        else:
            known = kinds.keys()
            extra = [0 if f.keys() <= known else len(f.keys() - known) for f in features]
        unknown = np.array(extra, dtype=np.int64) if any(extra) else None
        return cls(numeric, categorical, mismatches, unknown)

    def chunk(self, rows: Sequence[int]) -> Chunk:
        """The values of ``rows`` (positions in the batch), in that order."""
        index = np.asarray(rows, dtype=np.intp)
        contiguous = index.size > 0 and index[-1] - index[0] + 1 == index.size
        if contiguous:  # a count window's rows: a view, no gather
            start, stop = int(index[0]), int(index[-1]) + 1
            return Chunk(numeric={n: c[start:stop].copy() for n, c in self.numeric.items()},
                         categorical={n: c[start:stop] for n, c in self.categorical.items()})
        return Chunk(numeric={n: c[index] for n, c in self.numeric.items()},
                     categorical={n: [c[i] for i in rows] for n, c in self.categorical.items()})

    def counts(self, rows: Sequence[int]) -> tuple[int, int]:
        """(values of the wrong type, unknown features) in ``rows``."""
        index = np.asarray(rows, dtype=np.intp)
        wrong = int(self.mismatches[index].sum()) if self.mismatches is not None else 0
        unknown = int(self.unknown[index].sum()) if self.unknown is not None else 0
        return wrong, unknown
