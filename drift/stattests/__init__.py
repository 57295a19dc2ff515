"""The drift tests and their registry.

:data:`TESTS` is an explicit dictionary of :class:`TestSpec` entries, one module per test:
adding a test means writing its module and adding its ``SPEC`` here, never registering from
an import. Everything else — which tests a kind runs, which is primary, which effect a
drift event carries, how severity is rated, which thresholds a config may set, what
``detect`` prints and what storage keeps — is derived from these entries.

=================  ===========  ==========  ==========================================
name               kinds        role        verdict
=================  ===========  ==========  ==========================================
``ks``             numeric      hypothesis  KS D, p-value as scipy; adjusted p < alpha
``chi2``           categorical  hypothesis  Pearson chi² on the 2×k table; adjusted p < alpha
``psi``            both         effect      PSI ≥ min_psi; rates severity (headline effect)
``wasserstein``    numeric      effect      W1 / reference std ≥ min_distance
``jensen_shannon`` categorical  effect      JS distance, base 2, ≥ min_distance
``missing_share``  both         signal      missing share moved ≥ min_missing_delta, significant
=================  ===========  ==========  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from drift.results import Kind
from drift.stattests import chi2, jensen_shannon, ks, missing_share, psi, wasserstein
from drift.stattests.base import (
    CategoricalComparison,
    Comparison,
    NumericComparison,
    Role,
    TestFunction,
    TestSpec,
)
from drift.stattests.chi2 import chi2_test
from drift.stattests.jensen_shannon import jensen_shannon_test
from drift.stattests.ks import ks_test
from drift.stattests.missing_share import missing_share_test
from drift.stattests.psi import psi_test
from drift.stattests.wasserstein import wasserstein_test

KINDS: tuple[Kind, ...] = ("numeric", "categorical")

TESTS: Mapping[str, TestSpec] = MappingProxyType({spec.name: spec for spec in (
    ks.SPEC,
    chi2.SPEC,
    psi.SPEC,
    wasserstein.SPEC,
    jensen_shannon.SPEC,
    missing_share.SPEC,
)})


def _for_kind(kind: Kind, role: Role | None = None) -> tuple[str, ...]:
    return tuple(name for name, spec in TESTS.items()
                 if kind in spec.kinds and (role is None or spec.role == role))


#: The tests each kind may run, primary first, in registry order.
KIND_TESTS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {kind: (*_for_kind(kind, "hypothesis"),
            *(n for n in _for_kind(kind) if TESTS[n].role != "hypothesis")) for kind in KINDS})
#: The tests a policy cannot leave out.
REQUIRED_TESTS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {kind: tuple(n for n in KIND_TESTS[kind] if TESTS[n].required) for kind in KINDS})
#: The primary (hypothesis) test of each kind: its adjusted p-value is the feature's.
PRIMARY_TEST: Mapping[Kind, str] = MappingProxyType(
    {kind: _for_kind(kind, "hypothesis")[0] for kind in KINDS})
#: The test whose statistic is a feature's ``effect`` in events and alerts, per kind.
HEADLINE_TEST: Mapping[Kind, str | None] = MappingProxyType(
    {kind: next((n for n in KIND_TESTS[kind] if TESTS[n].headline), None) for kind in KINDS})
#: Tests whose verdict is a p-value adjusted across the table (primary and signals).
HYPOTHESIS_TESTS = frozenset(n for n, spec in TESTS.items() if spec.role == "hypothesis")
#: Every threshold a policy (config, settings) may set, with its default.
THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {name: default for spec in TESTS.values() for name, default in spec.thresholds.items()})


def _check_registry() -> None:
    """The registry's invariants; a new entry that breaks one fails at import, not later."""
    for kind in KINDS:
        if len(_for_kind(kind, "hypothesis")) != 1:
            raise RuntimeError(f"{kind} features need exactly one hypothesis test")
        if sum(TESTS[n].headline for n in KIND_TESTS[kind]) > 1:
            raise RuntimeError(f"{kind} features have more than one headline effect")
        if not _for_kind(kind, "effect"):
            raise RuntimeError(f"{kind} features need an effect test for the materiality gate")
    for spec in TESTS.values():
        for name, default in spec.thresholds.items():
            if THRESHOLDS[name] != default:
                raise RuntimeError(f"threshold {name} has two defaults")


_check_registry()

__all__ = [
    "HEADLINE_TEST",
    "HYPOTHESIS_TESTS",
    "KIND_TESTS",
    "PRIMARY_TEST",
    "REQUIRED_TESTS",
    "TESTS",
    "THRESHOLDS",
    "CategoricalComparison",
    "Comparison",
    "NumericComparison",
    "TestFunction",
    "TestSpec",
    "chi2_test",
    "jensen_shannon_test",
    "ks_test",
    "missing_share_test",
    "psi_test",
    "wasserstein_test",
]
