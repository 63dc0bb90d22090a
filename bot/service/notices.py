"""What each audience reads when a request does not end as asked: the one place that words it.

A student gets a short, kind line and, when something broke, a reference to quote. An
instructor gets what to do. The operator gets the detail (the error's type and text, a
traceback when it was unexpected) in the log under that same reference. Adapters render
the `Notice` they are given and never word a failure themselves.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from bot.errors import (
    BotError,
    BusyError,
    LineFullError,
    NotAllowedError,
    RateLimitedError,
    ReindexBusyError,
    SearchUnavailableError,
    ShuttingDownError,
    UnknownCourseError,
    UnknownVerifiedAnswerError,
    VerifiedAnswerError,
)
from ingest.errors import IngestError
from models import Attachment, PriorQuestion
from rag.errors import EmptyQueryError, QuestionTooLongError, RagError, UnknownCourseIndexError

log = logging.getLogger("mentor.failures")

NoticeKind = Literal["refused", "busy", "missing", "failed", "ignored"]
"""`refused`: the request itself cannot be done as asked; `busy`: try again shortly;
`missing`: what it names does not exist (yet); `failed`: something broke on our side;
`ignored`: nothing is sent (the asker was told already), only the log hears of it."""

SEARCH_DOWN = (
    "I can't search the course materials right now (the search service is not answering). "
    "Please try again in a few minutes."
)
BUSY = "Lots of questions are coming in at once right now. Please ask again in a minute."
RESTARTING = "Sorry, the assistant is restarting and could not finish this. Please ask again in a minute."
NOT_INDEXED = (
    "This course's materials aren't loaded yet, so I can't answer from them. Please let your instructor know."
)
ANSWER_FAILED = (
    "Sorry, something went wrong while answering. It has been logged (reference {reference}); please try again later."
)
INSTRUCTOR_FAILED = "That failed unexpectedly (reference {reference}); the details are in the service's log."

LOOKING = "Looking through the course materials…"


def place_in_line(ahead: int) -> str:
    """What a student whose question waits its turn reads (every platform words it the same)."""
    if ahead <= 0:
        return LOOKING
    questions = "1 question is" if ahead == 1 else f"{ahead:,} questions are"
    return f"Got your question. Lots of students are asking right now: {questions} ahead of yours, and I'll answer here."


def asked_before(prior: PriorQuestion, now: datetime | None = None) -> str:
    """The line an answer to a repeat question starts with; each platform turns the URL into a link."""
    now = now or datetime.now(timezone.utc)
    days = (now.date() - prior.asked_at.date()).days
    when = "earlier today" if days == 0 else "yesterday" if days == 1 else f"on {prior.asked_at:%A}" if days < 7 else f"on {prior.asked_at:%b} {prior.asked_at.day}"
    return f"A similar question was asked {when}: {prior.link}"


PASTE_THE_TEXT = (
    "I can't look at images or attached files like {names} yet. Please paste the error message or the code "
    "as text (in a code block), and I'll answer from the course materials."
)
_UNREAD = {
    "image": "I can't look at images, so I didn't read {name}: if it shows an error, paste the error text.",
    "not_text": "I only read text and code files, so I didn't read {name}.",
    "too_large": "I didn't download {name} ({size}): I read text and code files up to {limit}. Paste the part that matters as text.",
    "unreadable": "I couldn't download {name}, so I didn't read it.",
}
CUT = "{name} is longer than I can read along with the question, so I read only its beginning."


def paste_the_text(attachments: Sequence[Attachment]) -> str:
    """The reply to a question that is only files the bot cannot read (a screenshot of an error)."""
    return PASTE_THE_TEXT.format(names=", ".join(attachment.name for attachment in attachments))


def attachment_notice(attachments: Sequence[Attachment], max_bytes: int) -> str | None:
    """One line per attachment that was not read whole, for the top of the answer; None when all were read."""
    lines = []
    for attachment in attachments:
        if attachment.unread is not None:
            lines.append(_UNREAD[attachment.unread].format(name=attachment.name, size=_bytes(attachment.size), limit=_bytes(max_bytes)))
        elif attachment.cut:
            lines.append(CUT.format(name=attachment.name))
    return " ".join(lines) or None


def _bytes(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{max(1, round(size / 1000))} kB" if size >= 1000 else f"{size} bytes"


# Errors whose own message is written for the person who asked: it says what they can change.
_ASKERS_OWN = (EmptyQueryError, QuestionTooLongError, UnknownCourseError, NotAllowedError)


@dataclass(frozen=True)
class Notice:
    """One line for a reader. `reference` is set when the detail went to the log under it."""

    text: str
    kind: NoticeKind
    reference: str | None = None


def for_student(exc: BaseException, context: str) -> Notice:
    """What a student is told; `context` (the platform, course, channel) goes to the log only."""
    if isinstance(exc, _ASKERS_OWN):
        return Notice(str(exc), "missing" if isinstance(exc, UnknownCourseError) else "refused")
    if isinstance(exc, RateLimitedError):
        if exc.quiet:
            _log(exc, context, logging.INFO)
            return Notice(str(exc), "ignored")
        return Notice(str(exc), "busy")
    if isinstance(exc, LineFullError):
        return Notice(str(exc), "busy", _log(exc, context, logging.WARNING))
    if isinstance(exc, ShuttingDownError):
        return Notice(RESTARTING, "busy", _log(exc, context, logging.INFO))
    if isinstance(exc, SearchUnavailableError):
        return Notice(SEARCH_DOWN, "busy", _log(exc, context, logging.WARNING))
    if isinstance(exc, BusyError):
        return Notice(BUSY, "busy", _log(exc, context, logging.INFO))
    if isinstance(exc, UnknownCourseIndexError):
        return Notice(NOT_INDEXED, "missing", _log(exc, context, logging.WARNING))
    reference = _log(exc, context, logging.ERROR)
    return Notice(ANSWER_FAILED.format(reference=reference), "failed", reference)


def for_instructor(exc: BaseException, context: str) -> Notice:
    """What an instructor is told: our own errors already say what to do; anything else gets a reference."""
    if isinstance(exc, (BusyError, ReindexBusyError)):
        return Notice(str(exc), "busy")
    if isinstance(exc, (UnknownCourseError, UnknownCourseIndexError, UnknownVerifiedAnswerError)):
        return Notice(str(exc), "missing")
    if isinstance(exc, (NotAllowedError, VerifiedAnswerError)):
        return Notice(str(exc), "refused")
    if isinstance(exc, (BotError, IngestError, RagError)):
        return Notice(str(exc), "failed", _log(exc, context, logging.WARNING))
    reference = _log(exc, context, logging.ERROR)
    return Notice(INSTRUCTOR_FAILED.format(reference=reference), "failed", reference)


def _log(exc: BaseException, context: str, level: int) -> str:
    """The operator's line, with a traceback for what we did not raise on purpose; returns its reference."""
    reference = secrets.token_hex(4)
    ours = isinstance(exc, (BotError, IngestError, RagError))
    log.log(
        level,
        "%s: %s: %s (reference %s)",
        context,
        type(exc).__name__,
        exc,
        reference,
        exc_info=None if ours else exc,
        extra={"fields": {"reference": reference, "context": context, "error": type(exc).__name__}},
    )
    return reference


