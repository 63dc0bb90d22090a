"""The web page as a student platform: "Ask a TA" under an answer, and the TA's answer back in the page.

`POST /api/ask-ta` takes `{"conversation": "<the page's random id>", "button": "<the answer's
ask_ta value>", "history": [{role, text}, ...]}` (the conversation up to and including the answer)
and answers `{"outcome": ..., "message": ...}`. `GET /api/ta-answers?conversation=ID` lists the
TAs' answers to that conversation's escalations, which the page polls while one is open. The
escalation row keeps the answer, so nothing is lost while the page is closed or the service restarts;
the conversation id, random and known only to the page, is what lets a page read its answers.
"""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from adapters.web.chat import BadRequest, bad_request, history_turns, read_json
from bot.errors import BusyError, UnknownCourseError
from bot.service.ask_ta import TaRequest, reply_for
from bot.service.commands import ChatCommands
from bot.service.notices import ESCALATED, dismissed_note_heading, ta_answer_heading
from models import ReplyPlace

PLATFORM = "web"
CONVERSATION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class WebStudentThread:
    """`StudentThread` for the page: the answer is kept with its escalation and the page fetches it, so nothing is pushed."""

    async def post(self, place: ReplyPlace, heading: str, body: str) -> None:
        return None


class AskTaApi:
    def __init__(self, commands: ChatCommands) -> None:
        self.commands = commands
        commands.escalations.threads[PLATFORM] = WebStudentThread()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/ask-ta", self.ask_ta)
        app.router.add_get("/api/ta-answers", self.ta_answers)

    async def ask_ta(self, request: web.Request) -> web.Response:
        payload = await read_json(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("button"), str):
            raise bad_request('Send {"conversation": "...", "button": "<the answer\'s ask_ta>", "history": [...]}.')
        place = ReplyPlace(platform=PLATFORM, channel=_conversation(payload.get("conversation")))
        try:
            turns = history_turns(payload.get("history", []), self.commands.mentor.settings)
        except BadRequest as exc:
            raise bad_request(str(exc)) from None
        requests = self.commands.ta_requests
        question_id = await requests.question_of(payload["button"])
        if question_id is None:
            return web.json_response({"outcome": "unknown", "message": reply_for("unknown")}, status=404)
        outcome = await requests.request(TaRequest(PLATFORM, place, turns, question_id=question_id))
        return web.json_response({"outcome": outcome, "message": ESCALATED if outcome == "sent" else reply_for(outcome)})

    async def ta_answers(self, request: web.Request) -> web.Response:
        place = ReplyPlace(platform=PLATFORM, channel=_conversation(request.query.get("conversation")))
        mentor = self.commands.mentor
        try:
            escalations = await mentor.offloader.run(mentor.escalations.for_place, place)
        except (SQLAlchemyError, BusyError) as exc:
            return web.json_response({"error": f"The TAs' answers cannot be read just now ({type(exc).__name__})."}, status=503)
        answers = []
        for escalation in escalations:
            if escalation.status == "open" or not escalation.answer:
                continue
            try:
                name_ta = mentor.course(escalation.course).escalation.name_ta
            except UnknownCourseError:
                name_ta = False
            heading = ta_answer_heading(escalation.answered_by if name_ta else None) if escalation.status == "answered" else dismissed_note_heading()
            answers.append({"id": escalation.id, "question": escalation.question, "heading": heading, "text": escalation.answer,
                            "at": escalation.answered_at.isoformat() if escalation.answered_at else None})
        waiting = sum(1 for escalation in escalations if escalation.status == "open")
        return web.json_response({"answers": answers, "waiting": waiting}, headers={"Cache-Control": "no-cache"})


def _conversation(value: object) -> str:
    if not (isinstance(value, str) and CONVERSATION.match(value)):
        raise bad_request("`conversation` must be the page's id: 16-64 letters, digits, '-' or '_'.")
    return value

