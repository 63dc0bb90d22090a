"""Searches while a reindex runs, and what a rebuild behind the alias costs.

Prints, on the shared eval course:

1. end-to-end search latency (embed the question + hybrid search, as
   `mentor.retriever.search` serves a student) p50/p95 while idle, against the same
   while an incremental reindex runs in another thread (every other HTML page gets a
   new paragraph, one page is deleted, one added) and while a forced rebuild runs (a
   new chunking fingerprint: a new generation is built beside the live one and the
   alias switched to it); the p95 ratio to idle and the p95 of the question's embedding
   and of the rest apart, how many searches ran, how many failed or came back empty,
   and whether each reindex finished (a reindex that raises is reported, its traceback
   logged, and the run goes on);
2. the time of a full rebuild with the alias switch in a data dir that already holds
   the course, against a plain full ingest of the same course into an empty data dir
   with the same chunking (baseline, rebuild, baseline again: their mean evens out the
   drift of a noisy machine). Measured first, on the idle machine; the rebuilt index
   is then the one part 1 searches.

All of it in temporary folders; about 5 to 8 minutes on 2 CPU cores.

    .venv/bin/python -m bench.reindex
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.evalset import COURSE_DIR, load_questions
from bench.stats import percentile
from bot.app import MentorApp
from bot.config.sections import ChunkingSettings
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from ingest.chunker import ChunkingPolicy
from models import Course, IngestReport
from rag.embedder import SentenceTransformerEmbedder

COURSE = "eval"
IDLE_SEARCHES = 150
"""Idle searches before the reindexes and again after them, pooled."""
REBUILD_POLICY = ChunkingPolicy(size=160, overlap=32)
"""The forced rebuild under search load: a different size, so every chunk changes."""
BASELINE_CHUNKING = ChunkingSettings(size=200, overlap=39)
"""Part 2: overlap 40 -> 39 changes the fingerprint but hardly the work, so rebuild and baseline compare."""
log = logging.getLogger("bench.reindex")
NOTE = (
    "<p>Benchmark note {n}: a short paragraph added to this page so that the reindex has to "
    "read, chunk and embed it again, and replace the chunks it had in the index.</p>\n"
)


@dataclass
class Searches:
    """End-to-end search timings (and their embedding share) and what went wrong, for one phase."""

    timings_ms: list[float] = field(default_factory=list)
    embed_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    empty: int = 0

    @property
    def count(self) -> int:
        return len(self.timings_ms) + sum(self.failures.values())

    def percentile(self, q: float, of: str = "total") -> float:
        index_ms = [total - embed for total, embed in zip(self.timings_ms, self.embed_ms, strict=True)]
        return percentile({"total": self.timings_ms, "embed": self.embed_ms, "index": index_ms}[of], q)

    def merged(self, other: Searches) -> Searches:
        return Searches(
            self.timings_ms + other.timings_ms,
            self.embed_ms + other.embed_ms,
            self.failures + other.failures,
            self.empty + other.empty,
        )


class Searcher:
    """`mentor.retriever.search` as the app runs it, with the time of its embedding step read off.

    The same retriever settings, model and index client as the app's: the retriever is given
    this object as its embedder, and `embed_query` only reads a clock around the real one.
    """

    def __init__(self, mentor: MentorApp) -> None:
        self._embedder = mentor.embedder
        self.retriever = replace(mentor.retriever, embedder=self)
        self.last_embed_ms = 0.0

    def embed_query(self, text: str) -> list[float]:
        started = time.perf_counter()
        try:
            return self._embedder.embed_query(text)
        finally:
            self.last_embed_ms = (time.perf_counter() - started) * 1000


def main() -> None:
    configure_logging()
    questions = [q.question for q in load_questions()]
    started_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mentor-bench-reindex-") as tmp:
        root = Path(tmp)
        source = _copy_course(COURSE_DIR, root / "course")
        embedder = SentenceTransformerEmbedder()
        embedder.warm_up()

        # -- 2. (run first) a rebuild against a plain full ingest ------------------------
        # Baseline, rebuild, baseline again; the rebuilt index is then the one searched in
        # part 1, which saves a full ingest.
        baseline_1 = _plain_ingest(root / "baseline-1", source, embedder)
        mentor = _mentor(root / "live", source, embedder)
        first = mentor.ingest(COURSE)  # chunking 200/40, untimed
        mentor.pipeline.policy = ChunkingPolicy(BASELINE_CHUNKING.size, BASELINE_CHUNKING.overlap)
        started = time.perf_counter()
        rebuild_report = mentor.ingest(COURSE)
        rebuild_seconds = time.perf_counter() - started
        mentor.close()
        if not rebuild_report.rebuilt:
            raise SystemExit(f"the rebuild did not rebuild: {rebuild_report.summary()}")
        baseline_2 = _plain_ingest(root / "baseline-2", source, embedder)
        baseline = (baseline_1 + baseline_2) / 2

        # -- 1. searches during a reindex ------------------------------------------------
        # One MentorApp for both threads, as `mentor serve` has it: the reindex runs on an
        # offloader thread beside the threads that answer, on the same index client, the same
        # embedder (model and tokenizer) and the same BM25 stemmer. Nothing is given its own
        # copy here, so whatever is unsafe to share shows: a search that raises is counted as
        # failed, a reindex that raises ends early, its traceback logged and its error printed.
        mentor = _mentor(root / "live", source, embedder, BASELINE_CHUNKING)
        searcher = Searcher(mentor)
        _search_n(searcher, questions, 10)  # warm caches, as a running service has them
        idle_before = _search_n(searcher, questions, IDLE_SEARCHES)

        changed = _modify_course(source)
        incremental, during_incremental, incremental_s = _search_during(searcher, questions, lambda: mentor.ingest(COURSE))

        generation_before = mentor.index.live_generation(COURSE)
        mentor.pipeline.policy = REBUILD_POLICY
        rebuild, during_rebuild, rebuild_s = _search_during(searcher, questions, lambda: mentor.ingest(COURSE))
        generation_after = mentor.index.live_generation(COURSE)
        collections = [n for n in mentor.index.client.list_collections() if n.startswith(f"mentor_{COURSE}")]

        idle_after = _search_n(searcher, questions, IDLE_SEARCHES)
        chunks_after = mentor.index.count_chunks(COURSE)
        mentor.close()
        idle = idle_before.merged(idle_after)

    print(f"eval course copy, first ingest (chunking 200/40): {first.summary()}")
    print(f"modified for the incremental reindex: {changed}")
    print(f"incremental reindex under search load: {_outcome(incremental)}")
    print(
        f"forced rebuild (size/overlap {BASELINE_CHUNKING.size}/{BASELINE_CHUNKING.overlap} -> "
        f"{REBUILD_POLICY.size}/{REBUILD_POLICY.overlap}) under search load: {_outcome(rebuild)}"
    )
    print(f"  live generation {generation_before} -> {generation_after}; collections left: {collections}; {chunks_after} chunks")
    print()
    print("1. search latency, end to end (embed the question + hybrid search), same index and questions")
    print(
        f"   {'phase':<28} {'reindex s':>9} {'searches':>8} {'p50 ms':>7} {'p95 ms':>7} {'p95/idle':>8}"
        f" {'embed p95':>9} {'index p95':>9} {'failed':>6} {'empty':>5}"
    )
    idle_p95 = idle.percentile(0.95)
    for label, seconds, phase in (
        ("idle (before + after)", None, idle),
        ("during incremental reindex", incremental_s, during_incremental),
        ("during forced rebuild", rebuild_s, during_rebuild),
    ):
        ratio = phase.percentile(0.95) / idle_p95
        failed = sum(phase.failures.values())
        print(
            f"   {label:<28} {'' if seconds is None else f'{seconds:.1f}':>9} {phase.count:>8} {phase.percentile(0.5):>7.1f}"
            f" {phase.percentile(0.95):>7.1f} {ratio:>7.2f}x {phase.percentile(0.95, 'embed'):>9.1f}"
            f" {phase.percentile(0.95, 'index'):>9.1f} {failed:>6} {phase.empty:>5}"
        )
        for error, times in phase.failures.most_common():
            print(f"      {times} x {error}")
    print("   target: p95 during / p95 idle <= 2.0x; failed = empty = 0 (a reindex that failed is a failure too)")
    print(f"   idle p95 {idle_before.percentile(0.95):.1f} ms before the reindexes, {idle_after.percentile(0.95):.1f} ms after")
    print("   embed p95 = the question's embedding alone; index p95 = the rest (hybrid search in Milvus Lite, building the hits)")
    print()
    print(f"2. full rebuild with alias switch vs plain full ingest into an empty data dir (chunking {BASELINE_CHUNKING.size}/{BASELINE_CHUNKING.overlap})")
    print(f"   plain full ingest      {baseline:6.1f} s  (mean of {baseline_1:.1f} s before and {baseline_2:.1f} s after the rebuild)")
    print(f"   rebuild 40 -> 39       {rebuild_seconds:6.1f} s  ({_outcome(rebuild_report)})")
    print(f"   ratio {rebuild_seconds / baseline:.2f} (target <= 1.1)")
    print(f"\ntotal run time {time.perf_counter() - started_all:.0f} s")


def _mentor(data_dir: Path, source: Path, embedder: SentenceTransformerEmbedder, chunking: ChunkingSettings | None = None) -> MentorApp:
    settings = Settings(
        data_dir=data_dir, courses=[Course(name=COURSE, sources=(source,))], chunking=chunking or ChunkingSettings()
    )
    mentor = MentorApp(settings)
    mentor.embedder = embedder  # one warm model for every app in this process (cached_property: assignable)
    mentor.index.connect()  # start Milvus Lite outside the timings
    return mentor


def _copy_course(src: Path, dest: Path) -> Path:
    """A writable copy (the shared eval course is read-only, and copytree would keep that)."""
    for path in sorted(src.rglob("*")):
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return dest


def _modify_course(source: Path) -> str:
    """A paragraph added to every other HTML page, one page deleted, one page added."""
    pages = sorted(source.rglob("*.html"))
    edited = pages[::2]
    for n, page in enumerate(edited):
        html = page.read_text(encoding="utf-8")
        # Into the first section, so the loader reads it as part of the page's text.
        page.write_text(html.replace("</section>", NOTE.format(n=n) + "</section>", 1), encoding="utf-8")
    deleted = pages[1]
    deleted.unlink()
    added = deleted.with_name("bench-added.html")
    added.write_text(
        pages[3].read_text(encoding="utf-8").replace("</section>", NOTE.format(n="new") + "</section>", 1), encoding="utf-8"
    )
    return f"{len(edited)} of {len(pages)} HTML pages edited, {deleted.name} deleted, {added.name} added (a copy of {pages[3].name})"


def _search_once(searcher: Searcher, question: str, into: Searches) -> None:
    started = time.perf_counter()
    try:
        result = searcher.retriever.search(COURSE, question)
    except Exception as exc:  # counted and printed, not raised: the run goes on
        into.failures[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
        return
    into.timings_ms.append((time.perf_counter() - started) * 1000)
    into.embed_ms.append(searcher.last_embed_ms)
    if not result.hits:
        into.empty += 1


def _search_n(searcher: Searcher, questions: list[str], count: int) -> Searches:
    searches = Searches()
    for i in range(count):
        _search_once(searcher, questions[i % len(questions)], searches)
    return searches


def _search_during(
    searcher: Searcher, questions: list[str], reindex: Callable[[], IngestReport]
) -> tuple[IngestReport | BaseException, Searches, float]:
    """Run `reindex` in a thread and search back to back in this one until it ends (or fails)."""
    outcome: list[IngestReport | BaseException] = []

    def run() -> None:
        try:
            outcome.append(reindex())
        except BaseException as exc:  # summed up by the caller; the traceback goes to stderr now
            log.exception("the reindex running beside the searches failed")
            outcome.append(exc)

    thread = threading.Thread(target=run, name="bench-reindex")
    searches = Searches()
    started = time.perf_counter()
    thread.start()
    i = 0
    while thread.is_alive():
        _search_once(searcher, questions[i % len(questions)], searches)
        i += 1
    thread.join()
    return outcome[0], searches, time.perf_counter() - started


def _plain_ingest(data_dir: Path, source: Path, embedder: SentenceTransformerEmbedder) -> float:
    mentor = _mentor(data_dir, source, embedder, BASELINE_CHUNKING)
    started = time.perf_counter()
    report = mentor.ingest(COURSE)
    seconds = time.perf_counter() - started
    mentor.close()
    if report.rebuilt or report.unchanged:
        raise SystemExit(f"the baseline was not a plain full ingest: {report.summary()}")
    return seconds


def _outcome(outcome: IngestReport | BaseException) -> str:
    if isinstance(outcome, BaseException):
        return f"FAILED: {type(outcome).__name__}: {outcome}"
    return outcome.summary()


if __name__ == "__main__":
    main()