# --- escalations: what the student and the TAs read --------------------------------------

ESCALATED = "I've passed your question on to the course's TAs; their answer will appear here."
UNKNOWN_ESCALATION = (
    "This question is not in the TA queue's records (it may belong to another installation of the bot), so nothing was sent."
)
ANSWER_IN_THREAD = "Reply in this message's thread: your first reply there goes to the student as your answer."
EMPTY_TA_ANSWER = "The answer is empty, so nothing was sent. Write the answer, then send it."
ASK_TA_LABEL = "Ask a TA"
TA_REQUEST_REPLIES = {
    "already": "This question is with the course's TAs already; their answer will appear in this thread.",
    "no_queue": "This course has no TA queue set up, so I can't pass questions on to a TA. Please ask your TAs directly.",
    "no_question": "I can't find a question of yours in this thread to pass on. Ask it here first (mention me), then ask for a TA.",
    "unknown": "I no longer have a record of that answer, so nothing was sent. Ask the question again, then ask for a TA.",
    "failed": "Sorry, your question could not be sent to the TAs just now. Please try again in a few minutes.",
    "kept": "Your question is saved for the course's TAs, but their queue could not be reached just now; their answer will appear here.",
}
"""What a student who asked for a TA is told, by `TaRequests.request`'s outcome ("sent" gets `ESCALATED` in the thread)."""


def ta_answer_heading(ta: str | None) -> str:
    """The line above a TA's answer in the student's thread: marked as a person's, not the bot's."""
    return f"Answer from a TA ({ta})" if ta else "Answer from a TA"


def dismissed_note_heading() -> str:
    return "A TA looked at your question and left a note"


def age(seconds: float) -> str:
    """`just now`, `12 min`, `3 h 5 min`, `2 d`: how long a question has waited."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 24 else f"{hours // 24} d"


def took_s(seconds: float) -> str:
    """`40 s`, `12 min`, `3 h 5 min`: how long a question waited for its human answer."""
    whole = round(seconds)  # a float's 599.9999 is ten minutes, not nine
    return f"{whole} s" if whole < 60 else age(whole)


def closed_line(status: str, by: str, waited_s: float) -> str:
    """The queue message once it is done: "Answered by Grace, 12 min"."""
    verb = "Answered" if status == "answered" else "Dismissed"
    return f"{verb} by {by}, {age(waited_s)}"


def closed_already(status: str, by: str | None) -> str:
    """The second TA to click: told who was first, and that their answer was not sent."""
    verb = "answered" if status == "answered" else "dismissed"
    return f"{by or 'Another TA'} {verb} this question first, so yours was not sent."


def not_delivered(status: str, problem: str) -> str:
    """The TA who sent an answer (or a dismissal's note) that the student's thread could not take."""
    if status == "dismissed":
        return f"Your note could not be posted to the student: {problem}. The question is dismissed all the same."
    return f"Your answer could not be posted to the student: {problem}. It is kept with the question."


def undelivered_mark(status: str, problem: str) -> str:
    """The closed queue message's line about a delivery that failed."""
    if status == "dismissed":
        return f"Note not delivered: {problem}."
    return f"Not delivered: {problem}. The answer is kept."


def draft_cut(total: int, kept: int) -> str:
    """Under an answer box too small for the whole draft (Discord's holds 4,000 characters, Slack's 3,000)."""
    return f"The draft has {total:,} characters: the box holds the first {kept:,}, cut at a word."


def fit_to_box(draft: str, limit: int) -> tuple[str, str | None]:
    """The draft as the box can hold it, and the note to show when it had to be cut (else None).

    Cut at the last space or line end within the limit, never inside a word; only a draft whose first
    `limit` characters hold no space at all (one enormous "word") is cut at the limit itself.
    """
    if len(draft) <= limit:
        return draft, None
    head = draft[: limit + 1]  # a space just past the limit still ends a word within it
    spaces = [match.start() for match in re.finditer(r"\s", head)]
    kept = (head[: spaces[-1]] if spaces else head[:limit]).rstrip()
    return kept, draft_cut(len(draft), len(kept))
