"""driftline's estimate per 5,000-row chunk (the project's own environment): calibrate once
on the reference, as the stream does per version, then CBPE and the drop rule per chunk."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `driftline estimate` does

import numpy as np  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402

from drift.estimation import classification_baseline, estimate_classification, fit_calibration  # noqa: E402
from drift.performance import DropRule  # noqa: E402

CHUNK = 5_000


def main(reference_path: str, analysis_path: str) -> None:
    reference = pcsv.read_csv(reference_path)
    analysis = pcsv.read_csv(analysis_path)
    p_ref = reference.column("y_pred_proba").to_numpy()
    y_ref = reference.column("y_true").to_numpy()
    pred_ref = reference.column("y_pred").to_numpy()
    calibration = fit_calibration(p_ref, y_ref.astype(str), ["0", "1"], positive="1")
    baseline = classification_baseline(y_ref, pred_ref, p_ref, 2, 1, CHUNK, ["accuracy"])
    rule = DropRule()
    p, pred = analysis.column("y_pred_proba").to_numpy(), analysis.column("y_pred").to_numpy()
    out = []
    for start in range(0, len(p), CHUNK):
        chunk_p, chunk_pred = p[start:start + CHUNK], pred[start:start + CHUNK]
        estimate = estimate_classification(calibration.apply(chunk_p), chunk_pred.astype(np.int64),
                                           None, 1, ["accuracy"])["accuracy"]
        judged = rule.judge("accuracy", estimate.value, baseline.values["accuracy"],
                            baseline.spread["accuracy"])
        out.append({"estimate": estimate.value, "alert": judged.dropped})
    print(json.dumps({"reference": baseline.values["accuracy"], "chunks": out}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
