"""Evidently's DataDriftPreset on the same two files (runs in its own virtualenv)."""

from __future__ import annotations

import sys

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main(reference_path: str, current_path: str) -> None:
    # pyarrow's CSV reader, as in driftline, so the comparison is about the drift work.
    reference = pd.read_csv(reference_path, engine="pyarrow")
    current = pd.read_csv(current_path, engine="pyarrow")
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    print(snapshot.json())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
