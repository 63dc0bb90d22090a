"""The TA queue in a private Discord channel, for a course without Slack: one message per escalation
with buttons (Send the draft, Edit and send, Answer in thread, Dismiss); the first TA to act wins.

The buttons are `DynamicItem`s whose custom id carries the escalation's id, so they work after a
restart; the gateway authenticates every click, and an id the database does not know, or one whose
queue message is not in the channel clicked in, is refused. "Edit and send" and "Dismiss" open a
modal (`queue_modals`), matched on submission by its custom id, so it too outlives a restart.
"Answer in thread" opens a thread on the queue message: the claiming TA's first reply there is the answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from adapters.discord_bot.queue_modals import dismiss_modal, edit_modal, read_submission
from adapters.discord_bot.render import neutralise, strip_mention
from adapters.discord_bot.slash import NO_MENTIONS
from bot.errors import PlatformError
from bot.service.escalation import Closing, EscalationService, waited_s
from bot.service.notices import (
    ANSWER_IN_THREAD,
    EMPTY_TA_ANSWER,
    UNKNOWN_ESCALATION,
    closed_already,
    closed_line,
    not_delivered,
    undelivered_mark,
)
from models import Course, Escalation

log = logging.getLogger(__name__)

PREFIX = "mentor:queue:"
ACTIONS = {"send": "Send the draft", "edit": "Edit and send", "thread": "Answer in thread", "dismiss": "Dismiss"}
STYLES = {
    "send": discord.ButtonStyle.primary,
    "edit": discord.ButtonStyle.secondary,
    "thread": discord.ButtonStyle.primary,
    "dismiss": discord.ButtonStyle.danger,
}
MESSAGE_LIMIT = 2000
QUESTION_CHARS, DRAFT_CHARS = 600, 900


class QueueButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=re.escape(PREFIX) + r"(?P<action>send|edit|thread|dismiss):(?P<id>[0-9]{1,18})"):
    """One of a queue message's buttons; the click goes to the client's `ta_queue`."""

    def __init__(self, action: str, escalation_id: int) -> None:
        super().__init__(discord.ui.Button(label=ACTIONS[action], style=STYLES[action], custom_id=f"{PREFIX}{action}:{escalation_id}"))
        self.action, self.escalation_id = action, escalation_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]) -> QueueButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        queue = getattr(interaction.client, "ta_queue", None)
        if isinstance(queue, DiscordTaQueue):
            await queue.clicked(interaction, self.action, self.escalation_id)


def render_queue_message(escalation: Escalation, *, reposted: bool = False) -> str:
    """The question, where it came from, its age, the bot's draft: neutralised, within Discord's 2,000 characters."""
    origin = f"[{escalation.place.platform.capitalize()} thread]({escalation.place.link})" if escalation.place.link else escalation.place.platform.capitalize()
    header = f"{'🔁 **Still waiting** · ' if reposted else ''}**{escalation.student}** on {origin} · {escalation.course} · asked <t:{int(escalation.created_at.timestamp())}:R> · {escalation.reason}"
    lines = [header, "> " + escalation.question[:QUESTION_CHARS].replace("\n", "\n> ")]
    if escalation.draft:
        lines += ["**The bot's draft**", escalation.draft[:DRAFT_CHARS]]
    return neutralise("\n".join(lines))[:MESSAGE_LIMIT]


def _view(escalation: Escalation) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        if action != "send" or escalation.draft:
            view.add_item(QueueButton(action, escalation.id))
    return view


class DiscordTaQueue:
    """`TaQueue` for courses whose `escalation.ta_queue_platform` is `discord`."""

    def __init__(self, client: discord.Client, escalations: EscalationService, courses: list[Course]) -> None:
        self.client = client
        self.escalations = escalations
        self.courses = courses
        client.add_dynamic_items(QueueButton)

    @property
    def channels(self) -> set[str]:
        return {c.escalation.ta_queue for c in self.courses if c.escalation.ta_queue and c.escalation.ta_queue_platform == "discord"}

    def check(self) -> None:
        """Startup (once ready): every Discord queue channel is one the bot sees and may post in, else `PlatformError` naming the setting."""
        for number, course in enumerate(self.courses):
            channel_id = course.escalation.ta_queue
            if not channel_id or course.escalation.ta_queue_platform != "discord":
                continue
            setting = f"courses.{number}.escalation.ta_queue (course {course.name!r})"
            channel = self.client.get_channel(int(channel_id)) if channel_id.isdigit() else None
            if not isinstance(channel, discord.TextChannel):
                raise PlatformError(
                    f"The TA queue channel {channel_id} in {setting} is not a text channel this bot can see: "
                    "set it to the id of a private channel in the course's server (Copy Channel ID), and add the bot to it."
                )
            allowed = channel.permissions_for(channel.guild.me)
            if not (allowed.view_channel and allowed.send_messages and allowed.create_public_threads):
                raise PlatformError(
                    f"The bot cannot post in the TA queue channel {channel_id} ({setting}): give its role View Channel, "
                    "Send Messages and Create Public Threads there."
                )
        if self.channels:
            self.escalations.queues["discord"] = self

    async def post(self, escalation: Escalation, channel: str, *, reposted: bool = False) -> str:
        try:
            sent = await self.client.get_partial_messageable(int(channel)).send(
                render_queue_message(escalation, reposted=reposted), view=_view(escalation), allowed_mentions=NO_MENTIONS
            )
        except (discord.HTTPException, ValueError) as exc:
            raise PlatformError(f"Could not post to the Discord TA queue {channel}: {exc}") from exc
        return f"{channel}:{sent.id}"

    async def show_closed(self, escalation: Escalation) -> None:
        channel, message = (escalation.queue_ref or ":").split(":", 1)
        line = closed_line(escalation.status, escalation.answered_by or "a TA", waited_s(escalation))
        text = f"✅ **{line}**\n> {escalation.question[:QUESTION_CHARS]}"
        if escalation.delivery_problem:
            text += f"\n⚠️ {undelivered_mark(escalation.status, escalation.delivery_problem)}"
        try:
            await self.client.get_partial_messageable(int(channel)).get_partial_message(int(message)).edit(content=neutralise(text)[:MESSAGE_LIMIT], view=None)
        except (discord.HTTPException, ValueError) as exc:  # the answer went out; only the queue's view is stale
            log.warning("discord: could not mark escalation %s closed in the queue (%s)", escalation.id, exc)

    async def clicked(self, interaction: discord.Interaction, action: str, escalation_id: int) -> None:
        modal = action in ("edit", "dismiss")
        if not modal:  # within Discord's 3 s, before the database is asked; a modal must be the first answer instead
            await interaction.response.defer()
        escalation = await self._known(interaction, escalation_id)
        if modal and escalation is not None and escalation.status == "open":
            await self._open_modal(interaction, action, escalation)
            return
        if modal:
            await interaction.response.defer()
        if escalation is None:
            await self._tell(interaction, UNKNOWN_ESCALATION)
            return
        if action == "send":
            closing = await self.escalations.answer(escalation_id, escalation.draft or "", _name(interaction))
        elif action in ("edit", "dismiss"):  # closed already: the TA is told by whom
            closing = Closing(escalation, False)
        else:
            closing = await self.escalations.claim(escalation_id, str(interaction.user.id))
            if closing.won and interaction.message is not None:
                try:
                    await interaction.message.create_thread(name=f"Answer: {escalation.question[:80]}")
                except discord.HTTPException as exc:  # a thread exists already (another claim): reply there
                    log.info("discord: no new thread on queue message %s (%s)", interaction.message.id, exc)
                await self._tell(interaction, ANSWER_IN_THREAD)
                return
        await self._report(interaction, closing)

    async def _open_modal(self, interaction: discord.Interaction, action: str, escalation: Escalation) -> None:
        """The modal is the click's only answer, due within 3 s. Stopped first, so discord.py keeps no object
        waiting for its submission: `submitted` reads that from the payload, after a restart too."""
        modal = edit_modal(escalation) if action == "edit" else dismiss_modal(escalation)
        modal.stop()
        try:
            await interaction.response.send_modal(modal)
        except discord.HTTPException as exc:  # the click expired, say: the TA clicks again
            log.warning("discord: could not open the %s modal for escalation %s (%s)", action, escalation.id, exc)

    async def submitted(self, interaction: discord.Interaction) -> None:
        """A modal's submission: "Edit and send" answers the student, "Dismiss" closes with the optional note.
        Another modal's (not our custom id) is left alone."""
        submission = read_submission(dict(interaction.data or {}))
        if submission is None:
            return
        await interaction.response.defer()
        escalation = None if submission.escalation_id is None else await self._known(interaction, submission.escalation_id)
        if escalation is None:
            await self._tell(interaction, UNKNOWN_ESCALATION)
        elif submission.kind == "edit" and not submission.text:
            await self._tell(interaction, EMPTY_TA_ANSWER)
        elif submission.kind == "edit":
            await self._report(interaction, await self.escalations.answer(escalation.id, submission.text, _name(interaction)))
        else:
            await self._report(interaction, await self.escalations.dismiss(escalation.id, _name(interaction), submission.text or None))

    async def _known(self, interaction: discord.Interaction, escalation_id: int) -> Escalation | None:
        """The escalation a click or a modal names, when its queue message is in the channel it came from:
        a made-up id, or one from another course's queue, is nobody's here."""
        escalation = await self.escalations.get(escalation_id)
        channel = (escalation.queue_ref or "").split(":", 1)[0] if escalation else ""
        return escalation if escalation is not None and channel == str(interaction.channel_id) else None

    async def take_reply(self, message: discord.Message) -> bool:
        """A message in a queue message's thread: the claiming TA's is the answer; True when it was in one (never a question)."""
        channel = message.channel
        parent = getattr(channel, "parent_id", None)
        if not isinstance(channel, discord.Thread) or str(parent) not in self.channels:
            return False
        escalation = await self.escalations.by_queue_message(f"{parent}:{channel.id}")
        if escalation and escalation.status == "open" and escalation.claimed_by == str(message.author.id) and not message.author.bot:
            me = self.client.user.id if self.client.user else 0
            text = strip_mention(message.content, me)
            if not text:
                return True
            closing = await self.escalations.answer(escalation.id, text, message.author.display_name)
            if closing.escalation is not None and closing.escalation.delivery_problem:
                problem = not_delivered(closing.escalation.status, closing.escalation.delivery_problem)
                await message.reply(problem, allowed_mentions=NO_MENTIONS, mention_author=False)
        return True

    async def _report(self, interaction: discord.Interaction, closing: Closing) -> None:
        if closing.escalation is None:
            await self._tell(interaction, UNKNOWN_ESCALATION)
        elif not closing.won:
            await self._tell(interaction, closed_already(closing.escalation.status, closing.escalation.answered_by))
        elif closing.escalation.delivery_problem:
            await self._tell(interaction, not_delivered(closing.escalation.status, closing.escalation.delivery_problem))

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        try:
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("discord: could not tell a TA: %s (%s)", text, exc)


def _name(interaction: discord.Interaction) -> str:
    """The TA's name as the server shows it, for "answered by" and (when the course allows it) the student's answer."""
    return getattr(interaction.user, "display_name", None) or str(interaction.user.id)
