"""The TA queue in Slack: escalations posted as messages with buttons, and the TAs' clicks handled.

Bolt checks each click's signature (HTTP) or its Socket Mode connection before a handler
runs. Handlers acknowledge at once and do the work in a tracked task; a modal is opened
before the ack, since its trigger expires in 3 s. The escalation's state lives in the
database, so a button works after a restart and on any replica.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from adapters.slack.live_reply import UNDELIVERED
from adapters.slack.queue_render import (
    ANSWER_IN_THREAD,
    ANSWER_INPUT,
    DISMISS,
    DISMISS_VIEW,
    EDIT,
    EDIT_VIEW,
    NOTE_INPUT,
    SEND_DRAFT,
    dismiss_modal,
    edit_modal,
    render_closed,
    render_queue_message,
    submitted_text,
)
from bot.errors import PlatformError
from bot.service.escalation import Closing, EscalationService, waited_s
from bot.service.notices import ANSWER_IN_THREAD as ANSWER_IN_THREAD_HINT
from bot.service.notices import EMPTY_TA_ANSWER, UNKNOWN_ESCALATION, closed_already, not_delivered
from models import Course, Escalation

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
REPOST_CHECK_S = 60.0
"""How often open questions are checked against their course's `repost_after_minutes`."""
_BUTTON = re.compile(f"^({SEND_DRAFT}|{EDIT}|{ANSWER_IN_THREAD}|{DISMISS})$")


