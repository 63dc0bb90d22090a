"""Choosing the hybrid fusion and its weight by cross-validation over both eval courses.

The candidates are weighted fusion at several dense/BM25 weights, RRF at several k, and
dense or BM25 alone. Every candidate ranks each question of both sets once (the HTML
tutorial and R admin PDF of `../shared/eval`, the PDF manuals of `bench/pdf_eval`);
then each family (weighted, RRF, one side alone) is cross-validated three ways, each
fold choosing its setting on the other questions and scored on its own:

- 5-fold over all questions of both sets (three shuffles, averaged);
- leave one kind of material out (HTML tutorial, R admin PDF, PDF manuals);
- leave one course out (chosen on the shared course, scored on the manuals, and the reverse).

The family with the best mean of the three is chosen, and its setting is the one best
on all questions: figures of that setting on either set are in-sample, since both chose
it. Only the out-of-fold figures say what the choice is worth on unseen material.

    .venv/bin/python -m bench.fusion_cv
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.cv import Ranks, best, by_group, k_folds, mrr, out_of_fold
from bench.evalset import EVAL_SETS, EvalQuestion, EvalSet, Scores, first_gold_rank, load_questions
from bench.rerank_cv import fusion_name
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Course, SearchMode
from rag.index import Fusion

K = 5
FOLDS = 5
SHUFFLES = 3


@dataclass(frozen=True)
class Setting:
    mode: SearchMode
    fusion: Fusion = Fusion()

    @property
    def name(self) -> str:
        if self.mode != "hybrid":
            return {"dense": "dense only", "bm25": "BM25 only"}[self.mode]
        return fusion_name(self.fusion)


# Each family lists the project's default of the time first, so a tie keeps it.
FAMILIES: dict[str, list[Setting]] = {
    "weighted": [Setting("hybrid", Fusion("weighted", w)) for w in (0.6, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9)],
    "rrf": [Setting("hybrid", Fusion("rrf", rrf_k=k)) for k in (60, 10, 20, 30, 100)],
    "one side": [Setting("dense"), Setting("bm25")],
}


@dataclass(frozen=True)
class Asked:
    """One question, the set and kind of material it is about, and each setting's rank of its gold page."""

    question: EvalQuestion
    eval_set: str
    ranks: dict[str, int | None]

    @property
    def kind(self) -> str:
        extension = (self.question.source or "").rsplit(".", 1)[-1]
        return f"{self.eval_set} {extension}"


def ranked(mentor: MentorApp, questions: list[EvalQuestion], eval_set: str, settings: list[Setting], depth: int = K) -> list[Asked]:
    """Each setting's rank of each question's gold page, from one question vector per question.

    `depth`: the sections searched for, of which the top K are scored (K: as served).
    """
    rows = []
    for question in questions:
        text = " ".join(question.question.split())
        vector = mentor.embedder.embed_query(text)
        ranks = {}
        for setting in settings:
            hits = mentor.index.search("eval", text, vector, k=depth, mode=setting.mode, fusion=setting.fusion)
            ranks[setting.name] = first_gold_rank(question, hits[:K])
        rows.append(Asked(question, eval_set, ranks))
    return rows


def opened(eval_set: EvalSet, data_dir: str) -> MentorApp:
    """The eval course ingested into a fresh index under `data_dir`, embedder warm."""
    mentor = MentorApp(Settings(data_dir=Path(data_dir), courses=[Course(name="eval", sources=(eval_set.course_dir,))]))
    mentor.embedder.warm_up()
    mentor.ingest("eval")
    return mentor


def main() -> None:
    configure_logging()
    settings = [setting for family in FAMILIES.values() for setting in family]
    default = settings[0]
    rows: list[Asked] = []
    deeper: dict[str, list[Asked]] = {}
    for eval_set in EVAL_SETS:
        questions = [q for q in load_questions(eval_set.questions) if q.answerable]
        with tempfile.TemporaryDirectory() as data_dir:
            mentor = opened(eval_set, data_dir)
            rows += ranked(mentor, questions, eval_set.name, settings)
            deeper[eval_set.name] = ranked(mentor, questions, eval_set.name, [default], depth=2 * K)
            mentor.close()
    choose(rows)
    print(f"\n{default.name} searched for {2 * K} sections, top {K} scored (a deeper first stage, as a search at k={2 * K} has):")
    for name, asked in deeper.items():
        print(f"  {name:<12} {Scores.of([row.ranks[default.name] for row in asked]).row()}")


def choose(rows: list[Asked]) -> Setting:
    """Print every setting's in-sample figures and each family's out-of-fold ones; return the chosen setting."""
    sets = list(dict.fromkeys(row.eval_set for row in rows))
    everyone = range(len(rows))
    print(f"\n{len(rows)} questions: " + ", ".join(f"{kind} {sum(row.kind == kind for row in rows)}" for kind in dict.fromkeys(r.kind for r in rows)))
    print("MRR@5 of each setting (in-sample: these figures are what the choice is made from)")
    print(f"  {'setting':<20}" + "".join(f"{name:>13}" for name in sets) + f"{'all':>8}")
    for family in FAMILIES.values():
        for setting in family:
            column = [row.ranks[setting.name] for row in rows]
            per_set = [mrr(column, [i for i in everyone if rows[i].eval_set == name]) for name in sets]
            print(f"  {setting.name:<20}" + "".join(f"{value:13.3f}" for value in per_set) + f"{mrr(column, everyone):8.3f}")

    schemes = {
        f"{FOLDS}-fold": [k_folds(len(rows), FOLDS, seed) for seed in range(SHUFFLES)],
        "kind out": [by_group([row.kind for row in rows])],
        "course out": [by_group([row.eval_set for row in rows])],
    }
    print("\nout-of-fold MRR@5 per family (each fold chose its setting without its own questions)")
    print(f"  {'family':<10}" + "".join(f"{name:>12}" for name in schemes) + f"{'mean':>8}  settings the course-out folds chose")
    cv: dict[str, float] = {}
    for family, members in FAMILIES.items():
        grid: dict[str, Ranks] = {setting.name: [row.ranks[setting.name] for row in rows] for setting in members}
        figures = [sum(out_of_fold(grid, folds)[0] for folds in repeats) / len(repeats) for repeats in schemes.values()]
        cv[family] = sum(figures) / len(figures)
        course_out = out_of_fold(grid, schemes["course out"][0])[1]
        print(f"  {family:<10}" + "".join(f"{value:12.3f}" for value in figures) + f"{cv[family]:8.3f}  "
              + ", ".join(f"{choice} (for {sets[i]})" for i, choice in enumerate(course_out)))
    family = max(cv, key=lambda name: round(cv[name], 3))  # dicts keep order: a tie keeps the first family
    members = FAMILIES[family]
    chosen = best({setting.name: [row.ranks[setting.name] for row in rows] for setting in members}, everyone)
    print(f"chosen: the {family} family by its mean, and in it {chosen}, the best on all {len(rows)} questions (in-sample on both sets)")
    return next(setting for setting in members if setting.name == chosen)


if __name__ == "__main__":
    main()
