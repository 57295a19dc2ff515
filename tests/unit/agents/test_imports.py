"""Every agent module imports: faust's autodiscovery would otherwise skip a broken one with
only a warning, and the worker would run without it."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import agents

MODULES = sorted(m.name for m in pkgutil.iter_modules(agents.__path__))


def test_the_pipeline_has_its_agents():
    assert {"features", "predictions", "labels", "performance", "references", "sinks", "retrain",
            "training", "promotion", "notify"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_agent_module_imports(name):
    importlib.import_module(f"agents.{name}")
