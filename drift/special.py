"""The two special functions the tests need, in numpy, so ``drift`` need not import
``scipy.special`` (≈0.2 s of start-up, a third of a ``driftline detect`` run).

* :func:`smirnov_sf` — the one-sided Kolmogorov–Smirnov survival function, as
  ``scipy.special.smirnov``: the exact Smirnov/Birnbaum–Tingey sum for n ≤ 10⁶ and the
  same crude approximation scipy uses above that.
* :func:`chi2_sf` — the chi² survival function for integer degrees of freedom, as
  ``scipy.special.chdtrc``: a finite Poisson-type sum (plus ``erfc`` for odd dof).

Both sums have positive terms only, so they lose no precision to cancellation. The
binomial terms of the Smirnov sum use Loader's saddle-point form (``stirlerr``/``bd0``),
which keeps ~15 significant digits where plain logarithms of factorials of 10⁶ keep 9.
Tests hold both to scipy at 1e-9 relative.

References
----------
Loader, C. (2000). Fast and accurate computation of binomial probabilities.
Birnbaum, Z. W., Tingey, F. H. (1951). One-sided confidence contours for probability
distribution functions. Ann. Math. Statist. 22(4).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Above this n scipy stops summing and approximates; so do we.
SMIRNOV_MAX_COMPUTE_N = 1_000_000
#: scipy's cut-off (log of the smallest subnormal): below it the tail is exactly 0.
_MINLOG = -745.1332191019412
_MAXLOG = 709.782712893384
_LN_2PI = math.log(2.0 * math.pi)
# stirlerr(k) = log(k!) - log(sqrt(2πk) (k/e)^k) for k = 1..15, where the series is poor.
_STIRLERR_SMALL = np.array(
    [0.0]
    + [math.lgamma(k + 1.0) - (k + 0.5) * math.log(k) + k - 0.5 * _LN_2PI for k in range(1, 16)]
)


def _stirlerr(k: FloatArray) -> FloatArray:
    """Error of Stirling's formula for log(k!), k ≥ 1 (integers)."""
    big = k > 15
    safe = np.where(big, k, 16.0)
    kk = safe * safe
    series = (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / kk) / kk) / kk) / kk) / safe
    small = _STIRLERR_SMALL[np.clip(k, 0, 15).astype(np.intp)]
    return np.where(big, series, small)


def _bd0(x: FloatArray, mean: FloatArray) -> FloatArray:
    """x·log(x/mean) + mean − x without the cancellation when x ≈ mean (Loader's bd0)."""
    # mean can round to 0 in the last term, whose exact value is then ≈ 0 too: let the
    # logarithm be -inf there (the term's exponential becomes 0) without a warning.
    with np.errstate(divide="ignore"):
        result = x * np.log(x / mean) + mean - x
    close = np.abs(x - mean) < 0.1 * (x + mean)
    if close.any():
        xc, mc = x[close], mean[close]
        v = (xc - mc) / (xc + mc)
        total = (xc - mc) * v
        term = 2.0 * xc * v
        v2 = v * v
        for j in range(1, 40):  # |v| < 0.053: each term is at least 360 times smaller
            term = term * v2
            step = term / (2 * j + 1)
            total = total + step
            if not np.any(np.abs(step) > 1e-17 * np.abs(total)):
                break
        result[close] = total
    return result


def smirnov_sf(n: int, x: float) -> float:
    """P(D⁺ₙ ≥ x), the one-sided KS survival function; equals ``scipy.special.smirnov``.

    Examples
    --------
    >>> round(smirnov_sf(100, 0.1), 12)
    0.126590658456
    >>> smirnov_sf(10, 0.0), smirnov_sf(10, 1.0)
    (1.0, 0.0)
    """
    if n < 1 or not 0.0 <= x <= 1.0:
        raise ValueError("smirnov_sf needs n >= 1 and 0 <= x <= 1")
    if n == 1:
        return 1.0 - x
    if x == 0.0:
        return 1.0
    if x == 1.0:
        return 0.0
    nx = Fraction(x) * n  # exact, so floor(n·x) is never off by one
    floor_nx = math.floor(nx)
    if floor_nx == 0 or nx == 1:
        return 1.0 - x * (1.0 + x) ** (n - 1)
    if -2.0 * n * x * x < _MINLOG:
        return 0.0
    if floor_nx >= n - 1:
        return (1.0 - x) ** n
    if n > SMIRNOV_MAX_COMPUTE_N:
        log_p = -((6.0 * n * x + 1.0) ** 2) / 18.0 / n
        return math.exp(log_p) if log_p < -math.log(2.0) else 1.0 + math.expm1(log_p)
    # Σ_{v=0}^{⌊n(1−x)⌋} x/(x+v/n) · Binomial(v; n, x+v/n); the v = 0 term is (1−x)^n.
    last = math.floor(n - nx)
    if last == n - nx:
        last -= 1  # that term has the factor (1 − x − v/n)^(n−v) = 0
    head = math.exp(n * math.log1p(-x))
    if last < 1:
        return min(head, 1.0)
    v = np.arange(1, last + 1, dtype=np.float64)
    n_float = float(n)
    at_v = n_float * x + v  # n·p_v
    rest = (n_float - v) - n_float * x  # n·(1 − p_v)
    log_pmf = (
        _stirlerr(np.array([n_float]))[0]
        - _stirlerr(v)
        - _stirlerr(n_float - v)
        - _bd0(v, at_v)
        - _bd0(n_float - v, rest)
        - 0.5 * (_LN_2PI + np.log(v) + np.log1p(-v / n_float))
    )
    terms = (n_float * x / at_v) * np.exp(log_pmf)
    return min(head + float(terms.sum()), 1.0)


def chi2_sf(dof: int, statistic: float) -> float:
    """P(χ²_dof ≥ statistic) for integer dof ≥ 1; equals ``scipy.special.chdtrc``.

    With a = dof/2 and y = statistic/2 the survival function is the regularised upper
    incomplete gamma Q(a, y): a Poisson sum Σ_{j<a} e^{−y} y^j / j! for whole a, and
    erfc(√y) + Σ_{j<a−½} e^{−y} y^{j+½} / Γ(j+3/2) for half-whole a.

    Examples
    --------
    >>> round(chi2_sf(1, 3.841458820694124), 12)
    0.05
    >>> round(chi2_sf(4, 2.0), 12)
    0.735758882343
    """
    if dof < 1:
        raise ValueError("chi2_sf needs dof >= 1")
    if statistic <= 0.0:
        return 1.0
    y = statistic / 2.0
    log_y = math.log(y)
    a = dof / 2.0
    if y > 1.1 and y - a > 0.4 * a and a * log_y - y - math.lgamma(a) < -_MAXLOG:
        return 0.0  # cephes' underflow cut-off in its upper tail, so scipy and we agree on 0
    if dof % 2 == 0:
        j = np.arange(dof // 2, dtype=np.float64)
        shifts = np.array([math.lgamma(k + 1.0) for k in j])
        base = 0.0
    else:
        j = np.arange(dof // 2, dtype=np.float64) + 0.5
        shifts = np.array([math.lgamma(k + 1.0) for k in j])
        base = math.erfc(math.sqrt(y))
    total = base + float(np.exp(-y + j * log_y - shifts).sum())
    return min(total, 1.0)
