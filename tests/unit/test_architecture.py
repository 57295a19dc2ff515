"""Helpers that read the project's import graph from source (no module is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imports_of(room: str) -> set[str]:
    """Top-level names a package (``room``/) or module (``room``.py) imports, anywhere in it."""
    path = REPO / room
    files = sorted(path.rglob("*.py")) if path.is_dir() else [REPO / f"{room}.py"]
    found: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    found.discard("__future__")
    return found
