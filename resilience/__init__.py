"""How driftline waits for what it depends on: retries with capped, jittered backoff and a
circuit breaker (:mod:`resilience.retry`), and holding an agent's batch while a dependency
is down, with a gauge per dependency (:mod:`resilience.backpressure`).

No client lives here: each client says what counts as "unavailable" for its dependency
(``storage.db.is_transient``, ``streams.admin.kafka_transient``,
``integrations.registry.mlflow_transient``) and passes that to :func:`backpressure.hold`.
"""
