"""Benchmark `driftline detect` against Evidently's DataDriftPreset and a bare scipy loop.

Run from the repository root with the project's environment::

    .venv/bin/python bench/detect/bench.py [--runs 5]

It writes the 200,000-row × 13-column case under ``bench/detect/bench-data/`` (once),
creates Evidently's own virtualenv under ``bench/detect/.venv-evidently/`` with ``uv``
(once; it never enters the project's lock), then times each tool as a whole process,
warm-up run excluded, and prints medians and ratios.
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

HERE = Path(__file__).resolve().parent
DATA = HERE / "bench-data"
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_PINS = ["evidently==0.7.23", "pandas>=2.2,<3", "pyarrow>=16,<27"]


def ensure_data() -> tuple[Path, Path]:
    reference, current = DATA / "reference.csv", DATA / "current.csv"
    if not (reference.exists() and current.exists()):
        print("writing the benchmark files ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_data.py"), str(DATA)], check=True)
    return reference, current


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print("creating Evidently's virtualenv (uv) ...", flush=True)
        subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), *EVIDENTLY_PINS],
                       check=True)
    return python


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds (user + system, all threads) of one whole process."""
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, cpu, result.stdout


def agreement(driftline_out: str, scipy_out: str) -> float:
    """Largest relative difference between driftline's KS/chi² and the scipy loop's."""
    ours = {f["name"]: f["tests"] for f in json.loads(driftline_out)["features"]}
    theirs = json.loads(scipy_out)
    worst = 0.0
    for name, (statistic, p_value) in theirs.items():
        test = ours[name].get("ks") or ours[name]["chi2"]
        for a, b in ((test["statistic"], statistic), (test["p_value"], p_value)):
            if a != b:
                worst = max(worst, abs(a - b) / max(abs(b), sys.float_info.min))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    args = parser.parse_args()
    reference, current = ensure_data()
    evidently_python = ensure_evidently()
    bin_dir = Path(sys.executable).parent
    commands = {
        "driftline detect": [str(bin_dir / "driftline"), "detect", "--reference", str(reference),
                             "--current", str(current), "--format", "json"],
        "scipy loop": [sys.executable, str(HERE / "scipy_loop.py"), str(reference), str(current)],
        "evidently DataDriftPreset": [str(evidently_python), str(HERE / "evidently_run.py"),
                                      str(reference), str(current)],
    }
    # Let the warm-up run write bytecode caches, as any installed deployment has them.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    outputs = {name: timed(command, env)[2] for name, command in commands.items()}  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():  # interleaved, so changes in load hit all
            elapsed, seconds, _ = timed(command, env)
            wall[name].append(elapsed)
            cpu[name].append(seconds)
    median = {name: statistics.median(values) for name, values in wall.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    sizes = f"{reference.stat().st_size / 1e6:.0f} MB + {current.stat().st_size / 1e6:.0f} MB CSV"
    load = os.getloadavg()[0]
    print(f"\n200,000 rows x 13 columns ({sizes}); {args.runs} timed runs each; "
          f"{os.cpu_count()} CPUs, load average {load:.2f} at the end\n")
    print(f"{'tool':28} {'wall median':>11} {'min':>6} {'max':>6} {'CPU median':>11}")
    for name, values in wall.items():
        print(f"{name:28} {median[name]:10.2f}s {min(values):5.2f}s {max(values):5.2f}s "
              f"{median_cpu[name]:10.2f}s")
    ours, ours_cpu = median["driftline detect"], median_cpu["driftline detect"]
    evidently, scipy_loop = "evidently DataDriftPreset", "scipy loop"
    print(f"\nEvidently / driftline  = {median[evidently] / ours:5.1f}x wall, "
          f"{median_cpu[evidently] / ours_cpu:5.1f}x CPU (target >= 20x)")
    print(f"driftline / scipy loop = {ours / median[scipy_loop]:5.2f}x wall, "
          f"{ours_cpu / median_cpu[scipy_loop]:5.2f}x CPU (target <= 1.5x)")
    difference = agreement(outputs["driftline detect"], outputs["scipy loop"])
    print(f"KS/chi2 statistics and p-values vs the scipy loop: max relative difference "
          f"{difference:.1e}")


if __name__ == "__main__":
    main()
