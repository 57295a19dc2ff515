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
    names = [m.name for m in pkgutil.iter_modules(drift.__path__, "drift.")]
    attempted = failed = 0
    for name in names:
        result = doctest.testmod(importlib.import_module(name), verbose=False)
        attempted += result.attempted
        failed += result.failed
    assert failed == 0
    assert attempted >= 20  # the examples exist, so this test can fail
