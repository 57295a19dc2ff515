"""Reading CSV and Parquet tables for the batch commands, and sorting columns into kinds.

pyarrow does the parsing (multi-threaded C++); everything that can go wrong becomes a
one-line :class:`cli.errors.BadInput` naming the file and, where there is one, the column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cli.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

Kind = Literal["numeric", "categorical"]
Format = Literal["csv", "parquet", "profile"]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_COLUMN_IN_ERROR = re.compile(r"In CSV column #(\d+)")


def detect_format(path: Path) -> Format:
    """Which reader a file needs: by suffix first, then by its first bytes."""
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if not path.is_file():
        raise BadInput(f"{path}: not a file")
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(".json"):
        return "profile"
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] == b"{":
        return "profile"
    raise BadInput(f"{path}: unsupported format (expected .csv, .parquet or a profile .json)")


def read_table(path: Path) -> pa.Table:
    """Read a CSV or Parquet file; it must have at least one column and one row."""
    fmt = detect_format(path)
    if fmt == "profile":
        raise BadInput(f"{path}: expected a CSV or Parquet data file, not a profile")
    table = _read_csv(path) if fmt == "csv" else _read_parquet(path)
    if table.num_columns == 0:
        raise BadInput(f"{path}: the table has no columns")
    if table.num_rows == 0:
        raise BadInput(f"{path}: the table has no rows")
    names = table.column_names
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise BadInput(f"{path}: column '{duplicate}' appears more than once")
    return table


def _read_csv(path: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(delimiter="\t" if path.name.lower().endswith(".tsv") else ",")
    forced: dict[str, pa.DataType] = {}
    while True:
        try:
            return pcsv.read_csv(
                path, parse_options=parse, convert_options=pcsv.ConvertOptions(column_types=forced)
            )
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as error:
            # pyarrow infers a column's type from the first block; a later value that does
            # not fit (an int column with "1.5", a number column with "n/a") fails the read.
            # Widen that column (int -> float -> text) and read again.
            match = _COLUMN_IN_ERROR.search(str(error))
            if match is None:
                raise BadInput(f"{path}: cannot read CSV: {_first_line(error)}") from None
            name = _csv_header(path, parse)[int(match.group(1))]
            if forced.get(name) == pa.string():
                raise BadInput(f"{path}: cannot read CSV: {_first_line(error)}") from None
            forced[name] = pa.float64() if name not in forced else pa.string()


def _csv_header(path: Path, parse: object) -> list[str]:
    import pyarrow.csv as pcsv

    with pcsv.open_csv(path, parse_options=parse) as reader:
        return list(reader.schema.names)


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # ParquetFile, not read_table: read_table loads pyarrow.dataset, which imports pandas
        return pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as error:
        raise BadInput(f"{path}: cannot read Parquet: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def infer_kind(path: Path, name: str, column: pa.ChunkedArray) -> Kind | None:
    """``numeric`` for numbers (and dates/times), ``categorical`` for text and booleans,
    ``None`` for a column with no values at all (its kind comes from the other file)."""
    import pyarrow.types as t

    kind = column.type
    if t.is_dictionary(kind):
        kind = kind.value_type
    if t.is_null(kind):
        return None
    if t.is_integer(kind) or t.is_floating(kind) or t.is_decimal(kind) or t.is_temporal(kind):
        return "numeric"
    if t.is_string(kind) or t.is_large_string(kind) or t.is_boolean(kind):
        return "categorical"
    raise BadInput(f"{path}: column '{name}' has unsupported type {kind}")


def numeric_values(path: Path, name: str, column: pa.ChunkedArray) -> np.ndarray:
    """The column as float64, NaN for missing; text that is not a number is bad input."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if t.is_temporal(column.type):
        column = column.cast(pa.int64())
    try:
        as_float = column.cast(pa.float64()).combine_chunks()
    except pa.ArrowInvalid as error:
        raise BadInput(f"{path}: column '{name}' must be numeric: {_first_line(error)}") from None
    return _float_array(as_float)


def _float_array(array: pa.Array) -> np.ndarray:
    """float64 values with NaN for nulls, read from the Arrow buffers directly: pyarrow's own
    conversion of an array with nulls goes through pandas whenever pandas is installed."""
    import numpy as np

    n, offset = len(array), array.offset
    validity, data = array.buffers()[:2]
    if data is None:  # an all-null column
        return np.full(n, np.nan)
    values = np.frombuffer(data, dtype=np.float64, count=n, offset=offset * 8).copy()
    if array.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        values[~bits[offset:offset + n].astype(bool)] = np.nan
    return values


def categorical_counts(column: pa.ChunkedArray) -> dict[str | None, int]:
    """The column counted per category, ``None`` for missing (numbers and booleans count as
    their text). Counting in pyarrow spares building a Python string per row."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (t.is_string(column.type) or t.is_large_string(column.type)):
        column = column.cast(pa.string())
    counted = column.value_counts()
    values: list[str | None] = counted.field("values").to_pylist()
    counts: list[int] = counted.field("counts").to_pylist()
    return dict(zip(values, counts, strict=True))
