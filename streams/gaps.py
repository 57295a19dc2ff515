"""Offsets that must follow each other: a guard against messages faust never hands over.

faust-streaming can drop messages it has fetched when a rebalance or the end of a table
recovery clears the agents' buffers while the fetcher has already moved on (the family of
faust-streaming #216 / #221): the agent then sees offset ``n + k`` after ``n``. The commit
cannot pass the missing offsets (they are never acked), but nothing delivers them again
until the next rebalance or restart — and the monitors skip everything at or below a
model's last applied offset, so they would never be counted at all. Seen here: after a
failover, 60 of 10,000 events of one partition missing from the survivor's windows.

:class:`OffsetGuard` watches the offsets of each partition an agent reads. On a gap it
keeps the events before it, drops the rest of the batch for that partition (faust acks
them; the commit still stops at the gap) and seeks the partition back to the first missing
offset, so everything from there comes again, in order, and the idempotent state skips
what it has already applied. When the seek brings back the very offset that revealed the gap,
the missing offsets are not in the log (transaction markers, compaction): it goes on.

A gap shows only when a later offset arrives. When faust drops the *last* messages of a
partition and nothing follows (the end of a burst, a test's reference events, a quiet
model), no later offset ever reveals it. So an agent that waits idle also checks, every
``patience`` seconds, each partition of its topics (:meth:`OffsetGuard.check_tail`): when
the log ends past the next offset the agent expects (past the committed offset, for a
partition it has seen nothing of since a rebalance) and that stays so across two checks
while nothing arrives, the partition is sought back there — once for each such state, so a
log whose end is a transaction marker costs one seek, not a loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from faust.types import TP, EventT

from observability.metrics import BATCH_REDELIVERIES, OFFSET_GAPS
from resilience.backpressure import Interrupted
from resilience.retry import Backoff

log = logging.getLogger(__name__)
Seek = Callable[[TP, int], Awaitable[None]]


class OffsetGuard:
    def __init__(self, agent: str, seek: Seek, *, patience: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, enabled: bool = True) -> None:
        self.agent, self.seek, self.patience, self.clock = agent, seek, patience, clock
        self.enabled = enabled
        #: the next offset each partition should deliver
        self.expected: dict[TP, int] = {}
        #: partitions sought back: (first missing offset, first offset after the gap, when)
        self.seeking: dict[TP, tuple[int, int, float]] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        #: per partition, (next offset, log end) at the last tail check, and the last state
        #: a tail check sought back from
        self._tail_seen: dict[TP, tuple[int, int]] = {}
        self._tail_sought: dict[TP, tuple[int, int]] = {}

    async def rewind(self, tp: TP, offset: int) -> None:
        """Process ``tp`` again from ``offset`` (a batch that failed): nothing of it past
        ``offset`` is admitted until the seek delivers ``offset`` itself."""
        self.expected[tp] = offset
        self.seeking[tp] = (offset, -1, self.clock())
        await self.seek(tp, offset)
        self._watch(tp, (offset, -1))

    def forget(self, partitions: Iterable[TP]) -> None:
        """Partitions this worker no longer reads: whoever gets them next starts afresh, and
        they may come back at any offset."""
        for tp in partitions:
            self.expected.pop(tp, None)
            self.seeking.pop(tp, None)
            self._tail_seen.pop(tp, None)
            self._tail_sought.pop(tp, None)

    async def check_tail(self, assigned: Iterable[TP],
                         committed: Callable[[TP], int | None],
                         log_end: Callable[[TP], int | None]) -> list[TP]:
        """Seek back the partitions of ``assigned`` whose log ends past the next offset the
        agent expects (``committed`` for one it has seen nothing of) in this check and the
        last one; returns them. Call it only while the agent waits idle and nothing arrived
        since the last check: whatever was fetched is then either handed over or lost."""
        if not self.enabled:
            return []
        sought = []
        current = set()
        for tp in assigned:
            current.add(tp)
            if tp in self.seeking:
                continue
            start = self.expected.get(tp)
            if start is None:
                start = committed(tp)
            end = log_end(tp)
            if start is None or end is None or end <= start:
                self._tail_seen.pop(tp, None)
                continue
            state = (start, end)
            if self._tail_seen.get(tp) == state and self._tail_sought.get(tp) != state:
                log.warning("%s: %s[%d] ends at offset %d, yet nothing from %d on reached "
                            "the agent while it waited; seeking back to %d (offsets fetched "
                            "and lost, or a transaction's marker: then this one seek is all)",
                            self.agent, tp.topic, tp.partition, end, start, start)
                OFFSET_GAPS.labels(self.agent, tp.topic).inc()
                self._tail_sought[tp] = state
                await self.seek(tp, start)
                sought.append(tp)
            self._tail_seen[tp] = state
        for tp in set(self._tail_seen) - current:
            del self._tail_seen[tp]
        return sought

    async def admit(self, events: Sequence[EventT]) -> list[EventT]:
        """The events of ``events`` to process: all of them unless a partition skipped
        offsets, in which case that partition's events from the gap on are left out."""
        if not self.enabled and not self.seeking:
            return list(events)
        admitted: list[EventT] = []
        stopped: set[TP] = set()
        for event in events:
            message = event.message
            tp = message.tp
            if tp in stopped:
                continue
            if not self.enabled and tp not in self.seeking:
                admitted.append(event)  # off: only a rewind (below) holds a partition back
                continue
            offset = message.offset
            expected = self.expected.get(tp)
            sought = self.seeking.get(tp)
            if expected is None or offset <= expected or (
                    sought is not None and offset == sought[1]):
                # the first we see, the next one, or a replay (our seek, or faust's seek to
                # the committed offset after a rebalance). The offset that revealed a gap
                # coming a second time means the seek delivers again from the first offset
                # that exists: the missing ones are not in the log (transaction markers,
                # compaction) and there is nothing to wait for.
                if sought is not None and offset == sought[1] and offset > expected:
                    log.warning("%s: offsets %d-%d of %s[%d] are not in the log; going on",
                                self.agent, expected, offset - 1, tp.topic, tp.partition)
                self.seeking.pop(tp, None)
                self.expected[tp] = offset + 1
                admitted.append(event)
                continue
            stopped.add(tp)  # nothing of this partition after a gap until the seek delivers
            if sought is not None:
                # buffered before the seek: it comes again. A seek that delivered nothing
                # for ``patience`` seconds is repeated (never given up: that would lose them)
                if self.clock() - sought[2] >= self.patience:
                    log.warning("%s: still waiting for offset %d of %s[%d]; seeking again",
                                self.agent, expected, tp.topic, tp.partition)
                    self.seeking[tp] = (sought[0], sought[1], self.clock())
                    await self.seek(tp, expected)
                continue
            log.error("%s: %s[%d] jumped from offset %d to %d; seeking back to %d so the "
                      "skipped events are processed", self.agent, tp.topic, tp.partition,
                      expected - 1, offset, expected)
            OFFSET_GAPS.labels(self.agent, tp.topic).inc()
            self.seeking[tp] = (expected, offset, self.clock())
            await self.seek(tp, expected)
            self._watch(tp, (expected, offset))
        return admitted

    def _watch(self, tp: TP, target: tuple[int, int]) -> None:
        """Seek again every ``patience`` seconds while the partition waits: faust's fetcher
        may still hand over messages fetched before the seek, and each moves its read offset
        past the one sought (so the reread is dropped); a later seek, once those are
        drained, holds."""

        async def watch() -> None:
            while True:
                await asyncio.sleep(self.patience)
                sought = self.seeking.get(tp)
                if sought is None or sought[:2] != target:
                    return
                log.warning("%s: still waiting for offset %d of %s[%d]; seeking again",
                            self.agent, target[0], tp.topic, tp.partition)
                self.seeking[tp] = (target[0], target[1], self.clock())
                await self.seek(tp, target[0])

        try:
            task = asyncio.get_running_loop().create_task(watch())
        except RuntimeError:  # no loop (a synchronous caller): the next batch re-seeks
            return
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)


