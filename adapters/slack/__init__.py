"""Slack: mentions in channels, direct messages and `/mentor`, votes by reaction, over Socket Mode or HTTP.

`mentor serve` finds `create_platform` here (see `bot.service.platforms`).
"""

from __future__ import annotations

from adapters.slack.platform import SlackPlatform
from bot.config.settings import Settings
from bot.service.commands import ChatCommands

__all__ = ["SlackPlatform", "create_platform"]


def create_platform(settings: Settings, commands: ChatCommands) -> SlackPlatform | None:
    """The Slack platform, or None when no bot token is set (Slack is not used)."""
    if not settings.slack.enabled:
        return None
    return SlackPlatform(settings.slack, commands, settings.answer, settings.attachments)
