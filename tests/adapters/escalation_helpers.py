"""Both chat platforms on one ChatCommands against the fake Slack and the fake Discord, for the
escalation tests and `bench.escalation_day`: a Slack TA queue and students on either platform."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from adapters.discord_bot import create_platform as create_discord
from adapters.discord_bot.platform import DiscordPlatform
from adapters.slack import SlackPlatform
from adapters.slack import create_platform as create_slack
from bot.app import MentorApp
from bot.config.sections import DiscordSettings, SlackSettings
from bot.service.commands import ChatCommands
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.fake_slack import FakeSlack
from tests.conftest import free_port

SECRET = "test-signing-secret"
QUEUE = "CTAQUEUE"


@dataclass
class Fakes:
    slack: FakeSlack
    discord: FakeDiscord


@dataclass
class Running:
    fakes: Fakes
    commands: ChatCommands
    slack: SlackPlatform
    discord: DiscordPlatform
    slack_settings: SlackSettings

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.slack_settings.port}{self.slack_settings.path}"


_workspaces = itertools.count()


@asynccontextmanager
async def fakes() -> AsyncIterator[Fakes]:
    slack, discord = FakeSlack(first_ts=1 + 1000 * next(_workspaces)), FakeDiscord()
    await slack.start()
    await discord.start()
    slack.channels[QUEUE] = {"id": QUEUE, "name": "ta-queue", "is_member": True}
    slack.names["UTA1"], slack.names["UTA2"] = "Grace Hopper", "Alan Turing"
    try:
        yield Fakes(slack, discord)
    finally:
        await slack.stop()
        await discord.stop()


@asynccontextmanager
async def running(mentor: MentorApp, fake: Fakes, **slack: Any) -> AsyncIterator[Running]:
    """Both platforms on one ChatCommands, as `mentor serve` runs them, against the fakes."""
    slack_settings = SlackSettings(
        **{"bot_token": "xoxb-test", "app_token": "xapp-test", "signing_secret": SECRET, "api_url": fake.slack.api_url, "port": free_port()} | slack
    )
    discord_settings = DiscordSettings(token=SecretStr("bot-token"), api_url=fake.discord.api_url, gateway_url=fake.discord.gateway_url)
    settings = mentor.settings.model_copy(update={"slack": slack_settings, "discord": discord_settings})
    commands = ChatCommands(mentor)
    slack_platform, discord_platform = create_slack(settings, commands), create_discord(settings, commands)
    assert slack_platform is not None and discord_platform is not None
    await slack_platform.start()
    try:
        await discord_platform.start()
        try:
            yield Running(fake, commands, slack_platform, discord_platform, slack_settings)
        finally:
            await discord_platform.stop()
    finally:
        await slack_platform.stop()


def queue_posts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [call.args for call in fake.of("chat.postMessage") if call.args.get("channel") == QUEUE]


def blocks_text(message: dict[str, Any]) -> str:
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks)


def ephemerals(fake: FakeSlack, user: str) -> list[str]:
    return [call.args["text"] for call in fake.of("chat.postEphemeral") if call.args.get("user") == user]


def queue_updates(fake: FakeSlack) -> list[dict[str, Any]]:
    return [call.args for call in fake.of("chat.update") if call.args.get("channel") == QUEUE]


def queue_reply(ts: str, text: str, user: str = "UTA1", reply_ts: str = "1700000300.000001") -> dict[str, Any]:
    """A TA's message in the queue message's thread."""
    return {"type": "message", "channel": QUEUE, "channel_type": "channel", "user": user, "text": text, "ts": reply_ts, "thread_ts": ts}
