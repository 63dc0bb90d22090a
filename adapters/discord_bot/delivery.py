"""A TA's answer posted into a Discord student's thread, with every mention disabled.

`AllowedMentions.none()` stops the ping; the text is also neutralised, so `@everyone` in a TA's
answer does not even read as one.
"""

from __future__ import annotations

import discord

from adapters.discord_bot.render import neutralise, split_message
from adapters.discord_bot.slash import NO_MENTIONS
from bot.errors import ThreadGoneError
from models import ReplyPlace

ARCHIVED_THREAD = 50083
"""Discord's error code for a post into an archived thread."""


class DiscordStudentThread:
    """`StudentThread` for questions asked in Discord: `place.channel` is the thread (or DM) id."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def post(self, place: ReplyPlace, heading: str, body: str) -> None:
        channel = self.client.get_partial_messageable(int(place.channel))
        text = f"**{neutralise(heading)}**\n{neutralise(body)}" if body else neutralise(heading)
        try:
            for chunk in split_message(text):
                await channel.send(chunk, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            raise ThreadGoneError("the student's Discord thread was deleted") from None
        except discord.HTTPException as exc:
            if exc.code == ARCHIVED_THREAD:
                raise ThreadGoneError("the student's Discord thread is archived") from None
            raise ThreadGoneError(f"Discord refused the post ({exc.status} {exc.text or exc.code})") from None
