"""What a run of the test suite costs: wall time, peak memory of all its processes together,
and the disk it leaves behind — the figures of the README's "What the tests need".

Run from the repository root (as root, or as a user who may run ``scripts/test``)::

    .venv/bin/python bench/suite/cost.py [-- ARGS FOR scripts/test]

It runs ``scripts/test -q`` (or ``scripts/test ARGS``) and samples, once a second, every
process of the run: the descendants of ``scripts/test`` (pytest, the workers, the API, the
trainer, Chromium) plus the services ``driftline stack up`` started, which detach from the
run (Kafka, PostgreSQL and its backends, MLflow, the SMTP sink; found through their
``.driftline/stack/*/process.json`` records). Per sample it sums, over those processes,

- PSS (proportional set size: a page shared by n processes counts 1/n in each), the honest
  "memory the run takes"; and
- RSS, which counts shared pages (PostgreSQL's shared buffers, libraries) once per process
  and so overstates it;

and reports the peak of each sum, the largest single process at its peak, the wall time and
pytest's exit code. Every 30 s it also sizes what the run writes while it runs — the stack's
state (Kafka's log, MLflow's store, the mail sink: ``.driftline/``), the PostgreSQL
cluster's data folder, and pytest's temporary folder (found through the files the run has
open) — and reports each one's peak; after the run, ``du`` sizes what stays installed
(``.venv``, caches). The script does not change the suite; other work on the machine is not
counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROC = Path("/proc")
STACK_STATE = ROOT / ".driftline" / "stack"
PYTEST_TMP = re.compile(r"^(/tmp/pytest-of-[^/]+/pytest-\d+)/")
DISK_EVERY = 30.0


@dataclass
class Peaks:
    pss_kib: int = 0
    rss_kib: int = 0
    largest_kib: int = 0
    largest_name: str = ""
    processes: int = 0
    samples: int = 0
    at_seconds: float = 0.0
    top: list[tuple[str, int]] = field(default_factory=list)
    #: folder → the most bytes it held at a sample
    disk: dict[str, int] = field(default_factory=dict)


def _parents() -> dict[int, int]:
    """pid → parent pid of every live process."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ")"
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _records() -> list[dict]:
    records = []
    for path in STACK_STATE.glob("*/process.json"):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return records


def _stack_pids() -> set[int]:
    return {int(r["pid"]) for r in _records() if isinstance(r.get("pid"), int)}


def _bytes(folder: Path) -> int:
    """Bytes on disk under ``folder`` (allocated blocks, as ``du``), files vanishing meanwhile."""
    total = 0
    for base, _, files in os.walk(folder, onerror=lambda error: None):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _written(pids: set[int]) -> set[Path]:
    """The folders the run writes into: the stack's state and PostgreSQL's data (named by
    the stack's records) and pytest's temporary folder (where the run's files are open)."""
    folders = {ROOT / ".driftline"}
    folders |= {Path(r["data_dir"]) for r in _records()
                if r.get("service") == "postgres" and r.get("data_dir")}
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        folders |= {Path(m.group(1)) for link in links if (m := PYTEST_TMP.match(link))}
    return folders


def _tree(roots: set[int], parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    seen: set[int] = set()
    todo = [pid for pid in roots if pid in parents]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, ()))
    return seen


def _memory(pid: int) -> tuple[int, int, str] | None:
    """(PSS KiB, RSS KiB, command name) of one process, None if it is gone."""
    try:
        rollup = (PROC / str(pid) / "smaps_rollup").read_text()
        name = (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return None
    values = {}
    for line in rollup.splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            values[key] = int(parts[0])
    return values.get("Pss", 0), values.get("Rss", 0), name


def _sample(root: int, peaks: Peaks, started: float, stop: threading.Event) -> None:
    sized = 0.0
    folders: set[Path] = set()
    while not stop.wait(1.0):
        pids = _tree({root} | _stack_pids(), _parents())
        folders |= _written(pids)
        if time.monotonic() - sized >= DISK_EVERY:
            sized = time.monotonic()
            for folder in folders:
                key = str(folder)
                peaks.disk[key] = max(peaks.disk.get(key, 0), _bytes(folder))
        pss = rss = 0
        per: list[tuple[str, int]] = []
        for pid in pids:
            measured = _memory(pid)
            if measured is None:
                continue
            pss += measured[0]
            rss += measured[1]
            per.append((measured[2], measured[1]))
        peaks.samples += 1
        if per:
            name, largest = max(per, key=lambda item: item[1])
            if largest > peaks.largest_kib:
                peaks.largest_kib, peaks.largest_name = largest, name
        peaks.rss_kib = max(peaks.rss_kib, rss)
        if pss > peaks.pss_kib:
            peaks.pss_kib, peaks.processes = pss, len(per)
            peaks.at_seconds = time.monotonic() - started
            peaks.top = sorted(per, key=lambda item: -item[1])[:8]


def _du(paths: list[Path]) -> list[tuple[str, str]]:
    sizes = []
    for path in paths:
        if not path.exists():
            continue
        out = subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=False)
        sizes.append((str(path), out.stdout.split("\t", 1)[0] or "?"))
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("args", nargs="*", help="arguments for scripts/test (default: -q)")
    options = parser.parse_args()
    command = [str(ROOT / "scripts" / "test"), *(options.args or ["-q"])]
    peaks = Peaks()
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=ROOT)  # noqa: S603 - our own script
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(child.pid, peaks, started, stop), daemon=True)
    sampler.start()
    code = child.wait()
    minutes = (time.monotonic() - started) / 60
    stop.set()
    sampler.join()
    home = Path.home()
    disk = _du([
        ROOT / ".venv",
        ROOT / ".driftline",
        home / ".cache" / "uv",
        home / ".m2",
        home / ".cache" / "driftline",
    ])
    mib = 1024
    lines = [
        f"command       {' '.join(command)}",
        f"exit code     {code}",
        f"wall time     {minutes:.1f} min",
        f"peak memory   {peaks.pss_kib / mib:.0f} MiB PSS summed over {peaks.processes} processes "
        f"({peaks.at_seconds / 60:.1f} min in); RSS summed {peaks.rss_kib / mib:.0f} MiB",
        f"largest one   {peaks.largest_name} {peaks.largest_kib / mib:.0f} MiB RSS",
        "at the peak   "
        + ", ".join(f"{name} {kib / mib:.0f}" for name, kib in peaks.top)
        + " (MiB RSS)",
        f"samples       {peaks.samples} (one a second)",
    ]
    lines += [f"disk (peak)   {size / 2**20:>5.0f}M  {path}"
              for path, size in sorted(peaks.disk.items())]
    lines += [f"disk (after)  {size:>6}  {path}" for path, size in disk]
    print("\n".join(lines), file=sys.stderr)  # after pytest's own output
    return code


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
