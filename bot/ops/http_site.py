"""Listening on a host and port, the one way every HTTP face of the bot does it (Slack's
events, the web page, health and metrics): a port in use names the settings to change."""

from __future__ import annotations

from aiohttp import web

from bot.errors import PlatformError

BACKLOG = 1024
"""Connections the kernel holds while the loop is busy: a class's burst of Slack events arrives at
once, and past aiohttp's default of 128 the rest wait out TCP's 1 s, 3 s, 7 s SYN retries."""


def local_url(host: str, port: int) -> str:
    """How a client on this machine reaches a site bound to `host` (a wildcard address means loopback)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


async def listen(app: web.Application, host: str, port: int, settings: str, shutdown_timeout: float = 60.0) -> web.AppRunner:
    """Serve `app`; raises `PlatformError` naming `settings` (e.g. "MENTOR_WEB__HOST, MENTOR_WEB__PORT") when it cannot."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=BACKLOG).start()
    except OSError as exc:
        await runner.cleanup()
        raise PlatformError(f"Cannot listen on {host}:{port} ({settings}): {exc.strerror or exc}") from None
    return runner
