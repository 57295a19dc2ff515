"""How the CLI reports bad input: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import click

EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """A user error: the message names the file, column or setting at fault."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"driftline: error: {self.format_message()}", err=True)
