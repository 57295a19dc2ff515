"""Paired comparisons of two models on the same held-out rows.

* :func:`mcnemar_exact` — McNemar's exact test for accuracy: under H0 the discordant pairs
  (one model right, the other wrong) split 50/50, so the two-sided p-value is the binomial
  one on the smaller count (as ``scipy.stats.binomtest(b, b + c, 0.5)``).
* :func:`paired_bootstrap` — a percentile confidence interval for the difference of a
  per-row loss's mean (candidate − champion), resampling rows with a seeded generator so the
  same inputs always give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom


@dataclass(frozen=True, slots=True)
class McNemarResult:
    #: rows the champion got right and the candidate wrong, and the other way round
    champion_only: int
    candidate_only: int
    p_value: float

    @property
    def discordant(self) -> int:
        return self.champion_only + self.candidate_only

    def to_dict(self) -> dict[str, float | int]:
        return {"champion_only": self.champion_only, "candidate_only": self.candidate_only,
                "discordant": self.discordant, "p_value": self.p_value}


def mcnemar_exact(champion_correct: Sequence[bool] | np.ndarray,
                  candidate_correct: Sequence[bool] | np.ndarray) -> McNemarResult:
    """Exact two-sided McNemar test on paired correctness indicators.

    Examples
    --------
    >>> r = mcnemar_exact([True] * 10 + [False] * 10, [True] * 10 + [True] * 10)
    >>> r.candidate_only, r.champion_only, round(r.p_value, 6)
    (10, 0, 0.001953)
    """
    a = np.asarray(champion_correct, dtype=bool)
    b = np.asarray(candidate_correct, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("champion_correct and candidate_correct must be 1-d of equal length")
    champion_only = int(np.sum(a & ~b))
    candidate_only = int(np.sum(~a & b))
    n = champion_only + candidate_only
    if n == 0:
        return McNemarResult(champion_only, candidate_only, 1.0)
    p = 2.0 * float(binom.cdf(min(champion_only, candidate_only), n, 0.5))
    return McNemarResult(champion_only, candidate_only, min(1.0, p))


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """Mean of (candidate − champion) per-row loss, and its percentile interval."""

    delta: float
    low: float
    high: float
    confidence: float
    samples: int
    seed: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"delta": self.delta, "low": self.low, "high": self.high,
                "confidence": self.confidence, "samples": self.samples, "seed": self.seed}


def paired_bootstrap(champion_loss: Sequence[float] | np.ndarray,
                     candidate_loss: Sequence[float] | np.ndarray, *,
                     alpha: float = 0.05, samples: int = 1000, seed: int = 0,
                     root: bool = False) -> BootstrapResult:
    """Percentile bootstrap CI (level ``1 - alpha``) of mean(candidate) − mean(champion).

    ``root=True`` compares square roots of the means (RMSE from squared errors). Rows are
    resampled in pairs, so what both models find hard cancels out.
    """
    a = np.asarray(champion_loss, dtype=np.float64)
    b = np.asarray(candidate_loss, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("losses must be non-empty 1-d arrays of equal length")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if samples < 1:
        raise ValueError("samples must be >= 1")

    def stat(x: np.ndarray) -> np.ndarray:
        return np.sqrt(x) if root else x

    n = a.size
    rng = np.random.default_rng(seed)
    deltas = np.empty(samples)
    chunk = max(1, min(samples, 2_000_000 // n))
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        deltas[start:stop] = stat(b[idx].mean(axis=1)) - stat(a[idx].mean(axis=1))
    low, high = np.quantile(deltas, [alpha / 2.0, 1.0 - alpha / 2.0])
    delta = float(stat(np.array(b.mean())) - stat(np.array(a.mean())))
    return BootstrapResult(delta=delta, low=float(low), high=float(high),
                           confidence=1.0 - alpha, samples=samples, seed=seed)
