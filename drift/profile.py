"""Reference profiles: what driftline keeps of the reference data, and their JSON form.

A :class:`NumericProfile` keeps the PSI bins, a 1,001-point quantile sketch, mean and
standard deviation, and the exact sorted values when there are at most
:data:`EXACT_VALUES_LIMIT` of them (enough for scipy-exact KS and Wasserstein on
stream-sized references). A :class:`CategoricalProfile` keeps category counts. Both count
rows (``n``) and missing values (``missing``) so the missing share is never lost.

The JSON form is versioned::

    {"format": "driftline.profile", "version": 1, "features": [{"name": ..., "kind": ...}]}
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from drift.kolmogorov import EXACT_MAX_N
from drift.numeric import FloatArray, bin_counts, psi_edges, quantiles_sorted

PROFILE_FORMAT = "driftline.profile"
PROFILE_VERSION = 1
#: Exact reference values are kept up to this many: scipy's exact-KS limit, so a reference
#: that small is tested exactly.
EXACT_VALUES_LIMIT = EXACT_MAX_N
#: Knots in the quantile sketch: quantiles at 0, 1/1000, ..., 1.
SKETCH_STEPS = 1_000
DEFAULT_BINS = 10


def _frozen(values: Iterable[float] | FloatArray) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """A numeric reference: bins, sketch, moments, and maybe the exact values.

    ``n`` counts rows, ``missing`` the NaN/infinite ones among them; everything else
    describes the ``n - missing`` finite values. ``edges`` are the inner PSI edges (the
    outer bins are open), ``shares`` the reference share of each of ``len(edges) + 1``
    bins, ``quantiles`` the sketch, ``std`` has ddof 0, ``values`` is sorted or ``None``.
    """

    n: int
    missing: int
    bins: int
    edges: FloatArray
    shares: FloatArray
    quantiles: FloatArray
    mean: float
    std: float
    values: FloatArray | None = None
    kind: Literal["numeric"] = field(default="numeric", init=False)

    def __post_init__(self) -> None:
        for name in ("edges", "shares", "quantiles"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if self.values is not None:
            object.__setattr__(self, "values", _frozen(self.values))
        _check_counts(self.n, self.missing)
        if self.bins < 2:
            raise ValueError(f"bins must be at least 2, got {self.bins}")
        valid = self.n - self.missing
        if valid == 0:
            if self.edges.size or self.shares.size or self.quantiles.size:
                raise ValueError("a profile without values has no edges, shares or quantiles")
        else:
            if self.edges.size >= self.bins or np.any(np.diff(self.edges) <= 0):
                raise ValueError("edges must be strictly increasing and fewer than bins")
            if self.shares.size != self.edges.size + 1 or np.any(self.shares < 0):
                raise ValueError("shares must be non-negative, one more than edges")
            if not math.isclose(float(self.shares.sum()), 1.0, abs_tol=1e-9):
                raise ValueError("shares must sum to 1")
            if self.quantiles.size < 2 or np.any(np.diff(self.quantiles) < 0):
                raise ValueError("quantiles must be at least 2 and non-decreasing")
        if self.values is not None and (
            self.values.size != valid
            or not np.all(np.isfinite(self.values))
            or np.any(np.diff(self.values) < 0)
        ):
            raise ValueError(f"values must be the {valid} finite values, sorted")
        finite = np.all(np.isfinite(self.edges)) and np.all(np.isfinite(self.quantiles))
        if not (finite and math.isfinite(self.mean) and math.isfinite(self.std)) or self.std < 0:
            raise ValueError("edges, quantiles, mean and std must be finite (std >= 0)")

    @property
    def valid(self) -> int:
        """How many finite values the reference had."""
        return self.n - self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "missing": self.missing,
            "bins": self.bins,
            "edges": self.edges.tolist(),
            "shares": self.shares.tolist(),
            "quantiles": self.quantiles.tolist(),
            "mean": self.mean,
            "std": self.std,
            "values": None if self.values is None else self.values.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericProfile:
        _expect_keys(data, {"kind", "n", "missing", "bins", "edges", "shares", "quantiles",
                            "mean", "std", "values"})
        values = data["values"]
        return cls(
            n=_integer(data, "n"),
            missing=_integer(data, "missing"),
            bins=_integer(data, "bins"),
            edges=_numbers(data, "edges"),
            shares=_numbers(data, "shares"),
            quantiles=_numbers(data, "quantiles"),
            mean=_number(data, "mean"),
            std=_number(data, "std"),
            values=None if values is None else _numbers(data, "values"),
        )


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical reference: ``counts`` of each category seen, plus ``missing``.

    Missing values (None, NaN, empty string) are counted apart and tested as a category
    of their own, so ``n == missing + sum(counts.values())``.
    """

    n: int
    missing: int
    counts: Mapping[str, int]
    kind: Literal["categorical"] = field(default="categorical", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        _check_counts(self.n, self.missing)
        if any(not isinstance(k, str) or k == "" for k in self.counts):
            raise ValueError("category names must be non-empty strings")
        counts = self.counts.values()
        if any(not isinstance(c, int) or isinstance(c, bool) or c < 1 for c in counts):
            raise ValueError("category counts must be positive integers")
        if self.missing + sum(self.counts.values()) != self.n:
            raise ValueError("n must equal missing plus the category counts")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "n": self.n, "missing": self.missing, "counts": dict(self.counts)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        _expect_keys(data, {"kind", "n", "missing", "counts"})
        counts = data["counts"]
        if not isinstance(counts, Mapping):
            raise ValueError("'counts' must be an object of category -> count")
        return cls(n=_integer(data, "n"), missing=_integer(data, "missing"), counts=counts)


Profile = NumericProfile | CategoricalProfile


def numeric_profile(
    values: Sequence[float] | FloatArray,
    bins: int = DEFAULT_BINS,
    exact_limit: int | None = EXACT_VALUES_LIMIT,
) -> NumericProfile:
    """Profile numeric reference values (NaN and ±inf count as missing).

    ``exact_limit`` caps how many exact values are kept (``None``: keep them all, for an
    in-memory reference whose KS must be exact however large it is).

    Examples
    --------
    >>> p = numeric_profile([1.0, 2.0, float("nan"), 3.0, 4.0], bins=2)
    >>> p.n, p.missing, p.edges.tolist(), p.shares.tolist()
    (5, 1, [2.5], [0.5, 0.5])
    """
    array = np.asarray(values, dtype=np.float64).ravel()
    finite = array[np.isfinite(array)]
    finite.sort()
    missing = array.size - finite.size
    if finite.size == 0:
        return NumericProfile(array.size, missing, bins, np.empty(0), np.empty(0),
                              np.empty(0), 0.0, 0.0, None if exact_limit == 0 else finite)
    edges = psi_edges(finite, bins)
    shares = bin_counts(finite, edges) / finite.size
    sketch = quantiles_sorted(finite, np.arange(SKETCH_STEPS + 1) / SKETCH_STEPS)
    keep = exact_limit is None or finite.size <= exact_limit
    return NumericProfile(
        n=array.size,
        missing=missing,
        bins=bins,
        edges=edges,
        shares=shares,
        quantiles=sketch,
        mean=float(finite.mean()),
        std=float(finite.std()),
        values=finite if keep else None,
    )


def is_missing(value: object) -> bool:
    """None, NaN and the empty string are missing categorical values."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def count_categories(
    values: Iterable[object] | Mapping[str | None, int],
) -> tuple[Counter[str], int, int]:
    """``(counts, missing, n)`` of a categorical sample.

    ``values`` is either the values themselves or, already counted, a mapping of
    category to count (key ``None`` for missing) — what a stream window or
    ``pyarrow.compute.value_counts`` holds. Non-strings are counted as their ``str``.

    Examples
    --------
    >>> count_categories(["a", None, "a", ""])
    (Counter({'a': 2}), 2, 4)
    >>> count_categories({"a": 2, None: 1})
    (Counter({'a': 2}), 1, 3)
    """
    raw: Mapping[Any, int]
    if isinstance(values, Mapping):
        raw = values
        if any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in raw.values()):
            raise ValueError("category counts must be non-negative integers")
    else:
        raw = Counter(values)
    counts: Counter[str] = Counter()
    missing = 0
    for value, count in raw.items():
        if is_missing(value):
            missing += count
        elif count:
            counts[value if isinstance(value, str) else str(value)] += count
    return counts, missing, sum(raw.values())


def categorical_profile(
    values: Iterable[str | None] | Mapping[str | None, int],
) -> CategoricalProfile:
    """Profile categorical reference values (or their counts), most frequent category first.

    Examples
    --------
    >>> categorical_profile(["a", "b", "a", None, ""]).to_dict()
    {'kind': 'categorical', 'n': 5, 'missing': 2, 'counts': {'a': 2, 'b': 1}}
    """
    counts, missing, n = count_categories(values)
    ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return CategoricalProfile(n=n, missing=missing, counts=ordered)


def build_profile(
    values: Sequence[float] | Sequence[str | None] | Mapping[str | None, int] | FloatArray,
    kind: Literal["numeric", "categorical"],
    bins: int = DEFAULT_BINS,
    exact_limit: int | None = EXACT_VALUES_LIMIT,
) -> Profile:
    """Profile one feature's reference values as ``kind``.

    Examples
    --------
    >>> build_profile([1.0, 2.0, 3.0], "numeric").kind
    'numeric'
    >>> build_profile(["x", "y"], "categorical").counts["x"]
    1
    """
    if kind == "numeric":
        return numeric_profile(values, bins=bins, exact_limit=exact_limit)  # type: ignore[arg-type]
    if kind == "categorical":
        return categorical_profile(values)  # type: ignore[arg-type]
    raise ValueError(f"kind must be 'numeric' or 'categorical', got {kind!r}")


def profiles_to_dict(profiles: Mapping[str, Profile]) -> dict[str, Any]:
    """The versioned JSON document for a table's profiles, in column order."""
    return {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "features": [{"name": name, **profile.to_dict()} for name, profile in profiles.items()],
    }


def profiles_from_dict(data: object) -> dict[str, Profile]:
    """Read a document written by :func:`profiles_to_dict`; ``ValueError`` says what is wrong."""
    if not isinstance(data, Mapping) or data.get("format") != PROFILE_FORMAT:
        raise ValueError(f"not a driftline profile (expected \"format\": \"{PROFILE_FORMAT}\")")
    if data.get("version") != PROFILE_VERSION:
        raise ValueError(f"unsupported profile version {data.get('version')!r} "
                         f"(this driftline reads version {PROFILE_VERSION})")
    features = data.get("features")
    if not isinstance(features, list):
        raise ValueError("'features' must be a list")
    profiles: dict[str, Profile] = {}
    for index, entry in enumerate(features):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ValueError(f"feature #{index} must be an object with a string 'name'")
        name = entry["name"]
        if name in profiles:
            raise ValueError(f"feature '{name}' appears twice")
        body = {k: v for k, v in entry.items() if k != "name"}
        try:
            if body.get("kind") == "numeric":
                profiles[name] = NumericProfile.from_dict(body)
            elif body.get("kind") == "categorical":
                profiles[name] = CategoricalProfile.from_dict(body)
            else:
                raise ValueError(f"unknown kind {body.get('kind')!r}")
        except ValueError as error:
            raise ValueError(f"feature '{name}': {error}") from None
    return profiles


def _check_counts(n: object, missing: object) -> None:
    if not isinstance(n, int) or not isinstance(missing, int) or not 0 <= missing <= n:
        raise ValueError("n and missing must be integers with 0 <= missing <= n")


def _expect_keys(data: Mapping[str, Any], keys: set[str]) -> None:
    absent = sorted(keys - data.keys())
    extra = sorted(data.keys() - keys)
    if absent:
        raise ValueError(f"missing key(s): {', '.join(absent)}")
    if extra:
        raise ValueError(f"unknown key(s): {', '.join(extra)}")


def _integer(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"'{key}' must be an integer")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data[key]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"'{key}' must be a number")
    return float(value)


def _numbers(data: Mapping[str, Any], key: str) -> FloatArray:
    value = data[key]
    if not isinstance(value, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise ValueError(f"'{key}' must be a list of numbers")
    return np.array(value, dtype=np.float64)
