"""The chat API behind the page: `GET /api/courses`, `POST /api/ask` (server-sent events), `POST /api/feedback`.

`to_question` and `render_answer` are the adapter's two translations, pure and testable
without a server; the handlers only read, stream and write.

`POST /api/ask` takes `{"question": "...", "course": "cs101", "history": [{"role": "user",
"text": "..."}, ...], "user": "..."}` and answers `text/event-stream`: `partial` events
(`{"text": <the answer so far>}`) while the model writes, then one `answer` (the final
answer as `render_answer` shapes it) or one `error` (`{"message": ..., "reference": ...}`, the
reference set when the detail went to the operator's log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from adapters.web.files import citation_href
from bot.config.settings import Settings
from bot.errors import BusyError
from bot.service.commands import HELP, ChatCommands
from bot.service.notices import Notice, for_student, place_in_line
from models import Answer, Question, Turn

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
"""A comment line this often while nothing else is sent: proxies keep the stream open, and a closed tab is noticed."""
PARTIAL_EVERY_S = 0.1
"""The whole text so far goes in each `partial`, so they are sent at most this often."""
USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BadRequest(ValueError):
    """A request the page would never send; answered 400 with the message."""


def to_question(payload: object, settings: Settings) -> Question | None:
    """The `Question` a request asks, or None for an empty one (answered with the help text).

    The thread's history is the page's to keep: only its last `answer.history_turns`
    turns are used, each cut to `answer.max_question_chars`.
    """
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object with a `question`.")
    text = payload.get("question")
    if not isinstance(text, str):
        raise BadRequest("`question` is missing: send the question's text as a string.")
    course = payload.get("course")
    names = settings.course_names()
    if course is not None and course not in names:
        raise BadRequest(f"No course named {course!r}. Courses: {', '.join(names)}.")
    user = payload.get("user")
    if user is not None and not (isinstance(user, str) and USER_ID.match(user)):
        raise BadRequest("`user` must be 1-64 letters, digits, '-' or '_'.")
    history = history_turns(payload.get("history", []), settings)
    if not text.strip():
        return None
    return Question(text=text, course=course, asker=user, platform="web", history=history)


def history_turns(history: object, settings: Settings) -> tuple[Turn, ...]:
    if not isinstance(history, list):
        raise BadRequest("`history` must be a list of {role, text} turns.")
    keep, limit = settings.answer.history_turns, settings.answer.max_question_chars
    turns: list[Turn] = []
    for turn in history[-keep:] if keep else []:
        if not (isinstance(turn, dict) and turn.get("role") in ("user", "assistant") and isinstance(turn.get("text"), str)):
            raise BadRequest("Each `history` turn must be {\"role\": \"user\" or \"assistant\", \"text\": \"...\"}.")
        turns.append(Turn(role=turn["role"], text=turn["text"][:limit]))
    return tuple(turns)


def render_answer(answer: Answer, course: str) -> dict[str, object]:
    """The `answer` event: text, kind, and each citation with the link the page may show."""
    return {
        "text": answer.text,
        "kind": answer.kind,
        "grounded": answer.grounded,
        "model": answer.model,
        "question_id": answer.question_id,
        "citations": [
            {
                "n": citation.n,
                "label": citation.label(),
                "source": citation.source,
                "href": citation_href(course, citation),
                "see_also": citation.see_also,
                "quotes": list(citation.quotes),
                "excerpt": citation.excerpt,
            }
            for citation in answer.citations
        ],
    }


def help_answer() -> dict[str, object]:
    return {"text": HELP, "kind": "help", "grounded": False, "model": None, "question_id": None, "citations": []}


def event(name: str, data: object) -> bytes:
    # JSON escapes newlines, so one `data:` line always carries the whole payload.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class ChatApi:
    """The handlers; answers run as tracked tasks, so a closed tab never cancels one and `drain()` can wait."""

    def __init__(self, commands: ChatCommands) -> None:
        self.commands = commands
        self.settings = commands.mentor.settings
        self.tasks: set[asyncio.Task[Any]] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/courses", self.courses)
        app.router.add_post("/api/ask", self.ask)
        app.router.add_post("/api/feedback", self.feedback)

    async def drain(self, timeout: float) -> None:
        """Let answers still being written finish (and be recorded), then cancel what is left."""
        if not self.tasks:
            return
        _, late = await asyncio.wait(set(self.tasks), timeout=timeout)
        for task in late:
            log.warning("web: cancelling %s, still running at shutdown", task.get_name())
            task.cancel()

    async def courses(self, request: web.Request) -> web.Response:
        """The course picker's choices, and which model answers (the page flags the demo model)."""
        names = self.settings.course_names()
        try:
            model = await self.commands.mentor.offloader.run(self.commands.mentor.model_status)
        except BusyError:  # the picker matters more than the model's name
            shown = None
        else:
            shown = {"name": model.name, "demo": model.demo, "ready": model.ready}
        return web.json_response({"courses": names, "default": names[0], "model": shown}, headers={"Cache-Control": "no-cache"})

    async def ask(self, request: web.Request) -> web.StreamResponse:
        try:
            question = to_question(await read_json(request), self.settings)
        except BadRequest as exc:
            raise bad_request(str(exc)) from None
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        try:
            if question is None:
                await response.write(event("answer", help_answer()))
            else:
                await self._stream(question, response)
            await response.write_eof()
        except ConnectionResetError:
            log.info("web: the page closed before its answer was sent; the answer is still recorded")
        return response

    async def _stream(self, question: Question, response: web.StreamResponse) -> None:
        course = question.course or self.settings.course_names()[0]
        latest: dict[str, str | int | None] = {"text": "", "ahead": None}
        changed = asyncio.Event()

        def on_partial(text: str) -> None:
            latest["text"] = text
            changed.set()

        def on_position(ahead: int) -> None:
            latest["ahead"] = ahead
            changed.set()

        answering = self._spawn(self._answer(question, course, on_partial, on_position), f"web answer in {course}")
        while not answering.done():
            waiting = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait({answering, waiting}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if changed.is_set() and not answering.done():
                changed.clear()
                if latest["text"]:
                    await response.write(event("partial", {"text": latest["text"]}))
                elif isinstance(ahead := latest["ahead"], int):
                    await response.write(event("queued", {"ahead": ahead, "text": place_in_line(ahead)}))
                await asyncio.sleep(PARTIAL_EVERY_S)
            elif not answering.done():
                await response.write(b": still looking\n\n")
        if answering.cancelled():
            return
        outcome = answering.result()
        if isinstance(outcome, Notice):
            await response.write(event("error", {"message": outcome.text, "reference": outcome.reference}))
            return
        await response.write(event("answer", render_answer(outcome, course) | {"ask_ta": await self.commands.ta_requests.button_value(outcome)}))

    async def _answer(
        self, question: Question, course: str, on_partial: Callable[[str], None], on_position: Callable[[int], None]
    ) -> Answer | Notice:
        """The answer, or what the student is told instead: worded (and logged) here, page or no page."""
        try:
            return await self.commands.ask(question, on_partial, on_position=on_position)
        except Exception as exc:
            return for_student(exc, f"web question in {course}")

    def _spawn(self, work: Coroutine[Any, Any, Answer | Notice], name: str) -> asyncio.Task[Answer | Notice]:
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def feedback(self, request: web.Request) -> web.Response:
        payload = await read_json(request)
        question_id, vote, user = (payload.get(key) if isinstance(payload, dict) else None for key in ("question_id", "vote", "user"))
        withdrawn = payload.get("withdrawn", False) if isinstance(payload, dict) else False
        if not isinstance(question_id, int) or isinstance(question_id, bool) or vote not in ("up", "down"):
            raise bad_request('Send {"question_id": <the answer\'s question_id>, "vote": "up" or "down", "user": "..."}.')
        if not (isinstance(user, str) and USER_ID.match(user)) or not isinstance(withdrawn, bool):
            raise bad_request("`user` must be 1-64 letters, digits, '-' or '_' (and `withdrawn`, when sent, true or false).")
        try:
            known = await self.commands.feedback(question_id, "web", user, 1 if vote == "up" else -1, withdrawn=withdrawn)
        except BusyError as exc:
            return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "30"})
        if not known:
            return web.json_response({"error": f"No answer {question_id} is known here."}, status=404)
        return web.json_response({"ok": True})


async def read_json(request: web.Request) -> object:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")
