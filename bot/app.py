"""Wiring: the parts of AI Mentor built from settings, once, and the commands on top."""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

from bot.config.settings import DEFAULT_COURSE, Settings
from bot.errors import SearchUnavailableError
from bot.language_model import language_model_for, model_status_for
from bot.service.offload import Offloader
from bot.status import CourseStatus, ModelStatus, RerankerStatus, course_status
from bot.store.database import Database
from bot.store.escalations import EscalationStore
from bot.store.history import RunHistory
from bot.store.legacy_import import adopt as adopt_legacy_files
from bot.store.question_log import QuestionLog
from bot.store.reindex_lock import ReindexLocks
from bot.store.verified import VerifiedStore
from bot.term_rules import DeclaredAssignments, retrieve_in_term
from ingest.calendar import TermCalendar, term_calendar
from ingest.chunker import ChunkingPolicy
from ingest.git_source import GitSource
from ingest.git_source import refresh as refresh_git
from ingest.manifest import Manifest
from ingest.pipeline import IngestPipeline, ProgressCallback
from ingest.published import published_file
from models import (
    Answer,
    Chunk,
    Clock,
    Course,
    IngestReport,
    Question,
    SearchMode,
    SearchResult,
    utc_now,
)
from rag.answerer import Answerer, AnswerPolicy, Draft, TextCallback
from rag.embedder import SentenceTransformerEmbedder
from rag.errors import IndexOperationError, IndexUnavailableError
from rag.index import Fusion, MilvusIndex
from rag.llama_cpp_model import LlamaCppModel
from rag.llm import GenerationSettings, LanguageModel
from rag.model_files import (
    ModelFile,
    is_packaged_demo,
    resolve_model,
)
from rag.model_probe import ModelProbe
from rag.openai_http import OpenAIChatModel
from rag.rerank import make_reranker
from rag.retriever import HybridRetriever

log = logging.getLogger(__name__)
VERIFIED_LIMIT = 100_000
"""More verified answers than a course's TAs will ever write: a rebuild carries every one."""
SHORT_WORK_QUEUE = 64
"""Status, votes and health pings waiting at once: each takes milliseconds, so more means something is stuck."""


