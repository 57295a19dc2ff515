"""The worker's consumer awaits a delivery that cannot block directly and leaves every other
one to faust's ``wait_first`` (streams/delivery.py). The premise is faust's: under
``can_deliver_now`` the conductor's callback finishes without yielding to the loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.types import TP, Message

from streams.delivery import Delivery, can_deliver_now
from streams.dropped import App

TP0 = TP("features-under-test", 0)


@pytest.fixture
async def app() -> Any:
    app = App("delivery-test", broker="kafka://127.0.0.1:1", store="memory://",
              web_enabled=False, autodiscover=False)
    # what an agent subscribes: the topic's iterator (its own buffer)
    topic = app.topic(TP0.topic, value_type=bytes, value_serializer="raw").clone(
        is_iterator=True)
    conductor = app.topics
    conductor.add(topic)
    conductor._tp_index[TP0].add(topic)  # what an assignment of TP0 does
    conductor._update_callback_map()
    app.flow_control.resume()
    app.test_topic = topic
    return app


def message(offset: int, tp: TP = TP0) -> Message:
    return Message(topic=tp.topic, partition=tp.partition, offset=offset, timestamp=0.0,
                   timestamp_type=0, headers=[], key=b"m", value=b"%d" % offset,
                   checksum=None, tp=tp)


def runs_to_completion(coroutine: Any) -> bool:
    """True when ``coroutine`` finishes at its first step (never yields to the loop)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return True
    coroutine.close()
    return False


def fill(queue: Any) -> None:
    while not queue.full():
        queue.force_put_nowait(object())


async def test_the_worker_app_consumer_delivers_directly(app):
    from faust.transport.drivers.aiokafka import Consumer

    from streams.delivery import DirectDelivery

    assert isinstance(app.consumer, DirectDelivery) and isinstance(app.consumer, Consumer)


async def test_a_delivery_that_can_not_block_finishes_without_yielding(app):
    m = message(7)
    assert can_deliver_now(app, app.consumer, m)
    assert runs_to_completion(app.topics.on_message(m))  # faust's callback, unchanged
    event = app.test_topic.queue.get_nowait()
    assert event.message is m and event.value == b"7"


async def test_every_way_a_delivery_can_block_is_seen(app):
    m = message(1)
    queue = app.test_topic.queue
    fill(queue)  # the stream's buffer is full
    assert not can_deliver_now(app, app.consumer, m)
    assert not runs_to_completion(app.topics.on_message(m))  # it would have blocked
    queue.clear()
    assert can_deliver_now(app, app.consumer, m)

    app.flow_control.suspend()  # a rebalance
    assert not can_deliver_now(app, app.consumer, m)
    assert not runs_to_completion(app.topics.on_message(m))
    app.flow_control.resume()

    app.consumer.suspend_flow.set()
    assert not can_deliver_now(app, app.consumer, m)
    app.consumer.suspend_flow.clear()

    buffer = app.producer.buffer
    buffer.max_messages = -1  # the producer buffer is past its limit: faust flushes first
    assert not can_deliver_now(app, app.consumer, m)
    del buffer.max_messages
    assert can_deliver_now(app, app.consumer, m)

    for event in (app.consumer._stopped, app.consumer._crashed):  # stopping, crashed
        event.set()
        assert not can_deliver_now(app, app.consumer, m)
        event.clear()

    async with app.topics._tp_to_callback_lock:  # a subscription change
        assert not can_deliver_now(app, app.consumer, m)
    assert not can_deliver_now(app, app.consumer, message(1, TP("not-assigned", 3)))
    assert TP("not-assigned", 3) not in app.topics._tp_index  # looked up, not created
    assert can_deliver_now(app, app.consumer, m)


async def test_wait_first_awaits_a_delivery_that_can_not_block_without_tasks(app):
    consumer = app.consumer
    m = message(3)
    delivery = consumer.callback(m)
    assert type(delivery) is Delivery and delivery.message is m
    flow = consumer.suspend_flow.wait()
    before = len(asyncio.all_tasks())
    result = await consumer.wait_first(delivery, flow)
    assert len(asyncio.all_tasks()) == before
    assert result.done == [delivery] and not result.stopped
    assert flow.cr_frame is None  # closed: no "never awaited" warning
    assert app.test_topic.queue.get_nowait().message is m


async def test_a_blocked_delivery_is_abandoned_at_a_rebalance_as_faust_does(app):
    consumer = app.consumer
    queue = app.test_topic.queue
    fill(queue)
    size = queue.qsize()
    waiting = asyncio.ensure_future(
        consumer.wait_first(consumer.callback(message(9)), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.05)
    assert not waiting.done(), waiting.result()  # faust's wait: the buffer is full
    consumer.suspend_flow.set()  # the rebalance stops the flow
    result = await asyncio.wait_for(waiting, 2)
    assert len(result.done) == 1 and not result.stopped
    assert result.results == [True]  # suspend_flow.wait() won; the delivery was cancelled
    await asyncio.sleep(0.05)
    assert queue.qsize() == size  # not delivered while the buffer stays full
    # (faust's own put for a full buffer still waits for room, as in faust: cleared here)
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()


async def test_a_check_that_fails_falls_back_to_faust_s_path(app, monkeypatch, caplog):
    import streams.delivery

    def broken(*args: Any) -> bool:
        raise AttributeError("_tp_index")  # as if a faust upgrade renamed it

    monkeypatch.setattr(streams.delivery, "can_deliver_now", broken)
    monkeypatch.setattr(streams.delivery, "_warned", [])  # its warning is once per process
    consumer = app.consumer
    m = message(4)
    result = await consumer.wait_first(consumer.callback(m), consumer.suspend_flow.wait())
    assert not result.stopped
    assert app.test_topic.queue.get_nowait().message is m  # delivered all the same
    assert "direct delivery is off" in caplog.text


async def test_other_waits_are_faust_s(app):
    consumer = app.consumer
    done = asyncio.Event()
    done.set()
    result = await consumer.wait_first(done.wait())
    assert result.results == [True]
