"""Choosing the hybrid fusion, its weight and the reranker by cross-validation over both eval courses.

The candidates are weighted fusion at several dense/BM25 weights, RRF at several k, and
dense or BM25 alone, each as served (top 5), and the two hybrid families again with the
lexical or MMR reranker (several weights) over 30 candidates. Every candidate ranks each question of both sets once (the HTML
tutorial and R admin PDF of `../shared/eval`, the PDF manuals of `bench/pdf_eval`);
then each family (weighted, RRF, one side alone, and each hybrid one with each reranker) is cross-validated three ways, each
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
from dataclasses import dataclass, replace
from pathlib import Path

from bench.cv import Ranks, best, by_group, k_folds, mrr, out_of_fold
from bench.evalset import EVAL_SETS, EvalQuestion, EvalSet, Scores, first_gold_rank, load_questions
from bench.rerank_cv import fusion_name, named
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Course, SearchHit, SearchMode
from rag.index import Fusion
from rag.rerank import LexicalReranker, MmrReranker, Reranker

K = 5
CANDIDATES = 30
FOLDS = 5
SHUFFLES = 3


@dataclass(frozen=True)
class Setting:
    mode: SearchMode
    fusion: Fusion = Fusion()
    reranker: Reranker | None = None
    """Reorders `CANDIDATES` sections of the first stage; None keeps its top K."""

    @property
    def first_stage(self) -> str:
        if self.mode != "hybrid":
            return {"dense": "dense only", "bm25": "BM25 only"}[self.mode]
        return fusion_name(self.fusion)

    @property
    def name(self) -> str:
        return self.first_stage if self.reranker is None else f"{self.first_stage} + {named(self.reranker)} of {CANDIDATES}"


# Each family lists the project's default of the time first, so a tie keeps it.
FUSIONS: dict[str, list[Setting]] = {
    "weighted": [Setting("hybrid", Fusion("weighted", w)) for w in (0.6, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9)],
    "rrf": [Setting("hybrid", Fusion("rrf", rrf_k=k)) for k in (60, 10, 20, 30, 100)],
    "one side": [Setting("dense"), Setting("bm25")],
}
RERANKERS: dict[str, list[Reranker]] = {
    "lexical": [LexicalReranker(w) for w in (0.95, 0.8, 0.9)],
    "mmr": [MmrReranker(w) for w in (0.95, 0.9)],
}
FAMILIES: dict[str, list[Setting]] = {
    **FUSIONS,
    **{
        f"{fusion} + {rerank}": [replace(setting, reranker=reranker) for setting in settings for reranker in rerankers]
        for fusion, settings in FUSIONS.items() if fusion != "one side"
        for rerank, rerankers in RERANKERS.items()
    },
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
    """Each setting's rank of each question's gold page, from one question vector per question and
    one search per first stage and depth (the rerankers share the first stage's `CANDIDATES`).

    `depth`: the sections searched for without a reranker, of which the top K are scored (K: as served).
    """
    rows = []
    for question in questions:
        text = " ".join(question.question.split())
        vector = mentor.embedder.embed_query(text)
        found: dict[tuple[str, int], list[SearchHit]] = {}
        ranks = {}
        for setting in settings:
            wanted = (setting.first_stage, depth if setting.reranker is None else CANDIDATES)
            if wanted not in found:
                found[wanted] = mentor.index.search("eval", text, vector, k=wanted[1], mode=setting.mode, fusion=setting.fusion)
            hits = found[wanted] if setting.reranker is None else setting.reranker.rerank(text, found[wanted])
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
    defaults = [FUSIONS["weighted"][0], FUSIONS["rrf"][0]]
    rows: list[Asked] = []
    deeper: dict[str, list[Asked]] = {}
    for eval_set in EVAL_SETS:
        questions = [q for q in load_questions(eval_set.questions) if q.answerable]
        with tempfile.TemporaryDirectory() as data_dir:
            mentor = opened(eval_set, data_dir)
            rows += ranked(mentor, questions, eval_set.name, settings)
            deeper[eval_set.name] = ranked(mentor, questions, eval_set.name, defaults, depth=2 * K)
            mentor.close()
    choose(rows)
    print(f"\nsearched for {2 * K} sections, top {K} scored (a deeper first stage, as a search at k={2 * K} has):")
    for default in defaults:
        for name, asked in deeper.items():
            print(f"  {default.name:<18} {name:<12} {Scores.of([row.ranks[default.name] for row in asked]).row()}")


def choose(rows: list[Asked]) -> Setting:
    """Print every setting's in-sample figures and each family's out-of-fold ones; return the chosen setting."""
    sets = list(dict.fromkeys(row.eval_set for row in rows))
    everyone = range(len(rows))
    print(f"\n{len(rows)} questions: " + ", ".join(f"{kind} {sum(row.kind == kind for row in rows)}" for kind in dict.fromkeys(r.kind for r in rows)))
    print("MRR@5 of each first stage, and of each reranker of 30 on the default one (in-sample: what the choice is made from)")
    print(f"  {'setting':<40}" + "".join(f"{name:>13}" for name in sets) + f"{'all':>8}")
    shown = [setting for family in FUSIONS.values() for setting in family]
    shown += [replace(shown[0], reranker=reranker) for rerankers in RERANKERS.values() for reranker in rerankers]
    shown += [replace(FUSIONS["rrf"][0], reranker=reranker) for rerankers in RERANKERS.values() for reranker in rerankers]
    for setting in shown:
            column = [row.ranks[setting.name] for row in rows]
            per_set = [mrr(column, [i for i in everyone if rows[i].eval_set == name]) for name in sets]
            print(f"  {setting.name:<40}" + "".join(f"{value:13.3f}" for value in per_set) + f"{mrr(column, everyone):8.3f}")

    schemes = {
        f"{FOLDS}-fold": [k_folds(len(rows), FOLDS, seed) for seed in range(SHUFFLES)],
        "kind out": [by_group([row.kind for row in rows])],
        "course out": [by_group([row.eval_set for row in rows])],
    }
    print("\nout-of-fold MRR@5 per family (each fold chose its setting without its own questions)")
    print(f"  {'family':<18}" + "".join(f"{name:>12}" for name in schemes) + f"{'mean':>8}  settings the course-out folds chose")
    cv: dict[str, float] = {}
    for family, members in FAMILIES.items():
        grid: dict[str, Ranks] = {setting.name: [row.ranks[setting.name] for row in rows] for setting in members}
        figures = [sum(out_of_fold(grid, folds)[0] for folds in repeats) / len(repeats) for repeats in schemes.values()]
        cv[family] = sum(figures) / len(figures)
        course_out = out_of_fold(grid, schemes["course out"][0])[1]
        print(f"  {family:<18}" + "".join(f"{value:12.3f}" for value in figures) + f"{cv[family]:8.3f}  "
              + ", ".join(f"{choice} (for {sets[i]})" for i, choice in enumerate(course_out)))
    family = max(cv, key=lambda name: round(cv[name], 3))  # dicts keep order: a tie keeps the first family
    members = FAMILIES[family]
    chosen = best({setting.name: [row.ranks[setting.name] for row in rows] for setting in members}, everyone)
    print(f"chosen: the {family} family by its mean, and in it {chosen}, the best on all {len(rows)} questions (in-sample on both sets)")
    return next(setting for setting in members if setting.name == chosen)


if __name__ == "__main__":
    main()