class MentorApp:
    """The application object: one per process, built from `Settings` at the edge.

    Parts are built on first use, so `mentor status` never loads the embedding model.
    `clock` is the one "now" that release dates are compared with; tests freeze it.
    """

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock

    @cached_property
    def index(self) -> MilvusIndex:
        token = self.settings.milvus_token.get_secret_value() if self.settings.milvus_token else None
        return MilvusIndex(
            self.settings.milvus_uri_resolved,
            token=token,
            timeout=self.settings.milvus_timeout,
            memory_rows=self.settings.milvus_memory_rows,
        )

    @cached_property
    def embedder(self) -> SentenceTransformerEmbedder:
        embedding = self.settings.embedding
        return SentenceTransformerEmbedder(embedding.model, device=embedding.device, batch_size=embedding.batch_size)

    @cached_property
    def database(self) -> Database:
        """The state replicas share (`database_url`): opened, and migrated, on first use."""
        database = Database.open(self.settings.database_url_resolved)
        if self.settings.database_url is None:
            adopt_legacy_files(database, self.settings.legacy_state_files)
        return database

    @cached_property
    def manifest(self) -> Manifest:
        return Manifest(self.database.engine)

    @cached_property
    def run_history(self) -> RunHistory:
        return RunHistory(self.database)

    @cached_property
    def question_log(self) -> QuestionLog:
        return QuestionLog(self.database)

    @cached_property
    def escalations(self) -> EscalationStore:
        """Questions handed to the courses' TAs, and where their answers go back to."""
        return EscalationStore(self.database)

    @cached_property
    def verified(self) -> VerifiedStore:
        """TA answers kept for the next similar question: the originals of the index's copies."""
        return VerifiedStore(self.database)

    @cached_property
    def reindex_locks(self) -> ReindexLocks:
        """Per-course single flight: lock files on this host, or PostgreSQL advisory locks across hosts."""
        return ReindexLocks(self.database, self.settings.locks_dir)

    @cached_property
    def pipeline(self) -> IngestPipeline:
        chunking = self.settings.chunking
        return IngestPipeline(
            self.index, self.embedder, self.manifest, ChunkingPolicy(chunking.size, chunking.overlap), carried=self.verified_chunks
        )

    def verified_chunks(self, course_name: str) -> list[Chunk]:
        """What a new generation of the course's index gets besides its files: its verified answers."""
        return [verified.to_chunk() for verified in self.verified.newest_first(course_name, limit=VERIFIED_LIMIT)]

    @cached_property
    def retriever(self) -> HybridRetriever:
        search = self.settings.search
        fusion = Fusion(method=search.fusion, dense_weight=search.dense_weight, rrf_k=search.rrf_k)
        reranker = make_reranker(
            search.rerank, dense_weight=search.rerank_dense_weight, model=search.rerank_model, device=self.settings.embedding.device
        )
        return HybridRetriever(
            self.index, self.embedder, mode=search.mode, fusion=fusion, k=search.k, reranker=reranker,
            candidates=search.rerank_candidates, clock=self.clock,
        )

    @property
    def model_file(self) -> ModelFile | None:
        """The GGUF the in-process model reads; None when a server answers instead."""
        llm = self.settings.llm
        return None if llm.base_url else resolve_model(llm.model, self.settings.models_dir)

    @cached_property
    def model_probe(self) -> ModelProbe:
        """Loads the in-process model in a child first; its verdicts are kept in the data dir."""
        llm = self.settings.llm
        return ModelProbe(
            self.settings.data_dir / "model-probe.json",
            timeout_s=llm.probe_timeout,
            n_gpu_layers=llm.n_gpu_layers,
            threads=llm.threads,
        )

    @cached_property
    def language_model(self) -> LanguageModel:
        """One model per process (llama.cpp is loaded on its first question, not here)."""
        return language_model_for(self.settings.llm, self.settings.models_dir, self.model_probe)

    @cached_property
    def answerer(self) -> Answerer:
        llm, answer = self.settings.llm, self.settings.answer
        return Answerer(
            self.retriever,
            lambda: self.language_model,
            GenerationSettings(
                max_tokens=llm.max_tokens, temperature=llm.temperature, seed=llm.seed, repeat_penalty=llm.repeat_penalty
            ),
            AnswerPolicy(
                min_relevance=answer.min_relevance,
                max_question_chars=answer.max_question_chars,
                max_history_turns=answer.history_turns,
            ),
            # Known from the settings: a probe or memory check per question would be work on the
            # hot path, and MemAvailable drops once a large model is loaded.
            demo_model=not llm.base_url and is_packaged_demo(llm.model),
        )

    @cached_property
    def offloader(self) -> Offloader:
        """Threads for blocking work from async callers: searches (`answer.retrieval_workers`), one per
        generation the model really runs at once, two for short work (status, votes, health pings);
        reindexes have a worker of their own."""
        llm, answer = self.settings.llm, self.settings.answer
        return Offloader(
            workers=2,
            queue_size=SHORT_WORK_QUEUE,
            reindex_queue_size=self.settings.reindex.queue_size,
            retrieval_workers=answer.retrieval_workers,
            generation_workers=llm.parallel if llm.base_url else LlamaCppModel.max_concurrency,
            max_waiting=answer.queue_size,
        )

    def course(self, name: str | None = None) -> Course:
        remembered = self.manifest.course(name or DEFAULT_COURSE).sources if not self.settings.courses else None
        return self.settings.course(name, remembered)

    def ingest(self, course_name: str | None = None, path: Path | None = None, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest a course; with a path, that folder becomes the course's source.

        A course kept in Git is fetched first; when the fetch fails, the last copy is
        ingested and the report says why.
        """
        course = self.course(course_name)
        if path is not None:
            course = course.model_copy(update={"sources": (path.resolve(),), "repository": None})
        warnings: list[str] = []
        if course.repository:
            refreshed = refresh_git(GitSource(course.repository, course.branch), self.checkout_dir(course))
            if refreshed.problem:
                warnings.append(refreshed.problem)
            course = course.model_copy(update={"sources": self.source_roots(course)})
        self.index.connect()
        try:
            return self.pipeline.ingest(course, on_progress, warnings=warnings)
        finally:
            self.declared_assignments.forget(course.name)

    def course_in_term(self, name: str | None = None) -> Course:
        """The course as questions see it: read from its source roots (Git checkout included), with the
        assignments its files declared at the last ingest."""
        course = self.declared_assignments.applied(self.course(name))
        return course.model_copy(update={"sources": self.source_roots(course)})

    @cached_property
    def declared_assignments(self) -> DeclaredAssignments:
        return DeclaredAssignments(self.manifest)

    def checkout_dir(self, course: Course) -> Path:
        """Where a course kept in Git is fetched to."""
        return self.settings.data_dir / "sources" / course.name

    def source_roots(self, course: Course) -> tuple[Path, ...]:
        """The folders an ingest of the course reads, in order: its Git checkout first."""
        return (self.checkout_dir(course), *course.sources) if course.repository else course.sources

    def course_file(self, course_name: str, name: str) -> Path | None:
        """The file `/files` serves for a source name: one the live index holds or that its pages embed, once released."""
        course = self.course(course_name)
        try:
            live = self.index.live_generation(course.name)
        except (IndexUnavailableError, IndexOperationError) as exc:
            raise SearchUnavailableError(
                f"The files of {course.name} cannot be looked up right now (the search service is not answering). "
                "Please try again in a few minutes."
            ) from exc
        return published_file(course.model_copy(update={"sources": self.source_roots(course)}), self.manifest, live, name, self.clock())

    def calendar(self, course_name: str | None = None) -> TermCalendar:
        """The course's term now: what its release rules have released and what comes next."""
        course = self.course(course_name)
        return term_calendar(course.model_copy(update={"sources": self.source_roots(course)}), self.clock())

    def search(self, query: str, course_name: str | None = None, k: int | None = None, mode: SearchMode | None = None) -> SearchResult:
        course = self.course(course_name)
        return self.retriever.search(course.name, query, k=k, mode=mode)

    def ask(self, question: Question, on_text: TextCallback | None = None) -> Answer:
        """Answer one question from its course's materials (blocking: adapters go through `AnswerService`)."""
        outcome = self.retrieve(question)
        return outcome if isinstance(outcome, Answer) else self.answerer.write(outcome, on_text)

    def retrieve(self, question: Question) -> Answer | Draft:
        """Search and grounding: a decline or a quote is the answer already; a `Draft` goes to `answerer.write`."""
        course = self.course_in_term(question.course)
        mode = course.answer_mode or self.settings.answer.mode
        return retrieve_in_term(self.answerer, question, course, mode, self.clock())

    def model_status(self) -> ModelStatus:
        return model_status_for(self.settings.llm, self.settings.models_dir, self.model_probe)

    def reranker_status(self) -> RerankerStatus:
        """The configured reranker, and why it is not reordering hits when it cannot (nothing is loaded to tell)."""
        return RerankerStatus(self.settings.search.rerank, self.retriever.reranker_problem())

    def status(self) -> list[CourseStatus]:
        return [course_status(self, name) for name in self.settings.course_names()]

    def close(self) -> None:
        """Answers and reindexes still running end first (within `serve.stop_grace_seconds`, counted
        from `Offloader.drain` under `mentor serve`): the index never closes under a write in time."""
        if "offloader" in self.__dict__:
            grace = self.settings.serve.stop_grace_seconds
            if still_running := self.offloader.shutdown(grace):
                log.warning("closing the index with %d answers or reindexes still running past the %g s grace", still_running, grace)
        if "index" in self.__dict__:
            self.index.close()
        if "database" in self.__dict__:
            self.database.close()
        if isinstance(self.__dict__.get("language_model"), OpenAIChatModel):
            self.language_model.close()
