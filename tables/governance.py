"""Changelog-backed tables of the governed loop.

* ``retrain-ledger``: model name -> :class:`governance.ledger.LedgerState` (cooldown, per-day
  count, last decided offset), so a restarted worker keeps its cooldowns and limits;
* ``training-inflight``: request id -> the in-flight job the poller follows, so a restarted
  worker resumes polling the jobs it had submitted;
* ``retrain-queue``: request id -> :class:`governance.queue.QueueEntry`, accepted requests
  waiting for the training service's capacity (and, for a while, those already served).

Keys and values are bytes (faust's raw codec); writes are pinned to the source event's
partition with :func:`tables.feature_state.writing_for`.
"""

from __future__ import annotations

from faust_app import app, settings
from tables.feature_state import CHANGELOG_CONFIG

retrain_ledger = app.Table(
    "retrain-ledger",
    default=None,
    key_type=bytes,
    value_type=bytes,
    partitions=settings.kafka.partitions,
    extra_topic_configs=CHANGELOG_CONFIG,
    help="Retrain cooldowns and daily counts per model.",
)

training_inflight = app.Table(
    "training-inflight",
    default=None,
    key_type=bytes,
    value_type=bytes,
    partitions=settings.kafka.partitions,
    extra_topic_configs=CHANGELOG_CONFIG,
    help="Training jobs submitted and not yet finished, by request id.",
)

retrain_queue = app.Table(
    "retrain-queue",
    default=None,
    key_type=bytes,
    value_type=bytes,
    partitions=settings.kafka.partitions,
    extra_topic_configs=CHANGELOG_CONFIG,
    help="Accepted retrain requests waiting for the training service, by request id.",
)
