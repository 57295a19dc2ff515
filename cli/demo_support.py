"""What ``driftline demo`` (and the loop's integration tests) need around the system:
child processes, the SMTP sink's mailbox, and one-line descriptions of the loop's events."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

DRIFTLINE = str(Path(sys.executable).parent / "driftline")
Say = Callable[[str], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen([DRIFTLINE, *args], env=env, stdout=handle,  # noqa: S603
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def wait_for(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, log: Path,
              timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"{what} exited; see {log}")
        if check():
            return
        time.sleep(0.3)
    raise click.ClickException(f"{what} did not start in {timeout:.0f}s; see {log}")


def default_mailbox() -> Path:
    """The stack's SMTP sink mailbox (``DRIFTLINE_MAILBOX`` overrides, e.g. a shared stack)."""
    if os.environ.get("DRIFTLINE_MAILBOX"):
        return Path(os.environ["DRIFTLINE_MAILBOX"])
    from stack.services import MailSink, StackConfig

    return MailSink(StackConfig.load(), lambda text: None).mailbox


def read_mails(mailbox: Path, recipient: str) -> list[dict[str, Any]]:
    if not mailbox.exists():
        return []
    out = []
    for line in mailbox.read_text(encoding="utf-8").splitlines():
        try:
            mail = json.loads(line)
        except ValueError:
            continue
        if recipient in mail.get("rcpt_tos", []):
            out.append(mail)
    return out


def describe_loop_record(topic: str, record: dict[str, Any]) -> str:
    if topic.endswith("retrain-requests"):
        mark = click.style(record["decision"].upper(), fg="green" if record["decision"] == "accepted"
                           else "yellow", bold=True)
        return f"  retrain request  {mark}: {record['reason']}"
    if topic.endswith("training-jobs"):
        bar = "#" * int(record["progress"] * 20)
        return (f"  training job     {record['status']:<10} [{bar:<20}] "
                f"{record['progress']:>4.0%}  {record['message'][:90]}")
    verdict = click.style(record["decision"].upper(), fg="green" if record["decision"] == "promoted"
                          else "red", bold=True)
    lines = [f"  promotion        {verdict}: v{record.get('candidate_version')} vs champion "
             f"v{record.get('champion_version')}"]
    for name, result in record["criteria"].items():
        if name in ("metrics", "holdout"):
            continue
        ok = click.style("pass", fg="green") if result.get("passed") else click.style("FAIL", fg="red")
        evidence = {k: v for k, v in result.items() if k != "passed" and not isinstance(v, dict)}
        lines.append(f"      {ok} {name:<26} {json.dumps(evidence, default=str)[:110]}")
    return "\n".join(lines)
