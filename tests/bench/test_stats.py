"""The one percentile the benchmarks share: what it returns, and that the benchmarks use it."""

from __future__ import annotations

import math
import statistics

import pytest

from bench.reindex import Searches
from bench.stats import percentile


@pytest.mark.parametrize("values", [[4.0, 1.0, 3.0, 2.0], [5.0, 1.0, 4.0, 2.0, 3.0], [10.0, 10.0, 30.0, 20.0, 90.0, 70.0]])
def test_the_50th_percentile_is_the_median(values: list[float]) -> None:
    assert percentile(values, 0.5) == statistics.median(values)


def test_a_percentile_interpolates_between_the_two_nearest_ranks() -> None:
    values = [float(v) for v in range(20, 0, -1)]
    assert percentile(values, 0.95) == pytest.approx(19.05)
    assert percentile(values, 0.05) == pytest.approx(1.95)
    assert percentile(values, 0.99) == pytest.approx(19.81)


def test_no_values_give_nan_and_one_value_gives_itself() -> None:
    assert math.isnan(percentile([], 0.95))
    assert percentile([7.5], 0.95) == 7.5


@pytest.mark.parametrize("q", [0.0, 1.0, 0.955, 95])
def test_a_percentile_that_is_not_a_whole_percent_inside_the_range_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="whole percent"):
        percentile([1.0, 2.0, 3.0], q)


def test_the_reindex_benchmark_reports_the_same_percentiles() -> None:
    timings, embeds = [40.0, 10.0, 30.0, 20.0], [4.0, 1.0, 3.0, 2.0]
    searches = Searches(timings_ms=timings, embed_ms=embeds)
    assert searches.percentile(0.5) == percentile(timings, 0.5) == 25.0
    assert searches.percentile(0.95, "embed") == percentile(embeds, 0.95)
    assert searches.percentile(0.95, "index") == percentile([36.0, 9.0, 27.0, 18.0], 0.95)
