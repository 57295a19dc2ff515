"""``driftline stack``: thin commands over the local stack manager (the ``stack`` package)."""

from __future__ import annotations

import json
import shlex
import threading
from typing import Any

import click

from cli.errors import BadInput
from stack.manager import SERVICES, build, parse_only, run_all
from stack.processes import StackConfigError, StackError
from stack.services import MailSink, StackConfig

only_option = click.option(
    "--only", metavar="NAMES", default=None,
    help=f"Comma-separated subset of {','.join(SERVICES)} (default: all).")


class StackGroup(click.Group):
    """Reports the stack's errors as the rest of the CLI does: bad settings exit 2, a service
    that cannot start or stop exits 1 with its log's last lines above the reason."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StackConfigError as exc:
            raise BadInput(str(exc)) from None
        except StackError as exc:
            for line in exc.lines():
                click.echo(line, err=True)
            raise SystemExit(exc.exit_code) from None


class Console:
    """Lines from services working in parallel, one whole line at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def say(self, service: str, text: str) -> None:
        with self._lock:
            click.echo(f"{service:<9} {text}")

    def fail(self, error: StackError) -> None:
        with self._lock:
            for line in error.lines():
                click.echo(line, err=True)


def _run_all(names: list[str], action: Any) -> None:
    """Run ``action`` on every named service; exit 1 after all of them if any failed."""
    console = Console()
    try:
        failed = run_all(names, action, console.say, console.fail)
    except KeyboardInterrupt:
        click.echo("driftline: interrupted; what already started keeps running "
                   "(`driftline stack status`, `driftline stack down`)", err=True)
        raise SystemExit(130) from None
    if failed:
        raise SystemExit(1)


@click.group(cls=StackGroup)
def stack() -> None:
    """Start, stop or inspect the local Kafka/PostgreSQL/MLflow/SMTP stack."""


@stack.command()
@only_option
def up(only: str | None) -> None:
    """Start the services (those already running are left as they are) and wait until
    each one answers."""
    names = parse_only(only)
    _run_all(names, lambda service: service.up())
    click.echo('To use it: eval "$(driftline stack env)"')


@stack.command()
@only_option
@click.option("--purge", is_flag=True,
              help="Also delete the services' data (topics, database cluster, mail).")
def down(only: str | None, purge: bool) -> None:
    """Stop what `stack up` started; nothing else."""
    names = list(reversed(parse_only(only)))
    _run_all(names, lambda service: service.down(purge=purge))


@stack.command()
@only_option
@click.option("--check", is_flag=True,
              help="Print nothing; exit 0 when every service named runs, 1 otherwise.")
def status(only: str | None, check: bool) -> None:
    """Print each service: running or stopped, pid, address, data dir."""
    config = StackConfig.load()
    services = build(config, lambda name, text: None)
    if check:
        raise SystemExit(0 if all(services[n].status().running for n in parse_only(only)) else 1)
    rows = [("SERVICE", "STATE", "PID", "ADDRESS", "DATA")]
    notes = []
    for name in parse_only(only):
        st = services[name].status()
        rows.append((name, "running" if st.running else "stopped", str(st.pid or "-"),
                     st.address, st.data_dir))
        if st.note:
            notes.append(f"{name}: {st.note}")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                   + "  " + row[4])
    for note in notes:
        click.echo(note)


@stack.command()
@only_option
def env(only: str | None) -> None:
    """Print `export` lines that point driftline at the stack: eval "$(driftline stack env)"."""
    services = build(StackConfig.load(), lambda name, text: None)
    for name in parse_only(only):
        for key, value in services[name].env().items():
            click.echo(f"export {key}={shlex.quote(value)}")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print the stored JSON lines as they are.")
def mailbox(as_json: bool) -> None:
    """Print the messages the SMTP sink received, oldest first."""
    config = StackConfig.load()
    path = MailSink(config, lambda text: None).mailbox
    if not path.exists():
        click.echo(f"no messages ({path} does not exist)", err=True)
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if as_json:
        for line in lines:
            click.echo(line)
        return
    for number, line in enumerate(lines, 1):
        try:
            mail = json.loads(line)
        except ValueError:
            click.echo(f"#{number}: (unreadable line)")
            continue
        click.echo(f"#{number} {mail.get('received_at', '')}  {mail.get('mail_from', '')} -> "
                   f"{', '.join(mail.get('rcpt_tos', []))}")
        click.echo(f"   Subject: {mail.get('subject', '')}")
        body = (mail.get("text") or mail.get("html") or "").strip()
        for body_line in body.splitlines()[:20]:
            click.echo(f"   {body_line}")
    click.echo(f"{len(lines)} message(s) in {path}")
