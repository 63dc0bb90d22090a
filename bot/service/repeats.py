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
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from bot.config.sections import AnswerSettings
from bot.store.question_log import AskedQuestion, QuestionLog
from models import PriorQuestion, Question
from rag.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

CANDIDATES = 2000
"""Earlier questions compared at most (the newest): a class's month, compared in well under a millisecond."""


class RepeatFinder:
    def __init__(self, embedder: SentenceTransformerEmbedder, questions: QuestionLog, settings: AnswerSettings) -> None:
        self.embedder = embedder
        self.questions = questions
        self.threshold = settings.repeat_similarity
        self.window_s = settings.repeat_weeks * 7 * 24 * 3600.0

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
        try:
            candidates = self.questions.answered_with_links(course, question.platform, time.time() - self.window_s, CANDIDATES)
        except SQLAlchemyError as exc:
            log.warning("could not look for earlier questions (%s); answering without a link", exc)
            return None
        candidates = [c for c in candidates if c.link != question.link]
        if not candidates:
            return None
        matrix = np.frombuffer(b"".join(c.embedding for c in candidates), dtype=np.float32).reshape(len(candidates), -1)
        similarities = matrix @ np.frombuffer(vector, dtype=np.float32)
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
