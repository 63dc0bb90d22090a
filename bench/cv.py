"""Cross-validation over precomputed ranks: what picking the best setting is worth on questions it did not see.

Each candidate setting is scored once per question (the rank of its first gold hit), so
a fold only selects and averages: picking the best setting on the training questions
and scoring it on the held-back ones costs no search. Ties go to the grid's first
entry, so a grid that lists the current default first keeps it unless another beats it.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence

from bench.evalset import Scores

Ranks = Sequence[int | None]
"""1-based rank of each question's first gold hit in the top 5, None when absent."""
Folds = list[list[int]]
"""Each fold is the indices of the questions held back from choosing."""


def mrr(ranks: Ranks, indices: Sequence[int]) -> float:
    return Scores.of([ranks[i] for i in indices]).mrr5


def best(grid: Mapping[str, Ranks], indices: Sequence[int]) -> str:
    """The setting with the highest MRR@5 on `indices`; the grid's first wins a tie."""
    return max(grid, key=lambda name: round(mrr(grid[name], indices), 9))


def out_of_fold(grid: Mapping[str, Ranks], folds: Folds) -> tuple[float, list[str]]:
    """MRR@5 over all held-back questions, each scored with the setting chosen without it, and the settings chosen."""
    count = len(next(iter(grid.values())))
    held_back: list[int | None] = []
    chosen = []
    for fold in folds:
        held = set(fold)
        name = best(grid, [i for i in range(count) if i not in held])
        chosen.append(name)
        held_back += [grid[name][i] for i in fold]
    return Scores.of(held_back).mrr5, chosen


def k_folds(count: int, folds: int, seed: int) -> Folds:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return [order[i::folds] for i in range(folds)]


def by_group(labels: Sequence[Hashable]) -> Folds:
    """One fold per distinct label: tuned on every other group, scored on this one."""
    return [[i for i, label in enumerate(labels) if label == group] for group in dict.fromkeys(labels)]


def stratified_folds(labels: Sequence[Hashable], folds: int, seed: int) -> Folds:
    """`folds` folds, each with about the same share of every label (shuffled within each label)."""
    rng = random.Random(seed)
    dealt: Folds = [[] for _ in range(folds)]
    at = 0
    for label in dict.fromkeys(labels):
        members = [i for i, other in enumerate(labels) if other == label]
        rng.shuffle(members)
        for i in members:
            dealt[at % folds].append(i)
            at += 1
    return dealt
