"""The web: a chat page on 127.0.0.1 to try the bot in a browser, beside Discord and Slack.

`mentor serve` finds `create_platform` here (see `bot.service.platforms`).
"""

from __future__ import annotations

from adapters.web.platform import WebPlatform
from bot.config.settings import Settings
from bot.service.commands import ChatCommands

__all__ = ["WebPlatform", "create_platform"]


def create_platform(settings: Settings, commands: ChatCommands) -> WebPlatform | None:
    """The web platform; unless `web.enabled` says otherwise, on only when no chat platform is configured."""
    enabled = settings.web.enabled
    if enabled is None:
        enabled = not (settings.slack.enabled or settings.discord.enabled)
    return WebPlatform(settings, commands) if enabled else None
