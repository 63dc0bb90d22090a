"""The answer's message in Slack: a placeholder, updated as the model writes, then the answer.

The student must get the answer exactly once. A partial that fails is dropped (the answer
follows). A final update that fails is checked against what Slack shows, and the answer is
posted as a new message in the thread only when the placeholder does not carry it. Without
a placeholder (Slack failed to take it), the answer is posted when it is ready, retried a
few times while Slack answers 5xx or cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import SlackMessage, render_line, render_partial
from bot.service.notices import place_in_line

log = logging.getLogger(__name__)

PARTIAL_INTERVAL_S = 1.5
POST_ATTEMPTS = 4
POST_RETRY_S = 1.0
POSITION_INTERVAL_S = 15.0
"""A waiting question's place in line is shown anew at most this often, and only once it has at
least halved: a class's burst must not spend Slack's chat.update budget (about 50 a minute) on it."""
NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
"""What a call to Slack raises when Slack was not reached or its reply was lost (not a Slack error)."""
UNDELIVERED = (SlackApiError, *NETWORK_ERRORS)


class LiveReply:
    """One answer's message in a thread; `finish` returns the ts of the message that carries the answer."""

    def __init__(self, client: AsyncWebClient, channel: str, thread: str, ts: str | None, ahead: int = 0) -> None:
        self.client, self.channel, self.thread, self.ts = client, channel, thread, ts
        self._shown_at = time.monotonic()
        self._pending: asyncio.Task[None] | None = None
        self._ahead_shown = ahead

    def waiting(self, ahead: int) -> None:
        """Called on the event loop as the question moves up the line."""
        busy = self.ts is None or (self._pending is not None and not self._pending.done())
        halved = ahead <= self._ahead_shown // 2
        if busy or not halved or time.monotonic() - self._shown_at < POSITION_INTERVAL_S:
            return
        self._ahead_shown = ahead
        self._shown_at = time.monotonic()
        self._pending = asyncio.create_task(self._show(render_line(place_in_line(ahead), ":hourglass_flowing_sand:")))

    def partial(self, text: str) -> None:
        """Called on the event loop for every token; most calls change nothing."""
        busy = self.ts is None or (self._pending is not None and not self._pending.done())
        if busy or time.monotonic() - self._shown_at < PARTIAL_INTERVAL_S:
            return
        self._shown_at = time.monotonic()
        self._pending = asyncio.create_task(self._show(render_partial(text)))

    async def finish(self, message: SlackMessage) -> str:
        if self._pending is not None:
            await self._pending  # an earlier partial must not land on top of the answer
        if self.ts is None:
            return await self._post(message)
        try:
            await self.client.chat_update(channel=self.channel, ts=self.ts, text=message.text, blocks=message.blocks)
            return self.ts
        except UNDELIVERED as exc:
            log.warning("slack: could not put the answer in its placeholder in %s (%s)", self.channel, _reason(exc))
        if await self._placeholder_shows(message.text):
            return self.ts  # the update landed; only its reply was lost
        posted = await self._post(message)
        await self._remove_placeholder()
        return posted

    async def withdraw(self) -> None:
        """No answer after all (a TA answered first): the placeholder goes."""
        if self._pending is not None:
            await self._pending
        if self.ts is not None:
            await self._remove_placeholder()

    async def _post(self, message: SlackMessage) -> str:
        """The answer as a new message in the thread; a Slack that fails is tried again, a few times."""
        attempt = 1
        while True:
            try:
                response = await self.client.chat_postMessage(
                    channel=self.channel, thread_ts=self.thread, text=message.text, blocks=message.blocks or None,
                    unfurl_links=False, unfurl_media=False,
                )
                return str(response["ts"])
            except UNDELIVERED as exc:
                if attempt == POST_ATTEMPTS or not _worth_retrying(exc):
                    raise
                log.warning("slack: posting an answer in %s failed (%s); trying again", self.channel, _reason(exc))
            await asyncio.sleep(POST_RETRY_S * attempt)
            attempt += 1

    async def _remove_placeholder(self) -> None:
        """The answer went out as a new message: the placeholder would still say "looking…" above it."""
        try:
            await self.client.chat_delete(channel=self.channel, ts=str(self.ts))
        except UNDELIVERED as exc:
            log.info("slack: could not remove the placeholder in %s (%s)", self.channel, _reason(exc))

    async def _placeholder_shows(self, text: str) -> bool:
        """Whether Slack already shows `text` in the placeholder; False when it cannot be read either."""
        try:
            response = await self.client.conversations_replies(
                channel=self.channel, ts=self.thread, oldest=self.ts, latest=self.ts, inclusive=True, limit=1
            )
        except UNDELIVERED as exc:
            log.warning("slack: cannot read back the placeholder in %s (%s); posting the answer anew", self.channel, _reason(exc))
            return False
        return any(m.get("ts") == self.ts and m.get("text") == text for m in response.get("messages") or [])

    async def _show(self, message: SlackMessage) -> None:
        try:
            await self.client.chat_update(channel=self.channel, ts=self.ts, text=message.text, blocks=[])
        except UNDELIVERED as exc:  # a lost partial is harmless: the answer follows
            log.info("slack: partial update in %s failed: %s", self.channel, _reason(exc))


def _worth_retrying(exc: BaseException) -> bool:
    """A network error, or Slack failing on its side (5xx); not a refusal such as `channel_not_found`."""
    if isinstance(exc, SlackApiError):
        return int(getattr(exc.response, "status_code", 200) or 200) >= 500
    return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return str(exc) or type(exc).__name__
