"""Benchmark the HTML drift report: 100 columns × 200,000 rows must render in under 2 s into
a file under 3 MB (issue 14).

Run from the repository root with the project's environment::

    .venv/bin/python bench/report/bench.py [--runs 5]

It writes a seeded case (80 numeric and 20 categorical columns, a quarter of them drifting)
as Parquet under ``bench/report/bench-data/`` (once), runs ``detect``'s comparison on it,
then times, as medians over ``--runs`` repetitions in this one process:

- *baseline*: the comparison itself (``cli.detect.run_detect``: read, profile, test);
- *render*: what ``--format html`` adds (the charts, then the HTML document);
- *json*: what ``--format json`` adds, for scale.

It prints the medians, the ratio of render to the baseline, the file's size, and whether
the goals hold (exit 1 if not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HERE = Path(__file__).resolve().parent
DATA = HERE / "bench-data"
ROWS, NUMERIC, CATEGORICAL = 200_000, 80, 20
GOAL_SECONDS, GOAL_BYTES = 2.0, 3 * 1024 * 1024


def table(rng: np.random.Generator, drifted: bool) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for i in range(NUMERIC):
        moves = drifted and i % 4 == 0
        kind = i % 3
        if kind == 0:
            values = rng.normal(10 * i + (3.0 if moves else 0.0), 5.0, size=ROWS)
        elif kind == 1:
            values = rng.lognormal(2.0, 0.5 * (1.4 if moves else 1.0), size=ROWS)
        else:
            values = rng.gamma(2.0 + (1.0 if moves else 0.0), 3.0, size=ROWS)
        values[rng.random(ROWS) < 0.01] = np.nan
        columns[f"num_{i:02d}"] = pa.array(np.round(values, 4))
    for i in range(CATEGORICAL):
        names = [f"c{i}_{k}" for k in range(8 + i)]
        weights = np.ones(len(names))
        if drifted and i % 4 == 0:
            weights[0] *= 4
        values = rng.choice(names, p=weights / weights.sum(), size=ROWS)
        columns[f"cat_{i:02d}"] = pa.array(values)
    return pa.table(columns)


def ensure_data() -> tuple[Path, Path]:
    reference, current = DATA / "reference.parquet", DATA / "current.parquet"
    if not (reference.exists() and current.exists()):
        print("writing the benchmark files ...", flush=True)
        DATA.mkdir(parents=True, exist_ok=True)
        pq.write_table(table(np.random.default_rng(1), drifted=False), reference)
        pq.write_table(table(np.random.default_rng(2), drifted=True), current)
    return reference, current


def median_seconds(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from cli.detect import load_config, run_detect, single_threaded_blas
    from cli.report_output import html_report

    single_threaded_blas()
    import json

    reference, current = ensure_data()
    config = load_config(None)
    inputs: dict = {}
    run_detect(reference, current, config, inputs)  # warm-up: imports, page cache
    baseline, report = median_seconds(lambda: run_detect(reference, current, config, inputs),
                                      max(3, args.runs // 2))
    render, html = median_seconds(lambda: html_report(report, inputs, reference, current),
                                  args.runs)
    as_json, _ = median_seconds(lambda: json.dumps(report.to_dict(), allow_nan=False), args.runs)
    size = len(html.encode("utf-8"))  # type: ignore[union-attr]
    drifted = sum(f.drifted for f in report.features)  # type: ignore[union-attr]
    print(f"case: {NUMERIC + CATEGORICAL} columns × {ROWS:,} rows, {drifted} drifted")
    print(f"baseline (detect's comparison): median {baseline:.3f} s")
    print(f"render (charts + HTML):         median {render:.3f} s "
          f"({render / baseline:.2f}× the comparison)")
    print(f"json (for scale):               median {as_json:.4f} s")
    print(f"file size: {size / 1024 / 1024:.2f} MB ({size:,} bytes)")
    ok = render < GOAL_SECONDS and size < GOAL_BYTES
    print(f"goals (render < {GOAL_SECONDS:g} s, file < 3 MB): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
