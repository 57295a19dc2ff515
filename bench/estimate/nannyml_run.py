"""NannyML's CBPE per 5,000-row chunk (runs in its own virtualenv, .venv-nannyml)."""

from __future__ import annotations

import json
import sys

import nannyml as nml
import pandas as pd


def main(reference_path: str, analysis_path: str) -> None:
    reference = pd.read_csv(reference_path, engine="pyarrow")
    analysis = pd.read_csv(analysis_path, engine="pyarrow")
    estimator = nml.CBPE(problem_type="classification_binary", y_pred_proba="y_pred_proba",
                         y_pred="y_pred", y_true="y_true", metrics=["accuracy"],
                         chunk_size=5_000)
    estimator.fit(reference)
    results = estimator.estimate(analysis).filter(period="analysis").to_df()
    values = results[("accuracy", "value")].tolist()
    alerts = results[("accuracy", "alert")].tolist()
    print(json.dumps({"chunks": [{"estimate": float(v), "alert": bool(a)}
                                 for v, a in zip(values, alerts, strict=True)]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
