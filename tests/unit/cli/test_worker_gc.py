"""The worker freezes what its imports left alive, before faust starts, so full collections
stop traversing it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

import cli.worker


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the rest of the suite runs with an ordinary collector
    gc.set_threshold(*thresholds)


def test_imported_objects_are_frozen_and_their_garbage_is_collected_first(
        unfrozen: None) -> None:
    alive = Node()
    garbage, partner = Node(), Node()
    garbage.other, partner.other = partner, garbage  # a cycle only the collector frees
    freed = weakref.ref(garbage)
    del garbage, partner

    frozen = cli.worker.freeze_imported_objects()

    assert frozen == gc.get_freeze_count() > 0
    assert freed() is None  # collected, not frozen for good
    # no generation holds the live object any more: full collections no longer traverse it
    assert not any(o is alive for o in gc.get_objects())
    later = Node()
    assert any(o is later for o in gc.get_objects())  # what comes after is collected as before
    assert gc.get_threshold() == cli.worker.COLLECTOR_THRESHOLDS  # less often


def test_cycles_made_after_the_freeze_are_still_collected(unfrozen: None) -> None:
    cli.worker.freeze_imported_objects()
    freed = []
    for _ in range(3 * cli.worker.COLLECTOR_THRESHOLDS[0]):  # past the young threshold
        a, b = Node(), Node()
        a.other, b.other = b, a
        if not freed:
            freed.append(weakref.ref(a))
        del a, b
    assert freed[0]() is None  # collected without an explicit gc.collect()


def test_the_worker_freezes_after_its_imports_and_before_faust_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import observability.metrics
    import observability.tracing
    import streams.admin

    calls: list[str] = []

    async def no_topics(*args: Any) -> None:
        calls.append("topics")

    class Worker:
        def __init__(self, app: Any, **options: Any) -> None:
            calls.append("worker")

        def execute_from_commandline(self) -> None:
            calls.append("faust starts")

    monkeypatch.setattr(streams.admin, "ensure_topics", no_topics)
    monkeypatch.setattr(cli.worker, "_import_agents", lambda: calls.append("agents"))
    monkeypatch.setattr(observability.metrics, "install", lambda app: None)
    monkeypatch.setattr(observability.tracing, "configure", lambda *a, **k: None)
    monkeypatch.setattr(cli.worker, "freeze_imported_objects", lambda: calls.append("freeze"))
    monkeypatch.setattr(cli.worker, "_worker_class", lambda: Worker)

    result = CliRunner().invoke(cli.worker.worker, ["--no-migrate"])

    assert result.exit_code == 0, result.output
    assert calls == ["topics", "agents", "freeze", "worker", "faust starts"]
