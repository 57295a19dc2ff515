"""What ``driftline demo`` (and the loop's integration tests) need around the system:
child processes, the SMTP sink's mailbox, and one-line descriptions of what driftline did —
drift windows, the loop's events — for a terminal."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
        accepted = record["decision"] == "accepted"
        mark = click.style(record["decision"].upper(), fg="green" if accepted else "yellow",
                           bold=True)
        # the id the merged triggers' summary refers to
        named = f" (request {str(record['request_id'])[:8]})" if accepted else ""
        return f"  retrain request  {mark}{named}: {record['reason']}"
    if topic.endswith("training-jobs"):
        bar = "#" * int(record["progress"] * 20)
        # whole, like the criteria: a cut message ends mid-timestamp
        return (f"  training job     {record['status']:<10} [{bar:<20}] "
                f"{record['progress']:>4.0%}  {record['message']}")
    verdict = click.style(record["decision"].upper(), fg="green" if record["decision"] == "promoted"
                          else "red", bold=True)
    lines = [f"  promotion        {verdict}: v{record.get('candidate_version')} vs champion "
             f"v{record.get('champion_version')}"]
    from reports.verdicts import criterion_text

    for name, result in record["criteria"].items():
        if name in ("metrics", "holdout") or not isinstance(result, dict):
            continue
        ok = click.style("pass", fg="green") if result.get("passed") else click.style("FAIL", fg="red")
        # whole, wrapped by the terminal: the McNemar p-value is the number people look for
        lines.append(f"      {ok} {criterion_text(name, result)}")
    return "\n".join(lines)


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send everything written meanwhile to ``log`` instead of the terminal: Python's
    ``sys.stdout``/``sys.stderr`` (MLflow's own INFO/WARNING lines and its "View run"
    links write there) and file descriptors 1 and 2 (what a child process prints)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with log.open("ab") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", write_through=True)
        try:
            os.dup2(handle.fileno(), 1)
            os.dup2(handle.fileno(), 2)
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield
        finally:
            text.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            text.detach()


ALERT_MARKS = {"fired": ("ALERT", "red", True), "ongoing": ("alert ongoing", "red", False),
               "recovered": ("RECOVERED", "green", True)}


def alert_mark(state: str | None) -> str:
    """How a window line marks the feature's alert: new, still open, or closed."""
    if state not in ALERT_MARKS:
        return ""
    text, colour, bold = ALERT_MARKS[state]
    return " " + click.style(text, fg=colour, bold=bold)


def describe_window(results: Sequence[Mapping[str, Any]], thresholds: Any) -> str:
    """One line per window: each feature's verdict, the statistic that decided a drift
    (worded as the HTML reports word it) and its alert state."""
    from reports.verdicts import deciding, event_outcomes

    first = results[0]
    parts = []
    for r in sorted(results, key=lambda r: r["feature"]):
        if r["drifted"]:
            why = deciding(event_outcomes(r, thresholds), thresholds, brief=True)
            text = click.style(f"{r['feature']} drifted ({r['severity']}, {why})", fg="red")
        else:
            text = click.style(f"{r['feature']} ok", fg="green")
        parts.append(text + alert_mark(r.get("alert")))
    kind = "model " if first["kind"] == "model_drift" else "inputs"
    return (f"  {kind} events {first['window_start_seq']:>5}-{first['window_end_seq']:<5} "
            + ", ".join(parts))


_MERGE_WINDOW = re.compile(r"merge window (\d+s)")


def describe_merged(request_id: str, records: Sequence[Mapping[str, Any]]) -> str:
    """The triggers merged into one request, on one line: how many, why, and what fired."""
    same_batch = sum("same batch" in r["reason"] for r in records)
    windows = {m.group(1) for r in records if (m := _MERGE_WINDOW.search(r["reason"]))}
    why = []
    if same_batch:
        why.append(f"{same_batch} in the same batch")
    if len(records) > same_batch:
        window = f" {sorted(windows)[0]}" if len(windows) == 1 else ""
        why.append(f"{len(records) - same_batch} within its{window} merge window")
    fired: dict[str, set[str]] = {}
    for r in records:
        features = (r.get("triggers") or {}).get("features") or []
        fired.setdefault(r["trigger_kind"], set()).update(str(f) for f in features)
    what = "; ".join(f"{kind} on {', '.join(sorted(names))}" if names else kind
                     for kind, names in sorted(fired.items()))
    mark = click.style("MERGED", fg="yellow", bold=True)
    count = f"{len(records)} trigger" + ("s" if len(records) != 1 else "")
    return (f"  retrain request  {mark}: {count} into request {request_id[:8]} "
            f"({', '.join(why)}): {what}")


class Narrator:
    """Prints what driftline did, as it happens, with merged retrain triggers held back
    and summarised on one line (per request) before the loop's next step is printed."""

    def __init__(self, say: Say) -> None:
        self.say = say
        self._merged: dict[str, list[Mapping[str, Any]]] = {}

    def line(self, text: str) -> None:
        self.say(text)

    def loop_record(self, topic: str, record: Mapping[str, Any]) -> None:
        if topic.endswith("retrain-requests") and record.get("decision") == "merged":
            self._merged.setdefault(str(record["request_id"]), []).append(record)
            return
        self.flush()
        self.say(describe_loop_record(topic, dict(record)))

    def flush(self) -> None:
        for request_id, records in self._merged.items():
            self.say(describe_merged(request_id, records))
        self._merged.clear()
