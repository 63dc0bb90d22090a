"""Repeat questions: a new question close to one answered before, in the same course and platform,
is answered with a link to that thread first ("a similar question was asked on Tuesday: …").

Closeness is the cosine of the packaged MiniLM's question vectors, over the last
`answer.repeat_weeks` of answered questions that have a thread to link. MiniLM tells a
paraphrase from a different question on the same topic only roughly, so the threshold
(`answer.repeat_similarity`) was chosen for precision on written pairs (`bench.repeats`),
and the reply says "similar", not "the same".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from bot.config.sections import AnswerSettings
from bot.store.question_log import AskedQuestion, LinkedQuestion, QuestionLog
from models import PriorQuestion, Question
from rag.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

CANDIDATES = 2000
"""Earlier questions compared at most (the newest): a class's month, compared in well under a millisecond."""


@dataclass
class _Candidates:
    """The earlier questions of one course and platform, kept between questions: each new question
    reads only the rows added since (a month of a class's vectors is about 3 MB, 40 ms to read)."""

    last_id: int = 0
    questions: list[LinkedQuestion] = field(default_factory=list)
    matrix: np.ndarray | None = None

    def refreshed(self, fresh: list[LinkedQuestion], since: float) -> None:
        if not fresh and (not self.questions or self.questions[-1].asked_at.timestamp() >= since):
            return  # nothing new and nothing aged out: the matrix stands
        self.questions = [q for q in fresh + self.questions if q.asked_at.timestamp() >= since][:CANDIDATES]  # newest first
        self.last_id = max([self.last_id, *(q.id for q in fresh)])
        vectors = b"".join(q.embedding for q in self.questions)
        self.matrix = np.frombuffer(vectors, dtype=np.float32).reshape(len(self.questions), -1) if self.questions else None


class RepeatFinder:
    """One per process. Rows another replica commits out of id order can be missed by the
    incremental read: that costs a repeat link, never a wrong one."""

    def __init__(self, embedder: SentenceTransformerEmbedder, questions: QuestionLog, settings: AnswerSettings) -> None:
        self.embedder = embedder
        self.questions = questions
        self.threshold = settings.repeat_similarity
        self.window_s = settings.repeat_weeks * 7 * 24 * 3600.0
        self._candidates: dict[tuple[str, str], _Candidates] = {}
        self._lock = threading.Lock()

    def vector(self, question: Question) -> bytes | None:
        """The question's vector to keep with it (float32), when it could be linked later: a first
        question in a thread of its own. None when repeats are off or the question is a follow-up."""
        if not self.threshold or question.history or not question.link:
            return None
        return np.asarray(self.embedder.embed_query(question.text), dtype=np.float32).tobytes()

    def earlier(self, question: Question, course: str, vector: bytes | None) -> PriorQuestion | None:
        """The closest earlier answered question at or over the threshold, if any (on a worker thread)."""
        if vector is None:
            return None
        since = time.time() - self.window_s
        with self._lock:
            known = self._candidates.setdefault((course, question.platform), _Candidates())
            try:
                fresh = self.questions.answered_with_links(course, question.platform, since, CANDIDATES, after_id=known.last_id)
            except SQLAlchemyError as exc:
                log.warning("could not look for earlier questions (%s); answering without a link", exc)
                return None
            known.refreshed(fresh, since)
            candidates, matrix = known.questions, known.matrix
        if matrix is None:
            return None
        similarities = matrix @ np.frombuffer(vector, dtype=np.float32)
        for at, candidate in enumerate(candidates):
            if candidate.link == question.link:
                similarities[at] = -1.0
        best = int(np.argmax(similarities))
        if similarities[best] < self.threshold:
            return None
        found = candidates[best]
        return PriorQuestion(text=found.text, asked_at=found.asked_at, link=found.link, similarity=round(float(similarities[best]), 3))

    def clusters(self, course: str | None, weeks: int, at_least: int = 2) -> list[RepeatCluster]:
        """The questions asked `at_least` times in the last `weeks`, grouped, biggest first (instructors'
        report). Greedy: a question joins the first group whose first question it is close to."""
        if not self.threshold:
            return []
        asked = self.questions.with_vectors(course, time.time() - weeks * 7 * 24 * 3600.0, CANDIDATES * 5)
        groups: list[tuple[np.ndarray, list[AskedQuestion]]] = []
        for question, embedding in asked:
            vector = np.frombuffer(embedding, dtype=np.float32)
            home = next((members for first, members in groups if first @ vector >= self.threshold), None)
            if home is None:
                groups.append((vector, [question]))
            else:
                home.append(question)
        found = [RepeatCluster.of(members) for _, members in groups if len(members) >= at_least]
        return sorted(found, key=lambda cluster: (-cluster.count, -cluster.last_asked.timestamp()))


@dataclass(frozen=True)
class RepeatCluster:
    """One question students keep asking: how often, lately when, its wordings and the pages it was answered from."""

    course: str
    question: str
    count: int
    last_asked: datetime
    wordings: tuple[str, ...]
    pages: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, members: list[AskedQuestion]) -> RepeatCluster:
        pages = Counter(citation.label for member in members for citation in member.citations)
        return cls(
            course=members[0].course,
            question=members[0].text,
            count=len(members),
            last_asked=max(member.asked_at for member in members),
            wordings=tuple(dict.fromkeys(member.text for member in members))[:5],
            pages=tuple(pages.most_common(3)),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "course": self.course,
            "question": self.question,
            "count": self.count,
            "last_asked": self.last_asked.isoformat(),
            "wordings": list(self.wordings),
            "pages": [{"label": label, "cited": cited} for label, cited in self.pages],
        }
