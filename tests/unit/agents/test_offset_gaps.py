"""The offset guard: a partition that skips offsets is sought back, and nothing after the gap
is processed until the skipped events come again; a gap that stays is the log's own."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from faust.types import TP

from streams.gaps import OffsetGuard

A, B = TP("features", 0), TP("features", 1)


@dataclass
class Message:
    tp: TP
    offset: int


@dataclass
class Event:
    message: Message


def events(tp: TP, *offsets: int) -> list[Event]:
    return [Event(Message(tp, o)) for o in offsets]


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Seeks:
    calls: list[tuple[TP, int]] = field(default_factory=list)

    async def __call__(self, tp: TP, offset: int) -> None:
        self.calls.append((tp, offset))


def offsets(admitted: list[Event]) -> list[tuple[int, int]]:
    return [(e.message.tp.partition, e.message.offset) for e in admitted]


async def test_contiguous_offsets_pass_and_partitions_are_independent():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks)
    batch = events(A, 5, 6, 7) + events(B, 100, 101)
    assert offsets(await guard.admit(batch)) == [(0, 5), (0, 6), (0, 7), (1, 100), (1, 101)]
    assert offsets(await guard.admit(events(A, 8) + events(B, 102))) == [(0, 8), (1, 102)]
    assert seeks.calls == []


async def test_a_gap_seeks_back_and_holds_the_partition_until_the_missing_offsets_come():
    seeks, clock = Seeks(), Clock()
    guard = OffsetGuard("t", seeks, clock=clock)
    await guard.admit(events(A, 10, 11))
    # 12..14 were never handed over; B is unaffected
    admitted = await guard.admit(events(A, 15, 16) + events(B, 0, 1))
    assert offsets(admitted) == [(1, 0), (1, 1)]
    assert seeks.calls == [(A, 12)]
    # what was buffered before the seek still arrives: held back, no second seek
    clock.now = 1.0
    assert offsets(await guard.admit(events(A, 17, 18))) == []
    assert seeks.calls == [(A, 12)]
    # the seek delivers from 12 again, in order; the rest follows
    clock.now = 2.0
    assert offsets(await guard.admit(events(A, 12, 13, 14, 15, 16))) == [
        (0, 12), (0, 13), (0, 14), (0, 15), (0, 16)]
    assert offsets(await guard.admit(events(A, 17))) == [(0, 17)]


async def test_a_gap_in_the_log_itself_is_crossed_when_the_seek_brings_the_same_offset():
    seeks, clock = Seeks(), Clock()
    guard = OffsetGuard("t", seeks, clock=clock)
    await guard.admit(events(A, 10))
    assert offsets(await guard.admit(events(A, 12, 13))) == []  # 11: a transaction marker
    assert seeks.calls == [(A, 11)]
    assert offsets(await guard.admit(events(A, 14))) == []  # buffered before the seek
    # the seek starts at the first offset that exists, 12, which revealed the gap
    assert offsets(await guard.admit(events(A, 12, 13, 14, 15))) == [
        (0, 12), (0, 13), (0, 14), (0, 15)]
    assert seeks.calls == [(A, 11)]


async def test_a_seek_that_delivers_nothing_is_repeated_not_given_up():
    seeks, clock = Seeks(), Clock()
    guard = OffsetGuard("t", seeks, patience=10.0, clock=clock)
    await guard.admit(events(A, 1))
    await guard.admit(events(A, 5))
    clock.now = 3.0
    assert offsets(await guard.admit(events(A, 6))) == [] and seeks.calls == [(A, 2)]
    clock.now = 11.0
    assert offsets(await guard.admit(events(A, 7))) == []
    assert seeks.calls == [(A, 2), (A, 2)]
    assert offsets(await guard.admit(events(A, 2, 3, 4, 5))) == [(0, 2), (0, 3), (0, 4), (0, 5)]


async def test_a_replay_from_an_earlier_offset_is_not_a_gap():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks)
    await guard.admit(events(A, 50, 51, 52))
    # a rebalance sought the partition back to its committed offset
    assert offsets(await guard.admit(events(A, 40, 41))) == [(0, 40), (0, 41)]
    assert offsets(await guard.admit(events(A, 42))) == [(0, 42)]
    assert seeks.calls == []


async def test_revoked_partitions_start_afresh_wherever_they_come_back():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks)
    await guard.admit(events(A, 1, 2))
    await guard.admit(events(A, 9))  # a gap: sought back
    guard.forget([A])
    # another worker moved the partition on meanwhile
    assert offsets(await guard.admit(events(A, 500))) == [(0, 500)]
    assert seeks.calls == [(A, 3)]


async def test_a_disabled_guard_passes_everything_and_never_seeks():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks, enabled=False)
    assert offsets(await guard.admit(events(A, 1, 5, 9))) == [(0, 1), (0, 5), (0, 9)]
    assert seeks.calls == []


# -- the tail: lost messages with nothing after them -------------------------------------------

def ends(**by_partition: int):  # log end offsets, by partition name ("a", "b")
    tps = {"a": A, "b": B}
    table = {tps[k]: v for k, v in by_partition.items()}
    return lambda tp: table.get(tp)


def nothing_committed(tp: TP) -> int | None:
    return None


async def test_a_log_that_ends_past_what_the_agent_saw_is_sought_back_on_the_second_check():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks)
    await guard.admit(events(A, 10, 11) + events(B, 3))
    # 12..14 of A were fetched and lost, and nothing comes after them; B is up to date
    assert await guard.check_tail([A, B], nothing_committed, ends(a=15, b=4)) == []
    assert await guard.check_tail([A, B], nothing_committed, ends(a=15, b=4)) == [A]
    assert seeks.calls == [(A, 12)]
    # the same state once more: one seek per state, not a loop (the log may end in a marker)
    assert await guard.check_tail([A, B], nothing_committed, ends(a=15, b=4)) == []
    # the seek delivers them: nothing is missing any more
    assert offsets(await guard.admit(events(A, 12, 13, 14))) == [(0, 12), (0, 13), (0, 14)]
    assert await guard.check_tail([A, B], nothing_committed, ends(a=15, b=4)) == []
    assert seeks.calls == [(A, 12)]


async def test_a_log_that_moves_between_checks_is_not_a_tail_yet():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks)
    await guard.admit(events(A, 10, 11))
    assert await guard.check_tail([A], nothing_committed, ends(a=15)) == []
    assert await guard.check_tail([A], nothing_committed, ends(a=20)) == []  # still coming
    await guard.admit(events(A, 12))
    assert await guard.check_tail([A], nothing_committed, ends(a=20)) == []  # the agent moved
    assert seeks.calls == []


async def test_a_partition_not_seen_since_a_rebalance_is_measured_from_its_committed_offset():
    seeks = Seeks()
    guard = OffsetGuard("t", seeks)
    committed = {A: 40, B: 7}.get
    for _ in range(2):
        sought = await guard.check_tail([A, B], committed, ends(a=45, b=7))
    assert sought == [A] and seeks.calls == [(A, 40)]
    # nothing fetched yet (no log end known): nothing to say
    guard.forget([A, B])
    for _ in range(2):
        assert await guard.check_tail([A], committed, lambda tp: None) == []


async def test_a_partition_being_sought_or_revoked_is_left_alone():
    seeks, clock = Seeks(), Clock()
    guard = OffsetGuard("t", seeks, clock=clock)
    await guard.admit(events(A, 1))
    await guard.admit(events(A, 5))  # a gap: A is being sought back to 2
    for _ in range(2):
        assert await guard.check_tail([A], nothing_committed, ends(a=9)) == []
    assert seeks.calls == [(A, 2)]
    off = OffsetGuard("t", seeks, enabled=False)
    await off.admit(events(B, 1))
    for _ in range(2):
        assert await off.check_tail([B], nothing_committed, ends(b=9)) == []
    assert seeks.calls == [(A, 2)]


@dataclass
class Consumer:
    """What watch_tail reads of faust's consumer."""

    ends: dict[TP, int]
    flow_active: bool = True
    _committed_offset: dict[TP, int] = field(default_factory=dict)

    def assignment(self) -> set[TP]:
        return set(self.ends) | {TP("other-topic", 0)}

    def highwater(self, tp: TP) -> int:
        if tp not in self.ends:
            raise AssertionError("Partition is not assigned")
        return self.ends[tp]


