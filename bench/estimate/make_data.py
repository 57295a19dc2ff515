"""A calibrated binary classifier with a known shift, in chunks of 5,000 rows (seeded).

    python make_data.py OUT_DIR

The world: four inputs; P(y = 1 | x) = sigmoid(3.2·x1 − 2.4·x2 + 1.6·x3 + 0.8·x4); the model
scores exactly that probability (calibrated by construction) and predicts y = 1 above 0.5.
The relation between inputs and outcome never changes (covariate shift only, CBPE's
assumption); the inputs do:

=========  ===========================================================  ==================
chunks     inputs                                                       accuracy
=========  ===========================================================  ==================
0–4        as in the reference                                          unchanged
5–9        x1 spread ×1.4 (more rows far from the boundary)             rises
10–13      x1 and x2 spread ×0.45 (rows crowd at the boundary)          falls
14–15      x1 and x2 spread ×0.6                                        falls, less
16–19      x3 mean +1 (the shift the drift tests see, accuracy does not)  about unchanged
=========  ===========================================================  ==================

Writes ``reference.csv`` (50,000 labelled rows), ``analysis.csv`` (20 chunks × 5,000 rows,
no target) and ``analysis_targets.csv`` (the targets, for scoring only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

CHUNK = 5_000
WEIGHTS = np.array([3.2, -2.4, 1.6, 0.8])


def rows(rng: np.random.Generator, n: int, scale: tuple[float, ...] = (1, 1, 1, 1),
         shift: tuple[float, ...] = (0, 0, 0, 0)) -> dict[str, np.ndarray]:
    x = rng.normal(np.array(shift), np.array(scale), size=(n, 4))
    p = 1 / (1 + np.exp(-(x @ WEIGHTS)))
    y = (rng.random(n) < p).astype(np.int64)
    return {"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "x4": x[:, 3],
            "y_pred_proba": p, "y_pred": (p > 0.5).astype(np.int64), "y_true": y}


def plan(chunk: int) -> dict[str, tuple[float, ...]]:
    if 5 <= chunk <= 9:
        return {"scale": (1.4, 1, 1, 1)}
    if 10 <= chunk <= 13:
        return {"scale": (0.45, 0.45, 1, 1)}
    if 14 <= chunk <= 15:
        return {"scale": (0.6, 0.6, 1, 1)}
    if chunk >= 16:
        return {"shift": (0, 0, 1.0, 0)}
    return {}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    reference = rows(rng, 10 * CHUNK)
    pcsv.write_csv(pa.table(reference), out / "reference.csv")
    chunks = [rows(rng, CHUNK, **plan(i)) for i in range(20)]
    analysis = {k: np.concatenate([c[k] for c in chunks]) for k in reference}
    targets = analysis.pop("y_true")
    pcsv.write_csv(pa.table(analysis), out / "analysis.csv")
    pcsv.write_csv(pa.table({"y_true": targets, "y_pred": analysis["y_pred"]}),
                   out / "analysis_targets.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
