"""Issue 18's loop against the fake Slack and the fake Discord, with real slack-bolt and discord.py:
a declined question goes to the Slack TA queue, and a TA's answer comes back to the student's thread."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.discord_bot import create_platform as create_discord
from adapters.discord_bot.platform import DiscordPlatform
from adapters.slack import SlackPlatform
from adapters.slack import create_platform as create_slack
from adapters.slack.queue_render import ANSWER_IN_THREAD, DISMISS, EDIT, SEND_DRAFT
from bot.app import MentorApp
from bot.config.sections import DiscordSettings, SlackSettings
from bot.service.commands import ChatCommands
from bot.service.notices import ANSWER_IN_THREAD as CLAIMED
from bot.service.notices import ESCALATED
from models import EscalationPolicy
from tests.adapters.fake_discord import FakeDiscord, mention
from tests.adapters.fake_slack import (
    FakeSlack,
    block_action,
    event_body,
)
from tests.conftest import example_course_app, free_port, until

SECRET = "test-signing-secret"
QUEUE = "CTAQUEUE"
DECLINED = "Who won the 1998 football world cup final?"
NO_PINGS = {"parse": []}


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("escalation"), escalation=EscalationPolicy(ta_queue=QUEUE))
    yield app
    app.close()


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


@asynccontextmanager
async def fakes() -> AsyncIterator[Fakes]:
    slack, discord = FakeSlack(), FakeDiscord()
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


def test_a_discord_students_declined_question_is_answered_from_the_slack_queue_once_after_a_restart(tmp_path: Path) -> None:
    first = example_course_app(tmp_path, escalation=EscalationPolicy(ta_queue=QUEUE))

    async def scenario() -> None:
        async with fakes() as fake:
            question = mention(DECLINED)
            thread = int(question["id"])  # the thread opened on the question takes its id
            async with running(first, fake):
                await fake.discord.dispatch("MESSAGE_CREATE", question)
                await fake.slack.wait_for(lambda: queue_posts(fake.slack))
                [queued] = queue_posts(fake.slack)
                shown = blocks_text(queued)
                assert DECLINED in shown and "Discord thread" in shown and "Student " in shown
                assert "student" not in shown.lower().replace("student ", ""), "the student's name stays out (pseudonymous)"
                assert {EDIT, ANSWER_IN_THREAD, DISMISS} <= set(_action_ids(queued)) and SEND_DRAFT not in _action_ids(queued)
                await fake.discord.wait_for(lambda: len(fake.discord.created.get(thread, [])) == 2)
                assert ESCALATED in fake.discord.created[thread][1]["content"]
                escalation = (await until(lambda: first.escalations.open_ones()))[0]
                ts = escalation.queue_ref.split(":")[1]
                await fake.slack.send_envelope("interactive", block_action(ANSWER_IN_THREAD, str(escalation.id), message_ts=ts))
                await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
                assert ephemerals(fake.slack, "UTA1") == [CLAIMED]
            first.close()

            second = MentorApp(first.settings)  # a new process: nothing but the database carries over
            try:
                async with running(second, fake):
                    reply = event_body(queue_reply(ts, "France won, 3-0. @everyone <@&899999999999999999> <!channel>"), "EvTA1")
                    await fake.slack.send_envelope("events_api", reply)
                    await fake.discord.wait_for(lambda: len(fake.discord.created.get(thread, [])) == 3)
                    await fake.slack.send_envelope("events_api", reply, retry_attempt=1)
                    await fake.slack.wait_for(lambda: queue_updates(fake.slack))
                    # A second TA clicks after the first answered: told, and nothing more is sent.
                    await fake.slack.send_envelope("interactive", block_action(EDIT, str(escalation.id), user="UTA2", message_ts=ts))
                    await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA2"))
                    await asyncio.sleep(0.3)

                    answers = [c for c in fake.discord.posted(f"/channels/{thread}/messages")][2:]
                    assert len(answers) == 1, "the answer reaches the student once"
                    assert answers[0].body["allowed_mentions"] == NO_PINGS
                    content = answers[0].body["content"]
                    assert "Answer from a TA (Grace Hopper)" in content and "France won, 3-0." in content
                    assert "@everyone" not in content, "neutralised as well as not pinging"
                    [update] = queue_updates(fake.slack)
                    assert "Answered by Grace Hopper" in update["text"]
                    assert "Grace Hopper answered this question first" in ephemerals(fake.slack, "UTA2")[0]
                    assert not fake.slack.of("views.open"), "no modal for a closed question"
                    kept = second.escalations.get(escalation.id)
                    assert kept.status == "answered" and kept.answer.startswith("France won") and kept.answered_by == "Grace Hopper"
            finally:
                second.close()

    asyncio.run(scenario())


def _action_ids(message: dict[str, Any]) -> list[str]:
    blocks = message["blocks"] if isinstance(message["blocks"], list) else json.loads(message["blocks"])
    return [element["action_id"] for block in blocks if block["type"] == "actions" for element in block["elements"]]
