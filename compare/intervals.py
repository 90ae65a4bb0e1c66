"""95 % intervals for every metric. Bootstrap: resample the units a metric is computed over (replies for reply
metrics, chats for loop metrics) with replacement, recompute, take the 2.5th and 97.5th percentiles. Statistics of a
*set* of replies that count repeats (distinct-n, self-repetition) cannot be bootstrapped: a resample repeats
replies, which these statistics then count (distinct-2 0.50 gave an interval of [0.34, 0.41]); they get a
jackknife interval (leave one reply out, normal approximation) instead."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 1000


def mean_interval(
    values: Sequence[float] | np.ndarray, seed: int = 0, resamples: int = RESAMPLES
) -> list[float] | None:
    """Interval of the mean of per-unit values (vectorized)."""
    x = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    if len(x) < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    means = x[idx].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def interval(
    units: Sequence, statistic: Callable[[list], float], seed: int = 0, resamples: int = RESAMPLES
) -> list[float] | None:
    """Interval of any statistic over a list of units (slower: calls `statistic` per resample)."""
    units = list(units)
    if len(units) < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        v = statistic([units[i] for i in rng.integers(0, len(units), size=len(units))])
        if v is not None and not np.isnan(v):
            values.append(v)
    if not values:
        return None
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def jackknife_interval(units: Sequence, statistic: Callable[[list], float]) -> list[float] | None:
    """value +- 1.96 jackknife standard errors (leave-one-out recomputation), for set statistics."""
    units = list(units)
    n = len(units)
    if n < 3:
        return None
    full = statistic(units)
    loo = np.array([statistic(units[:i] + units[i + 1 :]) for i in range(n)], dtype=float)
    se = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))
    return [float(full - 1.96 * se), float(full + 1.96 * se)]
