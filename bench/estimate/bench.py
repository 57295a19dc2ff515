"""driftline's performance estimate against NannyML's CBPE on a calibrated classifier with a
known shift: accuracy per 5,000-row chunk against the realized one, alerts, and time.

    .venv/bin/python bench/estimate/bench.py [--runs 5]

It writes the case under ``bench/estimate/bench-data/`` (``make_data.py``, seeded) once,
creates NannyML's own virtualenv under ``bench/estimate/.venv-nannyml/`` with ``uv`` once
(``nannyml==0.13.1``; never in the project's lock), runs each tool once to warm bytecode
caches, then times ``--runs`` interleaved whole-process runs of each and prints medians.
Both tools see the analysis data without its targets; the targets are read here only to
score them. A chunk's realized accuracy "fell" by driftline's drop rule (worse than the
reference by more than 3 standard errors at 5,000 rows and by at least 0.01).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv

HERE = Path(__file__).resolve().parent
DATA = HERE / "bench-data"
NANNYML_VENV = HERE / ".venv-nannyml"
# nannyml 0.13.1 imports statsmodels without declaring it
NANNYML_PINS = ["nannyml==0.13.1", "statsmodels>=0.14,<0.15", "pyarrow>=16,<27"]
CHUNK = 5_000


def ensure_data() -> tuple[Path, Path, Path]:
    names = ("reference.csv", "analysis.csv", "analysis_targets.csv")
    if not all((DATA / n).exists() for n in names):
        print("writing the benchmark files ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_data.py"), str(DATA)], check=True)
    return DATA / names[0], DATA / names[1], DATA / names[2]


def ensure_nannyml() -> Path:
    python = NANNYML_VENV / "bin" / "python"
    if not python.exists():
        print("creating NannyML's virtualenv (uv) ...", flush=True)
        subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(NANNYML_VENV)], check=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), *NANNYML_PINS],
                       check=True)
    return python


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return elapsed, cpu, result.stdout


def realized(reference: Path, targets: Path) -> tuple[list[float], list[bool], float]:
    from drift.estimation import classification_baseline
    from drift.performance import DropRule

    ref = pcsv.read_csv(reference)
    baseline = classification_baseline(ref.column("y_true").to_numpy(),
                                       ref.column("y_pred").to_numpy(), None, 2, 1, CHUNK,
                                       ["accuracy"])
    table = pcsv.read_csv(targets)
    right = table.column("y_true").to_numpy() == table.column("y_pred").to_numpy()
    accuracy = [float(right[i:i + CHUNK].mean()) for i in range(0, right.size, CHUNK)]
    rule = DropRule()
    fell = [rule.judge("accuracy", a, baseline.values["accuracy"],
                       baseline.spread["accuracy"]).dropped for a in accuracy]
    return accuracy, fell, baseline.values["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reference, analysis, targets = ensure_data()
    nannyml = ensure_nannyml()
    commands = {
        "driftline": [sys.executable, str(HERE / "driftline_run.py"), str(reference), str(analysis)],
        "NannyML CBPE": [str(nannyml), str(HERE / "nannyml_run.py"), str(reference), str(analysis)],
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(HERE.parent.parent)
    outputs = {name: json.loads(timed(cmd, env)[2]) for name, cmd in commands.items()}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            elapsed, seconds, _ = timed(command, env)
            wall[name].append(elapsed)
            cpu[name].append(seconds)
    accuracy, fell, reference_accuracy = realized(reference, targets)
    print(f"\n20 chunks of {CHUNK:,} rows; reference accuracy {reference_accuracy:.4f}; "
          f"chunks whose realized accuracy fell: {[i for i, f in enumerate(fell) if f]}")
    print(f"{args.runs} timed runs each; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at the end\n")
    print("| chunk | realized | driftline | NannyML | fell | driftline alert | NannyML alert |")
    print("|---|---|---|---|---|---|---|")
    ours, theirs = outputs["driftline"]["chunks"], outputs["NannyML CBPE"]["chunks"]
    for i, (a, f, o, t) in enumerate(zip(accuracy, fell, ours, theirs, strict=True)):
        print(f"| {i} | {a:.4f} | {o['estimate']:.4f} | {t['estimate']:.4f} | "
              f"{'yes' if f else '-'} | {'yes' if o['alert'] else '-'} | "
              f"{'yes' if t['alert'] else '-'} |")
    print("\n| tool | MAE vs realized accuracy | max error | alerts = fallen chunks | "
          "wall median | min | max | CPU median |")
    print("|---|---|---|---|---|---|---|---|")
    for name, chunks in (("driftline", ours), ("NannyML CBPE", theirs)):
        errors = np.abs(np.array([c["estimate"] for c in chunks]) - np.array(accuracy))
        same = [c["alert"] for c in chunks] == fell
        print(f"| {name} | {errors.mean():.4f} | {errors.max():.4f} | "
              f"{'exactly' if same else 'no'} | {statistics.median(wall[name]):.2f} s | "
              f"{min(wall[name]):.2f} s | {max(wall[name]):.2f} s | "
              f"{statistics.median(cpu[name]):.2f} s |")
    ratio = statistics.median(wall["NannyML CBPE"]) / statistics.median(wall["driftline"])
    print(f"\nNannyML / driftline wall time: {ratio:.1f}x")


if __name__ == "__main__":
    main()
