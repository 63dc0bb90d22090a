"""Prometheus metrics for the operator: what was asked, how it went, how long it took.

Each `Metrics` owns its registry (not the process-wide default), so two services in
one process (tests, a future multi-tenant host) never collide over metric names.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from models import Answer

# Retrieval is tens of milliseconds; generation seconds to minutes on a CPU.
RETRIEVAL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GENERATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
REINDEX_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "mentor_questions", "Questions received.", ["course", "platform"], registry=self.registry
        )
        self.answers = Counter(
            "mentor_answers",
            "Questions finished, by outcome: answer, not_covered, retrieval_only, busy, index_unavailable, error.",
            ["course", "platform", "outcome"],
            registry=self.registry,
        )
        self.retrieval_seconds = Histogram(
            "mentor_retrieval_seconds", "Time to search the course materials.", buckets=RETRIEVAL_BUCKETS, registry=self.registry
        )
        self.generation_seconds = Histogram(
            "mentor_generation_seconds", "Time the language model took to write an answer.", buckets=GENERATION_BUCKETS, registry=self.registry
        )
        self.first_token_seconds = Histogram(
            "mentor_first_token_seconds", "Time from asking the model to its first token.", buckets=GENERATION_BUCKETS, registry=self.registry
        )
        self.queue_depth = Gauge(
            "mentor_queue_depth", "Questions (and other short work) running or waiting for a worker.", registry=self.registry
        )
        self.reindex_queue_depth = Gauge(
            "mentor_reindex_queue_depth", "Reindexes running or waiting for the reindex worker.", registry=self.registry
        )
        self.reindex_runs = Counter(
            "mentor_reindex_runs", "Reindex runs, by outcome.", ["course", "outcome"], registry=self.registry
        )
        self.reindex_seconds = Histogram(
            "mentor_reindex_seconds", "How long a reindex took.", ["course"], buckets=REINDEX_BUCKETS, registry=self.registry
        )
        self.feedback = Counter("mentor_feedback", "Votes on answers.", ["course", "vote"], registry=self.registry)

    def watch_queue(self, depth: Callable[[], int], reindexes: Callable[[], int]) -> None:
        """Read the queues' depths at scrape time, so they are never stale."""
        self.queue_depth.set_function(lambda: float(depth()))
        self.reindex_queue_depth.set_function(lambda: float(reindexes()))

    def asked(self, course: str, platform: str) -> None:
        self.questions.labels(course, platform).inc()

    def answered(self, course: str, platform: str, answer: Answer) -> None:
        self.answers.labels(course, platform, answer.kind).inc()
        self.retrieval_seconds.observe(answer.timings.retrieve_ms / 1000)
        if answer.model is not None:
            self.generation_seconds.observe(answer.timings.generate_ms / 1000)
        if answer.timings.first_token_ms is not None:
            self.first_token_seconds.observe(answer.timings.first_token_ms / 1000)

    def failed(self, course: str, platform: str, outcome: str) -> None:
        self.answers.labels(course, platform, outcome).inc()

    def reindexed(self, course: str, outcome: str, seconds: float | None) -> None:
        self.reindex_runs.labels(course, outcome).inc()
        if seconds is not None:
            self.reindex_seconds.labels(course).observe(seconds)

    def voted(self, course: str, vote: int) -> None:
        self.feedback.labels(course, "up" if vote > 0 else "down").inc()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
