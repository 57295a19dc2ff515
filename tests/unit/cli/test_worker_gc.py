"""The worker freezes what start-up left alive, so full collections stop traversing it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import faust
import pytest

import cli.worker


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite runs with an ordinary collector


def test_start_up_objects_are_frozen_and_its_garbage_is_collected_first(unfrozen: None) -> None:
    alive = Node()
    garbage, partner = Node(), Node()
    garbage.other, partner.other = partner, garbage  # a cycle only the collector frees
    freed = weakref.ref(garbage)
    del garbage, partner

    frozen = cli.worker.freeze_start_up_objects()

    assert frozen == gc.get_freeze_count() > 0
    assert freed() is None  # collected, not frozen for good
    # no generation holds the live object any more: full collections no longer traverse it
    assert not any(o is alive for o in gc.get_objects())
    later = Node()
    assert any(o is later for o in gc.get_objects())  # what comes after is collected as before


async def test_the_worker_freezes_once_it_has_started(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def started(self: object) -> None:
        calls.append("faust")

    monkeypatch.setattr(faust.Worker, "on_startup_finished", started)
    monkeypatch.setattr(cli.worker, "freeze_start_up_objects", lambda: calls.append("freeze"))
    worker_class = cli.worker._worker_class()
    await worker_class.on_startup_finished(object.__new__(worker_class))
    assert calls == ["faust", "freeze"]
