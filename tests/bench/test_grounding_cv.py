"""The grounding calibration's folds, objective and fitting, on evidence made by hand."""

from __future__ import annotations

from collections import Counter

from bench.cv import stratified_folds
from bench.grounding_cv import WEIGHTS, Evidence, Grounded, Rates, best_passage, fitted, objective, per_set, top_chunks


def asked(similarity: float, answerable: bool, eval_set: str = "a", words: tuple[str, ...] = ()) -> Grounded:
    found = frozenset(words)
    return Grounded("q", eval_set, answerable, None, 4, (Evidence(similarity, found, found),))


def test_stratified_folds_use_every_question_once_and_spread_each_label():
    labels = ["yes"] * 10 + ["no"] * 5
    folds = stratified_folds(labels, 5, seed=3)
    assert sorted(i for fold in folds for i in fold) == list(range(15))
    for fold in folds:
        assert Counter(labels[i] for i in fold) == {"yes": 2, "no": 1}


def test_a_separable_set_gets_the_midpoint_and_keeps_todays_weight():
    rows = [asked(0.2, False), asked(0.3, False), asked(0.5, True), asked(0.7, True)]
    setting = fitted("best passage (today's shape)", rows)
    assert setting.weight == WEIGHTS[0]
    assert abs(setting.threshold - 0.4) < 1e-9


def test_each_course_counts_the_same_however_many_questions_it_has():
    # Course "a": 20 answerable, all accepted; course "b": one unanswerable, accepted.
    rows = [asked(0.9, True, "a") for _ in range(20)] + [asked(0.9, False, "b")]
    rates = per_set(rows, [0.9] * len(rows), 0.5)
    assert rates["a"] == Rates(20, 20, 0, 0)
    assert objective(rates) == (1.0 + 0.5) / 2


def test_top_chunks_counts_a_word_once_across_hits():
    row = Grounded("q", "a", True, None, 4, (Evidence(0.5, frozenset({"x", "y"}), frozenset()), Evidence(0.3, frozenset({"y", "z"}), frozenset())))
    assert top_chunks(row, 1.0) == 0.5 + 3 / 4
    assert best_passage(row, 1.0) == 0.5 + 2 / 4
