"""The bare baseline: read with pyarrow, then scipy's ks_2samp / chi2_contingency per column."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.types as pat
from scipy import stats


def main(reference_path: str, current_path: str) -> None:
    reference = pcsv.read_csv(reference_path)
    current = pcsv.read_csv(current_path)
    results = {}
    for name in reference.column_names:
        ref, cur = reference.column(name), current.column(name)
        if pat.is_integer(ref.type) or pat.is_floating(ref.type):
            a = ref.to_numpy(zero_copy_only=False).astype(float)
            b = cur.to_numpy(zero_copy_only=False).astype(float)
            result = stats.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)])
            results[name] = [float(result.statistic), float(result.pvalue)]
        else:
            ref_counts = {k: v for k, v in zip(*_counts(ref), strict=True)}
            cur_counts = {k: v for k, v in zip(*_counts(cur), strict=True)}
            keys = sorted(set(ref_counts) | set(cur_counts), key=str)
            table = [[ref_counts.get(k, 0) for k in keys], [cur_counts.get(k, 0) for k in keys]]
            result = stats.chi2_contingency(table, correction=False)
            results[name] = [float(result.statistic), float(result.pvalue)]
    print(json.dumps(results))


def _counts(column):
    counts = column.value_counts()
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
