"""`stack up`'s last line names a driftline the user's shell can run: after `scripts/demo`
nothing put `driftline` on PATH, and `eval "$(driftline stack env)"` said "command not found"."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cli.stack import shell_command

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[3]


def test_driftline_on_path_is_named_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{BIN}:/usr/bin:/bin")
    assert shell_command() == "driftline"


def test_otherwise_its_path_relative_to_where_the_user_is(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if not BIN.resolve().is_relative_to(REPO):
        pytest.skip("the environment is not the clone's .venv")
    monkeypatch.chdir(REPO)
    assert shell_command() == str((BIN / "driftline").relative_to(REPO))  # .venv/bin/driftline
    monkeypatch.chdir(tmp_path)
    assert shell_command() == str(BIN / "driftline")
