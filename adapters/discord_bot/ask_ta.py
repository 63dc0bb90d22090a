"""A Discord student asking for a human: the "Ask a TA" button under an answer, `@mentor ask a TA`
in the thread, and (where the course wants it) a 👎 on the answer.

The button is a `DynamicItem`: discord.py matches a click by its custom id's pattern, not by a
view kept in memory, so a button posted before a restart still works. Its custom id carries the
question's id, signed (`TaRequests.button_value`): a made-up one is refused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from adapters.discord_bot.posts import THREADS
from adapters.discord_bot.slash import NO_MENTIONS
from bot.service.ask_ta import DOWNVOTED_REASON, Outcome, TaRequest, TaRequests, reply_for
from bot.service.notices import ASK_TA_LABEL
from models import Answer, ReplyPlace, Turn

log = logging.getLogger(__name__)

PREFIX = "mentor:ask_ta:"
History = Callable[[discord.abc.Messageable, discord.abc.Snowflake], Awaitable[tuple[Turn, ...]]]
"""The thread's turns before a message, oldest first (the platform's own reading of a thread)."""


class AskTaButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=re.escape(PREFIX) + r"(?P<value>.+)"):
    """The button under an answer; any custom id with the prefix is ours to answer, forged ones included.
    The click goes to the client's `ask_ta` (the platform's `DiscordAskTa`)."""

    def __init__(self, value: str) -> None:
        super().__init__(discord.ui.Button(label=ASK_TA_LABEL, style=discord.ButtonStyle.secondary, custom_id=PREFIX + value))
        self.value = value

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]) -> AskTaButton:
        return cls(match["value"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = getattr(interaction.client, "ask_ta", None)
        if isinstance(handler, DiscordAskTa):
            await handler.clicked(interaction, self.value)


class DiscordAskTa:
    """`view_for` an answer; `clicked`, `on_text` and `on_downvote` send a question to the TAs."""

    def __init__(self, client: discord.Client, requests: TaRequests, history: History) -> None:
        self.client = client
        self.requests = requests
        self.history = history
        client.add_dynamic_items(AskTaButton)

    async def view_for(self, answer: Answer) -> discord.ui.View | None:
        """The "Ask a TA" button for an answer's last message; None where the course has no TA queue."""
        value = await self.requests.button_value(answer)
        if value is None:
            return None
        view = discord.ui.View(timeout=None)
        view.add_item(AskTaButton(value))
        return view

    async def clicked(self, interaction: discord.Interaction, value: str) -> None:
        await interaction.response.defer()  # within Discord's 3 s; the student is told in the thread or privately
        answer, channel = interaction.message, interaction.channel
        place = ReplyPlace(platform="discord", channel=str(interaction.channel_id), link=answer.jump_url if answer else None)
        question_id = await self.requests.question_of(value)
        if question_id is None or answer is None or channel is None:
            await self._tell_privately(interaction, "unknown")
            return
        turns = await self._turns(channel, answer)
        name = getattr(interaction.user, "display_name", None)
        request = TaRequest("discord", place, turns, asker=str(interaction.user.id), student_name=name, question_id=question_id)
        await self._tell_privately(interaction, await self.requests.request(request))

    async def on_text(self, message: discord.Message) -> None:
        """`@mentor ask a TA`: the thread's last question goes to the TAs (outside a thread there is none)."""
        channel = message.channel
        in_thread = getattr(channel, "type", None) in THREADS or message.guild is None
        turns = await self.history(channel, message) if in_thread else ()
        place = ReplyPlace(platform="discord", channel=str(channel.id), link=message.jump_url)
        request = TaRequest("discord", place, turns, asker=str(message.author.id), student_name=message.author.display_name)
        outcome = await self.requests.request(request)
        if text := reply_for(outcome):
            await message.reply(text, allowed_mentions=NO_MENTIONS, mention_author=False)

    async def on_downvote(self, payload: discord.RawReactionActionEvent) -> None:
        """A 👎 on an answer, in a course that sends those to the TAs; quiet unless it could not be sent."""
        question_id = await self.requests.downvoted("discord", str(payload.message_id))
        if question_id is None:
            return
        channel = self.client.get_partial_messageable(payload.channel_id)
        place = ReplyPlace(platform="discord", channel=str(payload.channel_id))
        try:
            answer = await channel.fetch_message(payload.message_id)
        except discord.HTTPException as exc:  # deleted, or no history permission: the logged question goes alone
            log.info("discord: cannot read the answer %s for a 👎 escalation (%s)", payload.message_id, exc)
            turns: tuple[Turn, ...] = ()
        else:
            turns = await self._turns(channel, answer)
            place = place.model_copy(update={"link": answer.jump_url})
        outcome = await self.requests.request(TaRequest("discord", place, turns, question_id=question_id, reason=DOWNVOTED_REASON))
        if outcome == "failed" and (text := reply_for(outcome)):
            await channel.send(text, allowed_mentions=NO_MENTIONS)

    async def _turns(self, channel: discord.abc.Messageable, answer: discord.Message) -> tuple[Turn, ...]:
        """The thread before the answer, then the answer itself (the TA's draft)."""
        return await self.history(channel, answer) + ((Turn(role="assistant", text=answer.content),) if answer.content else ())

    async def _tell_privately(self, interaction: discord.Interaction, outcome: Outcome) -> None:
        if text := reply_for(outcome):
            try:
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                log.warning("discord: could not tell a student that %s (%s)", outcome, exc)
