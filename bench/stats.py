"""The one percentile every benchmark reports, so their figures compare.

It is the standard library's inclusive quantile (linear interpolation between the two
nearest ranks, as numpy and spreadsheets compute it), so a p50 is the median.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The value at quantile `q` of `values`, a whole percent between 0.01 and 0.99; NaN for no values.

    >>> percentile([1, 2, 3, 4], 0.5)
    2.5
    """
    percent = round(q * 100)
    if not 1 <= percent <= 99 or abs(q * 100 - percent) > 1e-9:
        raise ValueError(f"a percentile is a whole percent between 0.01 and 0.99, not {q}")
    if len(values) < 2:
        return float(values[0]) if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
