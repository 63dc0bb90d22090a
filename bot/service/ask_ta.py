"""A student asking for a human: the "Ask a TA" button under an answer, `@mentor ask a TA` in the
thread, or (when the course turns it on) a 👎 on the answer.

Each sends the thread's last question to the course's TA queue, with the thread's earlier turns
and the bot's answer as the TA's draft, once: asking again finds the escalation already made. A
button carries the question log's id, signed with a secret kept in the state database, so a
click after a restart (or on another replica) works and a made-up payload does not.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import BusyError, UnknownCourseError
from bot.service.escalation import EscalationService
from bot.service.notices import TA_REQUEST_REPLIES
from models import Answer, Question, ReplyPlace, Turn

log = logging.getLogger(__name__)

ASKED_REASON = "the student asked for a TA"
DOWNVOTED_REASON = "the student voted the bot's answer down"

Outcome = Literal["sent", "kept", "already", "no_queue", "no_question", "unknown", "failed"]

_ASKS_FOR_A_TA = re.compile(
    r"""^\W*(?:please\W+)?
    (?:(?:can|could|may)\W+i\W+|i(?:'d|\W+would)\W+like\W+to\W+|i\W+want\W+to\W+|let\W+me\W+)?
    (?:ask|talk\W+to|speak\W+(?:to|with)|get|escalate(?:\W+(?:this|it))?(?:\W+to)?|send\W+(?:this|it)\W+to|forward\W+(?:this|it)\W+to)
    \W+(?:an?\W+|the\W+|some\W+|real\W+)*
    (?:tas?|t\.a\.|human|person|teaching\W+assistants?)
    \W*(?:please)?\W*$""",
    re.IGNORECASE | re.VERBOSE,
)


def asks_for_a_ta(text: str) -> bool:
    """`ask a TA`, `Ask the TAs please`, `can I talk to a human?`: the whole message asks for a person."""
    return bool(_ASKS_FOR_A_TA.match(text.strip()))


@dataclass(frozen=True)
class TaRequest:
    """Who asks for a TA, where, and what the thread said up to and including the bot's answer (oldest first).

    `question_id`: the question log's record of the answered question, from a button or a vote;
    None for `@mentor ask a TA`, where the thread's last question is the one meant.
    """

    platform: str
    place: ReplyPlace
    turns: tuple[Turn, ...]
    course: str | None = None
    asker: str | None = None
    student_name: str | None = None
    question_id: int | None = None
    reason: str = ASKED_REASON


@dataclass(frozen=True)
class ThreadQuestion:
    question: str
    context: tuple[Turn, ...]
    draft: str | None


def split_thread(turns: tuple[Turn, ...], question: str | None = None) -> ThreadQuestion | None:
    """The question (`question`'s turn, else the last one the student wrote that is not itself a request
    for a TA), the turns before it as context, and the bot's reply to it as the draft; None when the
    student asked nothing here."""
    users = [n for n, turn in enumerate(turns) if turn.role == "user" and not asks_for_a_ta(turn.text)]
    matching = [n for n in users if question is not None and turns[n].text.strip() == question.strip()]
    if not (matching or users):
        return None if question is None else ThreadQuestion(question, (), _draft(turns))
    at = (matching or users)[-1]
    return ThreadQuestion(question or turns[at].text, turns[:at], _draft(turns[at + 1 :]))


def _draft(turns: tuple[Turn, ...]) -> str | None:
    """The bot's turns up to the student's next word: its answer to the question."""
    reply = []
    for turn in turns:
        if turn.role == "user":
            break
        reply.append(turn.text)
    return "\n\n".join(reply) or None


class TaRequests:
    """`request` a TA for a thread's question; `button_value` signs the payload of an answer's "Ask a TA" button."""

    def __init__(self, escalations: EscalationService) -> None:
        self.escalations = escalations
        self.mentor = escalations.mentor
        self._opening = asyncio.Lock()
        """Two clicks of one replica at once: the second finds the first one's escalation (across replicas,
        the store's one-open-row index does the same)."""

    async def button_value(self, answer: Answer) -> str | None:
        """The signed payload for an answer's button; None when no button belongs under it (the course has
        no TA queue, the answer was declined and so escalated already, or it was not recorded)."""
        if answer.question_id is None or answer.kind == "not_covered":
            return None
        try:
            asked = await self.mentor.offloader.run(self.mentor.question_log.get, answer.question_id)
            if asked is None or not await self.has_queue(asked.course):
                return None
            return await self.mentor.offloader.run(self.escalations.store.sign, str(answer.question_id))
        except (SQLAlchemyError, BusyError) as exc:
            log.warning("no Ask a TA button under answer %s: the state database is unreachable (%s)", answer.question_id, exc)
            return None

    async def question_of(self, value: str) -> int | None:
        """The question id a button's signed payload carries; None for a forged, mangled or foreign one."""
        try:
            verified = await self.mentor.offloader.run(self.escalations.store.verified, value)
        except (SQLAlchemyError, BusyError) as exc:
            log.warning("could not check an Ask a TA button (%s)", exc)
            return None
        return int(verified) if verified and verified.isdigit() else None

    async def has_queue(self, course: str | None) -> bool:
        try:
            return bool((await self.mentor.offloader.run(self.mentor.course, course)).escalation.ta_queue)
        except UnknownCourseError:
            return False

    async def downvoted(self, platform: str, message: str) -> int | None:
        """The question whose answer a 👎 was put on, when its course sends those to the TAs; else None."""
        try:
            return await self.mentor.offloader.run(self._downvoted, platform, message)
        except (SQLAlchemyError, BusyError) as exc:
            log.warning("could not look up the answer %s for a 👎 escalation (%s)", message, exc)
            return None

    def _downvoted(self, platform: str, message: str) -> int | None:
        question_id = self.mentor.question_log.question_for_message(platform, message)
        asked = None if question_id is None else self.mentor.question_log.get(question_id)
        if asked is None:
            return None
        try:
            policy = self.mentor.course(asked.course).escalation
        except UnknownCourseError:
            return None
        return asked.id if policy.ta_queue and policy.on_thumbs_down else None

    async def request(self, request: TaRequest) -> Outcome:
        """Send the thread's question to its course's TAs; what came of it, for the student to be told
        (`TA_REQUEST_REPLIES`). A store that cannot be reached is "failed", never an exception."""
        try:
            return await self._request(request)
        except (SQLAlchemyError, BusyError) as exc:
            log.warning("could not send a question of %s to its TAs on request (%s)", request.place.platform, exc)
            return "failed"

    async def _request(self, request: TaRequest) -> Outcome:
        run = self.mentor.offloader.run
        course, asker, logged, name = request.course, request.asker, None, request.student_name
        if request.question_id is not None:
            asked = await run(self.mentor.question_log.get, request.question_id)
            if asked is None:
                return "unknown"
            course, asker, logged = asked.course, asked.asker, asked.text
            name = name if request.asker == asker else None  # a classmate's click: the asker's name is not known here
        if not await self.has_queue(course):
            return "no_queue"
        found = split_thread(request.turns, logged)
        if found is None:
            return "no_question"
        course_name = (await run(self.mentor.course, course)).name
        async with self._opening:
            if await run(self.escalations.store.find, course_name, found.question, request.place) is not None:
                return "already"
            question = Question(text=found.question, course=course_name, asker=asker, platform=request.platform, history=found.context)
            # The logged question's id goes along, so the TA's answer records the time to a human answer.
            draft = Answer(
                text=found.draft or "",
                grounded=found.draft is not None,
                kind="answer" if found.draft else "not_covered",
                question_id=request.question_id,
            )
            opened = await self.escalations.escalate(question, draft, request.reason, request.place, name)
        if opened is None:
            return "failed"
        if not opened.created:  # another replica opened it since `find` looked
            return "already"
        return "sent" if opened.escalation.queue_ref else "kept"


def reply_for(outcome: Outcome) -> str | None:
    """What the student is told beside the thread's own notice; None when `escalate` told them already."""
    return TA_REQUEST_REPLIES.get(outcome)
