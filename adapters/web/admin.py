"""The instructor's page at `/admin`: what the bot knows, what it was asked, what it could not answer.

One HTML page (plain HTML, CSS and JavaScript from `static/`) over a small JSON API:
the courses' index status, reindex runs, questions the materials did not cover,
recent questions and feedback. A reindex started here goes through the same
`ReindexService` as the schedule and the slash commands, so it is single-flight per
course; its progress is streamed to the page as server-sent events.

Every route checks access first: with `web.admin_token` set, the token (a bearer
header, or `?token=` on the page and the URLs it loads itself); without one, only a
request from this machine gets in.

    app = web.Application()
    add_admin_routes(app, commands, settings.web)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from adapters.web.admin_access import LOOPBACK_NAMES, Access, Refusal, access_refusal, bearer
from adapters.web.admin_json import API_HEADERS, asked_json, json_response, limit_of, requester
from adapters.web.admin_runs import SERVER_STOPPING, LiveRun, stream_run
from adapters.web.admin_verified import AdminVerified
from bot.config.sections import WebSettings
from bot.errors import UnknownCourseError
from bot.service.commands import ChatCommands
from bot.service.notices import NoticeKind, for_instructor

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
ASSETS = {"admin.js": "text/javascript", "admin.css": "text/css"}
ASSET_QUERY = "{{asset_query}}"
"""Where the page's asset URLs get `?token=…` when the page itself was opened with it."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NOTICE_STATUS: dict[NoticeKind, int] = {"refused": 400, "busy": 503, "missing": 404, "failed": 503, "ignored": 429}
NO_LIVE_RUN = "No reindex of {course} was started from this page since the server started."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_admin_routes(app: web.Application, commands: ChatCommands, settings: WebSettings) -> None:
    """Every route under /admin (page, its static files, its JSON API)."""
    AdminPage(commands, settings).add_to(app)


