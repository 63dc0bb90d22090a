"""Slack's side of channel modes: which channel messages are questions, and whether the
bot can listen where a channel is in `forum` mode. `bot.service.channels` decides; this
module reads Slack's events for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import BotIdentity, Spawn, is_from_a_bot, is_new_post, is_question, mentions
from bot.config.sections import ChannelRoute, SlackSettings
from bot.service.channels import Heard, TaReplies, route_for, should_answer

log = logging.getLogger(__name__)

Take = Callable[[dict[str, Any], dict[str, Any]], None]
"""Answer the event (its body, then the event): the platform's own `_take`."""


class ChannelListener:
    """Channel messages, by mode: mentions are heard through `app_mention` (where the mode is not
    `off`), so a forum channel's mention is one answer, not two, and still answered when the app
    lacks the `message.channels` subscription; `forum` channels hear the rest through `message`."""

    def __init__(self, settings: SlackSettings, client: AsyncWebClient, bot: Callable[[], BotIdentity], take: Take, spawn: Spawn) -> None:
        self.settings = settings
        self.client = client
        self.bot = bot
        self.take = take
        self.spawn = spawn
        self.ta_replies = TaReplies()

    def route_of(self, body: dict[str, Any], event: dict[str, Any]) -> ChannelRoute:
        return route_for([str(event.get("channel", "")), str(body.get("team_id", ""))], self.settings.channels)

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if self.route_of(body, event).mode != "off" and is_question(event, self.bot()):
            self.take(body, event)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A DM is a question; a channel message is one in a `forum` channel (a mention comes as `app_mention`)."""
        if event.get("channel_type") == "im":
            if is_question(event, self.bot()):
                self.take(body, event)
            return
        thread = f"{event.get('channel')}:{event.get('thread_ts')}"
        if event.get("thread_ts") and event.get("user") in self.settings.ta_users:
            self.ta_replies.note(thread)
        route = self.route_of(body, event)
        if route.mode != "forum" or not is_question(event, self.bot()) or mentions(event, self.bot()):
            return  # a mention comes as `app_mention` too, and is answered from that one
        heard = Heard(False, is_new_post(event), ta_answered=thread in self.ta_replies)
        if not (heard.new_post or heard.ta_answered) and route.follow_ups == "always":
            self.spawn(self._follow_up(body, event), f"follow-up in {event.get('channel')}")
        elif should_answer(route, heard):
            self.take(body, event)

    async def _follow_up(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A reply in a forum thread, answered unasked when a person (not another bot) started the thread."""
        try:
            response = await self.client.conversations_replies(channel=str(event["channel"]), ts=str(event["thread_ts"]), limit=1)
        except SlackApiError as exc:
            log.info("slack: cannot read the thread in %s (%s); its follow-up is left to people", event["channel"], exc.response.get("error"))
            return
        parent = next(iter(response.get("messages") or []), None)
        if parent is not None and not is_from_a_bot(parent, self.bot()):
            self.take(body, event)

    async def check_forums(self) -> None:
        """Warn, naming the channel, where a forum-mode channel is one the bot cannot read or post in."""
        for channel, route in self.settings.channels.items():
            if route.mode != "forum":
                continue
            try:
                info = (await self.client.conversations_info(channel=channel)).get("channel") or {}
            except SlackApiError as exc:
                log.warning("slack: channel %s is set to forum mode, but the bot cannot see it (%s)", channel, exc.response.get("error"))
                continue
            if not info.get("is_member"):
                log.warning("slack: #%s (%s) is set to forum mode, but the bot is not in it: /invite it there", info.get("name"), channel)
