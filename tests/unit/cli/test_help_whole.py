"""Every `--help` lists its commands with their descriptions whole, never cut with "..."."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_is_whole(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    body = result.output.split("\n", 1)[1]  # the usage line ends in "[ARGS]..." by design
    assert "..." not in body
    command = cli.get_command(click.Context(cli), name)
    if isinstance(command, click.Group):  # each sub-command's first sentence is there whole
        for sub in command.commands.values():
            first = " ".join((sub.help or "").split("\n\n")[0].split())
            assert " ".join(first.split()[:6]) in " ".join(result.output.split())


def test_schemas_export_needs_an_out_folder() -> None:
    result = CliRunner().invoke(cli, ["schemas", "export"])
    assert result.exit_code == 2 and "--out" in result.output
