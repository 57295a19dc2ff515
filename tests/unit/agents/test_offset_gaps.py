"""The offset guard: a partition that skips offsets is sought back, and nothing after the gap
is processed until the skipped events come again; a gap that stays is the log's own."""

from __future__ import annotations

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
