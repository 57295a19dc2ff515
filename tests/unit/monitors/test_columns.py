"""Columns built once per batch read each value exactly as the per-value rules do."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from monitors.columns import Columns, category_text, is_number, numeric_column

VALUES = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False),
                   st.integers(-(2**53), 2**53), st.booleans(), st.text(max_size=5))


def per_value(values):
    column = [float(v) if is_number(v) else math.nan for v in values]
    wrong = [int(v is not None and not is_number(v)) for v in values]
    return column, wrong


@given(st.lists(VALUES, max_size=50))
def test_numeric_column_reads_values_as_the_rules_say(values) -> None:
    column, wrong = numeric_column(values)
    expected, expected_wrong = per_value(values)
    np.testing.assert_array_equal(column, np.array(expected, dtype=float))
    assert (wrong.tolist() if wrong is not None else [0] * len(values)) == expected_wrong


@given(st.lists(st.dictionaries(st.sampled_from(["x", "c", "extra", "other"]), VALUES),
                min_size=1, max_size=40), st.data())
def test_windows_take_their_rows_and_count_only_them(features, data) -> None:
    kinds = {"x": "numeric", "c": "categorical"}
    columns = Columns.build(features, kinds)
    rows = sorted(data.draw(st.sets(st.integers(0, len(features) - 1))))
    chunk = columns.chunk(rows)
    expected, expected_wrong = per_value([features[r].get("x") for r in rows])
    np.testing.assert_array_equal(chunk.numeric["x"], np.array(expected, dtype=float))
    assert chunk.categorical["c"] == [category_text(features[r].get("c")) for r in rows]
    wrong, unknown = columns.counts(rows)
    assert wrong == sum(expected_wrong)
    assert unknown == sum(1 for r in rows for name in features[r] if name not in kinds)


@given(st.lists(st.fixed_dictionaries({"x": VALUES, "y": VALUES, "c": VALUES},
                                      optional={"extra": VALUES, "other": VALUES}),
                max_size=40),
       st.sampled_from([{"x": "numeric", "y": "numeric", "c": "categorical"},
                        {"x": "numeric"}, {"c": "categorical"}, {}]))
def test_rows_with_every_name_read_as_value_by_value(features, kinds) -> None:
    """The common batch (every row has every name, read in C) gives what reading each row's
    values one by one gives, unknown features counted per row."""
    columns = Columns.build(features, kinds)
    for name, kind in kinds.items():
        values = [f.get(name) for f in features]
        if kind == "numeric":
            expected, _ = per_value(values)
            np.testing.assert_array_equal(columns.numeric[name], np.array(expected, dtype=float))
        else:
            assert columns.categorical[name] == [category_text(v) for v in values]
    rows = list(range(len(features)))
    wrong = sum(per_value([f.get(n) for f in features])[1][r] for n, k in kinds.items()
                if k == "numeric" for r in rows)
    unknown = sum(len(f.keys() - kinds.keys()) for f in features)
    assert columns.counts(rows) == (wrong, unknown)


def test_a_chunk_too_large_for_one_message_is_written_in_pieces() -> None:
    """A wide model's batch: its window chunk goes to the changelog in pieces under the
    limit, which read back in order are the chunk."""
    from monitors.state import Chunk, concat_chunks

    rng = np.random.default_rng(3)
    kinds = {**{f"x{i}": "numeric" for i in range(300)}, "c": "categorical"}
    chunk = Chunk(numeric={f"x{i}": rng.normal(size=2000) for i in range(300)},
                  categorical={"c": [f"value-{i % 7}" for i in range(2000)]})
    assert len(chunk.encode()) > 1_000_000  # one message would be refused
    pieces = chunk.encoded_pieces(512 * 1024)
    assert len(pieces) > 1 and all(len(p) <= 512 * 1024 for p in pieces)
    back = concat_chunks([Chunk.decode(p) for p in pieces], kinds)
    for name in chunk.numeric:
        np.testing.assert_array_equal(back.numeric[name], chunk.numeric[name])
    assert back.categorical == chunk.categorical
    assert chunk.rows(0, 1).encoded_pieces(10) == [chunk.rows(0, 1).encode()]  # one row: whole
