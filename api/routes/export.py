"""Export of a model's production window (``labelled_predictions``) for retraining.

Streamed in chunks of ``API__EXPORT_CHUNK_ROWS`` from a server-side cursor, as CSV or
Parquet (one row group per chunk), so memory does not grow with the window. Each feature
becomes a column; its type is read from the whole window first (numbers, booleans,
otherwise text), so the file has one schema from its first byte to its last. CSV cells that
a spreadsheet would run as formulas are neutralised; configured PII is pseudonymised.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pyarrow as pa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, select

from api.deps import EngineDep, OperatorDep, SettingsDep
from api.errors import AUTH_RESPONSES, error_response
from api.query import Name, OptionalName, TimeRangeDep
from storage.models import LabelledPrediction

router = APIRouter(prefix="/export", tags=["export"], responses=AUTH_RESPONSES)

MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
FIXED = ("event_id", "timestamp", "model_version", "label_time", "prediction", "label",
         "probabilities")
_ARROW = {frozenset({"number"}): pa.float64(), frozenset({"boolean"}): pa.bool_()}


def _arrow_type(json_types: set[str]) -> pa.DataType:
    return _ARROW.get(frozenset(json_types - {"null"}), pa.string())


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if kind == pa.string():
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return value


@router.get(
    "/labelled-predictions",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
                     "description": "The window's rows: fixed columns, then one per feature."},
               404: error_response("No labelled predictions in the window.")},
    summary="A model's labelled predictions as CSV or Parquet, streamed",
)
def labelled_predictions(request: Request, engine: EngineDep, settings: SettingsDep, _: OperatorDep,
                         window: TimeRangeDep, model: Name, version: OptionalName = None,
                         format: Literal["csv", "parquet"] = "csv") -> StreamingResponse:  # noqa: A002
    t = LabelledPrediction
    condition = [t.model_name == model]
    if version is not None:
        condition.append(t.model_version == version)
    if window.start is not None:
        condition.append(t.timestamp >= window.start)
    if window.end is not None:
        condition.append(t.timestamp < window.end)
    schema = _schema(engine, condition, settings.api.export_chunk_rows)
    if schema is None:
        raise HTTPException(404, f"no labelled predictions for model {model!r} in that window")
    # rows stored before SECURITY__PII_FIELDS was set are pseudonymised on the way out too
    chunks = _chunks(engine, condition, schema, settings.api.export_chunk_rows, request.app.state.redact)
    body = _csv(chunks) if format == "csv" else _parquet(chunks, schema[0])
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{model}-{version or 'all'}-labelled.{format}")
    return StreamingResponse(body, media_type=MEDIA[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


Schema = tuple[pa.Schema, dict[str, str]]  # arrow schema, feature -> column name


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _schema(engine: Engine, condition: list[Any], size: int) -> Schema | None:
    """The file's schema, from one streamed pass over the window: feature names and value
    types are read in Python rather than with the stores' JSON functions, which differ
    between PostgreSQL and SQLite (and PostgreSQL's refuse a stored ``\\u0000``)."""
    t = LabelledPrediction
    predictions: set[str] = set()
    labels: set[str] = set()
    features: dict[str, set[str]] = {}
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=size).execute(
            select(t.prediction, t.label, t.features).where(*condition))
        for row in result:
            predictions.add(_json_type(row.prediction))
            labels.add(_json_type(row.label))
            if isinstance(row.features, dict):
                for name, value in row.features.items():
                    features.setdefault(name, set()).add(_json_type(value))
    if not predictions:
        return None
    fields = [pa.field("event_id", pa.string()), pa.field("timestamp", pa.timestamp("us", "UTC")),
              pa.field("model_version", pa.string()), pa.field("label_time", pa.timestamp("us", "UTC")),
              pa.field("prediction", _arrow_type(predictions)),
              pa.field("label", _arrow_type(labels)),
              pa.field("probabilities", pa.string())]
    columns: dict[str, str] = {}
    for name in sorted(features):
        column = f"feature_{name}" if name in FIXED else name
        columns[name] = column
        fields.append(pa.field(column, _arrow_type(features[name])))
    return pa.schema(fields), columns


def _chunks(engine: Engine, condition: list[Any], schema: Schema, size: int,
            redact: Callable[[Any], Any]) -> Iterator[pa.Table]:
    arrow, columns = schema
    types = {f.name: f.type for f in arrow}
    t = LabelledPrediction
    stmt = (select(t.event_id, t.timestamp, t.model_version, t.label_time, t.prediction, t.label,
                   t.probabilities, t.features).where(*condition).order_by(t.timestamp, t.event_id))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=size).execute(stmt)
        for part in result.partitions(size):
            data: dict[str, list[Any]] = {name: [] for name in arrow.names}
            for row in part:
                data["event_id"].append(str(row.event_id))
                data["timestamp"].append(row.timestamp)
                data["model_version"].append(row.model_version)
                data["label_time"].append(row.label_time)
                data["prediction"].append(_cell(row.prediction, types["prediction"]))
                data["label"].append(_cell(row.label, types["label"]))
                data["probabilities"].append(
                    None if row.probabilities is None else json.dumps(row.probabilities, sort_keys=True))
                feats = redact(row.features) if isinstance(row.features, dict) else {}
                for name, column in columns.items():
                    data[column].append(_cell(feats.get(name), types[column]))
            yield pa.table(data, schema=arrow)


#: OWASP's CSV-injection rule: a cell a spreadsheet would read as a formula starts with one of these
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(table: pa.Table) -> pa.Table:
    """``table`` with every text cell that starts like a formula prefixed by ``'``, so a
    spreadsheet opening the CSV shows it as text instead of running it."""
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if field.type != pa.string():
            continue
        column = table.column(i)
        risky = pc.starts_with(column, _FORMULA_START[0])
        for prefix in _FORMULA_START[1:]:
            risky = pc.or_(risky, pc.starts_with(column, prefix))
        fixed = pc.if_else(pc.fill_null(risky, False), pc.binary_join_element_wise("'", column, ""), column)
        table = table.set_column(i, field, fixed)
    return table


def _csv(chunks: Iterator[pa.Table]) -> Iterator[bytes]:
    import pyarrow.csv as pacsv

    first = True
    for table in chunks:
        sink = io.BytesIO()
        pacsv.write_csv(neutralised(table), sink, pacsv.WriteOptions(include_header=first))
        first = False
        yield sink.getvalue()


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are handed out as they are written."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _parquet(chunks: Iterator[pa.Table], schema: pa.Schema) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    sink = _Drain()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for table in chunks:
            writer.write_table(table)
            yield sink.take()
    yield sink.take()
