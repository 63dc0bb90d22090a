"""The seam between the core and the chat platforms.

Each module in `adapters/` may define `create_platform(settings, commands)`, returning
a `ChatPlatform`, or None when its credentials are not set. `mentor serve` finds them
by name, so a new platform is one new module and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Protocol

from bot.config.settings import Settings
from bot.service.commands import ChatCommands

ADAPTERS_PACKAGE = "adapters"


class ChatPlatform(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and begin handling events; raises `PlatformError` (naming the setting) when it cannot."""
        ...

    async def stop(self) -> None:
        """Stop taking events, let in-flight answers finish, disconnect."""
        ...

    def is_connected(self) -> bool:
        """Connected to the platform (or listening, for a server) now: what `/healthz` reports."""
        ...


def configured_platforms(settings: Settings, commands: ChatCommands) -> list[ChatPlatform]:
    package = importlib.import_module(ADAPTERS_PACKAGE)
    platforms: list[ChatPlatform] = []
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{ADAPTERS_PACKAGE}.{module_info.name}")
        create = getattr(module, "create_platform", None)
        platform = create(settings, commands) if create else None
        if platform is not None:
            platforms.append(platform)
    return platforms
