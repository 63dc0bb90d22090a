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

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from bot.config.sections import AnswerSettings
from bot.store.question_log import QuestionLog
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
