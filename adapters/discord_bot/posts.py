"""Discord's side of channel modes and attachments: what a message is (a forum post, a TA's
reply, a follow-up), the files it carries, and whether the bot can answer in its forums.

`bot.service.channels` decides what is answered and `bot.service.attachments` what is read;
this module only reads Discord's objects for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord

from adapters.discord_bot.render import strip_mention
from bot.config.sections import ChannelRoute, DiscordSettings
from bot.service.attachments import Composed, Download, compose, read_attachments
from bot.service.channels import Heard, TaReplies, should_answer
from models import Attachment

THREADS = (discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.news_thread)

log = logging.getLogger(__name__)

RouteOf = Callable[[discord.abc.Snowflake | None, int | None], ChannelRoute]
"""The route of a channel (and its guild), from `settings.discord.channels`."""
FORUM_NEEDS = ("view_channel", "read_message_history", "send_messages_in_threads")
TEXT_FORUM_NEEDS = ("view_channel", "read_message_history", "send_messages", "create_public_threads", "send_messages_in_threads")


def is_post(message: discord.Message) -> bool:
    """A forum (or media) post: its starter message has the id of the thread it opens."""
    return isinstance(message.channel, discord.Thread) and message.id == message.channel.id


def post_title(message: discord.Message) -> str:
    """A post's title, often the question itself, to read before its text (unless the text repeats it)."""
    title = message.channel.name.strip() if is_post(message) else ""  # type: ignore[union-attr]
    return "" if message.content.strip().startswith(title) else title


def reply_target(message: discord.Message) -> discord.Message | None:
    """A forum post is answered in its own thread, without a reply marker; other messages get one."""
    return None if is_post(message) else message


async def heard(message: discord.Message, route: ChannelRoute, me: int, mentioned: bool, ta_replies: TaReplies) -> bool:
    """Whether the channel's mode answers this message in a guild."""
    channel = message.channel
    thread = channel if isinstance(channel, discord.Thread) else None
    answered_by_ta = thread is not None and str(thread.id) in ta_replies
    follow_up = (
        thread is not None
        and not (mentioned or is_post(message) or answered_by_ta)
        and route.mode == "forum"
        and route.follow_ups == "always"
        and await is_peoples_thread(thread, me)
    )
    new_post = is_post(message) or getattr(channel, "type", None) is discord.ChannelType.text
    return should_answer(route, Heard(mentioned, new_post, follow_up, answered_by_ta))


async def read_question(message: discord.Message, client: discord.Client, role_id: int | None, max_bytes: int, max_chars: int) -> Composed:
    """The message's text (a post's title first, the bot's mention gone) with the files read into it."""
    found = attachments_of(message)
    read = await read_attachments(found, downloader(client, max_bytes), max_bytes) if found else ()
    me = client.user.id if client.user else 0
    return compose(strip_mention(message.content, me, role_id), read, max_chars, post_title(message))


def is_ta(author: discord.User | discord.Member, settings: DiscordSettings) -> bool:
    if author.id in settings.ta_users:
        return True
    return isinstance(author, discord.Member) and any(role.id in settings.ta_roles for role in author.roles)


async def is_peoples_thread(thread: discord.Thread, me: int) -> bool:
    """A thread the bot may follow up in unasked: one it opened on a person's message, or a
    post a person (not another bot) started. A post whose starter is gone counts as a person's."""
    if thread.owner_id == me:
        return True
    try:
        starter = thread.starter_message or await thread.fetch_message(thread.id)
    except discord.NotFound:
        return True
    except discord.HTTPException as exc:  # cannot tell: stay quiet rather than answer a bot's thread
        log.info("discord: cannot read the post that opened %s (%s)", thread, exc)
        return False
    return not starter.author.bot


def attachments_of(message: discord.Message) -> list[Attachment]:
    return [Attachment(name=a.filename, content_type=a.content_type, size=a.size, url=a.url) for a in message.attachments]


def downloader(client: discord.Client, max_bytes: int) -> Download:
    """Fetch an attachment from Discord's CDN (sizes were checked before asking)."""

    async def download(attachment: Attachment) -> bytes | None:
        try:
            data = await client.http.get_from_cdn(attachment.url or "")
        except (discord.HTTPException, OSError) as exc:
            log.info("discord: cannot download the attachment %s (%s)", attachment.name, exc)
            return None
        return data[: max_bytes + 1]

    return download


def forum_problems(client: discord.Client, settings: DiscordSettings, route_of: RouteOf) -> list[str]:
    """One line per channel in `forum` mode that the bot cannot answer in, naming it and what to give the bot."""
    problems: list[str] = []
    seen: set[str] = set()
    for guild in client.guilds:
        seen.add(str(guild.id))
        if guild.me is None:  # not in the member cache: nothing to check against
            continue
        for channel in guild.channels:
            seen.add(str(channel.id))
            if route_of(channel, guild.id).mode != "forum":
                continue
            needs = FORUM_NEEDS if channel.type in (discord.ChannelType.forum, discord.ChannelType.media) else TEXT_FORUM_NEEDS
            if channel.type not in (discord.ChannelType.forum, discord.ChannelType.media, discord.ChannelType.text):
                continue
            allowed = channel.permissions_for(guild.me)
            missing = [need.replace("_", " ").title() for need in needs if not getattr(allowed, need)]
            if missing:
                problems.append(
                    f"discord: cannot answer posts in #{channel.name} ({channel.id}, {guild.name}), set to forum mode: "
                    f"the bot lacks {', '.join(missing)} there; give its role these permissions in that channel"
                )
    for key, route in settings.channels.items():
        if route.mode == "forum" and key not in seen:
            problems.append(f"discord: channel or guild {key} is set to forum mode in MENTOR_DISCORD__CHANNELS, but the bot cannot see it")
    return problems
