"""Command lists in ``--help`` with each description whole.

click cuts a sub-command's description to what fits on one line and ends it with "...";
these groups print the first paragraph of each command's help in full, wrapped.
"""

from __future__ import annotations

import click


def first_paragraph(command: click.Command) -> str:
    text = command.short_help or (command.help or "")
    return " ".join(text.split("\n\n")[0].split())


class WholeHelpGroup(click.Group):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, first_paragraph(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
