"""Votes as reactions: 👍 and 👎 under every answer, and people's reactions on it counted.

Reactions arrive as raw gateway events (`on_raw_reaction_add`/`_remove`), which name only
the message id and work for messages discord.py never cached; so every message of an
answer is linked to its question by id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from adapters.discord_bot.inflight import InFlight
from bot.errors import BusyError
from bot.service.commands import ChatCommands
from bot.store.question_log import Vote
from models import Answer

log = logging.getLogger(__name__)

PLATFORM = "discord"
UP = "\N{THUMBS UP SIGN}"
DOWN = "\N{THUMBS DOWN SIGN}"
_MODIFIERS = "\ufe0f" + "".join(chr(tone) for tone in range(0x1F3FB, 0x1F400))
"""The emoji variation selector and the five skin tones: 👍🏽 is a 👍."""


def vote_of(emoji: discord.PartialEmoji) -> Vote | None:
    """1 for 👍 (any skin tone), -1 for 👎, None for anything else (custom emoji included)."""
    if emoji.id is not None:
        return None
    base = (emoji.name or "").rstrip(_MODIFIERS)
    if base == UP:
        return 1
    if base == DOWN:
        return -1
    return None


async def link(commands: ChatCommands, answer: Answer, messages: list[discord.abc.Snowflake]) -> bool:
    """Tie the answer's messages to its question; False (logged) when the core is too busy."""
    try:
        await commands.link_answer(answer, PLATFORM, [str(message.id) for message in messages])
    except BusyError:
        log.warning("discord: too busy to link an answer to its question; reactions on it will not count")
        return False
    return True


class ReactionVotes:
    """Offers the vote reactions under an answer and records the ones people add or remove."""

    def __init__(
        self,
        client: discord.Client,
        commands: ChatCommands,
        inflight: InFlight,
        on_down: Callable[[discord.RawReactionActionEvent], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.commands = commands
        self.inflight = inflight
        self.on_down = on_down
        """Hears each new 👎 on an answer: the course may send its question to the TAs."""
        self._told_cannot_react = False

    async def offer(self, answer: Answer, messages: list[discord.Message]) -> None:
        """Link every chunk, then react 👍 and 👎 on the last one; a refusal never fails the answer."""
        if not messages or not await link(self.commands, answer, messages):
            return
        for emoji in (UP, DOWN):
            try:
                await messages[-1].add_reaction(emoji)
            except discord.HTTPException as exc:  # Forbidden: no Add Reactions permission here
                self._cannot_react(exc)
                return

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.client.user
        if self.inflight.closed or me is None or payload.user_id == me.id:
            return
        if payload.member is not None and payload.member.bot:
            return
        vote = vote_of(payload.emoji)
        if vote is None:
            return
        withdrawn = payload.event_type == "REACTION_REMOVE"
        async with self.inflight.work():
            try:
                counted = await self.commands.feedback_on_message(
                    PLATFORM, str(payload.message_id), str(payload.user_id), vote, withdrawn=withdrawn
                )
            except BusyError:
                log.warning("discord: too busy to record a vote on message %s; it is lost", payload.message_id)
                return
            if counted and vote < 0 and not withdrawn and self.on_down is not None:
                await self.on_down(payload)

    def _cannot_react(self, exc: discord.HTTPException) -> None:
        if not self._told_cannot_react:
            self._told_cannot_react = True
            log.info(
                "discord: cannot add the vote reactions under answers (%s); grant the bot the Add Reactions "
                "permission. Students can still react themselves.",
                exc,
            )
