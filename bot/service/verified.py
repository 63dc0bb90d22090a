"""Verified answers: a TA's answer kept and indexed, so the next similar question is answered from it.

The state database holds the original (`bot.store.verified`); the course's live index holds a copy,
a source of its own kind cited as "TA answer, 2026-12-01". Each change reaches the index at once; a
reindex that builds a new generation writes every verified answer into it before it goes live
(`IngestPipeline.carried`), so none is lost to a rebuild, a new embedding model included.
"""

from __future__ import annotations

import logging

from bot.app import MentorApp
from bot.errors import UnknownVerifiedAnswerError, VerifiedAnswerError
from models import Escalation, VerifiedAnswer

log = logging.getLogger(__name__)

FINALIZE_SECONDS = 10.0
"""How long a change waits for Milvus to index its one row before going on (a search still finds it unindexed)."""


class VerifiedAnswers:
    """`keep` a TA's answer; `edit` and `delete` them for instructors. Blocking: from async code, call through the
    Offloader's retrieval lane (`Offloader.retrieve`), since each change embeds and writes to Milvus like a search reads it."""

    def __init__(self, mentor: MentorApp) -> None:
        self.mentor = mentor

    def keep(self, escalation: Escalation, ta: str | None) -> VerifiedAnswer:
        """Store and index an answered escalation (`ta`: the name the course lets students see, or None)."""
        verified = self.mentor.verified.add(escalation.course, escalation.question, escalation.answer or "", ta, escalation.id)
        self._index(verified)
        return verified

    def get(self, verified_id: int) -> VerifiedAnswer:
        verified = self.mentor.verified.get(verified_id)
        if verified is None:
            raise UnknownVerifiedAnswerError(f"There is no verified answer {verified_id}: `mentor verified list` shows their ids.")
        return verified

    def edit(self, verified_id: int, text: str) -> VerifiedAnswer:
        """Replace the answer's text; the index serves the new text from now on."""
        text = text.strip()
        if not text:
            raise VerifiedAnswerError("The new text is empty: give the answer with --text or --file, or delete it instead.")
        self.get(verified_id)
        edited = self.mentor.verified.edit(verified_id, text)
        if edited is None:  # deleted by someone else in between
            raise UnknownVerifiedAnswerError(f"There is no verified answer {verified_id}: `mentor verified list` shows their ids.")
        self._index(edited)
        return edited

    def delete(self, verified_id: int) -> VerifiedAnswer:
        """Out of the index first: when Milvus cannot be reached, the answer stays listed and can be deleted again."""
        verified = self.get(verified_id)
        live = self.mentor.index.live_generation(verified.course)
        if live is not None:
            self.mentor.index.delete_document(live, verified.source)
        return self.mentor.verified.delete(verified_id) or verified

    def _index(self, verified: VerifiedAnswer) -> None:
        live = self.mentor.index.live_generation(verified.course)
        if live is None:
            log.info("verified answer %s of %s is stored; the course has no index yet, its first ingest adds it", verified.id, verified.course)
            return
        chunk = verified.to_chunk()
        self.mentor.index.write_document(live, chunk.source, [chunk], self.mentor.embedder.embed_documents([chunk.embedding_text()]))
        # Sealed so it survives a restart; a slow index build leaves it searched row by row meanwhile.
        self.mentor.index.finalize(live, timeout=FINALIZE_SECONDS)
