"""A faust app for tests/integration/test_tail_gaps.py: one agent on ``process_batches``
(the offset guard driftline's agents use) whose buffer loses the messages at the offsets in
``TAIL_DROP`` the first time they are delivered — as faust's own buffers lose fetched
messages at a rebalance — and which prints each offset it handles."""

from __future__ import annotations

import os
import sys
from typing import Any

import faust
from mode.utils.queues import ThrowableQueue

from streams.gaps import process_batches

DROP = {int(o) for o in os.environ.get("TAIL_DROP", "").split(",") if o}


class LosingQueue(ThrowableQueue):  # type: ignore[type-arg]
    def force_put_nowait(self, item: Any) -> None:  # how faust's conductor delivers
        offset = getattr(getattr(item, "message", None), "offset", None)
        if offset in DROP:
            DROP.discard(offset)  # fetched and lost: faust's read offset is past it
            print(f"LOST {offset}", file=sys.stderr, flush=True)
            return
        super().force_put_nowait(item)


class App(faust.App):  # type: ignore[misc]
    def FlowControlQueue(self, maxsize: int | None = None, *,  # noqa: N802 - faust's name
                         clear_on_resume: bool = False) -> ThrowableQueue:  # type: ignore[type-arg]
        return LosingQueue(maxsize=maxsize, flow_control=self.flow_control,
                           clear_on_resume=clear_on_resume)


app = App(os.environ["TAIL_APP"], broker=os.environ["TAIL_BROKER"], store="memory://",
          topic_partitions=1, web_enabled=False, datadir=os.environ["TAIL_DATADIR"])
topic = app.topic(os.environ["TAIL_TOPIC"], key_type=bytes, value_type=bytes,
                  key_serializer="raw", value_serializer="raw")


async def handle(events: list[Any]) -> None:
    offsets = " ".join(str(e.message.offset) for e in events)
    print(f"HANDLED {offsets}", file=sys.stderr, flush=True)


@app.agent(topic, concurrency=1)
async def tail(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "tail", handle, size=100, within=0.5)
