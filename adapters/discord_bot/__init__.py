"""Discord: answers @mentions in threads, `/ask`, `/reindex` and `/status` slash commands."""

from __future__ import annotations

from adapters.discord_bot.platform import DiscordPlatform
from bot.config.settings import Settings
from bot.service.commands import ChatCommands

__all__ = ["DiscordPlatform", "create_platform"]


def create_platform(settings: Settings, commands: ChatCommands) -> DiscordPlatform | None:
    """The platform, or None when no token is set (`MENTOR_DISCORD__TOKEN`)."""
    return DiscordPlatform(settings, commands) if settings.discord.enabled else None