def guard_for(app: Any, agent: str, *, enabled: bool = True) -> OffsetGuard:
    """A guard seeking through ``app``'s consumer, forgetting partitions on revocation."""

    async def seek(tp: TP, offset: int) -> None:
        # in the consumer's own thread; faust rereads from ``offset`` (its read offset moves)
        try:
            await app.consumer.seek_wait({tp: offset})
        except Exception:  # the guard seeks again after its patience
            log.warning("%s: seeking %s[%d] to %d failed", agent, tp.topic, tp.partition,
                        offset, exc_info=True)

    guard = OffsetGuard(agent, seek, enabled=enabled)

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: Iterable[TP], **kwargs: Any) -> None:
        guard.forget(revoked)

    return guard


#: pauses between attempts at a batch that keeps failing (a bug that is not data-dependent)
REDELIVERY_BACKOFF = Backoff(base=1.0, cap=60.0)


async def process_batches(app: Any, stream: Any, agent: str,
                          handle: Callable[[list[EventT]], Awaitable[Any]], *, size: int,
                          within: float, enabled: bool = True) -> None:
    """Run ``handle`` on each guarded batch of ``stream`` (inside
    :func:`streams.telemetry.handling`), and never let a failure lose events.

    ``take_events`` acknowledges a batch whatever happens to it — when an agent crashes too —
    so faust would commit past events nobody handled. Here a batch whose handler raises
    keeps its messages unacknowledged (a reference each: the commit cannot pass them), its
    partitions are sought back to the batch's first offsets, and it is handled again after a
    capped, jittered pause. Data cannot cause this (each agent dead-letters a bad message on
    its own); a dependency outage cannot either (agents hold for it); what is left is a bug,
    which stalls that agent visibly (``driftline_batch_redeliveries_total``) instead of
    losing its events. While it waits idle, :func:`watch_tail` looks for offsets fetched and
    lost with nothing after them to reveal the gap.
    """
    guard = guard_for(app, agent, enabled=enabled)
    activity = Activity()
    topics = _topic_names(stream)
    for topic in topics:
        READERS.setdefault(topic, weakref.WeakSet()).add(activity)
    tail = asyncio.get_running_loop().create_task(watch_tail(app, guard, topics, activity))
    try:
        await _process(app, stream, agent, handle, guard, activity, size=size, within=within)
    finally:
        tail.cancel()


