"""Quote mode beside generating with SmolLM2 and retrieval-only answers, in one run.

For every answerable question of each eval set (each with a key phrase: the words that
hold the answer), per answer mode:
- the share whose answer contains the key phrase;
- the share whose sources include the gold page or section (cited or "see also"), beside
  retrieval's hit@3 (an answer's sources hold the top three passages, so the gap is the
  answerable questions the grounding check declined, counted under "declined"), and the
  share whose cited sources alone ([n] or quoted) include it;
- p50/p95 answer time after retrieval, on this CPU.

Retrieval runs once per question; each mode then answers from the same hits, so the times
compare the modes only. Quote mode's time includes reading the rest of each hit's section
from the index. It keeps sentence vectors for the next questions, as in service, so its
times fall as a run goes on; `quote, cold vectors` embeds its shortlist afresh (a section
no one asked about yet), the worst case. `quote, every unit` embeds every unit of the sections
rather than the `shortlist` closest to the question's words. Generation is slow on a CPU, so it runs on the
first `--generate` questions (the other modes on all of them). `auto, demo model` is what
a new install answers with (quote mode, since only the demo model is there); the
`fake model citing [1]` and `[2]` (`bench.fake_llm.CitingModel`, not a real model) go
through the real generate path and show what a model that cites one passage, the best
or the second, leaves in the sources.

The shared set is in-sample for the grounding threshold and for quote mode's
`section_reach` (chosen on it: reach 0, 1, 2 and the whole section gave key phrase 0.600,
0.625, 0.675 and 0.650); the PDF manuals are out-of-sample: never tune on them.

    .venv/bin/python -m bench.quote_mode [--generate 12]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.evalset import EVAL_SETS, EvalQuestion, EvalSet, first_gold_rank, load_questions
from bench.fake_llm import CitingModel
from bench.stats import percentile
from bot.app import MentorApp
from bot.config.sections import LlmSettings
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Answer, Course, Question, SearchResult
from rag.answerer import Answerer
from rag.embedder import Embedder
from rag.index import MilvusIndex
from rag.llama_cpp_model import LlamaCppModel
from rag.quotes import QuotePicker, QuotePolicy


@dataclass
class ModeRow:
    name: str
    answers: list[tuple[EvalQuestion, Answer]] = field(default_factory=list)
    after_retrieval_ms: list[float] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate", type=int, default=12, help="how many questions of each set the model answers")
    args = parser.parse_args()
    configure_logging()
    for eval_set in EVAL_SETS:
        _run(eval_set, args.generate)
    print("targets: quote mode key phrase >= 0.60 and p95 <= 300 ms after retrieval; every mode's gold in sources >= retrieval hit@3")


def _run(eval_set: EvalSet, generated: int) -> None:
    questions = [q for q in load_questions(eval_set.questions) if q.answerable and q.key_phrase]
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir), courses=[Course(name="eval", sources=(eval_set.course_dir,))], llm=LlmSettings(temperature=0.0)
        )
        mentor = MentorApp(settings)
        mentor.embedder.warm_up()
        mentor.ingest("eval")
        course = mentor.course("eval")
        found = {q.id: mentor.retriever.search("eval", q.question) for q in questions}
        hit3 = sum((first_gold_rank(q, found[q.id].hits) or 99) <= 3 for q in questions) / len(questions)
        replay = Replay(mentor.index, mentor.embedder, found)
        model, generation, policy = mentor.answerer.model, mentor.answerer.generation, mentor.answerer.policy
        missing = LlamaCppModel(Path(data_dir) / "no-model.gguf")
        # Every sentence embedded afresh, as for a question about a section no one asked about yet.
        cold = QuotePicker(mentor.embedder, QuotePolicy(cached_units=0))
        # The passage search returned and nothing around it (section_reach 0), as before sections were read.
        chunk_only = QuotePicker(mentor.embedder, QuotePolicy(section_reach=0))
        # Every unit of the sections embedded, none shortlisted by its words first (as before the shortlist).
        every_unit = QuotePicker(mentor.embedder, QuotePolicy(shortlist=1 << 30))
        modes = {
            "auto, demo model": (Answerer(replay, model, generation, policy, demo_model=True), "auto", questions),  # type: ignore[arg-type]
            "quote": (Answerer(replay, model, generation, policy), "quote", questions),  # type: ignore[arg-type]
            "quote, cold vectors": (Answerer(replay, model, generation, policy, quotes=cold), "quote", questions),  # type: ignore[arg-type]
            "quote, chunk only": (Answerer(replay, model, generation, policy, quotes=chunk_only), "quote", questions),  # type: ignore[arg-type]
            "quote, every unit": (Answerer(replay, model, generation, policy, quotes=every_unit), "quote", questions),  # type: ignore[arg-type]
            "generate (SmolLM2)": (Answerer(replay, model, generation, policy), "generate", questions[:generated]),  # type: ignore[arg-type]
            "retrieval-only": (Answerer(replay, lambda: missing, generation, policy), "generate", questions),  # type: ignore[arg-type]
            **{
                f"fake citing [{n}]": (Answerer(replay, lambda n=n: CitingModel(n), generation, policy), "generate", questions)  # type: ignore[arg-type]
                for n in (1, 2)
            },
        }
        rows = []
        for name, (answerer, mode, asked) in modes.items():
            row = ModeRow(name)
            for question in asked:
                started = time.perf_counter()
                answer = answerer.answer(Question(text=question.question, course="eval"), course, mode=mode)  # type: ignore[arg-type]
                row.after_retrieval_ms.append((time.perf_counter() - started) * 1000)
                row.answers.append((question, answer))
            rows.append(row)
        mentor.close()
    print(f"{eval_set.name} ({eval_set.label}): {len(questions)} answerable questions with a key phrase; retrieval hit@3 {hit3:.2f}")
    print(f"{'mode':<20} {'n':>3} {'key phrase':>11} {'gold in sources':>16} {'gold cited':>11} {'declined':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for row in (row for row in rows if row.answers):
        n = len(row.answers)
        phrase = sum(_says(a.text, q.key_phrase or "") for q, a in row.answers) / n
        sourced = sum(any(q.points_at(c.source, c.page, c.anchor) for c in a.citations) for q, a in row.answers) / n
        cited = sum(any(q.points_at(c.source, c.page, c.anchor) for c in a.citations if not c.see_also) for q, a in row.answers) / n
        declined = sum(a.kind == "not_covered" for _, a in row.answers)
        p50, p95 = percentile(row.after_retrieval_ms, 0.5), percentile(row.after_retrieval_ms, 0.95)
        print(f"{row.name:<20} {n:3d} {phrase:11.2f} {sourced:16.2f} {cited:11.2f} {declined:9d} {p50:8.0f} {p95:8.0f}")
    print()


@dataclass
class Replay:
    """Stands in for the retriever: each mode answers from the hits already found, at no search cost
    (quote mode still reads the rest of each hit's section from the index, as it does in service)."""

    index: MilvusIndex
    embedder: Embedder
    results: dict[str, SearchResult]

    def search(self, course: str, query: str, **_: object) -> SearchResult:
        return next(result for result in self.results.values() if result.query == " ".join(query.split()))


def _says(text: str, phrase: str) -> bool:
    """The key phrase is in the answer, ignoring case, spacing and markup."""

    def flat(value: str) -> str:
        return " ".join(re.sub(r"[`*_\u201c\u201d\"]", "", value).lower().split())

    return flat(phrase) in flat(text)


if __name__ == "__main__":
    main()
