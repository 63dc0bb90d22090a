"""The slash commands: `/ask` (answer only the asker sees), `/reindex`, `/status`."""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord
from discord import app_commands

from adapters.discord_bot.feedback import link
from adapters.discord_bot.inflight import InFlight
from adapters.discord_bot.render import neutralise, render_answer, render_notice, split_message
from bot.config.sections import DiscordSettings
from bot.service.commands import ChatCommands
from bot.service.notices import for_instructor, for_student
from models import Answer, Question

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
CourseOf = Callable[[discord.abc.Snowflake | None, int | None], str | None]
"""The course of a channel (and its guild), from `settings.discord.channels`."""


def is_instructor(interaction: discord.Interaction, instructor_roles: list[int]) -> bool:
    """Manage Server (as Discord resolved it for this channel) or one of the configured roles."""
    member = interaction.user
    if not isinstance(member, discord.Member):
        return False
    return interaction.permissions.manage_guild or any(role.id in instructor_roles for role in member.roles)


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Ephemeral: the first response, or follow-ups after a defer; long text in several messages."""
    for chunk in split_message(text):
        if interaction.response.is_done():
            await interaction.followup.send(chunk, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(chunk, ephemeral=True, allowed_mentions=NO_MENTIONS)


class MentorTree(app_commands.CommandTree):
    """Answers each interaction once, even when a resumed gateway replays it."""

    def __init__(self, client: discord.Client, commands: ChatCommands, inflight: InFlight) -> None:
        super().__init__(client)
        self.chat = commands
        self.inflight = inflight

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return not self.inflight.closed and await self.chat.deduper.first_time(f"discord:interaction:{interaction.id}")

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("discord /%s failed", interaction.command.name if interaction.command else "?", exc_info=error)


def build_tree(
    client: discord.Client, commands: ChatCommands, settings: DiscordSettings, course_of: CourseOf, inflight: InFlight
) -> MentorTree:
    tree = MentorTree(client, commands, inflight)

    def course_here(interaction: discord.Interaction) -> str | None:
        return course_of(interaction.channel, interaction.guild_id)

    @tree.command(name="ask", description="Ask about the course materials; only you see the answer.")
    @app_commands.describe(question="Your question")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        async with inflight.work():
            await interaction.response.defer(ephemeral=True, thinking=True)
            asked = Question(text=question, course=course_here(interaction), asker=str(interaction.user.id), platform="discord")
            answer: Answer | None = None
            try:
                answer = await commands.ask(asked)
                chunks = render_answer(answer)
            except Exception as exc:
                chunks = [render_notice(for_student(exc, f"discord /ask in {interaction.channel_id}"))]
            sent = [
                await interaction.followup.send(chunk, ephemeral=True, allowed_mentions=NO_MENTIONS, wait=True)
                for chunk in chunks
            ]
            # Nobody can react to an ephemeral message; linked anyway, so the question knows its messages.
            if answer is not None:
                await link(commands, answer, sent)

    @tree.command(name="reindex", description="Re-read the course materials now (instructors).")
    @app_commands.describe(course="Which course; default: this channel's")
    @app_commands.guild_only()
    async def reindex(interaction: discord.Interaction, course: str | None = None) -> None:
        allowed = is_instructor(interaction, settings.instructor_roles)
        async with inflight.work():
            try:
                if allowed:  # a run takes longer than the 3 s Discord waits for a response
                    await interaction.response.defer(ephemeral=True, thinking=True)
                who = f"{interaction.user.name} on Discord"
                record = await commands.reindex(course or course_here(interaction), who, allowed=allowed)
                text = neutralise(record.summary())
            except Exception as exc:
                text = render_notice(for_instructor(exc, f"discord /reindex in {interaction.channel_id}"))
            await reply(interaction, text)

    @tree.command(name="status", description="The model and each course's index.")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            text = neutralise(await commands.status())
        except Exception as exc:
            text = render_notice(for_instructor(exc, "discord /status"))
        await reply(interaction, text)

    return tree


async def sync_commands(tree: app_commands.CommandTree, guild_ids: list[int]) -> None:
    """Guild commands appear at once (for the configured guilds); global ones can take up to an hour."""
    if not guild_ids:
        await tree.sync()
        return
    for guild_id in guild_ids:
        guild = discord.Object(id=guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)
