"""Which questions the grounding threshold declines, on the questions that chose it and on new ones.

`answer.min_relevance` was set from the scores of the 45 eval questions, so its decline
rate there is in-sample and says little about questions it has not seen. The held-out
questions (`bench/heldout_questions.jsonl`) played no part in choosing it: their rates
are the ones to quote. No model is needed: a question scoring below the threshold is
declined before the model is called.

    .venv/bin/python -m bench.declines
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench.evalset import COURSE_DIR, HELD_OUT, EvalQuestion, HeldOutQuestion, load_held_out, load_questions
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Course
from rag.grounding import LEXICAL_WEIGHT, grounding_score


def main() -> None:
    configure_logging()
    with tempfile.TemporaryDirectory() as data_dir:
        mentor = MentorApp(Settings(data_dir=Path(data_dir), courses=[Course(name="eval", sources=(COURSE_DIR,))]))
        mentor.embedder.warm_up()
        mentor.ingest("eval")
        report_declines(mentor, load_questions())
        mentor.close()


def report_declines(mentor: MentorApp, questions: list[EvalQuestion]) -> None:
    """The calibration over the eval questions, then the decline rates in and out of sample."""
    held_out = load_held_out()
    hits = {q.question: mentor.retriever.search("eval", q.question).hits for q in [*questions, *held_out]}
    threshold = mentor.settings.answer.min_relevance
    print(f"grounding calibration over {len(questions)} eval questions ({sum(not q.answerable for q in questions)} unanswerable)")
    print(f"{'lexical weight':>15} {'max unanswerable':>17} {'min answerable':>15} {'midpoint':>9}")
    for weight in (0.0, 0.1, 0.2, 0.25, 0.3):
        scores = {q.id: grounding_score(q.question, hits[q.question], weight) for q in questions}
        high = max(scores[q.id] for q in questions if not q.answerable)
        low = min(scores[q.id] for q in questions if q.answerable)
        mark = "  <- configured" if weight == LEXICAL_WEIGHT else ""
        print(f"{weight:15.2f} {high:17.3f} {low:15.3f} {(high + low) / 2:9.3f}{mark}")

    scores = {q.question: grounding_score(q.question, hits[q.question]) for q in [*questions, *held_out]}
    print(f"\ndeclined at answer.min_relevance {threshold} (below it the model is not called):")
    print(f"  {'questions':<44} {'unanswerable declined':>22} {'answerable wrongly declined':>28}")
    for label, group in (
        ("in-sample (chose the threshold): eval set", questions),
        (f"out-of-sample: {HELD_OUT.name}", held_out),
    ):
        print(f"  {label:<44} {_rate(group, scores, threshold, answerable=False):>22} {_rate(group, scores, threshold, answerable=True):>28}")
    by_topic: dict[str, list[bool]] = defaultdict(list)
    for q in held_out:
        if not q.answerable:
            by_topic[q.topic].append(scores[q.question] < threshold)
    print("  out-of-sample unanswerable declined by topic: " + ", ".join(f"{t} {sum(d)}/{len(d)}" for t, d in by_topic.items()))
    wrong = [q for q in held_out if (scores[q.question] < threshold) == q.answerable]
    for q in sorted(wrong, key=lambda q: -scores[q.question]):
        verdict = "declined, but answerable" if q.answerable else "answered, but unanswerable"
        print(f"    {scores[q.question]:.3f} {verdict}: {q.question}")
    print()


def _rate(group: Sequence[EvalQuestion | HeldOutQuestion], scores: dict[str, float], threshold: float, *, answerable: bool) -> str:
    chosen = [q for q in group if q.answerable == answerable]
    declined = sum(scores[q.question] < threshold for q in chosen)
    return f"{declined}/{len(chosen)} = {declined / len(chosen):.2f}" if chosen else "none"


if __name__ == "__main__":
    main()
