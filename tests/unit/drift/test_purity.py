"""drift/ is pure: importing it loads no framework, network or settings module."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import subprocess
import sys

import drift

FORBIDDEN = ("faust", "sqlalchemy", "httpx", "pydantic", "settings", "aiokafka", "pandas")


def test_importing_drift_loads_no_io_or_framework_module() -> None:
    code = (
        "import json, sys, drift, drift.compare, drift.stattests\n"
        f"print(json.dumps([m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('scipy'))))"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert json.loads(lines[0]) == []
    # scipy (~0.2 s for scipy.special, ~1 s for scipy.stats) loads only when a small sample
    # needs scipy's exact KS distribution.
    assert json.loads(lines[1]) == []


def test_docstring_examples_run() -> None:
    names = [m.name for m in pkgutil.walk_packages(drift.__path__, "drift.")]
    attempted = failed = 0
    for name in names:
        result = doctest.testmod(importlib.import_module(name), verbose=False)
        attempted += result.attempted
        failed += result.failed
    assert failed == 0
    assert attempted >= 30  # the examples exist, so this test can fail


def test_estimation_is_pure_too_and_loads_scikit_learn_only_to_fit() -> None:
    """drift.estimation may use scikit-learn (isotonic calibration, the DLE model) — still
    no framework, network, settings or clock — and applying a calibration needs none of it."""
    code = (
        "import json, sys, drift.estimation as e, numpy as np\n"
        "c = e.Calibration(('0', '1'), {'1': ((0.0, 1.0), (0.1, 0.9))}, '1', 10)\n"
        "c.apply(np.array([0.5]))\n"
        f"print(json.dumps([m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]))\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('sklearn')]))"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert json.loads(lines[0]) == [] and json.loads(lines[1]) == []
