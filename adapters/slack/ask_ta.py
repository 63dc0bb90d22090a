"""A Slack student asking for a human: the "Ask a TA" button under an answer, `@mentor ask a TA`
in the thread, and (where the course wants it) a 👎 on the answer.

The button's value is the question's id, signed (`TaRequests.button_value`), so a click after a
restart finds the question in the state database; Bolt has checked the click's own signature.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import BotIdentity, Spawn, thread_turns, to_plain
from adapters.slack.live_reply import UNDELIVERED
from adapters.slack.render import SlackMessage, ask_ta_button, render_line
from bot.service.ask_ta import DOWNVOTED_REASON, Outcome, TaRequest, TaRequests, reply_for
from models import Answer, ReplyPlace, Turn

log = logging.getLogger(__name__)

ASK_TA = "ask_ta"
"""The button's action id."""
THREAD_FETCH = 100
KEEP_TURNS = 12
"""Turns of the thread the TA sees (the question and the bot's answer among them)."""


class SlackAskTa:
    """`with_button` under an answer; `register` takes the clicks; `on_text` and `on_downvote` the other two ways."""

    def __init__(self, client: AsyncWebClient, requests: TaRequests, bot: Callable[[], BotIdentity], spawn: Spawn) -> None:
        self.client = client
        self.requests = requests
        self.bot = bot
        self.spawn = spawn

    def register(self, app: Any) -> None:
        app.action(ASK_TA)(self._on_click)

    async def with_button(self, message: SlackMessage, answer: Answer) -> SlackMessage:
        """The answer with an "Ask a TA" button under it, where the course has a TA queue."""
        value = await self.requests.button_value(answer)
        return message if value is None else ask_ta_button(message, ASK_TA, value)

    async def on_text(self, event: dict[str, Any]) -> None:
        """`@mentor ask a TA` in a thread: the thread's last question goes to the TAs."""
        channel, thread = str(event["channel"]), event.get("thread_ts")
        turns = await self._turns(channel, str(thread), str(event["ts"])) if thread else ()
        place = ReplyPlace(platform="slack", channel=channel, thread=str(thread or event["ts"]))
        outcome = await self.requests.request(TaRequest("slack", place, turns, asker=str(event.get("user") or "")))
        await self._reply(outcome, place, None)

    async def on_downvote(self, message: str) -> None:
        """A 👎 on the answer at `message` (`channel:ts`): its question goes to the TAs where the course
        wants that; quiet unless it could not be sent."""
        question_id = await self.requests.downvoted("slack", message)
        if question_id is None:
            return
        channel, ts = message.split(":", 1)
        try:
            replies = await self.client.conversations_replies(channel=channel, ts=ts, limit=THREAD_FETCH)
        except UNDELIVERED as exc:
            log.warning("slack: cannot read the thread of %s:%s for a 👎 escalation (%s)", channel, ts, exc)
            return
        messages = list(replies.get("messages") or [])
        thread = next((str(m.get("thread_ts")) for m in messages if m.get("thread_ts")), ts)
        answered = [m for m in messages if str(m.get("ts")) == ts]
        turns = self._thread(messages, ts) + self._as_turn(answered[0] if answered else {})
        place = ReplyPlace(platform="slack", channel=channel, thread=thread)
        outcome = await self.requests.request(TaRequest("slack", place, turns, question_id=question_id, reason=DOWNVOTED_REASON))
        if outcome == "failed":
            await self._reply(outcome, place, None)

    async def _on_click(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.spawn(self._clicked(body, str(action.get("value") or "")), "ask a TA")

    async def _clicked(self, body: dict[str, Any], value: str) -> None:
        message, user = body.get("message") or {}, str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id") or "")
        ts = str(message.get("ts") or "")
        place = ReplyPlace(platform="slack", channel=channel, thread=str(message.get("thread_ts") or ts))
        question_id = await self.requests.question_of(value)
        if question_id is None or not channel or not ts:
            await self._reply("unknown", place, user)
            return
        turns = await self._turns(channel, place.thread or ts, ts) + self._as_turn(message)
        outcome = await self.requests.request(TaRequest("slack", place, turns, question_id=question_id))
        await self._reply(outcome, place, user)

    async def _turns(self, channel: str, thread: str, before_ts: str) -> tuple[Turn, ...]:
        try:
            replies = await self.client.conversations_replies(channel=channel, ts=thread, limit=THREAD_FETCH)
        except UNDELIVERED as exc:
            log.warning("slack: cannot read the thread %s in %s for a TA (%s); sending what is known", thread, channel, exc)
            return ()
        return self._thread(list(replies.get("messages") or []), before_ts)

    def _thread(self, messages: list[dict[str, Any]], before_ts: str) -> tuple[Turn, ...]:
        return thread_turns(messages, before_ts, self.bot(), KEEP_TURNS)

    def _as_turn(self, message: dict[str, Any]) -> tuple[Turn, ...]:
        text = to_plain(str(message.get("text") or ""), self.bot().user_id)
        return (Turn(role="assistant", text=text),) if text else ()

    async def _reply(self, outcome: Outcome, place: ReplyPlace, user: str | None) -> None:
        """Told privately when it was a click (only the clicker sees it), in the thread when it was asked there."""
        text = reply_for(outcome)
        if text is None:
            return
        line = render_line(text, ":information_source:")
        try:
            if user:
                await self.client.chat_postEphemeral(channel=place.channel, user=user, text=line.text, thread_ts=place.thread)
            else:
                await self.client.chat_postMessage(channel=place.channel, thread_ts=place.thread, text=line.text, unfurl_links=False)
        except UNDELIVERED as exc:
            log.warning("slack: could not tell a student in %s that %s (%s)", place.channel, outcome, exc)

