"""The rooms of the house and what each may import (docs/architecture.md draws the same map).

Read from source, so a rule also holds for imports inside functions; nothing is imported.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: room -> the project's rooms it may import. A room is a package (``drift/``) or one of the
#: top-level modules (``settings.py``, ``faust_app.py``).
RULES: dict[str, set[str]] = {
    # pure: statistics, wire records, state machines, report rendering
    "drift": set(),
    "schemas": set(),
    "monitors": {"drift", "schemas"},
    "reports": {"drift"},
    # foundations
    "settings": {"schemas"},
    "observability": {"settings", "schemas", "monitors"},
    "resilience": {"observability"},
    "storage": {"schemas", "resilience"},
    # clients and decisions
    "integrations": {"settings", "streams", "observability", "resilience"},
    "governance": {"drift", "schemas", "integrations"},
    # the stream: topics, tables, agents
    "faust_app": {"settings", "storage", "streams"},
    "streams": {"faust_app", "settings", "schemas", "observability", "resilience"},
    "tables": {"faust_app", "observability"},
    "agents": {"faust_app", "settings", "drift", "schemas", "monitors", "tables", "streams",
               "storage", "integrations", "governance", "observability", "resilience"},
    # the service, the reference trainer, the local stack, the commands
    "api": {"settings", "drift", "schemas", "reports", "storage", "streams", "integrations",
            "governance", "observability", "resilience"},
    "trainer": {"drift", "governance", "storage"},
    "stack": {"settings"},
    "cli": {"settings", "faust_app", "drift", "schemas", "monitors", "reports", "observability",
            "resilience", "storage", "integrations", "governance", "streams", "tables",
            "agents", "api", "trainer", "stack"},
}
ROOMS = frozenset(RULES)

#: the third-party modules the pure rooms may use (the standard library is always fine)
PURE_LIBRARIES: dict[str, set[str]] = {
    "drift": {"numpy", "scipy", "river", "sklearn", "numba"},
    "monitors": {"numpy", "orjson", "river"},
    "schemas": {"orjson"},
    "reports": {"numpy"},
}


def _files(room: str) -> list[Path]:
    path = REPO / room
    return sorted(path.rglob("*.py")) if path.is_dir() else [REPO / f"{room}.py"]


def imports_of(room: str) -> set[str]:
    """Top-level names a package (``room``/) or module (``room``.py) imports, anywhere in it."""
    found: set[str] = set()
    for file in _files(room):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    found.discard("__future__")
    return found


def test_every_package_of_the_project_is_a_room_with_rules() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages | {"settings", "faust_app"} == set(ROOMS)


def test_every_room_is_packaged() -> None:
    """A package missing from pyproject's list imports in the tests (they run from the
    repository) and fails in an installed ``driftline`` command."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    tool = project["tool"]["setuptools"]
    listed = {pattern.rstrip("*") for pattern in tool["packages"]["find"]["include"]}
    assert listed | set(tool["py-modules"]) == set(ROOMS)


@pytest.mark.parametrize("room", sorted(RULES))
def test_a_room_imports_only_the_rooms_it_may(room: str) -> None:
    used = (imports_of(room) & ROOMS) - {room}
    assert used <= RULES[room], f"{room} may not import {sorted(used - RULES[room])}"


@pytest.mark.parametrize("room", sorted(PURE_LIBRARIES))
def test_pure_rooms_use_only_computation_libraries(room: str) -> None:
    third_party = {name for name in imports_of(room) - ROOMS if name not in sys.stdlib_module_names}
    assert third_party <= PURE_LIBRARIES[room], sorted(third_party - PURE_LIBRARIES[room])


def test_the_loop_does_not_import_the_reference_trainer_or_scikit_learn() -> None:
    for room in ("agents", "governance", "monitors", "streams", "tables"):
        assert not imports_of(room) & {"trainer", "sklearn"}, room


def test_no_agent_builds_a_database_engine() -> None:
    """One engine per worker, from storage (faust_app.database), not one per agent."""
    for file in _files("agents"):
        source = file.read_text(encoding="utf-8")
        assert "create_engine(" not in source and "make_engine(" not in source, file.name


def test_the_stack_manager_lives_in_stack_and_the_commands_stay_thin() -> None:
    for module in ("kafkadist", "pgcluster", "processes", "services", "mailsink", "manager"):
        assert (REPO / "stack" / f"{module}.py").exists()
        assert not (REPO / "cli" / f"{module}.py").exists()
    assert "click" not in imports_of("stack")


def test_the_rules_can_fail() -> None:
    """A room importing one it may not is caught (the check reads the real import graph)."""
    assert "faust_app" in imports_of("agents") and "faust_app" not in RULES["storage"]
    used = imports_of("agents") & ROOMS - {"agents"}
    assert not used <= RULES["monitors"]
