"""What the release filter costs a search: p50 / p95 at 50k chunks, with and without it, in one run.

Every search a student's question makes carries `release_at <= now` (`rag.index.search`);
this times the same questions against the same index both ways, taking turns on each
question so a busy spell on shared cores slows both alike. The index is the eval course
grown with filler rows (`bench.filler`), whose release times are spread over a 15-week
term; "now" is mid-term, so the filter leaves out about half of them, as in week 8.

    .venv/bin/python -m bench.release_filter [--rows 50000] [--queries 200] [--data-dir DIR]
"""

from __future__ import annotations

from bench.evalset import load_questions
from bench.speed import arguments, built_index, shown_timings
from bench.stats import percentile

TERM_START = 1_788_000_000  # a Monday of 2026, in UTC epoch seconds
WEEK = 7 * 24 * 3600
WEEKS = 15


def week_release(row: int) -> int:
    """Filler row `row` is released at the start of one of the term's weeks, in turn."""
    return TERM_START + (row % WEEKS) * WEEK


def main() -> None:
    args = arguments()
    with built_index(args, release_of=week_release) as mentor:
        index = mentor.index
        now = TERM_START + 7 * WEEK  # week 8: weeks 1-8 are out, 9-15 are not
        hidden = index.client.query(index.searched_collection("eval"), filter=f"release_at > {now}", output_fields=["count(*)"])
        unreleased = int(hidden[0]["count(*)"])
        if not unreleased:
            raise SystemExit("no row is unreleased at the timed moment: the filter would have nothing to leave out")
        questions = [q.question for q in load_questions()]
        vectors = {q: mentor.embedder.embed_query(q) for q in questions}
        for question in questions[:10]:  # warm caches, as a running service has them
            index.search("eval", question, vectors[question], k=5)
        stages = {
            f"{mode} {label}": (lambda q, mode=mode, by=by: index.search("eval", q, vectors[q], k=5, mode=mode, released_by=by))
            for mode in ("dense", "bm25", "hybrid")
            for label, by in (("without filter", None), ("with filter", now))
        }
        heading = f"{args.queries} queries at {args.rows} chunks, {unreleased} of them unreleased at the timed moment"
        timings = shown_timings(stages, questions, args.queries, heading)
        for mode in ("dense", "bm25", "hybrid"):
            off, on = timings[f"{mode} without filter"], timings[f"{mode} with filter"]
            print(f"  {mode}: the filter costs {percentile(on, 0.5) - percentile(off, 0.5):+.1f} ms at p50, "
                  f"{percentile(on, 0.95) - percentile(off, 0.95):+.1f} ms at p95")


if __name__ == "__main__":
    main()
