"""Alert hygiene: an alert fires when k of the last m windows drifted, once, and recovers.

Examples
--------
>>> policy = AlertPolicy(k=2, m=3)
>>> state, outcomes = AlertState(), []
>>> for drifted in [False, True, True, True, False, False, False]:
...     state, outcome = step(state, drifted, policy)
...     outcomes.append(outcome)
>>> outcomes
['none', 'none', 'fired', 'ongoing', 'ongoing', 'recovered', 'none']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["none", "fired", "ongoing", "recovered"]


@dataclass(frozen=True)
class AlertPolicy:
    """Fire when at least ``k`` of the last ``m`` windows drifted."""

    k: int = 2
    m: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.m:
            raise ValueError(f"alert policy needs 1 <= k <= m, got k={self.k}, m={self.m}")


@dataclass(frozen=True)
class AlertState:
    history: tuple[bool, ...] = field(default_factory=tuple)
    active: bool = False


def step(state: AlertState, drifted: bool, policy: AlertPolicy) -> tuple[AlertState, Outcome]:
    """Fold one window's verdict into the state.

    While active, the alert holds until fewer than ``k`` of the last ``m`` windows drifted
    and the latest did not; then it reports ``recovered`` once.
    """
    history = (*state.history, drifted)[-policy.m:]
    count = sum(history)
    if not state.active:
        if count >= policy.k:
            return AlertState(history, True), "fired"
        return AlertState(history, False), "none"
    if count < policy.k and not drifted:
        return AlertState(history, False), "recovered"
    return AlertState(history, True), "ongoing"
