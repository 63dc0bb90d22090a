"""The admin API's TA side: escalations (open, or answered with the time to a human answer) and the
verified answers an instructor lists, edits and deletes; an edit or a delete reaches the index at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.web.admin_json import json_response, limit_of
from bot.app import MentorApp
from bot.errors import VerifiedAnswerError
from bot.service.escalation import escalation_json
from bot.service.verified import VerifiedAnswers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CourseOf = Callable[[web.Request], "str | None"]


class AdminVerified:
    """Routes for `AdminPage`: `course_of` reads and checks a request's `?course=`."""

    def __init__(self, mentor: MentorApp, course_of: CourseOf) -> None:
        self.mentor = mentor
        self.course_of = course_of
        self.verified = VerifiedAnswers(mentor)

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/admin/api/escalations", self.escalations),
            ("GET", "/admin/api/verified", self.listed),
            ("POST", "/admin/api/verified/{id}", self.edit),
            ("DELETE", "/admin/api/verified/{id}", self.delete),
        ]

    async def escalations(self, request: web.Request) -> web.Response:
        """Open ones, oldest first; with `?answered=1`, those a TA answered, newest first, with `human_answer_s`."""
        course, limit = self.course_of(request), limit_of(request)
        if request.query.get("answered") in ("1", "true"):
            found = await self.mentor.offloader.run(self.mentor.escalations.answered_ones, course, limit)
        else:
            found = (await self.mentor.offloader.run(self.mentor.escalations.open_ones, course))[:limit]
        return json_response({"escalations": [escalation_json(escalation) for escalation in found]})

    async def listed(self, request: web.Request) -> web.Response:
        course, limit = self.course_of(request), limit_of(request)
        kept = await self.mentor.offloader.run(self.mentor.verified.newest_first, course, limit)
        return json_response({"verified": [verified.to_json() for verified in kept]})

    async def edit(self, request: web.Request) -> web.Response:
        """Body `{"answer": "the new text"}`."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        text = body.get("answer") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise VerifiedAnswerError('Send {"answer": "the new text"} as JSON.')
        edited = await self.mentor.offloader.retrieve(self.verified.edit, _id(request), text)
        return json_response({"verified": edited.to_json()})

    async def delete(self, request: web.Request) -> web.Response:
        deleted = await self.mentor.offloader.retrieve(self.verified.delete, _id(request))
        return json_response({"deleted": deleted.to_json()})


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise VerifiedAnswerError(f"{request.match_info['id']!r} is not a verified answer's id (a whole number).") from None