class SlackTaQueue:
    """`TaQueue` for courses whose `escalation.ta_queue` is a Slack channel; `register` adds the click handlers."""

    def __init__(self, client: AsyncWebClient, escalations: EscalationService, courses: list[Course], spawn: Spawn) -> None:
        self.client = client
        self.escalations = escalations
        self.courses = courses
        self.spawn = spawn
        self._reposting: asyncio.Task[None] | None = None

    @property
    def channels(self) -> set[str]:
        return {c.escalation.ta_queue for c in self.courses if c.escalation.ta_queue and c.escalation.ta_queue_platform == "slack"}

    def register(self, app: AsyncApp) -> None:
        """Before the platform's own `message` listener, so a reply in a queue thread is taken here."""
        app.action(_BUTTON)(self._on_button)
        app.view(EDIT_VIEW)(self._on_edit_submitted)
        app.view(DISMISS_VIEW)(self._on_dismiss_submitted)
        app.event("message", matchers=[self._is_queue_reply])(self._on_queue_reply)
        self.escalations.queues["slack"] = self

    async def start(self) -> None:
        """Check the queue channels, then re-post stale questions every minute until `stop`."""
        await self.check()
        if any(c.escalation.repost_after_minutes for c in self.courses if c.escalation.ta_queue):
            self._reposting = asyncio.create_task(self._repost_every(REPOST_CHECK_S), name="slack escalation reposts")

    async def stop(self) -> None:
        if self._reposting is not None:
            self._reposting.cancel()
            await asyncio.gather(self._reposting, return_exceptions=True)
            self._reposting = None

    async def _repost_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.escalations.repost_stale()
            except SQLAlchemyError as exc:  # the database is down for now: the next round tries again
                log.warning("slack: could not look for stale escalations (%s)", exc)

    async def check(self) -> None:
        """Startup: every course's Slack queue channel exists and the bot is in it, else `PlatformError` naming the setting."""
        for number, course in enumerate(self.courses):
            channel = course.escalation.ta_queue
            if not channel or course.escalation.ta_queue_platform != "slack":
                continue
            setting = f"courses.{number}.escalation.ta_queue (course {course.name!r})"
            try:
                info = (await self.client.conversations_info(channel=channel))["channel"]
            except SlackApiError as exc:
                raise PlatformError(
                    f"The TA queue channel {channel} in {setting} cannot be used ({exc.response.get('error')}): "
                    "set it to the id of a channel in this workspace (C…), and invite the bot there."
                ) from None
            if not info.get("is_member"):
                raise PlatformError(f"The bot is not in the TA queue channel {channel} ({setting}): invite it with /invite @mentor there.")

    async def post(self, escalation: Escalation, channel: str, *, reposted: bool = False) -> str:
        message = render_queue_message(escalation, reposted=reposted)
        try:
            response = await self.client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks, unfurl_links=False)
        except UNDELIVERED as exc:
            raise PlatformError(f"Could not post to the TA queue {channel}: {exc}") from exc
        return f"{channel}:{response['ts']}"

    async def show_closed(self, escalation: Escalation) -> None:
        channel, ts = (escalation.queue_ref or ":").split(":", 1)
        message = render_closed(escalation, waited_s(escalation))
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        except UNDELIVERED as exc:  # the answer went out; only the queue's view is stale
            log.warning("slack: could not mark escalation %s closed in the queue (%s)", escalation.id, exc)

    # --- clicks ---------------------------------------------------------------------------

    async def _on_button(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any]) -> None:
        where, user = _where(body), body["user"]["id"]
        escalation = await self._known(action.get("value"), where, user)
        if escalation is None:
            await ack()
            return
        kind = action["action_id"]
        if kind in (EDIT, DISMISS) and escalation.status == "open":
            # The trigger expires 3 s after the click: the modal opens before anything slow.
            view = edit_modal(escalation) if kind == EDIT else dismiss_modal(escalation)
            try:
                await self.client.views_open(trigger_id=body["trigger_id"], view=view)
            except UNDELIVERED as exc:  # an expired trigger, say: the TA clicks again
                log.warning("slack: could not open the %s modal for escalation %s (%s)", kind, escalation.id, exc)
            await ack()
            return
        await ack()
        if kind == SEND_DRAFT:
            self.spawn(self._send(escalation.id, escalation.draft or "", user, where), f"escalation {escalation.id} draft")
        elif kind == ANSWER_IN_THREAD:
            self.spawn(self._claim(escalation.id, user, where), f"escalation {escalation.id} claim")
        else:
            await self._tell(where, user, closed_already(escalation.status, escalation.answered_by))

    async def _on_edit_submitted(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], view: dict[str, Any]) -> None:
        text = submitted_text(view, ANSWER_INPUT)
        if not text:
            await ack(response_action="errors", errors={ANSWER_INPUT: EMPTY_TA_ANSWER})
            return
        await ack()
        self.spawn(self._send(_id(view.get("private_metadata")), text, body["user"]["id"]), "escalation edit")

    async def _on_dismiss_submitted(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        note, user = submitted_text(view, NOTE_INPUT), body["user"]["id"]
        self.spawn(self._dismiss(_id(view.get("private_metadata")), note, user), "escalation dismiss")

    async def _is_queue_reply(self, event: dict[str, Any]) -> bool:
        return (
            event.get("channel") in self.channels
            and bool(event.get("thread_ts"))
            and event.get("thread_ts") != event.get("ts")
            and not event.get("bot_id")
            and event.get("subtype") is None
        )

    async def _on_queue_reply(self, event: dict[str, Any]) -> None:
        """"Answer in thread": the claiming TA's reply is the answer; other talk in the thread stays among TAs."""
        escalation = await self.escalations.by_queue_message(f"{event['channel']}:{event['thread_ts']}")
        if escalation is None or escalation.status != "open" or escalation.claimed_by != event.get("user"):
            return
        where = (str(event["channel"]), str(event["thread_ts"]))
        self.spawn(self._send(escalation.id, str(event.get("text") or ""), str(event["user"]), where), f"escalation {escalation.id} thread reply")

    # --- work after the ack -----------------------------------------------------------------

    async def _send(self, escalation_id: int | None, text: str, user: str, where: tuple[str, str | None] | None = None) -> None:
        """A modal's submission carries no channel: the TA is then told in the question's queue thread."""
        if not text.strip():
            closing = Closing(await self.escalations.get(escalation_id or 0), False)
            await self._tell(where or self._place_of(closing.escalation), user, EMPTY_TA_ANSWER)
            return
        closing = await self.escalations.answer(escalation_id or 0, text, await self._name(user))
        await self._report(closing, where or self._place_of(closing.escalation), user)

    async def _dismiss(self, escalation_id: int | None, note: str, user: str) -> None:
        closing = await self.escalations.dismiss(escalation_id or 0, await self._name(user), note or None)
        await self._report(closing, self._place_of(closing.escalation), user)

    async def _claim(self, escalation_id: int, user: str, where: tuple[str, str | None]) -> None:
        closing = await self.escalations.claim(escalation_id, user)
        if closing.won:
            await self._tell(where, user, ANSWER_IN_THREAD_HINT)
        else:
            await self._report(closing, where, user)

    async def _report(self, closing: Closing, where: tuple[str, str | None], user: str) -> None:
        """Tell the TA what their click came to, privately: lost to another TA, unknown, or not delivered."""
        if closing.escalation is None:
            await self._tell(where, user, UNKNOWN_ESCALATION)
        elif not closing.won:
            await self._tell(where, user, closed_already(closing.escalation.status, closing.escalation.answered_by))
        elif closing.escalation.delivery_problem:
            await self._tell(where, user, not_delivered(closing.escalation.status, closing.escalation.delivery_problem))

    async def _known(self, value: object, where: tuple[str, str | None], user: str) -> Escalation | None:
        escalation_id = _id(value)
        escalation = None if escalation_id is None else await self.escalations.get(escalation_id)
        if escalation is None:
            await self._tell(where, user, UNKNOWN_ESCALATION)
        return escalation

    async def _tell(self, where: tuple[str, str | None], user: str, text: str) -> None:
        """An ephemeral line to one TA in the queue channel (only they see it)."""
        channel, thread = where
        if not channel:
            return
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread)
        except UNDELIVERED as exc:
            log.warning("slack: could not tell %s in %s: %s (%s)", user, channel, text, exc)

    async def _name(self, user: str) -> str:
        """The TA's display name, for "answered by" and (when the course allows it) the student's answer."""
        try:
            found = (await self.client.users_info(user=user))["user"]
        except UNDELIVERED:
            return user
        profile = found.get("profile") or {}
        return profile.get("display_name") or profile.get("real_name") or found.get("real_name") or found.get("name") or user

    def _place_of(self, escalation: Escalation | None) -> tuple[str, str | None]:
        """The question's queue thread; an unknown one is answered in the first queue channel."""
        if escalation is None or not escalation.queue_ref:
            return (min(self.channels) if self.channels else "", None)
        channel, ts = escalation.queue_ref.split(":", 1)
        return channel, ts


def _where(body: dict[str, Any]) -> tuple[str, str | None]:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
    return str(channel), None


def _id(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
