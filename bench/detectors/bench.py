"""False alarms and detection delay of the online detectors, calibrated and at River's
defaults, on seeded synthetic streams.

    .venv/bin/python bench/detectors/bench.py [--events 1000000] [--replicates 40]

Each replicate draws a fresh reference of 1,000 values (the stream's default reference
size) from one of three still distributions (normal, log-normal, Poisson counts), builds
the detectors as the worker does (``OnlineDetectors``: calibrated per feature on that
reference to ``DRIFT__DETECTOR_FALSE_ALARMS_PER_100K`` = 1), then

* false alarms: feeds ``--events`` still values from the same distribution and counts alarms
  (every alarm is false); reported per 100,000 events per feature;
* delay: feeds 3,000 still values, then values shifted by 0.5 standard deviations, and
  records how many shifted values each detector needed (median and 90th percentile over
  ``--replicates`` references; "missed" if none within 5,000).

The same is measured for the uncalibrated settings the worker used before (ADWIN delta
0.0002; Page–Hinkley delta 0.05, threshold 50, River's fading 0.9999).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from drift.detectors import DETECTORS, OnlineDetectors

STILL = {
    "normal": lambda rng, n: rng.normal(50, 10, n),
    "lognormal": lambda rng, n: rng.lognormal(10, 0.8, n),
    "counts": lambda rng, n: rng.poisson(2, n).astype(float),
}
SIGMA = {"normal": 10.0, "lognormal": math.sqrt((math.exp(0.64) - 1) * math.exp(20 + 0.64)),
         "counts": math.sqrt(2)}


def detectors(kind: str, rng: np.random.Generator, calibrated: bool) -> OnlineDetectors:
    reference = STILL[kind](rng, 1000)
    built = OnlineDetectors(["adwin", "page_hinkley"], {"x": (reference.mean(), reference.std())},
                            {"x": reference} if calibrated else None, 1.0)
    if not calibrated:
        built.detectors = {key: DETECTORS[key[1]]() for key in built.detectors}
    return built


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--replicates", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    print("| setting | distribution | detector | false alarms per 100k | delay on 0.5σ: median "
          "| p90 | missed |")
    print("|---|---|---|---|---|---|---|")
    for calibrated in (True, False):
        for kind in STILL:
            started = time.monotonic()
            alarms = {"adwin": 0, "page_hinkley": 0}
            chunks = 10
            for _ in range(chunks):  # a fresh reference per chunk of the still stream
                d = detectors(kind, rng, calibrated)
                for alarm in d.update("x", STILL[kind](rng, args.events // chunks)):
                    alarms[alarm.detector] += 1
            delays: dict[str, list[float]] = {"adwin": [], "page_hinkley": []}
            for _ in range(args.replicates):
                d = detectors(kind, rng, calibrated)
                d.update("x", STILL[kind](rng, 3000))
                fired: dict[str, int] = {}
                shifted = STILL[kind](rng, 5000) + 0.5 * SIGMA[kind]
                for alarm in d.update("x", shifted):
                    fired.setdefault(alarm.detector, alarm.index - 3000)
                for name in delays:
                    delays[name].append(fired.get(name, math.inf))
            for name in ("adwin", "page_hinkley"):
                found = sorted(delays[name])
                ok = [x for x in found if math.isfinite(x)]
                p90 = found[int(0.9 * (len(found) - 1))]
                print(f"| {'calibrated' if calibrated else 'before'} | {kind} | {name} | "
                      f"{alarms[name] * 100_000 / args.events:.2f} | "
                      f"{statistics.median(ok) if ok else '-'} | "
                      f"{p90 if math.isfinite(p90) else '> 5000'} | "
                      f"{len(found) - len(ok)}/{len(found)} |", flush=True)
            print(f"<!-- {kind} {'calibrated' if calibrated else 'before'}: "
                  f"{time.monotonic() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