class AdminPage:
    def __init__(self, commands: ChatCommands, settings: WebSettings) -> None:
        self.commands = commands
        self.mentor = commands.mentor
        secret = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self.token = secret.encode() if secret else None
        """An empty MENTOR_WEB__ADMIN_TOKEN counts as unset: this machine only, never "any token"."""
        self.hosts = LOOPBACK_NAMES | {settings.host.lower(), *(host.lower() for host in settings.allowed_hosts)}
        self.runs: dict[str, LiveRun] = {}
        """The latest run started here, per course (kept when over, for a late watcher)."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    def add_to(self, app: web.Application) -> None:
        routes = [
            ("GET", "/admin", self.page, "page"),
            ("GET", "/admin/", self.page, "page"),
            ("GET", "/admin/static/{name}", self.asset, "asset"),
            ("GET", "/admin/api/status", self.status, "api"),
            ("GET", "/admin/api/history", self.history, "api"),
            ("GET", "/admin/api/gaps", self.gaps, "api"),
            ("GET", "/admin/api/repeats", self.repeats, "api"),
            ("GET", "/admin/api/questions", self.questions, "api"),
            ("GET", "/admin/api/feedback", self.feedback, "api"),
            ("POST", "/admin/api/reindex/{course}", self.start_reindex, "api"),
            ("GET", "/admin/api/reindex/{course}/events", self.reindex_events, "page"),
        ]
        routes += [(method, path, handler, "api") for method, path, handler in AdminVerified(self.mentor, self._course).routes()]
        for method, path, handler, access in routes:
            app.router.add_route(method, path, self._guarded(handler, access))
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    # --- access ---------------------------------------------------------------------------

    def _guarded(self, handler: Handler, access: Access) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            refusal = access_refusal(self.token, self.hosts, request, access)
            if refusal is not None:
                return self._refuse(refusal, access)
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as exc:
                notice = for_instructor(exc, f"admin page {request.method} {request.path}")
                return json_response({"error": notice.text, "reference": notice.reference}, NOTICE_STATUS[notice.kind])

        return guarded

    def _refuse(self, refusal: Refusal, access: Access) -> web.Response:
        headers = {"WWW-Authenticate": 'Bearer realm="mentor-admin"'} if refusal.status == 401 else {}
        if access == "api":
            return json_response({"error": refusal.message}, refusal.status, headers)
        return web.Response(text=refusal.message, status=refusal.status, headers=PAGE_HEADERS | headers)

    # --- the page -------------------------------------------------------------------------

    @cached_property
    def template(self) -> str:
        return (STATIC / "admin.html").read_text(encoding="utf-8")

    async def page(self, request: web.Request) -> web.Response:
        # Assets are loaded by URL, with no header: they carry the token the page was opened with.
        by_query = self.token is not None and bearer(request) is None
        query = "?token=" + quote(request.query["token"], safe="") if by_query else ""
        html = self.template.replace(ASSET_QUERY, query.replace("&", "&amp;"))
        return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound(text=f"No file {name} here.")
        return web.FileResponse(
            STATIC / name, headers={"Content-Type": ASSETS[name], "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        )

    # --- the JSON API ---------------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        def read() -> dict[str, object]:
            model = self.mentor.model_status()
            courses = [course.to_json() for course in self.mentor.status()]
            return {"model": model.to_json(), "courses": courses}

        found = await self.mentor.offloader.run(read)
        for course in found["courses"]:  # type: ignore[attr-defined]
            live = self.runs.get(course["course"])
            course["following"] = live.handle() if live is not None and not live.over else None
        return json_response(found)

    async def history(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), limit_of(request)
        runs = await self.mentor.offloader.run(self.mentor.run_history.runs, course, limit)
        return json_response({"runs": [run.to_json() for run in runs]})

    async def gaps(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), limit_of(request)
        gaps = await self.mentor.offloader.run(self.commands.questions.gaps, course, limit)
        return json_response({"gaps": [gap.to_json() for gap in gaps]})

    async def repeats(self, request: web.Request) -> web.Response:
        """The questions students keep asking, over `weeks` (default 4), grouped by meaning."""
        course = self._course(request)
        weeks = limit_of(request, self.mentor.settings.answer.repeat_weeks, name="weeks")
        clusters = await self.mentor.offloader.run(self.commands.repeats.clusters, course, weeks)
        return json_response({"repeats": [cluster.to_json() for cluster in clusters]})

    async def questions(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), limit_of(request)
        asked = await self.mentor.offloader.run(self.commands.questions.recent, course, limit)
        return json_response({"questions": [asked_json(question) for question in asked]})

    async def feedback(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), limit_of(request, 100)
        votes = await self.mentor.offloader.run(self.commands.questions.feedback, course, limit)
        return json_response({"feedback": [vote.to_json() for vote in votes]})

    def _course(self, request: web.Request) -> str | None:
        name = request.query.get("course") or None
        if name is not None:
            self._known(name)
        return name

    def _known(self, name: str) -> None:
        names = self.mentor.settings.course_names()
        if name not in names:
            raise UnknownCourseError(f"There is no course named {name!r}; the courses are: {', '.join(names)}.")

    # --- reindex --------------------------------------------------------------------------

    async def start_reindex(self, request: web.Request) -> web.Response:
        course = request.match_info["course"]
        self._known(course)
        requested_by = await requester(request)
        if self.stopping:
            return json_response({"error": SERVER_STOPPING}, 503)
        # No await from here on: two clicks at once cannot both get past this check.
        running = self.runs.get(course)
        if running is not None and not running.over:
            return json_response({"error": running.busy_message(), "following": running.handle()}, 409)
        live = self.runs[course] = LiveRun(course, requested_by)
        task = asyncio.create_task(self._reindex(live), name=f"admin reindex {course}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        log.info("reindex of %s started from the admin page by %s", course, requested_by)
        return json_response(live.handle(), 202)

    async def _reindex(self, live: LiveRun) -> None:
        loop = asyncio.get_running_loop()

        def on_progress(done: int, total: int, source: str) -> None:  # on the worker thread
            try:
                loop.call_soon_threadsafe(live.report_progress, done, total, source)
            except RuntimeError:  # the loop is closed: nobody is watching any more
                pass

        try:
            record = await self.commands.reindexer.reindex_async(live.course, "admin page", live.requested_by, on_progress)
        except asyncio.CancelledError:
            live.fail(SERVER_STOPPING)
            raise
        except Exception as exc:
            notice = for_instructor(exc, f"admin page reindex of {live.course}")
            live.fail(notice.text, busy=notice.kind == "busy")
        else:
            live.finish(record)

    async def reindex_events(self, request: web.Request) -> web.StreamResponse:
        """`progress` {done, total, source} as files are read, then `done` {record, summary} or `error` {message, busy}."""
        course = request.match_info["course"]
        self._known(course)
        live = self.runs.get(course)
        if live is None:
            return json_response({"error": NO_LIVE_RUN.format(course=course)}, 404)
        response = web.StreamResponse(
            headers=API_HEADERS | {"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        try:
            await stream_run(live, response, lambda: self.stopping)
            await response.write_eof()
        except ConnectionResetError:  # the page was closed; the run goes on
            pass
        return response

    # --- lifecycle ------------------------------------------------------------------------

    async def _on_shutdown(self, app: web.Application) -> None:
        """Let open progress streams end, so the server does not wait on them."""
        self.stopping = True
        for live in self.runs.values():
            live.wake()

    async def _on_cleanup(self, app: web.Application) -> None:
        """Stop waiting on runs still going (their worker finishes them and records the outcome)."""
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


