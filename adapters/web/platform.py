"""The web platform: the chat page, its API and the course files, on one aiohttp site.

It is a chat platform like Slack and Discord, through the same seam: `mentor serve`
starts it (by default on 127.0.0.1:8765 when no chat platform is configured), so an
instructor can try what students will get before connecting one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from adapters.web.ask_ta import AskTaApi
from adapters.web.chat import ChatApi
from adapters.web.files import FILES_PREFIX, CourseFiles
from bot.config.settings import Settings
from bot.ops.http_site import listen, local_url
from bot.service.commands import ChatCommands

STATIC = Path(__file__).parent / "static"
ASSETS = {"chat.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SHUTDOWN_TIMEOUT_S = 10.0
"""How long open requests (answers being streamed) get once `stop()` closes the site."""
DRAIN_TIMEOUT_S = 15.0
"""Then how long answers whose page has gone get to finish and be recorded; both stay below `mentor serve`'s 30 s."""


def build_app(settings: Settings, commands: ChatCommands, chat: ChatApi | None = None) -> web.Application:
    """The aiohttp application: page, static files, `/api`, `/files` and the instructor's `/admin`."""
    from adapters.web.admin import add_admin_routes

    app = web.Application(client_max_size=256 * 1024)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", _static("index.html"))
    for name in ASSETS:  # by name: the folder also holds the admin page's files, which `/admin` guards
        app.router.add_get(f"/static/{name}", _static(name))
    (chat or ChatApi(commands)).add_routes(app)
    AskTaApi(commands).add_routes(app)
    CourseFiles(commands).add_routes(app)
    add_admin_routes(app, commands, settings.web)
    return app


def _static(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    headers = {"Content-Type": ASSETS.get(name, "text/html; charset=utf-8"), "Cache-Control": "no-cache"}

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers=headers)

    return serve


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response: no sniffing, no referrer; every page but a course file: the strict CSP (`/files` sets its own)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if not request.path.startswith(FILES_PREFIX):
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)


class WebPlatform:
    """`start()` listens (raising `PlatformError` naming the setting); `stop()` closes and drains."""

    name = "web"

    def __init__(self, settings: Settings, commands: ChatCommands) -> None:
        self.settings = settings.web
        self.chat = ChatApi(commands)
        self.app = build_app(settings, commands, self.chat)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return local_url(self.settings.host, self.settings.port) + "/"

    async def start(self) -> None:
        self._runner = await listen(
            self.app, self.settings.host, self.settings.port, "MENTOR_WEB__HOST, MENTOR_WEB__PORT", SHUTDOWN_TIMEOUT_S
        )

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        await self.chat.drain(DRAIN_TIMEOUT_S)

    def is_connected(self) -> bool:
        """True while the site is listening."""
        return self._runner is not None
