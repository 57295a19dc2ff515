"""Fault benchmark: the fault suite's scenarios, measured, as one table.

    .venv/bin/python bench/faults.py [--only postgres,kafka,smtp,trainer,mlflow,kill]

Needs the whole local stack (``driftline stack up``; ``eval "$(driftline stack env)"``) and
stops and starts ITS services (``driftline stack down|up --only NAME``) — run it on your own
stack only. Each scenario uses its own app id and topics, runs a real ``driftline worker``,
and reports: the fault, how long the dependency was away, events in, window results stored
in PostgreSQL, dead letters, decisions, mails, and the recovery time (from the dependency's
return to the last result or decision). Prints a Markdown table, then each scenario's
invariant checks (the same as ``tests/integration/faults``). Takes about 8 minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.db import make_engine, upgrade  # noqa: E402
from tests.integration.conftest import Worker  # noqa: E402
from tests.integration.faults import loop_scenarios, scenarios  # noqa: E402

SCENARIOS = {
    "postgres": lambda h: scenarios.stream_outage(h, "postgres", 45.0),
    "kafka": lambda h: scenarios.stream_outage(h, "kafka", 0.0, models=2, per_model=4000),
    "smtp": lambda h: scenarios.smtp_outage(h, outage=15.0, alerts=3),
    "trainer": lambda h: loop_scenarios.trainer_outage(h, outage=60.0),
    "mlflow": lambda h: loop_scenarios.mlflow_outage(h, outage=15.0),
    "kill": loop_scenarios.killed_between_alias_and_publish,
}


def harness(tmp: Path, engine: object) -> tuple[scenarios.Harness, list[Worker]]:
    unique = f"b{uuid.uuid4().hex[:10]}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFT__", "LIMITS__"))}
    base.update({"APP_ID": unique, "KAFKA__TOPICS__PREFIX": f"{unique}-",
                 "KAFKA__PARTITIONS": "4", "WEB_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                 "STATE_DIR": str(tmp / "state")})
    env = scenarios.fault_env(base, unique, os.environ["MLFLOW__TRACKING_URI"])
    workers: list[Worker] = []

    def start(**extra: str) -> Worker:
        worker = Worker({**env, "STATE_DIR": str(tmp / f"state-{len(workers)}"), **extra},
                        tmp / f"worker-{len(workers)}.log")
        workers.append(worker)
        worker.wait_ready()
        return worker

    return scenarios.Harness(env=env, broker=os.environ["KAFKA__BROKER"], engine=engine,  # type: ignore[arg-type]
                             tmp=tmp, start_worker=start), workers


def row(o: scenarios.Outcome) -> str:
    return (f"| {o.fault} | {o.duration:.0f} s | {o.events_in:,} | {o.results_stored:,} | "
            f"{o.dead_letters} | {o.decisions} | {o.mails} | {o.recovery:.1f} s |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)}")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or "DATABASE__URL" not in os.environ:
        print("usage: eval \"$(driftline stack env)\"; bench/faults.py --only "  # noqa: T201
              f"{','.join(SCENARIOS)} (unknown: {unknown})", file=sys.stderr)
        return 2
    upgrade(os.environ["DATABASE__URL"])
    engine = make_engine(os.environ["DATABASE__URL"])
    outcomes = []
    began = time.monotonic()
    for name in names:
        tmp = Path(tempfile.mkdtemp(prefix=f"faults-{name}-"))
        h, workers = harness(tmp, engine)
        try:
            outcomes.append(SCENARIOS[name](h))
        finally:
            for worker in workers:
                worker.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    print("| fault | duration | events in | results stored | dead letters | decisions | "  # noqa: T201
          "mails | recovery after return |")
    print("|---|---|---|---|---|---|---|---|")  # noqa: T201
    for outcome in outcomes:
        print(row(outcome))  # noqa: T201
    print(f"\n{len(outcomes)} scenario(s) in {(time.monotonic() - began) / 60:.1f} min")  # noqa: T201
    for outcome in outcomes:
        print(f"- {outcome.fault}: {outcome.notes}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
