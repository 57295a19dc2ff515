"""A person's promotion decisions: promote a given version, roll back to the previous champion.

``driftline model rollback`` and the API's ``/promotions/{model}/...`` routes both call these,
so a manual decision is made and recorded one way: the aliases move as the promotion agent
moves them (``champion``, ``previous_champion``, tags on both versions), and the returned
:class:`PromotionEvent` names who made it in its ``manual`` criterion. The caller stores it
and announces it (:func:`announcements`), as the agent does with its own decisions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from governance.messages import promotion_alert, stable_id
from integrations.registry import CHAMPION, DECISION_TAG, ModelRegistry
from schemas.governance import PromotionEvent
from schemas.spec import SCHEMA_VERSION


class AlreadyChampion(Exception):
    """The version to promote already is the champion: nothing would change."""


def manual_criteria(actor: str, via: str) -> dict[str, Any]:
    return {"manual": {"passed": True, "by": actor, "via": via}}


def promote(registry: ModelRegistry, *, model_name: str, registered: str, version: str,
            reason: str, actor: str, via: str, now: datetime) -> PromotionEvent:
    """Make ``version`` the champion; the old one keeps ``previous_champion``.

    Raises :class:`integrations.registry.UnknownModel` and :class:`AlreadyChampion`.
    """
    registry.require(registered, version)
    champion = registry.alias(registered, CHAMPION)
    if champion is not None and champion.version == version:
        raise AlreadyChampion(f"{registered} version {version} already is the champion")
    event_id = stable_id("manual-promotion", registered, version, now.isoformat())
    registry.promote(registered, version, {DECISION_TAG: event_id, "driftline.decision": "promoted",
                                           "driftline.reason": reason,
                                           "driftline.promoted_by": actor})
    previous = champion.version if champion is not None else None
    return PromotionEvent(
        event_id=event_id, schema_version=SCHEMA_VERSION, model_name=model_name,
        model_version=version, timestamp=now.isoformat(), decision="promoted",
        registered_model=registered,
        reason=(f"promoted version {version} by hand (by {actor}, replacing "
                f"{previous or 'no champion'}): {reason}")[:16000],
        criteria=manual_criteria(actor, via), candidate_version=version, champion_version=previous)


def rollback(registry: ModelRegistry, *, model_name: str, registered: str, reason: str,
             actor: str, via: str, now: datetime) -> PromotionEvent:
    """Point ``champion`` back at ``previous_champion``.

    Raises :class:`integrations.registry.UnknownModel` and ``NothingToRollBack``.
    """
    demoted, restored = registry.rollback(registered)
    return PromotionEvent(
        event_id=stable_id("rollback", registered, demoted, restored, now.isoformat()),
        schema_version=SCHEMA_VERSION, model_name=model_name, model_version=restored,
        timestamp=now.isoformat(), decision="rolled_back", registered_model=registered,
        reason=f"rolled back from version {demoted} to {restored} (by {actor}): {reason}"[:16000],
        criteria=manual_criteria(actor, via), candidate_version=restored,
        champion_version=demoted or None)


def announcements(event: PromotionEvent, topics: Any) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) for ``promotion-events`` and its alert; ``topics``: TopicNames."""
    key = event.model_name.encode()
    return [(topics.name("promotion_events"), key, event.dumps()),
            (topics.name("alerts"), key, promotion_alert(event).dumps())]