class Activity:
    """Whether an agent is handling a batch, and when it last received or finished one."""

    __slots__ = ("clock", "busy", "last", "__weakref__")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.busy = False
        self.last = clock()

    def touch(self) -> None:
        self.last = self.clock()

    def idle_for(self, seconds: float) -> bool:
        return not self.busy and self.clock() - self.last >= seconds


#: per topic, the agents reading it: one that is busy holds up the others' deliveries (faust
#: hands each message to every reader's buffer), so that is no tail
READERS: dict[str, weakref.WeakSet[Activity]] = {}


def _all_idle(topics: frozenset[str], activity: Activity, seconds: float) -> bool:
    readers = [activity, *(a for t in topics for a in READERS.get(t, ()))]
    return all(a.idle_for(seconds) for a in readers)


async def watch_tail(app: Any, guard: OffsetGuard, topics: frozenset[str],
                     activity: Activity) -> None:
    """Every ``guard.patience`` seconds while the agent — and every other agent reading its
    topics — waits idle (and faust's flow runs: not in a rebalance),
    :meth:`OffsetGuard.check_tail` on the partitions of ``topics``."""
    failing = False
    while True:
        await asyncio.sleep(guard.patience)
        consumer = getattr(app, "_consumer", None)  # faust's, once it exists (not made here)
        if consumer is None or not getattr(consumer, "flow_active", False):
            continue
        if not _all_idle(topics, activity, guard.patience):
            continue
        try:
            await _check_tail(consumer, guard, topics)
            failing = False
        except asyncio.CancelledError:
            raise
        except Exception:  # a check must not end the agent; the next one tries again
            if not failing:  # once per run of failures, not every few seconds
                log.warning("%s: checking for undelivered offsets failed", guard.agent,
                            exc_info=True)
            failing = True


async def _check_tail(consumer: Any, guard: OffsetGuard, topics: frozenset[str]) -> None:
    assigned = [tp for tp in consumer.assignment() if tp.topic in topics]
    committed = consumer._committed_offset  # faust's: the next offset to process

    def log_end(tp: TP) -> int | None:
        try:
            end = consumer.highwater(tp)
        except Exception:  # not (or no longer) assigned, never fetched
            return None
        return end if isinstance(end, int) else None

    await guard.check_tail(assigned, committed.get, log_end)


def _topic_names(stream: Any) -> frozenset[str]:
    channel = getattr(stream, "channel", None)
    return frozenset(getattr(channel, "topics", ()) or ())


async def _process(app: Any, stream: Any, agent: str,
                   handle: Callable[[list[EventT]], Awaitable[Any]], guard: OffsetGuard,
                   activity: Activity, *, size: int, within: float) -> None:
    from streams.telemetry import handling

    failures = 0
    async for taken in stream.take_events(size, within=within):
        if taken:
            activity.touch()
        events = await guard.admit(taken)
        if not events:
            continue
        activity.busy = True
        try:
            with handling(events):
                await handle(events)
            failures = 0
        except Interrupted:
            # a rebalance began while the batch waited for a dependency: left unacknowledged
            # (uncommitted) for whoever owns the partitions next, this worker included
            log.info("%s: a held batch of %d event(s) is left to the rebalance", agent,
                     len(events))
            unacked = getattr(getattr(app, "consumer", None), "_unacked_messages", None)
            for event in taken:
                event.message.incref()  # never acknowledged: not committed
                if unacked is not None:
                    # and not waited for: faust's rebalance waits until every message it
                    # handed out is acknowledged (or garbage); this one never will be
                    unacked.discard(event.message)
            taken = events = []
        except Exception:
            failures += 1
            BATCH_REDELIVERIES.labels(agent).inc()
            log.exception("%s failed on a batch of %d event(s) (attempt %d); it is processed "
                          "again from its first offsets", agent, len(events), failures)
            first: dict[TP, int] = {}
            for event in taken:
                event.message.incref()  # faust's ack of this batch must not release them
                tp = event.message.tp
                first[tp] = min(first.get(tp, event.message.offset), event.message.offset)
            taken = events = []
            await asyncio.sleep(REDELIVERY_BACKOFF.delay(failures - 1))
            for tp, offset in first.items():
                await guard.rewind(tp, offset)
        finally:
            activity.busy = False
            activity.touch()
