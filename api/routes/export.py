"""Export of a model's production window (``labelled_predictions``) for retraining.

Streamed in chunks of ``API__EXPORT_CHUNK_ROWS`` from a server-side cursor, as CSV or
Parquet (one row group per chunk), so memory does not grow with the window. Each feature
becomes a column; its type is read from the whole window first (numbers, booleans,
otherwise text), so the file has one schema from its first byte to its last.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa
from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, text

from api.deps import EngineDep, OperatorDep, SettingsDep
from api.errors import AUTH_RESPONSES, error_response
from api.query import Name, OptionalName, TimeRangeDep

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
def labelled_predictions(engine: EngineDep, settings: SettingsDep, _: OperatorDep,
                         window: TimeRangeDep, model: Name, version: OptionalName = None,
                         format: Literal["csv", "parquet"] = "csv") -> StreamingResponse:  # noqa: A002
    where, params = ["model_name = :model"], {"model": model}
    for clause, key, value in (("model_version = :version", "version", version),
                               ("timestamp >= :start", "start", window.start),
                               ("timestamp < :end", "end", window.end)):
        if value is not None:
            where.append(clause)
            params[key] = value
    condition = " AND ".join(where)
    schema = _schema(engine, condition, params)
    if schema is None:
        raise HTTPException(404, f"no labelled predictions for model {model!r} in that window")
    chunks = _chunks(engine, condition, params, schema, settings.api.export_chunk_rows)
    body = _csv(chunks) if format == "csv" else _parquet(chunks, schema[0])
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{model}-{version or 'all'}-labelled.{format}")
    return StreamingResponse(body, media_type=MEDIA[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


Schema = tuple[pa.Schema, dict[str, str]]  # arrow schema, feature -> column name


def _schema(engine: Engine, condition: str, params: dict[str, Any]) -> Schema | None:
    with engine.connect() as conn:
        shapes = conn.execute(text(
            "SELECT jsonb_typeof(prediction::jsonb) AS p, jsonb_typeof(label::jsonb) AS l, "  # noqa: S608
            f"count(*) AS n FROM labelled_predictions WHERE {condition} GROUP BY 1, 2"), params).all()
        if not shapes:
            return None
        features: dict[str, set[str]] = {}
        for key, kind in conn.execute(text(
            "SELECT f.key, jsonb_typeof(f.value) FROM labelled_predictions lp, "  # noqa: S608
            f"jsonb_each(CASE WHEN jsonb_typeof(lp.features::jsonb) = 'object' "
            f"THEN lp.features::jsonb ELSE '{{}}'::jsonb END) f WHERE {condition} GROUP BY 1, 2"),
                params):
            features.setdefault(key, set()).add(kind)
    fields = [pa.field("event_id", pa.string()), pa.field("timestamp", pa.timestamp("us", "UTC")),
              pa.field("model_version", pa.string()), pa.field("label_time", pa.timestamp("us", "UTC")),
              pa.field("prediction", _arrow_type({s.p for s in shapes})),
              pa.field("label", _arrow_type({s.l for s in shapes})),
              pa.field("probabilities", pa.string())]
    columns: dict[str, str] = {}
    for name in sorted(features):
        column = f"feature_{name}" if name in FIXED else name
        columns[name] = column
        fields.append(pa.field(column, _arrow_type(features[name])))
    return pa.schema(fields), columns


def _chunks(engine: Engine, condition: str, params: dict[str, Any], schema: Schema,
            size: int) -> Iterator[pa.Table]:
    arrow, columns = schema
    types = {f.name: f.type for f in arrow}
    sql = text("SELECT event_id, timestamp, model_version, label_time, prediction, label, "  # noqa: S608
               f"probabilities, features FROM labelled_predictions WHERE {condition} "
               "ORDER BY timestamp, event_id")
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=size).execute(sql, params)
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
                feats = row.features if isinstance(row.features, dict) else {}
                for name, column in columns.items():
                    data[column].append(_cell(feats.get(name), types[column]))
            yield pa.table(data, schema=arrow)


def _csv(chunks: Iterator[pa.Table]) -> Iterator[bytes]:
    import pyarrow.csv as pacsv

    first = True
    for table in chunks:
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=first))
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
