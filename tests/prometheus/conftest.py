"""The Prometheus and promtool binaries, from the stack's cache (built there on first use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.prometheus import BUILD_TIMEOUT, ensure_binaries
from stack.services import cache_root

#: the first test to ask on a fresh machine waits for the one-time build
BUILD_ALLOWANCE = pytest.mark.timeout(BUILD_TIMEOUT + 600)


@pytest.fixture(scope="session")
def prometheus_bin() -> Path:
    return ensure_binaries(cache_root(), lambda text: print(f"prometheus: {text}"))  # noqa: T201
