"""The loop agents' handlers (retrain, training, notify, promotion), driven directly with
their clock hooks set: what each decides and publishes, and how it waits out an outage.

Sends go to a recorder instead of Kafka and tables are dicts; storage is a real SQLite
database; the training service is the real client over httpx's transport seam. The same
handlers run against the real services in tests/integration (the fault suite included).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import httpx
import orjson
import pytest

from resilience import backpressure
from resilience.retry import Backoff
from schemas.events import Alert
from tests.synthetic import drift_event
from tests.unit.observability.conftest import FakeEvent, FakeMessage

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FAST = Backoff(base=0.001, cap=0.002)


class Sent(list):
    def of(self, topic_suffix: str) -> list[dict[str, Any]]:
        return [orjson.loads(v) for t, _, v, _ in self if t.endswith(topic_suffix)]


@pytest.fixture
def sent(monkeypatch) -> Sent:
    """Every faust send, as (topic, key, value, headers); the broker 'acknowledges' at once."""
    record = Sent()

    async def send(self: Any, *, key: Any = None, value: Any = None, headers: Any = None,
                   **kwargs: Any) -> Any:
        record.append((self.get_topic_name(), key, value, headers))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    monkeypatch.setattr(faust.Topic, "send", send)
    return record


@pytest.fixture
def fast_holds(monkeypatch) -> None:
    """Held retries a few milliseconds apart (the policy is tested in test_resilience)."""
    monkeypatch.setattr(backpressure, "HOLD_BACKOFF", FAST)
    original = backpressure.hold
    fast = functools.partial(original, backoff=FAST)
    import agents.notify
    import agents.promotion
    import agents.training

    for module in (agents.notify, agents.promotion, agents.training):
        monkeypatch.setattr(module, "hold", fast)


def event(topic: str, value: bytes, offset: int, key: bytes | None = b"m") -> FakeEvent:
    return FakeEvent(FakeMessage(topic, offset=offset, key=key, value=value))


# -- retrain ----------------------------------------------------------------------------------

def test_retrain_decides_with_its_clock_and_rekeys_a_misrouted_trigger(monkeypatch, sent):
    import agents.retrain as retrain

    ledger: dict[bytes, bytes] = {}
    monkeypatch.setattr(retrain, "retrain_ledger", ledger)
    monkeypatch.setattr(retrain, "clock", lambda: T0)
    drift_topic = retrain.settings.kafka.topics.name("drift_events")
    fired = drift_event("m", "accuracy", kind="performance_drop", when=T0).dumps()
    manual = orjson.dumps({"event_id": str(uuid.uuid4()), "schema_version": 1,
                           "model_name": "m", "model_version": "1",
                           "timestamp": T0.isoformat(), "kind": "manual",
                           "requested_by": "ops", "reason": None})
    batch = [event(drift_topic, fired, 10),
             event(retrain.TRIGGERS_TOPIC, manual, 3, key=b"someone-else")]
    assert asyncio.run(retrain.process_batch(batch)) == 1
    (request,) = sent.of("retrain-requests")
    assert request["decision"] == "accepted" and request["timestamp"] == T0.isoformat()
    assert len(sent.of("alerts")) == 1
    rerouted = [s for s in sent if s[0] == retrain.TRIGGERS_TOPIC]
    assert len(rerouted) == 1 and rerouted[0][1] == b"m"  # re-sent under the model's key
    state = retrain.LedgerState.decode(ledger[retrain.ledger_key("m")])
    assert state.last_accepted_at == T0.isoformat() and state.last_offset == 10
    # the same trigger again (redelivered, or a second copy at a new offset): not decided again
    sent.clear()
    assert asyncio.run(retrain.process_batch([event(drift_topic, fired, 10),
                                              event(drift_topic, fired, 11)])) == 0
    assert sent.of("retrain-requests") == []


# -- training: the durable queue ---------------------------------------------------------------

class Trainer:
    """The training service's API over httpx's transport seam: down for ``down`` calls."""

    def __init__(self, down: int = 0) -> None:
        self.down, self.submitted = down, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down > 0:
            self.down -= 1
            raise httpx.ConnectError("connection refused")
        body = orjson.loads(request.content)
        self.submitted.append(body["request_id"])
        return httpx.Response(202, json={"job_id": f"job-{len(self.submitted)}",
                                         "status": "queued", "progress": 0.0, "message": ""})


def request(kind: str, severity: str, priority: int, minute: int) -> bytes:
    from schemas.governance import RetrainRequest

    rid = str(uuid.uuid4())
    return RetrainRequest(
        event_id=rid, schema_version=1, model_name=f"m-{kind}", model_version="1",
        timestamp=(T0 + timedelta(minutes=minute)).isoformat(), request_id=rid,
        decision="accepted", reason="r", trigger_kind=kind, severity=severity,
        priority=priority, registered_model=f"m-{kind}", triggers={}, requests_today=1,
        cooldown_until=None).dumps()


@pytest.fixture
def training(monkeypatch, sent, fast_holds):
    import agents.training as training
    from integrations.trainer import TrainerClient
    from resilience.retry import CircuitBreaker

    trainer = Trainer(down=3)
    monkeypatch.setattr(training, "retrain_queue", {})
    monkeypatch.setattr(training, "training_inflight", {})
    monkeypatch.setattr(training, "clock", lambda: T0)
    monkeypatch.setattr(training, "_finished", set())
    client = TrainerClient("http://trainer.test", retries=0, backoff=FAST,
                           breaker=CircuitBreaker("t", 100, 1.0),
                           transport=httpx.MockTransport(trainer))
    monkeypatch.setattr(training, "client", lambda: client)
    monkeypatch.setattr(training.settings.retrain, "max_concurrent_jobs", 1)
    return training, trainer


def test_the_queue_serves_by_priority_within_capacity_and_waits_for_the_trainer(training, sent):
    training, trainer = training
    topic = training.REQUESTS_TOPIC
    # a data-drift request first, then a more urgent one, then a manual one (most urgent)
    events = [event(topic, request("data_drift", "high", 13, 0), 0),
              event(topic, request("performance_drop", "medium", 32, 1), 1),
              event(topic, request("model_drift", "low", 21, 2), 2)]
    asyncio.run(training.process_batch(events))
    states = sent.of("training-jobs")
    assert [s["status"] for s in states[:3]] == ["waiting"] * 3
    # the trainer was down for three calls: held, then the most urgent one went (capacity 1)
    assert len(trainer.submitted) == 1 and states[-1]["status"] == "submitted"
    assert states[-1]["model_name"] == "m-performance_drop"
    assert backpressure.down() == []  # and the gauge is back up
    # its job finishes: the next most urgent (model drift) takes the place
    done = training.job_event(request=states[-1], job_id="job-1", status="succeeded",
                              progress=1.0, message="", now=T0).dumps()
    jobs_topic = training.settings.kafka.topics.name("training_jobs")
    asyncio.run(training.process_batch([event(jobs_topic, done, 5)]))
    assert [s["model_name"] for s in sent.of("training-jobs") if s["status"] == "submitted"] \
        == ["m-performance_drop", "m-model_drift"]
    # redelivered requests do not queue twice
    before = len(sent)
    asyncio.run(training.process_batch(events))
    assert len(sent) == before


# -- notify -----------------------------------------------------------------------------------

@pytest.fixture
def notify(monkeypatch, sent, fast_holds, tmp_path):
    import agents.notify as notify
    from storage.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'n.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    monkeypatch.setattr(notify, "database", lambda: engine)
    now = {"t": T0}
    monkeypatch.setattr(notify, "clock", lambda: now["t"])
    return notify, now


class Mailer:
    def __init__(self, *results: Any) -> None:
        self.results, self.sent = list(results), 0

    async def send(self, message: Any) -> Any:
        self.sent += 1
        return self.results.pop(0)


def alert_bytes(dedup: str) -> tuple[Alert, FakeEvent]:
    a = Alert(event_id=str(uuid.uuid4()), schema_version=1, model_name="m", model_version="1",
              timestamp=T0.isoformat(), kind="drift_alert", severity="high", subject="s",
              summary="x", dedup_key=dedup)
    return a, event("alerts", a.dumps(), 0)


def test_notify_waits_for_smtp_mails_once_and_dedups_by_its_clock(notify, monkeypatch):
    from integrations.mailer import SendResult

    notify, now = notify
    down = SendResult(False, 2, "SMTPConnectError: refused")
    mailer = Mailer(down, down, SendResult(True, 1), SendResult(True, 1))
    monkeypatch.setattr(notify, "MAILER", mailer)
    first, ev = alert_bytes("m|1|data_drift:fired|x")
    assert asyncio.run(notify.handle(ev, first)) == "sent" and mailer.sent == 3
    assert asyncio.run(notify.handle(ev, first)) == "sent" and mailer.sent == 3  # a replay
    refire, ev2 = alert_bytes("m|1|data_drift:fired|x")
    now["t"] = T0 + timedelta(minutes=30)
    assert asyncio.run(notify.handle(ev2, refire)) == "deduplicated"
    later, ev3 = alert_bytes("m|1|data_drift:fired|x")
    now["t"] = T0 + timedelta(hours=2)
    assert asyncio.run(notify.handle(ev3, later)) == "sent" and mailer.sent == 4


def test_notify_dead_letters_only_a_permanent_refusal(notify, monkeypatch, sent):
    from integrations.mailer import SendResult

    notify, _ = notify
    monkeypatch.setattr(notify, "MAILER", Mailer(SendResult(False, 1, "permanent: 550",
                                                            permanent=True)))
    a, ev = alert_bytes("k")
    assert asyncio.run(notify.handle(ev, a)) == "failed"
    (letter,) = sent.of("dead-letters")
    assert letter["reason_code"] == "smtp_rejected"


# -- promotion --------------------------------------------------------------------------------

class Registry:
    """The registry calls the promotion handler makes, in memory; MLflow itself is exercised
    by tests/integration (the fault suite stops it mid-promotion)."""

    def __init__(self, fail_calls: int = 0) -> None:
        import requests

        self.error = requests.ConnectionError("connection refused")
        self.fail_calls, self.tags, self.champion, self.promotions = fail_calls, {}, None, 0

    def _maybe_fail(self) -> None:
        if self.fail_calls > 0:
            self.fail_calls -= 1
            raise self.error

    def version(self, name: str, version: str) -> Any:
        from integrations.registry import Version

        self._maybe_fail()
        return Version(name, version, None, dict(self.tags))

    def alias(self, name: str, alias: str) -> Any:
        self._maybe_fail()
        return None if self.champion is None else self.version(name, self.champion)

    def tag(self, name: str, version: str, tags: dict[str, Any]) -> None:
        self._maybe_fail()
        self.tags.update({k: v if isinstance(v, str) else orjson.dumps(v).decode()
                          for k, v in tags.items()})

    def promote(self, name: str, candidate: str, evidence: dict[str, Any]) -> None:
        self._maybe_fail()
        self.champion, self.promotions = candidate, self.promotions + 1


def job() -> FakeEvent:
    from governance.messages import job_event

    req = {"request_id": str(uuid.uuid4()), "model_name": "m", "model_version": "1",
           "registered_model": "m"}
    return event("training-jobs", job_event(request=req, job_id="j", status="succeeded",
                                            progress=1.0, message="", now=T0,
                                            candidate_version="1").dumps(), 0)


def test_promotion_waits_out_mlflow_and_converges_after_a_crash(monkeypatch, sent, fast_holds):
    import agents.promotion as promotion

    registry = Registry(fail_calls=4)  # MLflow unreachable for the first calls: deferred
    monkeypatch.setattr(promotion, "registry", lambda: registry)
    monkeypatch.setattr(promotion, "clock", lambda: T0)
    monkeypatch.setattr(promotion, "load_labelled", lambda *a, **k: [])
    monkeypatch.setattr(promotion, "database", lambda: None)
    crashed = []

    async def crash(job: Any, decision: Any) -> None:  # the worker dies before publishing
        crashed.append(decision)
        raise SystemExit("killed")

    monkeypatch.setattr(promotion, "publish", crash)
    ev = job()
    with pytest.raises(SystemExit):
        asyncio.run(promotion.consider(ev))
    assert registry.fail_calls == 0  # the outage was waited out, not turned into a decision
    assert registry.champion == "1" and crashed[0].decision == "promoted"
    assert crashed[0].timestamp == T0.isoformat()
    monkeypatch.undo()  # the restarted worker: same registry, real publish
    monkeypatch.setattr(faust.Topic, "send", _recording_send(sent))
    monkeypatch.setattr(promotion, "registry", lambda: registry)
    asyncio.run(promotion.consider(ev))
    (decision,) = sent.of("promotion-events")
    assert decision["event_id"] == crashed[0].event_id and decision["decision"] == "promoted"
    assert decision["timestamp"] == T0.isoformat()  # the recorded decision, not a new one
    assert registry.promotions == 1  # applied once; the restart only published the record
    assert len(sent.of("alerts")) == 1


def _recording_send(record: Sent) -> Any:
    async def send(self: Any, *, key: Any = None, value: Any = None, headers: Any = None,
                   **kwargs: Any) -> Any:
        record.append((self.get_topic_name(), key, value, headers))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    return send
