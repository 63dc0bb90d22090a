"""How close two questions must be to count as a repeat: calibrated on written pairs, reported on others.

`bench/repeat_pairs/tune.tsv`: 25 pairs of the same question worded differently and 25 pairs of
different questions on the same topic, from an intro Python course; the threshold is the one
with the best F0.5 there (precision counts twice: a wrong link misleads, a missed one costs
nothing, as the answer follows anyway; ties: the higher). `heldout.tsv` (git, SQL, data
structures: a course nobody tuned on) is then scored at that threshold: out-of-sample. The
packaged MiniLM, cosine of normalized vectors, as the service compares them.

    .venv/bin/python -m bench.repeats
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.embedder import SentenceTransformerEmbedder

PAIRS = Path(__file__).with_name("repeat_pairs")


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float

    @property
    def f_half(self) -> float:
        """F0.5: precision weighs twice as much as recall."""
        denominator = 0.25 * self.precision + self.recall
        return 0.0 if not denominator else 1.25 * self.precision * self.recall / denominator


def similarities(embedder: SentenceTransformerEmbedder, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each pair, and whether it is a repeat."""
    rows = [line.split("\t") for line in (PAIRS / name).read_text().splitlines() if line.strip()]
    left = np.array(embedder.embed_documents([row[1] for row in rows]))
    right = np.array(embedder.embed_documents([row[2] for row in rows]))
    return (left * right).sum(axis=1), np.array([row[0] == "same" for row in rows])


def score(cosines: np.ndarray, same: np.ndarray, threshold: float) -> Score:
    called = cosines >= threshold
    hits = int((called & same).sum())
    return Score(hits / called.sum() if called.sum() else 1.0, hits / same.sum())


def main() -> None:
    embedder = SentenceTransformerEmbedder()
    tune, tune_same = similarities(embedder, "tune.tsv")
    held, held_same = similarities(embedder, "heldout.tsv")
    candidates = np.round(np.arange(0.50, 0.96, 0.01), 2)
    best = max(candidates, key=lambda t: (round(score(tune, tune_same, t).f_half, 2), t))
    print(f"cosine, same question: tune median {np.median(tune[tune_same]):.3f}, held-out {np.median(held[held_same]):.3f}")
    print(f"cosine, different question, same topic: tune median {np.median(tune[~tune_same]):.3f}, held-out {np.median(held[~held_same]):.3f}\n")
    print("| threshold | set | precision | recall | F0.5 |")
    print("|---|---|---|---|---|")
    for threshold in sorted({best, 0.70, 0.80, 0.85, 0.90}):
        for label, cosines, same in (("tune (in-sample)", tune, tune_same), ("held-out", held, held_same)):
            s = score(cosines, same, threshold)
            mark = " (chosen)" if threshold == best else ""
            print(f"| {threshold:.2f}{mark} | {label} | {s.precision:.2f} | {s.recall:.2f} | {s.f_half:.2f} |")


if __name__ == "__main__":
    main()
