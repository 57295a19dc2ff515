"""Which services the stack has, in which order, and running one action on several at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

from stack.kafkadist import Kafka
from stack.pgcluster import Postgres
from stack.processes import StackConfigError, StackError, locked
from stack.services import MailSink, MLflow, Service, StackConfig

#: In start order; `down` goes the other way.
KINDS: dict[str, type[Service]] = {
    "kafka": Kafka, "postgres": Postgres, "mlflow": MLflow, "smtp": MailSink}
SERVICES = tuple(KINDS)

#: (service, text) -> None
Say = Callable[[str, str], None]


def build(config: StackConfig, say: Say) -> dict[str, Service]:
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
        raise StackConfigError(f"--only: unknown service {named}; choose from {','.join(SERVICES)}")
    return [name for name in SERVICES if name in wanted]


def run_all(names: list[str], action: Callable[[Service], str], say: Say,
            fail: Callable[[StackError], None]) -> bool:
    """Run ``action`` on each service in parallel (a cold start is bounded by the slowest
    service, not the sum), ``say`` one line per service and ``fail`` each error; True when
    any failed. Ctrl-C raises KeyboardInterrupt at once: what was started is already
    recorded, so `down` can still stop it."""
    config = StackConfig.load()
    services = build(config, say)
    failed = False

    def one(name: str) -> None:
        nonlocal failed
        try:
            say(name, action(services[name]))
        except StackError as exc:
            failed = True
            fail(exc)
        except OSError as exc:  # e.g. a state dir we may not write: still one line
            failed = True
            fail(StackError(f"{name}: {exc}"))

    with locked(config.stack_dir / ".lock"):
        # Daemon threads: Ctrl-C returns at once instead of waiting for every probe to time out.
        workers = [threading.Thread(target=one, args=(name,), daemon=True) for name in names]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.2)
    return failed
