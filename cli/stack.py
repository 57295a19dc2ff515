"""``driftline stack``: the real services driftline needs, started on this machine.

No Docker here, so ``up`` runs Kafka (KRaft, from Maven Central jars), a dedicated
PostgreSQL cluster (Debian's package), an MLflow tracking server and an SMTP sink, all on
127.0.0.1, and waits until each one answers. ``up`` is idempotent; ``down`` stops only what
``up`` started (by recorded pid). State, logs and pids live in ``<state_dir>/stack/``.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable

import click

from cli.errors import BadInput
from cli.kafkadist import Kafka
from cli.pgcluster import Postgres
from cli.processes import StackError, locked
from cli.services import MailSink, MLflow, Service, StackConfig

#: In start order; `down` goes the other way.
KINDS: dict[str, type[Service]] = {
    "kafka": Kafka, "postgres": Postgres, "mlflow": MLflow, "smtp": MailSink}
SERVICES = tuple(KINDS)


def build(config: StackConfig, say: Callable[[str, str], None]) -> dict[str, Service]:
    def teller(name: str) -> Callable[[str], None]:
        return lambda text: say(name, text)

    return {name: kind(config, teller(name)) for name, kind in KINDS.items()}


def parse_only(value: str | None) -> list[str]:
    """``--only kafka,smtp`` -> ["kafka", "smtp"] in start order; None -> all services."""
    if not value:
        return list(SERVICES)
    wanted = {part.strip().lower() for part in value.split(",") if part.strip()}
    unknown = sorted(wanted - set(SERVICES))
    if unknown or not wanted:
        named = ", ".join(unknown) or repr(value)
        raise BadInput(f"--only: unknown service {named}; choose from {','.join(SERVICES)}")
    return [name for name in SERVICES if name in wanted]


only_option = click.option(
    "--only", metavar="NAMES", default=None,
    help=f"Comma-separated subset of {','.join(SERVICES)} (default: all).")


class Console:
    """Lines from services working in parallel, one whole line at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def say(self, service: str, text: str, err: bool = False) -> None:
        with self._lock:
            click.echo(f"{service:<9} {text}", err=err)

    def fail(self, error: StackError) -> None:
        with self._lock:
            error.show()


def _run_all(names: list[str], action: Callable[[Service], str]) -> None:
    """Run ``action`` on each service in parallel (a cold start is bounded by the slowest
    service, not the sum), print one line per service, and exit 1 after all of them if any
    failed."""
    console = Console()
    config = StackConfig.load()
    services = build(config, console.say)
    failed = False

    def one(name: str) -> None:
        nonlocal failed
        try:
            console.say(name, action(services[name]))
        except StackError as exc:
            failed = True
            console.fail(exc)
        except OSError as exc:  # e.g. a state dir we may not write: still one line
            failed = True
            console.fail(StackError(f"{name}: {exc}"))

    with locked(config.stack_dir / ".lock"):
        # Daemon threads: Ctrl-C returns at once instead of waiting for every probe to time
        # out. What was started is already recorded, so `down` can still stop it.
        workers = [threading.Thread(target=one, args=(name,), daemon=True) for name in names]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)
        except KeyboardInterrupt:
            click.echo("driftline: interrupted; what already started keeps running "
                       "(`driftline stack status`, `driftline stack down`)", err=True)
            raise SystemExit(130) from None
    if failed:
        raise SystemExit(1)


@click.group()
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
