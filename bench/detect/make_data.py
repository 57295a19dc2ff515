"""Write the benchmark case: reference.csv and current.csv, 200,000 rows × 13 columns.

11 numeric and 2 categorical columns; 4 drift for real (0.5σ shift, 1.5× scale, a mixture
weight, 0.15 of a category's mass), one is nudged by 0.05σ (significant, not drift), the
rest are still. Seeded, so every run compares the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

ROWS = 200_000
CATEGORIES = ["alpha", "bravo", "charlie", "delta", "echo"]
REGIONS = [f"region-{i:02d}" for i in range(20)]


def table(rng: np.random.Generator, drifted: bool) -> pa.Table:
    n = ROWS
    shift = 1.0 if drifted else 0.0
    mixture = rng.random(n) < (0.5 if drifted else 0.3)
    with_missing = rng.normal(100, 15, size=n)
    with_missing[rng.random(n) < 0.05] = np.nan
    category_p = [0.15, 0.3, 0.2, 0.15, 0.2] if drifted else [0.3, 0.3, 0.2, 0.15, 0.05]
    region = rng.choice(REGIONS, size=n).astype(object)
    region[rng.random(n) < 0.02] = None
    columns = {
        "n00_still_normal": rng.normal(50, 10, size=n),
        "n01_shifted": rng.normal(50 + 0.5 * 10 * shift, 10, size=n),
        "n02_scaled": rng.normal(0, 2 * (1.5 if drifted else 1.0), size=n),
        "n03_still_lognormal": rng.lognormal(3, 0.6, size=n),
        "n04_nudged": rng.exponential(5, size=n) + 0.05 * 5 * shift,
        "n05_still_uniform": rng.uniform(-1, 1, size=n),
        "n06_still_counts": rng.poisson(3, size=n).astype(float),
        "n07_still_age": rng.integers(18, 91, size=n).astype(float),
        "n08_still_missing": with_missing,
        "n09_mixture": np.where(mixture, rng.normal(5, 1, size=n), rng.normal(0, 1, size=n)),
        "n10_still_gamma": rng.gamma(2.0, 3.0, size=n),
        "c00_category": rng.choice(CATEGORIES, p=category_p, size=n),
        "c01_still_region": region,
    }
    rounded = {
        name: np.round(values, 4) if values.dtype.kind == "f" else values
        for name, values in columns.items()
    }
    return pa.table({name: pa.array(values) for name, values in rounded.items()})


def main(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table(np.random.default_rng(1), drifted=False), directory / "reference.csv")
    pcsv.write_csv(table(np.random.default_rng(2), drifted=True), directory / "current.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
