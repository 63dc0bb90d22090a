"""Slack event payloads into what the core reads: plain question text, thread turns, event keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from models import Question, Turn, last_turns

ANSWERED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
"""Message subtypes a person writes; edits, joins and deletions are not questions."""

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
"""Runs work as one of the platform's tasks (named by the second argument), so `stop()` can drain it."""

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in the workspace, from `auth.test`."""

    user_id: str
    bot_id: str | None
    team_id: str | None
    workspace_url: str | None = None
    """`https://<workspace>.slack.com/`, for links to messages."""

    def link_to(self, event: dict[str, Any]) -> str | None:
        """The message's permalink, built as Slack builds it (no `chat.getPermalink` call per question)."""
        if not self.workspace_url or "ts" not in event:
            return None
        channel, thread = event["channel"], event.get("thread_ts")
        link = f"{self.workspace_url.rstrip('/')}/archives/{channel}/p{str(event['ts']).replace('.', '')}"
        return f"{link}?thread_ts={thread}&cid={channel}" if thread else link


def to_plain(text: str, bot_user_id: str) -> str:
    """Slack markup as the model should read it: the bot's mention gone, other markup as plain text."""
    text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    text = _USER.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: m.group(2) or "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def to_question(
    event: dict[str, Any], bot: BotIdentity, course: str | None, history: tuple[Turn, ...] = (), text: str | None = None
) -> Question | None:
    """The question a message event asks, in the core's words; None when it says nothing but the mention.

    `text` replaces the event's own (already plain) when files were read into it.
    """
    text = to_plain(str(event.get("text", "")), bot.user_id) if text is None else text.strip()
    if not text:
        return None
    return Question(text=text, course=course, asker=event.get("user"), platform="slack", history=history, link=bot.link_to(event))


def is_from_a_bot(event: dict[str, Any], bot: BotIdentity) -> bool:
    """Bots (this one included) are never answered, so two bots cannot talk to each other forever."""
    return bool(event.get("bot_id")) or event.get("subtype") == "bot_message" or event.get("user") == bot.user_id


def is_question(event: dict[str, Any], bot: BotIdentity) -> bool:
    return not is_from_a_bot(event, bot) and event.get("subtype") in ANSWERED_SUBTYPES and bool(event.get("user"))


def mentions(event: dict[str, Any], bot: BotIdentity) -> bool:
    return f"<@{bot.user_id}" in str(event.get("text", ""))


def unasked(event: dict[str, Any], bot: BotIdentity) -> bool:
    """A channel message that does not mention the bot: answered only because of its channel's mode."""
    return event.get("channel_type") != "im" and event.get("type") != "app_mention" and not mentions(event, bot)


def is_new_post(event: dict[str, Any]) -> bool:
    """A top-level message (a thread's parent), not a reply in a thread."""
    return not event.get("thread_ts") or event.get("thread_ts") == event.get("ts")


def missing_fields(event: dict[str, Any]) -> list[str]:
    """What a message event lacks that an answer needs (where to post it, and under what)."""
    return [name for name in ("channel", "ts", "user") if not isinstance(event.get(name), str) or not event.get(name)]


def event_key(body: dict[str, Any]) -> str:
    """The same key for every delivery of one event, whether retried or replayed."""
    event = body.get("event") or {}
    team = body.get("team_id") or event.get("team") or ""
    # Without an event id: the message's channel and ts, or (a reaction, which has neither) its event_ts.
    fallback = str(event.get("channel", "")) + str(event.get("ts") or event.get("event_ts", ""))
    return f"slack:{team}:{body.get('event_id') or fallback}"


def thread_of(event: dict[str, Any]) -> str:
    """The thread to answer in: the event's own, or a new one under the message."""
    return str(event.get("thread_ts") or event["ts"])


def thread_turns(messages: list[dict[str, Any]], before_ts: str, bot: BotIdentity, keep: int) -> tuple[Turn, ...]:
    """The last `keep` messages before `before_ts`, the bot's as `assistant`, everyone else's as `user`."""
    turns: list[Turn] = []
    for message in messages:
        if float(message.get("ts", "0")) >= float(before_ts):
            continue
        text = to_plain(str(message.get("text", "")), bot.user_id)
        mine = message.get("user") == bot.user_id or (bot.bot_id is not None and message.get("bot_id") == bot.bot_id)
        if text:
            turns.append(Turn(role="assistant" if mine else "user", text=text))
    return last_turns(turns, keep)
