"""Chat platforms. Each module defines `create_platform(settings, commands)` (see `bot.service.platforms`)."""
