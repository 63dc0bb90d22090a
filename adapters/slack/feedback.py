"""Votes as reactions: 👍 and 👎 under every answer, and people's reactions on it counted.

A reaction event names only the message it was put on (`item.channel`, `item.ts`), so
each answer is linked to its question by that message's key, `channel:ts`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import BotIdentity, Spawn
from adapters.slack.live_reply import NETWORK_ERRORS
from bot.errors import BusyError
from bot.service.commands import ChatCommands
from bot.store.question_log import Vote
from models import Answer

log = logging.getLogger(__name__)

PLATFORM = "slack"
OFFERED = ("+1", "-1")
"""The reactions the bot puts under an answer, so voting is one click."""
UP = frozenset({"+1", "thumbsup"})
DOWN = frozenset({"-1", "thumbsdown"})


@dataclass(frozen=True)
class Reaction:
    """A person's vote by reaction: on which message, by whom, which way."""

    message: str
    user: str
    vote: Vote


def message_key(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def to_reaction(event: dict[str, Any], bot: BotIdentity) -> Reaction | None:
    """A `reaction_added`/`reaction_removed` event as a vote; None for other emoji, the bot's own, non-messages.

    `+1::skin-tone-3` counts as `+1`.
    """
    item = event.get("item") or {}
    user = event.get("user")
    if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
        return None
    if not user or user == bot.user_id:
        return None
    name = str(event.get("reaction") or "").split("::", 1)[0]
    vote: Vote
    if name in UP:
        vote = 1
    elif name in DOWN:
        vote = -1
    else:
        return None
    return Reaction(message_key(str(item["channel"]), str(item["ts"])), str(user), vote)


class ReactionVotes:
    """Offers the vote reactions under an answer and records the ones people add or remove."""

    def __init__(
        self,
        commands: ChatCommands,
        client: AsyncWebClient,
        bot: Callable[[], BotIdentity],
        spawn: Spawn,
        on_down: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.commands = commands
        self.client = client
        self.bot = bot
        """Who the bot is, known once the platform has signed in."""
        self.spawn = spawn
        self.on_down = on_down
        """Hears each new 👎 on an answer (by its message key): the course may send its question to the TAs."""
        self._told_cannot_react = False

    def register(self, app: AsyncApp) -> None:
        app.event("reaction_added")(self._on_added)
        app.event("reaction_removed")(self._on_removed)

    async def offer(self, answer: Answer, channel: str, ts: str) -> None:
        """Link the answer's message to its question, then add 👍 and 👎 under it (never failing the answer)."""
        try:
            await self.commands.link_answer(answer, PLATFORM, [message_key(channel, ts)])
        except BusyError:
            log.warning("slack: too busy to link the answer in %s to its question; reactions on it will not count", channel)
            return
        for name in OFFERED:
            try:
                await self.client.reactions_add(channel=channel, timestamp=ts, name=name)
            except SlackApiError as exc:
                if exc.response.get("error") != "already_reacted":
                    self._cannot_react(str(exc.response.get("error")))
                    return
            except NETWORK_ERRORS as exc:
                self._cannot_react(str(exc) or type(exc).__name__)
                return

    def _cannot_react(self, reason: str) -> None:
        if not self._told_cannot_react:
            self._told_cannot_react = True
            log.info(
                "slack: cannot add the vote reactions under answers (%s); add the reactions:write scope "
                "and reinstall the app. Students can still react themselves.",
                reason,
            )

    async def _on_added(self, event: dict[str, Any]) -> None:
        self._spawn(event, withdrawn=False)

    async def _on_removed(self, event: dict[str, Any]) -> None:
        self._spawn(event, withdrawn=True)

    def _spawn(self, event: dict[str, Any], *, withdrawn: bool) -> None:
        reaction = to_reaction(event, self.bot())
        if reaction is not None:
            self.spawn(self._record(reaction, withdrawn), f"vote on {reaction.message}")

    async def _record(self, reaction: Reaction, withdrawn: bool) -> None:
        try:
            counted = await self.commands.feedback_on_message(
                PLATFORM, reaction.message, reaction.user, reaction.vote, withdrawn=withdrawn
            )
        except BusyError:
            log.warning("slack: too busy to record a vote on %s; it is lost", reaction.message)
            return
        if counted and reaction.vote < 0 and not withdrawn and self.on_down is not None:
            await self.on_down(reaction.message)