@dataclass
class App:
    _consumer: Consumer | None


async def test_the_watch_checks_only_while_the_agent_waits_idle_and_the_flow_runs():
    import asyncio

    from streams.gaps import Activity, watch_tail

    seeks, clock = Seeks(), Clock()
    guard = OffsetGuard("t", seeks, patience=0.01)
    await guard.admit(events(A, 1))
    app = App(Consumer({A: 9, B: 0}, flow_active=False))
    activity = Activity(clock)
    task = asyncio.get_running_loop().create_task(watch_tail(app, guard, frozenset({"features"}),
                                                             activity))
    try:
        await asyncio.sleep(0.1)
        assert seeks.calls == []  # a rebalance: faust's flow is stopped
        app._consumer.flow_active = True
        activity.busy = True
        clock.now = 100.0
        await asyncio.sleep(0.1)
        assert seeks.calls == []  # handling a batch: what it has not received may be queued
        activity.busy = False
        activity.touch()
        await asyncio.sleep(0.1)
        assert seeks.calls == []  # it just finished one
        clock.now = 200.0
        await asyncio.sleep(0.1)
        assert seeks.calls == [(A, 2)]  # idle, and the log holds 2..8 it never received
    finally:
        task.cancel()


async def test_the_watch_waits_while_another_agent_on_the_same_topic_is_busy():
    import asyncio

    from streams.gaps import READERS, Activity, watch_tail

    seeks, clock = Seeks(), Clock(now=100.0)
    guard = OffsetGuard("t", seeks, patience=0.01)
    await guard.admit(events(A, 1))
    app = App(Consumer({A: 9}))
    mine, other = Activity(clock), Activity(clock)
    clock.now = 200.0
    other.busy = True  # it holds a batch: faust's deliveries to every reader wait for it
    READERS.setdefault("features", weakref.WeakSet()).add(other)
    task = asyncio.get_running_loop().create_task(watch_tail(app, guard, frozenset({"features"}),
                                                             mine))
    try:
        await asyncio.sleep(0.1)
        assert seeks.calls == []
        other.busy = False
        await asyncio.sleep(0.1)
        assert seeks.calls == [(A, 2)]
    finally:
        task.cancel()
        READERS["features"].discard(other)
