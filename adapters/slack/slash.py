"""`/mentor ask|reindex|status`: acknowledged within Slack's 3 seconds, answered privately via `respond`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from adapters.slack.events import Spawn
from adapters.slack.render import SlackMessage, render_answer, render_line, render_text
from bot.config.sections import SlackSettings
from bot.errors import BotError
from bot.service.commands import HELP, ChatCommands
from bot.service.notices import for_instructor
from models import Question

COMMAND = "/mentor"
USAGE = (
    "/mentor ask <question> (only you see the answer)\n"
    "/mentor reindex [course] (instructors: re-read the course materials)\n"
    "/mentor status (courses, documents, the model)"
)
Ack = Callable[..., Awaitable[None]]
Failure = Callable[[Exception, str], SlackMessage]
Respond = Callable[..., Awaitable[Any]]


class SlashCommand:
    """The `/mentor` command of one platform; the slow part of each verb runs as the platform's task."""

    def __init__(self, commands: ChatCommands, settings: SlackSettings, spawn: Spawn, failure: Failure) -> None:
        self.commands = commands
        self.settings = settings
        self.spawn = spawn
        self.failure = failure
        """What the asker is told when answering failed (the platform words it, as for mentions)."""

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)

    async def on_command(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        verb, _, rest = str(body.get("text") or "").strip().partition(" ")
        rest = rest.strip()
        if verb.lower() == "ask" and rest:
            await ack(text=":hourglass_flowing_sand: Looking through the course materials…")
            self.spawn(self._ask(rest, body, respond), f"/mentor ask in {body.get('channel_id')}")
        elif verb.lower() == "ask":
            await ack(text=render_text(HELP).text)
        elif verb.lower() == "reindex":
            await self._start_reindex(rest or None, body, ack, respond)
        elif verb.lower() == "status":
            await ack()
            self.spawn(self._status(respond), "/mentor status")
        else:
            await ack(text=render_text(USAGE).text)

    async def _ask(self, text: str, body: dict[str, Any], respond: Respond) -> None:
        channel = str(body.get("channel_id", ""))
        course = self.commands.course_for([channel, str(body.get("team_id", ""))], self.settings.channels)
        question = Question(text=text, course=course, asker=body.get("user_id"), platform="slack")
        try:
            message = render_answer(await self.commands.ask(question))
        except Exception as exc:  # the asker always hears back
            message = self.failure(exc, channel)
        await _private(respond, message)

    async def _start_reindex(self, course: str | None, body: dict[str, Any], ack: Ack, respond: Respond) -> None:
        user = str(body.get("user_id", ""))
        allowed = user in self.settings.instructors
        if allowed:
            try:
                name = self.commands.mentor.settings.course(course).name
            except BotError as exc:
                await ack(text=render_line(for_instructor(exc, "slack /mentor reindex").text, ":warning:").text)
                return
            await ack(text=f":arrows_counterclockwise: Reindexing {render_line(name).text}…")
        else:
            await ack()  # the core words the refusal, posted privately by the task
        requested_by = str(body.get("user_name") or user)
        self.spawn(self._reindex(course, requested_by, allowed, respond), f"/mentor reindex {course or ''}")

    async def _reindex(self, course: str | None, requested_by: str, allowed: bool, respond: Respond) -> None:
        try:
            record = await self.commands.reindex(course, requested_by, allowed=allowed)
        except Exception as exc:
            notice = for_instructor(exc, f"slack /mentor reindex {course or ''}")
            await _private(respond, render_line(notice.text, ":warning:"))
            return
        await _private(respond, render_line(record.summary(), ":white_check_mark:" if record.outcome == "ok" else ":warning:"))

    async def _status(self, respond: Respond) -> None:
        try:
            text = await self.commands.status()
        except Exception as exc:
            text = for_instructor(exc, "slack /mentor status").text
        await _private(respond, render_text(text))


async def _private(respond: Respond, message: SlackMessage) -> None:
    await respond(text=message.text, blocks=message.blocks or None, response_type="ephemeral")
